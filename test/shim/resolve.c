/* SPDX-License-Identifier: MIT */
/*
 * Name lookups from many threads at once: getaddrinfo, getnameinfo,
 * gethostbyname(_r), gethostbyname2(_r), gethostbyaddr(_r), and a
 * failure.  Only names /etc/hosts answers: the test must not depend on a
 * resolver (nor hammer one).  Output is the same natively.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"

#define THREADS 50
#define ROUNDS 20

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int found, refused;

static void *lookups(void *arg)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM };
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(80) };
	int ok = 0, bad = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < ROUNDS; i++) {
		struct addrinfo *res;
		struct hostent he, *h;
		char host[NI_MAXHOST], serv[NI_MAXSERV], buf[1024];
		int herr;

		CHECK(getaddrinfo("localhost", "80", &hints, &res) == 0);
		ok += ((struct sockaddr_in *)res->ai_addr)->sin_addr.s_addr ==
		      htonl(INADDR_LOOPBACK);
		freeaddrinfo(res);
		hints.ai_flags = AI_NUMERICHOST; /* no lookup: a failure */
		bad += getaddrinfo("localhost", NULL, &hints, &res) ==
		       EAI_NONAME;
		hints.ai_flags = 0;
		CHECK(getnameinfo((struct sockaddr *)&sa, sizeof(sa), host,
				  sizeof(host), serv, sizeof(serv),
				  NI_NUMERICHOST | NI_NUMERICSERV) == 0);
		ok += !strcmp(host, "127.0.0.1") && !strcmp(serv, "80");
		CHECK(gethostbyname_r("localhost", &he, buf, sizeof(buf), &h,
				      &herr) == 0 &&
		      h);
		ok += he.h_addrtype == AF_INET;
		CHECK(gethostbyname2_r("localhost", AF_INET, &he, buf,
				       sizeof(buf), &h, &herr) == 0 &&
		      h);
		ok += he.h_length == 4;
		CHECK(gethostbyaddr_r(&sa.sin_addr, 4, AF_INET, &he, buf,
				      sizeof(buf), &h, &herr) == 0);
		ok += h != NULL;
	}
	pthread_mutex_lock(&lock);
	found += ok;
	refused += bad;
	pthread_mutex_unlock(&lock);
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	struct hostent *h;

	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, lookups, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("found %d of %d, refused %d of %d\n", found,
	       THREADS * ROUNDS * 5, refused, THREADS * ROUNDS);

	/* The non-reentrant ones, from the main thread. */
	h = gethostbyname("localhost");
	printf("gethostbyname: %s\n", h ? h->h_name : "NULL");
	h = gethostbyname2("localhost", AF_INET);
	printf("gethostbyname2: %d\n", h ? h->h_addrtype : -1);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * A thread-per-connection TCP echo server on 127.0.0.1 and its clients,
 * one thread each, in one process; then a UDP exchange with addresses.
 * Output is the same natively.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define CLIENTS 50
#define MESSAGES 100
#define MSG 64

static struct sockaddr_in server_addr;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long echoed_bytes, client_bytes;

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[MSG * 2];
	ssize_t n;
	long total = 0;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		CHECK(send(fd, buf, n, 0) == n);
		total += n;
	}
	CHECK(n == 0);
	close(fd);
	pthread_mutex_lock(&lock);
	echoed_bytes += total;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	pthread_t t[CLIENTS];

	for (int i = 0; i < CLIENTS; i++) {
		struct sockaddr_in peer;
		socklen_t len = sizeof(peer);
		int fd = accept(lfd, (struct sockaddr *)&peer, &len);

		CHECK(fd >= 0);
		CHECK(len == sizeof(peer) && peer.sin_family == AF_INET);
		CHECK(pthread_create(&t[i], NULL, serve,
				     (void *)(intptr_t)fd) == 0);
	}
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	return NULL;
}

/* Read exactly n bytes. */
static void read_full(int fd, char *buf, size_t n)
{
	while (n) {
		ssize_t r = read(fd, buf, n);

		CHECK(r > 0);
		buf += r;
		n -= r;
	}
}

static void *client(void *arg)
{
	int id = (int)(intptr_t)arg;
	char out[MSG], in[MSG];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&server_addr,
		      sizeof(server_addr)) == 0);
	for (int m = 0; m < MESSAGES; m++) {
		memset(out, 'a' + (id + m) % 26, sizeof(out));
		CHECK(write(fd, out, sizeof(out)) == sizeof(out));
		read_full(fd, in, sizeof(in));
		CHECK(memcmp(in, out, sizeof(in)) == 0);
	}
	CHECK(shutdown(fd, SHUT_WR) == 0);
	CHECK(read(fd, in, 1) == 0);
	close(fd);
	pthread_mutex_lock(&lock);
	client_bytes += MESSAGES * MSG;
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void test_tcp(void)
{
	socklen_t len = sizeof(server_addr);
	pthread_t acc, t[CLIENTS];
	int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	CHECK(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(lfd, (struct sockaddr *)&server_addr, len) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&server_addr, &len) == 0);
	CHECK(listen(lfd, CLIENTS) == 0);
	pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)lfd);
	for (intptr_t i = 0; i < CLIENTS; i++)
		CHECK(pthread_create(&t[i], NULL, client, (void *)i) == 0);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(t[i], NULL);
	pthread_join(acc, NULL);
	close(lfd);
	printf("tcp: %d clients, %ld bytes sent, %ld echoed\n", CLIENTS,
	       client_bytes, echoed_bytes);
}

static void *udp_echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[64];
	ssize_t n;

	n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	CHECK(n > 0 && len == sizeof(from));
	CHECK(sendto(fd, buf, n, 0, (struct sockaddr *)&from, len) == n);
	return NULL;
}

static void test_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_DGRAM, 0),
	    c = socket(AF_INET, SOCK_DGRAM, 0);
	char buf[64] = "";
	pthread_t t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(s, (struct sockaddr *)&a, len) == 0);
	CHECK(getsockname(s, (struct sockaddr *)&a, &len) == 0);
	pthread_create(&t, NULL, udp_echo, (void *)(intptr_t)s);
	CHECK(sendto(c, "datagram", 8, 0, (struct sockaddr *)&a, len) == 8);
	CHECK(recvfrom(c, buf, sizeof(buf), 0, NULL, NULL) == 8);
	pthread_join(t, NULL);
	printf("udp: '%s'\n", buf);
	close(s);
	close(c);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_tcp();
	test_udp();
	printf("done\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * The demo: a hundred thousand blocking virtual threads and a
 * thread-per-connection TCP echo server, served by a few kernel threads.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <weft.h>

#define SEC 1000000000LL

static int sleepers = 100000, conns = 2000, rounds = 100;
static atomic_int peak_threads;
static atomic_bool finished;
static struct sockaddr_in server;

static int kernel_threads(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

/* Samples the process's kernel threads while the demo runs. */
static intptr_t watch(void *arg)
{
	while (!atomic_load(&finished)) {
		int n = kernel_threads();

		if (n > atomic_load(&peak_threads))
			atomic_store(&peak_threads, n);
		weft_sleep_until(weft_now() + SEC / 100);
	}
	return 0;
}

static intptr_t sleeper(void *arg)
{
	return weft_sleep_until(*(int64_t *)arg);
}

/* A 1998-style connection handler: read, write back, until EOF. */
static intptr_t echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[64];
	ssize_t n;

	while ((n = weft_read(fd, buf, sizeof(buf))) > 0)
		if (weft_write(fd, buf, n) != n)
			break;
	weft_close(fd);
	return 0;
}

static intptr_t acceptor(void *arg)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };
	int lfd = (int)(intptr_t)arg, fd;

	while ((fd = weft_accept(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		weft_thread_spawn(NULL, echo, (void *)(intptr_t)fd, &a);
	return 0;
}

static intptr_t client(void *arg)
{
	char msg[64], back[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	intptr_t r = 0;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (weft_connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0)
		r = -1;
	memset(msg, 'w', sizeof(msg));
	for (int i = 0; i < rounds && !r; i++) {
		size_t got = 0;

		if (weft_write(fd, msg, sizeof(msg)) != sizeof(msg))
			r = -1;
		while (!r && got < sizeof(back)) {
			ssize_t n =
				weft_read(fd, back + got, sizeof(back) - got);

			if (n <= 0)
				r = -1;
			got += n > 0 ? n : 0;
		}
		if (!r && memcmp(msg, back, sizeof(msg)))
			r = -1;
	}
	weft_close(fd);
	return r;
}

static double secs(int64_t ns)
{
	return ns / 1e9;
}

static intptr_t demo(void *arg)
{
	struct weft_thread **t =
		calloc(sleepers > conns ? sleepers : conns, sizeof(*t));
	struct weft_thread *w, *acc;
	socklen_t len = sizeof(server);
	int64_t t0, deadline;
	int lfd, failed = 0;

	weft_thread_spawn(&w, watch, NULL, NULL);

	t0 = weft_now();
	deadline = t0 + SEC;
	for (int i = 0; i < sleepers; i++)
		weft_thread_spawn(&t[i], sleeper, &deadline, NULL);
	for (int i = 0; i < sleepers; i++)
		weft_thread_join(t[i], NULL);
	printf("%d virtual threads each slept 1 s, all at once: %.2f s\n",
	       sleepers, secs(weft_now() - t0));

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (struct sockaddr *)&server, sizeof(server)) < 0 ||
	    listen(lfd, 4096) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&server, &len) < 0) {
		perror("demo: listen on 127.0.0.1");
		return 1;
	}
	weft_thread_spawn(&acc, acceptor, (void *)(intptr_t)lfd, NULL);
	t0 = weft_now();
	for (int i = 0; i < conns; i++)
		weft_thread_spawn(&t[i], client, NULL, NULL);
	for (int i = 0; i < conns; i++) {
		intptr_t v;

		weft_thread_join(t[i], &v);
		failed += v != 0;
	}
	printf("%d blocking connections to a thread-per-connection echo "
	       "server, %d round trips: %.2f s, %d failed\n",
	       conns, conns * rounds, secs(weft_now() - t0), failed);

	shutdown(lfd, SHUT_RDWR); /* ends the acceptor's accept */
	weft_thread_join(acc, NULL);
	close(lfd);
	atomic_store(&finished, true);
	weft_thread_join(w, NULL);
	printf("%d virtual threads in all, served by %d carriers: at most %d "
	       "kernel threads in this process\n",
	       sleepers + 2 * conns + 2, weft_carrier_count(),
	       atomic_load(&peak_threads));
	free(t);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;

	if (argc > 1)
		sleepers = atoi(argv[1]);
	if (argc > 2)
		conns = atoi(argv[2]);
	if (sleepers < 1 || conns < 1) {
		fprintf(stderr, "usage: %s [sleepers [connections]]\n",
			argv[0]);
		return 2;
	}
	/* Each connection is two fds here: client and server in one process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return (int)weft_main(demo, NULL);
}

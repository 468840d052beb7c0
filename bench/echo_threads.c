/* SPDX-License-Identifier: MIT */
/*
 * A plain blocking echo server, one pthread per connection: the
 * "unmodified program" that bench/echo.sh runs natively and under the shim.
 *
 * Only POSIX: socket, bind, listen, accept, pthread_create, read, write.
 * It knows nothing of weft.  Usage: bench_echo_threads [port]; it listens
 * on 127.0.0.1 (port 0, the default, picks a free one), prints the port on
 * stdout and serves until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 4096

/*
 * The read buffer, on the connection thread's stack.  Messages are 64
 * bytes; with 1 KiB the thread's frames fit in one page below glibc's
 * thread descriptor, natively about 8 KiB a thread, as the issue's
 * figures assume.  bench_echo_threads_4k is built with 4096: its frames
 * then span two stack pages whoever runs it (bench/RESULTS.md).
 */
#ifndef ECHO_BUF
#define ECHO_BUF 1024
#endif

static void *serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[ECHO_BUF];
	ssize_t n, off, w;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (off = 0; off < n; off += w) {
			w = write(fd, buf + off, n - off);
			if (w <= 0)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	pthread_t t;
	int lfd, fd, one = 1, err;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, BACKLOG) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len)) {
		perror("echo_threads: listen");
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);

	for (;;) {
		fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("echo_threads: accept");
			return 1;
		}
		err = pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
		if (err) {
			fprintf(stderr, "echo_threads: pthread_create: %s\n",
				strerror(err));
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
}

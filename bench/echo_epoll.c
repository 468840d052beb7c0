/* SPDX-License-Identifier: MIT */
/*
 * A single-threaded epoll echo server, the event-loop peer of
 * bench_echo_threads in bench/echo.sh.
 *
 * Level-triggered, non-blocking sockets; every read goes into one shared
 * buffer, and a connection holds memory of its own only for the bytes a
 * short write left behind (while they wait, the connection is not read). Usage:
 * bench_echo_epoll [port]; it listens on 127.0.0.1 (port 0, the default, picks
 * a free one), prints the port on stdout and serves until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 4096
#define BUF_SIZE 65536
#define MAX_EVENTS 256

struct conn {
	int fd;
	unsigned int off; /* first byte of pend still to write */
	unsigned int len; /* bytes in pend */
	char *pend;	  /* what a short write left, or NULL */
};

static int ep;
static char buf[BUF_SIZE];

static void drop(struct conn *c)
{
	close(c->fd); /* also takes it out of the epoll set */
	free(c->pend);
	free(c);
}

static int watch(struct conn *c, int op, unsigned int events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	return epoll_ctl(ep, op, c->fd, &ev);
}

/* Write what is left in c->pend; 1 when it is all out, 0 if not, -1. */
static int flush(struct conn *c)
{
	ssize_t w;

	while (c->off < c->len) {
		w = write(c->fd, c->pend + c->off, c->len - c->off);
		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->off += w;
	}
	free(c->pend);
	c->pend = NULL;
	return 1;
}

/* Echo n bytes of buf; 1 when all are out, 0 if some wait in c->pend. */
static int echo(struct conn *c, size_t n)
{
	ssize_t w;
	size_t off = 0;

	while (off < n) {
		w = write(c->fd, buf + off, n - off);
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0)
			return -1;
		off += w;
	}
	if (off == n)
		return 1;
	c->pend = malloc(n - off);
	if (!c->pend)
		return -1;
	memcpy(c->pend, buf + off, n - off);
	c->off = 0;
	c->len = n - off;
	return 0;
}

static void on_readable(struct conn *c)
{
	ssize_t n;
	int r;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			drop(c);
			return;
		}
		r = echo(c, n);
		if (r < 0) {
			drop(c);
			return;
		}
		if (r == 0) {
			if (watch(c, EPOLL_CTL_MOD, EPOLLOUT))
				drop(c);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return; /* drained: saves the read that says EAGAIN */
	}
}

static void on_writable(struct conn *c)
{
	int r = flush(c);

	if (r < 0 || (r > 0 && watch(c, EPOLL_CTL_MOD, EPOLLIN)))
		drop(c);
}

static void on_accept(int lfd)
{
	struct conn *c;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != ECONNABORTED &&
			    errno != EINTR)
				perror("echo_epoll: accept4");
			return;
		}
		c = malloc(sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->off = c->len = 0;
		c->pend = NULL;
		if (watch(c, EPOLL_CTL_ADD, EPOLLIN)) {
			perror("echo_epoll: epoll_ctl");
			drop(c);
		}
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event evs[MAX_EVENTS], lev = { .events = EPOLLIN };
	socklen_t len = sizeof(sa);
	int lfd, one = 1, n, i;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(argc > 1 ? atoi(argv[1]) : 0);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	lev.data.ptr = NULL; /* NULL marks the listening socket */
	if (lfd < 0 || ep < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, BACKLOG) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev)) {
		perror("echo_epoll: listen");
		return 1;
	}
	printf("%d\n", ntohs(sa.sin_port));
	fflush(stdout);

	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("echo_epoll: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (!c)
				on_accept(lfd);
			else if (evs[i].events & EPOLLOUT)
				on_writable(c);
			else
				on_readable(c);
		}
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * poll, ppoll, select, pselect and epoll_wait on many fds: ready fds,
 * fds made ready later by another thread, timeouts of every kind, and
 * more waiting threads than carriers, which only parked threads survive.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WAITERS 8
#define FDS 4

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

struct waiter {
	int p[FDS][2];
	int ready; /* index of the fd found ready */
	int r;
};

static struct waiter w[WAITERS];

static void *poller(void *arg)
{
	struct waiter *x = arg;
	struct pollfd pfd[FDS + 1];

	for (int i = 0; i < FDS; i++)
		pfd[i] = (struct pollfd){ .fd = x->p[i][0], .events = POLLIN };
	pfd[FDS] = (struct pollfd){ .fd = -1, .events = POLLIN };
	x->r = poll(pfd, FDS + 1, -1);
	for (int i = 0; i < FDS + 1; i++)
		if (pfd[i].revents)
			x->ready = i;
	return NULL;
}

/* More pollers than carriers, all waiting at once. */
static void test_poll_many(void)
{
	pthread_t t[WAITERS];

	for (int k = 0; k < WAITERS; k++) {
		for (int i = 0; i < FDS; i++)
			CHECK(pipe(w[k].p[i]) == 0);
		pthread_create(&t[k], NULL, poller, &w[k]);
	}
	pause_ms(20);
	for (int k = 0; k < WAITERS; k++)
		CHECK(write(w[k].p[k % FDS][1], "x", 1) == 1);
	for (int k = 0; k < WAITERS; k++) {
		pthread_join(t[k], NULL);
		printf("poller %d: %d ready, fd #%d\n", k, w[k].r, w[k].ready);
		for (int i = 0; i < FDS; i++) {
			close(w[k].p[i][0]);
			close(w[k].p[i][1]);
		}
	}
}

static void test_poll_edges(void)
{
	struct pollfd pfd[3];
	volatile nfds_t too_many = 1u << 30;
	int a[2], b[2], r;
	int64_t t0;

	CHECK(pipe(a) == 0);
	CHECK(pipe(b) == 0);
	pfd[0] = (struct pollfd){ .fd = a[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = b[0], .events = POLLIN };
	t0 = now_ms();
	r = poll(pfd, 2, 30);
	printf("poll timeout: %d, waited %s\n", r,
	       now_ms() - t0 >= 30 ? "enough" : "too little");
	r = poll(pfd, 2, 0);
	printf("poll zero: %d\n", r);
	CHECK(write(a[1], "x", 1) == 1);
	CHECK(write(b[1], "y", 1) == 1);
	r = poll(pfd, 2, -1);
	printf("poll both ready: %d, revents %#x %#x\n", r, pfd[0].revents,
	       pfd[1].revents);
	close(b[1]);
	pfd[0].events = POLLOUT;
	pfd[0].fd = a[1];
	pfd[2] = (struct pollfd){ .fd = 999, .events = POLLIN };
	r = poll(pfd, 3, -1);
	printf("poll out, hup, nval: %d, revents %#x %#x %#x\n", r,
	       pfd[0].revents, pfd[1].revents, pfd[2].revents);
	t0 = now_ms();
	r = poll(NULL, 0, 20);
	printf("poll nothing: %d, waited %s\n", r,
	       now_ms() - t0 >= 20 ? "enough" : "too little");
	pfd[0] = (struct pollfd){ .fd = -5, .events = POLLIN };
	r = poll(pfd, 1, 20);
	printf("poll negative fd: %d revents %#x\n", r, pfd[0].revents);
	errno = 0;
	r = poll(pfd, too_many, 10);
	printf("poll too many: %d %s\n", r, errno == EINVAL ? "EINVAL" : "?");
	for (int i = 0; i < 2; i++)
		close(a[i]);
	close(b[0]);
}

struct late {
	int fd;
	int ms;
};

static void *late_write(void *arg)
{
	struct late *l = arg;

	pause_ms(l->ms);
	CHECK(write(l->fd, "!", 1) == 1);
	return NULL;
}

static void test_ppoll(void)
{
	struct timespec ts = { 5, 0 }, bad = { 0, -1 };
	struct late l;
	struct pollfd pfd[2];
	pthread_t t;
	int a[2], b[2], r;

	CHECK(pipe(a) == 0);
	CHECK(pipe(b) == 0);
	pfd[0] = (struct pollfd){ .fd = a[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = b[0], .events = POLLIN };
	l = (struct late){ b[1], 20 };
	pthread_create(&t, NULL, late_write, &l);
	r = ppoll(pfd, 2, &ts, NULL);
	printf("ppoll: %d, revents %#x %#x, timeout kept %s\n", r,
	       pfd[0].revents, pfd[1].revents,
	       ts.tv_sec == 5 && ts.tv_nsec == 0 ? "yes" : "no");
	pthread_join(t, NULL);
	ts = (struct timespec){ 0, 20 * 1000000 };
	pfd[1].fd = -1;
	r = ppoll(pfd, 2, &ts, NULL);
	printf("ppoll timeout: %d\n", r);
	errno = 0;
	r = ppoll(pfd, 2, &bad, NULL);
	printf("ppoll bad timeout: %d %s\n", r,
	       errno == EINVAL ? "EINVAL" : "?");
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}

static void test_select(void)
{
	struct timeval tv = { 5, 0 };
	struct timespec ts = { 0, 20 * 1000000 };
	fd_set rd, wr;
	struct late l;
	pthread_t t;
	int a[2], b[2], c[2], r, top;

	CHECK(pipe(a) == 0);
	CHECK(pipe(b) == 0);
	CHECK(pipe(c) == 0);
	top = c[1] + 1;
	FD_ZERO(&rd);
	FD_SET(a[0], &rd);
	FD_SET(b[0], &rd);
	FD_SET(c[0], &rd);
	l = (struct late){ b[1], 20 };
	pthread_create(&t, NULL, late_write, &l);
	r = select(top, &rd, NULL, NULL, &tv);
	printf("select: %d, a %d b %d c %d, time left %s\n", r,
	       FD_ISSET(a[0], &rd), FD_ISSET(b[0], &rd), FD_ISSET(c[0], &rd),
	       tv.tv_sec < 5 && tv.tv_sec >= 4 ? "less" : "wrong");
	pthread_join(t, NULL);

	FD_ZERO(&rd);
	FD_SET(a[0], &rd);
	FD_SET(c[0], &rd);
	tv = (struct timeval){ 0, 20000 };
	r = select(top, &rd, NULL, NULL, &tv);
	printf("select timeout: %d, a %d c %d, tv %ld.%06ld\n", r,
	       FD_ISSET(a[0], &rd), FD_ISSET(c[0], &rd), (long)tv.tv_sec,
	       (long)tv.tv_usec);

	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(a[0], &rd);
	FD_SET(c[1], &wr);
	r = pselect(top, &rd, &wr, NULL, &ts, NULL);
	printf("pselect write ready: %d, a %d c %d\n", r, FD_ISSET(a[0], &rd),
	       FD_ISSET(c[1], &wr));
	FD_ZERO(&rd);
	FD_SET(a[0], &rd);
	r = pselect(top, &rd, NULL, NULL, &ts, NULL);
	printf("pselect timeout: %d, timeout kept %s\n", r,
	       ts.tv_nsec == 20 * 1000000 ? "yes" : "no");
	errno = 0;
	tv = (struct timeval){ -1, 0 };
	r = select(top, &rd, NULL, NULL, &tv);
	printf("select bad timeout: %d %s\n", r,
	       errno == EINVAL ? "EINVAL" : "?");
	close(a[1]);
	FD_ZERO(&rd);
	FD_SET(a[0], &rd);
	r = select(top, &rd, NULL, NULL, NULL);
	printf("select on a closed pipe: %d, a %d\n", r, FD_ISSET(a[0], &rd));
	close(a[0]);
	for (int i = 0; i < 2; i++) {
		close(b[i]);
		close(c[i]);
	}
}

static void test_epoll(void)
{
	struct epoll_event ev, got[4];
	struct late l;
	pthread_t t;
	int p[3][2], ep, r;

	ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0);
	for (int i = 0; i < 3; i++) {
		CHECK(pipe(p[i]) == 0);
		ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = i };
		CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[i][0], &ev) == 0);
	}
	l = (struct late){ p[2][1], 20 };
	pthread_create(&t, NULL, late_write, &l);
	r = epoll_wait(ep, got, 4, -1);
	printf("epoll_wait: %d, data %u events %#x\n", r, got[0].data.u32,
	       got[0].events);
	pthread_join(t, NULL);
	r = epoll_wait(ep, got, 4, 0);
	printf("epoll_wait again: %d\n", r);
	CHECK(read(p[2][0], &ev, 1) == 1);
	r = epoll_wait(ep, got, 4, 20);
	printf("epoll_wait timeout: %d\n", r);
	l = (struct late){ p[0][1], 20 };
	pthread_create(&t, NULL, late_write, &l);
	r = epoll_pwait(ep, got, 4, 5000, NULL);
	printf("epoll_pwait: %d, data %u\n", r, got[0].data.u32);
	pthread_join(t, NULL);
	errno = 0;
	r = epoll_wait(ep, got, 0, 10);
	printf("epoll_wait no room: %d %s\n", r,
	       errno == EINVAL ? "EINVAL" : "?");
	for (int i = 0; i < 3; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	close(ep);
}

static int herd[2];

static void *herd_member(void *arg)
{
	struct pollfd pfd = { .fd = herd[0], .events = POLLIN };
	char c;

	CHECK(poll(&pfd, 1, -1) == 1);
	CHECK(read(herd[0], &c, 1) == 1);
	return NULL;
}

/* Every waiter wakes on one byte; those that lose the read block in it. */
static void test_herd(void)
{
	pthread_t t[4];

	CHECK(pipe(herd) == 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, herd_member, NULL);
	pause_ms(10);
	for (int i = 0; i < 4; i++) {
		CHECK(write(herd[1], "h", 1) == 1);
		pause_ms(2);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("herd: all four read a byte\n");
	close(herd[0]);
	close(herd[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_poll_many();
	test_poll_edges();
	test_ppoll();
	test_select();
	test_epoll();
	test_herd();
	printf("done\n");
	return 0;
}

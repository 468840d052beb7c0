/* SPDX-License-Identifier: MIT */
/*
 * ppoll, pselect and epoll_pwait with a signal mask, the way daemons
 * wait for fds or a signal: every thread blocks SIGUSR1 and the wait's
 * mask lets it in, so it comes only during the wait and ends it with
 * EINTR; an fd that is ready wins and leaves the signal pending; the
 * mask's own signals stay blocked.  Main waits so while threads that
 * already ran beside it keep working (a main that kept its carrier
 * would stall them, all of them on one carrier), then other threads
 * wait so for the signals pthread_kill sends them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 4
#define ROUNDS 30

static volatile sig_atomic_t got, usr2_got;
static volatile int stop;
static int acks[2], fds[2], ready[2];
static sigset_t let_in; /* the waits' mask: SIGUSR1 in, SIGUSR2 not */

static void on_usr1(int sig)
{
	got++;
}

static void on_usr2(int sig)
{
	usr2_got++;
}

/* Waits on the empty pipe, one of three ways: its result. */
static int wait_one(int how)
{
	struct pollfd p = { .fd = fds[0], .events = POLLIN };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	fd_set set;
	int ep, r;

	switch (how % 3) {
	case 0:
		return ppoll(&p, 1, NULL, &let_in);
	case 1:
		FD_ZERO(&set);
		FD_SET(fds[0], &set);
		return pselect(fds[0] + 1, &set, NULL, NULL, NULL, &let_in);
	default:
		CHECK((ep = epoll_create1(0)) >= 0);
		CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev) == 0);
		r = epoll_pwait(ep, &out, 1, -1, &let_in);
		close(ep);
		return r;
	}
}

static void *worker(void *arg)
{
	int p[2], v = 0;

	CHECK(pipe(p) == 0);
	while (!stop) {
		CHECK(write(p[1], &v, sizeof(v)) == sizeof(v));
		CHECK(read(p[0], &v, sizeof(v)) == sizeof(v));
		v++;
		usleep(100);
	}
	close(p[0]);
	close(p[1]);
	return NULL;
}

/* A signal or a byte a round, the next once main answered. */
static void *sender(void *arg)
{
	char c = 'x';
	int v;

	for (int i = 0; i < ROUNDS; i++) {
		usleep(i % 4 ? 300 : 0);
		if (i % 5 == 4)
			CHECK(write(fds[1], &c, 1) == 1);
		else
			CHECK(kill(getpid(), SIGUSR1) == 0);
		CHECK(read(acks[0], &v, sizeof(v)) == sizeof(v));
	}
	return NULL;
}

/* Waits one way for the SIGUSR1 main sends it; sends its result. */
static void *waiter(void *arg)
{
	int how = (int)(long)arg, r, e;

	CHECK(write(ready[1], &how, sizeof(how)) == sizeof(how));
	r = wait_one(how);
	e = errno;
	r = r == -1 && e == EINTR && got == 1;
	CHECK(write(ready[1], &r, sizeof(r)) == sizeof(r));
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct pollfd p = { .fd = -1, .events = POLLIN };
	int eintr = 0, bytes = 0, others = 0, ok = 0, r, v;
	pthread_t w[WORKERS], s;
	sigset_t block, pending;
	char c;

	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sa.sa_handler = on_usr2;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &let_in) == 0);
	sigdelset(&let_in, SIGUSR1);
	CHECK(pipe(fds) == 0 && pipe(acks) == 0 && pipe(ready) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);

	/* Pending before the call: EINTR at once, the handler ran. */
	CHECK(kill(getpid(), SIGUSR1) == 0);
	r = wait_one(0);
	printf("pending: %d %s, handled %d\n", r, strerror(errno), (int)got);
	/* A ready fd wins over a pending signal, which stays pending. */
	got = 0;
	c = 'y';
	CHECK(write(fds[1], &c, 1) == 1);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	for (int how = 0; how < 3; how++)
		printf("ready and pending, way %d: %d, handled %d\n", how,
		       wait_one(how), (int)got);
	CHECK(read(fds[0], &c, 1) == 1);
	CHECK(sigpending(&pending) == 0);
	printf("still pending: %d\n", sigismember(&pending, SIGUSR1));
	r = wait_one(1);
	printf("then: %d %s, handled %d\n", r, strerror(errno), (int)got);
	/* The mask's own signals stay out: SIGUSR2 waits for the timeout. */
	CHECK(kill(getpid(), SIGUSR2) == 0);
	r = ppoll(&p, 1, &(struct timespec){ 0, 20000000 }, &let_in);
	printf("blocked by the mask: %d, SIGUSR2 handled %d\n", r,
	       (int)usr2_got);

	got = 0;
	CHECK(pthread_create(&s, NULL, sender, NULL) == 0);
	for (int i = 0; i < ROUNDS; i++) {
		r = wait_one(i);
		if (r == -1 && errno == EINTR && got == 1)
			eintr++;
		else if (r == 1 && !got && read(fds[0], &c, 1) == 1)
			bytes++;
		else
			others++;
		got = 0;
		CHECK(write(acks[1], &i, sizeof(i)) == sizeof(i));
	}
	CHECK(pthread_join(s, NULL) == 0);
	printf("main: %d EINTR, %d bytes, %d others\n", eintr, bytes, others);

	for (int i = 0; i < ROUNDS; i++) {
		got = 0;
		CHECK(pthread_create(&s, NULL, waiter, (void *)(long)i) == 0);
		CHECK(read(ready[0], &v, sizeof(v)) == sizeof(v));
		usleep(i % 2 ? 500 : 0);
		CHECK(pthread_kill(s, SIGUSR1) == 0);
		CHECK(read(ready[0], &v, sizeof(v)) == sizeof(v));
		ok += v;
		CHECK(pthread_join(s, NULL) == 0);
	}
	printf("threads: %d of %d interrupted\n", ok, ROUNDS);

	stop = 1;
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_UNBLOCK, &block, NULL) == 0);
	printf("SIGUSR2 at the end: %d\n", (int)usr2_got);
	return 0;
}

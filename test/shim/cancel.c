/* SPDX-License-Identifier: MIT */
/*
 * pthread_cancel and pthread_exit: deferred cancellation at the
 * cancellation points, of threads already blocked there or not yet,
 * cancel state and type, pthread_testcancel, PTHREAD_CANCELED from join,
 * and the cleanup handlers (pthread_cleanup_push, C's sigsetjmp kind),
 * run in LIFO order on pthread_exit and on cancellation, before the key
 * destructors.  Every line is printed in an order the program fixes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_cleanup_push_defer_np */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void say(void *what)
{
	printf("  cleanup: %s\n", (const char *)what);
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Cancel t once it is blocked, join it, and say how it ended. */
static void cancel_and_join(pthread_t t, const char *what)
{
	void *ret;

	pause_ms(30);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("%s: %s\n", what,
	       ret == PTHREAD_CANCELED ? "cancelled" : "returned");
}

static int fds[2];

static void *in_read(void *arg)
{
	char c;

	pthread_cleanup_push(say, "outer");
	pthread_cleanup_push(say, "middle");
	pthread_cleanup_push(say, "inner");
	CHECK(read(fds[0], &c, 1) < 0); /* never returns */
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	pthread_cleanup_pop(0);
	return NULL;
}

static int depth(int n)
{
	char c;
	int r = 0;

	pthread_cleanup_push(say, n == 1 ? "frame 1" : "frame 2");
	if (n < 2)
		r = depth(n + 1);
	else
		r = (int)read(fds[0], &c, 1);
	pthread_cleanup_pop(0);
	return r;
}

static void *nested(void *arg)
{
	depth(1);
	return NULL;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static void unlock(void *m)
{
	printf("  cleanup: unlock the mutex\n");
	pthread_mutex_unlock(m);
}

static void *in_cond_wait(void *arg)
{
	pthread_mutex_lock(&lock);
	pthread_cleanup_push(unlock, &lock);
	for (;;)
		pthread_cond_wait(&cond, &lock);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *in_sleep(void *arg)
{
	pthread_cleanup_push(say, "sleep");
	sleep(30);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_nanosleep(void *arg)
{
	struct timespec ts = { 30, 0 };

	pthread_cleanup_push(say, "nanosleep");
	nanosleep(&ts, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_clock_nanosleep(void *arg)
{
	struct timespec ts = { 30, 0 };

	pthread_cleanup_push(say, "clock_nanosleep");
	clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static sem_t sem;

static void *in_sem_wait(void *arg)
{
	pthread_cleanup_push(say, "sem_wait");
	sem_wait(&sem);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_timedwait(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	pthread_mutex_lock(&lock);
	pthread_cleanup_push(unlock, &lock);
	for (;;)
		pthread_cond_timedwait(&cond, &lock, &ts);
	pthread_cleanup_pop(1);
	return NULL;
}

static void *in_poll(void *arg)
{
	struct pollfd p = { .fd = fds[0], .events = POLLIN };

	pthread_cleanup_push(say, "poll");
	poll(&p, 1, -1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_select(void *arg)
{
	fd_set r;

	FD_ZERO(&r);
	FD_SET(fds[0], &r);
	pthread_cleanup_push(say, "select");
	select(fds[0] + 1, &r, NULL, NULL, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *in_epoll_wait(void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(0);

	CHECK(ep >= 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev) == 0);
	pthread_cleanup_push(say, "epoll_wait");
	epoll_wait(ep, &ev, 1, -1);
	pthread_cleanup_pop(0);
	return NULL;
}

static int listener;

static void *in_accept(void *arg)
{
	pthread_cleanup_push(say, "accept");
	accept(listener, NULL, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

static int sock[2];

static void *in_recv(void *arg)
{
	char c;

	pthread_cleanup_push(say, "recv");
	recv(sock[0], &c, 1, 0);
	pthread_cleanup_pop(0);
	return NULL;
}

static int full[2];

static void *in_write(void *arg)
{
	static char big[1 << 20];

	pthread_cleanup_push(say, "write to a full pipe");
	write(full[1], big, sizeof(big));
	pthread_cleanup_pop(0);
	return NULL;
}

static pthread_t blocked;

static void *in_join(void *arg)
{
	pthread_cleanup_push(say, "join");
	pthread_join(blocked, NULL);
	pthread_cleanup_pop(0);
	return NULL;
}

/*
 * Cancelled before it reaches a point: acted on at the first one.  The
 * thread waits on a mutex main holds, which is not a cancellation point.
 */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void pass_gate(void)
{
	CHECK(pthread_mutex_lock(&gate) == 0);
	CHECK(pthread_mutex_unlock(&gate) == 0);
}

static void *pending(void *arg)
{
	pass_gate();
	printf("  not yet: no cancellation point so far\n");
	pthread_cleanup_push(say, "testcancel");
	pthread_testcancel();
	pthread_cleanup_pop(0);
	printf("  FAIL: went past testcancel\n");
	return NULL;
}

static void *disabled(void *arg)
{
	int old;

	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old) == 0);
	CHECK(old == PTHREAD_CANCEL_ENABLE);
	pass_gate();
	pause_ms(20); /* a point, but cancellation is disabled */
	printf("  disabled: slept through a cancellation\n");
	CHECK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old) == 0);
	CHECK(old == PTHREAD_CANCEL_DISABLE);
	printf("  enabled again: the next point acts\n");
	pthread_cleanup_push(say, "after enable");
	pause_ms(20);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *asynchronous(void *arg)
{
	int old;
	char c;

	CHECK(pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old) == 0);
	CHECK(old == PTHREAD_CANCEL_DEFERRED);
	pthread_cleanup_push(say, "asynchronous type");
	read(fds[0], &c, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *self_cancel(void *arg)
{
	CHECK(pthread_cancel(pthread_self()) == 0);
	printf("  cancelled itself, still runs\n");
	pthread_cleanup_push(say, "self");
	pause_ms(1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *defer_np(void *arg)
{
	char c;

	pthread_cleanup_push_defer_np(say, "push_defer_np");
	read(fds[0], &c, 1);
	pthread_cleanup_pop_restore_np(0);
	return NULL;
}

static void *quick(void *arg)
{
	return (void *)7;
}

/* pthread_exit runs the handlers pushed, LIFO, then key destructors. */
static pthread_key_t key;

static void key_destructor(void *v)
{
	printf("  key destructor: %s\n", (const char *)v);
}

static void exit_deep(int n) /* ends in pthread_exit at n == 2 */
{
	if (n > 2)
		return;
	pthread_cleanup_push(say, n == 1 ? "exit frame 1" : "exit frame 2");
	if (n < 2)
		exit_deep(n + 1);
	else
		pthread_exit((void *)42);
	pthread_cleanup_pop(0);
}

static void *exiter(void *arg)
{
	pthread_setspecific(key, "exiter's value");
	pthread_cleanup_push(say, "popped, run");
	pthread_cleanup_pop(1);
	pthread_cleanup_push(say, "FAIL: popped, not run");
	pthread_cleanup_pop(0);
	pthread_cleanup_push(say, "outermost");
	exit_deep(1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void *cancelled_with_key(void *arg)
{
	char c;

	pthread_setspecific(key, "cancelled thread's value");
	pthread_cleanup_push(say, "before the key destructor");
	read(fds[0], &c, 1);
	pthread_cleanup_pop(0);
	return NULL;
}

static void run(void *(*fn)(void *), const char *what)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, fn, NULL) == 0);
	cancel_and_join(t, what);
}

int main(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	pthread_t t, j;
	void *ret;

	CHECK(pipe(fds) == 0);
	CHECK(pipe(full) == 0);
	CHECK(fcntl(full[1], F_SETPIPE_SZ, 4096) >= 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sock) == 0);
	CHECK(sem_init(&sem, 0, 0) == 0);
	CHECK(pthread_key_create(&key, key_destructor) == 0);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(listener, (void *)&a, sizeof(a)) == 0);
	CHECK(getsockname(listener, (void *)&a, &alen) == 0);
	CHECK(listen(listener, 4) == 0);

	run(in_read, "read, three handlers");
	run(nested, "read, two frames deep");
	run(in_cond_wait, "pthread_cond_wait");
	CHECK(pthread_mutex_lock(&lock) == 0); /* the handler unlocked it */
	CHECK(pthread_mutex_unlock(&lock) == 0);
	run(in_timedwait, "pthread_cond_timedwait");
	CHECK(pthread_mutex_trylock(&lock) == 0);
	CHECK(pthread_mutex_unlock(&lock) == 0);
	run(in_sleep, "sleep");
	run(in_nanosleep, "nanosleep");
	run(in_clock_nanosleep, "clock_nanosleep");
	run(in_sem_wait, "sem_wait");
	run(in_poll, "poll");
	run(in_select, "select");
	run(in_epoll_wait, "epoll_wait");
	run(in_accept, "accept");
	run(in_recv, "recv");
	run(in_write, "write");
	run(asynchronous, "asynchronous type, in read");
	run(defer_np, "pthread_cleanup_push_defer_np, in read");
	run(cancelled_with_key, "a thread with a key value");

	/* A joiner cancelled; the thread it waited for is still joinable. */
	CHECK(pthread_create(&blocked, NULL, in_read, NULL) == 0);
	CHECK(pthread_create(&j, NULL, in_join, NULL) == 0);
	cancel_and_join(j, "pthread_join");
	cancel_and_join(blocked, "the thread it joined");

	CHECK(pthread_mutex_lock(&gate) == 0);
	CHECK(pthread_create(&t, NULL, pending, NULL) == 0);
	pause_ms(20); /* blocked in pthread_mutex_lock, not woken */
	CHECK(pthread_cancel(t) == 0);
	pause_ms(20);
	CHECK(pthread_mutex_unlock(&gate) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("cancelled in pthread_mutex_lock: %s at the next point\n",
	       ret == PTHREAD_CANCELED ? "cancelled" : "returned");

	CHECK(pthread_mutex_lock(&gate) == 0);
	CHECK(pthread_create(&t, NULL, disabled, NULL) == 0);
	pause_ms(20);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_mutex_unlock(&gate) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("cancel state: %s\n",
	       ret == PTHREAD_CANCELED ? "cancelled" : "returned");

	CHECK(pthread_create(&t, NULL, self_cancel, NULL) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("self: %s\n",
	       ret == PTHREAD_CANCELED ? "cancelled" : "returned");

	CHECK(pthread_create(&t, NULL, quick, NULL) == 0);
	pause_ms(20);
	CHECK(pthread_cancel(t) == 0); /* ended, not joined: 0 */
	CHECK(pthread_join(t, &ret) == 0);
	printf("cancel after the end: returned %ld\n", (long)ret);

	CHECK(pthread_create(&t, NULL, exiter, NULL) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("pthread_exit: value %ld\n", (long)ret);
	return 0;
}

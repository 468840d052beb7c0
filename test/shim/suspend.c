/* SPDX-License-Identifier: MIT */
/*
 * Main waits for its signals in sigsuspend and pause, the classic way,
 * while threads that already ran alongside it keep working: a main that
 * kept carrier 0 would stall them (on one carrier, all of them).  Each
 * handler interrupts the wait with EINTR; sigsuspend's mask holds while
 * it waits (the handler sees it) and the old one is back after; a
 * signal pending when it is called comes at once.  Then other threads
 * wait so, for the signals pthread_kill sends them, which every other
 * thread blocks.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 4
#define ROUNDS 40

static volatile sig_atomic_t got, usr2_blocked_in_handler = -1;
static volatile int stop, woke, done;
static int acks[2], ready[2];

static void answer(int v)
{
	CHECK(write(ready[1], &v, sizeof(v)) == sizeof(v));
}
static pthread_barrier_t started;

static void on_usr1(int sig)
{
	sigset_t now;

	got++;
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	usr2_blocked_in_handler = sigismember(&now, SIGUSR2);
}

static void on_usr2(int sig)
{
}

/* Works on a pipe of its own; ran before main waits, so it stays put. */
static void *worker(void *arg)
{
	int p[2], v = 0;

	CHECK(pipe(p) == 0);
	pthread_barrier_wait(&started);
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

/* One SIGUSR1 a round, the next after main answered the last. */
static void *sender(void *arg)
{
	int v;

	pthread_barrier_wait(&started);
	for (int i = 0; i < ROUNDS; i++) {
		usleep(i % 4 ? 200 : 0);
		CHECK(kill(getpid(), SIGUSR1) == 0);
		CHECK(read(acks[0], &v, sizeof(v)) == sizeof(v));
	}
	/* pause: until main is seen awake, another SIGUSR2 now and then. */
	while (!woke) {
		CHECK(kill(getpid(), SIGUSR2) == 0);
		usleep(2000);
	}
	return NULL;
}

static void *kicker(void *arg)
{
	usleep(20000);
	CHECK(kill(getpid(), SIGUSR2) == 0);
	return NULL;
}

/* Waits in sigsuspend or pause for the SIGUSR1 main sends it. */
static void *suspender(void *arg)
{
	sigset_t mask;
	int r;

	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0);
	sigdelset(&mask, SIGUSR1);
	if (arg)
		CHECK(pthread_sigmask(SIG_SETMASK, &mask, NULL) == 0);
	answer(0);
	r = arg ? pause() : sigsuspend(&mask);
	r = r == -1 && errno == EINTR && (arg ? got >= 1 : got == 1);
	done = 1;
	return (void *)(long)r;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	pthread_t w[WORKERS], s, k;
	ssize_t n;
	sigset_t block, old, now;
	int eintr = 0, r;

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sa.sa_handler = on_usr2;
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
	CHECK(pipe(acks) == 0);
	CHECK(pthread_barrier_init(&started, NULL, WORKERS + 2) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
	CHECK(pthread_create(&s, NULL, sender, NULL) == 0);

	/* A signal pending as sigsuspend unblocks it comes at once. */
	CHECK(kill(getpid(), SIGUSR1) == 0);
	r = sigsuspend(&old);
	printf("pending: %d %s, handled %d\n", r, strerror(errno), (int)got);
	got = 0;

	pthread_barrier_wait(&started);
	/* SIGUSR2 stays blocked while main waits for SIGUSR1 alone. */
	sigaddset(&old, SIGUSR2);
	for (int i = 0; i < ROUNDS; i++) {
		while (!got)
			if (sigsuspend(&old) == -1 && errno == EINTR)
				eintr++;
		got = 0;
		CHECK(write(acks[1], &i, sizeof(i)) == sizeof(i));
	}
	printf("sigsuspend: %d rounds, %d EINTR, SIGUSR2 blocked in the "
	       "handler %d\n",
	       ROUNDS, eintr, (int)usr2_blocked_in_handler);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &now) == 0);
	printf("mask after: SIGUSR1 %d SIGUSR2 %d\n",
	       sigismember(&now, SIGUSR1), sigismember(&now, SIGUSR2));

	/* pause, with SIGUSR2 unblocked. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_UNBLOCK, &block, NULL) == 0);
	r = pause();
	printf("pause: %d %s\n", r, strerror(errno));
	woke = 1;
	r = 0;

	CHECK(pthread_join(s, NULL) == 0);

	/* Other threads wait for a pthread_kill, main and all blocking it. */
	CHECK(sigprocmask(SIG_BLOCK, &block, NULL) == 0);
	CHECK(pipe(ready) == 0);
	for (int i = 0; i < 2 * ROUNDS; i++) {
		void *ok;
		int v;

		got = 0;
		CHECK(pthread_create(&s, NULL, suspender,
				     i % 2 ? "pause" : NULL) == 0);
		CHECK(read(ready[0], &v, sizeof(v)) == sizeof(v));
		usleep(i % 4 < 2 ? 0 : 500);
		/* pause can miss a signal before it: send until it returns */
		done = 0;
		do {
			CHECK(pthread_kill(s, SIGUSR1) == 0);
			usleep(i % 2 ? 1000 : 0);
		} while (i % 2 && !done);
		CHECK(pthread_join(s, &ok) == 0);
		r += ok != NULL;
	}
	printf("threads: %d of %d interrupted\n", r, 2 * ROUNDS);

	/*
	 * A signal main lets in is main's, though a thread waits for it in
	 * pause: main's read fails, the thread waits on.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_UNBLOCK, &block, NULL) == 0);
	got = 0;
	done = 0;
	CHECK(pthread_create(&s, NULL, suspender, "pause") == 0);
	CHECK(read(ready[0], &r, sizeof(r)) == sizeof(r));
	CHECK(pthread_create(&k, NULL, kicker, NULL) == 0);
	n = read(acks[0], &r, sizeof(r));
	printf("main's read: %zd %s, the thread waits %d\n", n, strerror(errno),
	       !done);
	CHECK(pthread_join(k, NULL) == 0);
	while (!done) {
		CHECK(pthread_kill(s, SIGUSR1) == 0);
		usleep(1000);
	}
	CHECK(pthread_join(s, NULL) == 0);
	stop = 1;
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	return 0;
}

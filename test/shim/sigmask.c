/* SPDX-License-Identifier: MIT */
/*
 * Each thread has its own signal mask under the shim, as natively, also
 * with every thread on one carrier: a thread's pthread_sigmask leaves
 * the others' alone, a new thread starts with its creator's, sigprocmask
 * (and BSD's sigsetmask, System V's sighold) work on the same mask, and the
 * process's signals reach a handler while threads that block them come and go.
 * The threads have TLS of their own (a __thread variable), so they may move
 * between carriers: a mask read on one carrier and set again on another, as
 * HotSpot does at a thread's end, is the thread's own there.
 */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 200

static __thread int mine; /* TLS of its own: the threads may move */
static pthread_barrier_t both;
static atomic_int handled;

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&handled, 1);
}

static int blocked(int sig)
{
	sigset_t now;

	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &now) == 0);
	return sigismember(&now, sig);
}

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static void *child(void *arg)
{
	(void)arg;
	return (void *)(long)blocked(SIGUSR2);
}

/* Blocks SIGUSR2, then makes a thread: it starts blocking SIGUSR2 too. */
static void *blocker(void *arg)
{
	sigset_t s;
	pthread_t t;
	void *r;

	(void)arg;
	mine = 1;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR2);
	CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
	pthread_barrier_wait(&both); /* blocked now */
	pthread_barrier_wait(&both); /* the other looked */
	CHECK(pthread_create(&t, NULL, child, NULL) == 0);
	CHECK(pthread_join(t, &r) == 0);
	printf("a thread made by it starts blocking SIGUSR2: %s\n",
	       r ? "yes" : "no");
	return NULL;
}

static void *looker(void *arg)
{
	(void)arg;
	mine = 2;
	pthread_barrier_wait(&both);
	printf("another thread blocks SIGUSR2 too: %s\n",
	       blocked(SIGUSR2) ? "yes" : "no");
	pthread_barrier_wait(&both);
	return NULL;
}

/* Reads its mask, blocks SIGUSR1 while it sleeps, sets the mask read. */
static void *saver(void *arg)
{
	sigset_t saved, s;

	(void)arg;
	mine = 3;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	for (int i = 0; i < 5; i++) {
		CHECK(sigprocmask(SIG_BLOCK, &s, &saved) == 0);
		nap(200000);
		CHECK(blocked(SIGUSR1));
		CHECK(pthread_sigmask(SIG_SETMASK, &saved, NULL) == 0);
	}
	return NULL;
}

int main(void)
{
	struct sigaction sa;
	pthread_t a, b, s[8];
	sigset_t set;
	int before;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(pthread_barrier_init(&both, NULL, 2) == 0);
	CHECK(pthread_create(&b, NULL, looker, NULL) == 0);
	CHECK(pthread_create(&a, NULL, blocker, NULL) == 0);
	CHECK(pthread_join(a, NULL) == 0);
	CHECK(pthread_join(b, NULL) == 0);
	printf("main blocks SIGUSR2: %s\n", blocked(SIGUSR2) ? "yes" : "no");

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	printf("after sigprocmask, pthread_sigmask says SIGUSR2 blocked: %s\n",
	       blocked(SIGUSR2) ? "yes" : "no");
	CHECK(pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0);

	/* The BSD and System V calls are on the same mask. */
	before = sigsetmask((1 << (SIGUSR2 - 1)));
	printf("after sigsetmask, SIGUSR2 blocked: %s\n",
	       blocked(SIGUSR2) ? "yes" : "no");
	CHECK(sigsetmask(before) == (1 << (SIGUSR2 - 1)));
	CHECK(sighold(SIGUSR2) == 0);
	printf("after sighold, SIGUSR2 blocked: %s\n",
	       blocked(SIGUSR2) ? "yes" : "no");
	CHECK(sigrelse(SIGUSR2) == 0);
	printf("after sigrelse, SIGUSR2 blocked: %s\n",
	       blocked(SIGUSR2) ? "yes" : "no");

	/* Signals to the process while threads save and set masks. */
	for (int round = 0; round < ROUNDS / 20; round++) {
		for (int i = 0; i < 8; i++)
			CHECK(pthread_create(&s[i], NULL, saver, NULL) == 0);
		for (int i = 0; i < 8; i++)
			CHECK(pthread_join(s[i], NULL) == 0);
		before = atomic_load(&handled);
		CHECK(kill(getpid(), SIGUSR1) == 0);
		for (int i = 0; i < 2000 && atomic_load(&handled) == before;
		     i++)
			nap(1000000);
		if (atomic_load(&handled) == before) {
			printf("round %d: SIGUSR1 was never handled\n", round);
			return 1;
		}
	}
	printf("the process's SIGUSR1 handled after each of %d rounds\n",
	       ROUNDS / 20);
	printf("main blocks SIGUSR1: %s\n", blocked(SIGUSR1) ? "yes" : "no");
	return 0;
}

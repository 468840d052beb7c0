/* SPDX-License-Identifier: MIT */
/*
 * sigsetjmp and siglongjmp as a native program has them: the mask a
 * jump sets back is the thread's own, and a handler that leaves by
 * siglongjmp lands on the thread that called sigsetjmp, from a blocking
 * call, from the program's own loop, with other threads about.  (No
 * TLS: the program's threads stay on the carrier they started on, and
 * main spins on the one that takes the process's signals.)
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 20
#define ROUNDS 5

static atomic_int ticks, stop;

static void *worker(void *arg)
{
	while (!atomic_load(&stop)) {
		usleep(5000);
		atomic_fetch_add(&ticks, 1);
	}
	return NULL;
}

static bool blocked(int sig)
{
	sigset_t now;

	CHECK(pthread_sigmask(SIG_BLOCK, NULL, &now) == 0);
	return sigismember(&now, sig);
}

static void block(int how, int sig)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, sig);
	CHECK(pthread_sigmask(how, &s, NULL) == 0);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- a timeout by alarm, out of a read and out of a loop ---- */

static sigjmp_buf env;

static void on_alarm(int sig)
{
	siglongjmp(env, 1);
}

static void timeouts(void)
{
	struct itimerval it = { .it_value = { 0, 20000 } };
	volatile unsigned long spins = 0;
	int fds[2], reads = 0, loops = 0;
	char c;

	CHECK(pipe(fds) == 0);
	CHECK(signal(SIGALRM, on_alarm) != SIG_ERR);
	for (int i = 0; i < 2 * ROUNDS; i++) {
		if (sigsetjmp(env, 1) == 0) {
			CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
			if (i % 2) {
				for (;;)
					spins++;
			}
			CHECK(read(fds[0], &c, 1) < 0); /* no writer */
			printf("the read returned\n");
		} else {
			CHECK(!blocked(SIGALRM));
			*(i % 2 ? &loops : &reads) += 1;
		}
	}
	printf("alarm: %d reads and %d loops left by siglongjmp, SIGALRM "
	       "blocked after: %s\n",
	       reads, loops, blocked(SIGALRM) ? "yes" : "no");
	close(fds[0]);
	close(fds[1]);
}

/* ---- pthread_kill at a sleeping thread whose handler jumps ---- */

static sigjmp_buf *_Atomic here; /* the sleeper's, one at a time */
static atomic_int asleep;

static void on_usr1(int sig)
{
	if (here)
		siglongjmp(*here, 1);
}

static void *sleeper(void *arg)
{
	sigjmp_buf mine;
	double t0 = now();

	here = &mine;
	if (sigsetjmp(mine, 1) == 0) {
		atomic_store(&asleep, 1);
		sleep(10);
		here = NULL;
		return (void *)"slept out";
	}
	here = NULL;
	if (blocked(SIGUSR1))
		return (void *)"landed, SIGUSR1 still blocked";
	return (void *)(now() - t0 < 5 ? "landed" : "landed late");
}

static void directed(void)
{
	const char *said[ROUNDS];
	pthread_t t;

	CHECK(signal(SIGUSR1, on_usr1) != SIG_ERR);
	for (int i = 0; i < ROUNDS; i++) {
		atomic_store(&asleep, 0);
		CHECK(pthread_create(&t, NULL, sleeper, NULL) == 0);
		while (!atomic_load(&asleep))
			usleep(1000);
		usleep(20000); /* into its sleep */
		CHECK(pthread_kill(t, SIGUSR1) == 0);
		CHECK(pthread_join(t, (void **)&said[i]) == 0);
	}
	for (int i = 0; i < ROUNDS; i++)
		printf("pthread_kill %d: %s\n", i, said[i]);
}

/* ---- the mask, without a handler ---- */

static void *masks(void *arg)
{
	sigjmp_buf saved;
	volatile int step = 0;

	block(SIG_UNBLOCK, SIGUSR2);
	if (sigsetjmp(saved, 1) == 0) {
		block(SIG_BLOCK, SIGUSR2);
		usleep(1000); /* another thread runs here meanwhile */
		siglongjmp(saved, 1);
	}
	if (step++ == 0 && blocked(SIGUSR2))
		return (void *)"not set back";
	block(SIG_BLOCK, SIGUSR2);
	if (sigsetjmp(saved, 1) == 0) {
		block(SIG_UNBLOCK, SIGUSR2);
		usleep(1000);
		siglongjmp(saved, 2);
	}
	return (void *)(blocked(SIGUSR2) ? "set back both ways" : "unblocked");
}

static void *other(void *arg)
{
	for (int i = 0; i < 10; i++) {
		if (blocked(SIGUSR2))
			return (void *)"the other's mask moved";
		usleep(200);
	}
	return (void *)"the other's mask stayed";
}

static void mask_only(void)
{
	const char *a, *b;
	pthread_t t, u;

	block(SIG_UNBLOCK, SIGUSR2);
	CHECK(pthread_create(&u, NULL, other, NULL) == 0);
	CHECK(pthread_create(&t, NULL, masks, NULL) == 0);
	CHECK(pthread_join(t, (void **)&a) == 0);
	CHECK(pthread_join(u, (void **)&b) == 0);
	printf("siglongjmp's mask: %s; %s\n", a, b);
}

/* usage: shim_jumps [alarm|kill|mask]: one part, or all of them */
int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	pthread_t w[WORKERS];

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
	if (!only || !strcmp(only, "mask"))
		mask_only();
	if (!only || !strcmp(only, "alarm"))
		timeouts();
	if (!only || !strcmp(only, "kill"))
		directed();
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	printf("the workers ran on: %s\n", atomic_load(&ticks) ? "yes" : "no");
	return 0;
}

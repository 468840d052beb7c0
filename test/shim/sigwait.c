/* SPDX-License-Identifier: MIT */
/*
 * Threads that wait for the signals every thread blocks, with sigwait,
 * sigwaitinfo and sigtimedwait, as pbzip2's terminator thread does,
 * while the others go on: main hands each signal to the waiter and waits
 * for its answer on a pipe, so a waiter that kept its carrier (one
 * carrier, or main's) would hang main.  Also: a signal pending before
 * the wait, sigqueue's values in order, a timeout, a bad timeout, main
 * as the waiter, and a pthread_kill that the waiter took, after which a
 * handler still interrupts main.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 6
#define ROUNDS 50
#define QUEUED 5

static sigset_t set;
static int answers[2];
static volatile sig_atomic_t alarms;

static void answer(int v)
{
	CHECK(write(answers[1], &v, sizeof(v)) == sizeof(v));
}

static int heard(void)
{
	int v;

	CHECK(read(answers[0], &v, sizeof(v)) == sizeof(v));
	return v;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Answers each signal with its number (and value), until SIGUSR2. */
static void *waiter(void *arg)
{
	const char *how = arg;
	struct timespec tick = { 0, 5000000 };
	siginfo_t si;
	int sig;

	for (;;) {
		if (!strcmp(how, "sigwait")) {
			CHECK(sigwait(&set, &sig) == 0);
		} else if (!strcmp(how, "sigwaitinfo")) {
			sig = sigwaitinfo(&set, &si);
			CHECK(sig == si.si_signo);
		} else {
			do
				sig = sigtimedwait(&set, &si, &tick);
			while (sig < 0 && errno == EAGAIN);
		}
		CHECK(sig > 0);
		if (sig == SIGRTMIN && strcmp(how, "sigwait"))
			answer(1000 + si.si_value.sival_int);
		else
			answer(sig);
		if (sig == SIGUSR2)
			return NULL;
	}
}

/* The others keep working: their sleeps and pipes need the carriers. */
static volatile int stop;

static void *worker(void *arg)
{
	int p[2], v = 0;

	CHECK(pipe(p) == 0);
	while (!stop) {
		CHECK(write(p[1], &v, sizeof(v)) == sizeof(v));
		CHECK(read(p[0], &v, sizeof(v)) == sizeof(v));
		v++;
		usleep(200);
	}
	close(p[0]);
	close(p[1]);
	return NULL;
}

static void one_waiter(const char *how)
{
	bool values = strcmp(how, "sigwait") != 0;
	int usr1 = 0, rt = 0, rt_sent = 0;
	pthread_t w;

	CHECK(pthread_create(&w, NULL, waiter, (void *)how) == 0);
	for (int i = 0; i < ROUNDS; i++) {
		if (i % 3 == 0) {
			CHECK(kill(getpid(), SIGUSR1) == 0);
			usr1 += heard() == SIGUSR1;
		} else if (i % 3 == 1) {
			CHECK(pthread_kill(w, SIGUSR1) == 0);
			usr1 += heard() == SIGUSR1;
		} else {
			CHECK(sigqueue(getpid(), SIGRTMIN,
				       (union sigval){ i }) == 0);
			rt += heard() == (values ? 1000 + i : SIGRTMIN);
			rt_sent++;
		}
	}
	/* Queued signals of one number come in the order they were sent. */
	for (int i = 0; i < QUEUED; i++)
		CHECK(sigqueue(getpid(), SIGRTMIN, (union sigval){ i }) == 0);
	for (int i = 0; i < QUEUED; i++, rt_sent++)
		rt += heard() == (values ? 1000 + i : SIGRTMIN);
	CHECK(pthread_kill(w, SIGUSR2) == 0);
	CHECK(heard() == SIGUSR2);
	CHECK(pthread_join(w, NULL) == 0);
	printf("%s: SIGUSR1 %d of %d, SIGRTMIN %d of %d\n", how, usr1,
	       ROUNDS - rt_sent + QUEUED, rt, rt_sent);
}

static void on_alarm(int sig)
{
	alarms++;
}

static void *sender(void *arg)
{
	usleep(20000);
	for (int i = 0; i < QUEUED; i++)
		CHECK(sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ i }) ==
		      0);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { 0, 20000 } };
	struct timespec t0, bad = { 0, -1 }, wait30 = { 0, 30000000 };
	pthread_t workers[WORKERS], s;
	sigset_t mine;
	siginfo_t si;
	int p[2], sig;
	ssize_t n;
	char c;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	mine = set;
	sigaddset(&mine, SIGRTMIN + 1);
	sigaddset(&mine, SIGALRM);
	CHECK(pthread_sigmask(SIG_BLOCK, &mine, NULL) == 0);
	CHECK(pipe(answers) == 0);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&workers[i], NULL, worker, NULL) == 0);

	/* A signal pending before the call is taken at once, with its info. */
	CHECK(kill(getpid(), SIGUSR1) == 0);
	sig = sigtimedwait(&set, &si, &wait30);
	printf("pending: %s, from us %d, SI_USER %d\n",
	       sig == SIGUSR1 ? "SIGUSR1" : "other", si.si_pid == getpid(),
	       si.si_code == SI_USER);

	/* Nothing comes: EAGAIN after the timeout; a bad one is EINVAL. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sig = sigtimedwait(&set, &si, &wait30);
	printf("timeout: %d %s, waited %d\n", sig, strerror(errno),
	       ms_since(&t0) >= 29);
	CHECK(kill(getpid(), SIGUSR1) == 0);
	sig = sigtimedwait(&set, &si, &bad);
	printf("bad timeout: %d %s\n", sig, strerror(errno));
	CHECK(sigwaitinfo(&set, &si) == SIGUSR1);

	one_waiter("sigwait");
	one_waiter("sigwaitinfo");
	one_waiter("sigtimedwait");

	/* Main waits, for a thread's queued signals, in order. */
	sigemptyset(&mine);
	sigaddset(&mine, SIGRTMIN + 1);
	CHECK(pthread_create(&s, NULL, sender, NULL) == 0);
	for (int i = 0; i < QUEUED; i++) {
		sig = sigwaitinfo(&mine, &si);
		printf("main: SIGRTMIN+%d value %d\n", sig - SIGRTMIN,
		       si.si_value.sival_int);
	}
	CHECK(pthread_join(s, NULL) == 0);

	/*
	 * A waiter took the signal pthread_kill sent it: a handler of a
	 * signal for the process then interrupts main's read, as natively.
	 */
	CHECK(pthread_create(&s, NULL, waiter, "sigwait") == 0);
	CHECK(pthread_kill(s, SIGUSR1) == 0);
	CHECK(heard() == SIGUSR1);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	sigemptyset(&mine);
	sigaddset(&mine, SIGALRM);
	CHECK(pthread_sigmask(SIG_UNBLOCK, &mine, NULL) == 0);
	CHECK(pipe(p) == 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	n = read(p[0], &c, 1);
	printf("read: %zd %s, alarms %d\n", n, strerror(errno), (int)alarms);
	CHECK(pthread_kill(s, SIGUSR2) == 0);
	CHECK(heard() == SIGUSR2);
	CHECK(pthread_join(s, NULL) == 0);

	stop = 1;
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(workers[i], NULL) == 0);
	return 0;
}

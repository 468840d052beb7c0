/* SPDX-License-Identifier: MIT */
/*
 * Process-shared semaphores: sem_open's named ones and sem_init's with
 * pshared 1 in shared memory, between a parent and its forked child,
 * each with more threads than carriers, and within one process.  The
 * raw words of the shared ones are printed: glibc lays them out, and a
 * process with the shim must leave the same value and waiter count as
 * one without.  Output is the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define THREADS 4

static int rounds = 2000, adds = 5000; /* or as argv[1] says */

struct shared {
	sem_t ping, pong, lock, idle;
	long counter;
};

static struct shared *sh;

static const char *err(int r)
{
	return r == 0		  ? "0" :
	       errno == EAGAIN	  ? "EAGAIN" :
	       errno == ETIMEDOUT ? "ETIMEDOUT" :
	       errno == EINVAL	  ? "EINVAL" :
	       errno == EOVERFLOW ? "EOVERFLOW" :
				    "other";
}

static struct timespec in_ms(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

/* glibc's word: the value and, above it, the waiters. */
static void show(const char *what, sem_t *s)
{
	uint64_t d;
	int v;

	memcpy(&d, s, sizeof(d));
	CHECK(sem_getvalue(s, &v) == 0);
	printf("%s: value %d, word value %u, waiters %u\n", what, v,
	       (unsigned)d, (unsigned)(d >> 32));
}

static void ping_pong(sem_t *ping, sem_t *pong, bool parent)
{
	for (int i = 0; i < rounds; i++) {
		if (parent) {
			CHECK(sem_post(ping) == 0);
			CHECK(sem_wait(pong) == 0);
		} else {
			CHECK(sem_wait(ping) == 0);
			CHECK(sem_post(pong) == 0);
		}
	}
}

static pid_t fork_or_die(void)
{
	pid_t p = fork();

	CHECK(p >= 0);
	if (p == 0)
		return 0;
	return p;
}

static void reap(pid_t p)
{
	int st;

	CHECK(waitpid(p, &st, 0) == p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void named(void)
{
	char a[64], b[64];
	sem_t *ping, *pong;
	pid_t p;

	snprintf(a, sizeof(a), "/weft-test-ping-%d", (int)getpid());
	snprintf(b, sizeof(b), "/weft-test-pong-%d", (int)getpid());
	ping = sem_open(a, O_CREAT | O_EXCL, 0600, 0);
	pong = sem_open(b, O_CREAT | O_EXCL, 0600, 0);
	CHECK(ping != SEM_FAILED && pong != SEM_FAILED);
	CHECK(sem_unlink(a) == 0 && sem_unlink(b) == 0);
	p = fork_or_die();
	if (!p) {
		ping_pong(ping, pong, false);
		_exit(0);
	}
	ping_pong(ping, pong, true);
	reap(p);
	show("named ping", ping);
	show("named pong", pong);
	CHECK(sem_close(ping) == 0 && sem_close(pong) == 0);
	printf("named: %d rounds\n", rounds);
}

/* A binary semaphore as a lock, taken by threads of both processes. */
static void *adder(void *arg)
{
	for (int i = 0; i < adds; i++) {
		CHECK(sem_wait(&sh->lock) == 0);
		sh->counter++;
		CHECK(sem_post(&sh->lock) == 0);
	}
	return arg;
}

static void add_with_threads(void)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, adder, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

static void anonymous(void)
{
	pid_t p;

	CHECK(sem_init(&sh->ping, 1, 0) == 0);
	CHECK(sem_init(&sh->pong, 1, 0) == 0);
	CHECK(sem_init(&sh->lock, 1, 1) == 0);
	p = fork_or_die();
	if (!p) {
		ping_pong(&sh->ping, &sh->pong, false);
		add_with_threads();
		_exit(0);
	}
	ping_pong(&sh->ping, &sh->pong, true);
	add_with_threads();
	reap(p);
	printf("anonymous: %d rounds, counter %ld\n", rounds, sh->counter);
	show("anonymous lock", &sh->lock);
}

/* One process: a thread waits for main's post, on one carrier or more. */
static void *waiter(void *arg)
{
	CHECK(sem_wait(&sh->idle) == 0);
	return arg;
}

static void one_process(void)
{
	struct timespec nap = { 0, 1000000 }, ts;
	uint64_t d = 0; /* the word, as read here */
	pthread_t t;
	void *ret;
	int r;

	CHECK(sem_init(&sh->idle, 1, 0) == 0);
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	while (!(d >> 32)) { /* the test's timeout bounds it */
		nanosleep(&nap, NULL);
		memcpy(&d, &sh->idle, sizeof(d));
	}
	show("waited on", &sh->idle);
	CHECK(sem_post(&sh->idle) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	show("after the post", &sh->idle);

	/* Cancelled while it waits, the thread is no waiter any more. */
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	for (d = 0; !(d >> 32);) {
		nanosleep(&nap, NULL);
		memcpy(&d, &sh->idle, sizeof(d));
	}
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");
	show("after the cancellation", &sh->idle);

	errno = 0;
	ts = in_ms(30);
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait on 0: %s\n", err(r));
	show("after the timeout", &sh->idle);
	r = sem_trywait(&sh->idle);
	printf("trywait on 0: %s\n", err(r));
	ts = (struct timespec){ -1, 0 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait in the past: %s\n", err(r));
	ts.tv_nsec = -1;
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait, bad time, on 0: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait, bad time, on 1: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	ts = in_ms(1000);
	r = sem_clockwait(&sh->idle, CLOCK_MONOTONIC, &ts);
	printf("clockwait on 1: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	r = sem_clockwait(&sh->idle, CLOCK_PROCESS_CPUTIME_ID, &ts);
	printf("clockwait on the CPU clock: %s\n", err(r));
	CHECK(sem_trywait(&sh->idle) == 0);

	/* The same checks on a private semaphore. */
	CHECK(sem_init(&sh->idle, 0, 1) == 0);
	ts = (struct timespec){ 0, -1 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait, bad time, on 1: %s\n", err(r));
	ts = in_ms(1000);
	r = sem_clockwait(&sh->idle, CLOCK_PROCESS_CPUTIME_ID, &ts);
	printf("private clockwait on the CPU clock: %s\n", err(r));
	ts = (struct timespec){ -1, 0 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait in the past, on 1: %s\n", err(r));
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait in the past, on 0: %s\n", err(r));

	CHECK(sem_init(&sh->idle, 1, SEM_VALUE_MAX) == 0);
	r = sem_post(&sh->idle);
	printf("post at SEM_VALUE_MAX: %s\n", err(r));
	show("full", &sh->idle);

	/* Zeroed, never initialised: glibc takes it as private, value 0. */
	memset(&sh->idle, 0, sizeof(sh->idle));
	CHECK(sem_post(&sh->idle) == 0);
	show("zeroed, posted", &sh->idle);
	CHECK(sem_wait(&sh->idle) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		rounds = atoi(argv[1]);
		adds = rounds;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	named();
	anonymous();
	one_process();
	return 0;
}

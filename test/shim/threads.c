/* SPDX-License-Identifier: MIT */
/*
 * Threads, mutexes, condition variables, semaphores, once: a counter
 * under a mutex, a ping-pong on a condition, a semaphore chain, the mutex
 * kinds' answers, timeouts, stack size.  Output is the same natively.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define NR_THREADS 16
#define ROUNDS 20000
#define PINGS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *add(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return arg;
}

static void test_counter(void)
{
	pthread_t t[NR_THREADS];
	void *ret;

	for (intptr_t i = 0; i < NR_THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, add, (void *)i) == 0);
	for (intptr_t i = 0; i < NR_THREADS; i++) {
		CHECK(pthread_join(t[i], &ret) == 0);
		CHECK(ret == (void *)i);
	}
	printf("counter %ld\n", counter);
}

static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn, pings[2];

static void *ping(void *arg)
{
	int me = (int)(intptr_t)arg;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < PINGS; i++) {
		while (turn != me)
			pthread_cond_wait(&turn_changed, &lock);
		pings[me]++;
		turn = !me;
		pthread_cond_signal(&turn_changed);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void test_pingpong(void)
{
	pthread_t a, b;

	pthread_create(&a, NULL, ping, (void *)0);
	pthread_create(&b, NULL, ping, (void *)1);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("pings %d %d\n", pings[0], pings[1]);
}

static sem_t sems[NR_THREADS + 1];

static void *relay(void *arg)
{
	intptr_t i = (intptr_t)arg;

	for (int k = 0; k < 100; k++) {
		sem_wait(&sems[i]);
		sem_post(&sems[i + 1]);
	}
	return NULL;
}

static void test_sem_chain(void)
{
	pthread_t t[NR_THREADS];
	int v;

	for (int i = 0; i <= NR_THREADS; i++)
		sem_init(&sems[i], 0, 0);
	for (intptr_t i = 0; i < NR_THREADS; i++)
		pthread_create(&t[i], NULL, relay, (void *)i);
	for (int k = 0; k < 100; k++)
		sem_post(&sems[0]);
	for (int k = 0; k < 100; k++)
		sem_wait(&sems[NR_THREADS]);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	sem_getvalue(&sems[NR_THREADS], &v);
	CHECK(sem_trywait(&sems[0]) == -1 && errno == EAGAIN);
	printf("sem chain done, value %d\n", v);
}

static void test_mutex_kinds(void)
{
	pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	pthread_mutex_t chk;
	pthread_mutexattr_t a;

	CHECK(pthread_mutex_lock(&rec) == 0);
	CHECK(pthread_mutex_lock(&rec) == 0);
	CHECK(pthread_mutex_trylock(&rec) == 0);
	CHECK(pthread_mutex_unlock(&rec) == 0);
	CHECK(pthread_mutex_unlock(&rec) == 0);
	CHECK(pthread_mutex_unlock(&rec) == 0);
	CHECK(pthread_mutex_unlock(&rec) == EPERM);
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	CHECK(pthread_mutex_init(&chk, &a) == 0);
	CHECK(pthread_mutex_unlock(&chk) == EPERM);
	CHECK(pthread_mutex_lock(&chk) == 0);
	CHECK(pthread_mutex_lock(&chk) == EDEADLK);
	CHECK(pthread_mutex_trylock(&chk) == EBUSY);
	CHECK(pthread_mutex_unlock(&chk) == 0);
	CHECK(pthread_mutex_destroy(&chk) == 0);
	printf("mutex kinds ok\n");
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static void *try_held(void *arg)
{
	struct timespec ts;

	CHECK(pthread_mutex_trylock(&held) == EBUSY);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 20 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return (void *)(intptr_t)pthread_mutex_timedlock(&held, &ts);
}

static void test_timeouts(void)
{
	pthread_cond_t c;
	pthread_condattr_t ca;
	struct timespec ts;
	pthread_t t;
	void *r;

	pthread_mutex_lock(&held);
	pthread_create(&t, NULL, try_held, NULL);
	pthread_join(t, &r);
	pthread_mutex_unlock(&held);
	printf("timedlock %s\n", (intptr_t)r == ETIMEDOUT ? "timed out" : "?");

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c, &ca);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 10 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lock);
	printf("cond timedwait %s\n",
	       pthread_cond_timedwait(&c, &lock, &ts) == ETIMEDOUT ?
		       "timed out" :
		       "?");
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&c);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;

static void init_once(void)
{
	struct timespec ts = { 0, 5000000 };

	nanosleep(&ts, NULL); /* the others must wait, not run it again */
	once_runs++;
}

static void *do_once(void *arg)
{
	pthread_once(&once, init_once);
	return (void *)(intptr_t)once_runs;
}

static void test_once(void)
{
	pthread_t t[8];
	void *r;
	int ok = 1;

	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, do_once, NULL);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], &r);
		ok &= (intptr_t)r == 1;
	}
	printf("once ran %d time(s), seen by all: %s\n", once_runs,
	       ok ? "yes" : "no");
}

/* Needs more than a small stack: 4 MiB of locals. */
static void *deep(void *arg)
{
	volatile char big[4 << 20];

	memset((char *)big, 1, sizeof(big));
	return (void *)(intptr_t)big[sizeof(big) - 1];
}

static void test_stack(void)
{
	pthread_attr_t a;
	pthread_t t;
	size_t size;
	void *r;
	int st;

	pthread_attr_init(&a);
	CHECK(pthread_attr_setstacksize(&a, 6 << 20) == 0);
	pthread_attr_getstacksize(&a, &size);
	CHECK(pthread_create(&t, &a, deep, NULL) == 0);
	pthread_join(t, &r);
	/* And the default, 8 MiB as glibc's, fits it too. */
	CHECK(pthread_create(&t, NULL, deep, NULL) == 0);
	pthread_join(t, &r);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_getdetachstate(&a, &st);
	CHECK(st == PTHREAD_CREATE_DETACHED);
	printf("stack %zu MiB, 4 MiB of locals: %d\n", size >> 20,
	       (int)(intptr_t)r);
}

static sem_t detached_done;

static void *detached(void *arg)
{
	sem_post(&detached_done);
	return NULL;
}

static void test_detach(void)
{
	pthread_t ids[4];
	pthread_attr_t a;

	sem_init(&detached_done, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&ids[i], &a, detached, NULL) == 0);
	for (int i = 2; i < 4; i++) {
		CHECK(pthread_create(&ids[i], NULL, detached, NULL) == 0);
		CHECK(pthread_detach(ids[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		sem_wait(&detached_done);
	printf("detached threads ran\n");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(pthread_equal(pthread_self(), pthread_self()));
	test_counter();
	test_pingpong();
	test_sem_chain();
	test_mutex_kinds();
	test_timeouts();
	test_once();
	test_stack();
	test_detach();
	printf("done\n");
	return 0;
}

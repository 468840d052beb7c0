/* SPDX-License-Identifier: MIT */
/*
 * Thread-specific keys: values per thread, destructors at thread exit
 * (by return and by pthread_exit, and again for values they set), key
 * deletion, and a value set before main still there in main.  Output is
 * the same natively.
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>

#include "check.h"

#define NR_THREADS 20

static pthread_key_t counted, again, early;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long destroyed, destroyed_again;

static void count(void *v)
{
	pthread_mutex_lock(&lock);
	destroyed += (intptr_t)v;
	pthread_mutex_unlock(&lock);
}

/* Sets its value again once: the destructor must run a second time. */
static void count_again(void *v)
{
	pthread_mutex_lock(&lock);
	destroyed_again++;
	pthread_mutex_unlock(&lock);
	if (v == (void *)1)
		pthread_setspecific(again, (void *)2);
}

__attribute__((constructor)) static void before_main(void)
{
	pthread_key_create(&early, NULL);
	pthread_setspecific(early, (void *)42);
}

static void *worker(void *arg)
{
	intptr_t i = (intptr_t)arg;

	CHECK(pthread_getspecific(counted) == NULL);
	CHECK(pthread_getspecific(early) == NULL);
	CHECK(pthread_setspecific(counted, (void *)(i + 1)) == 0);
	CHECK(pthread_setspecific(again, (void *)1) == 0);
	sched_yield();
	CHECK(pthread_getspecific(counted) == (void *)(i + 1));
	if (i % 2)
		pthread_exit(NULL);
	return NULL;
}

int main(void)
{
	pthread_t t[NR_THREADS];
	pthread_key_t gone;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("value set before main: %ld\n",
	       (long)(intptr_t)pthread_getspecific(early));
	CHECK(pthread_key_create(&counted, count) == 0);
	CHECK(pthread_key_create(&again, count_again) == 0);
	CHECK(pthread_setspecific(counted, (void *)1000) == 0);
	for (intptr_t i = 0; i < NR_THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < NR_THREADS; i++)
		pthread_join(t[i], NULL);
	printf("destructor sum %ld (want %d)\n", destroyed,
	       NR_THREADS * (NR_THREADS + 1) / 2);
	printf("second-round destructors %ld (want %d)\n", destroyed_again,
	       2 * NR_THREADS);
	printf("main's own value %ld\n",
	       (long)(intptr_t)pthread_getspecific(counted));

	CHECK(pthread_key_create(&gone, count) == 0);
	CHECK(pthread_setspecific(gone, (void *)7) == 0);
	CHECK(pthread_key_delete(gone) == 0);
	CHECK(pthread_setspecific(gone, (void *)7) != 0 ||
	      pthread_getspecific(gone) == (void *)7);
	printf("deleted key refused or kept: ok\n");
	return 0;
}

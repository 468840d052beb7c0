/* SPDX-License-Identifier: MIT */
/*
 * The program's own thread-local variables are per thread under the shim
 * too: each thread starts with the initial values, keeps its own across
 * blocking calls while the others change theirs on the same carrier,
 * sees them at an address no other live thread has, and errno is its
 * own.  main keeps what a constructor stored before it ran.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define THREADS 16
#define ROUNDS 50

static __thread int counter = 1000;
static __thread char name[32] = "initial";
static _Thread_local uintptr_t big[64];
static __thread int set_by_constructor;

__attribute__((constructor)) static void before_main(void)
{
	set_by_constructor = 42;
}

static uintptr_t addresses[THREADS];
static pthread_barrier_t all_here;

static void nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	char want[32];
	int ok = counter == 1000 && !strcmp(name, "initial") && !big[63] &&
		 !set_by_constructor;

	snprintf(name, sizeof(name), "thread %d", id);
	addresses[id] = (uintptr_t)&counter;
	for (int i = 0; i < ROUNDS; i++) {
		counter += id;
		big[i % 64] += id;
		errno = 1000 + id;
		nap(); /* the others run and change theirs meanwhile */
		if (errno != 1000 + id)
			ok = 0;
	}
	pthread_barrier_wait(&all_here); /* all alive: addresses in use */
	snprintf(want, sizeof(want), "thread %d", id);
	return (void *)(intptr_t)(ok && counter == 1000 + ROUNDS * id &&
				  !strcmp(name, want));
}

int main(void)
{
	pthread_t t[THREADS];
	int good = 0, distinct = 1;
	void *r;

	printf("main: the constructor's value %d, counter %d\n",
	       set_by_constructor, counter);
	CHECK(pthread_barrier_init(&all_here, NULL, THREADS) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker,
				     (void *)(intptr_t)i) == 0);
	for (int i = 0; i < THREADS; i++) {
		CHECK(pthread_join(t[i], &r) == 0);
		good += r != NULL;
	}
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < i; j++)
			if (addresses[i] == addresses[j])
				distinct = 0;
	printf("%d of %d threads kept their own values and errno\n", good,
	       THREADS);
	printf("addresses of a thread-local in live threads: %s\n",
	       distinct ? "all distinct" : "shared");
	printf("main's own still: counter %d, name %s\n", counter, name);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Thread-local variables of modules loaded with dlopen after main
 * started (the java launcher dlopens libjvm.so, which keeps the current
 * thread in one) are per thread under the shim too, for the threads
 * created afterwards: each starts with the module's initial values, also
 * on a reused block after a thread that changed them ended, and keeps
 * its own across blocking calls while the others on its carrier change
 * theirs.  usage: dltls MODULE...
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "check.h"

#define THREADS 16
#define ROUNDS 20
#define MODULES 2

static int nr_modules;
static int *(*value_of[MODULES])(void);
static char *(*text_of[MODULES])(void);
static uintptr_t addresses[THREADS];
static pthread_barrier_t all_here;

static void nap(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

/* Returns a bit set: 1 if it did not start fresh, 2 if others changed it. */
static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	intptr_t bad = 0;
	char want[16];

	snprintf(want, sizeof(want), "thread %d", id);
	for (int m = 0; m < nr_modules; m++) {
		if (*value_of[m]() != 7 || strcmp(text_of[m](), "fresh"))
			bad |= 1;
		*value_of[m]() = 100 + id;
		strcpy(text_of[m](), want);
	}
	addresses[id] = (uintptr_t)value_of[0]();
	pthread_barrier_wait(&all_here); /* all alive */
	for (int i = 0; i < 5; i++) {
		nap(); /* the others run and check theirs meanwhile */
		for (int m = 0; m < nr_modules; m++)
			if (*value_of[m]() != 100 + id ||
			    strcmp(text_of[m](), want))
				bad |= 2;
	}
	pthread_barrier_wait(&all_here);
	return (void *)bad;
}

int main(int argc, char **argv)
{
	int fresh = 0, own = 0, distinct = 1;
	pthread_t t[THREADS];
	void *r;

	CHECK(argc > 1 && argc <= MODULES + 1);
	for (int m = 0; m < argc - 1; m++) {
		void *h = dlopen(argv[m + 1], RTLD_NOW);

		CHECK(h);
		value_of[m] = (int *(*)(void))dlsym(h, "dltls_value");
		text_of[m] = (char *(*)(void))dlsym(h, "dltls_text");
		CHECK(value_of[m] && text_of[m]);
		nr_modules++;
	}
	CHECK(pthread_barrier_init(&all_here, NULL, THREADS) == 0);
	for (int round = 0; round < ROUNDS; round++) {
		for (int i = 0; i < THREADS; i++)
			CHECK(pthread_create(&t[i], NULL, worker,
					     (void *)(intptr_t)i) == 0);
		for (int i = 0; i < THREADS; i++) {
			CHECK(pthread_join(t[i], &r) == 0);
			fresh += !((intptr_t)r & 1);
			own += !((intptr_t)r & 2);
		}
		for (int i = 0; i < THREADS; i++)
			for (int j = 0; j < i; j++)
				if (addresses[i] == addresses[j])
					distinct = 0;
	}
	printf("%d modules loaded after start\n", nr_modules);
	printf("%d of %d threads started with the initial values\n", fresh,
	       ROUNDS * THREADS);
	printf("%d of %d threads kept their own values\n", own,
	       ROUNDS * THREADS);
	printf("addresses in live threads: %s\n",
	       distinct ? "all distinct" : "shared");
	return 0;
}

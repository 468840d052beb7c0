/* SPDX-License-Identifier: MIT */
/*
 * Spawn and join cost: a million virtual threads that return at once,
 * started and joined in batches, against pthread_create and pthread_join.
 *
 * Batches keep the working set small: a joined thread's stack goes back to
 * the pool and the next spawn takes it, pages already committed, so the
 * figure is the runtime's cost and not that of faulting in fresh stacks.
 * A warm-up round fills the pool before the clock starts.
 */
#include <pthread.h>

#include "weft.h"
#include "bench.h"

#define MAX_BATCH 64

struct run {
	long total; /* threads to spawn and join */
	int batch;  /* spawned before the first of them is joined */
	double ns;  /* out: per thread */
};

static intptr_t nop(void *arg)
{
	return 0;
}

static int weft_rounds(long total, int batch)
{
	struct weft_thread *t[MAX_BATCH];

	for (long done = 0; done < total; done += batch) {
		for (int i = 0; i < batch; i++)
			if (weft_thread_spawn(&t[i], nop, NULL, NULL) < 0)
				return -1;
		for (int i = 0; i < batch; i++)
			weft_thread_join(t[i], NULL);
	}
	return 0;
}

static intptr_t weft_spawn_main(void *arg)
{
	struct run *r = arg;
	int64_t t0;

	if (weft_rounds(10000, r->batch) < 0)
		return -1;
	t0 = b_now();
	if (weft_rounds(r->total, r->batch) < 0)
		return -1;
	r->ns = (double)(b_now() - t0) / r->total;
	return 0;
}

static double spawn_weft(const char *carriers, long total, int batch)
{
	struct run r = { .total = (total + batch - 1) / batch * batch,
			 .batch = batch };

	if (carriers)
		setenv("WEFT_CARRIERS", carriers, 1);
	else
		unsetenv("WEFT_CARRIERS");
	if (weft_main(weft_spawn_main, &r) < 0) {
		fprintf(stderr, "spawn: weft_main failed\n");
		exit(1);
	}
	return r.ns;
}

static void *pnop(void *arg)
{
	return NULL;
}

static void pthread_rounds(long total, int batch)
{
	pthread_t t[MAX_BATCH];

	for (long done = 0; done < total; done += batch) {
		for (int i = 0; i < batch; i++)
			if (pthread_create(&t[i], NULL, pnop, NULL)) {
				fprintf(stderr,
					"spawn: pthread_create failed\n");
				exit(1);
			}
		for (int i = 0; i < batch; i++)
			pthread_join(t[i], NULL);
	}
}

static double pthread_spawn(long total, int batch)
{
	int64_t t0;

	total = (total + batch - 1) / batch * batch;
	pthread_rounds(1000, batch);
	t0 = b_now();
	pthread_rounds(total, batch);
	return (double)(b_now() - t0) / total;
}

int main(void)
{
	long n = b_env("BENCH_THREADS", 1000000);
	long np = b_env("BENCH_PTHREADS", 20000);

	/* Every CPU a carrier, as a program gets by default; then one. */
	b_emit("spawn", "weft_batch64", spawn_weft(NULL, n, 64), "ns/thread");
	b_emit("spawn", "weft_batch1", spawn_weft(NULL, n, 1), "ns/thread");
	b_emit("spawn", "weft_batch64_1c", spawn_weft("1", n, 64), "ns/thread");
	b_emit("spawn", "weft_batch1_1c", spawn_weft("1", n, 1), "ns/thread");
	b_emit("spawn", "pthread_batch64", pthread_spawn(np, 64), "ns/thread");
	b_emit("spawn", "pthread_batch1", pthread_spawn(np, 1), "ns/thread");
	return 0;
}

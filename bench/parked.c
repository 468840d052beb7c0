/* SPDX-License-Identifier: MIT */
/*
 * Parked threads: a million virtual threads blocked at once on one
 * semaphore; the figure is the resident memory each costs, the growth of
 * the resident set while all are parked divided by their number.
 *
 * Every stack is fresh here (nothing has run before), so each thread
 * faults in its first page: expect seconds of page faults, not a measure
 * of the runtime.  The handle array is touched before the first reading.
 */
#include <stdatomic.h>

#include "weft.h"
#include "bench.h"

struct run {
	long n;
	struct weft_thread **t;
	struct weft_sem sem;
	atomic_long waiting;	   /* threads about to park */
	long long rss0, rss1;	   /* out: bytes before and with all parked */
	int64_t spawned, released; /* out: ns */
};

static intptr_t parker(void *arg)
{
	struct run *r = arg;

	atomic_fetch_add_explicit(&r->waiting, 1, memory_order_relaxed);
	return weft_sem_wait(&r->sem);
}

static intptr_t parked_main(void *arg)
{
	struct run *r = arg;
	int64_t t0;
	intptr_t v;

	r->rss0 = b_rss();
	t0 = b_now();
	for (long i = 0; i < r->n; i++)
		if (weft_thread_spawn(&r->t[i], parker, r, NULL) < 0)
			return -1;
	while (atomic_load(&r->waiting) < r->n)
		weft_sleep_until(weft_now() + 1000000);
	/* The last ones counted may still be on their way to the park. */
	weft_sleep_until(weft_now() + 20000000);
	r->spawned = b_now() - t0;
	r->rss1 = b_rss();
	t0 = b_now();
	for (long i = 0; i < r->n; i++)
		weft_sem_post(&r->sem);
	for (long i = 0; i < r->n; i++)
		if (weft_thread_join(r->t[i], &v) < 0 || v < 0)
			return -1;
	r->released = b_now() - t0;
	return 0;
}

int main(void)
{
	struct run r = { .n = b_env("BENCH_PARKED", 1000000) };

	r.t = malloc(r.n * sizeof(*r.t));
	if (!r.t)
		return 1;
	memset(r.t, 0, r.n * sizeof(*r.t));
	weft_sem_init(&r.sem, 0);
	if (weft_main(parked_main, &r) < 0) {
		fprintf(stderr, "parked: failed\n");
		return 1;
	}
	b_emit("parked", "weft_rss_per_thread",
	       (double)(r.rss1 - r.rss0) / r.n / 1024, "KiB");
	b_emit("parked", "weft_spawn_park", (double)r.spawned / r.n,
	       "ns/thread");
	b_emit("parked", "weft_release_join", (double)r.released / r.n,
	       "ns/thread");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Many sleepers: 100,000 virtual threads each sleep until one second after
 * the first spawn; the figures are the wall time from the first spawn to
 * the last join, its excess over the second, and the peak resident set.
 */
#include "weft.h"
#include "bench.h"

#define SEC 1000000000LL

struct run {
	long n;
	struct weft_thread **t;
	int64_t deadline;
	int64_t spawned, wall; /* out: ns from the first spawn */
};

static intptr_t sleeper(void *arg)
{
	const struct run *r = arg;

	return weft_sleep_until(r->deadline);
}

static intptr_t sleepers_main(void *arg)
{
	struct run *r = arg;
	int64_t t0 = b_now();
	intptr_t v;

	r->deadline = t0 + SEC;
	for (long i = 0; i < r->n; i++)
		if (weft_thread_spawn(&r->t[i], sleeper, r, NULL) < 0)
			return -1;
	r->spawned = b_now() - t0;
	for (long i = 0; i < r->n; i++)
		if (weft_thread_join(r->t[i], &v) < 0 || v < 0)
			return -1;
	r->wall = b_now() - t0;
	return 0;
}

int main(void)
{
	struct run r = { .n = b_env("BENCH_SLEEPERS", 100000) };

	r.t = calloc(r.n, sizeof(*r.t));
	if (!r.t || weft_main(sleepers_main, &r) < 0) {
		fprintf(stderr, "sleepers: failed\n");
		return 1;
	}
	b_emit("sleepers", "weft_wall", r.wall / 1e6, "ms");
	b_emit("sleepers", "weft_over_1s", (r.wall - SEC) / 1e6, "ms");
	b_emit("sleepers", "weft_spawn_phase", r.spawned / 1e6, "ms");
	b_emit("sleepers", "weft_peak_rss", b_peak_rss() / 1048576.0, "MiB");
	return 0;
}

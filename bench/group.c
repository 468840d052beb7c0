/* SPDX-License-Identifier: MIT */
/*
 * Thread groups: how long cancelling 10,000 threads blocked in a read takes
 * to join, what a group adds to spawn+join, and a fan-out through a group
 * with max_concurrency 64.
 *
 * cancel: 10,000 members of one group each blocked in weft_read on the
 * read end of ONE empty pipe (10,000 pipes would need 20,000 fds, the
 * limit); the clock runs from weft_group_cancel to weft_group_join
 * returning, every read having failed with -ECANCELED.
 *
 * overhead: threads that return at once, 64 spawned then all joined, a
 * million of them: weft_spawn into a group opened for the batch and joined
 * at its end, against weft_thread_spawn and weft_thread_join, the two
 * taking turns in ten slices.  A warm-up round fills the stack pool
 * first, as in spawn.c.  On every CPU, then again on one carrier.
 *
 * fanout: 100,000 tasks that add to a counter, spawned into one group with
 * max_concurrency 64 and joined; the wall time from open to join.
 */
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "weft.h"
#include "bench.h"

#define BATCH 64
#define LIMIT 64
#define SLICES 10

struct run {
	long readers; /* cancel */
	long threads; /* overhead */
	long tasks;   /* fanout */
	int fd[2];
	atomic_long blocked;   /* readers about to read */
	atomic_long cancelled; /* reads that failed with -ECANCELED */
	atomic_long done;      /* fan-out tasks run */
	/* out */
	double cancel_ns, bare_ns, group_ns, fanout_ms;
};

static intptr_t reader(void *arg)
{
	struct run *r = arg;
	char c;
	ssize_t n;

	atomic_fetch_add_explicit(&r->blocked, 1, memory_order_relaxed);
	n = weft_read(r->fd[0], &c, 1);
	if (n == -ECANCELED)
		atomic_fetch_add_explicit(&r->cancelled, 1,
					  memory_order_relaxed);
	return n < 0 ? n : 0;
}

static int cancel_latency(struct run *r)
{
	struct weft_group g;
	int64_t t0, t1;
	int ret;

	atomic_store(&r->blocked, 0);
	atomic_store(&r->cancelled, 0);
	ret = weft_group_open(&g, NULL);
	if (ret < 0)
		return ret;
	for (long i = 0; i < r->readers; i++) {
		ret = weft_spawn(&g, reader, r);
		if (ret < 0) {
			weft_group_cancel(&g);
			weft_group_join(&g);
			weft_group_fini(&g);
			return ret;
		}
	}
	while (atomic_load(&r->blocked) < r->readers)
		weft_sleep_until(weft_now() + 1000000);
	/* The last ones counted may still be on their way to the ring. */
	weft_sleep_until(weft_now() + 20000000);
	t0 = b_now();
	weft_group_cancel(&g);
	ret = weft_group_join(&g);
	t1 = b_now();
	weft_group_fini(&g);
	if (ret != 0 || atomic_load(&r->cancelled) != r->readers) {
		fprintf(stderr,
			"group: cancel: join %d, %ld of %ld cancelled\n", ret,
			atomic_load(&r->cancelled), r->readers);
		return -1;
	}
	r->cancel_ns = (double)(t1 - t0);
	return 0;
}

static intptr_t nop(void *arg)
{
	return 0;
}

static int bare_rounds(long total)
{
	struct weft_thread *t[BATCH];

	for (long done = 0; done < total; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if (weft_thread_spawn(&t[i], nop, NULL, NULL) < 0)
				return -1;
		for (int i = 0; i < BATCH; i++)
			weft_thread_join(t[i], NULL);
	}
	return 0;
}

static int group_rounds(long total)
{
	struct weft_group g;
	int ret = 0;

	for (long done = 0; done < total && !ret; done += BATCH) {
		weft_group(&g)
		{
			for (int i = 0; i < BATCH; i++) {
				ret = weft_spawn(&g, nop, NULL);
				if (ret < 0)
					break;
			}
		}
		if (!ret)
			ret = weft_group_result(&g);
		weft_group_fini(&g);
	}
	return ret;
}

/* Bare and group rounds alternate in slices, so noise falls on both. */
static int overhead(struct run *r)
{
	long slice = (r->threads / SLICES + BATCH - 1) / BATCH * BATCH;
	int64_t bare = 0, group = 0, t0;

	if (bare_rounds(10000) < 0 || group_rounds(10000) < 0)
		return -1;
	for (int i = 0; i < SLICES; i++) {
		t0 = b_now();
		if (bare_rounds(slice) < 0)
			return -1;
		bare += b_now() - t0;
		t0 = b_now();
		if (group_rounds(slice) < 0)
			return -1;
		group += b_now() - t0;
	}
	r->bare_ns = (double)bare / (slice * SLICES);
	r->group_ns = (double)group / (slice * SLICES);
	return 0;
}

static intptr_t task(void *arg)
{
	struct run *r = arg;

	atomic_fetch_add_explicit(&r->done, 1, memory_order_relaxed);
	return 0;
}

static int fanout(struct run *r)
{
	struct weft_group g;
	int64_t t0;
	int ret = 0;

	atomic_store(&r->done, 0);
	t0 = b_now();
	weft_group(&g, .max_concurrency = LIMIT)
	{
		for (long i = 0; i < r->tasks; i++) {
			ret = weft_spawn(&g, task, r);
			if (ret < 0)
				break;
		}
	}
	r->fanout_ms = (double)(b_now() - t0) / 1e6;
	if (!ret)
		ret = weft_group_result(&g);
	weft_group_fini(&g);
	if (ret < 0 || atomic_load(&r->done) != r->tasks) {
		fprintf(stderr, "group: fanout: %d, %ld of %ld tasks\n", ret,
			atomic_load(&r->done), r->tasks);
		return -1;
	}
	return 0;
}

static intptr_t group_main(void *arg)
{
	struct run *r = arg;

	if (cancel_latency(r) < 0 || overhead(r) < 0 || fanout(r) < 0)
		return -1;
	return 0;
}

static intptr_t overhead_main(void *arg)
{
	return overhead(arg) < 0 ? -1 : 0;
}

int main(void)
{
	struct run r = {
		.readers = b_env("BENCH_READERS", 10000),
		.threads = b_env("BENCH_THREADS", 1000000),
		.tasks = b_env("BENCH_TASKS", 100000),
	};

	if (pipe2(r.fd, O_CLOEXEC) < 0) {
		perror("group: pipe2");
		return 1;
	}
	/* Every CPU a carrier, as a program gets by default; then one. */
	unsetenv("WEFT_CARRIERS");
	if (weft_main(group_main, &r) < 0) {
		fprintf(stderr, "group: failed\n");
		return 1;
	}
	b_emit("group", "weft_cancel_total", r.cancel_ns / 1e6, "ms");
	b_emit("group", "weft_cancel", r.cancel_ns / r.readers, "ns/thread");
	b_emit("group", "weft_bare_batch64", r.bare_ns, "ns/thread");
	b_emit("group", "weft_group_batch64", r.group_ns, "ns/thread");
	b_emit("group", "weft_group_ratio", r.group_ns / r.bare_ns, "x");
	b_emit("group", "weft_fanout64", r.fanout_ms, "ms");
	setenv("WEFT_CARRIERS", "1", 1);
	if (weft_main(overhead_main, &r) < 0) {
		fprintf(stderr, "group: failed on one carrier\n");
		return 1;
	}
	b_emit("group", "weft_bare_batch64_1c", r.bare_ns, "ns/thread");
	b_emit("group", "weft_group_batch64_1c", r.group_ns, "ns/thread");
	b_emit("group", "weft_group_ratio_1c", r.group_ns / r.bare_ns, "x");
	return 0;
}

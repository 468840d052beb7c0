/* SPDX-License-Identifier: MIT */
/*
 * Stacks: reuse, guard pages, the overflow message, the mapping budget, and
 * when the pages of freed stacks go back to the kernel.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"

TestSuite(stack, .timeout = 300);

Test(stack, freed_stacks_are_reused_most_recent_first)
{
	struct weft_thread *a, *b, *c;

	cr_assert_eq(weft__stack_init(), 0);
	a = weft__stack_alloc(64 * 1024);
	b = weft__stack_alloc(64 * 1024);
	cr_assert(a && b && a != b);
	cr_assert_geq(a->stack_size, 64 * 1024);
	cr_assert(a->stack_guarded, "the first stacks have guard pages");
	weft__stack_free(a);
	weft__stack_free(b);
	c = weft__stack_alloc(40 * 1024); /* same class */
	cr_assert_eq(c, b);
	weft__stack_free(c);
	weft__stack_fini();
}

/*
 * Small stacks put their control block at one of several offsets in its
 * page, so that threads' hot lines do not all fall into the same cache
 * sets; a program's big pthread stacks keep theirs at the top.
 */
static unsigned offsets_in_page(size_t size)
{
	struct weft_thread *t[32];
	bool seen[4096] = { false };
	unsigned n = 0;

	for (int i = 0; i < 32; i++) {
		t[i] = weft__stack_alloc(size);
		cr_assert(t[i]);
		cr_assert_lt((uintptr_t)t[i] + sizeof(*t[i]),
			     (uintptr_t)t[i]->stack_lo + t[i]->stack_size + 1);
		if (!seen[(uintptr_t)t[i] % 4096])
			n++;
		seen[(uintptr_t)t[i] % 4096] = true;
	}
	for (int i = 0; i < 32; i++)
		weft__stack_free(t[i]);
	return n;
}

Test(stack, small_stacks_spread_their_control_blocks_over_the_page)
{
	cr_assert_eq(weft__stack_init(), 0);
	cr_assert_geq(offsets_in_page(64 * 1024), 8);
	cr_assert_eq(offsets_in_page((size_t)8 << 20), 1);
	weft__stack_fini();
}

Test(stack, huge_stacks_get_their_own_mapping)
{
	struct weft_thread *t;

	cr_assert_eq(weft__stack_init(), 0);
	t = weft__stack_alloc((size_t)200 << 20);
	cr_assert(t);
	cr_assert_geq(t->stack_size, (size_t)200 << 20);
	memset((char *)t->stack_lo, 1, 4096); /* the far end is usable */
	weft__stack_free(t);
	weft__stack_fini();
}

static volatile int bottomless = 1;

static int depth(int n)
{
	volatile char frame[1024];

	frame[0] = (char)n;
	if (!bottomless)
		return 0;
	return depth(n + 1) + frame[0];
}

static intptr_t overflow(void *arg)
{
	return depth(0);
}

static intptr_t spawn_overflow(void *arg)
{
	struct weft_spawn_attr a = { .name = "deep" };
	struct weft_thread *t;

	weft_thread_spawn(&t, overflow, NULL, &a);
	weft_thread_join(t, NULL);
	return 0;
}

Test(stack, overflow_ends_the_process_with_a_message)
{
	int err[2], status;
	char buf[512] = "";
	ssize_t n;
	pid_t pid;

	cr_assert_eq(pipe(err), 0);
	pid = fork();
	if (pid == 0) {
		dup2(err[1], 2);
		weft_main(spawn_overflow, NULL);
		_exit(0); /* not reached: the overflow kills us */
	}
	close(err[1]);
	n = read(err[0], buf, sizeof(buf) - 1);
	cr_assert_gt(n, 0);
	waitpid(pid, &status, 0);
	cr_assert(WIFSIGNALED(status), "status %#x", status);
	cr_assert_eq(WTERMSIG(status), SIGSEGV);
	cr_assert(strstr(buf, "weft: stack overflow in virtual thread 'deep' "
			      "(#2) with a stack of 65536 bytes\n"),
		  "got: %s", buf);
}

static struct weft_sem parked = WEFT_SEM_INIT(0);

static intptr_t park(void *arg)
{
	weft_sem_wait(&parked);
	return 0;
}

/*
 * Past the guard budget stacks come unguarded from shared slabs: the
 * number of mappings stops growing with the number of threads, which is
 * what lets a million threads live under vm.max_map_count.
 */
Test(stack, mappings_stop_growing_past_the_guard_budget)
{
	enum { N = 40000, M = 80000 };
	static struct weft_thread *t[M];
	int at_n, at_m;

	if (M > T_MAX_LIVE)
		cr_skip_test("ThreadSanitizer keeps 8128 threads at most");

	for (int i = 0; i < M; i++) {
		cr_assert_eq(weft_thread_spawn(&t[i], park, NULL, NULL), 0);
		if (i == N - 1)
			at_n = t_mappings();
	}
	at_m = t_mappings();
	cr_assert_lt(at_m, 65530 - 10000, "%d mappings", at_m);
	cr_assert_lt(at_m - at_n, 100, "%d then %d mappings", at_n, at_m);
	for (int i = 0; i < M; i++)
		weft_sem_post(&parked);
	for (int i = 0; i < M; i++)
		cr_assert_eq(weft_thread_join(t[i], NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* Is the page holding p in memory? */
static bool resident(const void *p)
{
	unsigned char v = 0;
	void *page = (void *)((uintptr_t)p & ~(uintptr_t)4095);

	cr_assert_eq(mincore(page, 4096, &v), 0);
	return v & 1;
}

enum { EXCESS = 600 };
static struct weft_thread *burst[1 << 14];
static char *page_of[1 << 14]; /* a page of each, read before it is freed */

/* Free n fresh stacks of size bytes, oldest first, a page of each used. */
static size_t burst_of(size_t size, size_t n)
{
	cr_assert_leq(n, sizeof(burst) / sizeof(burst[0]));
	for (size_t i = 0; i < n; i++) {
		burst[i] = weft__stack_alloc(size);
		cr_assert(burst[i]);
		page_of[i] = (char *)burst[i]->stack_lo + 4096;
		*(volatile char *)page_of[i] = 1;
	}
	for (size_t i = 0; i < n; i++)
		weft__stack_free(burst[i]);
	return n;
}

static size_t burst_of_ends(void)
{
	return burst_of(64 * 1024, weft__stack_keep(64 * 1024) + EXCESS);
}

static size_t nr_resident(size_t from, size_t to)
{
	size_t r = 0;

	for (size_t i = from; i < to; i++)
		r += resident(page_of[i]);
	return r;
}

/*
 * Without a monitor, the stacks past the ones kept go back at once, the
 * oldest first.
 */
Test(stack, without_a_monitor_the_excess_goes_back_as_it_is_freed)
{
	size_t n, keep = weft__stack_keep(64 * 1024);

	cr_assert_eq(weft__stack_init(), 0);
	n = burst_of_ends();
	/* Trimmed TRIM_BATCH at a time: at most a batch is left over. */
	cr_assert_lt(nr_resident(0, n - keep), 256, "%zu of the oldest %zu",
		     nr_resident(0, n - keep), n - keep);
	cr_assert_eq(nr_resident(n - keep, n), keep);
	weft__stack_fini();
}

/*
 * With one, freeing costs no system call: the monitor's looks give back
 * what stayed unused from one look to the next, and a burst of spawns in
 * between takes the stacks back committed.
 */
Test(stack, the_monitor_gives_back_what_stayed_unused_between_two_looks)
{
	const int64_t period = 100000000; /* TRIM_PERIOD_NS */
	size_t n, keep = weft__stack_keep(64 * 1024);
	int64_t now = weft__now();

	cr_assert_eq(weft__stack_init(), 0);
	weft__stack_monitor_trims(true);
	n = burst_of_ends();
	cr_assert_eq(nr_resident(0, n), n, "nothing given back on free");
	cr_assert_eq(weft__stack_trim(now), now + period,
		     "a first look only marks them: look again");
	cr_assert_eq(nr_resident(0, n), n);
	cr_assert_eq(weft__stack_trim(now + period / 2), now + period,
		     "not before the period is over");

	/* Reused in between: nothing is given back at the next look. */
	for (size_t i = 0; i < n; i++)
		cr_assert(weft__stack_alloc(64 * 1024));
	for (size_t i = 0; i < n; i++)
		weft__stack_free(burst[i]);
	weft__stack_trim(now += period);
	cr_assert_eq(nr_resident(0, n), n);

	/* Unused from that look to this one: the excess goes, oldest first. */
	cr_assert_eq(weft__stack_trim(now += period), -1, "nothing left");
	cr_assert_eq(nr_resident(0, n - keep), 0);
	cr_assert_eq(nr_resident(n - keep, n), keep);
	weft__stack_monitor_trims(false);
	weft__stack_fini();
}

/*
 * However large the burst, the carrier that frees it gives nothing back
 * while a monitor looks: 1 MiB stacks, 2,000 past the ones kept (2 GiB
 * of address space, a page of each used; TSan takes each for a thread,
 * and allows 8,128).
 */
Test(stack, with_a_monitor_no_burst_is_given_back_as_it_is_freed)
{
	size_t n, keep = weft__stack_keep(1 << 20);

	cr_assert_eq(weft__stack_init(), 0);
	weft__stack_monitor_trims(true);
	n = burst_of(1 << 20, keep + 2000);
	cr_assert_eq(nr_resident(0, n), n, "%zu of %zu given back on free",
		     n - nr_resident(0, n), n);
	weft__stack_monitor_trims(false);
	weft__stack_fini();
}

static _Atomic(char *) deep[1 << 14];
static atomic_long nr_deep;
static struct weft_sem all_spawned = WEFT_SEM_INIT(0);

static intptr_t touch_and_end(void *arg)
{
	volatile char frame[16 * 1024];

	frame[0] = 1;
	deep[atomic_fetch_add(&nr_deep, 1)] = (char *)frame;
	weft_sem_wait(&all_spawned); /* each on a stack of its own */
	return frame[0];
}

/* The real monitor does look: a burst's stacks go back on their own. */
Test(stack, the_excess_of_a_burst_goes_back_while_the_program_runs)
{
	/* 1 MiB stacks: few are kept, so few threads make an excess. */
	struct weft_spawn_attr a = { .stack_size = 1 << 20 };
	size_t n = weft__stack_keep(a.stack_size) + 2000, gone = 0;
	static struct weft_thread *t[1 << 14];

	cr_assert_leq(n, T_MAX_LIVE);
	cr_assert_leq(n, sizeof(t) / sizeof(t[0]));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], touch_and_end, NULL, &a),
			     0);
	for (size_t i = 0; i < n; i++)
		weft_sem_post(&all_spawned);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(weft_thread_join(t[i], NULL), 0);
	cr_assert_eq(nr_deep, (long)n);
	/* Some stay in the carriers' caches: 1500 of the 2000 at least. */
	for (int ms = 0; ms < 5000 && gone < 1500; ms += 10) {
		usleep(10000);
		gone = 0;
		for (size_t i = 0; i < n; i++)
			gone += !resident(deep[i]);
	}
	cr_assert_geq(gone, 1500, "%zu of %zu stacks given back", gone, n);
	cr_assert_eq(weft_shutdown(), 0);
}

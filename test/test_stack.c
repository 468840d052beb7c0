/* SPDX-License-Identifier: MIT */
/* Stacks: reuse, guard pages, the overflow message, the mapping budget. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

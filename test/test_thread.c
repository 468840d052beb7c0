/* SPDX-License-Identifier: MIT */
/* Spawn, join, detach, weft_main and the runtime's lazy start. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"

TestSuite(thread, .timeout = 120);

static intptr_t identity(void *arg)
{
	return (intptr_t)arg;
}

Test(thread, join_returns_the_value)
{
	static int object;
	intptr_t values[] = { 0,     1,	 42,   INTPTR_MAX,
			      -4096, -1, -EIO, (intptr_t)&object };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		cr_assert_eq(t_run(identity, (void *)values[i]), values[i]);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int ran;

static intptr_t count_one(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return (intptr_t)arg * 2;
}

static intptr_t spawn_many(void *arg)
{
	int n = (int)(intptr_t)arg;
	struct weft_thread **t = calloc(n, sizeof(*t));
	intptr_t v;

	for (int i = 0; i < n; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], count_one,
					       (void *)(intptr_t)i, NULL),
			     0);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(weft_thread_join(t[i], &v), 0);
		cr_assert_eq(v, 2 * i);
	}
	free(t);
	return n;
}

Test(thread, ten_thousand_from_a_virtual_thread)
{
	enum { N = T_MIN(10000, T_MAX_LIVE) };

	cr_assert_eq(t_run(spawn_many, (void *)N), N);
	cr_assert_eq(atomic_load(&ran), N);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(thread, spawned_and_joined_from_a_plain_thread)
{
	cr_assert_eq(spawn_many((void *)2000), 2000);
	cr_assert_eq(atomic_load(&ran), 2000);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A thread that ends switches straight to the next one when it can, and
 * that one finalises it (sched.c): every ended thread must still be
 * counted out and its stack freed, joined or detached, and the live count
 * stays exact though a carrier settles it only before it sleeps.
 */
static intptr_t nop(void *arg)
{
	return (intptr_t)arg;
}

static intptr_t chains_of_ends(void *arg)
{
	struct weft_spawn_attr detached = { .flags = WEFT_SPAWN_DETACHED };
	struct weft_thread *t[64];
	size_t made, pooled;
	intptr_t v;

	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 64; i++)
			cr_assert_eq(weft_thread_spawn(&t[i], nop,
						       (void *)(intptr_t)i,
						       NULL),
				     0);
		for (int i = 0; i < 64; i++)
			cr_assert_eq(weft_thread_spawn(NULL, nop, NULL,
						       &detached),
				     0);
		for (int i = 0; i < 64; i++) {
			cr_assert_eq(weft_thread_join(t[i], &v), 0);
			cr_assert_eq(v, i);
		}
		/* The joined ones are gone now, without a yield. */
		cr_assert_leq(t_live(), 1u + 64u);
	}
	while (t_live() > 1)
		weft_yield();
	weft__stack_counts(&made, &pooled);
	cr_assert_eq(made - pooled, 1, "%zu stacks in use, not 1",
		     made - pooled);
	return 0;
}

Test(thread, ended_threads_are_finalised_by_the_next_to_run)
{
	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(t_run(chains_of_ends, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	unsetenv("WEFT_CARRIERS");
}

static intptr_t joined_at_once(void *arg)
{
	struct weft_thread *t[100];

	for (int i = 0; i < 100; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], nop, NULL, NULL), 0);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(weft_thread_join(t[i], NULL), 0);
	return t_live();
}

Test(thread, the_live_count_is_exact_while_the_carrier_is_busy)
{
	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(t_run(joined_at_once, NULL), 1);
	cr_assert_eq(weft_shutdown(), 0);
	unsetenv("WEFT_CARRIERS");
}

/*
 * A thread that ends with nothing else to run wakes its joiner, parked on
 * the same carrier, and switches to it (sched.c): the joiner must get the
 * value and free the stack exactly once, also when an interrupt from
 * another kernel thread races the end for the joiner's waiter.
 */
static atomic_bool stop_interrupts;
static _Atomic(struct weft_thread *) joiner;

static void *interrupter(void *arg)
{
	struct weft_thread *j;

	/* Now and then, so that most joins still see the end first. */
	while (!atomic_load(&stop_interrupts)) {
		if ((j = atomic_load(&joiner)))
			weft_thread_interrupt(j);
		for (int i = 0; i < 20000; i++)
			__asm__ volatile("" ::: "memory");
	}
	return arg;
}

static int *joiner_errno;
static atomic_long elsewhere;

static intptr_t maybe_yield(void *arg)
{
	if (&errno != joiner_errno)
		atomic_fetch_add(&elsewhere, 1);
	if ((intptr_t)arg % 3 == 0)
		weft_yield();
	return (intptr_t)arg;
}

/* Holds its carrier a while, for the other to take the next new thread. */
static intptr_t spin_a_little(void *arg)
{
	for (int i = 0; i < 200000; i++) /* some 50 us */
		__asm__ volatile("" ::: "memory");
	return (intptr_t)arg;
}

static intptr_t joins_one_at_a_time(void *arg)
{
	bool two = arg;
	struct weft_thread *spinner = NULL;
	long interrupted = 0;
	size_t made, pooled;
	struct weft_thread *t;
	intptr_t v;
	int r;

	atomic_store(&joiner, weft_thread_self());
	for (intptr_t i = 0; i < (two ? 5000 : 100000); i++) {
		int *e = &errno; /* a thread that has run stays put */

		joiner_errno = e;
		if (two)
			cr_assert_eq(weft_thread_spawn(&spinner, spin_a_little,
						       NULL, NULL),
				     0);
		cr_assert_eq(
			weft_thread_spawn(&t, maybe_yield, (void *)i, NULL), 0);
		while ((r = weft_thread_join(t, &v)) == -EINTR)
			interrupted++;
		cr_assert_eq(r, 0);
		cr_assert_eq(v, i);
		cr_assert_eq(e, &errno, "the joiner moved carrier");
		if (spinner) {
			while ((r = weft_thread_join(spinner, NULL)) == -EINTR)
				interrupted++;
			cr_assert_eq(r, 0);
			cr_assert_eq(e, &errno, "the joiner moved carrier");
		}
	}
	atomic_store(&joiner, NULL);
	weft__stack_counts(&made, &pooled);
	cr_assert_eq(made - pooled, 1, "%zu stacks in use, not 1",
		     made - pooled);
	cr_log_info("%ld joins interrupted, %ld children ran elsewhere",
		    interrupted, atomic_load(&elsewhere));
	return t_live();
}

/* On one carrier with interrupts racing the ends; on two without. */
static void joins_on(const char *carriers)
{
	bool two = carriers[0] == '2';
	pthread_t p;

	setenv("WEFT_CARRIERS", carriers, 1);
	/* A kernel thread spinning on one of two CPUs would keep the
	 * second carrier from taking the children. */
	if (!two)
		cr_assert_eq(pthread_create(&p, NULL, interrupter, NULL), 0);
	cr_assert_eq(t_run(joins_one_at_a_time, (void *)(intptr_t)two), 1);
	if (two) {
		/* valgrind runs one kernel thread at a time: perhaps none */
		if (!getenv("WEFT_UNDER_VALGRIND"))
			cr_assert_gt(atomic_load(&elsewhere), 0,
				     "no child ran on the other carrier");
	} else {
		atomic_store(&stop_interrupts, true);
		pthread_join(p, NULL);
	}
	cr_assert_eq(weft_shutdown(), 0);
	unsetenv("WEFT_CARRIERS");
}

Test(thread, a_joiner_runs_straight_after_its_child_ends)
{
	joins_on("1");
}

/*
 * A child that ends on the other carrier, which took it while a spinner
 * held the joiner's, leaves the joiner where it waits.
 */
Test(thread, a_joiner_elsewhere_is_woken_where_it_waits)
{
	joins_on("2");
}

static struct weft_sem gate = WEFT_SEM_INIT(0);

static intptr_t wait_gate(void *arg)
{
	weft_sem_wait(&gate);
	atomic_fetch_add(&ran, 1);
	return 0;
}

Test(thread, detached_threads_run_and_free_themselves)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };
	struct weft_thread *t;

	for (int i = 0; i < 1000; i++)
		cr_assert_eq(weft_thread_spawn(NULL, wait_gate, NULL, &a), 0);
	cr_assert_eq(weft_thread_spawn(&t, wait_gate, NULL, NULL), 0);
	cr_assert_eq(weft_thread_detach(t), 0);
	for (int i = 0; i < 1001; i++)
		weft_sem_post(&gate);
	/* weft_shutdown waits for every thread, detached ones too. */
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(atomic_load(&ran), 1001);
}

Test(thread, join_of_a_detached_thread_is_refused)
{
	struct weft_thread *t;

	cr_assert_eq(weft_thread_spawn(&t, wait_gate, NULL, NULL), 0);
	cr_assert_eq(weft_thread_detach(t), 0);
	cr_assert_eq(weft_thread_join(t, NULL), -EINVAL);
	cr_assert_eq(weft_thread_detach(t), -EINVAL);
	weft_sem_post(&gate);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t join_self(void *arg)
{
	return weft_thread_join(weft_thread_self(), NULL);
}

Test(thread, bad_arguments)
{
	struct weft_thread *t;
	struct weft_spawn_attr tiny = { .stack_size = 1000 };
	struct weft_spawn_attr flags = { .flags = 0x100 };

	cr_assert_eq(weft_thread_spawn(&t, NULL, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_thread_spawn(NULL, identity, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_thread_spawn(&t, identity, NULL, &tiny), -EINVAL);
	cr_assert_eq(weft_thread_spawn(&t, identity, NULL, &flags), -EINVAL);
	cr_assert_eq(weft_thread_join(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_thread_detach(NULL), -EINVAL);
	cr_assert_eq(t_run(join_self, NULL), -EDEADLK);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t who(void *arg)
{
	struct weft_thread **ret = arg;

	*ret = weft_thread_self();
	return weft_carrier_index();
}

Test(thread, self_and_ids)
{
	struct weft_thread *t, *seen = NULL;
	uint64_t last = 0;

	cr_assert_null(weft_thread_self());
	cr_assert_eq(weft_carrier_index(), -1);
	for (int i = 0; i < 100; i++) {
		intptr_t v;

		cr_assert_eq(weft_thread_spawn(&t, who, &seen, NULL), 0);
		cr_assert_gt(weft_thread_id(t), last);
		last = weft_thread_id(t);
		cr_assert_eq(weft_thread_join(t, &v), 0);
		cr_assert_eq(seen, t);
		cr_assert(v >= 0 && v < weft_carrier_count());
	}
	cr_assert_eq(weft_thread_id(NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t main_body(void *arg)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };

	cr_assert_eq(weft_carrier_index(), 0);
	/* weft_main waits for these too before it returns. */
	for (int i = 0; i < 100; i++)
		weft_thread_spawn(NULL, count_one, NULL, &a);
	return (intptr_t)arg + 1;
}

Test(thread, weft_main_runs_a_program_and_stops)
{
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(weft_main(main_body, (void *)(intptr_t)i), i + 1);
		cr_assert_eq(weft_carrier_count(), 0);
		cr_assert_eq(atomic_load(&ran), 100 * (i + 1));
	}
	cr_assert_eq(weft_main(NULL, NULL), -EINVAL);
}

/*
 * The live count is kept per carrier (lib/thread.c): weft_main must still
 * return when the last thread ends and not before, with threads spawned,
 * stolen, joined and ended on every carrier, in batches and detached.
 */
#define CHURN_ROUNDS (WEFT_TSAN ? 10 : 500) /* TSan: 100 times slower */
#define CHURN_BATCH 64
#define BRANCHES 100
#define LEAVES 8
static atomic_int leaves_done;

static intptr_t leaf(void *arg)
{
	if (arg)
		weft_yield();
	atomic_fetch_add(&leaves_done, 1);
	return 0;
}

static intptr_t branch(void *arg)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };

	for (int i = 0; i < LEAVES; i++)
		cr_assert_eq(weft_thread_spawn(NULL, leaf, arg, &a), 0);
	return 0;
}

static intptr_t churn(void *arg)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };
	struct weft_thread *t[CHURN_BATCH];

	for (int r = 0; r < CHURN_ROUNDS; r++) {
		for (int i = 0; i < CHURN_BATCH; i++)
			cr_assert_eq(weft_thread_spawn(
					     &t[i], leaf,
					     (void *)(intptr_t)(i & 1), NULL),
				     0);
		for (int i = 0; i < CHURN_BATCH; i++)
			cr_assert_eq(weft_thread_join(t[i], NULL), 0);
	}
	for (int i = 0; i < BRANCHES; i++)
		cr_assert_eq(weft_thread_spawn(NULL, branch,
					       (void *)(intptr_t)(i & 1), &a),
			     0);
	return 7;
}

Test(thread, weft_main_waits_for_every_thread_on_every_carrier)
{
	for (int k = 0; k < 10; k++) {
		setenv("WEFT_CARRIERS", k & 1 ? "4" : "2", 1);
		atomic_store(&leaves_done, 0);
		cr_assert_eq(weft_main(churn, NULL), 7);
		cr_assert_eq(atomic_load(&leaves_done),
			     CHURN_ROUNDS * CHURN_BATCH + BRANCHES * LEAVES);
		cr_assert_eq(weft_carrier_count(), 0);
	}
}

Test(thread, weft_main_on_a_running_runtime)
{
	cr_assert_eq(t_run(identity, (void *)1), 1);
	cr_assert_eq(weft_main(identity, (void *)9), 9);
	cr_assert_gt(weft_carrier_count(), 0);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(weft_carrier_count(), 0);
}

static intptr_t spin_a_while(void *arg)
{
	int64_t end = weft_now() + 2 * T_MS;
	atomic_int *seen = arg;

	atomic_fetch_or(seen, 1 << weft_carrier_index());
	while (weft_now() < end)
		;
	return 0;
}

Test(thread, new_threads_spread_over_every_carrier)
{
	atomic_int seen = 0;
	struct weft_thread *t[200];

	if (getenv("WEFT_UNDER_VALGRIND"))
		cr_skip_test("valgrind runs one kernel thread at a time");
	setenv("WEFT_CARRIERS", "2", 1);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(
			weft_thread_spawn(&t[i], spin_a_while, &seen, NULL), 0);
	for (int i = 0; i < 200; i++)
		weft_thread_join(t[i], NULL);
	cr_assert_eq(weft_carrier_count(), 2);
	cr_assert_eq(atomic_load(&seen), 3, "carriers used: %#x",
		     atomic_load(&seen));
	cr_assert_eq(weft_shutdown(), 0);
}

Test(thread, carriers_from_the_environment)
{
	setenv("WEFT_CARRIERS", "3", 1);
	cr_assert_eq(t_run(identity, NULL), 0);
	cr_assert_eq(weft_carrier_count(), 3);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(thread, garbage_in_weft_carriers, .init = cr_redirect_stderr)
{
	const char *bad[] = { "two", "0", "-1", "2x", "99999999999" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("WEFT_CARRIERS", bad[i], 1);
		cr_assert_eq(t_run(identity, NULL), -EINVAL, "%s", bad[i]);
		cr_assert_eq(weft_carrier_count(), 0);
	}
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"weft: WEFT_CARRIERS=\"two\" is not a number from 1 to 1024\n"
		"weft: WEFT_CARRIERS=\"0\" is not a number from 1 to 1024\n"
		"weft: WEFT_CARRIERS=\"-1\" is not a number from 1 to 1024\n"
		"weft: WEFT_CARRIERS=\"2x\" is not a number from 1 to 1024\n"
		"weft: WEFT_CARRIERS=\"99999999999\" is not a number from 1 "
		"to 1024\n");
}

static atomic_int turns[2], arrived;

static intptr_t yielder(void *arg)
{
	int me = (int)(intptr_t)arg;

	atomic_fetch_add(&arrived, 1);
	while (atomic_load(&arrived) < 2)
		weft_yield();
	for (int i = 0; i < 10000; i++) {
		atomic_fetch_add(&turns[me], 1);
		/* Neither runs ahead: yield hands the carrier over. */
		cr_assert_leq(
			abs(atomic_load(&turns[0]) - atomic_load(&turns[1])),
			2);
		weft_yield();
	}
	return 0;
}

Test(thread, yield_alternates_on_one_carrier)
{
	struct weft_thread *a, *b;

	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(weft_thread_spawn(&a, yielder, (void *)0, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&b, yielder, (void *)1, NULL), 0);
	weft_thread_join(a, NULL);
	weft_thread_join(b, NULL);
	cr_assert_eq(atomic_load(&turns[0]) + atomic_load(&turns[1]), 20000);
	cr_assert_eq(weft_yield(), 0); /* a plain thread: sched_yield */
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t shutdown_inside(void *arg)
{
	return weft_shutdown();
}

Test(thread, shutdown_from_a_virtual_thread_is_refused)
{
	cr_assert_eq(t_run(shutdown_inside, NULL), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(weft_shutdown(), 0); /* stopped already: nothing to do */
}

static intptr_t big_stack(void *arg)
{
	size_t n = (size_t)arg;
	volatile char *p = __builtin_alloca(n);

	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	return n;
}

Test(thread, stack_size_is_honoured)
{
	struct weft_spawn_attr a = { .stack_size = 8 << 20 };
	struct weft_thread *t;
	intptr_t v;

	cr_assert_eq(weft_thread_spawn(&t, big_stack, (void *)(7 << 20), &a),
		     0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 7 << 20);
	/* The default stack holds its size less a control block and frames. */
	cr_assert_eq(t_run(big_stack, (void *)(48 << 10)), 48 << 10);
	cr_assert_eq(weft_shutdown(), 0);
}

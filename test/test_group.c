/* SPDX-License-Identifier: MIT */
/* Thread groups: joins, policies, limits, futures, nesting, misuse. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"

TestSuite(group, .timeout = 120);

static atomic_int ran, inside, peak;

static intptr_t count(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return (intptr_t)arg;
}

/* Blocks for a long time: only a cancellation ends it early. */
static intptr_t sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 30 * T_SEC);
}

static intptr_t fail_with(void *arg)
{
	return (intptr_t)arg;
}

static intptr_t body_all_join(void *arg)
{
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < 1000; i++)
			cr_assert_eq(weft_spawn(&g, count, NULL), 0);
	}
	cr_assert_eq(atomic_load(&ran), 1000, "the block's end joins");
	return weft_group_result(&g);
}

Test(group, reaching_the_end_joins_every_member)
{
	cr_assert_eq(t_run(body_all_join, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_fail_fast(void *arg)
{
	struct weft_group g;
	int64_t t0 = weft_now();

	weft_group(&g)
	{
		for (int i = 0; i < 100; i++)
			weft_spawn(&g, sleeper, NULL);
		weft_spawn(&g, fail_with, (void *)(intptr_t)-EIO);
		/* The owner's own body is cancelled too. */
		cr_assert_eq(weft_sleep_until(weft_now() + 30 * T_SEC),
			     -ECANCELED);
		cr_assert_eq(weft_spawn(&g, count, NULL), -ECANCELED);
	}
	cr_assert_eq(atomic_load(&ran), 0, "a refused spawn created a thread");
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	cr_assert_eq(weft_group_failures(&g), 1);
	cr_assert_eq(weft_group_failure(&g, 0, NULL), -EIO);
	weft_group_fini(&g);
	return weft_group_result(&g);
}

Test(group, fail_fast_cancels_the_rest_and_the_owner)
{
	cr_assert_eq(t_run(body_fail_fast, NULL), -EIO);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_supervise(void *arg)
{
	struct weft_group g;
	struct weft_group_opts o = { .policy = WEFT_SUPERVISE };
	uint64_t id;

	cr_assert_eq(weft_group_open(&g, &o), 0);
	for (int i = 0; i < 50; i++)
		weft_spawn(&g, fail_with,
			   (void *)(intptr_t)(i % 10 == 3 ? -EIO : i));
	cr_assert_eq(weft_group_join(&g), -EIO);
	cr_assert_eq(weft_group_failures(&g), 5, "every failure is kept");
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(weft_group_failure(&g, i, &id), -EIO);
		cr_assert_gt(id, 0);
	}
	cr_assert_eq(weft_group_failure(&g, 5, NULL), -EINVAL);
	weft_group_fini(&g);
	return 0;
}

Test(group, supervise_waits_for_all_and_lists_every_failure)
{
	cr_assert_eq(t_run(body_supervise, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_first_success(void *arg)
{
	struct weft_group g;
	int64_t t0 = weft_now();

	weft_group(&g, .policy = WEFT_FIRST_SUCCESS)
	{
		for (int i = 0; i < 20; i++)
			weft_spawn(&g, sleeper, NULL);
		weft_spawn(&g, count, (void *)7);
	}
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	return weft_group_result(&g);
}

Test(group, first_success_cancels_the_rest)
{
	cr_assert_eq(t_run(body_first_success, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int ended;

static intptr_t counted_sleeper(void *arg)
{
	intptr_t r = sleeper(arg);

	atomic_fetch_add(&ended, 1);
	return r;
}

static int leave_early(int how)
{
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < 10; i++)
			weft_spawn(&g, counted_sleeper, NULL);
		if (how == 0)
			break;
		if (how == 1)
			return 1;
		goto out;
	}
out:
	return 2;
}

static intptr_t body_early(void *arg)
{
	int64_t t0 = weft_now();

	cr_assert_eq(leave_early(0), 2);
	cr_assert_eq(atomic_load(&ended), 10, "joined before it returned");
	cr_assert_eq(leave_early(1), 1);
	cr_assert_eq(atomic_load(&ended), 20);
	cr_assert_eq(leave_early(2), 2);
	cr_assert_eq(atomic_load(&ended), 30);
	/* each left early: cancelled and joined, not waited out */
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	return 0;
}

Test(group, leaving_the_block_early_cancels_and_joins)
{
	cr_assert_eq(t_run(body_early, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_deadline(void *arg)
{
	struct weft_group g;
	int64_t t0 = weft_now();

	weft_group(&g, .deadline = weft_now() + 50 * T_MS)
	{
		for (int i = 0; i < 100; i++)
			weft_spawn(&g, sleeper, NULL);
	}
	cr_assert_geq(weft_now() - t0, 50 * T_MS);
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	cr_assert_eq(weft_group_failures(&g), 0, "timed out is not failed");
	return weft_group_result(&g);
}

Test(group, a_deadline_fires_while_members_are_blocked)
{
	cr_assert_eq(t_run(body_deadline, NULL), -ETIMEDOUT);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_owner_cancel(void *arg)
{
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < 10; i++)
			weft_spawn(&g, sleeper, NULL);
		weft_group_cancel(&g);
	}
	return weft_group_result(&g);
}

Test(group, cancelled_by_its_owner_joins_with_0)
{
	cr_assert_eq(t_run(body_owner_cancel, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int limited_done;

static intptr_t limited(void *arg)
{
	int n = atomic_fetch_add(&inside, 1) + 1, p = atomic_load(&peak);
	int64_t give_up = weft_now() + 2000 * T_MS;

	while (n > p && !atomic_compare_exchange_weak(&peak, &p, n))
		;
	/*
	 * Stay until the group has been full once, so that the limit is
	 * reached however slowly the spawner goes (ThreadSanitizer), and
	 * the spawns after it must wait.
	 */
	do
		weft_sleep_until(weft_now() + 100000);
	while (atomic_load(&peak) < 8 && weft_now() < give_up);
	atomic_fetch_sub(&inside, 1);
	atomic_fetch_add(&limited_done, 1);
	return 0;
}

static intptr_t body_limit(void *arg)
{
	struct weft_group g;

	weft_group(&g, .max_concurrency = 8)
	{
		for (int i = 0; i < 2000; i++)
			cr_assert_eq(weft_spawn(&g, limited, NULL), 0);
		/*
		 * Once the last of them has ended, eight sleepers fill the
		 * group; full, the try variant refuses instead of waiting.
		 * (Not before: a slot freed between the tries let the last
		 * one in, under ThreadSanitizer's slowness.)
		 */
		while (atomic_load(&limited_done) < 2000)
			weft_sleep_until(weft_now() + 1000000);
		for (int i = 0; i < 8; i++)
			cr_assert_eq(weft_try_spawn(&g, sleeper, NULL), 0);
		cr_assert_eq(weft_try_spawn(&g, count, NULL), -EAGAIN);
		weft_group_cancel(&g);
	}
	cr_assert_eq(atomic_load(&peak), 8, "peak %d", atomic_load(&peak));
	return weft_group_result(&g);
}

Test(group, max_concurrency_makes_spawn_wait)
{
	setenv("WEFT_CARRIERS", "2", 1);
	cr_assert_eq(t_run(body_limit, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_futures(void *arg)
{
	static int object;
	struct weft_future *f[3];
	struct weft_group g;
	intptr_t v;

	weft_group(&g, .policy = WEFT_SUPERVISE)
	{
		weft_spawn_future(&g, count, &object, &f[0]);
		weft_spawn_future(&g, fail_with, (void *)(intptr_t)-ENOENT,
				  &f[1]);
		weft_spawn_future(&g, count, (void *)42, &f[2]);
	}
	/* after the join, until released */
	cr_assert_eq(weft_future_wait(f[0], &v), 0);
	cr_assert_eq((void *)v, &object);
	cr_assert_eq(weft_future_wait(f[1], &v), -ENOENT);
	cr_assert_eq(weft_future_wait(f[2], &v), 0);
	cr_assert_eq(v, 42);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_future_release(f[i]), 0);
	weft_group_fini(&g);
	return weft_group_result(&g);
}

Test(group, futures_are_readable_after_the_join)
{
	cr_assert_eq(t_run(body_futures, NULL), -ENOENT);
	cr_assert_eq(weft_shutdown(), 0);
}

/* Four levels of groups; a failure at the bottom reaches the top. */
static intptr_t level(void *arg)
{
	intptr_t depth = (intptr_t)arg;
	struct weft_group g;

	if (depth == 4)
		return -EPROTO;
	weft_group(&g)
	{
		for (int i = 0; i < 3; i++)
			weft_spawn(&g, sleeper, NULL);
		weft_spawn(&g, level, (void *)(depth + 1));
	}
	return weft_group_result(&g);
}

Test(group, nested_four_deep_with_a_failure_at_the_bottom)
{
	int64_t t0 = weft_now();

	cr_assert_eq(t_run(level, (void *)0), -EPROTO);
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int inner_result = 1;

static intptr_t nested_owner(void *arg)
{
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < 5; i++)
			weft_spawn(&g, sleeper, NULL);
	}
	atomic_store(&inner_result, weft_group_result(&g));
	return 0;
}

/* Cancelling a group reaches the groups its members opened. */
static intptr_t body_transitive(void *arg)
{
	struct weft_group g;
	int64_t t0 = weft_now();

	weft_group(&g)
	{
		weft_spawn(&g, nested_owner, NULL);
		weft_sleep_until(weft_now() + 20 * T_MS);
		weft_group_cancel(&g);
	}
	cr_assert_eq(atomic_load(&inner_result), -ECANCELED);
	cr_assert_lt(weft_now() - t0, 5 * T_SEC);
	return weft_group_result(&g);
}

Test(group, cancellation_reaches_nested_groups)
{
	cr_assert_eq(t_run(body_transitive, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static struct weft_group shared;

static intptr_t join_not_mine(void *arg)
{
	return weft_group_join(&shared);
}

static intptr_t body_misuse(void *arg)
{
	struct weft_group a, b;

	cr_assert_eq(weft_group_open(&shared, NULL), 0);
	cr_assert_eq(t_run(join_not_mine, NULL), -EINVAL, "non-owner join");
	cr_assert_eq(weft_group_join(&shared), 0);
	cr_assert_eq(weft_spawn(&shared, count, NULL), -EINVAL, "joined");
	cr_assert_eq(weft_group_join(&shared), -EINVAL, "joined twice");

	cr_assert_eq(weft_group_open(&a, NULL), 0);
	cr_assert_eq(weft_group_open(&b, NULL), 0);
	cr_assert_eq(weft_group_join(&a), -EINVAL, "misnested");
	cr_assert_eq(weft_group_join(&b), 0);
	cr_assert_eq(weft_group_join(&a), 0);
	cr_assert_eq(weft_group_open(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_group_open(&a,
				     &(struct weft_group_opts){ .policy = 9 }),
		     -EINVAL);
	cr_assert_eq(weft_spawn(&a, NULL, NULL), -EINVAL);
	return 0;
}

Test(group, misuse_is_refused)
{
	cr_assert_eq(t_run(body_misuse, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(group, plain_threads_own_groups_too)
{
	cr_assert_eq(body_fail_fast(NULL), -EIO);
	cr_assert_eq(body_all_join(NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int ended;

static intptr_t sleeper_counted(void *arg)
{
	intptr_t r = weft_sleep_until(weft_now() + 30 * T_SEC);

	atomic_fetch_add(&ended, 1);
	return r;
}

/*
 * The enclosing scope is cancelled and every member has ended before the
 * owner comes to join: the join still says -ECANCELED, as it does when
 * the owner was already waiting.
 */
static intptr_t body_outer_before_join(void *arg)
{
	struct weft_cancel_scope s;
	struct weft_group g;
	int r;

	atomic_store(&ended, 0);
	cr_assert_eq(weft_cancel_scope_enter(&s, -1, 0), 0);
	cr_assert_eq(weft_group_open(&g, NULL), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_spawn(&g, sleeper_counted, NULL), 0);
	for (int i = 0; i < 100; i++) /* let them park first */
		weft_yield();
	weft_cancel_scope_cancel(&s);
	while (atomic_load(&ended) < 10)
		weft_yield();
	r = weft_group_join(&g);
	weft_cancel_scope_leave(&s);
	return r;
}

Test(group, an_enclosing_cancel_counts_when_all_ended_before_the_join)
{
	cr_assert_eq(t_run(body_outer_before_join, NULL), -ECANCELED);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * Members that ended wait for their group's owner to reap their stacks
 * (lib/group.c), at the join or at a spawn: a long-lived group that
 * spawns one member after another holds only a few of them at a time.
 */
static atomic_long nr_quick;

static intptr_t quick(void *arg)
{
	atomic_fetch_add(&nr_quick, 1);
	return 0;
}

static intptr_t body_long_lived(void *arg)
{
	enum { N = 100000 };
	size_t made, pooled, most = 0;
	struct weft_group g;

	weft_group(&g)
	{
		for (long i = 0; i < N; i++) {
			cr_assert_eq(weft_spawn(&g, quick, NULL), 0);
			/* One at a time: each has ended before the next. */
			while (atomic_load(&nr_quick) <= i)
				weft_yield();
			if (i % 1000 == 999) {
				weft__stack_counts(&made, &pooled);
				if (made - pooled > most)
					most = made - pooled;
			}
		}
	}
	/* The reaps every 64 spawns, a carrier's batch, the threads here. */
	cr_assert_lt(most, 1000, "%zu stacks held by %d threads", most, N);
	return weft_group_result(&g);
}

Test(group, a_long_lived_group_gives_ended_members_stacks_back)
{
	cr_assert_eq(t_run(body_long_lived, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A carrier holds the members that ended on it for one hand-over, but
 * not while it runs a thread of another group: a spinner that the last
 * member started does not delay the join.  One carrier, so the spinner
 * runs there right after the member ends; the owner is a plain thread.
 */
static atomic_int spin_until, spin_ended;

static intptr_t spin(void *arg)
{
	int64_t end = weft_now() + 5 * T_SEC; /* then the join, were it held */

	while (!atomic_load(&spin_until) && weft_now() < end)
		;
	atomic_store(&spin_ended, 1);
	return 0;
}

static intptr_t starts_a_spinner(void *arg)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };
	struct weft_thread *t;

	cr_assert_eq(weft_thread_spawn(&t, spin, NULL, &a), 0);
	return 0;
}

Test(group, a_thread_of_another_group_does_not_delay_the_join)
{
	struct weft_group g;
	int spinner_ended;

	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(weft_group_open(&g, NULL), 0);
	cr_assert_eq(weft_spawn(&g, starts_a_spinner, NULL), 0);
	cr_assert_eq(weft_group_join(&g), 0);
	spinner_ended = atomic_load(&spin_ended);
	atomic_store(&spin_until, 1);
	weft_group_fini(&g);
	cr_assert_eq(spinner_ended, 0,
		     "the join waited for another group's spinner");
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/* Sleeping until a deadline: order, accuracy, many at once, plain threads. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"

TestSuite(timer, .timeout = 120);

/*
 * Lateness is measured by bench/sleepers, not here: on a small shared
 * machine a test can only hold that a sleep never ends early, and ends.
 */

static intptr_t sleep_for(void *arg)
{
	int64_t deadline = weft_now() + (int64_t)(intptr_t)arg;

	if (weft_sleep_until(deadline) < 0)
		return -1;
	return weft_now() - deadline;
}

Test(timer, wakes_after_the_deadline)
{
	for (int i = 0; i < 20; i++) {
		intptr_t late = t_run(sleep_for, (void *)(intptr_t)(5 * T_MS));

		cr_assert_geq(late, 0);
	}
	cr_assert_eq(weft_shutdown(), 0);
}

Test(timer, plain_threads_sleep_too)
{
	intptr_t late = sleep_for((void *)(intptr_t)(5 * T_MS));

	cr_assert_geq(late, 0);
}

static intptr_t bad_deadline(void *arg)
{
	return weft_sleep_until(-1);
}

Test(timer, past_and_invalid_deadlines)
{
	/* a second in the past: returns at once, a second "late" */
	cr_assert_geq(t_run(sleep_for, (void *)(intptr_t)(-T_SEC)), T_SEC);
	cr_assert_eq(t_run(bad_deadline, NULL), -EINVAL);
	cr_assert_eq(bad_deadline(NULL), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
}

#define ORDERED 300
static atomic_int order[ORDERED], next_slot;

struct sleeper {
	int64_t deadline;
	int index;
};

static intptr_t sleep_then_record(void *arg)
{
	struct sleeper *s = arg;

	weft_sleep_until(s->deadline);
	order[atomic_fetch_add(&next_slot, 1)] = s->index;
	return 0;
}

/* On one carrier, deadlines fire strictly in order, whatever the spawn order.
 */
Test(timer, deadlines_fire_in_order)
{
	struct sleeper s[ORDERED];
	struct weft_thread *t[ORDERED];
	int64_t base;

	setenv("WEFT_CARRIERS", "1", 1);
	base = weft_now() + 50 * T_MS * T_SLOW;
	for (int i = 0; i < ORDERED; i++) {
		/* a permutation of 0..ORDERED-1, 200 us apart */
		int k = (i * 7919) % ORDERED;

		s[i] = (struct sleeper){ base + k * 200000LL, k };
		cr_assert_eq(weft_thread_spawn(&t[i], sleep_then_record, &s[i],
					       NULL),
			     0);
	}
	for (int i = 0; i < ORDERED; i++)
		weft_thread_join(t[i], NULL);
	for (int i = 0; i < ORDERED; i++)
		cr_assert_eq(order[i], i, "slot %d woke %d", i, order[i]);
	cr_assert_eq(weft_shutdown(), 0);
}

#define MANY T_MIN(20000, T_MAX_LIVE)

static intptr_t many(void *arg)
{
	struct weft_thread **t = calloc(MANY, sizeof(*t));
	int64_t deadline = weft_now() + 200 * T_MS, worst = 0;

	for (int i = 0; i < MANY; i++)
		weft_thread_spawn(&t[i], sleep_for,
				  (void *)(intptr_t)(deadline - weft_now()),
				  NULL);
	for (int i = 0; i < MANY; i++) {
		intptr_t late;

		cr_assert_eq(weft_thread_join(t[i], &late), 0);
		cr_assert_geq(late, 0);
		if (late > worst)
			worst = late;
	}
	free(t);
	return worst;
}

Test(timer, twenty_thousand_sleepers_at_once)
{
	intptr_t worst = t_run(many, NULL);

	cr_assert_geq(worst, 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/* Context values: inherited as a snapshot at spawn, never leaking upward. */
#include <criterion/criterion.h>

#include "helpers.h"

TestSuite(context, .timeout = 60);

static int key_a, key_b; /* keys are addresses */

#define V(n) ((void *)(intptr_t)(n))

static intptr_t grandchild(void *arg)
{
	/* readable from any depth */
	cr_assert_eq(weft_context_get(&key_a), V(2));
	cr_assert_eq(weft_context_get(&key_b), V(3));
	return 0;
}

static intptr_t child(void *arg)
{
	struct weft_group g;

	cr_assert_eq(weft_context_get(&key_a), V(1), "inherited");
	cr_assert_null(weft_context_get(&key_b));
	cr_assert_eq(weft_context_set(&key_a, V(2)), 0);
	cr_assert_eq(weft_context_set(&key_b, V(3)), 0);
	weft_group(&g)
	{
		weft_spawn(&g, grandchild, NULL);
	}
	return weft_group_result(&g);
}

static intptr_t parent(void *arg)
{
	struct weft_thread *t;
	intptr_t v;

	cr_assert_null(weft_context_get(&key_a));
	cr_assert_eq(weft_context_set(&key_a, V(1)), 0);
	cr_assert_eq(weft_thread_spawn(&t, child, NULL, NULL), 0);
	/* a snapshot: what the parent sets now, the child never sees */
	cr_assert_eq(weft_context_set(&key_a, V(5)), 0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 0);
	/* and the child's values never leak upward */
	cr_assert_eq(weft_context_get(&key_a), V(5));
	cr_assert_null(weft_context_get(&key_b));
	return 0;
}

/* parent sets a = 1, then 5 after the spawn; child sees 1 and sets
 * a = 2, b = 3, which its own child sees and the parent never does. */
Test(context, inherited_at_spawn_never_upward)
{
	cr_assert_eq(t_run(parent, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(context, plain_threads_have_a_context_too)
{
	cr_assert_eq(parent(NULL), 0);
	cr_assert_eq(weft_context_set(NULL, V(1)), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t churn(void *arg)
{
	for (int i = 0; i < 100; i++)
		weft_context_set(&key_b, V(i));
	return weft_context_get(&key_b) == V(99) ? 0 : -1;
}

/* Many threads setting and dropping values: nothing leaks (LSan). */
Test(context, thousands_of_threads_share_and_drop_snapshots)
{
	struct weft_group g;

	weft_context_set(&key_a, V(7));
	weft_group(&g)
	{
		for (int i = 0; i < 2000; i++)
			weft_spawn(&g, churn, NULL);
	}
	cr_assert_eq(weft_group_result(&g), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * Timers: a binary min-heap of deadlines per carrier.
 *
 * A sleeping or timed-waiting thread puts one node in the heap of its own
 * carrier; the carrier passes the earliest deadline to io_uring_enter as
 * its wait timeout and fires what has expired each time round its loop.
 * No SQE per timer: a hundred thousand sleepers cost a heap, not a
 * hundred thousand kernel timeouts, and disarming is O(log n) with no
 * system call.  Only the owning carrier touches its heap.
 */
#include <stdlib.h>

#include "runtime.h"

static bool before(struct weft__timer *a, struct weft__timer *b)
{
	return a->deadline < b->deadline;
}

static void place(struct weft__carrier *c, uint32_t i, struct weft__timer *t)
{
	c->heap[i] = t;
	t->idx = i;
}

static void sift_up(struct weft__carrier *c, uint32_t i)
{
	struct weft__timer *t = c->heap[i];

	while (i > 0) {
		uint32_t parent = (i - 1) / 2;

		if (!before(t, c->heap[parent]))
			break;
		place(c, i, c->heap[parent]);
		i = parent;
	}
	place(c, i, t);
}

static void sift_down(struct weft__carrier *c, uint32_t i)
{
	struct weft__timer *t = c->heap[i];

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = l;

		if (l >= c->heap_len)
			break;
		if (r < c->heap_len && before(c->heap[r], c->heap[l]))
			m = r;
		if (!before(c->heap[m], t))
			break;
		place(c, i, c->heap[m]);
		i = m;
	}
	place(c, i, t);
}

void weft__timer_arm(struct weft__carrier *c, struct weft__timer *t)
{
	if (c->heap_len == c->heap_cap) {
		uint32_t cap = c->heap_cap ? 2 * c->heap_cap : 256;
		struct weft__timer **h = realloc(c->heap, cap * sizeof(*h));

		/* Not worth a failure path: the heap is a few MB at most. */
		WEFT_BUG_ON(!h);
		c->heap = h;
		c->heap_cap = cap;
	}
	place(c, c->heap_len++, t);
	sift_up(c, t->idx);
}

void weft__timer_disarm(struct weft__carrier *c, struct weft__timer *t)
{
	uint32_t i = t->idx;

	if (i == TIMER_IDLE)
		return;
	t->idx = TIMER_IDLE;
	if (i == --c->heap_len)
		return;
	place(c, i, c->heap[c->heap_len]);
	sift_down(c, i);
	sift_up(c, c->heap[i]->idx);
}

/* The earliest deadline, or -1 when the heap is empty. */
int64_t weft__timer_next(struct weft__carrier *c)
{
	return c->heap_len ? c->heap[0]->deadline : -1;
}

void weft__timer_fire(struct weft__carrier *c, int64_t now)
{
	while (c->heap_len && c->heap[0]->deadline <= now) {
		struct weft__timer *t = c->heap[0];
		struct weft__waiter *w = t->w;
		struct weft_thread *th = w->thread;
		unsigned expect = WEFT_WAITING;

		weft__timer_disarm(c, t);
		if (atomic_compare_exchange_strong(&w->state, &expect,
						   WEFT_TIMEDOUT))
			weft__ready(th);
	}
}

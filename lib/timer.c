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
 *
 * When the heap cannot grow (no memory), a timer goes on an unsorted
 * overflow list instead, scanned where the heap is looked at: slower, but
 * a sleep never fails for want of memory.  heap_len counts both, so the
 * scheduler's "any timers?" stays one load.
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

/* Timers in the heap proper. */
static uint32_t in_heap(struct weft__carrier *c)
{
	return c->heap_len - c->nr_over;
}

static void sift_down(struct weft__carrier *c, uint32_t i)
{
	struct weft__timer *t = c->heap[i];
	uint32_t n = in_heap(c);

	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = l;

		if (l >= n)
			break;
		if (r < n && before(c->heap[r], c->heap[l]))
			m = r;
		if (!before(c->heap[m], t))
			break;
		place(c, i, c->heap[m]);
		i = m;
	}
	place(c, i, t);
}

static bool grow(struct weft__carrier *c)
{
	uint32_t cap = c->heap_cap ? 2 * c->heap_cap : 256;
	struct weft__timer **h =
		WEFT_ALLOC(alloc_timers, realloc(c->heap, cap * sizeof(*h)));

	if (!h)
		return false;
	c->heap = h;
	c->heap_cap = cap;
	return true;
}

void weft__timer_arm(struct weft__carrier *c, struct weft__timer *t)
{
	if (in_heap(c) == c->heap_cap && !grow(c)) {
		t->idx = TIMER_OVER;
		t->next = c->over;
		c->over = t;
		c->nr_over++;
		c->heap_len++;
		return;
	}
	c->heap_len++;
	place(c, in_heap(c) - 1, t);
	sift_up(c, t->idx);
}

static void unlist(struct weft__carrier *c, struct weft__timer *t)
{
	struct weft__timer **p = &c->over;

	while (*p != t)
		p = &(*p)->next;
	*p = t->next;
	c->nr_over--;
}

void weft__timer_disarm(struct weft__carrier *c, struct weft__timer *t)
{
	uint32_t i = t->idx, last;

	if (i == TIMER_IDLE)
		return;
	t->idx = TIMER_IDLE;
	c->heap_len--;
	if (i == TIMER_OVER) {
		unlist(c, t);
		return;
	}
	last = in_heap(c);
	if (i == last)
		return;
	place(c, i, c->heap[last]);
	sift_down(c, i);
	sift_up(c, c->heap[i]->idx);
}

/* The earliest deadline, or -1 when no timer is armed. */
int64_t weft__timer_next(struct weft__carrier *c)
{
	int64_t d = in_heap(c) ? c->heap[0]->deadline : -1;

	for (struct weft__timer *t = c->over; t; t = t->next)
		if (d < 0 || t->deadline < d)
			d = t->deadline;
	return d;
}

static void fire(struct weft__carrier *c, struct weft__timer *t)
{
	struct weft__waiter *w = t->w;
	struct weft_thread *th = w->thread;
	unsigned expect = WEFT_WAITING;

	weft__timer_disarm(c, t);
	if (atomic_compare_exchange_strong(&w->state, &expect, WEFT_TIMEDOUT))
		weft__ready(th);
}

void weft__timer_fire(struct weft__carrier *c, int64_t now)
{
	struct weft__timer *t, *next;

	while (in_heap(c) && c->heap[0]->deadline <= now)
		fire(c, c->heap[0]);
	for (t = c->over; t; t = next) {
		next = t->next;
		if (t->deadline <= now)
			fire(c, t);
	}
}

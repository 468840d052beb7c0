/* SPDX-License-Identifier: MIT */
/*
 * Waiters: the one way a thread blocks, virtual or plain.
 *
 * A waiter starts WEFT_WAITING.  Whoever moves it to a final state with a
 * compare-and-swap (a waker to WEFT_WOKEN, a timer to WEFT_TIMEDOUT) is
 * the only one who wakes the thread: a virtual thread is made runnable, a
 * plain kernel thread is woken from its futex wait on the state word.
 * A virtual thread that parks with a deadline puts its timer in its own
 * carrier's heap; the carrier takes it out again when the thread is made
 * runnable (sched.c), so whichever way it wakes the heap is clean.
 *
 * Wait queues are circular doubly linked lists of waiters, addressed by a
 * pointer to the first; the queue's owner guards them with its lock.  A
 * waiter is queued iff its next pointer is set.
 */
#include "runtime.h"

void weft__waiter_init(struct weft__waiter *w)
{
	w->next = w->prev = NULL;
	w->thread = weft__self();
	atomic_init(&w->state, WEFT_WAITING);
	w->res = 0;
	w->cause = 0;
	w->data = 0;
	w->kind = WEFT__WAIT_OTHER;
	w->note = (struct weft__note){ 0 };
}

/* The party that claims the waiter must then wake it; see weft__wake(). */
bool weft__waiter_claim_as(struct weft__waiter *w, unsigned state)
{
	unsigned expect = WEFT_WAITING;

	return atomic_compare_exchange_strong(&w->state, &expect, state);
}

bool weft__waiter_claim(struct weft__waiter *w)
{
	return weft__waiter_claim_as(w, WEFT_WOKEN);
}

static int outcome(struct weft__waiter *w)
{
	switch (atomic_load(&w->state)) {
	case WEFT_TIMEDOUT:
		return -ETIMEDOUT;
	case WEFT_CANCELLED:
		return w->cause;
	default:
		return 0;
	}
}

void weft__wake(struct weft_thread *t, atomic_uint *word)
{
	if (t)
		weft__ready(t);
	else
		weft__futex_wake(word, 1);
}

bool weft__waiter_wake(struct weft__waiter *w)
{
	struct weft_thread *t = w->thread;

	if (!weft__waiter_claim(w))
		return false;
	weft__wake(t, &w->state);
	return true;
}

/*
 * Block until the waiter is claimed or the deadline (< 0: none) passes.
 * 0 when woken, -ETIMEDOUT when the deadline won.
 */
static int park_on(struct weft_thread *t, struct weft__waiter *w,
		   int64_t deadline)
{
	unsigned expect = WEFT_WAITING;

	if (deadline >= 0) {
		if (deadline <= weft__now()) {
			if (atomic_compare_exchange_strong(&w->state, &expect,
							   WEFT_TIMEDOUT))
				return -ETIMEDOUT;
			/* Claimed already: absorb the wake-up. */
			weft__park();
			return outcome(w);
		}
		t->timer.deadline = deadline;
		t->timer.w = w;
		weft__timer_arm(t->carrier, &t->timer);
	}
	weft__park();
	return outcome(w);
}

int weft__waiter_wait(struct weft__waiter *w, int64_t deadline)
{
	struct weft_thread *t = w->thread;
	unsigned expect = WEFT_WAITING;
	unsigned s;
	int r;

	if (t) {
		t->obs.wait = w; /* for thread dumps */
		r = park_on(t, w, deadline);
		t->obs.wait = NULL;
		return r;
	}
	while ((s = atomic_load(&w->state)) == WEFT_WAITING) {
		if (weft__futex_wait(&w->state, WEFT_WAITING, deadline) !=
		    -ETIMEDOUT)
			continue;
		if (atomic_compare_exchange_strong(&w->state, &expect,
						   WEFT_TIMEDOUT))
			return -ETIMEDOUT;
	}
	return outcome(w);
}

/*
 * weft__waiter_wait() as a cancellation point: fails with the cause when
 * the caller's scopes are cancelled (before or while it waits), -EINTR for
 * an interrupt, -ETIMEDOUT at the earliest deadline in force.  A waiter
 * claimed before the cancellation was seen is a wake-up like any other:
 * whatever it handed over (a lock, a unit) is the caller's, and the
 * cancellation is seen at the next blocking call.
 */
int weft__waiter_wait_cancel(struct weft__waiter *w, int64_t deadline)
{
	struct weft__ctl *ctl = weft__ctl_self();
	int r = weft__cancel_check(ctl, w->kind);

	if (!r)
		r = weft__cancel_register(ctl, w);
	if (r) {
		w->cause = r;
		if (weft__waiter_claim_as(w, WEFT_CANCELLED)) {
			weft__stats_cancelled(w->thread);
			return r;
		}
		return weft__waiter_wait(w, -1); /* absorb the wake-up */
	}
	r = weft__waiter_wait(w, weft__cancel_deadline(ctl, deadline));
	weft__cancel_unregister(ctl);
	if (r && atomic_load_explicit(&w->state, memory_order_relaxed) ==
			 WEFT_CANCELLED)
		weft__stats_cancelled(w->thread);
	return r;
}

void weft__wq_push(struct weft__waiter **head, struct weft__waiter *w)
{
	struct weft__waiter *h = *head;

	if (!h) {
		w->next = w->prev = w;
		*head = w;
		return;
	}
	w->next = h;
	w->prev = h->prev;
	h->prev->next = w;
	h->prev = w;
}

void weft__wq_push_head(struct weft__waiter **head, struct weft__waiter *w)
{
	weft__wq_push(head, w);
	*head = w;
}

void weft__wq_remove(struct weft__waiter **head, struct weft__waiter *w)
{
	if (!w->next)
		return;
	if (w->next == w) {
		*head = NULL;
	} else {
		w->prev->next = w->next;
		w->next->prev = w->prev;
		if (*head == w)
			*head = w->next;
	}
	w->next = w->prev = NULL;
}

struct weft__waiter *weft__wq_pop(struct weft__waiter **head)
{
	struct weft__waiter *w = *head;

	if (w)
		weft__wq_remove(head, w);
	return w;
}

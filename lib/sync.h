/* SPDX-License-Identifier: MIT */
/* The real layouts behind weft.h's mutex, condition and semaphore. */
#ifndef WEFT_SYNC_H
#define WEFT_SYNC_H

#include "runtime.h"

struct mutex {
	atomic_uint state;     /* UNLOCKED, LOCKED, CONTENDED */
	struct weft_spin lock; /* guards waiters */
	struct weft__waiter *waiters;
};

struct cond {
	struct weft_spin lock;
	uint32_t pad;
	struct weft__waiter *waiters;
};

struct sem {
	atomic_uint value; /* first: WEFT_SEM_INIT(n) sets it */
	struct weft_spin lock;
	struct weft__waiter *waiters;
};

_Static_assert(sizeof(struct mutex) == sizeof(struct weft_mutex), "mutex");
_Static_assert(sizeof(struct cond) == sizeof(struct weft_cond), "cond");
_Static_assert(sizeof(struct sem) == sizeof(struct weft_sem), "sem");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "WEFT_SEM_INIT puts the value in the low half of opaque[0]");

/* Take m again whatever cancellation says: a condition wait must. */
hidden void weft__mutex_relock(struct weft_mutex *m);
/* weft_cond_timedwait(), the wait noted as on obj (WEFT__ON_*) for dumps. */
hidden int weft__cond_wait_as(struct weft_cond *c, struct weft_mutex *m,
			      int64_t deadline, int on, const void *obj);
/* Is m locked (by anyone: a weft mutex has no owner)? */
hidden bool weft__mutex_held(struct weft_mutex *m);

/*
 * A timed-out waiter that is still queued takes itself off the queue;
 * one that was popped meanwhile was claimed by nobody (its state says
 * TIMEDOUT) and has already been skipped.
 */
static inline void weft__sync_unqueue(struct weft_spin *lock,
				      struct weft__waiter **q,
				      struct weft__waiter *w)
{
	weft__spin_lock(lock);
	weft__wq_remove(q, w);
	weft__spin_unlock(lock);
}

/*
 * Pop the first waiter that can still be claimed, or NULL; its thread
 * in *ret_thread, for weft__wake(*ret_thread, &w->state).  The thread is
 * read before the claim: a plain thread's waiter, once claimed, may
 * return at once (it sees the state change before the futex wake) and
 * its stack be reused, while one not yet claimed stays put as long as
 * the queue's lock is held (leaving unclaimed takes that lock).  Only
 * w's address may be used after: a futex wake there is at worst spurious.
 */
static inline struct weft__waiter *
weft__sync_claim(struct weft__waiter **q, struct weft_thread **ret_thread)
{
	struct weft__waiter *w;

	while ((w = weft__wq_pop(q))) {
		*ret_thread = w->thread;
		if (weft__waiter_claim(w))
			return w;
	}
	return NULL;
}

#endif

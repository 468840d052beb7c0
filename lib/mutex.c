/* SPDX-License-Identifier: MIT */
/*
 * Mutex: Drepper's three-state word for the fast paths, a FIFO of waiters
 * for the slow ones.
 *
 * Unlock releases the lock and wakes the first waiter, which then
 * competes for it like anyone else, as glibc's mutex does.  Handing the
 * lock over instead kept it held while the woken thread waited to be
 * scheduled, often on another carrier: every contended unlock cost an
 * eventfd write and a convoy formed.  A woken waiter that loses goes back
 * to the head of the queue, so it is the next one woken.
 */
#include "sync.h"

enum { UNLOCKED, LOCKED, CONTENDED };

int weft_mutex_init(struct weft_mutex *m)
{
	if (!m)
		return -EINVAL;
	*m = (struct weft_mutex)WEFT_MUTEX_INIT;
	return 0;
}

/* cancellable: a cancellation point; cond.c retakes its mutex without. */
static int lock_slow(struct mutex *m, int64_t deadline, bool cancellable)
{
	struct weft__waiter w;
	bool again = false;
	int r;

	for (;;) {
		weft__spin_lock(&m->lock);
		/* CONTENDED, not LOCKED: others may be queued behind us. */
		if (atomic_exchange(&m->state, CONTENDED) == UNLOCKED) {
			weft__spin_unlock(&m->lock);
			return 0;
		}
		weft__waiter_init(&w);
		weft__note(&w, WEFT__ON_MUTEX, m);
		if (again)
			weft__wq_push_head(&m->waiters, &w);
		else
			weft__wq_push(&m->waiters, &w);
		weft__spin_unlock(&m->lock);
		r = cancellable ? weft__waiter_wait_cancel(&w, deadline) :
				  weft__waiter_wait(&w, deadline);
		if (r < 0) {
			weft__sync_unqueue(&m->lock, &m->waiters, &w);
			return r;
		}
		again = true;
	}
}

int weft_mutex_lock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		return 0;
	if (s > CONTENDED)
		return -EINVAL; /* not a mutex: garbage, or freed */
	return lock_slow(m, -1, true);
}

bool weft__mutex_held(struct weft_mutex *wm)
{
	return atomic_load(&((struct mutex *)wm)->state) != UNLOCKED;
}

void weft__mutex_relock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		lock_slow(m, -1, false);
}

int weft_mutex_timedlock(struct weft_mutex *wm, int64_t deadline)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m || deadline < 0)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		return 0;
	if (s > CONTENDED)
		return -EINVAL;
	return lock_slow(m, deadline, true);
}

int weft_mutex_trylock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		return 0;
	return s > CONTENDED ? -EINVAL : -EBUSY;
}

int weft_mutex_unlock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	struct weft__waiter *w;
	struct weft_thread *t;
	unsigned s = LOCKED;

	if (!m)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, UNLOCKED))
		return 0;
	if (s == UNLOCKED)
		return -EPERM;
	if (s > CONTENDED)
		return -EINVAL;
	weft__spin_lock(&m->lock);
	atomic_store(&m->state, UNLOCKED);
	w = weft__sync_claim(&m->waiters, &t);
	weft__spin_unlock(&m->lock);
	if (w)
		weft__wake(t, &w->state);
	return 0;
}

/* The lock scope of weft_locked(): hold, and release on every way out. */
struct weft__held weft__hold(struct weft_mutex *m)
{
	struct weft__held h = { m, 1 };

	if (weft_mutex_lock(m) < 0)
		h = (struct weft__held){ NULL, 0 };
	return h;
}

void weft__release(struct weft__held *h)
{
	if (h->m)
		weft_mutex_unlock(h->m);
}

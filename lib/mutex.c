/* SPDX-License-Identifier: MIT */
/*
 * Mutex: an atomic word for the uncontended path, a FIFO of waiters for
 * the rest.  Unlocking with waiters queued hands the lock to the first of
 * them without ever releasing it, so no newcomer can barge ahead of a
 * woken thread and a waiter is never starved.
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

static int lock_slow(struct mutex *m, int64_t deadline)
{
	struct weft__waiter w;
	unsigned s;
	int r;

	weft__spin_lock(&m->lock);
	s = atomic_load(&m->state);
	for (;;) {
		if (s == UNLOCKED) {
			if (atomic_compare_exchange_weak(&m->state, &s,
							 LOCKED)) {
				weft__spin_unlock(&m->lock);
				return 0;
			}
		} else if (s == LOCKED) {
			atomic_compare_exchange_weak(&m->state, &s, CONTENDED);
		} else {
			break;
		}
	}
	weft__waiter_init(&w);
	weft__wq_push(&m->waiters, &w);
	weft__spin_unlock(&m->lock);
	r = weft__waiter_wait(&w, deadline);
	if (r < 0)
		weft__sync_unqueue(&m->lock, &m->waiters, &w);
	return r; /* 0: the unlocker handed the lock over */
}

int weft_mutex_lock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		return 0;
	return lock_slow(m, -1);
}

int weft_mutex_timedlock(struct weft_mutex *wm, int64_t deadline)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m || deadline < 0)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&m->state, &s, LOCKED))
		return 0;
	return lock_slow(m, deadline);
}

int weft_mutex_trylock(struct weft_mutex *wm)
{
	struct mutex *m = (struct mutex *)wm;
	unsigned s = UNLOCKED;

	if (!m)
		return -EINVAL;
	return atomic_compare_exchange_strong(&m->state, &s, LOCKED) ? 0 :
								       -EBUSY;
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
	weft__spin_lock(&m->lock);
	w = weft__sync_claim(&m->waiters);
	if (!w) {
		atomic_store(&m->state, UNLOCKED);
		weft__spin_unlock(&m->lock);
		return 0;
	}
	/* Hand over: the state stays locked, for w now. */
	t = w->thread;
	weft__spin_unlock(&m->lock);
	weft__wake(t, &w->state);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Semaphore: the value is taken lock-free while positive; a post with
 * waiters queued hands its unit straight to the first of them.  Waiters
 * queue only while the value is 0 (checked under the lock), and a post
 * raises the value only when no waiter is queued, so the value is never
 * positive while someone waits.
 */
#include <limits.h>

#include "sync.h"

int weft_sem_init(struct weft_sem *ws, unsigned value)
{
	if (!ws || value > INT_MAX)
		return -EINVAL;
	*ws = (struct weft_sem)WEFT_SEM_INIT(value);
	return 0;
}

static bool take(struct sem *s)
{
	unsigned v = atomic_load(&s->value);

	while (v > 0)
		if (atomic_compare_exchange_weak(&s->value, &v, v - 1))
			return true;
	return false;
}

int weft_sem_timedwait(struct weft_sem *ws, int64_t deadline)
{
	struct sem *s = (struct sem *)ws;
	struct weft__waiter w;
	int r;

	if (!s || deadline < -1)
		return -EINVAL;
	if (take(s))
		return 0;
	weft__waiter_init(&w);
	weft__note(&w, WEFT__ON_SEM, s);
	/*
	 * For the shim, as glibc's on Linux: sem_wait's futex wait restarts
	 * under SA_RESTART; sem_timedwait's, which has a timeout, never does.
	 */
	w.kind = deadline < 0 ? WEFT__WAIT_IO : WEFT__WAIT_ALWAYS;
	weft__spin_lock(&s->lock);
	if (take(s)) {
		weft__spin_unlock(&s->lock);
		return 0;
	}
	weft__wq_push(&s->waiters, &w);
	weft__spin_unlock(&s->lock);
	r = weft__waiter_wait_cancel(&w, deadline);
	if (r < 0)
		weft__sync_unqueue(&s->lock, &s->waiters, &w);
	return r; /* 0: a post handed its unit over */
}

int weft_sem_wait(struct weft_sem *s)
{
	return weft_sem_timedwait(s, -1);
}

int weft_sem_trywait(struct weft_sem *ws)
{
	struct sem *s = (struct sem *)ws;

	if (!s)
		return -EINVAL;
	return take(s) ? 0 : -EAGAIN;
}

int weft_sem_post(struct weft_sem *ws)
{
	struct sem *s = (struct sem *)ws;
	struct weft__waiter *w;
	struct weft_thread *t;
	int r = 0;

	if (!s)
		return -EINVAL;
	weft__spin_lock(&s->lock);
	w = weft__sync_claim(&s->waiters, &t);
	if (w) {
		weft__spin_unlock(&s->lock);
		weft__wake(t, &w->state);
		return 0;
	}
	if (atomic_load(&s->value) >= INT_MAX)
		r = -EOVERFLOW;
	else
		atomic_fetch_add(&s->value, 1);
	weft__spin_unlock(&s->lock);
	return r;
}

int weft_sem_value(struct weft_sem *ws)
{
	struct sem *s = (struct sem *)ws;

	if (!s)
		return -EINVAL;
	return (int)atomic_load(&s->value);
}

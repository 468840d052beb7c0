/* SPDX-License-Identifier: MIT */
/* Condition variable: a FIFO of waiters; the mutex is retaken on wake. */
#include "sync.h"

#define BATCH 32

int weft_cond_init(struct weft_cond *wc)
{
	if (!wc)
		return -EINVAL;
	*wc = (struct weft_cond)WEFT_COND_INIT;
	return 0;
}

int weft__cond_wait_as(struct weft_cond *wc, struct weft_mutex *m,
		       int64_t deadline, int on, const void *obj)
{
	struct cond *c = (struct cond *)wc;
	struct weft__waiter w;
	int r;

	if (!c || !m || deadline < -1)
		return -EINVAL;
	if (!weft__mutex_held(m))
		return -EPERM; /* its wake-up would be lost, or its lock */
	weft__waiter_init(&w);
	weft__note(&w, on, obj);
	weft__spin_lock(&c->lock);
	weft__wq_push(&c->waiters, &w);
	weft__spin_unlock(&c->lock);
	weft_mutex_unlock(m);
	r = weft__waiter_wait_cancel(&w, deadline);
	if (r < 0)
		weft__sync_unqueue(&c->lock, &c->waiters, &w);
	weft__mutex_relock(m);
	return r;
}

int weft_cond_timedwait(struct weft_cond *c, struct weft_mutex *m,
			int64_t deadline)
{
	return weft__cond_wait_as(c, m, deadline, WEFT__ON_COND, c);
}

int weft_cond_wait(struct weft_cond *c, struct weft_mutex *m)
{
	return weft_cond_timedwait(c, m, -1);
}

/* Wake up to max waiters; how many were woken. */
static int wake(struct cond *c, int max)
{
	struct weft_thread *t[BATCH];
	atomic_uint *word[BATCH];
	struct weft__waiter *w;
	int n = 0, total = 0;

	do {
		n = 0;
		weft__spin_lock(&c->lock);
		while (n < BATCH && total + n < max &&
		       (w = weft__sync_claim(&c->waiters, &t[n])))
			word[n++] = &w->state;
		weft__spin_unlock(&c->lock);
		for (int i = 0; i < n; i++)
			weft__wake(t[i], word[i]);
		total += n;
	} while (n == BATCH && total < max);
	return total;
}

int weft_cond_signal(struct weft_cond *c)
{
	if (!c)
		return -EINVAL;
	wake((struct cond *)c, 1);
	return 0;
}

int weft_cond_broadcast(struct weft_cond *c)
{
	if (!c)
		return -EINVAL;
	wake((struct cond *)c, INT32_MAX);
	return 0;
}

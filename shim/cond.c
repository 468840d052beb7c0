/* SPDX-License-Identifier: MIT */
/*
 * pthread condition variables on weft's, for every caller (see mutex.c).
 *
 * weft's condition takes weft's mutex, and its waiters are this
 * process's: a process-shared condition, and a wait with a
 * process-shared mutex, wait instead on seq (sync.h), which a signal or
 * broadcast bumps and wakes while anyone waits there.  As in any futex
 * condition, a
 * signal may wake a waiter that came after it, so another waiter sleeps
 * on: POSIX lets a signal wake a thread that was not blocked when it
 * was made only together with at least one that was, which this does
 * not promise.
 */
#include "sync.h"

#include <limits.h>

static inline struct weft__cond *of(pthread_cond_t *pc)
{
	return (struct weft__cond *)pc;
}

WEFT_EXPORT int pthread_cond_init(pthread_cond_t *pc,
				  const pthread_condattr_t *attr)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;
	clockid_t clock = CLOCK_REALTIME;

	if (attr && (pthread_condattr_getclock(attr, &clock) ||
		     pthread_condattr_getpshared(attr, &pshared)))
		return EINVAL;
	*pc = (pthread_cond_t){ 0 };
	of(pc)->clock = clock;
	of(pc)->pshared = pshared == PTHREAD_PROCESS_SHARED;
	return 0;
}

WEFT_EXPORT int pthread_cond_destroy(pthread_cond_t *pc)
{
	return 0;
}

WEFT_EXPORT int pthread_cond_signal(pthread_cond_t *pc)
{
	struct weft__cond *c = of(pc);

	weft__seq_wake(&c->seq, 1, c->pshared);
	return c->pshared ? 0 : -weft_cond_signal(&c->c);
}

WEFT_EXPORT int pthread_cond_broadcast(pthread_cond_t *pc)
{
	struct weft__cond *c = of(pc);

	weft__seq_wake(&c->seq, INT_MAX, c->pshared);
	return c->pshared ? 0 : -weft_cond_broadcast(&c->c);
}

static void unlock(struct weft__mutex *m)
{
	if (weft__mutex_by_word(m))
		weft__mutex_word_unlock(m);
	else
		weft_mutex_unlock(&m->m);
}

/* 0, or for a robust mutex EOWNERDEAD (held) or ENOTRECOVERABLE (not). */
static int relock(struct weft__mutex *m)
{
	if (weft__mutex_by_word(m))
		return weft__mutex_word_lock(m);
	weft__mutex_relock(&m->m); /* whatever cancellation says */
	return 0;
}

/*
 * The wait on seq: 0, or the wait's error (-ETIMEDOUT, -EINTR...), and
 * in *relocked how the mutex was taken again.
 */
static int seq_wait(struct weft__cond *c, struct weft__mutex *m,
		    int64_t deadline, int *relocked)
{
	uint32_t seq = weft__seq_enter(&c->seq);
	int r;

	unlock(m);
	r = weft__seq_sleep(&c->seq, seq, c->pshared, deadline);
	*relocked = relock(m);
	return r;
}

/*
 * Wait until deadline (-1: none); 0 or ETIMEDOUT, the mutex held again,
 * or a robust mutex's EOWNERDEAD or ENOTRECOVERABLE as locking it gives.
 */
static int wait(pthread_cond_t *pc, pthread_mutex_t *pm, int64_t deadline)
{
	struct weft__mutex *m = (struct weft__mutex *)pm;
	int r, relocked = 0;
	unsigned count;
	bool in;

	if (!weft__mutex_owned(m))
		return EPERM;
	in = weft__point_enter();
	count = weft__mutex_release(m);
	if (of(pc)->pshared || weft__mutex_by_word(m))
		r = seq_wait(of(pc), m, deadline, &relocked);
	else
		r = weft_cond_timedwait(&of(pc)->c, &m->m, deadline);
	if (relocked != ENOTRECOVERABLE)
		weft__mutex_reown(m, count);
	/* Cancelled, the thread holds the mutex again, as POSIX wants. */
	weft__point_leave(in, r == -EINTR);
	if (relocked)
		return relocked;
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

WEFT_EXPORT int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	return wait(pc, pm, -1);
}

static int clockwait(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d = weft__wait_deadline(clock, abs);

	if (d < 0)
		return EINVAL;
	return wait(pc, pm, d);
}

WEFT_EXPORT int pthread_cond_timedwait(pthread_cond_t *pc, pthread_mutex_t *pm,
				       const struct timespec *abs)
{
	return clockwait(pc, pm, of(pc)->clock, abs);
}

WEFT_EXPORT int pthread_cond_clockwait(pthread_cond_t *pc, pthread_mutex_t *pm,
				       clockid_t clock,
				       const struct timespec *abs)
{
	return clockwait(pc, pm, clock, abs);
}

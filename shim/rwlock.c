/* SPDX-License-Identifier: MIT */
/*
 * pthread read-write locks on weft's mutex and condition variable, for
 * every caller (see mutex.c).  Readers are preferred, as glibc's default
 * is; with PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP a waiting writer
 * holds new readers back.  The writer is remembered, so that it gets
 * EDEADLK when it locks again, as from glibc.
 */
#include "shim.h"

#include <pthread.h>
#include <stddef.h>

/* In a pthread_rwlock_t; all-zero is PTHREAD_RWLOCK_INITIALIZER. */
struct rwlock {
	struct weft_mutex m;
	struct weft_cond c; /* broadcast whenever the lock may be free */
	int readers;	    /* holding it to read; -1: a writer holds it */
	unsigned writers_waiting;
	uintptr_t writer; /* the writer's pthread_self(), while it holds it */
	unsigned flags; /* glibc's __flags: the PTHREAD_RWLOCK_PREFER_* kind */
};

_Static_assert(sizeof(struct rwlock) <= sizeof(pthread_rwlock_t),
	       "pthread_rwlock_t holds it");
_Static_assert(offsetof(struct rwlock, flags) ==
		       offsetof(pthread_rwlock_t, __data.__flags),
	       "flags where glibc's static initialisers put them");

enum { TRY, WAIT };

static inline struct rwlock *of(pthread_rwlock_t *rw)
{
	return (struct rwlock *)rw;
}

WEFT_EXPORT int pthread_rwlock_init(pthread_rwlock_t *rw,
				    const pthread_rwlockattr_t *attr)
{
	int kind = PTHREAD_RWLOCK_DEFAULT_NP;

	if (attr && pthread_rwlockattr_getkind_np(attr, &kind))
		return EINVAL;
	*rw = (pthread_rwlock_t){ 0 };
	of(rw)->flags = kind;
	return 0;
}

WEFT_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
	return 0;
}

static bool may_read(const struct rwlock *l)
{
	if (l->readers < 0)
		return false;
	return l->flags != PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP ||
	       !l->writers_waiting;
}

/* Wait on l->c until ok(l) or the deadline (-1: none); the mutex held. */
static int wait_for(struct rwlock *l, bool (*ok)(const struct rwlock *),
		    int how, int64_t deadline)
{
	int r = 0;

	while (!ok(l)) {
		if (how == TRY)
			return EBUSY;
		if (r == -ETIMEDOUT)
			return ETIMEDOUT;
		r = weft_cond_timedwait(&l->c, &l->m, deadline);
	}
	return 0;
}

static int rdlock(struct rwlock *l, int how, int64_t deadline)
{
	int r;

	weft_mutex_lock(&l->m);
	if (l->readers < 0 && l->writer == weft__shim_self())
		r = EDEADLK;
	else
		r = wait_for(l, may_read, how, deadline);
	if (r == 0)
		l->readers++;
	weft_mutex_unlock(&l->m);
	return r;
}

static bool may_write(const struct rwlock *l)
{
	return l->readers == 0;
}

static int wrlock(struct rwlock *l, int how, int64_t deadline)
{
	int r;

	weft_mutex_lock(&l->m);
	if (l->readers < 0 && l->writer == weft__shim_self()) {
		weft_mutex_unlock(&l->m);
		return EDEADLK;
	}
	l->writers_waiting++;
	r = wait_for(l, may_write, how, deadline);
	l->writers_waiting--;
	if (r == 0) {
		l->readers = -1;
		l->writer = weft__shim_self();
	} else if (l->writers_waiting == 0) {
		weft_cond_broadcast(&l->c); /* readers held back for us */
	}
	weft_mutex_unlock(&l->m);
	return r;
}

WEFT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	struct rwlock *l = of(rw);

	weft_mutex_lock(&l->m);
	if (l->readers < 0) {
		l->readers = 0;
		l->writer = 0;
	} else if (l->readers > 0) {
		l->readers--;
	}
	if (l->readers == 0)
		weft_cond_broadcast(&l->c);
	weft_mutex_unlock(&l->m);
	return 0;
}

WEFT_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	return rdlock(of(rw), WAIT, -1);
}

WEFT_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	return rdlock(of(rw), TRY, -1);
}

WEFT_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	return wrlock(of(rw), WAIT, -1);
}

WEFT_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	return wrlock(of(rw), TRY, -1);
}

/* As glibc: the time is looked at only when the lock is not free. */
static int clocklock(pthread_rwlock_t *rw, bool write, clockid_t clock,
		     const struct timespec *abs)
{
	int r = write ? wrlock(of(rw), TRY, -1) : rdlock(of(rw), TRY, -1);
	int64_t d;

	if (r != EBUSY)
		return r;
	d = weft__deadline(clock, abs);
	if (d < 0)
		return EINVAL;
	return write ? wrlock(of(rw), WAIT, d) : rdlock(of(rw), WAIT, d);
}

WEFT_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw,
					   const struct timespec *abs)
{
	return clocklock(rw, false, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw,
					   clockid_t clock,
					   const struct timespec *abs)
{
	return clocklock(rw, false, clock, abs);
}

WEFT_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw,
					   const struct timespec *abs)
{
	return clocklock(rw, true, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw,
					   clockid_t clock,
					   const struct timespec *abs)
{
	return clocklock(rw, true, clock, abs);
}

/* The names libpthread exported before glibc 2.34 (see mutex.c). */
#define ALIAS(ret, old, new, params) \
	WEFT_EXPORT ret old params WEFT_ALIAS_OF(new)

ALIAS(int, __pthread_rwlock_init, pthread_rwlock_init,
      (pthread_rwlock_t *, const pthread_rwlockattr_t *));
ALIAS(int, __pthread_rwlock_destroy, pthread_rwlock_destroy,
      (pthread_rwlock_t *));
ALIAS(int, __pthread_rwlock_rdlock, pthread_rwlock_rdlock,
      (pthread_rwlock_t *));
ALIAS(int, __pthread_rwlock_tryrdlock, pthread_rwlock_tryrdlock,
      (pthread_rwlock_t *));
ALIAS(int, __pthread_rwlock_wrlock, pthread_rwlock_wrlock,
      (pthread_rwlock_t *));
ALIAS(int, __pthread_rwlock_trywrlock, pthread_rwlock_trywrlock,
      (pthread_rwlock_t *));
ALIAS(int, __pthread_rwlock_unlock, pthread_rwlock_unlock,
      (pthread_rwlock_t *));

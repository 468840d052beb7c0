/* SPDX-License-Identifier: MIT */
/*
 * pthread read-write locks on weft's mutex and condition variable, for
 * every caller (see mutex.c).  Readers are preferred, as glibc's default
 * is; with PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP a waiting writer
 * holds new readers back.  The writer is remembered, so that it gets
 * EDEADLK when it locks again, as from glibc.  A process-shared rwlock
 * has the same state under a process-shared lock instead (sync.h), and
 * its writer's pid with its pthread_self().
 */
#include "sync.h"

#include <stddef.h>
#include <unistd.h>

/* In a pthread_rwlock_t; all-zero is PTHREAD_RWLOCK_INITIALIZER. */
struct rwlock {
	union {
		struct {
			struct weft_mutex m;
			struct weft_cond c; /* broadcast when it may be free */
		};
		struct {
			struct weft__plock pl; /* process-shared: both */
			int writer_pid;
		};
	};
	int readers; /* holding it to read; -1: a writer holds it */
	unsigned writers_waiting;
	uintptr_t writer; /* the writer's pthread_self(), while it holds it */
	unsigned flags; /* glibc's __flags: the PTHREAD_RWLOCK_PREFER_* kind */
	bool pshared;
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
	int kind = PTHREAD_RWLOCK_DEFAULT_NP, pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr && (pthread_rwlockattr_getkind_np(attr, &kind) ||
		     pthread_rwlockattr_getpshared(attr, &pshared)))
		return EINVAL;
	*rw = (pthread_rwlock_t){ 0 };
	of(rw)->flags = kind;
	of(rw)->pshared = pshared == PTHREAD_PROCESS_SHARED;
	return 0;
}

static void lock(struct rwlock *l)
{
	if (l->pshared)
		weft__plock_lock(&l->pl);
	else
		weft_mutex_lock(&l->m);
}

static void unlock(struct rwlock *l)
{
	if (l->pshared)
		weft__plock_unlock(&l->pl);
	else
		weft_mutex_unlock(&l->m);
}

static void broadcast(struct rwlock *l)
{
	if (l->pshared)
		weft__plock_wake_all(&l->pl);
	else
		weft_cond_broadcast(&l->c);
}

/* Wait for a broadcast until deadline (-1: none): 0 or -ETIMEDOUT. */
static int wait(struct rwlock *l, int64_t deadline)
{
	if (l->pshared)
		return weft__plock_wait(&l->pl, deadline);
	return weft_cond_timedwait(&l->c, &l->m, deadline);
}

static bool is_writer(const struct rwlock *l)
{
	return l->readers < 0 && l->writer == weft__shim_self() &&
	       (!l->pshared || l->writer_pid == getpid());
}

static void set_writer(struct rwlock *l, bool on)
{
	l->readers = on ? -1 : 0;
	l->writer = on ? weft__shim_self() : 0;
	if (l->pshared)
		l->writer_pid = on ? getpid() : 0;
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
		r = wait(l, deadline);
	}
	return 0;
}

static int rdlock(struct rwlock *l, int how, int64_t deadline)
{
	int r;

	lock(l);
	if (is_writer(l))
		r = EDEADLK;
	else
		r = wait_for(l, may_read, how, deadline);
	if (r == 0)
		l->readers++;
	unlock(l);
	return r;
}

static bool may_write(const struct rwlock *l)
{
	return l->readers == 0;
}

static int wrlock(struct rwlock *l, int how, int64_t deadline)
{
	int r;

	lock(l);
	if (is_writer(l)) {
		unlock(l);
		return EDEADLK;
	}
	l->writers_waiting++;
	r = wait_for(l, may_write, how, deadline);
	l->writers_waiting--;
	if (r == 0)
		set_writer(l, true);
	else if (l->writers_waiting == 0)
		broadcast(l); /* readers held back for us */
	unlock(l);
	return r;
}

WEFT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	struct rwlock *l = of(rw);

	lock(l);
	if (l->readers < 0)
		set_writer(l, false);
	else if (l->readers > 0)
		l->readers--;
	if (l->readers == 0)
		broadcast(l);
	unlock(l);
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

/* As glibc: the clock and the nanoseconds are checked first. */
static int clocklock(pthread_rwlock_t *rw, bool write, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d = weft__wait_deadline(clock, abs);
	int r;

	if (d < 0)
		return EINVAL;
	r = write ? wrlock(of(rw), TRY, -1) : rdlock(of(rw), TRY, -1);
	if (r != EBUSY)
		return r;
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

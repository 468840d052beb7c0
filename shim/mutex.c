/* SPDX-License-Identifier: MIT */
/*
 * pthread mutexes on weft's mutex, for every caller: a mutex must mean
 * the same bytes to whoever touches it, and weft's parks a virtual thread
 * and blocks a plain one.  Recursive and error-checking mutexes keep an
 * owner and a count around it.
 */
#include "sync.h"

#define KIND_MASK 3 /* NORMAL, RECURSIVE, ERRORCHECK, ADAPTIVE */

static inline struct weft__mutex *of(pthread_mutex_t *pm)
{
	return (struct weft__mutex *)pm;
}

static int kind(const struct weft__mutex *m)
{
	int k = m->kind & KIND_MASK;

	return k == PTHREAD_MUTEX_ADAPTIVE_NP ? PTHREAD_MUTEX_NORMAL : k;
}

static uintptr_t owner(struct weft__mutex *m)
{
	return __atomic_load_n(&m->owner, __ATOMIC_RELAXED);
}

static void set_owner(struct weft__mutex *m, uintptr_t o)
{
	__atomic_store_n(&m->owner, o, __ATOMIC_RELAXED);
}

WEFT_EXPORT int pthread_mutex_init(pthread_mutex_t *pm,
				   const pthread_mutexattr_t *attr)
{
	struct weft__mutex *m = of(pm);
	int type = PTHREAD_MUTEX_NORMAL;

	if (attr && pthread_mutexattr_gettype(attr, &type))
		return EINVAL;
	*pm = (pthread_mutex_t){ 0 };
	m->kind = type;
	return 0;
}

WEFT_EXPORT int pthread_mutex_destroy(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);

	if (weft_mutex_trylock(&m->m) < 0)
		return EBUSY;
	weft_mutex_unlock(&m->m);
	return 0;
}

/*
 * Lock m with how: 0 trylock, 1 wait forever, 2 wait until deadline.
 * An owner checks itself first, recursive or not.
 */
enum { TRY, WAIT, TIMED };

static int lock(struct weft__mutex *m, int how, int64_t deadline)
{
	int k = kind(m), r;
	uintptr_t self = 0;

	if (k != PTHREAD_MUTEX_NORMAL) {
		self = weft__shim_self();
		if (owner(m) == self) {
			if (k == PTHREAD_MUTEX_ERRORCHECK)
				return how == TRY ? EBUSY : EDEADLK;
			if (m->count == UINT32_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
	}
	if (how == TRY)
		r = weft_mutex_trylock(&m->m);
	else if (how == WAIT)
		r = weft_mutex_lock(&m->m);
	else
		r = weft_mutex_timedlock(&m->m, deadline);
	if (r < 0)
		return -r;
	if (k != PTHREAD_MUTEX_NORMAL) {
		set_owner(m, self);
		m->count = 1;
	}
	return 0;
}

WEFT_EXPORT int pthread_mutex_lock(pthread_mutex_t *pm)
{
	return lock(of(pm), WAIT, -1);
}

WEFT_EXPORT int pthread_mutex_trylock(pthread_mutex_t *pm)
{
	return lock(of(pm), TRY, -1);
}

/* As glibc: the time is looked at only when the mutex is taken. */
static int clocklock(pthread_mutex_t *pm, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d;
	int r = lock(of(pm), TRY, -1);

	if (r != EBUSY)
		return r;
	d = weft__deadline(clock, abs);
	if (d < 0)
		return EINVAL;
	return lock(of(pm), TIMED, d);
}

WEFT_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *pm,
					const struct timespec *abs)
{
	return clocklock(pm, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *pm, clockid_t clock,
					const struct timespec *abs)
{
	return clocklock(pm, clock, abs);
}

bool weft__mutex_owned(struct weft__mutex *m)
{
	return kind(m) == PTHREAD_MUTEX_NORMAL || owner(m) == weft__shim_self();
}

WEFT_EXPORT int pthread_mutex_unlock(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);
	int k = kind(m);

	if (k != PTHREAD_MUTEX_NORMAL) {
		if (owner(m) != weft__shim_self())
			return EPERM;
		if (--m->count)
			return 0;
		set_owner(m, 0);
	}
	return -weft_mutex_unlock(&m->m);
}

unsigned weft__mutex_release(struct weft__mutex *m)
{
	unsigned count = m->count;

	if (kind(m) != PTHREAD_MUTEX_NORMAL) {
		m->count = 0;
		set_owner(m, 0);
	}
	return count;
}

void weft__mutex_reown(struct weft__mutex *m, unsigned count)
{
	if (kind(m) != PTHREAD_MUTEX_NORMAL) {
		set_owner(m, weft__shim_self());
		m->count = count;
	}
}

/*
 * The names libpthread exported before glibc 2.34, still there for old
 * binaries (and GCC's old way of asking whether threads are linked in).
 */
#define ALIAS(ret, old, new, params) \
	WEFT_EXPORT ret old params WEFT_ALIAS_OF(new)

ALIAS(int, __pthread_mutex_init, pthread_mutex_init,
      (pthread_mutex_t *, const pthread_mutexattr_t *));
ALIAS(int, __pthread_mutex_destroy, pthread_mutex_destroy, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_lock, pthread_mutex_lock, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_trylock, pthread_mutex_trylock, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_unlock, pthread_mutex_unlock, (pthread_mutex_t *));

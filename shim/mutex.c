/* SPDX-License-Identifier: MIT */
/*
 * pthread mutexes on weft's mutex, for every caller: a mutex must mean
 * the same bytes to whoever touches it, and weft's parks a virtual thread
 * and blocks a plain one.  Recursive and error-checking mutexes keep an
 * owner and a count around it.
 *
 * A process-shared mutex is a futex word instead (sync.h), locked as in
 * Drepper's "Futexes Are Tricky": its wait parks a virtual thread and
 * blocks a plain one (lib/futex.c), and any process may wake it.  Its
 * owner is a thread of one process: the owner's pid goes with it.
 */
#include "sync.h"

#include <limits.h>
#include <unistd.h>

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

/* Is the caller, self, its owner? */
static bool owns(struct weft__mutex *m, uintptr_t self)
{
	if (__atomic_load_n(&m->owner, __ATOMIC_RELAXED) != self)
		return false;
	return !weft__mutex_shared(m) || m->sh.pid == getpid();
}

static void set_owner(struct weft__mutex *m, uintptr_t o)
{
	if (weft__mutex_shared(m))
		m->sh.pid = o ? getpid() : 0;
	__atomic_store_n(&m->owner, o, __ATOMIC_RELAXED);
}

WEFT_EXPORT int pthread_mutex_init(pthread_mutex_t *pm,
				   const pthread_mutexattr_t *attr)
{
	struct weft__mutex *m = of(pm);
	int type = PTHREAD_MUTEX_NORMAL, pshared = PTHREAD_PROCESS_PRIVATE;

	if (attr && (pthread_mutexattr_gettype(attr, &type) ||
		     pthread_mutexattr_getpshared(attr, &pshared)))
		return EINVAL;
	*pm = (pthread_mutex_t){ 0 };
	m->kind = type;
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->kind |= WEFT__PSHARED;
	return 0;
}

/* Lock the futex word w, as a mutex: 0, -EBUSY (try), -ETIMEDOUT. */
static int word_trylock(uint32_t *w, uint32_t *was)
{
	*was = 0;
	return __atomic_compare_exchange_n(w, was, 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED) ?
		       0 :
		       -EBUSY;
}

static int word_lock(uint32_t *w, int64_t deadline)
{
	uint32_t c;

	if (word_trylock(w, &c) == 0)
		return 0;
	if (c != 2)
		c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	while (c) {
		/* Not a cancellation point, nor interrupted by a handler. */
		if (weft__impl_futex_wait(w, 2, ~0u, true, deadline) ==
		    -ETIMEDOUT)
			return -ETIMEDOUT;
		c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	}
	return 0;
}

static void word_unlock(uint32_t *w)
{
	if (__atomic_fetch_sub(w, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(w, 0, __ATOMIC_RELEASE);
		weft__impl_futex_wake(w, 1, ~0u, true);
	}
}

void weft__mutex_shared_lock(struct weft__mutex *m)
{
	word_lock(&m->sh.word, -1);
}

void weft__mutex_shared_unlock(struct weft__mutex *m)
{
	word_unlock(&m->sh.word);
}

uint32_t weft__seq_enter(struct weft__seq *s)
{
	__atomic_fetch_add(&s->waiters, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&s->seq, __ATOMIC_SEQ_CST);
}

/* 0 when woken (or the word moved on), else the wait's error. */
int weft__seq_sleep(struct weft__seq *s, uint32_t seq, bool shared,
		    int64_t deadline)
{
	int r = weft__impl_futex_wait(&s->seq, seq, ~0u, shared, deadline);

	__atomic_fetch_sub(&s->waiters, 1, __ATOMIC_SEQ_CST);
	return r == -EAGAIN ? 0 : r;
}

void weft__seq_wake(struct weft__seq *s, int n, bool shared)
{
	if (!__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST))
		return;
	__atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);
	weft__impl_futex_wake(&s->seq, n, ~0u, shared);
}

void weft__plock_lock(struct weft__plock *l)
{
	word_lock(&l->word, -1);
}

void weft__plock_unlock(struct weft__plock *l)
{
	word_unlock(&l->word);
}

int weft__plock_wait(struct weft__plock *l, int64_t deadline)
{
	uint32_t seq = weft__seq_enter(&l->seq);
	int r;

	word_unlock(&l->word);
	r = weft__seq_sleep(&l->seq, seq, true, deadline);
	word_lock(&l->word, -1);
	return r == -ETIMEDOUT ? r : 0;
}

void weft__plock_wake_all(struct weft__plock *l)
{
	weft__seq_wake(&l->seq, INT_MAX, true);
}

WEFT_EXPORT int pthread_mutex_destroy(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);

	uint32_t was;

	if (weft__mutex_shared(m)) {
		if (word_trylock(&m->sh.word, &was) < 0)
			return EBUSY;
		weft__mutex_shared_unlock(m);
		return 0;
	}
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
	uint32_t was;

	if (k != PTHREAD_MUTEX_NORMAL) {
		self = weft__shim_self();
		if (owns(m, self)) {
			if (k == PTHREAD_MUTEX_ERRORCHECK)
				return how == TRY ? EBUSY : EDEADLK;
			if (m->count == UINT32_MAX)
				return EAGAIN;
			m->count++;
			return 0;
		}
	}
	if (weft__mutex_shared(m))
		r = how == TRY ? word_trylock(&m->sh.word, &was) :
				 word_lock(&m->sh.word, deadline);
	else if (how == TRY)
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

/* As glibc: the clock is checked first, the time only if it is taken. */
static int clocklock(pthread_mutex_t *pm, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d;
	int r;

	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	r = lock(of(pm), TRY, -1);
	if (r != EBUSY)
		return r;
	d = weft__wait_deadline(clock, abs);
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
	return kind(m) == PTHREAD_MUTEX_NORMAL || owns(m, weft__shim_self());
}

WEFT_EXPORT int pthread_mutex_unlock(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);
	int k = kind(m);

	if (k != PTHREAD_MUTEX_NORMAL) {
		if (!owns(m, weft__shim_self()))
			return EPERM;
		if (--m->count)
			return 0;
		set_owner(m, 0);
	}
	if (weft__mutex_shared(m)) {
		weft__mutex_shared_unlock(m);
		return 0;
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

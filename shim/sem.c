/* SPDX-License-Identifier: MIT */
/*
 * POSIX semaphores, for every caller (see mutex.c), in two kinds.
 *
 * A private one, sem_init's with pshared 0, is weft's semaphore, whose
 * post hands its unit straight to a parked virtual thread; a tag in the
 * sem_t's spare bytes marks it.
 *
 * Every other sem_t is glibc's own: sem_init's process-shared ones,
 * sem_open's (which glibc makes and lays out itself), and any the
 * program zeroed instead of initialising.  Another process may share
 * it, with the shim or without, so it keeps glibc's layout and its
 * algorithm to the letter: a 64-bit word holding the value in its low
 * half and the number of waiters above it, and a futex wait on the
 * value while it is 0.  A virtual thread's wait parks it on that futex
 * (lib/futex.c), a plain thread's blocks in futex(2).
 */
#include "shim.h"

#include <limits.h>
#include <semaphore.h>
#include <stddef.h>

#define TAG 0x6d65732074666577ULL /* "weft sem" */
#define VALUE_MASK 0xffffffffULL
#define WAITER (1ULL << 32)
#define SHARED 128 /* glibc's FUTEX_SHARED; its FUTEX_PRIVATE is 0 */

struct own {
	struct weft_sem s;
	uint64_t spare;
	uint64_t tag; /* TAG: weft's own */
};

/* glibc's struct new_sem on 64-bit targets. */
struct glibc {
	_Atomic uint64_t data; /* the value; the waiters in the high half */
	int private;	       /* SHARED, or 0: private to the process */
	int pad;
};

_Static_assert(sizeof(struct own) <= sizeof(sem_t), "sem_t holds it");
_Static_assert(sizeof(struct glibc) <= sizeof(sem_t), "glibc's too");
_Static_assert(offsetof(struct own, tag) >= sizeof(struct glibc),
	       "sem_open zeroes where the tag goes");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the futex word is the low half of glibc's data");

static inline struct own *own(sem_t *s)
{
	struct own *o = (struct own *)s;

	return o->tag == TAG ? o : NULL;
}

static inline struct glibc *glibc(sem_t *s)
{
	return (struct glibc *)s;
}

static inline uint32_t *word(struct glibc *g)
{
	return (uint32_t *)&g->data;
}

static inline bool shared(struct glibc *g)
{
	return g->private != 0;
}

static inline uint64_t load(struct glibc *g)
{
	return atomic_load_explicit(&g->data, memory_order_relaxed);
}

/* Data from *d to to, ordered as order; else *d is what it is now. */
static inline bool cas(struct glibc *g, uint64_t *d, uint64_t to,
		       memory_order order)
{
	return atomic_compare_exchange_weak_explicit(&g->data, d, to, order,
						     memory_order_relaxed);
}

WEFT_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
	if (value > SEM_VALUE_MAX)
		return weft__posix(-EINVAL);
	*s = (sem_t){ 0 };
	if (pshared) {
		glibc(s)->data = value;
		glibc(s)->private = SHARED;
		return 0;
	}
	((struct own *)s)->tag = TAG;
	return weft__posix(weft_sem_init(&((struct own *)s)->s, value));
}

WEFT_EXPORT int sem_destroy(sem_t *s)
{
	return 0;
}

/* One attempt (all: until the value is 0) to take a unit without waiting. */
static bool take(struct glibc *g, bool all)
{
	uint64_t d = load(g);

	do {
		if (!(d & VALUE_MASK))
			return false;
		if (cas(g, &d, d - 1, memory_order_acquire))
			return true;
	} while (all);
	return false;
}

/*
 * glibc's slow path: count itself a waiter, then wait on the value while
 * it is 0 and take a unit (and leave the waiters) when it is not.
 */
static int wait_glibc(struct glibc *g, int64_t deadline)
{
	uint64_t d = atomic_fetch_add_explicit(&g->data, WAITER,
					       memory_order_relaxed);
	int r;

	for (;;) {
		if (!(d & VALUE_MASK)) {
			r = weft__impl_futex_wait(word(g), 0, ~0u, shared(g),
						  deadline);
			if (r < 0 && r != -EAGAIN) { /* not woken */
				atomic_fetch_sub_explicit(&g->data, WAITER,
							  memory_order_relaxed);
				return r;
			}
			d = load(g);
		} else if (cas(g, &d, d - 1 - WAITER, memory_order_acquire)) {
			return 0;
		}
	}
}

static int timedwait(sem_t *s, int64_t deadline)
{
	struct own *o = own(s);

	if (o)
		return weft_sem_timedwait(&o->s, deadline);
	if (take(glibc(s), false))
		return 0;
	return wait_glibc(glibc(s), deadline);
}

static int do_sem_wait(sem_t *s)
{
	return weft__posix(timedwait(s, -1));
}

WEFT_EXPORT int sem_wait(sem_t *s)
{
	WEFT_POINT(int, do_sem_wait(s));
}

WEFT_EXPORT int sem_trywait(sem_t *s)
{
	struct own *o = own(s);

	if (o)
		return weft__posix(weft_sem_trywait(&o->s));
	return take(glibc(s), true) ? 0 : weft__posix(-EAGAIN);
}

/*
 * As glibc: the clock and the nanoseconds are checked first, whether the
 * semaphore is 0 or not.
 */
static int clockwait(sem_t *s, clockid_t clock, const struct timespec *abs)
{
	int64_t d = weft__wait_deadline(clock, abs);

	if (d < 0)
		return weft__posix(d);
	if (sem_trywait(s) == 0)
		return 0;
	return weft__posix(timedwait(s, d));
}

static int do_sem_timedwait(sem_t *s, const struct timespec *abs)
{
	return clockwait(s, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abs)
{
	WEFT_POINT(int, do_sem_timedwait(s, abs));
}

static int do_sem_clockwait(sem_t *s, clockid_t clock,
			    const struct timespec *abs)
{
	return clockwait(s, clock, abs);
}

WEFT_EXPORT int sem_clockwait(sem_t *s, clockid_t clock,
			      const struct timespec *abs)
{
	WEFT_POINT(int, do_sem_clockwait(s, clock, abs));
}

WEFT_EXPORT int sem_post(sem_t *s)
{
	struct own *o = own(s);
	struct glibc *g = glibc(s);
	uint64_t d;

	if (o)
		return weft__posix(weft_sem_post(&o->s));
	d = load(g);
	do {
		if ((d & VALUE_MASK) == SEM_VALUE_MAX)
			return weft__posix(-EOVERFLOW);
	} while (!cas(g, &d, d + 1, memory_order_release));
	if (d >> 32) /* waiters */
		weft__impl_futex_wake(word(g), 1, ~0u, shared(g));
	return 0;
}

WEFT_EXPORT int sem_getvalue(sem_t *s, int *ret)
{
	struct own *o = own(s);

	if (o)
		*ret = weft_sem_value(&o->s);
	else
		*ret = (int)(load(glibc(s)) & VALUE_MASK);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Unnamed POSIX semaphores on weft's, for every caller (see mutex.c).
 * A process-shared semaphore works between the threads of one process
 * only: weft's waiters are not shared memory.
 */
#include "shim.h"

#include <limits.h>
#include <semaphore.h>

static inline struct weft_sem *of(sem_t *s)
{
	return (struct weft_sem *)s;
}

_Static_assert(sizeof(struct weft_sem) <= sizeof(sem_t), "sem_t holds it");

WEFT_EXPORT int sem_init(sem_t *s, int pshared, unsigned value)
{
	if (value > SEM_VALUE_MAX)
		return weft__posix(-EINVAL);
	*s = (sem_t){ 0 };
	return weft__posix(weft_sem_init(of(s), value));
}

WEFT_EXPORT int sem_destroy(sem_t *s)
{
	return 0;
}

static int do_sem_wait(sem_t *s)
{
	return weft__posix(weft_sem_wait(of(s)));
}

WEFT_EXPORT int sem_wait(sem_t *s)
{
	WEFT_POINT(int, do_sem_wait(s));
}

WEFT_EXPORT int sem_trywait(sem_t *s)
{
	return weft__posix(weft_sem_trywait(of(s)));
}

/* As glibc: the time is looked at only when the semaphore is 0. */
static int clockwait(sem_t *s, clockid_t clock, const struct timespec *abs)
{
	int64_t d;

	if (weft_sem_trywait(of(s)) == 0)
		return 0;
	d = weft__deadline(clock, abs);
	if (d < 0)
		return weft__posix(d);
	return weft__posix(weft_sem_timedwait(of(s), d));
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
	return weft__posix(weft_sem_post(of(s)));
}

WEFT_EXPORT int sem_getvalue(sem_t *s, int *ret)
{
	*ret = weft_sem_value(of(s));
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* pthread condition variables on weft's, for every caller (see mutex.c). */
#include "sync.h"

static inline struct weft__cond *of(pthread_cond_t *pc)
{
	return (struct weft__cond *)pc;
}

WEFT_EXPORT int pthread_cond_init(pthread_cond_t *pc,
				  const pthread_condattr_t *attr)
{
	clockid_t clock = CLOCK_REALTIME;

	if (attr && pthread_condattr_getclock(attr, &clock))
		return EINVAL;
	*pc = (pthread_cond_t){ 0 };
	of(pc)->clock = clock;
	return 0;
}

WEFT_EXPORT int pthread_cond_destroy(pthread_cond_t *pc)
{
	return 0;
}

WEFT_EXPORT int pthread_cond_signal(pthread_cond_t *pc)
{
	return -weft_cond_signal(&of(pc)->c);
}

WEFT_EXPORT int pthread_cond_broadcast(pthread_cond_t *pc)
{
	return -weft_cond_broadcast(&of(pc)->c);
}

/* Wait until deadline (-1: none); 0 or ETIMEDOUT, the mutex held again. */
static int wait(pthread_cond_t *pc, pthread_mutex_t *pm, int64_t deadline)
{
	struct weft__mutex *m = (struct weft__mutex *)pm;
	unsigned count;
	bool in;
	int r;

	if (!weft__mutex_owned(m))
		return EPERM;
	in = weft__point_enter();
	count = weft__mutex_release(m);
	r = weft_cond_timedwait(&of(pc)->c, &m->m, deadline);
	weft__mutex_reown(m, count);
	/* Cancelled, the thread holds the mutex again, as POSIX wants. */
	weft__point_leave(in, r == -EINTR);
	return r == -ETIMEDOUT ? ETIMEDOUT : 0;
}

WEFT_EXPORT int pthread_cond_wait(pthread_cond_t *pc, pthread_mutex_t *pm)
{
	return wait(pc, pm, -1);
}

static int clockwait(pthread_cond_t *pc, pthread_mutex_t *pm, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d = weft__deadline(clock, abs);

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

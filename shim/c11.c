/* SPDX-License-Identifier: MIT */
/*
 * C11's <threads.h>.  glibc implements it on its pthread functions,
 * called inside libc where the shim cannot see them: its threads would
 * be kernel threads, its waits would block the carrier, and its thrd_t
 * for a virtual thread glibc's idea of the carrier.  So the shim maps
 * each call onto its own pthread functions, as glibc maps them onto its
 * own, with the same results (thrd_success, thrd_nomem, thrd_timedout,
 * thrd_busy, thrd_error).  mtx_t, cnd_t, tss_t and once_flag are
 * glibc's pthread types underneath, so the shim's layouts fit them.
 */
#include "shim.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
/* As pthread_equal in pthread.c: glibc's inline copy takes another name. */
#define thrd_equal glibc_thrd_equal
#include <threads.h>
#undef thrd_equal

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t");
_Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag");

/* glibc's thrd_err_map. */
static int map(int err)
{
	switch (err) {
	case 0:
		return thrd_success;
	case ENOMEM:
		return thrd_nomem;
	case ETIMEDOUT:
		return thrd_timedout;
	case EBUSY:
		return thrd_busy;
	default:
		return thrd_error;
	}
}

struct start {
	thrd_start_t fn;
	void *arg;
};

/* A C11 thread's int result travels in the pointer, as in glibc. */
static void *start(void *arg)
{
	struct start s = *(struct start *)arg;

	free(arg);
	return (void *)(intptr_t)s.fn(s.arg);
}

WEFT_EXPORT int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
	struct start *s = malloc(sizeof(*s));
	int r;

	if (!s)
		return thrd_nomem;
	s->fn = fn;
	s->arg = arg;
	r = pthread_create(thr, NULL, start, s);
	if (r)
		free(s);
	return map(r);
}

WEFT_EXPORT int thrd_join(thrd_t thr, int *res)
{
	void *ret;
	int r = pthread_join(thr, &ret);

	if (!r && res)
		*res = (int)(intptr_t)ret;
	return map(r);
}

WEFT_EXPORT int thrd_detach(thrd_t thr)
{
	return map(pthread_detach(thr));
}

WEFT_EXPORT thrd_t thrd_current(void)
{
	return pthread_self();
}

WEFT_EXPORT int thrd_equal(thrd_t a, thrd_t b)
{
	return pthread_equal(a, b);
}

WEFT_EXPORT _Noreturn void thrd_exit(int res)
{
	pthread_exit((void *)(intptr_t)res);
}

/* As glibc: -1 when a signal interrupted it, -2 for any other failure. */
WEFT_EXPORT int thrd_sleep(const struct timespec *d, struct timespec *rem)
{
	int r = clock_nanosleep(CLOCK_REALTIME, 0, d, rem);

	return r == 0 ? 0 : r == EINTR ? -1 : -2;
}

WEFT_EXPORT void thrd_yield(void)
{
	sched_yield();
}

WEFT_EXPORT int mtx_init(mtx_t *m, int type)
{
	pthread_mutexattr_t a;
	int r;

	pthread_mutexattr_init(&a);
	if (type == (mtx_plain | mtx_recursive) ||
	    type == (mtx_timed | mtx_recursive))
		pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	r = pthread_mutex_init((pthread_mutex_t *)m, &a);
	pthread_mutexattr_destroy(&a);
	return map(r);
}

WEFT_EXPORT int mtx_lock(mtx_t *m)
{
	return map(pthread_mutex_lock((pthread_mutex_t *)m));
}

WEFT_EXPORT int mtx_timedlock(mtx_t *restrict m,
			      const struct timespec *restrict abs)
{
	return map(pthread_mutex_timedlock((pthread_mutex_t *)m, abs));
}

WEFT_EXPORT int mtx_trylock(mtx_t *m)
{
	return map(pthread_mutex_trylock((pthread_mutex_t *)m));
}

WEFT_EXPORT int mtx_unlock(mtx_t *m)
{
	return map(pthread_mutex_unlock((pthread_mutex_t *)m));
}

WEFT_EXPORT void mtx_destroy(mtx_t *m)
{
	pthread_mutex_destroy((pthread_mutex_t *)m);
}

WEFT_EXPORT int cnd_init(cnd_t *c)
{
	return map(pthread_cond_init((pthread_cond_t *)c, NULL));
}

WEFT_EXPORT int cnd_signal(cnd_t *c)
{
	return map(pthread_cond_signal((pthread_cond_t *)c));
}

WEFT_EXPORT int cnd_broadcast(cnd_t *c)
{
	return map(pthread_cond_broadcast((pthread_cond_t *)c));
}

WEFT_EXPORT int cnd_wait(cnd_t *c, mtx_t *m)
{
	return map(
		pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m));
}

WEFT_EXPORT int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m,
			      const struct timespec *restrict abs)
{
	return map(pthread_cond_timedwait((pthread_cond_t *)c,
					  (pthread_mutex_t *)m, abs));
}

WEFT_EXPORT void cnd_destroy(cnd_t *c)
{
	pthread_cond_destroy((pthread_cond_t *)c);
}

WEFT_EXPORT int tss_create(tss_t *k, tss_dtor_t d)
{
	return map(pthread_key_create(k, d));
}

WEFT_EXPORT void *tss_get(tss_t k)
{
	return pthread_getspecific(k);
}

WEFT_EXPORT int tss_set(tss_t k, void *v)
{
	return map(pthread_setspecific(k, v));
}

WEFT_EXPORT void tss_delete(tss_t k)
{
	pthread_key_delete(k);
}

WEFT_EXPORT void call_once(once_flag *o, void (*fn)(void))
{
	pthread_once((pthread_once_t *)o, fn);
}

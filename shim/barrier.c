/* SPDX-License-Identifier: MIT */
/*
 * pthread barriers on weft's mutex and condition variable, for every
 * caller.  A barrier has no static initialiser, so pthread_barrier_init
 * allocates the state and the pthread_barrier_t holds a pointer to it.
 */
#include "shim.h"

#include <pthread.h>
#include <stdlib.h>

struct barrier {
	struct weft_mutex m;
	struct weft_cond c;
	unsigned count;	  /* threads that make a round */
	unsigned arrived; /* in this round */
	unsigned round;	  /* bumped as each round completes */
	unsigned inside;  /* threads not yet out of wait: destroy waits */
};

static inline struct barrier **of(pthread_barrier_t *b)
{
	return (struct barrier **)b;
}

WEFT_EXPORT int pthread_barrier_init(pthread_barrier_t *b,
				     const pthread_barrierattr_t *attr,
				     unsigned count)
{
	struct barrier *x;

	if (count == 0)
		return EINVAL;
	x = WEFT_ALLOC(shim_barrier, calloc(1, sizeof(*x)));
	if (!x)
		return ENOMEM;
	x->count = count;
	*of(b) = x;
	return 0;
}

/* The last to arrive is the serial thread, as POSIX names it. */
WEFT_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct barrier *x = *of(b);
	unsigned round;
	int r = 0;

	weft_mutex_lock(&x->m);
	x->inside++;
	round = x->round;
	if (++x->arrived == x->count) {
		x->arrived = 0;
		x->round++;
		weft_cond_broadcast(&x->c);
		r = PTHREAD_BARRIER_SERIAL_THREAD;
	} else {
		while (x->round == round)
			weft_cond_wait(&x->c, &x->m);
	}
	if (--x->inside == 0)
		weft_cond_broadcast(&x->c);
	weft_mutex_unlock(&x->m);
	return r;
}

/* Waits for the last round's threads to leave, so that it may be freed. */
WEFT_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	struct barrier *x = *of(b);

	weft_mutex_lock(&x->m);
	if (x->arrived) {
		weft_mutex_unlock(&x->m);
		return EBUSY;
	}
	while (x->inside)
		weft_cond_wait(&x->c, &x->m);
	weft_mutex_unlock(&x->m);
	free(x);
	*of(b) = NULL;
	return 0;
}

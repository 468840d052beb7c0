/* SPDX-License-Identifier: MIT */
/*
 * pthread barriers on weft's mutex and condition variable, for every
 * caller.  A barrier has no static initialiser, so pthread_barrier_init
 * allocates the state and the pthread_barrier_t holds a pointer to it.
 * A process-shared barrier cannot point into one process: its state is
 * in the pthread_barrier_t itself, under a process-shared lock (sync.h).
 */
#include "sync.h"

#include <stdlib.h>

#define TAG 0x72726162 /* "barr": a process-shared barrier, in place */

struct counts {
	unsigned count;	  /* threads that make a round */
	unsigned arrived; /* in this round */
	unsigned round;	  /* bumped as each round completes */
	unsigned inside;  /* threads not yet out of wait: destroy waits */
};

struct barrier {
	struct weft_mutex m;
	struct weft_cond c;
	struct counts n;
};

struct pbarrier {
	struct weft__plock pl;
	struct counts n;
	uint32_t tag; /* TAG; 0 where a private barrier's pointer is */
};

_Static_assert(sizeof(struct pbarrier) <= sizeof(pthread_barrier_t),
	       "pthread_barrier_t holds a process-shared barrier");

/* One barrier or the other, behind one set of calls. */
struct which {
	struct barrier *x;
	struct pbarrier *p;
	struct counts *n;
};

static struct which which(pthread_barrier_t *b)
{
	struct pbarrier *p = (struct pbarrier *)b;
	struct barrier *x = *(struct barrier **)b;

	if (p->tag == TAG)
		return (struct which){ NULL, p, &p->n };
	return (struct which){ x, NULL, &x->n };
}

static void lock(struct which w)
{
	if (w.p)
		weft__plock_lock(&w.p->pl);
	else
		weft_mutex_lock(&w.x->m);
}

static void unlock(struct which w)
{
	if (w.p)
		weft__plock_unlock(&w.p->pl);
	else
		weft_mutex_unlock(&w.x->m);
}

static void broadcast(struct which w)
{
	if (w.p)
		weft__plock_wake_all(&w.p->pl);
	else
		weft_cond_broadcast(&w.x->c);
}

static void wait(struct which w)
{
	if (w.p)
		weft__plock_wait(&w.p->pl, -1);
	else
		weft_cond_wait(&w.x->c, &w.x->m);
}

WEFT_EXPORT int pthread_barrier_init(pthread_barrier_t *b,
				     const pthread_barrierattr_t *attr,
				     unsigned count)
{
	int pshared = PTHREAD_PROCESS_PRIVATE;
	struct pbarrier *p = (struct pbarrier *)b;
	struct barrier *x;

	if (count == 0)
		return EINVAL;
	if (attr && pthread_barrierattr_getpshared(attr, &pshared))
		return EINVAL;
	*b = (pthread_barrier_t){ 0 };
	if (pshared == PTHREAD_PROCESS_SHARED) {
		p->n.count = count;
		p->tag = TAG;
		return 0;
	}
	x = WEFT_ALLOC(shim_barrier, calloc(1, sizeof(*x)));
	if (!x)
		return ENOMEM;
	x->n.count = count;
	*(struct barrier **)b = x;
	return 0;
}

/* The last to arrive is the serial thread, as POSIX names it. */
WEFT_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	struct which w = which(b);
	struct counts *n = w.n;
	unsigned round;
	int r = 0;

	lock(w);
	n->inside++;
	round = n->round;
	if (++n->arrived == n->count) {
		n->arrived = 0;
		n->round++;
		broadcast(w);
		r = PTHREAD_BARRIER_SERIAL_THREAD;
	} else {
		while (n->round == round)
			wait(w);
	}
	if (--n->inside == 0)
		broadcast(w);
	unlock(w);
	return r;
}

/* Waits for the last round's threads to leave, so that it may be freed. */
WEFT_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
	struct which w = which(b);

	lock(w);
	if (w.n->arrived) {
		unlock(w);
		return EBUSY;
	}
	while (w.n->inside)
		wait(w);
	unlock(w);
	if (w.p) {
		w.p->tag = 0;
		return 0;
	}
	free(w.x);
	*(struct barrier **)b = NULL;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* How the shim lays weft's mutex and condition out in glibc's objects. */
#ifndef WEFT_SHIM_SYNC_H
#define WEFT_SHIM_SYNC_H

#include <pthread.h>
#include <stddef.h>

#include "shim.h"

/*
 * In a pthread_mutex_t.  kind sits where glibc keeps __kind, so that
 * PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP and its kin work unchanged; an
 * all-zero mutex is a free normal one, as PTHREAD_MUTEX_INITIALIZER is.
 */
struct weft__mutex {
	struct weft_mutex m;
	int kind;	 /* PTHREAD_MUTEX_* in its low bits */
	unsigned count;	 /* recursive: times locked by the owner */
	uintptr_t owner; /* recursive, errorcheck: its pthread_self() */
};

_Static_assert(sizeof(struct weft__mutex) <= sizeof(pthread_mutex_t),
	       "pthread_mutex_t holds weft's mutex");
_Static_assert(offsetof(struct weft__mutex, kind) ==
		       offsetof(pthread_mutex_t, __data.__kind),
	       "kind where glibc's static initialisers put it");

/* In a pthread_cond_t; all-zero is PTHREAD_COND_INITIALIZER. */
struct weft__cond {
	struct weft_cond c;
	clockid_t clock; /* of timedwait's deadlines; 0 is CLOCK_REALTIME */
};

_Static_assert(sizeof(struct weft__cond) <= sizeof(pthread_cond_t),
	       "pthread_cond_t holds weft's condition");
_Static_assert(CLOCK_REALTIME == 0, "a zeroed condition waits on realtime");

/* mutex.c: for the condition variable's wait. */
hidden bool weft__mutex_owned(struct weft__mutex *m);
/* Hand the mutex's ownership over to the wait, and take it back. */
hidden unsigned weft__mutex_release(struct weft__mutex *m);
hidden void weft__mutex_reown(struct weft__mutex *m, unsigned count);

#endif

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
 * A process-shared mutex (WEFT__PSHARED in kind, where glibc keeps its
 * own) is not weft's, whose waiters are this process's, but a futex word
 * that threads of every process sharing it wait on.  So is a robust one
 * (WEFT__ROBUST), in glibc's own layout, as mutex.c says.
 */
struct weft__mutex {
	union {
		struct weft_mutex m;
		struct {
			uint32_t word; /* 0 free, 1 taken, 2 waited for */
			int pid;       /* recursive, errorcheck: the owner's */
			int state;     /* robust: consistent or not */
		} sh;
	};
	int kind;	 /* PTHREAD_MUTEX_* in its low bits */
	unsigned count;	 /* recursive: times locked by the owner */
	uintptr_t owner; /* recursive, errorcheck, robust: pthread_self() */
	void *next;	 /* robust, held: the next on the process's list */
};

#define WEFT__ROBUST 16	  /* glibc's PTHREAD_MUTEX_ROBUST_NORMAL_NP */
#define WEFT__PSHARED 128 /* glibc's PTHREAD_MUTEX_PSHARED_BIT */

_Static_assert(sizeof(struct weft__mutex) <= sizeof(pthread_mutex_t),
	       "pthread_mutex_t holds weft's mutex");
_Static_assert(offsetof(struct weft__mutex, kind) ==
		       offsetof(pthread_mutex_t, __data.__kind),
	       "kind where glibc's static initialisers put it");
_Static_assert(offsetof(struct weft__mutex, sh.state) ==
		       offsetof(pthread_mutex_t, __data.__owner),
	       "a robust mutex's state where glibc keeps it");
_Static_assert(offsetof(struct weft__mutex, next) ==
		       offsetof(pthread_mutex_t, __data.__list.__next),
	       "a robust mutex's link where glibc keeps it");

/*
 * In a pthread_cond_t; all-zero is PTHREAD_COND_INITIALIZER.  Waits with
 * a process-shared mutex, and every wait on a process-shared condition,
 * wait on seq, which signals and broadcasts wake too.
 */
/*
 * A futex condition's word: bumped by a wake while anyone waits, which
 * a waiter counts itself in for and reads before it lets its lock go,
 * so a wake after that changes the word before it can sleep on it.
 */
struct weft__seq {
	uint32_t seq;
	uint32_t waiters;
};

/* mutex.c: count in and read the word; sleep on what was read; wake n. */
hidden uint32_t weft__seq_enter(struct weft__seq *s);
hidden int weft__seq_sleep(struct weft__seq *s, uint32_t seq, bool shared,
			   int64_t deadline);
hidden void weft__seq_wake(struct weft__seq *s, int n, bool shared);

struct weft__cond {
	struct weft_cond c;
	clockid_t clock; /* of timedwait's deadlines; 0 is CLOCK_REALTIME */
	int pshared;
	struct weft__seq seq;
};

_Static_assert(sizeof(struct weft__cond) <= sizeof(pthread_cond_t),
	       "pthread_cond_t holds weft's condition");
_Static_assert(CLOCK_REALTIME == 0, "a zeroed condition waits on realtime");

/*
 * mutex.c: for the condition variable's wait.  A process-shared or
 * robust mutex is a futex word, not weft's mutex.
 */
static inline bool weft__mutex_shared(const struct weft__mutex *m)
{
	return m->kind & WEFT__PSHARED;
}

static inline bool weft__mutex_by_word(const struct weft__mutex *m)
{
	return m->kind & (WEFT__PSHARED | WEFT__ROBUST);
}

hidden bool weft__mutex_owned(struct weft__mutex *m);
/*
 * Such a mutex's word: lock it (forever: 0, or EOWNERDEAD holding it, or
 * ENOTRECOVERABLE not), and unlock it.
 */
hidden int weft__mutex_word_lock(struct weft__mutex *m);
hidden void weft__mutex_word_unlock(struct weft__mutex *m);
/* Hand the mutex's ownership over to the wait, and take it back. */
hidden unsigned weft__mutex_release(struct weft__mutex *m);
hidden void weft__mutex_reown(struct weft__mutex *m, unsigned count);
/*
 * A process-shared lock with a condition, for the process-shared rwlocks
 * and barriers (mutex.c): word as a process-shared mutex's, seq as a
 * process-shared condition's.  All-zero is free, with no waiters.
 */
struct weft__plock {
	uint32_t word;
	struct weft__seq seq;
};

hidden void weft__plock_lock(struct weft__plock *l);
hidden void weft__plock_unlock(struct weft__plock *l);
/* Wait for a wake, l held, until deadline (-1: none): 0 or -ETIMEDOUT. */
hidden int weft__plock_wait(struct weft__plock *l, int64_t deadline);
hidden void weft__plock_wake_all(struct weft__plock *l);

/* lib/mutex.c: lock m again, whatever cancellation says. */
hidden void weft__mutex_relock(struct weft_mutex *m);

#endif

/* SPDX-License-Identifier: MIT */
/* The object behind a pthread_t of a virtual thread, and its keys. */
#ifndef WEFT_SHIM_PT_H
#define WEFT_SHIM_PT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

#include "shim.h"

#define PT_MAGIC 0x5446455754485244ull /* tells ours from glibc's */
#define KEY_BLOCK 32
#define NR_KEY_BLOCKS (PTHREAD_KEYS_MAX / KEY_BLOCK)

/* pthread join states: a thread and its detacher race to free the object. */
enum { PT_RUNNING, PT_DETACHED, PT_EXITED };

/* A key's value in one thread; valid while seq matches the key's. */
struct weft__key_value {
	unsigned seq;
	void *value;
};

/*
 * What pthread_create hands back.  Freed by the joiner, or by the thread
 * itself or its detacher, whichever comes last (state says which).
 */
struct weft__pthread {
	uint64_t magic; /* PT_MAGIC; a glibc thread has a pointer here */
	struct weft_thread *t;
	void *(*fn)(void *);
	void *arg;
	void *ret;	   /* fn's value, or pthread_exit's */
	atomic_uint state; /* PT_* */
	char name[16];	   /* pthread_setname_np's; "" is the program's */
	struct weft__pthread *sig_next; /* signal.c, under its lock */
	bool sig_queued, sig_gone;
	struct weft__key_value *keys[NR_KEY_BLOCKS]; /* allocated on use */
};

/* pthread.c */
/* The caller's object if it is a virtual thread, made on first use. */
hidden struct weft__pthread *weft__pt_self(void);
hidden struct weft__pthread *weft__pt_new(void *(*fn)(void *), void *arg);
hidden int weft__pt_start(struct weft__pthread *pt, size_t stack_size,
			  bool detached);

/* signal.c */
/* pthread_kill of a virtual thread: 0 or an errno. */
hidden int weft__signal_thread(struct weft__pthread *pt, int sig);
/* pt ends: signals no longer reach it. */
hidden void weft__signal_forget(struct weft__pthread *pt);
/* pt runs main: the process's signals interrupt it. */
hidden void weft__signal_main(struct weft__pthread *pt);

/* key.c */
/* Run the thread's key destructors, then free its values. */
hidden void weft__keys_exit(struct weft__pthread *pt);
/*
 * Give pt the values the calling plain thread has for every key; false
 * if there was no memory for them all.
 */
hidden bool weft__keys_inherit(struct weft__pthread *pt);
/* Free pt's values, running no destructor (pt never ran). */
hidden void weft__keys_drop(struct weft__pthread *pt);

#endif

/* SPDX-License-Identifier: MIT */
/* The object behind a pthread_t of a virtual thread, and its keys. */
#ifndef WEFT_SHIM_PT_H
#define WEFT_SHIM_PT_H

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <ucontext.h>
#include <unwind.h>

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
	/* cancel.c: the thread's own, but for cancel_req */
	atomic_uint cancel_req;	       /* pthread_cancel was called */
	int cancel_state, cancel_type; /* PTHREAD_CANCEL_* */
	bool in_point;		       /* in a cancellation point */
	bool in_call;		       /* in any: see weft__point_enter_slow */
	bool exiting;		       /* unwinding: no more cancellation */
	unsigned nopoint;	       /* syscall(): none of its calls is one */
	__pthread_unwind_buf_t *unwind_buf;	 /* innermost cleanup, C's */
	struct _pthread_cleanup_buffer *cleanup; /* older API's cleanups */
	struct _Unwind_Exception exc; /* the forced unwind of exit, cancel */
	/* jump.c: a siglongjmp a handler elsewhere made for this thread */
	struct __jmp_buf_tag *_Atomic jump_env;
	int jump_val;
	struct weft__pthread *jump_next; /* signal.c, under its lock */
	/* sched.c: what the thread was given, not what it runs with */
	cpu_set_t *affinity;
	size_t affinity_size;
	int policy, priority; /* valid if sched_set */
	bool sched_set;
};

/* pthread.c */
/* The caller's object if it is a virtual thread, made on first use. */
hidden struct weft__pthread *weft__pt_self(void);
hidden struct weft__pthread *weft__pt_new(void *(*fn)(void *), void *arg);
hidden void weft__pt_free(struct weft__pthread *pt);
hidden int weft__pt_start(struct weft__pthread *pt, size_t stack_size,
			  bool detached, bool home);

/*
 * The end of a thread, by return, pthread_exit, cancellation or SYS_exit
 * (keys: run its key and thread_local destructors).
 */
hidden void weft__pt_end(struct weft__pthread *pt, void *ret, bool keys);

/*
 * mutex.c: the robust mutexes self holds are its no more, for it ended;
 * and the process's robust list, given to the kernel on carrier 0
 * before the runtime starts and again in a fork's child.
 */
hidden void weft__robust_died(uintptr_t self);
hidden void weft__robust_start(void);
/* sandbox.c: syscall(SYS_seccomp, a[0]...), -1 and errno. */
hidden long weft__seccomp(const long *a);
/* Is th a virtual thread's?  Its weft thread, if it has one. */
hidden bool weft__pt_ours(pthread_t th);
hidden struct weft_thread *weft__pt_thread(struct weft__pthread *pt);

/* cancel.c */
/* pthread_exit: unwind the caller's stack, run its cleanups, end it. */
hidden __attribute__((noreturn)) void weft__pt_exit(struct weft__pthread *pt,
						    void *ret);

/* signal.c and jump.c: the handlers running on this kernel thread. */
struct weft__frame {
	struct weft__frame *prev; /* the handler this one interrupted */
	void *abandon[5];	  /* __builtin_setjmp's: as if it returned */
	uint64_t before;	  /* weft__impl_handler_enter's, if entered */
	const ucontext_t *uc;	  /* what it interrupted; NULL: raise's */
	bool async;		  /* counted in weft__in_handler */
	bool entered;		  /* by the kernel, through the trampoline */
};

hidden extern __thread struct weft__frame *weft__frames
	__attribute__((tls_model("initial-exec")));
/* signal.c: pt is to take the jump jump.c left it, soon. */
hidden void weft__signal_jump(struct weft__pthread *pt);

/* jump.c: take the jump a handler elsewhere left pt, if any, now. */
hidden void weft__jump_pending(struct weft__pthread *pt);

/* tls.c */
/* Before the runtime: the main program's TLS per virtual thread. */
hidden void weft__tls_setup(void);
/* On main's thread, first: the values the constructors left. */
hidden void weft__tls_main(void);
/* The thread ends: its thread_local objects' destructors. */
hidden void weft__tls_end(void);

/* signal.c */
/* pthread_kill (value NULL) or pthread_sigqueue of a virtual thread. */
hidden int weft__signal_thread(struct weft__pthread *pt, int sig,
			       const union sigval *value);
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

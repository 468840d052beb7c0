/* SPDX-License-Identifier: MIT */
/* The runtime's structures: virtual threads, carriers, waiters, timers. */
#ifndef WEFT_RUNTIME_H
#define WEFT_RUNTIME_H

#include <pthread.h>
#include <signal.h>
#include <liburing.h>

#include "internal.h"
#include "obs.h"
#include "weft.h"

struct weft__carrier;

/*
 * A waiter is the one park/wake record everything blocks on: a CQE, a
 * timer, a mutex, a condition variable, a join.  Exactly one party moves
 * state from WAITING to a final value and that party alone wakes the
 * thread: this is what makes a timeout racing a wake-up safe.  A waiter
 * lives on the stack of the thread that waits.
 */
enum {
	WEFT_WAITING = 0,
	WEFT_WOKEN,
	WEFT_TIMEDOUT,
	WEFT_CANCELLED,
};

struct weft__waiter {
	struct weft__waiter *next, *prev; /* in a wait queue, under its lock;
					   * a ring wait's next: ring.c */
	struct weft_thread *thread; /* NULL: a plain kernel thread (futex) */
	atomic_uint state;	    /* WEFT_WAITING until one party decides */
	int32_t res;		    /* the CQE's result for ring waits */
	int32_t cause;	/* why it was cancelled, set before the CAS */
	uintptr_t data; /* a ring wait's struct weft__multi, or 0 */
	int kind;	/* WEFT__WAIT_*: what a signal does to it (shim) */
	struct weft__note note; /* what it waits on, for dumps (obs.h) */
};

/*
 * What a signal handler does to a wait, natively: I/O (and sem_wait)
 * returns EINTR if the handler lacks SA_RESTART, sleeps, polls and
 * sem_timedwait whatever its flags, and other waits (locks, joins) go on.
 */
enum { WEFT__WAIT_OTHER, WEFT__WAIT_IO, WEFT__WAIT_ALWAYS };

/*
 * Waiting on several SQEs at once (ring.c): the first completion, or the
 * deadline, wakes the thread; then it stays parked until every SQE it
 * submitted has completed, because the kernel may still use its memory.
 * Only the owning carrier touches pending and all.
 */
struct weft__multi {
	struct weft__waiter w;	 /* the parked thread's own waiter */
	struct weft__waiter *ws; /* one for each SQE */
	int n;
	unsigned pending; /* SQEs not yet completed */
	bool all;	  /* wake only when pending reaches 0 */
	unsigned why;	  /* WEFT_TIMEDOUT/CANCELLED: what ended the wait */
	int cause;	  /* and w.cause then */
};

/* A deadline in a carrier's heap; owned and touched by that carrier only. */
struct weft__timer {
	int64_t deadline;
	uint32_t idx;		  /* position in the heap, TIMER_IDLE, _OVER */
	struct weft__waiter *w;	  /* timed out when the deadline passes */
	struct weft__timer *next; /* in the overflow list (timer.c) */
};
#define TIMER_IDLE UINT32_MAX
#define TIMER_OVER (UINT32_MAX - 1)

/*
 * A cancel scope (cancel.c).  Scopes nest: a thread's innermost scope's
 * parent chain runs through its group's scope to the owner's scopes, so a
 * check walks up until a shield.  cause is set once, by the first cancel.
 */
struct weft__scope {
	struct weft__scope *parent;
	int64_t deadline; /* absolute, or -1 */
	atomic_int cause; /* 0, or -ECANCELED / -ETIMEDOUT */
	bool shield;	  /* parents' cancellation stops here */
};

struct weft__group;

/* What a member needs of its group's settings, copied at spawn (group.c). */
#define WEFT__MEMBER_FIRST_SUCCESS 0x100u
#define WEFT__MEMBER_LIMITED 0x200u

/*
 * What a canceller needs to reach a thread, virtual or plain (a plain
 * thread's lives in TLS): the wait it is parked on, and the groups it
 * owns, so that cancellation flows down to their members.
 */
struct weft__ctl {
	struct weft_spin lock;	    /* guards wait and groups */
	struct weft__waiter *wait;  /* parked on this; NULL when running */
	struct weft__group *groups; /* open groups it owns, innermost first */
	struct weft__scope *scope;  /* innermost; set by the thread itself */
	atomic_uint interrupted;    /* an edge cancellation is pending: 1 +
				       the least wait kind it fails */
	/*
	 * The shim's pthread_cancel: the thread is in a cancellation point
	 * (set by the thread), and a cancel came there before it blocked
	 * (set by a canceller under lock, consumed only inside a point).
	 */
	atomic_bool point, point_intr;
	struct weft__ctxval *values; /* context values (ctxval.c) */
};

/* join states of a thread, see thread.c */
enum {
	WEFT_JOIN_RUNNING = 0,
	WEFT_JOIN_DETACHED,
	WEFT_JOIN_WAITING,
	WEFT_JOIN_ENDING, /* the ending side holds the joiner's waiter */
	WEFT_JOIN_DONE,
};

/*
 * The control block sits at the top of the thread's own stack, so a
 * thread costs one allocation and its first page holds both.
 */
/* A live thread's magic; 0 once its stack is freed (thread.c). */
#define WEFT_THREAD_MAGIC 0x74666577u

struct weft_thread {
	void *sp; /* saved stack pointer while off-CPU */
	/* WEFT_THREAD_MAGIC while valid; read unlocked through stale handles */
	_Atomic uint32_t magic;
	unsigned gen;		       /* weft__rt.gen it belongs to (fork) */
	struct weft_thread *next;      /* run queue or inbox link */
	struct weft__carrier *carrier; /* home; NULL until it first runs */
	uint32_t flags;		       /* WEFT_SPAWN_*, WEFT__MEMBER_* */
	int saved_errno;	       /* errno is carrier TLS: kept here */
	atomic_uint join;	       /* WEFT_JOIN_*, see thread.c */
	bool stack_guarded;	       /* see stack.c */
	struct weft__waiter *joiner;   /* valid in WEFT_JOIN_WAITING */
	/* An ended thread that switched here, to finalise (sched.c) */
	struct weft_thread *inherit;
	intptr_t (*fn)(void *);
	void *arg;
	intptr_t result;
	struct weft__timer timer; /* on the heap of ->carrier */
	void *stack_lo;		  /* lowest usable byte, above the guard */
	size_t stack_size;    /* usable bytes, control block and colour in */
	uint32_t stack_class; /* see stack.c */
	unsigned valgrind_id;
	uint64_t id;
	const char *name;
	void *asan_fake;	   /* AddressSanitizer's fake stack */
	void *tsan_fiber;	   /* ThreadSanitizer's context for it */
	void *specific;		   /* for the shim's pthread keys */
	struct weft__multi *multi; /* ring.c: the ring wait it is parked in */
	struct weft__ctl ctl;	   /* cancellation, see cancel.c */
	struct weft__group *group; /* member of, or NULL */
	struct weft_thread *sibling, *sibling_prev; /* in group->members */
	struct weft__future *future; /* where the value goes, or NULL */
	struct weft__thread_obs obs; /* registry, wait, trace (obs.h) */
	void *tp;	  /* its own TLS' thread pointer (tls.c), or NULL */
	uint64_t sigmask; /* its signal mask, when masks are (sched.c) */
	unsigned pin;	  /* > 0: a migratable one stays put (sched.c) */
	/* The carrier whose ->live counts it, or NULL: weft__rt.live. */
	struct weft__carrier *live_home;
};

/* A carrier's own few free stacks of one size class (stack.c). */
#define WEFT_STACK_CLASSES 13
struct weft__stack_cache {
	uintptr_t e[64]; /* filled and drained half at a time */
	unsigned n;
};

struct weft__queue {
	struct weft_thread *head, *tail;
};

/*
 * A carrier's ring of new and migratable threads: only the carrier
 * pushes, anyone takes (sched.c).  Go's local run queue, in C11 atomics.
 * Its slots are at the carrier's end, away from the fields a switch reads.
 */
#define WEFT_LOCALQ 256
struct weft__localq {
	_Atomic uint32_t head; /* next to take: advanced by CAS */
	_Atomic uint32_t tail; /* next free: the owner's to advance */
};

/* What the monitor remembers of a carrier (monitor.c); the monitor's own. */
struct weft__watch {
	unsigned tick;		/* c->tick at the last look */
	int64_t probe;		/* the first look that saw no pick, or -1 */
	int64_t own;		/* its own time since then, see monitor.c */
	int64_t last, last_cpu; /* the last look, and its CPU time then */
	int64_t wanted;	    /* since when its steal queue found nobody, or -1 */
	int64_t idle_since; /* asleep in its ring since, or -1 */
	unsigned idle_tick; /* c->tick when that sleep began */
};

/*
 * A carrier is a kernel thread with a ring, a run queue and a timer heap.
 * Fields marked "owner" are touched by the carrier's own kernel thread only.
 */
struct weft__carrier {
	struct io_uring ring; /* owner: SINGLE_ISSUER */
	int index;
	bool adopted; /* weft_main's caller, not our pthread */
	/* owner: waited to take more than its share of later's (sched.c) */
	bool patient;
	struct weft__carrier *later;
	unsigned later_tick; /* later->tick when the wait began */
	/* owner: saw young's new threads up to young_end at young_since */
	struct weft__carrier *young;
	uint32_t young_end;
	int64_t young_since;
	pthread_t pthread;
	void *sched_sp;	      /* owner: the scheduler's context */
	void *sched_fake;     /* owner: its AddressSanitizer fake stack */
	void *sched_tsan;     /* owner: its ThreadSanitizer fiber */
	void *sched_stack_lo; /* owner: for sanitizer annotations */
	size_t sched_stack_size;
	struct weft_thread *current; /* owner: running thread or NULL */
	struct weft_thread *dead;    /* owner: exited, to finalise */
	struct weft_thread *yielded; /* owner: yielded, to queue again */
	void (*after_park)(void);    /* owner: run once the current parks */
	struct weft__queue runq;     /* owner: runnable pinned threads */
	atomic_uint tick; /* picks, for fairness; written by the owner only */
	_Atomic(struct weft_thread *) inbox; /* wake-ups from elsewhere */
	struct weft__localq localq;  /* new and migratable threads (sched.c) */
	struct weft_spin steal_lock; /* guards stealq */
	struct weft__queue stealq;   /* more of them: others', localq's spill */
	atomic_uint nr_steal;	     /* in stealq */
	struct weft__timer **heap;   /* owner: min-heap on deadline */
	uint32_t heap_len, heap_cap; /* heap_len: every timer, over's too */
	struct weft__timer *over;    /* owner: armed when the heap was full */
	uint32_t nr_over;
	unsigned inflight;    /* owner: SQEs not yet completed */
	unsigned unsubmitted; /* owner: SQEs not yet submitted */
	struct weft__waiter *backlog, **backlog_end; /* owner: see ring.c */
	int efd; /* eventfd others write to wake us */
	uint64_t efd_buf;
	bool efd_armed;	      /* owner: a read on efd is in flight */
	atomic_int sleeping;  /* in io_uring_enter, wants a write */
	atomic_int napping;   /* sleeping, to wake soon: NAP_* (sched.c) */
	void *altstack;	      /* for the stack overflow handler */
	stack_t old_altstack; /* the thread's own, given back as it leaves */
	struct weft__stack_cache stack_cache[WEFT_STACK_CLASSES]; /* owner */
	struct { /* owner: group members that ended here */
		struct weft__group *group; /* all of one group */
		struct weft_thread *head, *tail;
		unsigned n;
	} ended;
	uint64_t next_id, end_id; /* owner: thread ids it may hand out */
	int setup_err;		  /* result of ring setup, for the starter */
	void *tp; /* owner: its kernel thread's thread pointer, once known */
	uint64_t sigmask; /* owner: the thread mask its kernel thread has */
	bool signals;	  /* takes the process's signals (sched.c) */
	/* weft__impl_lend's: the thread a handler borrowed, its TLS before */
	struct weft_thread *lent;
	void *lent_tp;
	struct weft__carrier_obs obs; /* counters, registry (obs.h) */
	/* monitor.c */
	pid_t tid;	      /* its kernel thread, for /proc and its clock */
	atomic_int live;      /* threads counted here, not rt.live (thread.c) */
	atomic_int live_owed; /* of them, ended: its own to write */
	atomic_uint nr_pinned; /* threads that came home: its own to write */
	atomic_uint nr_gone;   /* of them, those that moved on since */
	atomic_bool stuck;     /* the monitor says so: plain spawns avoid it */
	atomic_uint leave; /* an extra carrier asked to leave: WEFT_LEAVE_* */
	struct weft__watch watch; /* the monitor's */
	void *stack; /* an extra carrier's, mapped by the monitor */
	size_t stack_len;
	_Atomic(struct weft_thread *) localq_slot[WEFT_LOCALQ];
};

/* What the monitor saw since the runtime started; written by the monitor. */
struct weft__monitor_counts {
	atomic_ulong stuck;	    /* times a carrier was found stuck */
	atomic_ulong stuck_ns;	    /* time carriers spent stuck, summed */
	atomic_ulong extra_started; /* extra carriers started */
	atomic_uint extra_peak;	    /* most extra carriers at one time */
};

/*
 * carriers[0, nr_carriers) are the running carriers: the nr_base started
 * with the runtime, then the monitor's extra ones.  carriers[] has room
 * for nr_slots from the start; only the monitor changes nr_carriers.
 */
struct weft__runtime {
	atomic_int state; /* RT_STOPPED, RT_RUNNING */
	atomic_int nr_carriers;
	struct weft__carrier **carriers;
	void *carriers_mem; /* the slots carriers[] points into */
	sigset_t sigmask;   /* the starter's: the program's threads' mask */
	/*
	 * Zero when no virtual thread is left: the carriers whose ->live is
	 * not zero, and threads counted here directly (thread.c).
	 */
	atomic_uint live;
	atomic_bool stopping;	 /* carriers leave their loops */
	atomic_uint nr_sleeping; /* carriers asleep in the ring */
	atomic_uint ready;	 /* carriers that finished setup */
	atomic_uint rr;		 /* round robin for plain spawns */
	atomic_ulong next_id;
	unsigned gen; /* bumped in each fork child: older handles are gone */
	atomic_uint ring_flags; /* the setup flags the kernel took */
	bool stop_when_idle;	/* weft_main: stop when live hits 0 */
	bool masks;		/* each thread has its signal mask (shim) */
	/* The thread the process's signals are for, or NULL (shim) */
	struct weft_thread *_Atomic signals_thread;

	/* monitor.c */
	int nr_base, nr_slots;
	sigset_t carrier_mask;	    /* what carriers (and the monitor) block */
	atomic_uint monitor_asleep; /* until a carrier leaves its ring */
	struct weft__monitor_counts monitor;
};

hidden extern struct weft__runtime weft__rt;

/* sched.c */
/*
 * The calling kernel thread's carrier, NULL off the runtime.  Read afresh
 * at every call, never cached by the optimiser: a value read before a
 * park must not be reused after it (sched.c, Migration).  On x86-64 an
 * opaque load inline, the instructions the compiler itself emits for
 * initial-exec TLS; elsewhere a call the optimiser cannot see into.
 */
#if defined(__x86_64__)
hidden extern __thread struct weft__carrier *weft__tls_carrier
	__attribute__((tls_model("initial-exec")));

static inline struct weft__carrier *weft__carrier_self(void)
{
	struct weft__carrier *c;

	__asm__ volatile("movq weft__tls_carrier@gottpoff(%%rip), %0\n\t"
			 "movq %%fs:(%0), %0"
			 : "=r"(c)
			 :
			 : "memory");
	return c;
}
#else
hidden struct weft__carrier *weft__carrier_self(void);
#endif
hidden struct weft_thread *weft__self(void);
hidden void weft__park(void);
hidden void weft__sigmask_inherit(struct weft_thread *t);
hidden void weft__ready(struct weft_thread *t);
/* c: weft__carrier_self() of the spawner, NULL on a plain thread. */
hidden void weft__enqueue_new(struct weft__carrier *c, struct weft_thread *t);
/* New and migratable threads waiting on c, to run or to steal. */
hidden unsigned weft__stealable(struct weft__carrier *c);
/* c's own: its lock-free queue into the locked one (dump.c). */
hidden void weft__localq_spill(struct weft__carrier *c);
hidden void weft__enqueue_local(struct weft__carrier *c, struct weft_thread *t);
hidden void weft__exit_current(void) __attribute__((noreturn));
hidden void weft__landed(struct weft_thread *t);
hidden int weft__runtime_start(void);
/*
 * weft_main() with the root thread's attributes; catch_signals: SIGINT
 * and SIGTERM cancel the root scope (the API's), or keep their native
 * meaning (the shim's).
 */
hidden intptr_t weft__main(intptr_t (*fn)(void *), void *arg,
			   const struct weft_spawn_attr *attr,
			   bool catch_signals);
hidden void weft__runtime_idle(void);
hidden void *weft__carrier_main(void *arg);
hidden void weft__carrier_free(struct weft__carrier *c);

/* monitor.c */
enum { WEFT_LEAVE_NONE, WEFT_LEAVE_ASKED, WEFT_LEAVE_GONE };
hidden int weft__carriers_alloc(unsigned n);
hidden void weft__carriers_free(void);
hidden int weft__monitor_start(void);
hidden bool weft__monitor_stop(void);
hidden void weft__monitor_wake(void);
hidden bool weft__monitor_leave(struct weft__carrier *c);
hidden struct weft__carrier *weft__monitor_place(void);
hidden void weft__monitor_home(struct weft__carrier *c, struct weft_thread *t);
/* Live threads that call c home; one of them ends, on c. */
hidden unsigned weft__monitor_pinned(struct weft__carrier *c);
hidden void weft__monitor_unpin(struct weft__carrier *c);
/* No carrier starts or leaves while held: fork, a thread dump. */
hidden void weft__monitor_hold(void);
hidden void weft__monitor_release(void);
hidden void weft__monitor_fork_child(struct weft__carrier *self);

/* tls.c: TLS of its own for a thread (weftimpl.h) */
hidden bool weft__tls_on(void);
hidden void *weft__tls_get(void);
hidden void weft__tls_put(void *tp);
hidden void weft__tls_set(void *tp);
hidden void weft__tls_enter(struct weft__carrier *c, struct weft_thread *t);
hidden void weft__tls_first(void);

/* thread.c */
hidden struct weft_thread *weft__thread_new(intptr_t (*fn)(void *), void *arg,
					    const struct weft_spawn_attr *attr,
					    int *ret_err);
hidden void weft__thread_start(struct weft_thread *t);
/* Carrier c, the calling one, took n threads counted on v (thread.c). */
hidden void weft__live_move(struct weft__carrier *c, struct weft__carrier *v,
			    int n);
/* Virtual threads not yet finalised, summed; for statistics. */
hidden unsigned weft__live_threads(void);
hidden int weft__live_here(struct weft__carrier *c);
hidden void weft__live_settle(struct weft__carrier *c);
/* 0, or why t is no handle: -EINVAL (NULL, stale), -ECHILD (fork). */
hidden int weft__thread_check(const struct weft_thread *t);
hidden void weft__thread_finalise(struct weft__carrier *c,
				  struct weft_thread *t);
/* Ending t's joiner, parked on c and now woken, to run next; or NULL. */
hidden struct weft_thread *weft__joiner_at_hand(struct weft__carrier *c,
						struct weft_thread *t);

/* stack.c */
hidden struct weft_thread *weft__stack_alloc(size_t size);
hidden void weft__stack_free(struct weft_thread *t);
hidden int weft__stack_init(void);
hidden void weft__stack_fini(void);
/* fork: hold every pool still across it; the child drops other carriers'. */
hidden void weft__stack_fork_lock(void);
hidden void weft__stack_fork_unlock(void);
/* A carrier that left: its cached stacks go back to the pools. */
hidden void weft__stack_cache_flush(struct weft__carrier *c);
hidden bool weft__stack_overflowed(const struct weft_thread *t, void *addr);
hidden size_t weft__stack_default(void);
/* For tests: stacks made, and of those waiting in pools; see stack.c. */
hidden void weft__stack_counts(size_t *ret_made, size_t *ret_pooled);
hidden int64_t weft__stack_trim(int64_t now);
hidden void weft__stack_monitor_trims(bool on);
hidden size_t weft__stack_keep(size_t size);

/* pool.c */
hidden void weft__pool_stop(void);
hidden void weft__pool_fork_child(void);

/* timer.c */
hidden void weft__timer_arm(struct weft__carrier *c, struct weft__timer *tm);
hidden void weft__timer_disarm(struct weft__carrier *c, struct weft__timer *tm);
hidden int64_t weft__timer_next(struct weft__carrier *c);
hidden void weft__timer_fire(struct weft__carrier *c, int64_t now);

/* ring.c */
hidden int weft__ring_init(struct weft__carrier *c);
hidden void weft__ring_exit(struct weft__carrier *c);
hidden struct io_uring_sqe *weft__ring_sqe(struct weft__carrier *c);
/* Make room in the SQ for n SQEs to be prepared in a row (a link). */
hidden void weft__ring_reserve(struct weft__carrier *c, unsigned n);
hidden int weft__ring_wait(struct weft__carrier *c, struct io_uring_sqe *sqe);
hidden int weft__ring_wait_close(struct weft__carrier *c,
				 struct io_uring_sqe *sqe);
hidden int weft__ring_wait_any(struct weft__carrier *c,
			       struct io_uring_sqe **sqes,
			       struct weft__waiter *ws, int n, int64_t deadline,
			       int kind);
hidden void weft__ring_poll(struct weft__carrier *c, bool block,
			    int64_t deadline);
hidden void weft__ring_kick(struct weft__carrier *c);
hidden bool weft__ring_keep_parked(struct weft__carrier *c,
				   struct weft_thread *t);
hidden void weft__ring_efd_close(struct weft__carrier *c);

/* wait.c */
hidden void weft__waiter_init(struct weft__waiter *w);
hidden int weft__waiter_wait(struct weft__waiter *w, int64_t deadline);
hidden int weft__waiter_wait_cancel(struct weft__waiter *w, int64_t deadline);

/* ctxval.c */
struct weft__ctxval;
hidden struct weft__ctxval *weft__ctxval_get(struct weft__ctxval *v);
hidden void weft__ctxval_put(struct weft__ctxval *v);

/* cancel.c */
hidden struct weft__ctl *weft__ctl_self(void);
hidden int weft__cancel_check(struct weft__ctl *ctl, int kind);
hidden int weft__scope_cause(struct weft__scope *s);
hidden int64_t weft__cancel_deadline(struct weft__ctl *ctl, int64_t deadline);
/*
 * The wake-ups a cancellation decided, made once every lock is let go: a
 * thread whose waiter was claimed stays parked until woken, so it cannot
 * go away meanwhile, and members that end need their group's lock.  They
 * are linked through the threads' run queue links, which a parked thread
 * does not use: no allocation, so no failure.  A plain thread's futex is
 * woken at once.
 */
struct weft__wakes {
	struct weft_thread *head;
};
hidden void weft__wakes_init(struct weft__wakes *b);
hidden void weft__wakes_flush(struct weft__wakes *b);
hidden void weft__cancel_wake(struct weft__ctl *ctl, struct weft__group *stop,
			      struct weft__wakes *b);
hidden int weft__cancel_register(struct weft__ctl *ctl, struct weft__waiter *w);
hidden void weft__cancel_unregister(struct weft__ctl *ctl);
hidden bool weft__waiter_claim(struct weft__waiter *w);
hidden bool weft__waiter_claim_as(struct weft__waiter *w, unsigned state);
hidden void weft__wake(struct weft_thread *t, atomic_uint *word);
hidden bool weft__waiter_wake(struct weft__waiter *w);
hidden void weft__wq_push(struct weft__waiter **head, struct weft__waiter *w);
hidden void weft__wq_push_head(struct weft__waiter **head,
			       struct weft__waiter *w);
hidden struct weft__waiter *weft__wq_pop(struct weft__waiter **head);
hidden void weft__wq_remove(struct weft__waiter **head, struct weft__waiter *w);

/* sys.c */
hidden int64_t weft__now(void);
hidden int weft__futex_wait(atomic_uint *word, unsigned val, int64_t deadline);
hidden void weft__futex_wake(atomic_uint *word, int n);
/* A futex lock for the runtime's own rare paths (never pthread's). */
struct weft__lock {
	atomic_uint v;
};
hidden void weft__lock(struct weft__lock *l);
hidden void weft__unlock(struct weft__lock *l);
hidden int weft__env_uint(const char *name, unsigned min, unsigned max,
			  unsigned dflt, unsigned *ret);

#endif

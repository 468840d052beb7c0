/* SPDX-License-Identifier: MIT */
/*
 * Observability: the counters (stats.c) and the records of what parked
 * threads wait on (dump.c), with the few hooks the runtime calls.
 *
 * Everything here costs a handful of plain stores on the hot path: each
 * carrier counts into a block of its own, on cache lines of its own, and
 * only its kernel thread writes it; the totals are summed when printed.
 */
#ifndef WEFT_OBS_H
#define WEFT_OBS_H

#include <stdint.h>

#include "internal.h"

struct weft_thread;
struct weft__carrier;
struct weft__waiter;
struct weft__trace;
struct io_uring_sqe;

/* What a waiter waits on: the kind of wait, set where the thread parks. */
enum {
	WEFT__ON_NOTHING = 0, /* not said */
	WEFT__ON_RING,	      /* io_uring operations: op, fd, addr, n */
	WEFT__ON_SLEEP,	      /* a deadline alone */
	WEFT__ON_MUTEX,	      /* obj: the weft_mutex */
	WEFT__ON_COND,	      /* obj: the weft_cond */
	WEFT__ON_SEM,	      /* obj: the weft_sem */
	WEFT__ON_CHAN,	      /* obj: the weft_chan */
	WEFT__ON_JOIN,	      /* obj: the weft_thread joined */
	WEFT__ON_GROUP,	      /* obj: the group joined */
	WEFT__ON_FUTURE,      /* obj: the future */
	WEFT__ON_POOL,	      /* a call on the blocking pool */
};

struct weft__note {
	uint8_t on;   /* WEFT__ON_* */
	uint8_t op;   /* ring: the first SQE's opcode */
	uint16_t n;   /* ring: how many SQEs (a poll of several fds) */
	int32_t fd;   /* ring: the first SQE's fd */
	uint64_t obj; /* the object waited on; ring: the first SQE's addr */
};

#define weft__note(w, what, object)                     \
	((w)->note = (struct weft__note){ .on = (what), \
					  .obj = (uintptr_t)(object) })

/*
 * A virtual thread's part.  next and prev link it into the registry of
 * live threads (dump.c): its carrier's, owner-only, or for a migratable
 * thread the global list under a lock.  wait is set by the thread itself
 * while it is parked on a waiter; trace by a carrier that dumps it.
 */
struct weft__thread_obs {
	struct weft_thread *next, *prev;
	struct weft__waiter *wait;
	struct weft__trace *trace;
};

/*
 * What only a carrier's own kernel thread writes: its counters, summed
 * when printed, and the registry of the threads pinned to it.
 */
#define WEFT__NR_OPS 64
struct weft__own {
	uint64_t switches;	      /* a thread given the CPU */
	uint64_t steals;	      /* work taken from another carrier */
	uint64_t cancelled;	      /* waits ended by a cancellation */
	uint64_t created;	      /* threads spawned from its threads */
	struct weft_thread *registry; /* the threads pinned here */
	unsigned seen;		      /* the last dump it took part in */
	uint64_t ops[WEFT__NR_OPS];   /* SQEs submitted, by opcode */
};

/*
 * 64 bytes on each side keep every other field, and every other
 * carrier's, off the cache lines of own, however calloc aligned them.
 */
struct weft__carrier_obs {
	char before[64];
	struct weft__own own;
	char after[64];
};

/*
 * Owner-only counters: plain increments, one instruction.  A printer
 * elsewhere reads them relaxed and may see a count a moment old.
 */
#define WEFT_STAT(c, field) ((c)->obs.own.field++)
#define weft__obs_op(c, opcode) \
	((c)->obs.own.ops[(opcode) & (WEFT__NR_OPS - 1)]++)

/*
 * The registry (dump.c): a thread joins its carrier's owner-only list
 * when it first runs and leaves it when finalised; a migratable thread,
 * which may run anywhere, joins the global list under a lock instead.
 */
#define weft__registry_add(c, t)                                    \
	do {                                                        \
		struct weft_thread **h_ = &(c)->obs.own.registry;   \
                                                                    \
		if (unlikely((t)->flags & WEFT_SPAWN_MIGRATABLE)) { \
			weft__registry_add_mig(t);                  \
		} else {                                            \
			(t)->obs.prev = NULL;                       \
			(t)->obs.next = *h_;                        \
			if (*h_)                                    \
				(*h_)->obs.prev = (t);              \
			*h_ = (t);                                  \
		}                                                   \
	} while (0)

#define weft__registry_del(t)                                              \
	do {                                                               \
		struct weft_thread **h_ = &(t)->carrier->obs.own.registry; \
                                                                           \
		if (unlikely((t)->flags & WEFT_SPAWN_MIGRATABLE)) {        \
			weft__registry_del_mig(t);                         \
		} else {                                                   \
			if ((t)->obs.prev)                                 \
				(t)->obs.prev->obs.next = (t)->obs.next;   \
			else                                               \
				*h_ = (t)->obs.next;                       \
			if ((t)->obs.next)                                 \
				(t)->obs.next->obs.prev = (t)->obs.prev;   \
		}                                                          \
	} while (0)

/* ---- hooks: sched.c ---- */

/* run(): thread t gets carrier c's CPU (t->carrier not yet updated). */
#define weft__obs_run(c, t)                       \
	do {                                      \
		WEFT_STAT(c, switches);           \
		if (unlikely(!(t)->carrier))      \
			weft__registry_add(c, t); \
	} while (0)

/* A thread back from a switch: a dumping carrier may want its trace. */
#define weft__obs_resumed(t)                     \
	do {                                     \
		while (unlikely((t)->obs.trace)) \
			weft__dump_here(t);      \
	} while (0)

/* The top of a carrier's loop: a dump is asked for or under way. */
hidden extern atomic_uint weft__dump_word;
#define weft__obs_poll(c)                                                 \
	do {                                                              \
		if (unlikely(atomic_load_explicit(&weft__dump_word,       \
						  memory_order_relaxed))) \
			weft__dump_poll(c);                               \
	} while (0)

/* stats.c */
/* The runtime starts (carriers allocated, not yet running) and stops. */
hidden void weft__obs_start(void);
hidden void weft__obs_stop(bool ran);
/* A fork child keeps only self (the forking thread t, or none). */
hidden void weft__obs_fork_child(struct weft__carrier *self,
				 struct weft_thread *t);
/* A thread was started: n threads are now live (only if peak_on). */
hidden extern atomic_uint weft__stats_peak;
hidden extern bool weft__stats_peak_on;
hidden void weft__stats_peak_slow(unsigned n);
static inline void weft__stats_live(unsigned n)
{
	if (unlikely(n > atomic_load_explicit(&weft__stats_peak,
					      memory_order_relaxed)))
		weft__stats_peak_slow(n);
}
/* A wait of t (NULL: a plain thread) ended by a cancellation. */
hidden void weft__stats_cancelled(struct weft_thread *t);
/* A thread was spawned from a plain thread (no carrier to count it). */
hidden void weft__stats_created_plain(void);
/* The current thread of c parks on sqes[0..n) with waiter w. */
hidden void weft__obs_ring(struct weft__carrier *c, struct weft__waiter *w,
			   struct io_uring_sqe **sqes, int n);

/*
 * The monitor's figures (lib/monitor.c): compensating carriers started,
 * the most at once, and the time carriers spent stuck (spinning, or
 * blocked outside io_uring).  Weak: the stats table prints "-" for them
 * until a module defines it.
 */
struct weft__monitor_stats {
	uint64_t compensating; /* extra carriers started */
	uint64_t peak;	       /* most extra carriers at once */
	uint64_t blocked_ns;   /* time carriers spent stuck */
};
hidden void weft__monitor_stats(struct weft__monitor_stats *ret)
	__attribute__((weak));

/* The name of an io_uring opcode ("READ"), or NULL (stats.c). */
hidden const char *weft__op_name(unsigned op);

/* dump.c */
hidden void weft__registry_add_mig(struct weft_thread *t);
hidden void weft__registry_del_mig(struct weft_thread *t);
hidden void weft__dump_here(struct weft_thread *t);
hidden void weft__dump_poll(struct weft__carrier *c);
hidden void weft__dump_start(void);
hidden void weft__dump_stop(void);
hidden void weft__dump_fork_child(struct weft__carrier *self,
				  struct weft_thread *t);

#endif

/* SPDX-License-Identifier: MIT */
/* Thread groups and futures: the structures behind weft.h's (group.c). */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "runtime.h"

/* Why a group was cancelled; the first reason sticks. */
enum {
	GROUP_OWNER = 1, /* weft_group_cancel, or the scope left early */
	GROUP_FAILURE,	 /* fail-fast: a member failed */
	GROUP_SUCCESS,	 /* first-success: a member succeeded */
	GROUP_OUTER,	 /* an enclosing scope was cancelled */
	GROUP_DEADLINE,	 /* the group's deadline passed */
};

/* FINISHED: weft_group_fini let go of the list of failures. */
enum { GROUP_OPEN = 1, GROUP_JOINING, GROUP_JOINED, GROUP_FINISHED };

#define GROUP_MAGIC 0x70756f72u	 /* opened once: the storage is a group */
#define FUTURE_MAGIC 0x75747566u /* until the future is freed */

struct weft__failure {
	uint64_t id;
	int status;
};

struct weft__group {
	struct weft__scope scope;    /* the parent scope of every member */
	uint32_t magic;		     /* GROUP_MAGIC once opened */
	unsigned gen;		     /* weft__rt.gen of its owner (fork) */
	struct weft_spin lock;	     /* guards everything below */
	struct weft__ctl *owner;     /* only the owner joins */
	struct weft__group *outer;   /* next in owner->groups */
	struct weft_thread *members; /* members not reaped, by sibling links */
	atomic_uint live;	     /* members that have not ended */
	struct weft_thread *_Atomic ended; /* not reaped yet, by next links */
	unsigned since_reap;		   /* spawns since the last reap */
	int state;			   /* GROUP_OPEN ... */
	int policy;			   /* WEFT_FAIL_FAST ... */
	int reason;			   /* GROUP_* once cancelled */
	int result;			   /* of the join */
	unsigned limit;			   /* max_concurrency, 0: none */
	struct weft_sem slots;		   /* free places under the limit */
	struct weft__waiter *joiner; /* the owner, waiting for live == 0 */
	struct weft__failure first;  /* the first real failure */
	struct weft__failure *more;  /* the others, malloc'd */
	unsigned nr_failures, cap;
	unsigned nr_kept; /* of them listable: memory ran out for the rest */
};

struct weft__future {
	uint32_t magic;	      /* FUTURE_MAGIC */
	unsigned gen;	      /* weft__rt.gen of its thread (fork) */
	atomic_uint released; /* by its holder: a second time is -EINVAL */
	atomic_uint refs;     /* the thread's and the holder's */
	atomic_uint done;
	int status; /* 0, a failure, or -ECANCELED */
	intptr_t value;
	struct weft_spin lock;
	struct weft__waiter *waiters;
};

hidden void weft__group_wake(struct weft__group *g, struct weft__wakes *b);
hidden void weft__group_cancel(struct weft__group *g, int reason);
hidden void weft__group_member_done(struct weft_thread *t);
hidden bool weft__group_member_gone(struct weft__carrier *c,
				    struct weft_thread *t);
hidden void weft__group_flush_ended(struct weft__carrier *c);
hidden struct weft__scope *weft__root_scope(void);
hidden void weft__root_cancel(void);
hidden void weft__root_set_owner(struct weft__ctl *ctl);
hidden void weft__root_join(int64_t grace);
hidden void weft__root_fork_lock(void);
hidden void weft__root_fork_unlock(void);
hidden void weft__group_fork_child(struct weft_thread *self);
/* For thread dumps: is g the root group? */
hidden bool weft__group_is_root(const struct weft__group *g);

#endif

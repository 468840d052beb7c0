/* SPDX-License-Identifier: MIT */
/*
 * Thread groups: structured concurrency.
 *
 * A group is opened by its owner, who alone joins it; every thread
 * spawned into it is joined before the join returns.  While it is open
 * the owner's innermost scope is the group's, and so is the parent scope
 * of every member: cancelling the group reaches its members, the owner's
 * own body, and (through the members' scopes) every group they opened.
 *
 * A member's value in [-4095, -1] is a failure, unless it is -ECANCELED
 * or -ETIMEDOUT while its scopes are cancelled: then it was cancelled.
 * Policies: fail-fast cancels the group at the first real failure,
 * supervise lets every member finish, first-success cancels at the first
 * success.  The join returns the first real failure; else -ETIMEDOUT if
 * the group's deadline fired, -ECANCELED if an enclosing scope was
 * cancelled, 0 otherwise (the owner cancelling its own group included).
 *
 * Lifetime.  The group lives in its owner's storage, which may go away
 * as soon as the join returns, that is, as soon as live reaches 0: a
 * member that ends touches the group last when it counts itself out, and
 * wakes the owner with what it copied before.
 *
 * Reaping.  A member that has ended stays on the member list, where a
 * cancellation's walk finds it harmless (no wait, no groups), and keeps
 * its stack.  Taking itself off would write its neighbours, last written
 * by spawns on another CPU, under a lock that both CPUs' members fight
 * for, and every member would move the group's cache lines between CPUs:
 * on two carriers that was most of what a group cost over bare
 * spawn+join.  Instead the scheduler, once off the member's stack
 * (weft__group_member_gone), adds it to its carrier's batch of ended
 * members of one group, and hands the batch over (weft__group_flush_ended:
 * one push on the group's ended list, one count for them all) when it is
 * full, before the carrier runs a thread of another group or none, and
 * before it waits: so only the group's own members can delay its join.
 * The join, when every member has ended, empties the list and frees the
 * stacks; so does every REAP_EVERY-th spawn for those ended so far, which
 * bounds what a long-lived group holds.  The root group, which nobody
 * joins until the end, unlinks and frees each member as it ends.
 */
#include <stdlib.h>
#include <string.h>

#include "group.h"

_Static_assert(sizeof(struct weft__group) <= sizeof(struct weft_group),
	       "struct weft_group is too small");

#define REAP_EVERY 64
#define ENDED_BATCH 64
#define WAKE_BATCH 64 /* members a cancel wakes between two flushes */

static bool is_failure(intptr_t v)
{
	return v < 0 && v >= -4095;
}

/*
 * Is g a group (opened once; the storage is the caller's, so a magic
 * number is all there is to check), of this process (-ECHILD: opened in
 * the parent of a fork by a thread that stayed behind)?
 */
static int valid(const struct weft__group *g, bool here)
{
	if (!g || g->magic != GROUP_MAGIC)
		return -EINVAL;
	if (here && unlikely(g->gen != weft__rt.gen))
		return -ECHILD;
	return 0;
}

/*
 * A group's state is written by its owner only (open, join), and read
 * by spawners and cancellers on any thread: atomically, on both sides.
 */
static int state_of(const struct weft__group *g)
{
	return __atomic_load_n(&g->state, __ATOMIC_ACQUIRE);
}

static void set_state(struct weft__group *g, int state)
{
	__atomic_store_n(&g->state, state, __ATOMIC_RELEASE);
}

/*
 * Is g one of the groups ctl has open?  Not g's own fields: storage never
 * opened, or left by a group joined long ago, may hold anything, even
 * the image of an open group.
 */
static bool owns(struct weft__ctl *ctl, const struct weft__group *g)
{
	bool found = false;

	weft__spin_lock(&ctl->lock);
	for (struct weft__group *o = ctl->groups; o && !found; o = o->outer)
		found = o == g;
	weft__spin_unlock(&ctl->lock);
	return found;
}

int weft_group_open(struct weft_group *wg, const struct weft_group_opts *o)
{
	struct weft__group *g = (struct weft__group *)wg;
	struct weft_group_opts none = { 0 };
	struct weft__ctl *ctl = weft__ctl_self();

	if (!g)
		return -EINVAL;
	if (!o)
		o = &none;
	if (owns(ctl, g))
		return -EBUSY; /* open already: not joined yet */
	memset(g, 0, sizeof(*g));
	g->result = -EINVAL;
	if (o->policy < WEFT_FAIL_FAST || o->policy > WEFT_FIRST_SUCCESS ||
	    o->deadline < 0 || o->max_concurrency > INT32_MAX)
		return -EINVAL;
	g->magic = GROUP_MAGIC;
	g->gen = weft__rt.gen;
	g->scope.parent = ctl->scope;
	g->scope.deadline = o->deadline ? o->deadline : -1;
	g->owner = ctl;
	g->policy = o->policy;
	g->limit = o->max_concurrency;
	weft_sem_init(&g->slots, g->limit);
	set_state(g, GROUP_OPEN);
	g->result = 0;
	weft__spin_lock(&ctl->lock);
	g->outer = ctl->groups;
	ctl->groups = g;
	weft__spin_unlock(&ctl->lock);
	ctl->scope = &g->scope;
	return 0;
}

/*
 * Wake every member of g whose wait is now cancelled, and their groups',
 * into b.  With early, b is flushed every WAKE_BATCH members on the way:
 * a member's lines are still in the cache, and the other carriers start
 * on theirs while the walk goes on.
 * Only for the group being cancelled, where no lock but g's is held, and
 * not the root, whose members unlink themselves under g's lock as they
 * end: an ended member of any other stays on the list until its owner
 * reaps it, so the walk may go on past it.
 */
static void wake_members(struct weft__group *g, struct weft__wakes *b,
			 bool early)
{
	unsigned n = 0;

	weft__spin_lock(&g->lock);
	for (struct weft_thread *t = g->members; t; t = t->sibling) {
		weft__cancel_wake(&t->ctl, NULL, b);
		if (early && ++n % WAKE_BATCH == 0)
			weft__wakes_flush(b);
	}
	weft__spin_unlock(&g->lock);
}

void weft__group_wake(struct weft__group *g, struct weft__wakes *b)
{
	wake_members(g, b, false);
}

void weft__group_cancel(struct weft__group *g, int reason)
{
	struct weft__wakes b;
	struct weft__ctl *owner;
	int zero = 0;

	weft__spin_lock(&g->lock);
	if (g->reason || state_of(g) >= GROUP_JOINED) {
		weft__spin_unlock(&g->lock);
		return;
	}
	g->reason = reason;
	atomic_compare_exchange_strong(&g->scope.cause, &zero,
				       reason == GROUP_DEADLINE ? -ETIMEDOUT :
								  -ECANCELED);
	owner = g->owner; /* the root's changes: read it under the lock */
	weft__spin_unlock(&g->lock);
	weft__wakes_init(&b);
	wake_members(g, &b, !weft__group_is_root(g));
	/* The owner's body, and groups it opened inside this one. */
	if (owner)
		weft__cancel_wake(owner, g, &b);
	weft__wakes_flush(&b);
}

int weft_group_cancel(struct weft_group *wg)
{
	int r = valid((struct weft__group *)wg, true);

	if (r)
		return r;
	weft__group_cancel((struct weft__group *)wg, GROUP_OWNER);
	return 0;
}

/* Is a member that ended with v cancelled rather than failed? */
static bool cancelled_end(struct weft_thread *t, intptr_t v)
{
	return (v == -ECANCELED || v == -ETIMEDOUT) &&
	       weft__cancel_check(&t->ctl, WEFT__WAIT_OTHER) != 0;
}

/* Count a failure, and keep it unless memory ran out (then the rest too). */
static void record(struct weft__group *g, struct weft_thread *t, int v)
{
	struct weft__failure f = { t->id, v };

	g->nr_failures++;
	if (g->nr_kept != g->nr_failures - 1)
		return;
	if (g->nr_kept == 0) {
		g->first = f;
	} else {
		if (g->nr_kept - 1 == g->cap) {
			unsigned cap = g->cap ? 2 * g->cap : 8;
			struct weft__failure *m =
				WEFT_ALLOC(alloc_group_failures,
					   realloc(g->more, cap * sizeof(*m)));

			if (!m)
				return;
			g->more = m;
			g->cap = cap;
		}
		g->more[g->nr_kept - 1] = f;
	}
	g->nr_kept++;
}

static void future_done(struct weft__future *f, int status, intptr_t value)
{
	struct weft__waiter *w;

	f->status = status;
	f->value = value;
	weft__spin_lock(&f->lock);
	atomic_store(&f->done, 1);
	while ((w = weft__wq_pop(&f->waiters)))
		weft__waiter_wake(w);
	weft__spin_unlock(&f->lock);
	if (atomic_fetch_sub(&f->refs, 1) == 1) {
		f->magic = 0;
		free(f);
	}
}

static void root_member_done(struct weft__group *g, struct weft_thread *t);

void weft__group_member_done(struct weft_thread *t)
{
	struct weft__group *g = t->group;
	intptr_t v = t->result;
	bool failed = is_failure(v) && !cancelled_end(t, v);
	int status = is_failure(v) ? (int)v : 0, cancel = 0;

	/*
	 * The policy is set at open: a success under it needs no lock, and
	 * not even g's cache line, which the owner's spawns keep writing.
	 */
	if (failed) {
		weft__spin_lock(&g->lock);
		record(g, t, status);
		weft__spin_unlock(&g->lock);
		if (g->policy == WEFT_FAIL_FAST)
			cancel = GROUP_FAILURE;
	} else if (!is_failure(v) && (t->flags & WEFT__MEMBER_FIRST_SUCCESS)) {
		cancel = GROUP_SUCCESS;
	}
	if (t->future)
		future_done(t->future, status, v);
	if (cancel)
		weft__group_cancel(g, cancel);
	if (t->flags & WEFT__MEMBER_LIMITED)
		weft_sem_post(&g->slots);

	if (weft__group_is_root(g))
		root_member_done(g, t);
}

/* Take t off g's member list; g locked. */
static void unlink_member(struct weft__group *g, struct weft_thread *t)
{
	if (t->sibling_prev)
		t->sibling_prev->sibling = t->sibling;
	else
		g->members = t->sibling;
	if (t->sibling)
		t->sibling->sibling_prev = t->sibling_prev;
}

/* Count n members out: the last one wakes the owner if it waits. */
static void count_out(struct weft__group *g, unsigned n)
{
	struct weft__waiter *w = NULL;
	struct weft_thread *owner = NULL;
	unsigned live = atomic_load_explicit(&g->live, memory_order_relaxed);

	/* Not the last: g outlives this, as the join waits for live == 0. */
	while (live > n)
		if (atomic_compare_exchange_weak(&g->live, &live, live - n))
			return;
	weft__spin_lock(&g->lock);
	if (atomic_fetch_sub(&g->live, n) == n && g->joiner &&
	    weft__waiter_claim(g->joiner)) {
		w = g->joiner;
		owner = w->thread;
	}
	weft__spin_unlock(&g->lock);
	if (w)
		weft__wake(owner, &w->state);
}

/* The last touch of the root group: take t off, then count it out. */
static void root_member_done(struct weft__group *g, struct weft_thread *t)
{
	weft__spin_lock(&g->lock);
	unlink_member(g, t);
	weft__spin_unlock(&g->lock);
	count_out(g, 1);
}

/* Push a chain of n ended members on g's list, then count them out. */
static void hand_over(struct weft__group *g, struct weft_thread *head,
		      struct weft_thread *tail, unsigned n)
{
	tail->next = atomic_load_explicit(&g->ended, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		&g->ended, &tail->next, head, memory_order_release,
		memory_order_relaxed))
		;
	/* They may be reaped from here: only g. */
	count_out(g, n);
}

/* Hand c's batch of ended members over to their group (see Reaping). */
void weft__group_flush_ended(struct weft__carrier *c)
{
	unsigned n = c->ended.n;

	if (!n)
		return;
	hand_over(c->ended.group, c->ended.head, c->ended.tail, n);
	c->ended.group = NULL;
	c->ended.head = c->ended.tail = NULL;
	c->ended.n = 0;
}

/*
 * A detached member t has ended and nothing runs on its stack (the
 * scheduler of carrier c calls this): leave it for its group's owner to
 * reap (true), or false for a member of the root group, whose stack the
 * caller frees.
 */
bool weft__group_member_gone(struct weft__carrier *c, struct weft_thread *t)
{
	struct weft__group *g = t->group;

	if (weft__group_is_root(g))
		return false;
	if (c->ended.group != g)
		weft__group_flush_ended(c);
	t->next = NULL;
	if (c->ended.tail)
		c->ended.tail->next = t;
	else
		c->ended.head = t;
	c->ended.tail = t;
	c->ended.group = g;
	if (++c->ended.n == ENDED_BATCH)
		weft__group_flush_ended(c);
	return true;
}

/*
 * Take the ended members off g's list (all of them when all ended); g
 * locked.  The caller frees them with free_reaped once it lets go.
 */
static struct weft_thread *reap(struct weft__group *g, bool all)
{
	struct weft_thread *d =
		atomic_exchange_explicit(&g->ended, NULL, memory_order_acquire);

	g->since_reap = 0;
	if (all)
		g->members = NULL;
	else
		for (struct weft_thread *t = d; t; t = t->next)
			unlink_member(g, t);
	return d;
}

static void free_reaped(struct weft_thread *d)
{
	while (d) {
		struct weft_thread *next = d->next;

		weft__stack_free(d);
		d = next;
	}
}

/*
 * The root group: where a spawn without a group goes.  It has no owner:
 * the runtime joins it when weft_main's body returns or at weft_shutdown,
 * giving its threads a grace period to end on their own first, then
 * cancelling them.  Its scope is also the root scope of weft_main's body,
 * which SIGINT and SIGTERM cancel.
 */
static struct weft__group the_root;
static struct weft__lock root_lock;

static struct weft__group *root(void)
{
	struct weft__group *g = &the_root;

	if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) == GROUP_OPEN)
		return g;
	weft__lock(&root_lock);
	if (g->state != GROUP_OPEN) {
		memset(g, 0, sizeof(*g));
		g->magic = GROUP_MAGIC;
		g->gen = weft__rt.gen;
		g->scope.deadline = -1;
		g->policy = WEFT_SUPERVISE;
		__atomic_store_n(&g->state, GROUP_OPEN, __ATOMIC_RELEASE);
	}
	weft__unlock(&root_lock);
	return g;
}

bool weft__group_is_root(const struct weft__group *g)
{
	return g == &the_root;
}

struct weft__scope *weft__root_scope(void)
{
	return &root()->scope;
}

/* weft_main's body runs in the root scope: cancelling it wakes the body. */
void weft__root_set_owner(struct weft__ctl *ctl)
{
	struct weft__group *g = root();

	weft__spin_lock(&g->lock);
	g->owner = ctl;
	weft__spin_unlock(&g->lock);
}

void weft__root_cancel(void)
{
	weft__group_cancel(root(), GROUP_OUTER);
}

/* Wait until the root group is empty or the deadline (< 0: none) passes. */
static void root_wait(struct weft__group *g, int64_t deadline)
{
	struct weft__waiter w;

	for (;;) {
		weft__spin_lock(&g->lock);
		if (g->live == 0) {
			weft__spin_unlock(&g->lock);
			return;
		}
		weft__waiter_init(&w);
		weft__note(&w, WEFT__ON_GROUP, g);
		g->joiner = &w;
		weft__spin_unlock(&g->lock);
		weft__waiter_wait(&w, deadline);
		weft__spin_lock(&g->lock);
		g->joiner = NULL;
		weft__spin_unlock(&g->lock);
		if (deadline >= 0 && weft__now() >= deadline)
			return;
	}
}

/* Join the root group: a grace period, then cancel, then wait. */
void weft__root_join(int64_t grace)
{
	struct weft__group *g = &the_root;

	if (__atomic_load_n(&g->state, __ATOMIC_ACQUIRE) != GROUP_OPEN)
		return;
	root_wait(g, weft__now() + grace);
	weft__group_cancel(g, GROUP_OUTER);
	root_wait(g, -1);
	weft__lock(&root_lock);
	free(g->more);
	memset(g, 0, sizeof(*g));
	weft__unlock(&root_lock);
}

void weft__root_fork_lock(void)
{
	weft__lock(&root_lock);
}

void weft__root_fork_unlock(void)
{
	weft__unlock(&root_lock);
}

/* In a fork child: of g's members only self, if it is one, is left. */
static void forget_members(struct weft__group *g, struct weft_thread *self)
{
	bool in = self && self->group == g;

	memset(&g->lock, 0, sizeof(g->lock));
	g->gen = weft__rt.gen; /* the child's now */
	g->members = in ? self : NULL;
	if (in)
		self->sibling = self->sibling_prev = NULL;
	g->live = in;
	g->ended = NULL; /* stacks left in the child's pools for good */
	g->since_reap = 0;
	g->joiner = NULL;
	if (g->limit)
		weft_sem_init(&g->slots, g->limit - g->live);
}

/*
 * A forked child holds only the thread that forked (self; NULL if a plain
 * thread forked): the root group and the groups self owns forget the
 * members that stayed behind, so that joining them does not wait forever.
 */
void weft__group_fork_child(struct weft_thread *self)
{
	struct weft__group *g;

	if (self && self->future)
		self->future->gen = weft__rt.gen;
	if (self)
		for (g = self->ctl.groups; g; g = g->outer)
			forget_members(g, self);
	if (the_root.state == GROUP_OPEN)
		forget_members(&the_root, self);
}

static int spawn(struct weft_group *wg, intptr_t (*fn)(void *), void *arg,
		 struct weft__future *f, bool try)
{
	struct weft__group *g = (struct weft__group *)wg;
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_DETACHED };
	struct weft_thread *t, *d = NULL;
	int r;

	if (!fn)
		return -EINVAL;
	if (!g)
		g = root();
	else if ((r = valid(g, true)))
		return r;
	r = state_of(g);
	if (r != GROUP_OPEN)
		return r >= GROUP_JOINED ? -EINVAL : -ECANCELED;
	if (atomic_load(&g->scope.cause))
		return -ECANCELED;
	if (g->limit) {
		r = try ? weft_sem_trywait(&g->slots) :
			  weft_sem_wait(&g->slots);
		if (r < 0)
			return r;
		if (atomic_load(&g->scope.cause)) {
			weft_sem_post(&g->slots);
			return -ECANCELED;
		}
	}
	t = weft__thread_new(fn, arg, &a, &r);
	if (!t) {
		if (g->limit)
			weft_sem_post(&g->slots);
		return r;
	}
	t->group = g;
	t->ctl.scope = &g->scope;
	t->future = f;
	if (g->policy == WEFT_FIRST_SUCCESS)
		t->flags |= WEFT__MEMBER_FIRST_SUCCESS;
	if (g->limit)
		t->flags |= WEFT__MEMBER_LIMITED;
	weft__spin_lock(&g->lock);
	if (++g->since_reap >= REAP_EVERY &&
	    atomic_load_explicit(&g->ended, memory_order_relaxed))
		d = reap(g, false);
	t->sibling = g->members;
	if (g->members)
		g->members->sibling_prev = t;
	g->members = t;
	atomic_fetch_add_explicit(&g->live, 1, memory_order_relaxed);
	weft__spin_unlock(&g->lock);
	weft__thread_start(t);
	free_reaped(d);
	return 0;
}

int weft_spawn(struct weft_group *g, intptr_t (*fn)(void *), void *arg)
{
	return spawn(g, fn, arg, NULL, false);
}

int weft_try_spawn(struct weft_group *g, intptr_t (*fn)(void *), void *arg)
{
	return spawn(g, fn, arg, NULL, true);
}

int weft_spawn_future(struct weft_group *g, intptr_t (*fn)(void *), void *arg,
		      struct weft_future **ret_future)
{
	struct weft__future *f;
	int r;

	if (!ret_future)
		return -EINVAL;
	f = WEFT_ALLOC(alloc_future, calloc(1, sizeof(*f)));
	if (!f)
		return -ENOMEM;
	f->magic = FUTURE_MAGIC;
	f->gen = weft__rt.gen;
	atomic_init(&f->refs, 2);
	r = spawn(g, fn, arg, f, false);
	if (r < 0) {
		free(f);
		return r;
	}
	*ret_future = (struct weft_future *)f;
	return 0;
}

int weft_group_join(struct weft_group *wg)
{
	struct weft__group *g = (struct weft__group *)wg;
	struct weft__ctl *ctl = weft__ctl_self();
	bool cancellable = true, interrupted = false;
	int64_t deadline;
	struct weft__waiter w;
	struct weft_thread *ended;
	int r;

	if ((r = valid(g, true)))
		return r;
	if (g->owner != ctl || g->state != GROUP_OPEN)
		return -EINVAL; /* not the owner, or joined already */
	if (ctl->scope != &g->scope || ctl->groups != g)
		return -EINVAL; /* an inner scope or group is still open */
	set_state(g, GROUP_JOINING);
	ctl->scope = g->scope.parent;
	deadline = g->scope.deadline;
	for (;;) {
		weft__spin_lock(&g->lock);
		if (g->live == 0) {
			ended = reap(g, true);
			weft__spin_unlock(&g->lock);
			break;
		}
		weft__waiter_init(&w);
		weft__note(&w, WEFT__ON_GROUP, g);
		g->joiner = &w;
		weft__spin_unlock(&g->lock);
		if (cancellable)
			r = weft__waiter_wait_cancel(&w, deadline);
		else
			r = weft__waiter_wait(&w, -1);
		weft__spin_lock(&g->lock);
		g->joiner = NULL;
		weft__spin_unlock(&g->lock);
		if (r == -EINTR) {
			interrupted = true; /* for the next call */
		} else if (r == -ETIMEDOUT && deadline >= 0 &&
			   weft__now() >= deadline) {
			/* Once: then wait for the members without it. */
			weft__group_cancel(g, GROUP_DEADLINE);
			deadline = -1;
		} else if (r < 0) {
			/* An enclosing scope: pass it down, then wait on. */
			weft__group_cancel(g, GROUP_OUTER);
			cancellable = false;
		}
	}
	free_reaped(ended);
	weft__spin_lock(&ctl->lock);
	ctl->groups = g->outer;
	weft__spin_unlock(&ctl->lock);
	if (interrupted)
		atomic_store(&ctl->interrupted, 1);
	/* Under the lock: a weft_group_cancel elsewhere may set reason. */
	weft__spin_lock(&g->lock);
	/* Members may have seen the deadline pass before the owner did. */
	if (!g->reason && atomic_load(&g->scope.cause) == -ETIMEDOUT)
		g->reason = GROUP_DEADLINE;
	/*
	 * Or an enclosing scope's cancellation, which ended every member
	 * before the owner came to wait: the join says so all the same.
	 */
	if (!g->reason && weft__scope_cause(g->scope.parent))
		g->reason = GROUP_OUTER;
	if (g->nr_failures)
		g->result = g->first.status;
	else if (g->reason == GROUP_DEADLINE)
		g->result = -ETIMEDOUT;
	else if (g->reason == GROUP_OUTER)
		g->result = -ECANCELED;
	else
		g->result = 0;
	set_state(g, GROUP_JOINED);
	weft__spin_unlock(&g->lock);
	return g->result;
}

int weft_group_result(const struct weft_group *wg)
{
	const struct weft__group *g = (const struct weft__group *)wg;

	if (!g)
		return -EINVAL;
	return valid(g, false) ? -EINVAL : g->result;
}

int weft_group_failures(const struct weft_group *wg)
{
	const struct weft__group *g = (const struct weft__group *)wg;
	int r = valid(g, false);

	return r ? r : (int)g->nr_failures;
}

int weft_group_failure(const struct weft_group *wg, unsigned i,
		       uint64_t *ret_thread_id)
{
	const struct weft__group *g = (const struct weft__group *)wg;
	const struct weft__failure *f;

	if (valid(g, false) || g->state < GROUP_JOINED || i >= g->nr_failures ||
	    (g->state == GROUP_FINISHED && i > 0))
		return -EINVAL;
	if (i >= g->nr_kept)
		return -ENOMEM; /* counted, but there was no memory to keep it
				 */
	f = i == 0 ? &g->first : &g->more[i - 1];
	if (ret_thread_id)
		*ret_thread_id = f->id;
	return f->status;
}

void weft_group_fini(struct weft_group *wg)
{
	struct weft__group *g = (struct weft__group *)wg;

	if (valid(g, false) || g->state != GROUP_JOINED)
		return;
	free(g->more);
	g->more = NULL;
	g->cap = 0;
	g->state = GROUP_FINISHED;
}

/* For the scope macro: leaving the block early cancels, then joins. */
void weft__group_leave(struct weft_group **pg)
{
	if (!*pg)
		return;
	weft_group_cancel(*pg);
	weft_group_join(*pg);
}

struct weft_group *weft__group_enter(struct weft_group *g,
				     const struct weft_group_opts *o)
{
	return weft_group_open(g, o) == 0 ? g : NULL;
}

/* ---- futures ---- */

int weft_future_wait(struct weft_future *wf, intptr_t *ret_value)
{
	struct weft__future *f = (struct weft__future *)wf;
	struct weft__waiter w;
	int r;

	if (!f || f->magic != FUTURE_MAGIC || atomic_load(&f->released))
		return -EINVAL;
	if (!atomic_load(&f->done) && unlikely(f->gen != weft__rt.gen))
		return -ECHILD; /* its thread stayed behind in the parent */
	if (!atomic_load(&f->done)) {
		weft__waiter_init(&w);
		weft__note(&w, WEFT__ON_FUTURE, f);
		weft__spin_lock(&f->lock);
		if (atomic_load(&f->done)) {
			weft__spin_unlock(&f->lock);
		} else {
			weft__wq_push(&f->waiters, &w);
			weft__spin_unlock(&f->lock);
			r = weft__waiter_wait_cancel(&w, -1);
			if (r < 0) {
				weft__spin_lock(&f->lock);
				weft__wq_remove(&f->waiters, &w);
				weft__spin_unlock(&f->lock);
				if (!atomic_load(&f->done))
					return r;
			}
		}
	}
	if (ret_value)
		*ret_value = f->value;
	return f->status;
}

int weft_future_release(struct weft_future *wf)
{
	struct weft__future *f = (struct weft__future *)wf;

	if (!f || f->magic != FUTURE_MAGIC || atomic_exchange(&f->released, 1))
		return -EINVAL;
	if (atomic_fetch_sub(&f->refs, 1) == 1) {
		f->magic = 0;
		free(f);
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Cancellation: level (scopes), edge (interrupts), deadlines.
 *
 * Level.  A thread's innermost scope and its parents say whether it is
 * cancelled: every blocking call checks them first (weft__cancel_check)
 * and fails with the cause while any scope up to a shield is cancelled,
 * so code cannot miss a cancellation by being busy when it came.  The
 * scopes of a group's members have the group's scope as parent, whose
 * parent is the owner's scope: cancelling an outer scope reaches every
 * thread below it the next time it checks.
 *
 * Waking.  A thread parked when its scope is cancelled must be woken: the
 * canceller claims the waiter the thread registered in its control block
 * (the CAS that decides every wake-up, with state WEFT_CANCELLED) and
 * makes it runnable; the wait returns the cause.  A thread parked on an
 * SQE then cancels the operation and waits for its CQE (ring.c), so a
 * completion that came first is returned as it is.  Groups carry the
 * wake-ups down to their members and, through them, to nested groups.
 *
 * Edge.  An interrupt fails exactly one blocking call with -EINTR: the
 * one the thread is parked in, or else the next.  Registering a wait and
 * delivering an interrupt take the same lock, so it is never both.
 *
 * Deadlines are absolute and live on scopes; a wait's own deadline is
 * cut to the earliest one in force, and a deadline that has passed is a
 * cancellation with cause -ETIMEDOUT.
 */
#include "runtime.h"
#include "weftimpl.h"
#include "group.h"

static __thread struct weft__ctl plain_ctl
	__attribute__((tls_model("initial-exec")));

struct weft__ctl *weft__ctl_self(void)
{
	struct weft_thread *t = weft__self();

	return t ? &t->ctl : &plain_ctl;
}

/*
 * The cause scope s and its parents show, up to a shield, or 0.  With
 * clock, a deadline that has passed counts too (and is recorded on its
 * scope); without, only causes already set: what a canceller may look at.
 */
static int chain_cause(struct weft__scope *s, bool clock)
{
	int64_t now = -1;

	for (; s; s = s->parent) {
		int cause =
			atomic_load_explicit(&s->cause, memory_order_acquire);

		if (cause)
			return cause;
		if (clock && s->deadline >= 0) {
			if (now < 0)
				now = weft__now();
			if (now >= s->deadline) {
				atomic_compare_exchange_strong(
					&s->cause, &cause, -ETIMEDOUT);
				return atomic_load(&s->cause);
			}
		}
		if (s->shield)
			break;
	}
	return 0;
}

static int scope_cause(struct weft__ctl *ctl, bool clock)
{
	return chain_cause(ctl->scope, clock);
}

/* For a group's join: what its members' enclosing scopes say. */
int weft__scope_cause(struct weft__scope *s)
{
	return chain_cause(s, true);
}

/*
 * Take a pending interrupt that fails a wait of this kind: interrupted
 * holds 1 + the least kind it fails (WEFT__WAIT_OTHER: every wait).
 */
static bool take_interrupt(struct weft__ctl *ctl, int kind)
{
	unsigned p =
		atomic_load_explicit(&ctl->interrupted, memory_order_relaxed);

	return p && kind >= (int)p - 1 &&
	       atomic_compare_exchange_strong(&ctl->interrupted, &p, 0);
}

/*
 * For a blocking call whose waits are of this kind: -EINTR for a pending
 * interrupt (once), the level cause, or 0.
 */
int weft__cancel_check(struct weft__ctl *ctl, int kind)
{
	if (take_interrupt(ctl, kind))
		return -EINTR;
	return scope_cause(ctl, true);
}

/* The earliest of deadline (< 0: none) and the deadlines in force. */
int64_t weft__cancel_deadline(struct weft__ctl *ctl, int64_t deadline)
{
	for (struct weft__scope *s = ctl->scope; s; s = s->parent) {
		if (s->deadline >= 0 &&
		    (deadline < 0 || s->deadline < deadline))
			deadline = s->deadline;
		if (s->shield)
			break;
	}
	return deadline;
}

void weft__wakes_init(struct weft__wakes *b)
{
	b->head = NULL;
}

/* Wake the thread of a claimed waiter, or queue it for later. */
static void wakes_add(struct weft__wakes *b, struct weft_thread *t,
		      atomic_uint *word)
{
	if (!t) {
		weft__futex_wake(word, 1);
		return;
	}
	t->next = b->head;
	b->head = t;
}

void weft__wakes_flush(struct weft__wakes *b)
{
	struct weft_thread *t;

	while ((t = b->head)) {
		b->head = t->next;
		weft__ready(t);
	}
}

/*
 * A canceller writes the cause before it claims the waiter (a plain
 * thread may read it as soon as the claim lands), so it must not write
 * one unless its claim can still win: cancellers hold the control's
 * lock, so once one has claimed the waiter the next one sees it here;
 * other wakers never write a cause, and the waiter reads it only after
 * a claim as WEFT_CANCELLED.
 */
static bool still_waiting(struct weft__waiter *w)
{
	return atomic_load(&w->state) == WEFT_WAITING;
}

/*
 * Something above ctl's thread was cancelled: if its wait is now in a
 * cancelled scope (a parked thread's scopes cannot change), claim it for
 * a wake-up with the cause, added to b; and carry the news down to the
 * groups it owns, innermost first, up to stop.  Locks are taken top-down:
 * this control, then its groups, then their members' controls.
 */
void weft__cancel_wake(struct weft__ctl *ctl, struct weft__group *stop,
		       struct weft__wakes *b)
{
	struct weft__waiter *w;
	int cause;

	weft__spin_lock(&ctl->lock);
	w = ctl->wait;
	if (w && still_waiting(w) && (cause = scope_cause(ctl, false))) {
		w->cause = cause;
		if (weft__waiter_claim_as(w, WEFT_CANCELLED))
			wakes_add(b, w->thread, &w->state);
	}
	for (struct weft__group *g = ctl->groups; g && g != stop; g = g->outer)
		weft__group_wake(g, b);
	weft__spin_unlock(&ctl->lock);
}

/*
 * Fail the blocking call of ctl's thread with -EINTR if its wait is of
 * kind min_kind or above (WEFT__WAIT_*); if it is not blocked in one and
 * pend, fail its next blocking call instead.
 */
static void interrupt(struct weft__ctl *ctl, int min_kind, bool pend)
{
	struct weft__waiter *w;
	struct weft_thread *t = NULL;
	atomic_uint *word = NULL;

	weft__spin_lock(&ctl->lock);
	w = ctl->wait;
	if (w && w->kind >= min_kind && still_waiting(w) &&
	    (w->cause = -EINTR, weft__waiter_claim_as(w, WEFT_CANCELLED))) {
		t = w->thread;
		word = &w->state;
	} else if (pend) {
		atomic_store(&ctl->interrupted, 1 + min_kind);
	}
	weft__spin_unlock(&ctl->lock);
	if (word)
		weft__wake(t, word);
}

/*
 * A signal handler ran (shim): fail t's blocking call with -EINTR where
 * the kernel would fail the native call; no pending interrupt if t is
 * not blocked, as a signal between two calls fails neither.
 */
void weft__impl_signal_interrupt(struct weft_thread *t, bool restart)
{
	interrupt(&t->ctl, restart ? WEFT__WAIT_ALWAYS : WEFT__WAIT_IO, false);
}

/*
 * A handler left for t by siglongjmp (shim): fail its blocking call as
 * one without SA_RESTART, or else the next it makes; and forget it.
 */
void weft__impl_jump_interrupt(struct weft_thread *t)
{
	interrupt(&t->ctl, WEFT__WAIT_IO, true);
}

void weft__impl_jump_landed(void)
{
	struct weft_thread *t = weft__self();

	if (t)
		atomic_store(&t->ctl.interrupted, 0);
}

int weft_thread_interrupt(struct weft_thread *t)
{
	int r = weft__thread_check(t);

	if (r)
		return r;
	interrupt(&t->ctl, WEFT__WAIT_OTHER, true);
	return 0;
}

/*
 * pthread_cancel's cancellation points (shim).  The thread says when it is
 * in one; a canceller, under the control's lock, fails the wait the
 * thread is parked on there, or if it has not parked yet (or the wait was
 * just woken by someone else, and the point may wait again) leaves
 * point_intr for the next wait inside the point.  Outside a point a
 * leftover point_intr is ignored, and entering a point clears it: the
 * shim then looks at its own cancel request, set before the canceller
 * took the lock, so nothing is missed either way.
 */
void weft__impl_point(bool in)
{
	struct weft_thread *t = weft__self();

	if (!t)
		return;
	if (in)
		atomic_store_explicit(&t->ctl.point_intr, 0,
				      memory_order_relaxed);
	atomic_store(&t->ctl.point, in);
}

void weft__impl_point_interrupt(struct weft_thread *t)
{
	struct weft__ctl *ctl = &t->ctl;
	struct weft__waiter *w;
	atomic_uint *word = NULL;
	struct weft_thread *wt = NULL;

	weft__spin_lock(&ctl->lock);
	if (atomic_load(&ctl->point)) {
		w = ctl->wait;
		if (w && (w->cause = -EINTR,
			  weft__waiter_claim_as(w, WEFT_CANCELLED))) {
			wt = w->thread;
			word = &w->state;
		} else {
			atomic_store(&ctl->point_intr, 1);
		}
	}
	weft__spin_unlock(&ctl->lock);
	if (word)
		weft__wake(wt, word);
}

/*
 * Register w as ctl's wait, unless an interrupt is pending (or a cancel
 * for the cancellation point the thread is in): -EINTR; or a scope was
 * cancelled since the caller's check: the cause.  A canceller sets the
 * cause, then looks at the wait under this lock: looking again here,
 * under it, one of the two always sees the other.
 */
int weft__cancel_register(struct weft__ctl *ctl, struct weft__waiter *w)
{
	int r = 0;

	weft__spin_lock(&ctl->lock);
	if (take_interrupt(ctl, w->kind))
		r = -EINTR;
	else if (atomic_load_explicit(&ctl->point_intr, memory_order_relaxed) &&
		 atomic_load(&ctl->point))
		r = -EINTR;
	else if (!(r = scope_cause(ctl, false)))
		ctl->wait = w;
	weft__spin_unlock(&ctl->lock);
	return r;
}

void weft__cancel_unregister(struct weft__ctl *ctl)
{
	weft__spin_lock(&ctl->lock);
	ctl->wait = NULL;
	weft__spin_unlock(&ctl->lock);
}

/* ---- cancel scopes of the API ---- */

#define SCOPE_MAGIC 0x706f6373u /* entered once: the storage is a scope */

struct scope {
	struct weft__scope s;
	struct weft__ctl *ctl;
	struct weft__group *groups; /* the owner's open groups at enter */
	uint32_t magic;		    /* SCOPE_MAGIC */
};

_Static_assert(sizeof(struct scope) <= sizeof(struct weft_cancel_scope),
	       "struct weft_cancel_scope is too small");

int weft_cancel_scope_enter(struct weft_cancel_scope *ws, int64_t deadline,
			    int shield)
{
	struct scope *sc = (struct scope *)ws;
	struct weft__ctl *ctl = weft__ctl_self();

	if (!sc || deadline < -1 || (shield && deadline < 0))
		return -EINVAL;
	sc->s.parent = ctl->scope;
	atomic_init(&sc->s.cause, 0);
	sc->s.deadline = deadline;
	sc->s.shield = shield;
	sc->ctl = ctl;
	sc->groups = ctl->groups;
	sc->magic = SCOPE_MAGIC;
	ctl->scope = &sc->s;
	return 0;
}

int weft_cancel_scope_leave(struct weft_cancel_scope *ws)
{
	struct scope *sc = (struct scope *)ws;

	if (!sc || sc->magic != SCOPE_MAGIC || sc->ctl != weft__ctl_self() ||
	    sc->ctl->scope != &sc->s)
		return -EINVAL; /* not the caller's innermost scope */
	sc->ctl->scope = sc->s.parent;
	return 0;
}

int weft_cancel_scope_cancel(struct weft_cancel_scope *ws)
{
	struct scope *sc = (struct scope *)ws;
	struct weft__wakes b;
	int zero = 0;

	if (!sc || sc->magic != SCOPE_MAGIC)
		return -EINVAL; /* never entered */
	atomic_compare_exchange_strong(&sc->s.cause, &zero, -ECANCELED);
	weft__wakes_init(&b);
	weft__cancel_wake(sc->ctl, sc->groups, &b);
	weft__wakes_flush(&b);
	return 0;
}

int64_t weft_deadline(void)
{
	return weft__cancel_deadline(weft__ctl_self(), -1);
}

int weft_cancelled(void)
{
	/* A query: pending interrupts stay pending. */
	return scope_cause(weft__ctl_self(), true);
}

/* SPDX-License-Identifier: MIT */
/*
 * Virtual threads: spawn, join, detach, and the end of a thread's life.
 *
 * A thread's join state moves along these transitions:
 *
 *   RUNNING --detach--> DETACHED --ends--> (stack freed by the scheduler)
 *   RUNNING --join----> WAITING  --ends--> ENDING --> DONE, joiner woken
 *                       WAITING  --join cancelled--> RUNNING
 *   RUNNING --ends----> DONE     --join--> (read value, stack freed)
 *                                --detach-> (stack freed)
 *
 * "Ends" is run by the scheduler after it has switched away from the
 * thread for the last time (weft__thread_finalise), so whoever frees the
 * stack knows nobody runs on it.  ENDING is the moment the ending side
 * holds the joiner's waiter: a cancelled joiner cannot go back to
 * RUNNING and leave (its waiter with it) then, and a joiner woken waits
 * for DONE, which a plain thread's may see the wake-up before.
 *
 * Bad handles.  A handle is a pointer into the thread's stack, so there
 * is no registry to look it up in.  What is checked cheaply: the magic
 * number at the head of the control block, cleared when the stack is
 * freed, catches a handle used after its join or after a detached thread
 * ended (-EINVAL), as long as no new thread has been given that stack
 * (stacks are reused most recent first: then the handle names the new
 * thread) and the stack was not a dedicated one of more than 64 MiB
 * (unmapped at once: the check faults).  The fork generation catches a
 * handle of a thread that stayed behind in the parent (-ECHILD).
 */
#include "runtime.h"
#include "weftimpl.h"
#include "group.h"
#include "ctx.h"
#if WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define TCB_ALIGN 16
#define DEFAULT_NAME "thread"

const char *weft_version(void)
{
	return WEFT_VERSION;
}

static void entry(void *arg)
{
	struct weft_thread *t = arg;

#if WEFT_ASAN
	__sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
	weft__landed(t);
	if (t->tp)
		weft__tls_first();
	t->result = t->fn(t->arg);
	if (t->group)
		weft__group_member_done(t);
	weft__exit_current();
}

/* Ids from 1 up, taken ID_BLOCK at a time by each carrier; counted. */
#define ID_BLOCK 1024

static uint64_t new_id(void)
{
	struct weft__carrier *c = weft__carrier_self();

	if (!c) {
		weft__stats_created_plain();
		return atomic_fetch_add_explicit(&weft__rt.next_id, 1,
						 memory_order_relaxed) +
		       1;
	}
	WEFT_STAT(c, created);
	if (c->next_id == c->end_id) {
		c->next_id = atomic_fetch_add_explicit(&weft__rt.next_id,
						       ID_BLOCK,
						       memory_order_relaxed) +
			     1;
		c->end_id = c->next_id + ID_BLOCK;
	}
	return c->next_id++;
}

/*
 * A thread ready to start, not yet queued: callers may set it up.
 * Inlined into weft_thread_spawn, whose fast path it is.
 */
__attribute__((always_inline)) inline struct weft_thread *
weft__thread_new(intptr_t (*fn)(void *), void *arg,
		 const struct weft_spawn_attr *attr, int *ret_err)
{
	unsigned flags = attr ? attr->flags : 0;
	size_t size = attr && attr->stack_size ? attr->stack_size :
						 weft__stack_default();
	struct weft_thread *t;
	int r;

	*ret_err = -EINVAL;
	if (!fn || (flags & ~(WEFT_SPAWN_MIGRATABLE | WEFT_SPAWN_DETACHED)))
		return NULL;
	if (size < 16384 || size > ((size_t)1 << 40))
		return NULL;
	r = weft__runtime_start();
	*ret_err = r;
	if (r < 0)
		return NULL;
	t = weft__stack_alloc(size);
	*ret_err = -ENOMEM;
	if (!t)
		return NULL;
	atomic_store_explicit(&t->magic, WEFT_THREAD_MAGIC,
			      memory_order_relaxed);
	t->gen = weft__rt.gen;
	t->fn = fn;
	t->arg = arg;
	t->flags = flags;
	t->name = attr && attr->name ? attr->name : DEFAULT_NAME;
	t->id = new_id();
	t->timer.idx = TIMER_IDLE;
	t->ctl.values = weft__ctxval_get(weft__ctl_self()->values);
	atomic_init(&t->join, flags & WEFT_SPAWN_DETACHED ? WEFT_JOIN_DETACHED :
							    WEFT_JOIN_RUNNING);
	t->tp = weft__tls_get();
	if (!t->tp && weft__tls_on()) {
		weft__stack_free(t);
		return NULL; /* -ENOMEM */
	}
	/* Its errno, TLS and signal mask go with it: it may move (sched.c) */
	if (t->tp)
		t->flags |= WEFT_SPAWN_MIGRATABLE;
	t->pin = 0;
	weft__sigmask_inherit(t);
	t->sp = weft__ctx_make(
		(void *)((uintptr_t)t & ~(uintptr_t)(TCB_ALIGN - 1)), entry, t);
	*ret_err = 0;
	return t;
}

/*
 * Live threads.  The runtime must know when the last one ends (weft_main
 * returns then, weft_shutdown waits for it), but one counter that every
 * spawn and every end changes is one cache line that every carrier
 * writes: it was a fifth of spawn+join on two carriers.  So a thread
 * spawned on a carrier is counted on that carrier's ->live, and
 * weft__rt.live counts the carriers whose ->live is not zero, plus the
 * threads spawned from plain threads, counted there directly.  A carrier
 * that steals threads takes their counts with them (weft__live_move),
 * one add and one subtract for the batch, so the ends are counted where
 * they happen too.  rt.live cannot reach zero early: a carrier's ->live
 * goes from zero up only in a spawn by a live thread, which keeps its own
 * count (and so rt.live) above zero meanwhile, or in a steal, which adds
 * before it subtracts.
 *
 * Even one carrier's counter costs two locked instructions a thread, a
 * tenth of a spawn and join.  So a thread that ends on the carrier that
 * counts it is not subtracted at once: the carrier owes it (->live_owed,
 * which only it writes), and its next spawn pays the debt instead of
 * adding.  A carrier that spawns and joins in turn, as most do, then
 * writes ->live only when it has more threads than ever before.  It
 * settles the rest before it sleeps (weft__live_settle), which a carrier
 * whose threads have all ended does next.  ->live is never below the
 * live threads it counts, so rt.live still cannot reach zero early, and
 * it reaches zero at the settling after the last end.  What ->live less
 * ->live_owed says, the live threads, stays exact.
 */
static void live_up(struct weft__carrier *c, int n)
{
	if (atomic_fetch_add(&c->live, n) == 0)
		atomic_fetch_add(&weft__rt.live, 1);
}

/* One less on rt.live: a thread counted there, or a carrier's last. */
static void rt_live_down(void)
{
	if (atomic_fetch_sub(&weft__rt.live, 1) == 1)
		weft__runtime_idle();
}

static void live_down(struct weft__carrier *c, int n)
{
	if (atomic_fetch_sub(&c->live, n) == n)
		rt_live_down();
}

/* c's debt, which only c writes: a plain load or store. */
static int owed(struct weft__carrier *c)
{
	return atomic_load_explicit(&c->live_owed, memory_order_relaxed);
}

static void set_owed(struct weft__carrier *c, int n)
{
	atomic_store_explicit(&c->live_owed, n, memory_order_relaxed);
}

void weft__live_settle(struct weft__carrier *c)
{
	int n = owed(c);

	if (n) {
		set_owed(c, 0);
		live_down(c, n);
	}
}

/* A thread spawned on c, the calling carrier, counted there. */
static void live_spawned(struct weft__carrier *c)
{
	int n = owed(c);

	if (n)
		set_owed(c, n - 1);
	else
		live_up(c, 1);
}

/* A thread c counts ended on c, the calling carrier. */
static void live_ended(struct weft__carrier *c)
{
	set_owed(c, owed(c) + 1);
}

/* The threads c counts, as seen from anywhere. */
int weft__live_here(struct weft__carrier *c)
{
	return atomic_load_explicit(&c->live, memory_order_relaxed) -
	       atomic_load_explicit(&c->live_owed, memory_order_relaxed);
}

void weft__live_move(struct weft__carrier *c, struct weft__carrier *v, int n)
{
	live_up(c, n);
	live_down(v, n);
}

unsigned weft__live_threads(void)
{
	unsigned n = atomic_load(&weft__rt.live);

	for (int i = 0; i < weft__rt.nr_slots; i++) {
		struct weft__carrier *c = weft__rt.carriers[i];
		int k = atomic_load_explicit(&c->live, memory_order_acquire);

		/* rt.live has counted it once, and c owes some ended ones */
		if (k > 0)
			n += k - 1 - owed(c);
	}
	return n;
}

void weft__thread_start(struct weft_thread *t)
{
	struct weft__carrier *c = weft__carrier_self();

	if (c && c->current) {
		t->live_home = c;
		live_spawned(c);
	} else {
		atomic_fetch_add(&weft__rt.live, 1);
	}
	if (unlikely(weft__stats_peak_on))
		weft__stats_live(weft__live_threads());
	weft__enqueue_new(c, t);
	/*
	 * A thread that spawns many keeps its carrier from starting them,
	 * and the others take only their fair share (sched.c): let them
	 * start here before their wait grows long.
	 */
	if (c && c->current && weft__stealable(c) >= WEFT_LOCALQ)
		weft_yield();
}

int weft_thread_spawn(struct weft_thread **ret_thread, intptr_t (*fn)(void *),
		      void *arg, const struct weft_spawn_attr *attr)
{
	unsigned flags = attr ? attr->flags : 0;
	struct weft_thread *t;
	int r;

	if (!ret_thread && !(flags & WEFT_SPAWN_DETACHED))
		return -EINVAL;
	t = weft__thread_new(fn, arg, attr, &r);
	if (!t)
		return r;
	if (ret_thread)
		*ret_thread = t;
	weft__thread_start(t);
	return 0;
}

int weft__impl_spawn_home(struct weft_thread **ret_thread,
			  intptr_t (*fn)(void *), void *arg,
			  const struct weft_spawn_attr *attr)
{
	struct weft_thread *t;
	int r;

	t = weft__thread_new(fn, arg, attr, &r);
	if (!t)
		return r;
	*ret_thread = t;
	t->pin = weft__self() != NULL; /* see weft__enqueue_new */
	weft__thread_start(t);
	return 0;
}

/* t ended on c, whose scheduler runs this. */
void weft__thread_finalise(struct weft__carrier *c, struct weft_thread *t)
{
	unsigned s = atomic_load(&t->join);
	struct weft__carrier *home = t->live_home; /* t is gone at DONE */
	struct weft__waiter *w;

	weft__registry_del(t);
	weft__ctxval_put(t->ctl.values);
	t->ctl.values = NULL;
	if (t->tp) {
		weft__tls_put(t->tp);
		t->tp = NULL;
	}
	/* Its carrier may retire now (monitor.c); t ran there last. */
	weft__monitor_unpin(t->carrier);
	for (;;) {
		/* t woke its joiner itself, which runs this */
		if (s == WEFT_JOIN_ENDING) {
			atomic_store_explicit(&t->join, WEFT_JOIN_DONE,
					      memory_order_release);
			break;
		}
		if (s == WEFT_JOIN_DETACHED) {
			/* A group's member waits there to be reaped. */
			if (!t->group || !weft__group_member_gone(c, t))
				weft__stack_free(t);
			break;
		}
		if (s == WEFT_JOIN_WAITING) {
			struct weft_thread *j;
			bool claimed;

			/* The joiner stays until DONE: w with it. */
			if (!atomic_compare_exchange_weak(&t->join, &s,
							  WEFT_JOIN_ENDING))
				continue;
			w = t->joiner;
			j = w->thread;
			/* A cancellation may have claimed it first. */
			claimed = weft__waiter_claim(w);
			atomic_store_explicit(&t->join, WEFT_JOIN_DONE,
					      memory_order_release);
			/* Only w's address from here: a futex wake is safe. */
			if (claimed)
				weft__wake(j, &w->state);
			break;
		}
		if (atomic_compare_exchange_weak(&t->join, &s, WEFT_JOIN_DONE))
			break;
	}
	if (home == c)
		live_ended(c);
	else if (home)
		live_down(home, 1);
	else
		rt_live_down();
}

/*
 * The thread that ends, t on c, wakes its joiner if one waits parked on c,
 * to switch to it at once (sched.c).  Claimed here, the joiner's waiter
 * cannot be cancelled any more, so nobody else writes ->join: ENDING keeps
 * the joiner off t's stack until it finalises t where the switch lands it.
 */
struct weft_thread *weft__joiner_at_hand(struct weft__carrier *c,
					 struct weft_thread *t)
{
	struct weft__waiter *w;
	struct weft_thread *j;

	if (atomic_load(&t->join) != WEFT_JOIN_WAITING)
		return NULL;
	w = t->joiner;
	j = w->thread;
	/* On c and not running, so parked: j is off c only when it runs. */
	if (!j || j->carrier != c || j->multi || !weft__waiter_claim(w))
		return NULL;
	atomic_store_explicit(&t->join, WEFT_JOIN_ENDING, memory_order_relaxed);
	return j;
}

/*
 * 0 if t is a live handle of this process; -EINVAL if it is NULL or stale,
 * -ECHILD if its thread stayed behind in the parent of a fork.  A thread
 * that had ended before the fork is still there to be joined.
 */
static int check(const struct weft_thread *t)
{
	if (!t || atomic_load_explicit(&t->magic, memory_order_relaxed) !=
			  WEFT_THREAD_MAGIC)
		return -EINVAL;
	if (unlikely(t->gen != weft__rt.gen) &&
	    atomic_load(&t->join) != WEFT_JOIN_DONE)
		return -ECHILD;
	return 0;
}

int weft_thread_join(struct weft_thread *t, intptr_t *ret_value)
{
	struct weft__waiter w;
	unsigned s, turns = 0;
	int r = check(t);

	if (r)
		return r;
	if (t == weft__self())
		return -EDEADLK;
	s = atomic_load(&t->join);
	if (s == WEFT_JOIN_RUNNING) {
		weft__waiter_init(&w);
		weft__note(&w, WEFT__ON_JOIN, t);
		t->joiner = &w;
		if (atomic_compare_exchange_strong(&t->join, &s,
						   WEFT_JOIN_WAITING)) {
			r = weft__waiter_wait_cancel(&w, -1);
			s = WEFT_JOIN_WAITING;
			/* Cancelled: stop waiting, unless t ended meanwhile. */
			if (r < 0 && atomic_compare_exchange_strong(
					     &t->join, &s, WEFT_JOIN_RUNNING))
				return r;
			/* It ends, or has: a few instructions to DONE. */
			while ((s = atomic_load(&t->join)) == WEFT_JOIN_ENDING)
				weft__spin_turn(&turns);
		}
	}
	if (s != WEFT_JOIN_DONE)
		return -EINVAL; /* detached, or joined by another */
	if (ret_value)
		*ret_value = t->result;
	weft__stack_free(t);
	return 0;
}

int weft_thread_detach(struct weft_thread *t)
{
	unsigned s = WEFT_JOIN_RUNNING;
	int r = check(t);

	if (r)
		return r;
	if (atomic_compare_exchange_strong(&t->join, &s, WEFT_JOIN_DETACHED))
		return 0;
	if (s != WEFT_JOIN_DONE)
		return -EINVAL;
	weft__stack_free(t);
	return 0;
}

struct weft_thread *weft_thread_self(void)
{
	return weft__self();
}

uint64_t weft_thread_id(const struct weft_thread *t)
{
	return check(t) == -EINVAL ? 0 : t->id;
}

int weft__thread_check(const struct weft_thread *t)
{
	return check(t);
}

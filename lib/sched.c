/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: carriers, run queues, parking and waking.
 *
 * The model.  A carrier is a kernel thread that owns an io_uring ring, a
 * run queue and a timer heap, and runs virtual threads one at a time from
 * its scheduler context (the kernel thread's own stack).  A thread leaves
 * the CPU only by parking (it waits for exactly one wake-up), yielding, or
 * exiting; it switches straight back to its carrier's scheduler, which
 * picks the next one.  The scheduler submits queued SQEs and reaps CQEs
 * once every RUN_BUDGET threads, and whenever it runs out of work, when it
 * also fires timers and then sleeps in io_uring_enter until a completion,
 * the next deadline, or a wake-up written to its eventfd.
 *
 * Migration.  Compiled code may keep a TLS address (&errno: glibc declares
 * __errno_location const) in a register across a call that parks, so a
 * thread that has run must resume on the same carrier.  Threads not yet
 * started, and threads spawned WEFT_SPAWN_MIGRATABLE, wait in a carrier's
 * steal queue, where an idle carrier may take its fair share of them; all
 * others wait in the owner-only run queue and are pinned to the carrier
 * they first ran on (code that waits twice looks its carrier up again
 * after the first wait: a migratable thread may have moved).  Under the
 * shim a thread on TLS of its own (tls.c) is migratable: its errno and
 * its signal mask go with it.  A migratable thread stays on its carrier
 * while it runs a signal handler (whose return restores the mask of the
 * kernel thread it returns on) and while its ring wait has SQEs pending,
 * which it cancels on that carrier's ring.  errno itself is carrier TLS:
 * the party that switches a thread in sets errno from the thread's saved
 * copy, before the switch, on the carrier it is running on.  A thread
 * that holds its carrier (it spins, or blocks where the runtime cannot
 * see) is the monitor's (monitor.c): others take the carrier's steal
 * queue, its pinned threads wait.
 *
 * Waking.  weft__ready(t) from t's own carrier appends t to the run queue
 * (or steal queue).  From anywhere else it pushes t onto the carrier's
 * inbox, a lock-free stack, and if the carrier is asleep writes its
 * eventfd.  The carrier publishes "sleeping" before its last look at the
 * inbox and the wakers publish the inbox before they look at "sleeping"
 * (both sequentially consistent), so one of the two always sees the other
 * and no wake-up is lost.  A thread may be woken before it has finished
 * parking: the wake-up waits in the inbox, which only the carrier drains,
 * and only from its scheduler context, after the switch.
 *
 * Rejected: one shared run queue (every switch contends on it), ucontext
 * (a system call per switch), an SQE per sleeping thread (a heap of
 * deadlines costs no system call to arm or disarm), and waking carriers by
 * signals (eventfd reads are ordinary completions).
 */
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "runtime.h"
#include "group.h"
#include "ctx.h"
#include "fiber.h"
#include "weftimpl.h"

#define RUN_BUDGET 64	   /* threads run between two looks at the ring */
#define STEAL_EVERY 61	   /* picks between two looks at the steal queue */
#define PATIENCE_NS 250000 /* before a carrier takes more than its share */
#define YOUNG_NS 20000	   /* before it takes its share of new threads */
#define YOUNG_SHARE 128	   /* a share it takes at once: not a passing batch */
#define ALTSTACK_SIZE (64 * 1024)

enum { RT_STOPPED, RT_RUNNING };
enum { NAP_YOUNG = 1, NAP_PATIENCE }; /* c->napping */

struct weft__runtime weft__rt;
static struct weft__lock life_lock;
static unsigned grace_ms; /* WEFT_GRACE_MS, read as the runtime starts */
/*
 * SIGINT or SIGTERM came during weft_main: carrier 0 cancels the root.
 * An atomic (lock-free, so async-signal-safe): the handler runs on any
 * kernel thread, and weft__main clears it while carriers run.
 */
static atomic_int root_signal;
/* What a signal handler left for carrier 0 to do (weft__impl_defer). */
static void (*_Atomic deferred)(void);
__thread struct weft__carrier *weft__tls_carrier
	__attribute__((tls_model("initial-exec")));

#if !defined(__x86_64__)
/* Not inlined, and opaque to the optimiser (runtime.h). */
__attribute__((noinline)) struct weft__carrier *weft__carrier_self(void)
{
	struct weft__carrier *c = weft__tls_carrier;

	__asm__ volatile("" : "+r"(c));
	return c;
}
#endif

struct weft_thread *weft__self(void)
{
	struct weft__carrier *c = weft__carrier_self();

	return c ? c->current : NULL;
}

/*
 * c->current is the owner's, but a dump reads it from elsewhere to name
 * the thread a stuck carrier runs (dump.c): a release store, which that
 * read pairs with (a plain store on x86-64, stlr on aarch64).
 */
static inline void set_current(struct weft__carrier *c, struct weft_thread *t)
{
	__atomic_store_n(&c->current, t, __ATOMIC_RELEASE);
}

/* ---- queues ---- */

static void q_push(struct weft__queue *q, struct weft_thread *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
}

static struct weft_thread *q_pop(struct weft__queue *q)
{
	struct weft_thread *t = q->head;

	if (t) {
		q->head = t->next;
		if (!q->head)
			q->tail = NULL;
	}
	return t;
}

/*
 * Woken threads wait in the runq, and one batch of completions can queue
 * hundreds: by its turn each one's control block and the frames its
 * switch reads have left the cache (at 10,000 connections those misses
 * were a tenth of an echo server's time in weft).  So a pop starts
 * bringing in the frames of the thread it returns, whose control block
 * the pop before brought in, and the control block of the next.  Nothing
 * here waits for a miss: each address is one already in the cache.
 */
#define PREFETCH_FRAME 256 /* the saved registers and weft's frames */

static struct weft_thread *runq_pop(struct weft__carrier *c)
{
	struct weft_thread *t = q_pop(&c->runq);

	if (t) {
		for (int i = 0; i < PREFETCH_FRAME; i += 64)
			__builtin_prefetch((char *)t->sp + i, 1);
		for (size_t i = 0; t->next && i < sizeof(*t); i += 64)
			__builtin_prefetch((char *)t->next + i, 1);
	}
	return t;
}

/*
 * New and migratable threads wait in two places on a carrier: its localq,
 * a ring of WEFT_LOCALQ that only the carrier pushes to (no lock, no
 * atomic read-modify-write: a spawn costs two stores) and anyone takes
 * from by a compare-and-swap of its head; and stealq, a locked list for
 * the rest: threads spawned from plain threads (which are not the owner)
 * and what a full ring spills.  A slot is read before the CAS that takes
 * it; the CAS succeeds only if nobody took it meanwhile, and the owner
 * writes that slot again only after it has seen the head move past it.
 */
static void steal_push(struct weft__carrier *c, struct weft_thread *t)
{
	weft__spin_lock(&c->steal_lock);
	q_push(&c->stealq, t);
	atomic_fetch_add_explicit(&c->nr_steal, 1, memory_order_relaxed);
	weft__spin_unlock(&c->steal_lock);
}

static struct weft_thread *steal_pop(struct weft__carrier *c)
{
	struct weft_thread *t;

	if (!atomic_load_explicit(&c->nr_steal, memory_order_relaxed))
		return NULL;
	weft__spin_lock(&c->steal_lock);
	t = q_pop(&c->stealq);
	if (t)
		atomic_fetch_sub_explicit(&c->nr_steal, 1,
					  memory_order_relaxed);
	weft__spin_unlock(&c->steal_lock);
	return t;
}

/* Threads waiting in c's localq, as seen now. */
static inline uint32_t local_len(struct weft__carrier *c)
{
	uint32_t h =
		atomic_load_explicit(&c->localq.head, memory_order_acquire);

	return atomic_load_explicit(&c->localq.tail, memory_order_acquire) - h;
}

unsigned weft__stealable(struct weft__carrier *c)
{
	return local_len(c) +
	       atomic_load_explicit(&c->nr_steal, memory_order_relaxed);
}

/*
 * c must be the calling carrier.  The localq is taken from first, so
 * while stealq holds any thread the localq takes no new one: it drains,
 * then stealq's turn comes, and neither starves the other.
 */
static void local_push(struct weft__carrier *c, struct weft_thread *t)
{
	struct weft__localq *q = &c->localq;
	uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (tail - atomic_load_explicit(&q->head, memory_order_acquire) >=
		    WEFT_LOCALQ ||
	    atomic_load_explicit(&c->nr_steal, memory_order_relaxed)) {
		steal_push(c, t);
		return;
	}
	atomic_store_explicit(&c->localq_slot[tail % WEFT_LOCALQ], t,
			      memory_order_relaxed);
	/* Release: whoever sees the tail sees t set up. */
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
}

/*
 * Take up to max threads, and at least half of those waiting, from the
 * head of c's localq into out; how many.  Any carrier may.
 */
static unsigned local_take(struct weft__carrier *c, struct weft_thread **out,
			   unsigned max)
{
	struct weft__localq *q = &c->localq;
	uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	for (;;) {
		uint32_t tail =
			atomic_load_explicit(&q->tail, memory_order_acquire);
		uint32_t n = tail - head;

		/* head was stale and the ring has turned since: again. */
		if (n > WEFT_LOCALQ) {
			head = atomic_load_explicit(&q->head,
						    memory_order_acquire);
			continue;
		}
		n -= n / 2;
		if (n > max)
			n = max;
		if (!n)
			return 0;
		for (uint32_t i = 0; i < n; i++)
			out[i] = atomic_load_explicit(
				&c->localq_slot[(head + i) % WEFT_LOCALQ],
				memory_order_relaxed);
		/* Release: the owner reuses the slots only after this. */
		if (atomic_compare_exchange_weak_explicit(
			    &q->head, &head, head + n, memory_order_acq_rel,
			    memory_order_acquire))
			return n;
	}
}

/* The next new or migratable thread of c, which is the calling carrier. */
static struct weft_thread *stealq_pop(struct weft__carrier *c)
{
	struct weft_thread *t;

	if (local_take(c, &t, 1))
		return t;
	return steal_pop(c);
}

/*
 * c's localq into its stealq, where a dump can list them under the lock
 * (dump.c); c must be the calling carrier.
 */
void weft__localq_spill(struct weft__carrier *c)
{
	struct weft_thread *t;

	while (local_take(c, &t, 1))
		steal_push(c, t);
}

/*
 * Thread t moves from v to c, the calling carrier: if v counts it live,
 * c will (thread.c); how many moved so.
 */
static int adopt(struct weft__carrier *c, struct weft__carrier *v,
		 struct weft_thread *t)
{
	if (t->live_home != v)
		return 0;
	t->live_home = c;
	return 1;
}

/*
 * How many of v's new threads c may take at once: a thread that has run
 * stays where it ran, so where threads start is all the balance there
 * is.  c takes only while fewer threads live on c than on v, and no more
 * than evens the two, or a carrier that was idle while another spawned
 * ten thousand readers ends up holding them all.  From a stuck carrier,
 * any.  Any carrier may ask.
 */
static unsigned even_share(struct weft__carrier *c, struct weft__carrier *v)
{
	int mine, theirs;

	if (atomic_load_explicit(&v->stuck, memory_order_relaxed))
		return UINT_MAX;
	mine = weft__live_here(c);
	theirs = weft__live_here(v);
	return theirs > mine ? (unsigned)(theirs - mine + 1) / 2 : 0;
}

/*
 * Have some of v's new threads waited YOUNG_NS since c first saw them (v's
 * localq head has not passed the tail c saw then)?  A thread that runs
 * for less than a switch costs more moved to another CPU (its control
 * block and stack written here and read there, its join back) than it
 * saves, and v runs a batch of them in microseconds: c takes only
 * threads that v leaves waiting.
 */
static bool seen_waiting(struct weft__carrier *c, struct weft__carrier *v)
{
	return v == c->young &&
	       (int32_t)(atomic_load_explicit(&v->localq.head,
					      memory_order_relaxed) -
			 c->young_end) < 0;
}

static bool aged(struct weft__carrier *c, struct weft__carrier *v)
{
	return seen_waiting(c, v) && weft__now() - c->young_since >= YOUNG_NS;
}

/* c sees v's new threads, within its share: since when they wait. */
static void see_young(struct weft__carrier *c, struct weft__carrier *v)
{
	if (seen_waiting(c, v))
		return;
	c->young = v;
	c->young_end =
		atomic_load_explicit(&v->localq.tail, memory_order_relaxed);
	c->young_since = weft__now();
}

/*
 * How many of v's new threads c, the calling carrier, may take now.  Its
 * even share once they have aged (a stuck v's at once).  Past that, c
 * sleeps PATIENCE_NS first, and takes as usual if v has neither picked
 * nor spawned a thread meanwhile (its tick stood still, idle() records
 * it): v runs one thread that keeps it, and its queue waits for it, as
 * CPU-bound threads spawned beside many parked ones would.
 */
static unsigned fair_share(struct weft__carrier *c, struct weft__carrier *v)
{
	unsigned share;

	if (c->patient && v == c->later &&
	    atomic_load_explicit(&v->tick, memory_order_relaxed) ==
		    c->later_tick)
		return UINT_MAX;
	share = even_share(c, v);
	return share >= YOUNG_SHARE || aged(c, v) ? share : 0;
}

/*
 * Take one thread, and up to half of the rest, from another carrier, no
 * more than its fair share.  Their live counts move before any of them
 * can be seen here: a thread queued here may be stolen again at once.
 */
static struct weft_thread *steal(struct weft__carrier *c)
{
	int n = weft__rt.nr_carriers;

	for (int i = 1; i < n; i++) {
		struct weft__carrier *v = weft__rt.carriers[(c->index + i) % n];
		struct weft_thread *got[WEFT_LOCALQ / 2];
		unsigned k, max = fair_share(c, v);
		int counted = 0;

		if (!max || !weft__stealable(v))
			continue;
		if (max > ARRAY_SIZE(got))
			max = ARRAY_SIZE(got);
		k = local_take(v, got, max);
		if (!k) {
			unsigned more = atomic_load_explicit(
				&v->nr_steal, memory_order_relaxed);

			more = more - more / 2;
			while (k < more && k < max && (got[k] = steal_pop(v)))
				k++;
			if (!k)
				continue;
		}
		for (unsigned j = 0; j < k; j++)
			counted += adopt(c, v, got[j]);
		if (counted)
			weft__live_move(c, v, counted);
		for (unsigned j = 1; j < k; j++)
			local_push(c, got[j]);
		WEFT_STAT(c, steals);
		c->patient = false;
		c->young = NULL;
		return got[0];
	}
	c->patient = false;
	return NULL;
}

/*
 * Whether c has, or may take now, a thread to start: WORK_NOW; or may
 * take one once new threads have waited YOUNG_NS: WORK_SOON; or after
 * PATIENCE_NS: WORK_LATER; or none: WORK_NONE.
 */
enum { WORK_NONE, WORK_LATER, WORK_SOON, WORK_NOW };

static int work_anywhere(struct weft__carrier *c)
{
	int found = WORK_NONE;

	for (int i = 0; i < weft__rt.nr_carriers; i++) {
		struct weft__carrier *v = weft__rt.carriers[i];

		if (!weft__stealable(v))
			continue;
		if (v == c || fair_share(c, v))
			return WORK_NOW;
		if (even_share(c, v)) {
			if (found != WORK_SOON)
				see_young(c, v);
			found = WORK_SOON;
		} else if (!found) {
			c->later = v;
			c->later_tick = atomic_load_explicit(
				&v->tick, memory_order_relaxed);
			found = WORK_LATER;
		}
	}
	return found;
}

/* One more pick: the monitor watches c->tick for a carrier that is stuck. */
static inline unsigned tick(struct weft__carrier *c)
{
	unsigned n = atomic_load_explicit(&c->tick, memory_order_relaxed) + 1;

	atomic_store_explicit(&c->tick, n, memory_order_relaxed);
	return n;
}

/* ---- waking ---- */

/* Wake c if it sleeps in its ring. */
static void kick(struct weft__carrier *c)
{
	if (atomic_load(&c->sleeping) && atomic_exchange(&c->sleeping, 0))
		weft__ring_kick(c);
}

/* A carrier that is not c and sleeps, to come and take c's work; or none. */
static void kick_idle(struct weft__carrier *c)
{
	if (!atomic_load_explicit(&weft__rt.nr_sleeping, memory_order_relaxed))
		return;
	for (int i = 1; i < weft__rt.nr_carriers; i++) {
		struct weft__carrier *v =
			weft__rt.carriers[(c->index + i) % weft__rt.nr_carriers];

		/* One napping wakes on its own. */
		int nap =
			atomic_load_explicit(&v->napping, memory_order_relaxed);

		if (atomic_load(&v->sleeping) &&
		    (!nap || (nap == NAP_PATIENCE && even_share(v, c)))) {
			kick(v);
			return;
		}
	}
}

/* Make t runnable on c, which must be the calling carrier. */
void weft__enqueue_local(struct weft__carrier *c, struct weft_thread *t)
{
	weft__timer_disarm(c, &t->timer);
	if (unlikely(t->multi) && weft__ring_keep_parked(c, t))
		return;
	/* Pinned for now: in a handler, or SQEs to cancel here (ring.c). */
	if ((t->flags & WEFT_SPAWN_MIGRATABLE) && !t->pin &&
	    !(t->multi && t->multi->pending))
		local_push(c, t);
	else
		q_push(&c->runq, t);
}

void weft__ready(struct weft_thread *t)
{
	struct weft__carrier *c = t->carrier, *self = weft__carrier_self();
	struct weft_thread *head;

	if (c == self) {
		weft__enqueue_local(c, t);
		return;
	}
	head = atomic_load(&c->inbox);
	do
		t->next = head;
	while (!atomic_compare_exchange_weak(&c->inbox, &head, t));
	kick(c);
}

static void drain_inbox(struct weft__carrier *c)
{
	struct weft_thread *t = atomic_exchange(&c->inbox, NULL), *rev = NULL;

	while (t) { /* the inbox is a stack: reverse it into arrival order */
		struct weft_thread *next = t->next;

		t->next = rev;
		rev = t;
		t = next;
	}
	while (rev) {
		struct weft_thread *next = rev->next;

		weft__enqueue_local(c, rev);
		rev = next;
	}
}

/*
 * Queue a thread that has never run: any carrier may take it.  A spawn
 * counts as a pick for the monitor: a thread spawning thousands is not
 * stuck where the runtime cannot see, and a stuck carrier's threads go
 * to the others regardless of their fair share.  Its spawns yield before
 * the queue grows long instead (weft__thread_start).
 */
void weft__enqueue_new(struct weft__carrier *c, struct weft_thread *t)
{
	if (unlikely(t->pin) && c) { /* to start here: weft__main */
		q_push(&c->runq, t);
		return;
	}
	if (c) {
		local_push(c, t);
		tick(c);
		if (weft__stealable(c) > 1)
			kick_idle(c);
		return;
	}
	c = weft__monitor_place();
	steal_push(c, t);
	kick(c);
	/* Every carrier it could go to is stuck: wake one to come for it. */
	if (unlikely(atomic_load_explicit(&c->stuck, memory_order_relaxed)))
		kick_idle(c);
}

/* ---- switching ---- */

static void check_stack(struct weft_thread *t)
{
	char *sp = __builtin_frame_address(0);

	if (unlikely(sp < (char *)t->stack_lo)) {
		weft__msg("stack overflow in virtual thread '%s' (#%llu) "
			  "with a stack of %zu bytes",
			  t->name, (unsigned long long)t->id, t->stack_size);
		abort();
	}
}

/* Thread t, back from a switch away from it. */
static inline void resumed(struct weft_thread *t)
{
	asan_finish(t->asan_fake);
	weft__landed(t);
	weft__obs_resumed(t);
}

/* From thread t, running on c, to c's scheduler. */
static void switch_out(struct weft__carrier *c, struct weft_thread *t,
		       bool dying)
{
	if (!t->stack_guarded)
		check_stack(t);
	t->saved_errno = errno;
	set_current(c, NULL);
	asan_start(dying ? NULL : &t->asan_fake, c->sched_stack_lo,
		   c->sched_stack_size);
	tsan_switch(c->sched_tsan);
	weft__ctx_switch(&t->sp, c->sched_sp);
	/* Back, perhaps on another carrier: c is stale from here. */
	resumed(t);
}

/*
 * Before t runs on c: the ended members c holds of a group t is not in go
 * to their group, so only a group's own members delay its join (group.c).
 */
static inline void ended_before(struct weft__carrier *c, struct weft_thread *t)
{
	if (unlikely(c->ended.n) && t->group != c->ended.group)
		weft__group_flush_ended(c);
}

/*
 * With no I/O, timers or wake-ups from elsewhere to look after, the
 * scheduler would only pick the next thread: let thread t, running on c,
 * do it.  Every STEAL_EVERY picks go through the scheduler, which looks
 * at everything else then.
 */
static bool may_hand_over(struct weft__carrier *c)
{
	return !c->inflight && !c->unsubmitted && !c->heap_len &&
	       tick(c) % STEAL_EVERY &&
	       !atomic_load_explicit(&c->inbox, memory_order_relaxed);
}

/* ---- signal masks ---- */

/*
 * Under the shim every virtual thread has a signal mask of its own, as a
 * kernel thread has (weft__impl_sigmask).  The carrier that switches to
 * a thread gives its kernel thread that thread's mask when it has
 * another; carriers other than the one that takes the process's signals
 * block the asynchronous ones on top, as they always do.  So a mask goes
 * with its thread: one saved on a carrier and set again on another is
 * the thread's own there, not the first carrier's (HotSpot sets at a
 * thread's end the mask it read at its start).  Between threads a
 * carrier keeps the last one's.
 */
static uint64_t mask_word(const sigset_t *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

static void mask_apply(struct weft__carrier *c, uint64_t m)
{
	uint64_t k = m;

	if (!c->signals)
		k |= mask_word(&weft__rt.carrier_mask);
	weft__sys(SYS_rt_sigprocmask, SIG_SETMASK, (long)&k, 0, sizeof(k), 0,
		  0);
	c->sigmask = m;
}

static inline void mask_switch(struct weft__carrier *c, struct weft_thread *t)
{
	if (unlikely(weft__rt.masks) && t->sigmask != c->sigmask)
		mask_apply(c, t->sigmask);
}

/* Signals glibc keeps for itself, and those nobody blocks. */
#define MASK_NEVER                                           \
	((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)) | \
	 (1ull << (32 - 1)) /* SIGCANCEL */ |                \
	 (1ull << (33 - 1)) /* SIGSETXID */)

int weft__impl_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t = c ? c->current : NULL;
	uint64_t m, s;

	if (!t || !weft__rt.masks)
		return -ENOSYS;
	m = t->sigmask;
	if (set) {
		s = mask_word(set) & ~MASK_NEVER;
		switch (how) {
		case SIG_BLOCK:
			m |= s;
			break;
		case SIG_UNBLOCK:
			m &= ~s;
			break;
		case SIG_SETMASK:
			m = s;
			break;
		default:
			return -EINVAL;
		}
	}
	if (old) {
		sigemptyset(old);
		memcpy(old, &t->sigmask, sizeof(t->sigmask));
	}
	t->sigmask = m;
	mask_apply(c, m);
	return 0;
}

bool weft__impl_blocks(const struct weft_thread *t, int sig)
{
	uint64_t m = __atomic_load_n(&t->sigmask, __ATOMIC_RELAXED);

	return sig >= 1 && sig <= 64 && (m >> (sig - 1) & 1);
}

void weft__impl_masks_own(void)
{
	weft__rt.masks = true;
}

/* A new thread's mask: its spawner's, as pthread_create gives. */
void weft__sigmask_inherit(struct weft_thread *t)
{
	struct weft_thread *self = weft__self();
	sigset_t now;

	if (!weft__rt.masks)
		return;
	if (self) {
		t->sigmask = self->sigmask;
		return;
	}
	pthread_sigmask(SIG_BLOCK, NULL, &now);
	t->sigmask = mask_word(&now) & ~MASK_NEVER;
}

/*
 * A handler starts on the calling virtual thread (shim), with the
 * kernel's mask for it: while it runs the thread stays on its carrier,
 * whose kernel thread its return restores, and has that mask; the
 * carrier's kernel thread has it now.  Returns the mask to go back to.
 */
uint64_t weft__impl_handler_enter(const sigset_t *during)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t = c ? c->current : NULL;
	uint64_t before;

	if (!t)
		return 0;
	t->pin++;
	before = t->sigmask;
	if (weft__rt.masks) {
		t->sigmask |= mask_word(during) & ~MASK_NEVER;
		c->sigmask = UINT64_MAX; /* as the kernel has it: not known */
	}
	return before;
}

/*
 * A process's signal comes while c's scheduler runs, no thread on c:
 * lend the handler thread t, so that it runs as t's, as the kernel
 * would have run it on t (its TLS, weft_thread_self(), its mask).  Only
 * a thread that cannot run anywhere meanwhile: at home on c, and not
 * free to move.  The thread pointer to give back to, or NULL if not lent.
 */
void *weft__impl_lend(struct weft_thread *t)
{
	struct weft__carrier *c = weft__carrier_self();
	void *tp = __builtin_thread_pointer();

	if (!c || c->current || !t || t->carrier != c ||
	    ((t->flags & WEFT_SPAWN_MIGRATABLE) && !t->pin))
		return NULL;
	c->lent = t;
	c->lent_tp = tp;
	set_current(c, t);
	if (t->tp)
		weft__tls_enter(c, t);
	return tp;
}

void weft__impl_lend_end(void *tp)
{
	struct weft__carrier *c = weft__carrier_self();

	if (__builtin_thread_pointer() != tp)
		weft__tls_set(tp);
	if (c && c->lent) { /* not if it forked meanwhile */
		c->lent = NULL;
		set_current(c, NULL);
	}
}

/*
 * A handler that forks (PostgreSQL's postmaster does) forks its carrier's
 * scheduler, not the thread lent to it: the child holds no thread, as it
 * would without the lend.  Around the fork it is given back.
 */
static void lend_pause(struct weft__carrier *c)
{
	if (c && c->lent) {
		set_current(c, NULL);
		if (__builtin_thread_pointer() != c->lent_tp)
			weft__tls_set(c->lent_tp);
	}
}

static void lend_resume(struct weft__carrier *c)
{
	if (c && c->lent) {
		set_current(c, c->lent);
		if (c->lent->tp)
			weft__tls_enter(c, c->lent);
	}
}

/*
 * The carrier that takes the process's signals, asleep, has the mask of
 * the thread they are for (the shim's main), not of the last thread it
 * ran: a signal that thread does not block must come while it waits.
 */
static void mask_idle(struct weft__carrier *c)
{
	struct weft_thread *t = atomic_load_explicit(&weft__rt.signals_thread,
						     memory_order_acquire);

	if (t && t->carrier == c && t->sigmask != c->sigmask)
		mask_apply(c, t->sigmask);
}

void weft__impl_signals_for(struct weft_thread *t)
{
	atomic_store_explicit(&weft__rt.signals_thread, t,
			      memory_order_release);
}

/* The handler returns: the kernel sets the mask it saved. */
void weft__impl_handler_exit(uint64_t before)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t = c ? c->current : NULL;

	if (!t)
		return;
	t->pin--;
	if (weft__rt.masks) {
		t->sigmask = before;
		c->sigmask = UINT64_MAX;
	}
}

/*
 * From thread t on c straight to n, as run() starts it from the scheduler.
 * A dying t's context is not needed again, nor its fake stack.
 */
static void hand_over(struct weft__carrier *c, struct weft_thread *t,
		      struct weft_thread *n, bool dying)
{
	if (!dying && !t->stack_guarded)
		check_stack(t);
	weft__obs_run(c, n);
	if (unlikely(n->carrier != c))
		weft__monitor_home(c, n);
	n->carrier = c;
	mask_switch(c, n);
	t->saved_errno = errno;
	if (unlikely(n->tp)) {
		weft__tls_enter(c, n);
		weft__tls_carrier = c; /* in n's TLS */
	} else if (unlikely(t->tp)) {
		weft__tls_set(c->tp);
	}
	errno = n->saved_errno;
	if (dying)
		n->inherit = t;
	set_current(c, n);
	asan_start(dying ? NULL : &t->asan_fake, n->stack_lo, n->stack_size);
	tsan_switch(n->tsan_fiber);
	weft__ctx_switch(&t->sp, n->sp);
}

/*
 * The next thread, when the scheduler would only pick it (a new thread
 * first, as pick() does), for a thread that ends or parks to switch to;
 * or NULL.  With nothing queued, the joiner of a thread that ends would
 * be next: the ending thread wakes it to switch to it.  Threads on TLS
 * of their own too: hand_over() switches it, and run() restores the
 * carrier's for whichever thread comes back.
 */
static struct weft_thread *next_at_hand(struct weft__carrier *c,
					struct weft_thread *ending)
{
	struct weft_thread *n;

	if (!may_hand_over(c))
		return NULL;
	if ((n = stealq_pop(c)) || (n = runq_pop(c)))
		return n;
	return ending ? weft__joiner_at_hand(c, ending) : NULL;
}

/*
 * A thread that ends goes to the scheduler, which finalises it once off
 * its stack (run()), then picks the next: two switches.  When the next is
 * at hand, t switches to it instead, and that thread finalises t
 * (weft__landed).
 */
void weft__exit_current(void)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t = c->current, *n;

	if ((n = next_at_hand(c, t))) {
		hand_over(c, t, n, true);
		abort(); /* nobody switches back to a thread that ended */
	}
	c->dead = t;
	switch_out(c, t, true);
	__builtin_unreachable();
}

/*
 * Park the calling virtual thread until weft__ready() is called on it.  As
 * a thread that ends does, it switches to the next thread itself when the
 * scheduler would only pick it; not with an after_park to run once its
 * context is saved (pool.c).  Woken already, it finds itself queued: the
 * wake-up is absorbed, and it goes on.
 */
void weft__park(void)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t = c->current, *n;

	if (!c->after_park && (n = next_at_hand(c, NULL))) {
		if (n == t)
			return;
		hand_over(c, t, n, false);
		resumed(t);
		return;
	}
	switch_out(c, t, false);
}

/*
 * The first thing thread t does where a switch lands it: finalise the
 * thread that ended by switching to it, if one did, and what the
 * scheduler does before it runs a thread (ended_before).
 */
void weft__landed(struct weft_thread *t)
{
	struct weft_thread *d = t->inherit;

	if (unlikely(d)) {
		struct weft__carrier *c = weft__carrier_self();

		t->inherit = NULL;
		weft__thread_finalise(c, d);
		ended_before(c, t);
	}
}

int weft_yield(void)
{
	struct weft__carrier *c = weft__carrier_self();
	struct weft_thread *t, *n;

	if (!c || !(t = c->current)) {
		sched_yield();
		return 0;
	}
	/*
	 * With no I/O, timers, wake-ups or new threads to look after, hand
	 * the carrier straight to the next pinned thread: one switch, not two.
	 * A migratable thread goes through the scheduler instead, which
	 * queues it only once its context is saved: queued, it may be stolen.
	 */
	if (!(t->flags & WEFT_SPAWN_MIGRATABLE) && may_hand_over(c) &&
	    !weft__stealable(c) && (n = runq_pop(c))) {
		q_push(&c->runq, t);
		hand_over(c, t, n, false);
		resumed(t);
		return 0;
	}
	c->yielded = t;
	switch_out(c, t, false);
	return 0;
}

/*
 * A thread that makes blocking calls which never block (a poll that finds
 * its fd ready each time, because the thread that would drain it is
 * parked on this carrier) holds the carrier as a spin does, with the
 * completions of the threads parked here in its ring.  Once the monitor
 * has found the carrier stuck, each such call yields first, and the
 * scheduler looks at the ring at every pick until the monitor sees it
 * pick again: the parked threads run, as their kernel threads would
 * natively.  The cost when not stuck: one load.
 */
void weft__impl_preempt(void)
{
	struct weft__carrier *c = weft__carrier_self();

	if (c && c->current &&
	    unlikely(atomic_load_explicit(&c->stuck, memory_order_relaxed)))
		weft_yield();
}

/* From c's scheduler to thread t. */
static void run(struct weft__carrier *c, struct weft_thread *t)
{
	weft__obs_run(c, t);
	if (unlikely(t->carrier != c))
		weft__monitor_home(c, t);
	t->carrier = c;
	mask_switch(c, t);
	set_current(c, t);
	tick(c);
	if (unlikely(t->tp)) {
		weft__tls_enter(c, t);
		weft__tls_carrier = c; /* in t's TLS */
	}
	errno = t->saved_errno; /* in t's TLS, or the carrier's it shares */
	asan_start(&c->sched_fake, t->stack_lo, t->stack_size);
	tsan_switch(t->tsan_fiber);
	weft__ctx_switch(&c->sched_sp, t->sp);
	/* back from t, or from the thread t handed over to */
	if (unlikely(c->tp) && __builtin_thread_pointer() != c->tp)
		weft__tls_set(c->tp);
	asan_finish(c->sched_fake);
	if (c->yielded) {
		weft__enqueue_local(c, c->yielded);
		c->yielded = NULL;
	}
	if (unlikely(c->after_park)) {
		void (*fn)(void) = c->after_park;

		c->after_park = NULL;
		fn();
	}
	if (c->dead) {
		struct weft_thread *d = c->dead;

		c->dead = NULL;
		weft__thread_finalise(c, d);
	}
}

/*
 * New threads first, as Go runs a new goroutine next: a thread that yields
 * must let the ones waiting to start run.  Every STEAL_EVERY picks the
 * order flips, so a storm of spawns cannot starve woken threads either.
 */
static struct weft_thread *pick(struct weft__carrier *c)
{
	unsigned n = atomic_load_explicit(&c->tick, memory_order_relaxed);
	struct weft_thread *t;

	if (n % STEAL_EVERY == 0) {
		if ((t = runq_pop(c)) || (t = stealq_pop(c)))
			return t;
	} else if ((t = stealq_pop(c)) || (t = runq_pop(c))) {
		return t;
	}
	return steal(c);
}

/* Sleep in the ring; false when c is to leave (monitor.c). */
static bool idle(struct weft__carrier *c)
{
	int work;

	/* Before it sleeps: rt.live may reach zero only so (thread.c). */
	weft__live_settle(c);
	if (unlikely(c->signals && weft__rt.masks))
		mask_idle(c);
	atomic_store(&c->sleeping, 1);
	atomic_fetch_add(&weft__rt.nr_sleeping, 1);
	work = work_anywhere(c);
	if (atomic_load(&c->inbox) || work == WORK_NOW ||
	    atomic_load(&weft__rt.stopping) || atomic_load(&c->leave)) {
		atomic_store(&c->sleeping, 0);
	} else {
		int64_t until = weft__timer_next(c), later_at = -1;
		int nap = work == WORK_SOON  ? NAP_YOUNG :
			  work == WORK_LATER ? NAP_PATIENCE :
					       0;

		if (nap) {
			later_at = nap == NAP_YOUNG ?
					   c->young_since + YOUNG_NS :
					   weft__now() + PATIENCE_NS;
			if (until < 0 || later_at < until)
				until = later_at;
			atomic_store_explicit(&c->napping, nap,
					      memory_order_relaxed);
		}
		weft__ring_poll(c, true, until);
		atomic_store(&c->sleeping, 0);
		atomic_store_explicit(&c->napping, 0, memory_order_relaxed);
		/* Woken early, it has not waited out its patience. */
		c->patient = nap == NAP_PATIENCE && weft__now() >= later_at;
	}
	atomic_fetch_sub(&weft__rt.nr_sleeping, 1);
	/* Pairs with the monitor's look at nr_sleeping before it sleeps. */
	if (unlikely(atomic_load(&weft__rt.monitor_asleep)))
		weft__monitor_wake();
	if (c->heap_len)
		weft__timer_fire(c, weft__now());
	return likely(!atomic_load_explicit(&c->leave, memory_order_relaxed)) ||
	       !weft__monitor_leave(c);
}

static void carrier_loop(struct weft__carrier *c)
{
	unsigned budget = 0;
	struct weft_thread *t;

	/*
	 * Acquire: the carrier that ended the last thread set stopping
	 * (weft__runtime_idle), and weft__main, returning on carrier 0,
	 * reads that thread's value and clears stop_when_idle after it.
	 */
	while (!atomic_load_explicit(&weft__rt.stopping,
				     memory_order_acquire)) {
		if (atomic_load_explicit(&c->inbox, memory_order_relaxed))
			drain_inbox(c);
		weft__obs_poll(c);
		if (unlikely(c->index == 0 &&
			     atomic_load_explicit(&root_signal,
						  memory_order_relaxed))) {
			atomic_store(&root_signal, 0);
			weft__root_cancel();
		}
		if (unlikely(atomic_load_explicit(&deferred,
						  memory_order_relaxed)) &&
		    c->index == 0)
			atomic_exchange(&deferred, NULL)();
		if (budget >= RUN_BUDGET ||
		    unlikely(atomic_load_explicit(&c->stuck,
						  memory_order_relaxed))) {
			budget = 0;
			if (c->inflight || c->unsubmitted)
				weft__ring_poll(c, false, -1);
			if (c->heap_len)
				weft__timer_fire(c, weft__now());
		}
		if ((t = pick(c))) {
			ended_before(c, t);
			run(c, t);
			budget++;
			continue;
		}
		budget = 0;
		if (unlikely(c->ended.n)) { /* it may wake a thread here */
			weft__group_flush_ended(c);
			continue;
		}
		if (!idle(c))
			break;
	}
	weft__group_flush_ended(c);
}

/* ---- stack overflow ---- */

static struct sigaction old_segv;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	struct weft__carrier *c = weft__tls_carrier;
	struct weft_thread *t = c ? c->current : NULL;

	if (t && weft__stack_overflowed(t, si->si_addr)) {
		weft__msg("stack overflow in virtual thread '%s' (#%llu) "
			  "with a stack of %zu bytes",
			  t->name, (unsigned long long)t->id, t->stack_size);
		signal(SIGSEGV, SIG_DFL); /* the fault repeats, and kills */
		return;
	}
	if (old_segv.sa_flags & SA_SIGINFO) {
		old_segv.sa_sigaction(sig, si, uc);
	} else if (old_segv.sa_handler != SIG_DFL &&
		   old_segv.sa_handler != SIG_IGN) {
		old_segv.sa_handler(sig);
	} else {
		signal(SIGSEGV, SIG_DFL);
	}
}

static void install_segv(void)
{
	static bool done;
	struct sigaction sa;

	if (done)
		return;
	done = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
}

/* ---- carriers ---- */

static int carrier_setup(struct weft__carrier *c)
{
	pthread_attr_t a;
	stack_t ss;
	int r;

	weft__tls_carrier = c;
	c->sched_tsan = tsan_current();
	c->tid = gettid();
	/* Carrier 0 of weft_main has the program's mask; others block. */
	c->signals = c->adopted;
	c->sigmask = c->adopted ? mask_word(&weft__rt.sigmask) : UINT64_MAX;
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		pthread_attr_getstack(&a, &c->sched_stack_lo,
				      &c->sched_stack_size);
		pthread_attr_destroy(&a);
	}
	c->altstack = WEFT_FAULT(carrier_altstack) ?
			      MAP_FAILED :
			      mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (c->altstack == MAP_FAILED) {
		c->altstack = NULL;
		return -ENOMEM;
	}
	ss = (stack_t){ .ss_sp = c->altstack, .ss_size = ALTSTACK_SIZE };
	sigaltstack(&ss, &c->old_altstack);
	r = weft__ring_init(c);
	if (r < 0) {
		sigaltstack(&c->old_altstack, NULL);
		munmap(c->altstack, ALTSTACK_SIZE);
		c->altstack = NULL;
	}
	return r;
}

/*
 * Run by the carrier's own kernel thread as it leaves: the thread gets
 * back the signal stack it had (weft_main's caller its own, a thread of
 * AddressSanitizer's the one it unmaps as the thread exits).
 */
static void carrier_leave(struct weft__carrier *c)
{
	if (c->altstack)
		sigaltstack(&c->old_altstack, NULL);
	weft__tls_carrier = NULL;
}

/*
 * Run by whoever joined the carrier once it has left (the stopper, the
 * monitor), or in a fork child for a carrier whose kernel thread stayed
 * behind.  Its slot, eventfd included, may take another carrier later.
 */
void weft__carrier_free(struct weft__carrier *c)
{
	if (!c->setup_err)
		weft__ring_exit(c);
	if (c->altstack)
		munmap(c->altstack, ALTSTACK_SIZE);
	c->altstack = NULL;
	free(c->heap);
	c->heap = NULL;
	c->heap_len = c->heap_cap = 0;
}

static void report_ready(void)
{
	atomic_fetch_add(&weft__rt.ready, 1);
	weft__futex_wake(&weft__rt.ready, 1);
}

void *weft__carrier_main(void *arg)
{
	struct weft__carrier *c = arg;

	c->setup_err = carrier_setup(c);
	report_ready();
	if (c->setup_err)
		return NULL;
	carrier_loop(c);
	carrier_leave(c);
	return NULL;
}

static void stop_carriers(int started, bool adopted)
{
	/* No carrier starts or leaves after this. */
	if (weft__monitor_stop())
		started = weft__rt.nr_carriers;
	weft__pool_stop();
	atomic_store(&weft__rt.stopping, true);
	for (int i = 0; i < started; i++) {
		struct weft__carrier *c = weft__rt.carriers[i];

		/* Setup has ended for each, so its eventfd is open or unused.
		 */
		if (!c->setup_err)
			weft__ring_kick(c);
	}
	for (int i = 0; i < started; i++) {
		struct weft__carrier *c = weft__rt.carriers[i];

		if (i == 0 && adopted)
			carrier_leave(c);
		else
			pthread_join(c->pthread, NULL);
		weft__carrier_free(c);
	}
	weft__obs_stop(atomic_load(&weft__rt.state) == RT_RUNNING);
	weft__carriers_free();
	weft__stack_fini();
	atomic_store(&weft__rt.stopping, false);
	atomic_store(&weft__rt.ready, 0);
	atomic_store(&weft__rt.state, RT_STOPPED);
}

static const int synchronous[] = { SIGPIPE, SIGSEGV, SIGBUS, SIGFPE,
				   SIGILL,  SIGTRAP, SIGSYS };

/*
 * Start the carriers.  With adopt, the calling kernel thread becomes
 * carrier 0 and must run its loop itself (weft_main).
 */
static int start(bool adopt)
{
	unsigned n, r;
	int err = 0, started = 0;
	sigset_t all, old;

	if (atomic_load(&weft__rt.state) != RT_STOPPED)
		return -EBUSY;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	err = weft__env_uint("WEFT_CARRIERS", 1, 1024, n ? n : 1, &n);
	if (!err) /* garbage in any variable: no start (weft(7)) */
		err = weft__env_uint("WEFT_GRACE_MS", 0, 3600000, 1000,
				     &grace_ms);
	if (!err)
		err = weft__stack_init();
	if (!err)
		err = weft__carriers_alloc(n);
	if (err)
		return err;
	install_segv();
	weft__obs_start();
	/*
	 * Carriers take no asynchronous signals: the program's threads do.
	 * Synchronous ones (SIGPIPE from a write, a fault) belong to the
	 * thread that caused them, which runs on the carrier.
	 */
	sigfillset(&all);
	for (size_t i = 0; i < ARRAY_SIZE(synchronous); i++)
		sigdelset(&all, synchronous[i]);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	weft__rt.sigmask = old;
	weft__rt.carrier_mask = all;
	for (unsigned i = 0; i < n; i++) {
		struct weft__carrier *c = weft__rt.carriers[i];

		if (i == 0 && adopt) {
			c->adopted = true;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			c->setup_err = carrier_setup(c);
			pthread_sigmask(SIG_SETMASK, &all, NULL);
			report_ready();
		} else {
			r = WEFT_FAULT(carrier_thread) ?
				    EAGAIN :
				    pthread_create(&c->pthread, NULL,
						   weft__carrier_main, c);
			if (r) {
				err = -(int)r;
				break;
			}
		}
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	while ((r = atomic_load(&weft__rt.ready)) < (unsigned)started)
		weft__futex_wait(&weft__rt.ready, r, -1);
	for (int i = 0; i < started && !err; i++)
		err = weft__rt.carriers[i]->setup_err;
	if (!err)
		err = weft__monitor_start();
	if (err) {
		stop_carriers(started, adopt);
		return err;
	}
	atomic_store(&weft__rt.state, RT_RUNNING);
	return 0;
}

/* Start the runtime unless it runs; for spawns from plain threads. */
int weft__runtime_start(void)
{
	int r = 0;

	if (likely(atomic_load(&weft__rt.state) == RT_RUNNING))
		return 0;
	weft__lock(&life_lock);
	if (atomic_load(&weft__rt.state) != RT_RUNNING)
		r = start(false);
	weft__unlock(&life_lock);
	return r;
}

/* The last thread ended: wake weft_shutdown(), or end weft_main(). */
void weft__runtime_idle(void)
{
	weft__futex_wake(&weft__rt.live, INT32_MAX);
	if (weft__rt.stop_when_idle) {
		atomic_store(&weft__rt.stopping, true);
		for (int i = 0; i < weft__rt.nr_carriers; i++)
			kick(weft__rt.carriers[i]);
	}
}

static void wait_idle(void)
{
	unsigned n;

	while ((n = atomic_load(&weft__rt.live)))
		weft__futex_wait(&weft__rt.live, n, -1);
}

int weft_shutdown(void)
{
	if (weft__carrier_self())
		return -EINVAL;
	weft__lock(&life_lock);
	if (atomic_load(&weft__rt.state) == RT_RUNNING) {
		weft__root_join((int64_t)grace_ms * 1000000);
		wait_idle();
		stop_carriers(weft__rt.nr_carriers, false);
	}
	weft__unlock(&life_lock);
	return 0;
}

/*
 * weft_main's body: runs in the root scope, which SIGINT and SIGTERM
 * cancel; when it returns, the root group (threads spawned without a
 * group) gets WEFT_GRACE_MS to end, is cancelled, and is joined.
 */
struct body {
	intptr_t (*fn)(void *);
	void *arg;
	unsigned grace_ms;
};

static struct sigaction old_int, old_term;

/* Async-signal-safe: note it, and wake carrier 0 to act on it. */
static void on_stop_signal(int sig)
{
	atomic_store(&root_signal, sig);
	if (weft__rt.carriers)
		weft__ring_kick(weft__rt.carriers[0]);
}

static void catch_stop_signals(bool on)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	if (!on) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		return;
	}
	/* Only where the program left the default: its handlers win. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, NULL, &old_int);
	sigaction(SIGTERM, NULL, &old_term);
	if (old_int.sa_handler == SIG_DFL)
		sigaction(SIGINT, &sa, NULL);
	if (old_term.sa_handler == SIG_DFL)
		sigaction(SIGTERM, &sa, NULL);
}

static intptr_t run_body(void *arg)
{
	struct body *b = arg;
	intptr_t v;

	weft__self()->ctl.scope = weft__root_scope();
	weft__root_set_owner(&weft__self()->ctl);
	v = b->fn(b->arg);
	weft__root_set_owner(NULL);
	weft__self()->ctl.scope = NULL;
	weft__root_join((int64_t)b->grace_ms * 1000000);
	return v;
}

intptr_t weft_main(intptr_t (*fn)(void *), void *arg)
{
	return weft__main(fn, arg, &(struct weft_spawn_attr){ .name = "main" },
			  true);
}

intptr_t weft__main(intptr_t (*fn)(void *), void *arg,
		    const struct weft_spawn_attr *attr, bool catch_signals)
{
	struct body b = { fn, arg, 0 };
	struct weft_thread *t;
	intptr_t v;
	int r;

	if (!fn)
		return -EINVAL;
	r = weft__env_uint("WEFT_GRACE_MS", 0, 3600000, 1000, &b.grace_ms);
	if (r < 0)
		return r;
	weft__lock(&life_lock);
	r = start(true);
	if (r == -EBUSY) {
		/* Already running: an ordinary spawn and join. */
		weft__unlock(&life_lock);
		r = weft_thread_spawn(&t, run_body, &b, attr);
		if (r < 0)
			return r;
		r = weft_thread_join(t, &v);
		return r < 0 ? r : v;
	}
	if (r < 0) {
		weft__unlock(&life_lock);
		return r;
	}
	weft__rt.stop_when_idle = true;
	atomic_store(&root_signal, 0);
	if (catch_signals)
		catch_stop_signals(true);
	/*
	 * The shim's main stays on carrier 0, which takes the process's
	 * signals, so that a handler may run as main's (weft__impl_lend).
	 */
	t = weft__thread_new(run_body, &b, attr, &r);
	if (t) {
		t->pin = !catch_signals &&
			 weft__carrier_self() == weft__rt.carriers[0];
		weft__thread_start(t);
	}
	if (!t) {
		if (catch_signals)
			catch_stop_signals(false);
		stop_carriers(weft__rt.nr_carriers, true);
		weft__unlock(&life_lock);
		return r;
	}
	carrier_loop(weft__rt.carriers[0]);
	if (catch_signals)
		catch_stop_signals(false);
	/* Every thread has ended; root's value is still on its stack. */
	v = t->result;
	weft__stack_free(t);
	weft__rt.stop_when_idle = false;
	stop_carriers(weft__rt.nr_carriers, true);
	weft__unlock(&life_lock);
	return v;
}

/* Async-signal-safe: have carrier 0's scheduler call fn soon. */
void weft__impl_defer(void (*fn)(void))
{
	atomic_store(&deferred, fn);
	if (atomic_load(&weft__rt.state) == RT_RUNNING)
		weft__ring_kick(weft__rt.carriers[0]);
}

/* ---- fork ---- */

/*
 * fork() while the runtime runs.  The child has one kernel thread, the
 * one that forked.  If that is a carrier, running the virtual thread that
 * called fork, it becomes the only carrier of a fresh runtime, on a new
 * ring, holding only that thread; if it is a plain thread, the child's
 * runtime is stopped, and starts afresh on its first spawn.  Either way
 * the child never submits to the parent's rings, whose memory it shares:
 * it unmaps them and closes its copies of their fds.  The runtime's
 * global locks are held across the fork, so the child finds the stack
 * pools and the root group whole; the parent's other threads vanish from
 * the child with their stacks, as other pthreads do from a native child.
 * A lock word another thread held at that instant (a weft_mutex's inner
 * spin lock, briefly) stays held in the child, as a native child's
 * pthread mutexes do.
 */
static void fork_prepare(void)
{
	lend_pause(weft__tls_carrier);
	if (atomic_load(&weft__rt.state) != RT_RUNNING)
		return;
	weft__monitor_hold();
	weft__root_fork_lock();
	weft__stack_fork_lock();
}

static void fork_parent(void)
{
	struct weft__carrier *self = weft__tls_carrier;

	if (atomic_load(&weft__rt.state) == RT_RUNNING) {
		weft__stack_fork_unlock();
		weft__root_fork_unlock();
		weft__monitor_release();
	}
	lend_resume(self);
}

static void fork_child(void)
{
	struct weft__carrier *self = weft__tls_carrier;
	struct weft_thread *t = self ? self->current : NULL;

	if (self)
		self->lent = NULL;

	if (atomic_load(&weft__rt.state) != RT_RUNNING)
		return;
	weft__stack_fork_unlock();
	weft__root_fork_unlock();
	for (int i = 0; i < weft__rt.nr_carriers; i++)
		if (weft__rt.carriers[i] != self)
			weft__carrier_free(weft__rt.carriers[i]);
	weft__rt.gen++; /* the parent's handles: -ECHILD */
	if (t)
		t->gen = weft__rt.gen;
	weft__group_fork_child(t);
	weft__pool_fork_child();
	weft__obs_fork_child(self, t);
	atomic_store(&weft__rt.nr_sleeping, 0);
	atomic_store(&weft__rt.stopping, false);
	/* Only t is left, counted on rt.live itself (thread.c). */
	for (int i = 0; i < weft__rt.nr_slots; i++) {
		atomic_store(&weft__rt.carriers[i]->live, 0);
		atomic_store(&weft__rt.carriers[i]->live_owed, 0);
	}
	if (t)
		t->live_home = NULL;
	if (!t) {
		/*
		 * Not a virtual thread: no runtime until the next spawn.  A
		 * carrier's scheduler forks too (a signal handler that ran
		 * there, as PostgreSQL's postmaster forks): the child goes on
		 * as a plain thread, its carrier gone.
		 */
		if (self)
			weft__carrier_free(self);
		weft__tls_carrier = NULL;
		weft__monitor_fork_child(NULL);
		weft__stack_fini();
		atomic_store(&weft__rt.live, 0);
		atomic_store(&weft__rt.ready, 0);
		weft__rt.stop_when_idle = false;
		atomic_store(&life_lock.v, 0);
		atomic_store(&weft__rt.state, RT_STOPPED);
		return;
	}
	/* The forking thread's carrier, alone, on a ring of the child's. */
	weft__ring_exit(self);
	weft__monitor_fork_child(self);
	if (weft__ring_init(self) < 0) {
		weft__msg("fork: cannot set up the child's io_uring ring");
		abort();
	}
	self->runq = (struct weft__queue){ NULL, NULL };
	self->stealq = (struct weft__queue){ NULL, NULL };
	memset(&self->steal_lock, 0, sizeof(self->steal_lock));
	atomic_store(&self->localq.head, 0);
	atomic_store(&self->localq.tail, 0);
	atomic_store(&self->nr_steal, 0);
	atomic_store(&self->inbox, NULL);
	atomic_store(&self->sleeping, 0);
	self->heap_len = self->nr_over = 0;
	self->over = NULL;
	self->inflight = self->unsubmitted = 0;
	self->efd_armed = false;
	atomic_store(&weft__rt.ready, 1);
	atomic_store(&weft__rt.live, 1);
	/* When the forking thread ends, the child's runtime does, as a
	 * native child ends with its last thread. */
	weft__rt.stop_when_idle = true;
	/*
	 * A monitor of the child's own.  As from a scheduler, not from the
	 * virtual thread: in the preload, pthread_create on a virtual thread
	 * makes another virtual thread.
	 */
	self->current = NULL;
	if (weft__monitor_start() < 0)
		weft__msg("fork: cannot start the child's monitor");
	self->current = t;
	/* The child's one kernel thread takes the process's signals, with
	 * the forking thread's mask (the program's, if not each thread's). */
	self->signals = true;
	if (weft__rt.masks)
		mask_apply(self, t->sigmask);
	else
		pthread_sigmask(SIG_SETMASK, &weft__rt.sigmask, NULL);
}

__attribute__((constructor)) static void watch_forks(void)
{
	/* Early: the program's prepare handlers, registered later, run
	 * before this one takes the locks; its child handlers after ours. */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int weft_carrier_count(void)
{
	return atomic_load(&weft__rt.state) == RT_RUNNING ?
		       weft__rt.nr_carriers :
		       0;
}

int weft_carrier_index(void)
{
	struct weft__carrier *c = weft__carrier_self();

	return c ? c->index : -1;
}

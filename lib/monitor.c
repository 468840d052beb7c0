/* SPDX-License-Identifier: MIT */
/*
 * The monitor: a kernel thread that notices a carrier stuck in code the
 * runtime cannot see, and keeps the other threads running.
 *
 * The model.  A virtual thread leaves its carrier only by parking,
 * yielding or ending.  One that spins, or blocks its kernel thread in a
 * call the runtime does not interpose (read(2) in an API program, stdio's
 * internal read under the shim, flock, a libc-internal lock),
 * holds its carrier, and whatever waits there waits with it.  The
 * scheduler bumps c->tick at every pick and every spawn (a thread that
 * spawns thousands is in the runtime's sight, and yields before the
 * threads it queued wait long: thread.c); a carrier that is out of its
 * ring and has not picked a thread for WEFT_STUCK_MS (10 ms) of its own
 * time is stuck.  Its own time grows with the CPU time of its kernel
 * thread while that is running or runnable, and with wall time while it
 * is blocked (/proc/self/task/TID/stat says which): a carrier the kernel
 * preempted on an overloaded machine is not stuck, and another kernel
 * thread would only add to the load.
 *
 * Compensation.  A stuck carrier's steal queue (threads not yet started,
 * and migratable ones) may run anywhere: at each look the monitor wakes a
 * carrier asleep in its ring to come and steal it (work stealing first);
 * if for a whole bound it finds none asleep, it starts an extra carrier,
 * a kernel thread with its own ring like the others, which steals it,
 * and then another a bound later if still needed, up to
 * WEFT_MAX_EXTRA_CARRIERS at once.  The carriers that were busy take the
 * work as soon as they run out of their own, all of it: from a stuck
 * carrier a thief takes more than its fair share (sched.c).  Spawns from
 * plain threads skip stuck carriers.
 *
 * What waits.  Threads pinned to a stuck carrier (every thread that has
 * run there, see Migration in sched.c), with their wake-ups in its inbox,
 * their SQEs not yet submitted and their CQEs in its ring, and their
 * timers in its heap, wait for it to come back, migratable ones too once
 * they have parked there.  That is the price of the errno rule: a thread
 * moved after it ran could read another carrier's errno through an
 * address computed before it parked.  A stuck carrier whose thread makes
 * blocking calls that do not block (a poll that finds its fd ready every
 * time, as Python's pool polls a pipe a thread parked there would drain)
 * comes back at each of them: they yield once it is found stuck
 * (weft__impl_preempt).  So a program whose thread waits, in a spin or a
 * call the runtime cannot see, for something only a thread parked on
 * the stuck carrier can give (a FILE lock held by a thread that sleeps
 * there) hangs under weft, where natively it would not.
 *
 * The cap.  An extra carrier restores the parallelism a stuck one took;
 * it does not give each blocked thread a kernel thread.  As many extras
 * as carriers (the default) lets every carrier be stuck at once while the
 * program still runs on WEFT_CARRIERS kernel threads, and bounds a
 * program whose threads all spin (CPU-bound, never parking) to twice that
 * many, where a carrier per stuck thread would give it one per thread.
 *
 * Retiring.  An extra carrier that has slept in its ring for ten bounds,
 * with no live thread that calls it home (nr_pinned) and while the
 * carriers not stuck outnumber WEFT_CARRIERS, is surplus: the monitor
 * asks it to leave, and it leaves only if it finds nothing of its own to
 * do (weft__monitor_leave).  Extras leave in the reverse order of their
 * start, so carriers[0, nr_carriers) stays dense: an idle extra below a
 * busy one waits for it.  Starting and leaving cost about 100 us each;
 * ten bounds of lingering keep a carrier that is stuck on and off from
 * costing more than a percent.
 *
 * Invariants.  carriers[] has room for the cap from the start and only
 * the monitor changes nr_carriers, under mon.lock: it publishes a slot
 * before its carrier starts (an unstarted slot is harmless to every loop
 * over carriers: not sleeping, nothing to steal, nothing pinned) and
 * unpublishes it once the carrier has left and been joined.  Only the
 * top extra is ever asked to leave.  A slot's memory and eventfd last
 * until the runtime stops, so a waker that read a carrier just before it
 * left writes a live eventfd; nothing else reaches a carrier that has
 * nothing pinned: plain spawns go to base carriers, wake-ups to a
 * thread's home.
 *
 * Costs.  On the scheduler's path: the tick it already counted, now a
 * relaxed atomic, and a counter on a thread's first run.  While carriers
 * run, the monitor looks every half bound, at a counter and a flag per
 * carrier, and at the CPU clock and /proc state of those it finds
 * without a pick since its last look.  When every carrier sleeps in
 * its ring it sleeps on a futex that the first carrier to leave its ring
 * wakes (monitor_asleep and nr_sleeping pair as the inbox and "sleeping"
 * do in sched.c), so an idle process is never woken for it.
 *
 * Rejected.  Preempting a spinning thread with a signal (Go's
 * asynchronous preemption): it may hold a libc lock (malloc's, stdio's)
 * whose owner is the kernel thread, which another virtual thread switched
 * in on that carrier would take as its own; and a thread blocked in the
 * kernel cannot be switched out at all.  Moving pinned threads: the errno
 * rule.  No cap: a kernel thread per CPU-bound thread.  A timestamp per
 * pick instead of a counter: a clock read on every switch.  Wall time as
 * the carrier's own: preemption would count.  schedstat's run_delay for
 * the time it waited for a CPU: the kernel adds a wait only once it ends.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

#define LINGER_BOUNDS 10 /* bounds an extra carrier sleeps before leaving */

static struct {
	struct weft__lock lock; /* a pass, start and stop; held over fork */
	pthread_t thread;
	bool running;
	atomic_uint stop; /* futex word: set to end the monitor */
	int64_t bound;	  /* ns; 0: no monitor */
	int cap;	  /* extra carriers at most */
} mon;

static const struct weft__watch unwatched = {
	.probe = -1,
	.wanted = -1,
	.idle_since = -1,
};

/* ---- slots ---- */

/* Room for n carriers and the cap; reads the monitor's variables. */
int weft__carriers_alloc(unsigned n)
{
	struct weft__carrier *mem;
	unsigned ms, cap;
	int r;

	r = weft__env_uint("WEFT_STUCK_MS", 0, 60000, 10, &ms);
	if (!r)
		r = weft__env_uint("WEFT_MAX_EXTRA_CARRIERS", 0, 1024, n, &cap);
	if (r)
		return r;
	if (!ms)
		cap = 0;
	mem = WEFT_ALLOC(alloc_carriers, calloc(n + cap, sizeof(*mem)));
	weft__rt.carriers = WEFT_ALLOC(
		alloc_carriers, calloc(n + cap, sizeof(*weft__rt.carriers)));
	if (!mem || !weft__rt.carriers) {
		free(mem);
		free(weft__rt.carriers);
		weft__rt.carriers = NULL;
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n + cap; i++) {
		weft__rt.carriers[i] = &mem[i];
		mem[i].index = i;
		mem[i].efd = -1;
		mem[i].watch = unwatched;
	}
	weft__rt.carriers_mem = mem;
	weft__rt.nr_slots = n + cap;
	weft__rt.nr_base = n;
	weft__rt.nr_carriers = n;
	mon.bound = (int64_t)ms * 1000000;
	mon.cap = cap;
	weft__rt.monitor = (struct weft__monitor_counts){ 0 };
	return 0;
}

/* Not the caller's: in a fork child the forking carrier may be an extra. */
static void unmap_stack(struct weft__carrier *c)
{
	if (c->stack && c != weft__carrier_self())
		munmap(c->stack, c->stack_len);
	c->stack = NULL;
}

/* Once every carrier has left and been freed. */
void weft__carriers_free(void)
{
	for (int i = 0; i < weft__rt.nr_slots; i++) {
		weft__ring_efd_close(weft__rt.carriers[i]);
		unmap_stack(weft__rt.carriers[i]);
	}
	free(weft__rt.carriers_mem);
	free(weft__rt.carriers);
	weft__rt.carriers = NULL;
	weft__rt.carriers_mem = NULL;
	weft__rt.nr_slots = weft__rt.nr_base = 0;
	weft__rt.nr_carriers = 0;
}

/* ---- the scheduler's side ---- */

/*
 * Threads that call c home: nr_pinned counts those that came, and only c
 * writes it (a load and a store, where a read-modify-write would cost a
 * locked instruction per spawn and per end); nr_gone those that moved to
 * another carrier since, counted by that one.  The difference can be
 * stale for a look from elsewhere, never short of c's own threads.
 */
unsigned weft__monitor_pinned(struct weft__carrier *c)
{
	unsigned gone = atomic_load(&c->nr_gone);

	return atomic_load(&c->nr_pinned) - gone;
}

/* nr_pinned += d, by its carrier only. */
static void pinned_add(struct weft__carrier *c, unsigned d)
{
	atomic_store_explicit(
		&c->nr_pinned,
		atomic_load_explicit(&c->nr_pinned, memory_order_relaxed) + d,
		memory_order_relaxed);
}

void weft__monitor_unpin(struct weft__carrier *c)
{
	pinned_add(c, -1u);
}

/* c runs t, which calls another carrier home, or none yet. */
void weft__monitor_home(struct weft__carrier *c, struct weft_thread *t)
{
	if (t->carrier)
		atomic_fetch_add_explicit(&t->carrier->nr_gone, 1,
					  memory_order_relaxed);
	pinned_add(c, 1);
}

/* A base carrier for a new thread from a plain thread; stuck ones last. */
struct weft__carrier *weft__monitor_place(void)
{
	unsigned r = atomic_fetch_add(&weft__rt.rr, 1), n = weft__rt.nr_base;

	for (unsigned i = 0; i < n; i++) {
		struct weft__carrier *c = weft__rt.carriers[(r + i) % n];

		if (!atomic_load_explicit(&c->stuck, memory_order_relaxed))
			return c;
	}
	return weft__rt.carriers[r % n];
}

/* A carrier left its ring while the monitor slept: wake it. */
void weft__monitor_wake(void)
{
	if (atomic_exchange(&weft__rt.monitor_asleep, 0))
		weft__futex_wake(&weft__rt.monitor_asleep, 1);
}

/*
 * Run by extra carrier c in its scheduler, asked to leave: true if it
 * leaves.  With nothing pinned to it nobody else queues work here (plain
 * spawns go to base carriers), so what it sees empty stays empty.
 */
bool weft__monitor_leave(struct weft__carrier *c)
{
	unsigned asked = WEFT_LEAVE_ASKED;
	bool idle = !weft__monitor_pinned(c) && !c->runq.head &&
		    !weft__stealable(c) && !atomic_load(&c->inbox) &&
		    !c->heap_len && !c->inflight;

	/* The monitor may have taken the question back (monitor_stop). */
	atomic_compare_exchange_strong(
		&c->leave, &asked, idle ? WEFT_LEAVE_GONE : WEFT_LEAVE_NONE);
	return idle && asked == WEFT_LEAVE_ASKED;
}

/* ---- watching ---- */

/* The CPU clock of c's kernel thread, as pthread_getcpuclockid() makes it. */
static clockid_t cpu_clock(struct weft__carrier *c)
{
	return (clockid_t)(~(unsigned)c->tid << 3) | 6; /* SCHED, PERTHREAD */
}

/* c's kernel thread: running or runnable ('R'), asleep ('S')...; 0: unknown */
static char task_state(struct weft__carrier *c)
{
	char path[64], buf[256], *p;
	long fd, n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)c->tid);
	/* Raw calls: in the preload open and read are the shim's. */
	fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after the name, which may hold anything */
	return p && p[1] == ' ' ? p[2] : 0;
}

static void unstick(struct weft__carrier *c, int64_t now)
{
	atomic_store(&c->stuck, false);
	atomic_fetch_add_explicit(&weft__rt.monitor.stuck_ns,
				  now - c->watch.probe, memory_order_relaxed);
}

/*
 * Look at c: is it stuck?  Between two looks that saw no pick, its own
 * time grows by the CPU time its kernel thread used if it is running or
 * waiting for a CPU now, by the whole interval if it is blocked: a spin
 * and a blocking call count, a preemption does not.
 */
static bool watch(struct weft__carrier *c, int64_t now)
{
	struct weft__watch *w = &c->watch;
	unsigned tick = atomic_load_explicit(&c->tick, memory_order_relaxed);
	bool asleep = atomic_load(&c->sleeping);
	struct timespec ts;
	int64_t cpu = -1;

	if (!asleep)
		w->idle_since = -1;
	else if (w->idle_since < 0 || tick != w->idle_tick)
		w->idle_since = now, w->idle_tick = tick;
	if (asleep || tick != w->tick) {
		if (atomic_load_explicit(&c->stuck, memory_order_relaxed))
			unstick(c, now);
		w->tick = tick;
		w->probe = -1;
		return false;
	}
	if (atomic_load_explicit(&c->stuck, memory_order_relaxed))
		return true;
	if (!clock_gettime(cpu_clock(c), &ts))
		cpu = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	if (w->probe < 0) {
		w->probe = w->last = now;
		w->last_cpu = cpu;
		w->own = 0;
		return false;
	}
	if (cpu >= 0 && w->last_cpu >= 0 && task_state(c) == 'R')
		w->own += cpu - w->last_cpu;
	else
		w->own += now - w->last;
	w->last = now;
	w->last_cpu = cpu;
	if (w->own < mon.bound)
		return false;
	atomic_store(&c->stuck, true);
	atomic_fetch_add_explicit(&weft__rt.monitor.stuck, 1,
				  memory_order_relaxed);
	return true;
}

/* Wake a carrier other than s that sleeps in its ring, as kick() does. */
static bool wake_one(struct weft__carrier *s)
{
	int n = weft__rt.nr_carriers;

	for (int i = 1; i < n; i++) {
		struct weft__carrier *v = weft__rt.carriers[(s->index + i) % n];

		if (atomic_load(&v->leave) == WEFT_LEAVE_NONE &&
		    atomic_load(&v->sleeping) &&
		    atomic_exchange(&v->sleeping, 0)) {
			weft__ring_kick(v);
			return true;
		}
	}
	return false;
}

/*
 * An extra carrier's kernel thread, on a stack of its own, as large as
 * glibc's default: unmapped when it leaves, where glibc would keep its
 * own in a cache.
 */
static int spawn(struct weft__carrier *c)
{
	size_t guard = sysconf(_SC_PAGESIZE), size;
	pthread_attr_t a;
	char *stack;
	int r;

	pthread_attr_init(&a);
	pthread_attr_getstacksize(&a, &size);
	stack = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
		     -1, 0);
	if (stack == MAP_FAILED) {
		pthread_attr_destroy(&a);
		return -ENOMEM;
	}
	mprotect(stack, guard, PROT_NONE);
	pthread_attr_setstack(&a, stack + guard, size);
	r = pthread_create(&c->pthread, &a, weft__carrier_main, c);
	pthread_attr_destroy(&a);
	if (r) {
		munmap(stack, size + guard);
		return -r;
	}
	c->stack = stack;
	c->stack_len = size + guard;
	return 0;
}

/* Start an extra carrier in the next slot, if the cap allows. */
static void start_extra(void)
{
	int k = weft__rt.nr_carriers;
	struct weft__carrier *c;
	unsigned ready = atomic_load(&weft__rt.ready), extra;

	if (k - weft__rt.nr_base >= mon.cap)
		return;
	c = weft__rt.carriers[k];
	c->setup_err = 0;
	c->unsubmitted = 0; /* of the ring its last carrier left */
	atomic_store(&c->leave, WEFT_LEAVE_NONE);
	atomic_store(&c->stuck, false);
	c->watch = unwatched;
	weft__rt.nr_carriers = k + 1;
	if (spawn(c) < 0) {
		weft__rt.nr_carriers = k;
		return;
	}
	while (atomic_load(&weft__rt.ready) == ready)
		weft__futex_wait(&weft__rt.ready, ready, -1);
	if (c->setup_err) {
		pthread_join(c->pthread, NULL);
		unmap_stack(c);
		weft__rt.nr_carriers = k;
		return;
	}
	extra = k + 1 - weft__rt.nr_base;
	atomic_fetch_add_explicit(&weft__rt.monitor.extra_started, 1,
				  memory_order_relaxed);
	if (extra > atomic_load(&weft__rt.monitor.extra_peak))
		atomic_store(&weft__rt.monitor.extra_peak, extra);
}

/* The top extra carrier has left: join it and give its slot back. */
static void reap(struct weft__carrier *c)
{
	pthread_join(c->pthread, NULL);
	unmap_stack(c);
	weft__carrier_free(c);
	weft__stack_cache_flush(c);
	if (atomic_load_explicit(&c->stuck, memory_order_relaxed))
		unstick(c, weft__now());
	weft__rt.nr_carriers = c->index;
}

/*
 * Ask the top extra carrier to leave once it is surplus and has slept
 * long enough; reap it once it has.  When to look again, or -1.
 */
static int64_t retire(int64_t now, int stuck)
{
	int top = weft__rt.nr_carriers - 1;
	struct weft__carrier *c = weft__rt.carriers[top];
	int64_t linger = LINGER_BOUNDS * mon.bound;

	if (top < weft__rt.nr_base)
		return -1;
	switch (atomic_load(&c->leave)) {
	case WEFT_LEAVE_GONE:
		reap(c);
		return now; /* the one below may have lingered enough */
	case WEFT_LEAVE_ASKED:
		return -1; /* it answers when it leaves its ring */
	}
	if (weft__rt.nr_carriers - stuck <= weft__rt.nr_base ||
	    c->watch.idle_since < 0 || weft__monitor_pinned(c) ||
	    weft__stealable(c))
		return -1;
	if (now - c->watch.idle_since < linger)
		return c->watch.idle_since + linger;
	atomic_store(&c->leave, WEFT_LEAVE_ASKED);
	/* Pairs with idle()'s look at leave after it said "sleeping". */
	if (atomic_load(&c->sleeping) && atomic_exchange(&c->sleeping, 0))
		weft__ring_kick(c);
	return -1;
}

/*
 * One look at every carrier, helping those stuck with work to give.
 * When to look again: *ret_asleep says every carrier sleeps in its ring,
 * and then the time is when to look even if none wakes, or -1.
 */
static int64_t pass(int64_t now, bool *ret_asleep)
{
	int n = weft__rt.nr_carriers, stuck = 0;
	int64_t again;

	for (int i = 0; i < n; i++)
		stuck += watch(weft__rt.carriers[i], now);
	if (atomic_load(&weft__rt.stopping)) {
		*ret_asleep = false;
		return now + mon.bound / 2;
	}
	for (int i = 0; i < n; i++) {
		struct weft__carrier *c = weft__rt.carriers[i];
		struct weft__watch *w = &c->watch;

		if (!atomic_load_explicit(&c->stuck, memory_order_relaxed) ||
		    !weft__stealable(c) || wake_one(c)) {
			w->wanted = -1;
		} else if (w->wanted < 0) {
			w->wanted = now;
		} else if (now - w->wanted >= mon.bound) {
			w->wanted = now;
			start_extra();
		}
	}
	again = retire(now, stuck);
	*ret_asleep = atomic_load(&weft__rt.nr_sleeping) ==
		      (unsigned)weft__rt.nr_carriers;
	if (!*ret_asleep && (again < 0 || again > now + mon.bound / 2))
		again = now + mon.bound / 2;
	return again;
}

/* Every carrier sleeps: so does the monitor, until one leaves its ring. */
static void sleep_with_carriers(int64_t deadline)
{
	atomic_store(&weft__rt.monitor_asleep, 1);
	if (atomic_load(&weft__rt.nr_sleeping) ==
		    (unsigned)weft__rt.nr_carriers &&
	    !atomic_load(&mon.stop))
		weft__futex_wait(&weft__rt.monitor_asleep, 1, deadline);
	atomic_store(&weft__rt.monitor_asleep, 0);
}

static void *monitor_main(void *arg)
{
	prctl(PR_SET_NAME, "weft-monitor");
	weft__lock(&mon.lock);
	while (!atomic_load(&mon.stop)) {
		bool asleep;
		int64_t again = pass(weft__now(), &asleep), trim;

		weft__unlock(&mon.lock);
		trim = weft__stack_trim(weft__now());
		if (trim >= 0 && (again < 0 || trim < again))
			again = trim;
		if (asleep)
			sleep_with_carriers(again);
		else
			weft__futex_wait(&mon.stop, 0, again);
		weft__lock(&mon.lock);
	}
	weft__unlock(&mon.lock);
	return NULL;
}

/* ---- life ---- */

/* Called by whoever starts the runtime, once its carriers run. */
int weft__monitor_start(void)
{
	sigset_t old;
	int r;

	if (!mon.bound)
		return 0;
	atomic_store(&mon.stop, 0);
	/* Its extra carriers inherit its mask: the carriers'. */
	pthread_sigmask(SIG_SETMASK, &weft__rt.carrier_mask, &old);
	r = pthread_create(&mon.thread, NULL, monitor_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	mon.running = true;
	weft__stack_monitor_trims(true);
	return 0;
}

/*
 * Settle the top extra carrier, with the monitor held or gone: asked to
 * leave, it stays; gone, it is reaped.  Then none leaves unasked.
 */
static void settle(void)
{
	struct weft__carrier *c = weft__rt.carriers[weft__rt.nr_carriers - 1];
	unsigned asked = WEFT_LEAVE_ASKED;

	if (!atomic_compare_exchange_strong(&c->leave, &asked,
					    WEFT_LEAVE_NONE) &&
	    asked == WEFT_LEAVE_GONE)
		reap(c);
}

/* Stop the monitor and settle the extra carriers; false if none ran. */
bool weft__monitor_stop(void)
{
	int64_t now = weft__now();

	if (!mon.running)
		return false;
	atomic_store(&mon.stop, 1);
	weft__futex_wake(&mon.stop, 1);
	weft__monitor_wake();
	pthread_join(mon.thread, NULL);
	mon.running = false;
	weft__stack_monitor_trims(false);
	settle();
	for (int i = 0; i < weft__rt.nr_carriers; i++)
		if (atomic_load(&weft__rt.carriers[i]->stuck))
			unstick(weft__rt.carriers[i], now);
	return true;
}

/* For the statistics table (stats.c). */
void weft__monitor_stats(struct weft__monitor_stats *ret)
{
	ret->compensating = atomic_load(&weft__rt.monitor.extra_started);
	ret->peak = atomic_load(&weft__rt.monitor.extra_peak);
	ret->blocked_ns = atomic_load(&weft__rt.monitor.stuck_ns);
}

/* ---- holding the carriers still: fork, dumps ---- */

void weft__monitor_hold(void)
{
	weft__lock(&mon.lock);
	if (weft__rt.carriers)
		settle();
}

void weft__monitor_release(void)
{
	weft__unlock(&mon.lock);
}

/*
 * In a fork child, once the other carriers are freed: no monitor runs.
 * self is the forking thread's carrier, which becomes the child's one
 * carrier at carriers[0]; with NULL the child has no runtime.  The
 * parent's eventfds go, self's too (it gets a fresh one with its ring).
 */
void weft__monitor_fork_child(struct weft__carrier *self)
{
	struct weft__carrier **cs = weft__rt.carriers;

	atomic_store(&mon.lock.v, 0);
	mon.running = false;
	weft__stack_monitor_trims(false); /* until the child's starts */
	atomic_store(&weft__rt.monitor_asleep, 0);
	if (!self) {
		weft__carriers_free();
		return;
	}
	/* The other slots held the parent's carriers: empty them. */
	for (int i = 0; i < weft__rt.nr_slots; i++) {
		weft__ring_efd_close(cs[i]);
		if (cs[i] != self) {
			unmap_stack(cs[i]);
			memset(cs[i], 0, sizeof(*cs[i]));
			cs[i]->efd = -1;
			cs[i]->watch = unwatched;
		}
	}
	cs[self->index] = cs[0];
	cs[0] = self;
	for (int i = 0; i < weft__rt.nr_slots; i++)
		cs[i]->index = i;
	self->tid = gettid();
	self->watch = unwatched;
	atomic_store(&self->leave, WEFT_LEAVE_NONE);
	atomic_store(&self->stuck, false);
	atomic_store(&self->nr_pinned, 1); /* the forking thread */
	atomic_store(&self->nr_gone, 0);
	/* Their groups forgot them (weft__group_fork_child). */
	memset(&self->ended, 0, sizeof(self->ended));
	weft__rt.monitor = (struct weft__monitor_counts){ 0 };
	weft__rt.nr_base = 1;
	weft__rt.nr_carriers = 1;
	if (mon.cap > weft__rt.nr_slots - 1)
		mon.cap = weft__rt.nr_slots - 1;
}

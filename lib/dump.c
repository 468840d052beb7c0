/* SPDX-License-Identifier: MIT */
/*
 * Thread dumps: every virtual thread with its state, its wait, its group
 * and its stack, on weft_dump() or on the signal WEFT_DUMP_SIGNAL names.
 *
 * The registry.  A thread joins its carrier's registry, an owner-only
 * list, when it first runs there, and leaves it when it is finalised, on
 * the same carrier: a pinned thread never leaves its carrier, so its
 * carrier alone touches it.  A migratable thread joins a global list
 * under a lock instead.  Threads not yet started are found in the steal
 * queues, under their locks.  The wait a parked thread is in is its
 * waiter's note (obs.h), set where it parks; its deadline is its timer.
 *
 * A dump is a session, like a safepoint.  The requester opens it and
 * kicks every carrier; each, at the top of its loop, arrives, waits
 * until all have arrived (or a second has passed), records its own
 * threads, hands its part over, and then resumes no thread until the
 * session is closed.  Whoever sees every arrived carrier done (and every
 * carrier arrived, or the second gone) closes it; the requester then
 * prints the parts.  A carrier that never arrives is stuck in a thread:
 * it is reported with that thread, and its own threads are not shown.
 * A signal handler only sets a bit and kicks the carriers; the first
 * carrier to see the bit becomes the requester and writes the dump to
 * stderr (or WEFT_DUMP_FILE) from its scheduler.
 *
 * A stack trace is taken by the thread itself: the carrier switches into
 * it with its trace field set; back from its switch (switch_out, or
 * weft_yield's direct switch) the thread sees the field, calls glibc's
 * backtrace() on its own stack, and switches straight back, without
 * being woken.  This is safe because:
 *
 * - Only its carrier ever resumes a pinned thread, from its scheduler,
 *   and while the carrier is in the session it resumes nothing.  A
 *   wake-up meanwhile waits in the inbox or the run queue; a completion
 *   or a timer waits for the carrier to reap or fire it.  Nothing else
 *   touches a thread's stack.
 * - A thread that is not running has its registers saved at t->sp.  The
 *   trace runs below that, in stack the thread does not use (the kernel
 *   may be filling a buffer of its above), and switches back saving a
 *   new context a frame deeper; the thread's next real resume returns
 *   through that frame.  A thread with less than TRACE_ROOM bytes of
 *   stack left is not traced.
 * - Any carrier may take a migratable thread from a steal queue and run
 *   it.  So migratable threads are traced only when every carrier has
 *   arrived, when none is between taking a thread and running it, and
 *   only by the carrier the thread last ran on.
 *
 * The thread that called weft_dump() is parked in it while its carrier
 * records it, and is shown running.  Symbols and output are made by the
 * requester once the carriers have resumed (dump_out.c, symbol.c).
 *
 * Rejected: tracing from a signal handler on each carrier (backtrace and
 * malloc are not async-signal-safe, and parked threads are not on the
 * handler's stack anyway); walking frame pointers from t->sp (the default
 * build omits them); libunwind on a saved context (a dependency for one
 * feature).
 */
#include <execinfo.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump.h"
#include "group.h"
#include "ctx.h"
#include "fiber.h"
#include "sync.h"

#define STOP_NS (1000 * 1000000LL) /* for every carrier to arrive */
#define TRACE_ROOM 8192		   /* stack a trace may use */

enum { DUMP_SIGNAL = 1, DUMP_OPEN = 2 };

atomic_uint weft__dump_word;
/* Migratable threads that have started; under mig_lock.  gdb reads it. */
hidden struct weft_thread *weft__migratable;
static struct weft_spin mig_lock;
static struct weft_mutex dump_mutex = WEFT_MUTEX_INIT; /* one at a time */

/* The session, under its lock; seq is bumped at every change. */
static struct {
	struct weft_spin lock;
	unsigned gen;
	bool open;
	bool stopped;	   /* every carrier arrived in time */
	bool gave_up;	   /* the deadline passed first */
	int arrived, done; /* carriers */
	int64_t deadline;
	struct weft__part **parts;	/* [nr_carriers] */
	struct weft_thread *self;	/* the requester, or NULL */
	struct weft__waiter *requester; /* woken at the close, or NULL */
} sess;
static atomic_uint seq;

/* WEFT_DUMP_SIGNAL and the settings of the dumps it makes. */
static int dump_sig;
static struct sigaction old_action;
static bool sig_json;
static const char *sig_file;

/* glibc's own name for sigaction, which the shim does not interpose. */
extern int __sigaction(int sig, const struct sigaction *act,
		       struct sigaction *old);

bool weft__vec_push(struct weft__vec *v, const void *e, size_t size)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 64;
		void *p = realloc(v->p, cap * size);

		if (!p)
			return false;
		v->p = p;
		v->cap = cap;
	}
	memcpy((char *)v->p + v->n++ * size, e, size);
	return true;
}

/* ---- the registry ---- */

static bool migratable(const struct weft_thread *t)
{
	return t->flags & WEFT_SPAWN_MIGRATABLE;
}

/* A migratable thread runs for the first time (obs.h's registry). */
void weft__registry_add_mig(struct weft_thread *t)
{
	weft__spin_lock(&mig_lock);
	t->obs.prev = NULL;
	t->obs.next = weft__migratable;
	if (weft__migratable)
		weft__migratable->obs.prev = t;
	weft__migratable = t;
	weft__spin_unlock(&mig_lock);
}

/* A migratable thread ended. */
void weft__registry_del_mig(struct weft_thread *t)
{
	weft__spin_lock(&mig_lock);
	if (t->obs.prev)
		t->obs.prev->obs.next = t->obs.next;
	else
		weft__migratable = t->obs.next;
	if (t->obs.next)
		t->obs.next->obs.prev = t->obs.prev;
	weft__spin_unlock(&mig_lock);
}

/* ---- traces ---- */

/* On the thread's own stack, back from its switch: see the essay. */
__attribute__((noinline)) void weft__dump_here(struct weft_thread *t)
{
	struct weft__trace *tr = t->obs.trace;

	t->obs.trace = NULL;
	tr->n = backtrace(tr->pc, WEFT__TRACE_MAX);
	asan_start(&t->asan_fake, tr->back_lo, tr->back_size);
	tsan_switch(tr->back_tsan);
	weft__ctx_switch(&t->sp, tr->back);
	asan_finish(t->asan_fake);
	weft__landed(t); /* resumed here, perhaps by a thread that ended */
}

/* From c's scheduler: have t, not running, record its stack in tr. */
static void trace(struct weft__carrier *c, struct weft_thread *t,
		  struct weft__trace *tr)
{
	void *fake = NULL;

	tr->n = 0;
	tr->back_lo = c->sched_stack_lo;
	tr->back_size = c->sched_stack_size;
	t->obs.trace = tr;
	tr->back_tsan = tsan_current();
	asan_start(&fake, t->stack_lo, t->stack_size);
	tsan_switch(t->tsan_fiber);
	weft__ctx_switch(&tr->back, t->sp);
	asan_finish(fake);
}

/* ---- what a carrier records ---- */

static void add_group(struct weft__part *p, struct weft__group *g)
{
	const struct weft__grp *last = p->grps.p;
	struct weft__grp x = { .addr = (uintptr_t)g };

	/* Members of one group often follow each other. */
	for (size_t i = p->grps.n; i > 0 && i + 8 > p->grps.n; i--)
		if (last[i - 1].addr == x.addr)
			return;
	weft__spin_lock(&g->lock);
	x.owner_ctl = (uintptr_t)g->owner;
	x.live = g->live;
	x.limit = g->limit;
	x.state = g->state;
	x.policy = g->policy;
	x.reason = g->reason;
	weft__spin_unlock(&g->lock);
	x.root = weft__group_is_root(g);
	p->oom |= !weft__vec_push(&p->grps, &x, sizeof(x));
}

static void copy_name(char *dst, const char *name)
{
	size_t n = name ? strnlen(name, 31) : 0;

	if (n)
		memcpy(dst, name, n);
	dst[n] = '\0';
}

/* Record t, which is not running; trace it unless it has not started. */
static void record(struct weft__part *p, struct weft__carrier *c,
		   struct weft_thread *t, bool started)
{
	struct weft__rec r = { .id = t->id,
			       .state = started ? REC_PARKED : REC_NEW,
			       .trace = started ? TRACE_OK : TRACE_NONE,
			       .carrier = started ? c->index : -1,
			       .deadline = -1,
			       .group = (uintptr_t)t->group,
			       .ctl = (uintptr_t)&t->ctl };
	struct weft__waiter *w = t->obs.wait;
	struct weft__trace tr;

	copy_name(r.name, t->name);
	if (started && w) {
		r.note = w->note;
		r.woken = atomic_load(&w->state) != WEFT_WAITING;
		/* A joined thread lives until its joiner has returned. */
		if (r.note.on == WEFT__ON_JOIN && r.note.obj)
			r.target = ((struct weft_thread *)r.note.obj)->id;
	}
	if (started && t->timer.idx != TIMER_IDLE)
		r.deadline = t->timer.deadline;
	if (t->group)
		add_group(p, t->group);
	/* A parked thread's groups cannot change: only it opens and joins. */
	for (struct weft__group *g = t->ctl.groups; g; g = g->outer)
		add_group(p, g);
	if (t == sess.self)
		r.state = REC_RUNNING; /* parked in weft_dump() */
	if (started && (char *)t->sp - (char *)t->stack_lo < TRACE_ROOM)
		r.trace = TRACE_NO_ROOM;
	if (r.trace == TRACE_OK) {
		trace(c, t, &tr);
		r.pc0 = p->pcs.n;
		/* The first frame is weft__dump_here's own. */
		for (int i = 1; i < tr.n; i++)
			p->oom |= !weft__vec_push(&p->pcs, &tr.pc[i],
						  sizeof(tr.pc[i]));
		r.nr_pc = p->pcs.n - r.pc0;
	}
	p->oom |= !weft__vec_push(&p->recs, &r, sizeof(r));
}

static void queued(struct weft__part *p, struct weft_thread *t)
{
	p->oom |= !weft__vec_push(&p->queued, &t->id, sizeof(t->id));
}

/* A part for a carrier that could not allocate its own. */
static struct weft__part oom_part = { .oom = true };

static struct weft__part *collect(struct weft__carrier *c, bool all)
{
	struct weft__part *p = calloc(1, sizeof(*p));
	struct weft_thread *t;
	void *prime[2];

	if (!p)
		return &oom_part;
	/* The first backtrace() loads libgcc_s: here, not on a thread. */
	backtrace(prime, 2);
	for (t = c->runq.head; t; t = t->next)
		queued(p, t);
	for (t = atomic_load(&c->inbox); t; t = t->next)
		queued(p, t);
	weft__localq_spill(c);
	weft__spin_lock(&c->steal_lock);
	for (t = c->stealq.head; t; t = t->next) {
		if (t->carrier)
			queued(p, t); /* a migratable thread, traced below */
		else
			record(p, c, t, false);
	}
	weft__spin_unlock(&c->steal_lock);
	for (t = c->obs.own.registry; t; t = t->obs.next)
		record(p, c, t, true);
	if (all) {
		weft__spin_lock(&mig_lock);
		for (t = weft__migratable; t; t = t->obs.next)
			if (t->carrier == c)
				record(p, c, t, true);
		weft__spin_unlock(&mig_lock);
	}
	return p;
}

/* ---- the session ---- */

static void bump(void)
{
	atomic_fetch_add(&seq, 1);
	weft__futex_wake(&seq, INT32_MAX);
}

static void kick_all(void)
{
	for (int i = 0; i < weft__rt.nr_carriers; i++)
		weft__ring_kick(weft__rt.carriers[i]);
}

/*
 * Open a session for self (NULL: a plain thread, or a signal's dump).
 * No carrier starts or leaves until it closes (monitor.c).
 */
static int open_session(struct weft_thread *self, struct weft__waiter *w)
{
	struct weft__part **parts;
	unsigned g;

	weft__monitor_hold();
	parts = calloc(weft__rt.nr_carriers, sizeof(*parts));
	if (!parts) {
		weft__monitor_release();
		return -ENOMEM;
	}
	weft__spin_lock(&sess.lock);
	g = ++sess.gen;
	if (!g)
		g = ++sess.gen; /* 0 is "none" in a carrier's seen */
	sess.open = true;
	sess.stopped = sess.gave_up = false;
	sess.arrived = sess.done = 0;
	sess.deadline = weft__now() + STOP_NS;
	sess.parts = parts;
	sess.self = self;
	sess.requester = w;
	atomic_fetch_or(&weft__dump_word, DUMP_OPEN);
	weft__spin_unlock(&sess.lock);
	bump();
	kick_all();
	return (int)(g & INT32_MAX);
}

/* Wait until every carrier has arrived or the deadline passed. */
static bool wait_stopped(void)
{
	for (;;) {
		unsigned s = atomic_load(&seq);
		int64_t d;

		weft__spin_lock(&sess.lock);
		if (!sess.stopped && !sess.gave_up &&
		    weft__now() >= sess.deadline)
			sess.gave_up = true;
		if (sess.stopped || sess.gave_up) {
			bool all = sess.stopped;

			weft__spin_unlock(&sess.lock);
			return all;
		}
		d = sess.deadline;
		weft__spin_unlock(&sess.lock);
		weft__futex_wait(&seq, s, d);
	}
}

/* Wait for session g to close, closing it when it is over. */
static void wait_closed(unsigned g)
{
	for (;;) {
		unsigned s = atomic_load(&seq);
		struct weft__waiter *w;
		int64_t d;

		weft__spin_lock(&sess.lock);
		if (!sess.open || (sess.gen & INT32_MAX) != g) {
			weft__spin_unlock(&sess.lock);
			return;
		}
		if (!sess.stopped && !sess.gave_up &&
		    weft__now() >= sess.deadline)
			sess.gave_up = true;
		if (sess.done == sess.arrived &&
		    (sess.stopped || sess.gave_up)) {
			sess.open = false;
			atomic_fetch_and(&weft__dump_word, ~DUMP_OPEN);
			w = sess.requester;
			weft__spin_unlock(&sess.lock);
			weft__monitor_release();
			bump();
			if (w)
				weft__waiter_wake(w);
			return;
		}
		d = sess.stopped || sess.gave_up ? -1 : sess.deadline;
		weft__spin_unlock(&sess.lock);
		weft__futex_wait(&seq, s, d);
	}
}

/* Carrier c, at the top of its loop, takes part in the open session. */
static void take_part(struct weft__carrier *c)
{
	struct weft__part *p;
	unsigned g;

	weft__spin_lock(&sess.lock);
	if (!sess.open || c->obs.own.seen == sess.gen) {
		weft__spin_unlock(&sess.lock);
		return;
	}
	c->obs.own.seen = sess.gen;
	g = sess.gen & INT32_MAX;
	if (++sess.arrived == weft__rt.nr_carriers && !sess.gave_up)
		sess.stopped = true;
	weft__spin_unlock(&sess.lock);
	bump();
	p = collect(c, wait_stopped());
	weft__spin_lock(&sess.lock);
	sess.parts[c->index] = p;
	sess.done++;
	weft__spin_unlock(&sess.lock);
	bump();
	wait_closed(g);
}

static void free_part(struct weft__part *p)
{
	if (!p || p == &oom_part)
		return;
	free(p->recs.p);
	free(p->pcs.p);
	free(p->grps.p);
	free(p->queued.p);
	free(p);
}

/* After the close: print the session's parts into o, and free them. */
static void print(struct weft__out *o, unsigned flags)
{
	int n = weft__rt.nr_carriers;
	struct weft__stuck *stuck = calloc(n > 0 ? n : 1, sizeof(*stuck));
	struct weft__dump_in in = { .parts = sess.parts,
				    .stuck = stuck,
				    .nr = n,
				    .stopped = sess.stopped,
				    .now = weft__now(),
				    .flags = flags };

	if (!stuck) {
		o->oom = true;
	} else {
		for (int i = 0; i < n; i++) {
			struct weft__carrier *c = weft__rt.carriers[i];
			struct weft_thread *t;

			if (sess.parts[i])
				continue;
			/*
			 * It runs t still, or did a moment ago: a thread's
			 * memory stays mapped while the runtime runs, but
			 * for a stack too big to pool.
			 */
			t = __atomic_load_n(&c->current, __ATOMIC_ACQUIRE);
			if (t) {
				stuck[i].id = t->id;
				copy_name(stuck[i].name, t->name);
			}
		}
		weft__dump_format(&in, o);
	}
	for (int i = 0; i < n; i++)
		free_part(sess.parts[i]);
	free(sess.parts);
	sess.parts = NULL;
	free(stuck);
}

static void unlock_dump(void)
{
	weft_mutex_unlock(&dump_mutex);
	/* A signal came while this dump ran: its turn now. */
	if (atomic_load(&weft__dump_word) & DUMP_SIGNAL)
		kick_all();
}

/* ---- the signal ---- */

static void on_dump_signal(int sig)
{
	int saved = errno;

	atomic_fetch_or(&weft__dump_word, DUMP_SIGNAL);
	if (weft_carrier_count() > 0 && !atomic_load(&weft__rt.stopping))
		kick_all();
	errno = saved;
}

/* Write all of s to fd with raw system calls, as a scheduler may. */
static void raw_write_all(int fd, const char *s, size_t n)
{
	while (n) {
		long r = syscall(SYS_write, fd, s, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			struct timespec ts = { 1, 0 };

			if (syscall(SYS_ppoll, &p, 1, &ts, NULL, 0) > 0)
				continue;
			return;
		}
		if (r <= 0)
			return;
		s += r;
		n -= r;
	}
}

/* On carrier c's scheduler: the dump a signal asked for. */
static void signal_dump(struct weft__carrier *c)
{
	struct weft__out o = { 0 };
	int g, fd = STDERR_FILENO;

	if (weft_mutex_trylock(&dump_mutex) < 0) {
		/* Another dump runs: after it (unlock_dump kicks). */
		atomic_fetch_or(&weft__dump_word, DUMP_SIGNAL);
		return;
	}
	g = open_session(NULL, NULL);
	if (g < 0) {
		weft_mutex_unlock(&dump_mutex);
		weft__msg("thread dump: out of memory");
		return;
	}
	take_part(c);
	wait_closed(g);
	print(&o, sig_json ? WEFT_DUMP_JSON : 0);
	unlock_dump();
	if (o.oom) {
		weft__msg("thread dump: out of memory");
	} else {
		if (sig_file) {
			fd = syscall(SYS_openat, AT_FDCWD, sig_file,
				     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				     0644);
			if (fd < 0)
				weft__msg("WEFT_DUMP_FILE=\"%s\": %s", sig_file,
					  strerror(errno));
		}
		if (fd >= 0)
			raw_write_all(fd, o.s, o.n);
		if (fd >= 0 && fd != STDERR_FILENO)
			syscall(SYS_close, fd);
	}
	free(o.s);
}

/* The top of carrier c's loop, when weft__dump_word is not 0. */
void weft__dump_poll(struct weft__carrier *c)
{
	if ((atomic_load(&weft__dump_word) & DUMP_SIGNAL) &&
	    (atomic_fetch_and(&weft__dump_word, ~DUMP_SIGNAL) & DUMP_SIGNAL))
		signal_dump(c);
	if (atomic_load(&weft__dump_word) & DUMP_OPEN)
		take_part(c);
}

/* "SIGUSR2", "USR2", "12", "SIGRTMIN+1": a signal weft may catch, or 0. */
static int parse_signal(const char *s)
{
	static const int never[] = { SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGFPE,
				     SIGILL,  SIGTRAP, SIGSYS,	SIGPIPE };
	char *end;
	long sig = 0;

	if (*s >= '0' && *s <= '9') {
		sig = strtol(s, &end, 10);
		if (*end)
			return 0;
	} else {
		if (!strncmp(s, "SIG", 3))
			s += 3;
		if (!strncmp(s, "RTMIN", 5) || !strncmp(s, "RTMAX", 5)) {
			long k = 0;

			if (s[5] &&
			    (s[5] != (s[4] == 'N' ? '+' : '-') || s[6] < '0' ||
			     s[6] > '9' || (k = strtol(s + 6, &end, 10), *end)))
				return 0;
			sig = s[4] == 'N' ? SIGRTMIN + k : SIGRTMAX - k;
			if (sig < SIGRTMIN || sig > SIGRTMAX)
				return 0;
		} else {
			for (int i = 1; i < SIGRTMIN && !sig; i++) {
				const char *a = sigabbrev_np(i);

				if (a && !strcmp(a, s))
					sig = i;
			}
		}
	}
	if (sig < 1 || sig >= NSIG)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(never); i++)
		if (sig == never[i])
			return 0;
	return (int)sig;
}

/* The runtime starts: read WEFT_DUMP_SIGNAL and its settings. */
void weft__dump_start(void)
{
	const char *s = getenv("WEFT_DUMP_SIGNAL");
	const char *f = getenv("WEFT_DUMP_FORMAT");
	struct sigaction sa = { .sa_handler = on_dump_signal,
				.sa_flags = SA_RESTART };

	atomic_fetch_and(&weft__dump_word, ~DUMP_SIGNAL);
	sig_json = false;
	if (f && *f && !(sig_json = !strcmp(f, "json")) && strcmp(f, "text"))
		weft__msg("WEFT_DUMP_FORMAT=\"%s\" is neither text nor json",
			  f);
	sig_file = getenv("WEFT_DUMP_FILE");
	if (sig_file && !*sig_file)
		sig_file = NULL;
	dump_sig = 0;
	if (!s || !*s)
		return;
	dump_sig = parse_signal(s);
	if (!dump_sig) {
		weft__msg("WEFT_DUMP_SIGNAL=\"%s\" is not a signal weft can "
			  "catch, such as SIGUSR2 or 12",
			  s);
		return;
	}
	sigemptyset(&sa.sa_mask);
	if (__sigaction(dump_sig, &sa, &old_action) < 0)
		dump_sig = 0;
}

/* Give the signal back, unless the program has taken it meanwhile. */
static void forget_signal(void)
{
	struct sigaction now;

	if (dump_sig && __sigaction(dump_sig, NULL, &now) == 0 &&
	    now.sa_handler == on_dump_signal)
		__sigaction(dump_sig, &old_action, NULL);
	dump_sig = 0;
	atomic_fetch_and(&weft__dump_word, ~DUMP_SIGNAL);
}

/* The runtime stops, its carriers gone: wait for a dump under way. */
void weft__dump_stop(void)
{
	weft__mutex_relock(&dump_mutex);
	forget_signal();
	weft_mutex_unlock(&dump_mutex);
}

/* A fork child: only the forking thread t (or none) and its carrier. */
void weft__dump_fork_child(struct weft__carrier *self, struct weft_thread *t)
{
	memset(&sess, 0, sizeof(sess));
	atomic_store(&weft__dump_word, 0);
	dump_mutex = (struct weft_mutex)WEFT_MUTEX_INIT;
	memset(&mig_lock, 0, sizeof(mig_lock));
	weft__migratable = NULL;
	if (!t) {
		forget_signal();
		return;
	}
	self->obs.own.registry = NULL;
	t->obs.next = t->obs.prev = NULL;
	if (migratable(t))
		weft__migratable = t;
	else
		self->obs.own.registry = t;
}

/* ---- the API ---- */

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t r = weft_write(fd, s, n);

		if (r < 0)
			return (int)r;
		if (r == 0)
			return -EIO;
		s += r;
		n -= r;
	}
	return 0;
}

int weft_dump(int fd, unsigned flags)
{
	struct weft_thread *self = weft__self();
	struct weft__out o = { 0 };
	struct weft__waiter w;
	int r, g;

	if (fd < 0 || (flags & ~WEFT_DUMP_JSON))
		return -EINVAL;
	if (!self && weft__carrier_self())
		return -EINVAL; /* a scheduler cannot wait for itself */
	r = weft__cancel_check(weft__ctl_self(), WEFT__WAIT_OTHER);
	if (r == 0)
		r = weft_mutex_lock(&dump_mutex);
	if (r < 0)
		return r;
	if (weft_carrier_count() == 0) {
		struct weft__dump_in none = { .now = weft__now(),
					      .flags = flags };

		weft__dump_format(&none, &o);
	} else {
		weft__waiter_init(&w);
		g = open_session(self, self ? &w : NULL);
		if (g < 0) {
			weft_mutex_unlock(&dump_mutex);
			return g;
		}
		if (self)
			weft__waiter_wait(&w, -1); /* the carrier records us */
		else
			wait_closed(g);
		print(&o, flags);
	}
	unlock_dump();
	r = o.oom ? -ENOMEM : write_all(fd, o.s, o.n);
	free(o.s);
	return r;
}

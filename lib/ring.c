/* SPDX-License-Identifier: MIT */
/*
 * The ring: one io_uring per carrier, created by the carrier's own kernel
 * thread and only ever entered by it.
 *
 * Setup asks for SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN and steps
 * down a ladder of flag sets until the kernel takes one: with DEFER_TASKRUN
 * completions are run only when we enter the ring to wait, in our own
 * context, which halves the cost of a completion here.
 *
 * Every SQE of a parked thread carries the address of its waiter in
 * user_data; its CQE stores the result in the waiter and makes the thread
 * runnable on this carrier.  A thread parked on SQEs that is woken by
 * something else (a deadline, a cancellation, an interrupt) must stay
 * parked until the kernel has given back every SQE, whose memory it may
 * still use: the carrier, as it is about to make the thread runnable,
 * submits an ASYNC_CANCEL for each SQE instead and lets the last CQE wake
 * it (weft__ring_keep_parked), so a cancelled thread runs once, not twice.  The
 * one other kind of SQE is a read of the carrier's eventfd, kept in flight
 * while the carrier may sleep, through which any other thread wakes it.  SQEs
 * are submitted in batches: when the carrier runs out of runnable threads, and
 * every RUN_BUDGET threads otherwise (sched.c).
 *
 * A lost CQE is a thread parked for ever, so no completion may be dropped
 * when the kernel pushes back.  A full CQ spills into the kernel's overflow
 * list (IORING_FEAT_NODROP), which every io_uring_enter with GETEVENTS
 * flushes into the room the last reap made.  When the SQ is full and the
 * kernel will not take its SQEs (-EBUSY: a CQ overflow it cannot flush,
 * on older kernels; -EAGAIN: no memory for requests until some complete;
 * -EINTR), the carrier cannot wait for the scheduler to reap: it may be
 * a virtual thread preparing an SQE.  It moves the CQEs to its backlog
 * instead, taking only their results, lets the kernel flush into the room
 * made, and tries again; the scheduler's next reap completes the backlog
 * first, and a carrier with a backlog does not sleep.  Transient errors of
 * the waits (-EINTR, -EAGAIN, -EBUSY) end the wait early; the scheduler
 * comes back to the ring.  Only a CQE the kernel itself dropped, for want
 * of memory for its overflow list (-EBADR), cannot be recovered: it is
 * said once on stderr.
 */
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"
#if WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define SQ_ENTRIES 256
#define BADR_SAID 1 /* the kernel's dropped CQEs were reported */
/* The kernel sizes its cancel hash by the CQ: 8192 gives its most buckets. */
#define CQ_ENTRIES 8192
#define UD_EVENTFD 1

/*
 * IOSQE_CQE_SKIP_SUCCESS where the kernel has it: no CQE for a cancel.
 * Every carrier sets its ring up at the same time and stores it.
 */
static atomic_uint cancel_flags;

static const unsigned setup_ladder[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		IORING_SETUP_COOP_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_COOP_TASKRUN,
	0,
};

/*
 * The runtime's own fds, a ring and an eventfd a carrier, are the
 * program's business too: a shell's `exec 3<file` dup2s onto 3, a daemon
 * closes every fd from 3 up, and either would take a carrier's ring from
 * under it.  So each is moved, as it is made, above the numbers programs
 * count on: the lowest free from the soft RLIMIT_NOFILE (at most 1024)
 * less OWN_ROOM, where no program's fd would have been but in a process
 * near its limit; where there is none free, it stays where it was made.
 * And each is recorded, so that the shim's close, close_range, closefrom,
 * dup2 and dup3 can leave it be (weft__impl_own_fd): to the program it is
 * not open, as natively.  The record covers fds below OWN_MAX.
 */
#define OWN_ROOM 64
#define OWN_MAX 65536
static _Atomic uint64_t own_fds[OWN_MAX / 64];

static void own_mark(int fd, bool own)
{
	uint64_t bit = 1ull << (fd % 64);

	if (fd < 0 || fd >= OWN_MAX)
		return;
	if (own)
		atomic_fetch_or_explicit(&own_fds[fd / 64], bit,
					 memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&own_fds[fd / 64], ~bit,
					  memory_order_relaxed);
}

/*
 * Not close(): in the preload that is the shim's, which may park.  But
 * ThreadSanitizer keeps a table of fds, filled by its eventfd() and
 * emptied by its close(): it must see the eventfd's first number closed,
 * or it takes the next eventfd made there for a race.  (The preload is
 * never run under it.)
 */
static void sys_close(int fd)
{
#if WEFT_TSAN
	close(fd);
#else
	weft__sys(SYS_close, fd, 0, 0, 0, 0, 0);
#endif
}

/* fd, new, moved out of the program's way and recorded (fd < 0: fd). */
static int own(int fd)
{
	struct rlimit rl;
	long floor = 1024, high;

	if (fd < 0)
		return fd;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1024)
		floor = (long)rl.rlim_cur;
	floor = floor > OWN_ROOM + 3 ? floor - OWN_ROOM : 3;
	high = weft__sys(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor, 0, 0, 0);
	if (high >= 0) {
		sys_close(fd);
		fd = (int)high;
	}
	own_mark(fd, true);
	return fd;
}

static void own_close(int fd)
{
	own_mark(fd, false);
	sys_close(fd);
}

bool weft__impl_own_fd(int fd)
{
	uint64_t w;

	if (fd < 0 || fd >= OWN_MAX)
		return false;
	w = atomic_load_explicit(&own_fds[fd / 64], memory_order_relaxed);
	return (w >> (fd % 64)) & 1;
}

int weft__impl_next_own_fd(unsigned from)
{
	for (unsigned i = from / 64; i < OWN_MAX / 64; i++) {
		uint64_t w =
			atomic_load_explicit(&own_fds[i], memory_order_relaxed);

		if (i == from / 64)
			w &= ~0ull << (from % 64);
		if (w)
			return (int)(i * 64 + __builtin_ctzll(w));
	}
	return -1;
}

int weft__ring_init(struct weft__carrier *c)
{
	unsigned workers[2] = { 2, 2 }; /* io-wq: bounded, unbounded */
	int r = -ENOSYS;

	for (size_t i = 0; i < ARRAY_SIZE(setup_ladder); i++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = setup_ladder[i] | IORING_SETUP_CQSIZE |
			  IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = CQ_ENTRIES;
		r = WEFT_FAULT(ring_setup) ?
			    -ENOMEM :
			    io_uring_queue_init_params(SQ_ENTRIES, &c->ring,
						       &p);
		if (r == 0) {
			c->ring.ring_fd = own(c->ring.ring_fd);
			c->ring.enter_ring_fd = c->ring.ring_fd;
			atomic_store_explicit(&weft__rt.ring_flags, p.flags,
					      memory_order_relaxed);
			if (p.features & IORING_FEAT_CQE_SKIP)
				atomic_store_explicit(&cancel_flags,
						      IOSQE_CQE_SKIP_SUCCESS,
						      memory_order_relaxed);
			break;
		}
		/* Only an unknown flag is worth another rung. */
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return r == -ENOMEM ? -ENOMEM : -ENOSYS;
	/* Bound io-wq: its workers are kernel threads of this process. */
	io_uring_register_iowq_max_workers(&c->ring, workers);
	c->efd_armed = false;
	if (c->efd < 0)
		c->efd = WEFT_FAULT(ring_eventfd) ?
				 -ENFILE :
				 own(WEFT_SYS(eventfd(0, EFD_CLOEXEC)));
	if (c->efd < 0) {
		weft__ring_exit(c);
		return c->efd;
	}
	c->backlog = NULL;
	c->backlog_end = &c->backlog;
	return 0;
}

/*
 * The eventfd outlives the ring: it belongs to the carrier's slot, which
 * a waker that looked at the carrier before it left may still kick
 * (monitor.c).  weft__ring_efd_close() closes it when the slot goes.
 */
void weft__ring_exit(struct weft__carrier *c)
{
	own_mark(c->ring.ring_fd, false);
	io_uring_queue_exit(&c->ring);
	c->ring.ring_fd = -1;
}

void weft__ring_efd_close(struct weft__carrier *c)
{
	if (c->efd >= 0)
		own_close(c->efd);
	c->efd = -1;
}

#if WEFT_FAULT_INJECTION
/* An injected -EBUSY lasts, as the kernel's does, until the CQ is empty. */
static __thread bool busy __attribute__((tls_model("initial-exec")));
#endif

/* An injected failure of io_uring_enter (fault.h), or 0. */
static int enter_fault(struct weft__carrier *c)
{
#if WEFT_FAULT_INJECTION
	if (busy && io_uring_cq_ready(&c->ring))
		return -EBUSY;
	busy = false;
	if (WEFT_FAULT(enter_busy)) {
		busy = true;
		return -EBUSY;
	}
	if (WEFT_FAULT(enter_eagain))
		return -EAGAIN;
	if (WEFT_FAULT(enter_eintr))
		return -EINTR;
#endif
	(void)c;
	return 0;
}

static int submit(struct weft__carrier *c)
{
	int r = enter_fault(c);

	return r ? r : io_uring_submit(&c->ring);
}

static int submit_and_get_events(struct weft__carrier *c)
{
	int r = enter_fault(c);

	return r ? r : io_uring_submit_and_get_events(&c->ring);
}

/*
 * The kernel would not take the SQEs of a full SQ: move the CQEs to the
 * backlog, taking their results only (completing a waiter may wake a
 * thread or submit cancels, which the caller must not do), and let the
 * kernel flush its overflow list into the room made.
 */
static void make_room(struct weft__carrier *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe (&c->ring, head, cqe) {
		struct weft__waiter *w = io_uring_cqe_get_data(cqe);

		n++;
		if ((uintptr_t)w == UD_EVENTFD) {
			c->efd_armed = false;
		} else if (w) {
			w->res = cqe->res;
			w->next = NULL;
			*c->backlog_end = w;
			c->backlog_end = &w->next;
		}
	}
	io_uring_cq_advance(&c->ring, n);
	if (!enter_fault(c))
		io_uring_get_events(&c->ring);
}

/* Until the SQ has room for n SQEs in a row (a link must not be split). */
void weft__ring_reserve(struct weft__carrier *c, unsigned n)
{
	while (io_uring_sq_space_left(&c->ring) < n) {
		if (submit(c) < 0)
			make_room(c);
		c->unsubmitted = io_uring_sq_ready(&c->ring);
	}
}

/*
 * Fault injection: fill the SQ with NOPs (their CQEs are dropped) and have
 * the kernel refuse it, as for a CQ overflow, until the CQ is emptied.
 */
static void fill_sq(struct weft__carrier *c)
{
#if WEFT_FAULT_INJECTION
	struct io_uring_sqe *sqe;

	while ((sqe = io_uring_get_sqe(&c->ring))) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, 0);
	}
	busy = true;
#endif
	(void)c;
}

static struct io_uring_sqe *get_sqe(struct weft__carrier *c)
{
	struct io_uring_sqe *sqe;

	if (WEFT_FAULT(sq_full))
		fill_sq(c);
	/* The SQ is full: push it to the kernel and try again. */
	while (!(sqe = io_uring_get_sqe(&c->ring))) {
		if (submit(c) < 0)
			make_room(c);
		c->unsubmitted = io_uring_sq_ready(&c->ring);
	}
	c->unsubmitted++;
	return sqe;
}

/* An SQE that a parked thread will wait on; see weft__ring_wait(). */
struct io_uring_sqe *weft__ring_sqe(struct weft__carrier *c)
{
	c->inflight++;
	return get_sqe(c);
}

/*
 * Park the current thread of carrier c until the CQE of sqe (from
 * weft__ring_sqe(c), prepared) arrives; return its result.
 */
int weft__ring_wait(struct weft__carrier *c, struct io_uring_sqe *sqe)
{
	struct weft__waiter w;
	int r = weft__ring_wait_any(c, &sqe, &w, 1, -1, WEFT__WAIT_IO);

	/* Cancelled in time: the cause; completed anyway: its real result. */
	return r < 0 && w.res == -ECANCELED ? r : w.res;
}

/* The first party to claim w wakes its thread; later ones do nothing. */
static void wake_once(struct weft__carrier *c, struct weft__waiter *w)
{
	unsigned expect = WEFT_WAITING;

	if (atomic_compare_exchange_strong(&w->state, &expect, WEFT_WOKEN))
		weft__enqueue_local(c, w->thread);
}

/* A ring wait no cancellation interrupts: for close, which always closes. */
int weft__ring_wait_close(struct weft__carrier *c, struct io_uring_sqe *sqe)
{
	struct weft__waiter w;

	weft__waiter_init(&w);
	weft__obs_ring(c, &w, &sqe, 1);
	io_uring_sqe_set_data(sqe, &w);
	weft__waiter_wait(&w, -1);
	return w.res;
}

/* The operation of w completed, its result in w->res. */
static void completed(struct weft__carrier *c, struct weft__waiter *w)
{
	c->inflight--;
	atomic_store_explicit(&w->state, WEFT_WOKEN, memory_order_relaxed);
	if (w->data) {
		struct weft__multi *m = (struct weft__multi *)w->data;

		if (--m->pending == 0 || !m->all)
			wake_once(c, &m->w);
		return;
	}
	weft__enqueue_local(c, w->thread);
}

static void complete(struct weft__carrier *c, struct io_uring_cqe *cqe)
{
	struct weft__waiter *w = io_uring_cqe_get_data(cqe);

	if ((uintptr_t)w == UD_EVENTFD) {
		c->efd_armed = false;
		return;
	}
	if (!w)
		return;
	w->res = cqe->res;
	completed(c, w);
}

/* Ask the kernel to cancel the SQE whose user_data is w. */
static void cancel(struct weft__carrier *c, struct weft__waiter *w)
{
	struct io_uring_sqe *sqe = get_sqe(c);

	io_uring_prep_cancel64(sqe, (uintptr_t)w, 0);
	weft__obs_op(c, IORING_OP_ASYNC_CANCEL);
	io_uring_sqe_set_data64(sqe, 0); /* its own CQE is dropped */
	sqe->flags |= atomic_load_explicit(&cancel_flags, memory_order_relaxed);
}

/* Cancel the SQEs of m not yet completed; wake only when all have. */
static void cancel_pending(struct weft__carrier *c, struct weft__multi *m)
{
	for (int i = 0; i < m->n; i++)
		if (atomic_load_explicit(&m->ws[i].state,
					 memory_order_relaxed) == WEFT_WAITING)
			cancel(c, &m->ws[i]);
	m->all = true;
}

/*
 * t, parked in weft__ring_wait_any() on its carrier c, is about to be made
 * runnable (the caller runs on c).  If its wait ended otherwise than by a
 * completion while SQEs are still pending, cancel them here and keep it
 * parked, its wait re-armed for the last CQE alone: true.  Its control
 * block lets go of the wait first, so that no canceller claims it again.
 */
bool weft__ring_keep_parked(struct weft__carrier *c, struct weft_thread *t)
{
	struct weft__multi *m = t->multi;
	unsigned state = atomic_load(&m->w.state);

	if (m->all || !m->pending || state == WEFT_WOKEN ||
	    state == WEFT_WAITING)
		return false;
	weft__cancel_unregister(&t->ctl);
	if (state == WEFT_CANCELLED)
		weft__stats_cancelled(t);
	m->why = state;
	m->cause = m->w.cause;
	cancel_pending(c, m);
	atomic_store(&m->w.state, WEFT_WAITING);
	return true;
}

/*
 * Park the current thread of c on n prepared SQEs (each from
 * weft__ring_sqe(c)) until the first completes or the deadline (< 0:
 * none) passes; then cancel the others and wait for all of them.  On
 * return ws[i].state is WEFT_WOKEN for each and ws[i].res its result
 * (-ECANCELED for one cancelled in time).  0, or -ETIMEDOUT when the
 * deadline came first, or the cause when the caller was cancelled (a
 * cancellation point: weft__waiter_wait_cancel).
 */
int weft__ring_wait_any(struct weft__carrier *c, struct io_uring_sqe **sqes,
			struct weft__waiter *ws, int n, int64_t deadline,
			int kind)
{
	struct weft_thread *t = c->current;
	struct weft__multi m;
	int r;

	weft__waiter_init(&m.w);
	m.w.kind = kind;
	m.ws = ws;
	m.n = n;
	m.pending = n;
	m.all = false;
	m.why = 0;
	weft__obs_ring(c, &m.w, sqes, n);
	for (int i = 0; i < n; i++) {
		weft__waiter_init(&ws[i]);
		ws[i].data = (uintptr_t)&m;
		io_uring_sqe_set_data(sqes[i], &ws[i]);
	}
	t->multi = &m;
	r = weft__waiter_wait_cancel(&m.w, deadline);
	/* The carrier may have cancelled the rest already, as we slept. */
	if (m.why)
		r = m.why == WEFT_TIMEDOUT ? -ETIMEDOUT : m.cause;
	/* Running again, on c: no completion is reaped until we park. */
	if (m.pending) {
		cancel_pending(c, &m);
		atomic_store(&m.w.state, WEFT_WAITING);
		weft__waiter_wait(&m.w, -1);
	}
	t->multi = NULL;
	return r;
}

/* The oldest CQE of the CQ, or NULL. */
static struct io_uring_cqe *first_cqe(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	unsigned head;

	io_uring_for_each_cqe (ring, head, cqe)
		return cqe;
	return NULL;
}

/* The user_data of the CQE at CQ index i. */
static uintptr_t cqe_data(struct io_uring *ring, unsigned i)
{
	return ring->cq.cqes[io_uring_cqe_index(ring, i, ring->cq.ring_mask)]
		.user_data;
}

/*
 * A batch of completions can wake hundreds of threads, and each one's
 * waiter (on its stack) and control block are cold: while one CQE is
 * completed, bring in the waiter of the one REAP_AHEAD on and the thread
 * of the next, whose waiter the step before brought in.  Only CQEs not
 * yet consumed are looked at: their waiters live until their threads
 * run, after this.
 */
#define REAP_AHEAD 4

static void prefetch_ahead(struct io_uring *ring)
{
	unsigned head = *ring->cq.khead, ready = io_uring_cq_ready(ring);
	uintptr_t next = ready ? cqe_data(ring, head) : 0;
	uintptr_t far = ready > REAP_AHEAD ? cqe_data(ring, head + REAP_AHEAD) :
					     0;

	if (next > UD_EVENTFD) {
		struct weft_thread *t = ((struct weft__waiter *)next)->thread;

		if (t) {
			__builtin_prefetch(t, 1);
			__builtin_prefetch(&t->timer, 1);
		}
	}
	if (far > UD_EVENTFD)
		__builtin_prefetch((void *)far, 1);
}

/*
 * Complete the backlog, then what the CQ holds.  Each CQE is consumed
 * before it is completed: completing may wake a thread whose cancels
 * find the SQ full, and make_room() then takes the CQEs after it.
 */
static void reap(struct weft__carrier *c)
{
	struct io_uring_cqe *cqe, copy;
	struct weft__waiter *w;

	for (;;) {
		if ((w = c->backlog)) {
			c->backlog = w->next;
			if (!c->backlog)
				c->backlog_end = &c->backlog;
			completed(c, w);
			continue;
		}
		if (!(cqe = first_cqe(&c->ring)))
			break;
		copy = *cqe;
		io_uring_cq_advance(&c->ring, 1);
		prefetch_ahead(&c->ring);
		complete(c, &copy);
	}
}

/*
 * Submit what is queued and reap what completed.  With block, first wait
 * for one completion or until the deadline (< 0: none); the eventfd read
 * is armed so that weft__ring_kick() can end the wait.
 */
/*
 * valgrind 3.19 holds its one big lock across io_uring_enter, so a carrier
 * asleep in the ring would stop every other thread: under valgrind an
 * idle carrier sleeps in poll(2) on its eventfd, a millisecond at most,
 * and looks at the ring between naps.
 */
static void nap(struct weft__carrier *c, int64_t deadline)
{
	struct pollfd p = { .fd = c->efd, .events = POLLIN };
	int64_t ms = 1;

	if (deadline >= 0 && deadline - weft__now() < 1000000)
		ms = 0;
	submit_and_get_events(c);
	if (!io_uring_cq_ready(&c->ring) && poll(&p, 1, (int)ms) > 0)
		eventfd_read(c->efd, &c->efd_buf);
	submit_and_get_events(c);
}

/*
 * Fault injection: fill the CQ with NOPs, whose CQEs are dropped, so that
 * the completions after them overflow into the kernel's list.
 */
static void overflow(struct weft__carrier *c)
{
	unsigned n = c->ring.cq.ring_entries + 8;

	while (n) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

		if (!sqe) {
			io_uring_submit(&c->ring);
			continue;
		}
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, 0);
		n--;
	}
	io_uring_submit(&c->ring);
}

/* A wait in the ring ended: say once if the kernel dropped CQEs. */
static void waited(int r)
{
	static atomic_uint said;

	if (unlikely(r == -EBADR) && !atomic_exchange(&said, BADR_SAID))
		weft__msg("the kernel dropped io_uring completions (no "
			  "memory for its overflow list): threads may hang");
}

void weft__ring_poll(struct weft__carrier *c, bool block, int64_t deadline)
{
	struct io_uring_cqe *cqe;
	int r;

	if (WEFT_FAULT(cq_overflow))
		overflow(c);
	/* The backlog's completions are due now: no sleeping on them. */
	if (c->backlog)
		block = false;
	if (block && RUNNING_ON_VALGRIND) {
		nap(c, deadline);
	} else if (!block) {
		submit_and_get_events(c);
	} else {
		if (!c->efd_armed) {
			struct io_uring_sqe *sqe = get_sqe(c);

			io_uring_prep_read(sqe, c->efd, &c->efd_buf,
					   sizeof(c->efd_buf), 0);
			io_uring_sqe_set_data64(sqe, UD_EVENTFD);
			c->efd_armed = true;
		}
		if (deadline >= 0) {
			int64_t rel = deadline - weft__now();
			struct __kernel_timespec ts;

			if (rel < 0)
				rel = 0;
			ts.tv_sec = rel / 1000000000;
			ts.tv_nsec = rel % 1000000000;
			if (!(r = enter_fault(c)))
				r = io_uring_submit_and_wait_timeout(
					&c->ring, &cqe, 1, &ts, NULL);
		} else if (!(r = enter_fault(c))) {
			r = io_uring_submit_and_wait(&c->ring, 1);
		}
		waited(r);
	}
	c->unsubmitted = io_uring_sq_ready(&c->ring);
	reap(c);
}

/* Wake carrier c from its wait in the ring; any thread may call it. */
void weft__ring_kick(struct weft__carrier *c)
{
	eventfd_write(c->efd, 1);
}

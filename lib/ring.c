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
 */
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"
#if WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define SQ_ENTRIES 256
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
		r = io_uring_queue_init_params(SQ_ENTRIES, &c->ring, &p);
		if (r == 0) {
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
		c->efd = eventfd(0, EFD_CLOEXEC);
	if (c->efd < 0) {
		io_uring_queue_exit(&c->ring);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The eventfd outlives the ring: it belongs to the carrier's slot, which
 * a waker that looked at the carrier before it left may still kick
 * (monitor.c).  weft__ring_efd_close() closes it when the slot goes.
 */
void weft__ring_exit(struct weft__carrier *c)
{
	io_uring_queue_exit(&c->ring);
}

void weft__ring_efd_close(struct weft__carrier *c)
{
	/* Not close(): in the preload that is the shim's, which may park. */
	if (c->efd >= 0)
		weft__sys(SYS_close, c->efd, 0, 0, 0, 0, 0);
	c->efd = -1;
}

static struct io_uring_sqe *get_sqe(struct weft__carrier *c)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&c->ring))) {
		/* The SQ is full: push it to the kernel and try again. */
		io_uring_submit(&c->ring);
		c->unsubmitted = 0;
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

static void complete(struct weft__carrier *c, struct io_uring_cqe *cqe)
{
	struct weft__waiter *w = io_uring_cqe_get_data(cqe);

	if ((uintptr_t)w == UD_EVENTFD) {
		c->efd_armed = false;
		return;
	}
	if (!w)
		return;
	c->inflight--;
	w->res = cqe->res;
	atomic_store_explicit(&w->state, WEFT_WOKEN, memory_order_relaxed);
	if (w->data) {
		struct weft__multi *m = (struct weft__multi *)w->data;

		if (--m->pending == 0 || !m->all)
			wake_once(c, &m->w);
		return;
	}
	weft__enqueue_local(c, w->thread);
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

static void reap(struct weft__carrier *c)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe (&c->ring, head, cqe) {
		complete(c, cqe);
		n++;
	}
	io_uring_cq_advance(&c->ring, n);
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
	io_uring_submit_and_get_events(&c->ring);
	if (!io_uring_cq_ready(&c->ring) && poll(&p, 1, (int)ms) > 0)
		eventfd_read(c->efd, &c->efd_buf);
	io_uring_submit_and_get_events(&c->ring);
}

void weft__ring_poll(struct weft__carrier *c, bool block, int64_t deadline)
{
	struct io_uring_cqe *cqe;

	if (block && RUNNING_ON_VALGRIND) {
		nap(c, deadline);
	} else if (!block) {
		io_uring_submit_and_get_events(&c->ring);
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
			io_uring_submit_and_wait_timeout(&c->ring, &cqe, 1, &ts,
							 NULL);
		} else {
			io_uring_submit_and_wait(&c->ring, 1);
		}
	}
	c->unsubmitted = io_uring_sq_ready(&c->ring);
	reap(c);
}

/* Wake carrier c from its wait in the ring; any thread may call it. */
void weft__ring_kick(struct weft__carrier *c)
{
	eventfd_write(c->efd, 1);
}

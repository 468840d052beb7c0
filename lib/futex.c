/* SPDX-License-Identifier: MIT */
/*
 * futex(2) waits made by virtual threads (the shim's syscall()): C++'s
 * atomic wait, Rust's std and others wait on raw futex words, and a
 * virtual thread must park there, not block its carrier, or a waker on
 * the same carrier could never run.
 *
 * Where the kernel has it (6.7+), the wait is io_uring's FUTEX_WAIT on
 * the carrier's ring, with a linked timeout for a deadline: the kernel
 * queues it with the futex(2) waiters of the same word, so one
 * futex(2) FUTEX_WAKE, from any thread, virtual or not, wakes both kinds.
 *
 * Elsewhere the runtime keeps its own table of waiters, hashed by
 * address, and a wake made through weft__impl_futex_wake() wakes the
 * table's waiters first and the kernel's with what is left of its count.
 * The waiter checks the word and queues itself under its bucket's lock
 * and a waker changes the word before it takes that lock, so no wake-up
 * falls between the check and the queueing.  Wakes that do not come
 * through here (glibc's own, inline system calls) cannot see the table.
 * Nor can another process's: a waiter on a shared futex also looks at
 * the word every SHARED_SLICE, and returns as if woken once it changed.
 *
 * WEFT_FUTEX_TABLE=1 forces the table, for tests.
 */
#include <linux/futex.h>
#include <sys/syscall.h>

#include "runtime.h"
#include "sync.h"
#include "weftimpl.h"

/* Not in liburing 2.3 nor Debian 12's kernel headers. */
#define OP_FUTEX_WAIT 51
#define OP_FUTEX_WAITV 53
#define FUTEX2_SIZE_U32 0x02
#define FUTEX2_PRIVATE 128

#define NR_BUCKETS 256
#define SHARED_SLICE 10000000 /* ns */

enum { MODE_UNKNOWN, MODE_RING, MODE_TABLE };

struct fwaiter {
	struct weft__waiter w; /* first: the bucket's queue links it */
	const uint32_t *word;
	uint32_t mask;
};

struct bucket {
	struct weft_spin lock;
	struct weft__waiter *waiters; /* of struct fwaiter */
} __attribute__((aligned(64)));

static struct bucket table[NR_BUCKETS];
static atomic_int mode;
static atomic_bool waitv_ok;

static struct bucket *bucket_of(const uint32_t *word)
{
	uintptr_t a = (uintptr_t)word >> 2;

	return &table[(a ^ (a >> 8) ^ (a >> 16)) % NR_BUCKETS];
}

/* Once, on a carrier: does its ring take FUTEX_WAIT? */
static int probe(struct weft__carrier *c)
{
	struct io_uring_probe *p;
	unsigned force = 0;
	int m = MODE_TABLE;

	weft__env_uint("WEFT_FUTEX_TABLE", 0, 1, 0, &force);
	p = force ? NULL : io_uring_get_probe_ring(&c->ring);
	if (p && io_uring_opcode_supported(p, OP_FUTEX_WAIT)) {
		m = MODE_RING;
		atomic_store(&waitv_ok,
			     io_uring_opcode_supported(p, OP_FUTEX_WAITV));
	}
	if (p)
		io_uring_free_probe(p);
	atomic_store(&mode, m);
	return m;
}

static int mode_of(struct weft__carrier *c)
{
	int m = atomic_load_explicit(&mode, memory_order_relaxed);

	return m ? m : probe(c);
}

/* Room for an operation and its linked timeout, then the operation. */
static struct io_uring_sqe *sqe_pair(struct weft__carrier *c)
{
	if (io_uring_sq_space_left(&c->ring) < 2) {
		io_uring_submit(&c->ring);
		c->unsubmitted = 0;
	}
	return weft__ring_sqe(c);
}

/*
 * Park on sqe, cut short at deadline (< 0: none) by a linked timeout
 * whose own CQE (user_data 0) is dropped.  The operation's result;
 * -ETIMEDOUT when the timeout cancelled it; the cause of a cancellation
 * or interrupt that came first.
 */
static int ring_park(struct weft__carrier *c, struct io_uring_sqe *sqe,
		     int64_t deadline, int kind)
{
	struct __kernel_timespec ts;
	struct weft__waiter w;
	struct io_uring_sqe *lt;
	int r;

	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		sqe->flags |= IOSQE_IO_LINK;
		lt = io_uring_get_sqe(&c->ring);
		WEFT_BUG_ON(!lt); /* sqe_pair() left room */
		io_uring_prep_link_timeout(lt, &ts, IORING_TIMEOUT_ABS);
		io_uring_sqe_set_data64(lt, 0);
		c->unsubmitted++;
	}
	r = weft__ring_wait_any(c, &sqe, &w, 1, -1, kind);
	if (w.res != -ECANCELED)
		return w.res; /* done before any cancellation: as it is */
	return r < 0 ? r : -ETIMEDOUT;
}

static int table_wait(const uint32_t *word, uint32_t val, uint32_t mask,
		      int64_t deadline, int kind)
{
	struct bucket *b = bucket_of(word);
	struct fwaiter f;
	int r;

	weft__waiter_init(&f.w);
	f.w.kind = kind;
	f.word = word;
	f.mask = mask;
	weft__spin_lock(&b->lock);
	if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != val) {
		weft__spin_unlock(&b->lock);
		return -EAGAIN;
	}
	weft__wq_push(&b->waiters, &f.w);
	weft__spin_unlock(&b->lock);
	r = weft__waiter_wait_cancel(&f.w, deadline);
	if (r < 0)
		weft__sync_unqueue(&b->lock, &b->waiters, &f.w);
	return r;
}

/* A shared futex's wait: a slice at a time, looking at the word between. */
static int table_wait_shared(const uint32_t *word, uint32_t val, uint32_t mask,
			     int64_t deadline, int kind)
{
	int64_t slice;
	int r;

	for (;;) {
		slice = weft__now() + SHARED_SLICE;
		if (deadline >= 0 && deadline < slice)
			slice = deadline;
		r = table_wait(word, val, mask, slice, kind);
		if (r != -ETIMEDOUT || slice == deadline)
			return r;
		if (__atomic_load_n(word, __ATOMIC_SEQ_CST) != val)
			return 0;
	}
}

/* futex(2) itself, blocking the caller; its timeout is absolute. */
static int kernel_wait(uint32_t *word, uint32_t val, uint32_t mask, bool shared,
		       int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	int op = FUTEX_WAIT_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);

	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	return (int)weft__sys(SYS_futex, (long)word, op, val, (long)tsp, 0,
			      mask);
}

/*
 * A signal handler fails the wait with EINTR as the kernel would: an
 * untimed wait restarts under SA_RESTART, a timed one never does.
 */
int weft__impl_futex_wait(uint32_t *word, uint32_t val, uint32_t mask,
			  bool shared, int64_t deadline)
{
	struct weft__carrier *c = weft__carrier_self();
	int kind = deadline < 0 ? WEFT__WAIT_IO : WEFT__WAIT_ALWAYS;
	struct io_uring_sqe *sqe;

	if (((uintptr_t)word & 3) || !mask)
		return -EINVAL;
	if (!c || !c->current)
		return kernel_wait(word, val, mask, shared, deadline);
	if (mode_of(c) == MODE_TABLE && shared)
		return table_wait_shared(word, val, mask, deadline, kind);
	if (mode_of(c) == MODE_TABLE)
		return table_wait(word, val, mask, deadline, kind);
	sqe = sqe_pair(c);
	io_uring_prep_rw(OP_FUTEX_WAIT, sqe,
			 FUTEX2_SIZE_U32 | (shared ? 0 : FUTEX2_PRIVATE), word,
			 0, val);
	sqe->addr3 = mask;
	return ring_park(c, sqe, deadline, kind);
}

int weft__impl_futex_waitv(void *waiters, unsigned n, int64_t deadline)
{
	struct weft__carrier *c = weft__carrier_self();
	struct io_uring_sqe *sqe;

	if (!c || !c->current || mode_of(c) != MODE_RING ||
	    !atomic_load(&waitv_ok))
		return -EOPNOTSUPP;
	sqe = sqe_pair(c);
	io_uring_prep_rw(OP_FUTEX_WAITV, sqe, 0, waiters, n, 0);
	/* futex_waitv restarts under SA_RESTART, timed or not. */
	return ring_park(c, sqe, deadline, WEFT__WAIT_IO);
}

/* Wake up to n table waiters of word whose mask meets mask; how many. */
static int table_wake(const uint32_t *word, int n, uint32_t mask)
{
	struct bucket *b = bucket_of(word);
	struct weft__waiter *w, *last, *next, *woken = NULL;
	bool end = false;
	int k = 0;

	if (n <= 0)
		return 0;
	weft__spin_lock(&b->lock);
	w = b->waiters;
	last = w ? w->prev : NULL;
	for (; w && !end && k < n; w = next) {
		struct fwaiter *f = (struct fwaiter *)w;

		end = w == last;
		next = w->next;
		if (f->word != word || !(f->mask & mask))
			continue;
		weft__wq_remove(&b->waiters, w);
		if (!weft__waiter_claim(w))
			continue; /* timed out or cancelled: leaving anyway */
		w->next = woken;  /* off the queue: the link is ours now */
		woken = w;
		k++;
	}
	weft__spin_unlock(&b->lock);
	for (w = woken; w; w = next) {
		struct weft_thread *t = w->thread;

		next = w->next;
		/* Once woken the waiter may return: nothing is read after. */
		weft__wake(t, &w->state);
	}
	return k;
}

int weft__impl_futex_wake(uint32_t *word, int n, uint32_t mask, bool shared)
{
	int op = FUTEX_WAKE_BITSET | (shared ? 0 : FUTEX_PRIVATE_FLAG);
	int k = 0;
	long r;

	if (((uintptr_t)word & 3) || !mask)
		return -EINVAL;
	if (atomic_load_explicit(&mode, memory_order_relaxed) == MODE_TABLE)
		k = table_wake(word, n, mask);
	if (k && k >= n)
		return k;
	r = weft__sys(SYS_futex, (long)word, op, n - k, 0, 0, mask);
	if (r < 0)
		return k ? k : (int)r;
	return k + (int)r;
}

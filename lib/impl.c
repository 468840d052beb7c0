/* SPDX-License-Identifier: MIT */
/* The shim's view of the runtime; see weftimpl.h. */
#include <poll.h>
#include <stdlib.h>
#include <sys/syscall.h>

#include "runtime.h"
#include "weftimpl.h"

/* The kernel thread weft__impl_main() adopts as carrier 0. */
static pthread_t adopted;

intptr_t weft__impl_main(intptr_t (*fn)(void *), void *arg)
{
	adopted = pthread_self();
	return weft__main(fn, arg, &(struct weft_spawn_attr){ .name = "main" },
			  false);
}

bool weft__impl_in_vthread(void)
{
	return weft__self() != NULL;
}

/* The virtual thread that left the runtime on this kernel thread. */
static __thread struct weft_thread *left;
static __thread struct weft__carrier *left_from;

void **weft__impl_slot(void)
{
	struct weft_thread *t = weft__self();

	if (!t)
		t = left;
	return t ? &t->specific : NULL;
}

/*
 * The carrier's TLS says "no carrier" from now on, so every call of the
 * runtime's made here takes the plain thread's way (blocking, no ring)
 * and the thread never parks again: it holds the kernel thread for good,
 * and the monitor takes it for a stuck carrier, whose migratable threads
 * others may run.  Only the slot goes on as the thread's.
 */
bool weft__impl_leave(void)
{
	struct weft__carrier *c = weft__carrier_self();

	if (!c || !c->current || left)
		return false;
	left = c->current;
	left_from = c;
	weft__tls_carrier = NULL;
	return true;
}

void weft__impl_rejoin(void)
{
	weft__tls_carrier = left_from;
	left = NULL;
	left_from = NULL;
}

bool weft__impl_left(void)
{
	return left != NULL;
}

struct io_uring_sqe *weft__impl_sqe(void)
{
	struct weft__carrier *c = weft__carrier_self();

	if (!c || !c->current)
		return NULL;
	/* Room for a linked timeout too: a link must not be split. */
	weft__ring_reserve(c, 2);
	return weft__ring_sqe(c);
}

int weft__impl_wait(struct io_uring_sqe *sqe, int64_t deadline)
{
	struct weft__carrier *c = weft__carrier_self();
	struct __kernel_timespec ts;
	struct io_uring_sqe *lt;
	int r;

	if (deadline < 0)
		return weft__ring_wait(c, sqe);
	ts.tv_sec = deadline / 1000000000;
	ts.tv_nsec = deadline % 1000000000;
	sqe->flags |= IOSQE_IO_LINK;
	/* The timeout's own CQE carries user_data 0 and is dropped. */
	lt = io_uring_get_sqe(&c->ring);
	WEFT_BUG_ON(!lt); /* weft__impl_sqe() left room */
	io_uring_prep_link_timeout(lt, &ts, IORING_TIMEOUT_ABS);
	io_uring_sqe_set_data64(lt, 0);
	c->unsubmitted++;
	weft__obs_op(c, IORING_OP_LINK_TIMEOUT);
	r = weft__ring_wait(c, sqe);
	return r == -ECANCELED ? -ETIME : r;
}

void weft__impl_exit(void)
{
	struct weft_thread *t = weft__self();

	if (!t && left) /* its kernel thread cannot go back to the runtime */
		weft__sys(SYS_exit, 0, 0, 0, 0, 0, 0);
	WEFT_BUG_ON(!t);
	t->result = 0;
	weft__exit_current();
}

/*
 * Each SQE gets its user_data as soon as it is prepared: with more polls
 * than the submission queue holds, weft__ring_sqe() submits the early
 * ones before the last is prepared.  weft__ring_wait_any() then sets the
 * same values again, harmlessly: nothing is reaped before the thread
 * parks, and a slot reused for a later SQE is rewritten last by it.
 */
#define ANY_ON_STACK 16

int weft__impl_poll_any(const struct pollfd *fds, unsigned n, int64_t deadline)
{
	struct weft__carrier *c = weft__carrier_self();
	struct io_uring_sqe *small_sqes[ANY_ON_STACK], **sqes = small_sqes;
	struct weft__waiter small_ws[ANY_ON_STACK], *ws = small_ws;
	struct weft__waiter none;
	unsigned k = 0;
	int r;

	if (n > ANY_ON_STACK) {
		sqes = WEFT_ALLOC(alloc_poll, malloc(n * sizeof(*sqes)));
		ws = WEFT_ALLOC(alloc_poll, malloc(n * sizeof(*ws)));
		if (!sqes || !ws) {
			r = -ENOMEM;
			goto out_free;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (fds[i].fd < 0)
			continue;
		sqes[k] = weft__ring_sqe(c);
		io_uring_prep_poll_add(sqes[k], fds[i].fd,
				       (unsigned short)fds[i].events);
		io_uring_sqe_set_data(sqes[k], &ws[k]);
		k++;
	}
	if (k == 0) { /* nothing to watch: a sleep */
		weft__waiter_init(&none);
		none.kind = WEFT__WAIT_ALWAYS;
		none.note.on = WEFT__ON_SLEEP;
		r = weft__waiter_wait_cancel(&none, deadline);
	} else {
		r = weft__ring_wait_any(c, sqes, ws, (int)k, deadline,
					WEFT__WAIT_ALWAYS);
	}
out_free:
	if (sqes != small_sqes) {
		free(sqes);
		free(ws);
	}
	return r;
}

void weft__impl_stack(const struct weft_thread *t, void **ret_lo,
		      size_t *ret_size)
{
	*ret_lo = t->stack_lo;
	*ret_size = t->stack_size;
}

pthread_t weft__impl_carrier_of(const struct weft_thread *t)
{
	struct weft__carrier *c = t ? t->carrier : NULL;

	if (!c)
		c = weft__carrier_self();
	if (!c)
		return pthread_self();
	return c->adopted ? adopted : c->pthread;
}

/* SPDX-License-Identifier: MIT */
/* The shim's view of the runtime; see weftimpl.h. */
#include "runtime.h"
#include "weftimpl.h"

bool weft__impl_in_vthread(void)
{
	return weft__self() != NULL;
}

void **weft__impl_slot(void)
{
	struct weft_thread *t = weft__self();

	return t ? &t->specific : NULL;
}

struct io_uring_sqe *weft__impl_sqe(void)
{
	struct weft__carrier *c = weft__carrier_self();

	if (!c || !c->current)
		return NULL;
	/* Room for a linked timeout too: a link must not be split. */
	if (io_uring_sq_space_left(&c->ring) < 2) {
		io_uring_submit(&c->ring);
		c->unsubmitted = 0;
	}
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
	r = weft__ring_wait(c, sqe);
	return r == -ECANCELED ? -ETIME : r;
}

void weft__impl_exit(void)
{
	struct weft_thread *t = weft__self();

	WEFT_BUG_ON(!t);
	t->result = 0;
	weft__exit_current();
}

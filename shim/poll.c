/* SPDX-License-Identifier: MIT */
/*
 * poll: one fd on a virtual thread is an io_uring poll, and none is a
 * sleep.  Several fds still block the carrier (the real poll) until the
 * runtime has a primitive to wait for the first of many.
 */
#include "fdtable.h"

#include <poll.h>

__attribute__((noreturn)) extern void __chk_fail(void);

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : weft_now() + timeout_ms * 1000000LL;
}

/* No fds to watch: poll is a sleep, until the timeout or forever. */
static int poll_none(int timeout_ms)
{
	int64_t d = deadline_of(timeout_ms);

	weft_sleep_until(d < 0 ? INT64_MAX : d);
	return 0;
}

static int poll_one(struct pollfd *p, int timeout_ms)
{
	struct io_uring_sqe *sqe = weft__impl_sqe();
	int r;

	io_uring_prep_poll_add(sqe, p->fd, (unsigned short)p->events);
	r = weft__impl_wait(sqe, deadline_of(timeout_ms));
	if (r == -ETIME)
		return 0;
	if (r == -EBADF) {
		p->revents = POLLNVAL;
		return 1;
	}
	if (r < 0)
		return weft__posix(r);
	p->revents = r & (p->events | POLLERR | POLLHUP | POLLNVAL);
	return 1;
}

WEFT_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	if (!weft__on_vthread() || timeout_ms == 0 || n > 1)
		return REAL(poll)(fds, n, timeout_ms);
	if (n == 0)
		return poll_none(timeout_ms);
	fds[0].revents = 0;
	if (fds[0].fd < 0)
		return poll_none(timeout_ms);
	return poll_one(&fds[0], timeout_ms);
}

WEFT_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms,
			   size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout_ms);
}

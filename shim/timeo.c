/* SPDX-License-Identifier: MIT */
/*
 * Sockets with SO_RCVTIMEO or SO_SNDTIMEO: setsockopt records them in the
 * fd table, and a blocking call on such a socket waits with a deadline.
 *
 * As in the kernel, the timeout runs from the start of the call; when it
 * passes, a call that moved nothing fails with EAGAIN and a send that
 * moved some bytes returns their count.  Receives and sends try without
 * waiting and park on an io_uring poll with the deadline in between;
 * accept is one io_uring accept with a linked timeout.
 */
#include "fdtable.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SMALL_IOV 8

/* Park until fd polls ready for events; -EAGAIN once deadline passed. */
static int ready_by(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = weft__impl_poll_any(&p, 1, deadline);

	return r == -ETIMEDOUT ? -EAGAIN : r;
}

ssize_t weft__timed_recv(int fd, struct msghdr *msg, int flags, int64_t timeo)
{
	int64_t deadline = weft_now() + timeo;
	ssize_t r;

	while ((r = WEFT_SYS(REAL(recvmsg)(fd, msg, flags | MSG_DONTWAIT))) ==
	       -EAGAIN) {
		r = ready_by(fd, POLLIN, deadline);
		if (r < 0)
			return r;
	}
	return r;
}

static size_t total(const struct iovec *iov, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Step m's iovecs past n bytes. */
static void advance(struct msghdr *m, size_t n)
{
	while (m->msg_iovlen && n >= m->msg_iov->iov_len) {
		n -= m->msg_iov->iov_len;
		m->msg_iov++;
		m->msg_iovlen--;
	}
	if (m->msg_iovlen) {
		m->msg_iov->iov_base = (char *)m->msg_iov->iov_base + n;
		m->msg_iov->iov_len -= n;
	}
}

/* Send all of m (whose iovecs we own) by the deadline, or what we could. */
static ssize_t send_by(int fd, struct msghdr *m, int flags, int64_t deadline)
{
	size_t want = total(m->msg_iov, m->msg_iovlen), done = 0;
	ssize_t r;

	for (;;) {
		r = WEFT_SYS(REAL(sendmsg)(fd, m, flags | MSG_DONTWAIT));
		if (r == -EAGAIN) {
			r = ready_by(fd, POLLOUT, deadline);
			if (r < 0)
				break;
			continue;
		}
		if (r < 0)
			break;
		done += r;
		if (done >= want || m->msg_name)
			break;
		advance(m, r);
	}
	return done ? (ssize_t)done : r;
}

ssize_t weft__timed_send(int fd, const struct msghdr *msg, int flags,
			 int64_t timeo)
{
	struct iovec small[SMALL_IOV], *iov = small;
	struct msghdr m = *msg;
	ssize_t r;

	if (m.msg_iovlen > SMALL_IOV &&
	    !(iov = WEFT_ALLOC(shim_timeo,
			       malloc(m.msg_iovlen * sizeof(*iov)))))
		return -ENOMEM;
	if (m.msg_iovlen)
		memcpy(iov, m.msg_iov, m.msg_iovlen * sizeof(*iov));
	m.msg_iov = iov;
	r = send_by(fd, &m, flags, weft_now() + timeo);
	if (iov != small)
		free(iov);
	return r;
}

int weft__timed_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags,
		       int64_t timeo)
{
	struct io_uring_sqe *sqe = weft__impl_sqe();
	int r;

	io_uring_prep_accept(sqe, fd, addr, len, flags);
	r = weft__impl_wait(sqe, weft_now() + timeo);
	return r == -ETIME ? -EAGAIN : r;
}

/*
 * The kernel's reading of a timeval timeout: 0 waits forever, a negative
 * one does not wait at all (which here is a deadline already passed).
 */
static int64_t timeval_ns(const struct timeval *tv)
{
	if (tv->tv_sec < 0)
		return 1;
	if (tv->tv_sec >= INT64_MAX / 2000000000)
		return INT64_MAX / 2;
	return tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
}

static int which_timeout(int level, int name)
{
	if (level != SOL_SOCKET)
		return -1;
	if (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW)
		return WEFT_RCVTIMEO;
	if (name == SO_SNDTIMEO_OLD || name == SO_SNDTIMEO_NEW)
		return WEFT_SNDTIMEO;
	return -1;
}

/* Both timeval layouts are two 64-bit words on 64-bit targets. */
_Static_assert(sizeof(struct timeval) == 16, "one timeval layout");

WEFT_EXPORT int setsockopt(int fd, int level, int name, const void *val,
			   socklen_t len)
{
	int which = which_timeout(level, name), r;

	if (which >= 0 && !weft__fd_reserve(fd)) {
		errno = ENOMEM; /* a timeout we cannot honour is not set */
		return -1;
	}
	r = REAL(setsockopt)(fd, level, name, val, len);
	if (r == 0 && which >= 0 && len >= sizeof(struct timeval))
		weft__fd_set_timeout(fd, which, timeval_ns(val));
	return r;
}

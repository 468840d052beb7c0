/* SPDX-License-Identifier: MIT */
/*
 * Sockets: accept, connect, recv and send on a virtual thread and a
 * blocking socket go to the ring, or to timeo.c when the socket has a
 * timeout; anything else is the real call.
 */
#include "fdtable.h"

#include <sys/socket.h>

__attribute__((noreturn)) extern void __chk_fail(void);

static inline bool to_ring(int fd, int flags)
{
	return weft__on_vthread() && !(flags & MSG_DONTWAIT) &&
	       !weft__fd_nonblock(fd);
}

/* What the table knows of fd, which to_ring() found blocking. */
static inline unsigned know(int fd)
{
	return WEFT_IMPL_FD_BLOCKING | weft__fd_kind(fd);
}

static int ring_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int64_t t = weft__fd_timeout(fd, WEFT_RCVTIMEO);

	if (t)
		return weft__posix(weft__timed_accept(fd, addr, len, flags, t));
	return weft__posix(weft_accept(fd, addr, len, flags));
}

static int do_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (!to_ring(fd, 0))
		return weft__fd_accepted(
			fd, REAL(accept4)(fd, addr, len, flags), flags);
	return weft__fd_accepted(fd, ring_accept(fd, addr, len, flags), flags);
}

WEFT_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len,
			int flags)
{
	WEFT_POINT(int, do_accept4(fd, addr, len, flags));
}

static int do_accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (!to_ring(fd, 0))
		return weft__fd_accepted(fd, REAL(accept)(fd, addr, len), 0);
	return weft__fd_accepted(fd, ring_accept(fd, addr, len, 0), 0);
}

WEFT_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	WEFT_POINT(int, do_accept(fd, addr, len));
}

static int do_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!to_ring(fd, 0))
		return REAL(connect)(fd, addr, len);
	return weft__posix(weft_connect(fd, addr, len));
}

WEFT_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	WEFT_POINT(int, do_connect(fd, addr, len));
}

static ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags)
{
	int64_t t;

	if (!to_ring(fd, flags))
		return REAL(recvmsg)(fd, msg, flags);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_RCVTIMEO)))
		return weft__posix(weft__timed_recv(fd, msg, flags, t));
	return weft__posix(weft__impl_recvmsg(fd, msg, flags, know(fd)));
}

WEFT_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	WEFT_POINT(ssize_t, do_recvmsg(fd, msg, flags));
}

static ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	int64_t t;

	if (!to_ring(fd, flags))
		return REAL(sendmsg)(fd, msg, flags);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_SNDTIMEO)))
		return weft__posix(weft__timed_send(fd, msg, flags, t));
	return weft__posix(weft__impl_sendmsg(fd, msg, flags, know(fd)));
}

WEFT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	WEFT_POINT_WRITE(ssize_t, do_sendmsg(fd, msg, flags),
			 weft__iov_len(msg->msg_iov, msg->msg_iovlen));
}

static ssize_t do_recv(int fd, void *buf, size_t len, int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (!to_ring(fd, flags))
		return REAL(recv)(fd, buf, len, flags);
	if (unlikely(weft__fd_timeout(fd, WEFT_RCVTIMEO)))
		return recvmsg(fd, &msg, flags);
	return weft__posix(weft__impl_recv(fd, buf, len, flags, know(fd)));
}

WEFT_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	WEFT_POINT(ssize_t, do_recv(fd, buf, len, flags));
}

WEFT_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			       int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

static ssize_t do_recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (!to_ring(fd, flags))
		return REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	if (addr && alen) {
		msg.msg_name = addr;
		msg.msg_namelen = *alen;
	}
	r = recvmsg(fd, &msg, flags);
	if (r >= 0 && addr && alen)
		*alen = msg.msg_namelen;
	return r;
}

WEFT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			     struct sockaddr *addr, socklen_t *alen)
{
	WEFT_POINT(ssize_t, do_recvfrom(fd, buf, len, flags, addr, alen));
}

WEFT_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
				   int flags, struct sockaddr *addr,
				   socklen_t *alen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, addr, alen);
}

/* weft's send, like a blocking send, queues every byte before it returns. */
static ssize_t do_send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (!to_ring(fd, flags))
		return REAL(send)(fd, buf, len, flags);
	if (unlikely(weft__fd_timeout(fd, WEFT_SNDTIMEO)))
		return sendmsg(fd, &msg, flags);
	return weft__posix(
		weft__impl_sendmsg(fd, &msg, flags & ~MSG_WAITALL, know(fd)));
}

WEFT_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	WEFT_POINT_WRITE(ssize_t, do_send(fd, buf, len, flags), len);
}

static ssize_t do_sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_name = (void *)addr,
			      .msg_namelen = alen,
			      .msg_iov = &iov,
			      .msg_iovlen = 1 };

	if (!to_ring(fd, flags))
		return REAL(sendto)(fd, buf, len, flags, addr, alen);
	if (!addr)
		return send(fd, buf, len, flags);
	return sendmsg(fd, &msg, flags);
}

WEFT_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *addr, socklen_t alen)
{
	WEFT_POINT_WRITE(ssize_t, do_sendto(fd, buf, len, flags, addr, alen),
			 len);
}

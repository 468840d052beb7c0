/* SPDX-License-Identifier: MIT */
/*
 * Blocking operations: on a virtual thread, one SQE and a park; on a plain
 * kernel thread, the system call itself.
 */
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

/*
 * The carrier of the calling virtual thread, or NULL on a plain thread.
 * IO(prep, plain) runs prep on a fresh SQE and parks, or does plain.
 */
static inline struct weft__carrier *vthread_carrier(void)
{
	struct weft__carrier *c = weft__carrier_self();

	return c && c->current ? c : NULL;
}

#define IO(prep, plain)                                       \
	do {                                                  \
		struct weft__carrier *c_ = vthread_carrier(); \
		struct io_uring_sqe *sqe;                     \
                                                              \
		if (!c_)                                      \
			return WEFT_SYS(plain);               \
		sqe = weft__ring_sqe(c_);                     \
		prep;                                         \
		return weft__ring_wait(c_, sqe);              \
	} while (0)

/* io_uring takes offset -1 as "the file position", like read(2). */
#define CUR ((uint64_t)-1)

ssize_t weft_read(int fd, void *buf, size_t len)
{
	IO(io_uring_prep_read(sqe, fd, buf, len, CUR), read(fd, buf, len));
}

ssize_t weft_write(int fd, const void *buf, size_t len)
{
	IO(io_uring_prep_write(sqe, fd, buf, len, CUR), write(fd, buf, len));
}

ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt)
{
	IO(io_uring_prep_readv(sqe, fd, iov, iovcnt, CUR),
	   readv(fd, iov, iovcnt));
}

ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt)
{
	IO(io_uring_prep_writev(sqe, fd, iov, iovcnt, CUR),
	   writev(fd, iov, iovcnt));
}

ssize_t weft_pread(int fd, void *buf, size_t len, off_t off)
{
	if (off < 0)
		return -EINVAL;
	IO(io_uring_prep_read(sqe, fd, buf, len, off),
	   pread(fd, buf, len, off));
}

ssize_t weft_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (off < 0)
		return -EINVAL;
	IO(io_uring_prep_write(sqe, fd, buf, len, off),
	   pwrite(fd, buf, len, off));
}

ssize_t weft_recv(int fd, void *buf, size_t len, int flags)
{
	IO(io_uring_prep_recv(sqe, fd, buf, len, flags),
	   recv(fd, buf, len, flags));
}

ssize_t weft_send(int fd, const void *buf, size_t len, int flags)
{
	IO(io_uring_prep_send(sqe, fd, buf, len, flags),
	   send(fd, buf, len, flags));
}

ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags)
{
	IO(io_uring_prep_recvmsg(sqe, fd, msg, flags), recvmsg(fd, msg, flags));
}

ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	IO(io_uring_prep_sendmsg(sqe, fd, msg, flags), sendmsg(fd, msg, flags));
}

int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	IO(io_uring_prep_accept(sqe, fd, addr, addrlen, flags),
	   accept4(fd, addr, addrlen, flags));
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	IO(io_uring_prep_connect(sqe, fd, addr, addrlen),
	   connect(fd, addr, addrlen));
}

static int poll_one(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	r = WEFT_SYS(poll(&p, 1, -1));
	return r < 0 ? r : p.revents;
}

int weft_poll(int fd, short events)
{
	IO(io_uring_prep_poll_add(sqe, fd, (unsigned short)events),
	   poll_one(fd, events));
}

int weft_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	IO(io_uring_prep_openat(sqe, dirfd, path, flags, mode),
	   openat(dirfd, path, flags, mode));
}

int weft_close(int fd)
{
	IO(io_uring_prep_close(sqe, fd), close(fd));
}

int weft_fsync(int fd)
{
	IO(io_uring_prep_fsync(sqe, fd, 0), fsync(fd));
}

int64_t weft_now(void)
{
	return weft__now();
}

int weft_sleep_until(int64_t deadline)
{
	struct weft__waiter w;
	struct timespec ts;

	if (deadline < 0)
		return -EINVAL;
	if (vthread_carrier()) {
		weft__waiter_init(&w);
		weft__waiter_wait(&w, deadline);
		return 0;
	}
	ts.tv_sec = deadline / 1000000000;
	ts.tv_nsec = deadline % 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
	return 0;
}

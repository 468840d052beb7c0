/* SPDX-License-Identifier: MIT */
/*
 * read, write and their vectored and positioned kin, fsync and sendfile:
 * on a virtual thread and a blocking fd, weft's blocking operation (which
 * writes everything, as a blocking write does); otherwise the real call.
 * A socket with a receive or send timeout goes to timeo.c.
 */
#include "fdtable.h"

#include <stdlib.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#define SENDFILE_CHUNK (64 << 10)

__attribute__((noreturn)) extern void __chk_fail(void);

static inline bool to_ring(int fd)
{
	return weft__on_vthread() && !weft__fd_nonblock(fd);
}

/* What the table knows of fd, which to_ring() found blocking. */
static inline unsigned know(int fd)
{
	return WEFT_IMPL_FD_BLOCKING | weft__fd_kind(fd);
}

static ssize_t ring_readv(int fd, const struct iovec *iov, int n, off_t off)
{
	return weft__posix(weft__impl_readv(fd, iov, n, off, know(fd)));
}

static ssize_t ring_writev(int fd, const struct iovec *iov, int n, off_t off)
{
	return weft__posix(weft__impl_writev(fd, iov, n, off, know(fd)));
}

static ssize_t timed_readv(int fd, const struct iovec *iov, int n,
			   int64_t timeo)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

	return weft__posix(weft__timed_recv(fd, &m, 0, timeo));
}

static ssize_t timed_writev(int fd, const struct iovec *iov, int n,
			    int64_t timeo)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };

	return weft__posix(weft__timed_send(fd, &m, 0, timeo));
}

static ssize_t do_read(int fd, void *buf, size_t len)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };
	int64_t t;

	if (!to_ring(fd))
		return REAL(read)(fd, buf, len);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_RCVTIMEO)))
		return timed_readv(fd, &v, 1, t);
	return ring_readv(fd, &v, 1, -1);
}

WEFT_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	WEFT_POINT(ssize_t, do_read(fd, buf, len));
}

WEFT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}

static ssize_t do_write(int fd, const void *buf, size_t len)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
	int64_t t;

	if (!to_ring(fd))
		return REAL(write)(fd, buf, len);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_SNDTIMEO)))
		return timed_writev(fd, &v, 1, t);
	return ring_writev(fd, &v, 1, -1);
}

WEFT_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	WEFT_POINT_WRITE(ssize_t, do_write(fd, buf, len), len);
}

static ssize_t do_pread(int fd, void *buf, size_t len, off_t off)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	if (!to_ring(fd) || off < 0)
		return REAL(pread64)(fd, buf, len, off);
	return ring_readv(fd, &v, 1, off);
}

WEFT_EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	WEFT_POINT(ssize_t, do_pread(fd, buf, len, off));
}

WEFT_EXPORT ssize_t pread64(int fd, void *buf, size_t len, off_t off)
{
	return pread(fd, buf, len, off);
}

WEFT_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t len, off_t off,
				size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return pread(fd, buf, len, off);
}

WEFT_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off,
				  size_t buflen)
{
	return __pread_chk(fd, buf, len, off, buflen);
}

static ssize_t do_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

	if (!to_ring(fd) || off < 0)
		return REAL(pwrite64)(fd, buf, len, off);
	return ring_writev(fd, &v, 1, off);
}

WEFT_EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	WEFT_POINT_WRITE(ssize_t, do_pwrite(fd, buf, len, off), len);
}

WEFT_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

static ssize_t do_readv(int fd, const struct iovec *iov, int iovcnt)
{
	int64_t t;

	if (!to_ring(fd))
		return REAL(readv)(fd, iov, iovcnt);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_RCVTIMEO)))
		return timed_readv(fd, iov, iovcnt, t);
	return ring_readv(fd, iov, iovcnt, -1);
}

WEFT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	WEFT_POINT(ssize_t, do_readv(fd, iov, iovcnt));
}

static ssize_t do_writev(int fd, const struct iovec *iov, int iovcnt)
{
	int64_t t;

	if (!to_ring(fd))
		return REAL(writev)(fd, iov, iovcnt);
	if (unlikely(t = weft__fd_timeout(fd, WEFT_SNDTIMEO)))
		return timed_writev(fd, iov, iovcnt, t);
	return ring_writev(fd, iov, iovcnt, -1);
}

WEFT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	WEFT_POINT_WRITE(ssize_t, do_writev(fd, iov, iovcnt),
			 weft__iov_len(iov, iovcnt < 0 ? 0 : iovcnt));
}

static ssize_t do_preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	if (!to_ring(fd) || off < 0)
		return REAL(preadv64)(fd, iov, n, off);
	return ring_readv(fd, iov, n, off);
}

WEFT_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int n, off_t off)
{
	WEFT_POINT(ssize_t, do_preadv(fd, iov, n, off));
}

WEFT_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int n, off_t off)
{
	return preadv(fd, iov, n, off);
}

static ssize_t do_pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	if (!to_ring(fd) || off < 0)
		return REAL(pwritev64)(fd, iov, n, off);
	return ring_writev(fd, iov, n, off);
}

WEFT_EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t off)
{
	WEFT_POINT_WRITE(ssize_t, do_pwritev(fd, iov, n, off),
			 weft__iov_len(iov, n < 0 ? 0 : n));
}

WEFT_EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int n, off_t off)
{
	return pwritev(fd, iov, n, off);
}

static int do_fsync(int fd)
{
	if (!weft__on_vthread())
		return REAL(fsync)(fd);
	return weft__posix(weft_fsync(fd));
}

WEFT_EXPORT int fsync(int fd)
{
	WEFT_POINT(int, do_fsync(fd));
}

static int do_fdatasync(int fd)
{
	struct io_uring_sqe *sqe;

	if (!weft__on_vthread())
		return REAL(fdatasync)(fd);
	sqe = weft__impl_sqe();
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	return weft__posix(weft__impl_wait(sqe, -1));
}

WEFT_EXPORT int fdatasync(int fd)
{
	WEFT_POINT(int, do_fdatasync(fd));
}

/*
 * sendfile to a blocking socket or pipe would block the carrier until all
 * is sent: on a virtual thread it is a loop of reads and blocking writes
 * through a buffer.  Without an offset the file position ends after what
 * was sent, as natively, even when a write fails halfway.
 */
static ssize_t copy_chunk(int out, int in, char *buf, size_t want, off_t *off)
{
	ssize_t r, w;

	r = off ? weft_pread(in, buf, want, *off) : weft_read(in, buf, want);
	if (r <= 0)
		return r;
	w = weft_write(out, buf, r);
	if (!off && w < r)
		lseek(in, (w < 0 ? 0 : w) - r, SEEK_CUR);
	if (off && w > 0)
		*off += w;
	return w;
}

static ssize_t send_file(int out, int in, off_t *off, size_t count)
{
	size_t chunk = count < SENDFILE_CHUNK ? count : SENDFILE_CHUNK;
	size_t done = 0;
	ssize_t r = 0;
	char *buf;

	if (off && *off < 0)
		return -EINVAL;
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (done < count) {
		size_t want = count - done < chunk ? count - done : chunk;

		r = copy_chunk(out, in, buf, want, off);
		if (r <= 0)
			break;
		done += r;
		if ((size_t)r < want)
			break;
	}
	free(buf);
	return done ? (ssize_t)done : r;
}

WEFT_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	if (!to_ring(out) || count == 0)
		return REAL(sendfile64)(out, in, off, count);
	return weft__posix(send_file(out, in, off, count));
}

WEFT_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

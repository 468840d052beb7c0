/* SPDX-License-Identifier: MIT */
/*
 * read, write and their vectored and positioned kin: on a virtual thread
 * and a blocking fd, weft's blocking operation (which writes everything,
 * as a blocking write does); otherwise the real call.
 */
#include "fdtable.h"

#include <sys/uio.h>

__attribute__((noreturn)) extern void __chk_fail(void);

static inline bool to_ring(int fd)
{
	return weft__on_vthread() && !weft__fd_nonblock(fd);
}

WEFT_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	if (!to_ring(fd))
		return REAL(read)(fd, buf, len);
	return weft__posix(weft_read(fd, buf, len));
}

WEFT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	if (len > buflen)
		__chk_fail();
	return read(fd, buf, len);
}

WEFT_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (!to_ring(fd))
		return REAL(write)(fd, buf, len);
	return weft__posix(weft_write(fd, buf, len));
}

WEFT_EXPORT ssize_t pread(int fd, void *buf, size_t len, off_t off)
{
	if (!to_ring(fd))
		return REAL(pread64)(fd, buf, len, off);
	return weft__posix(weft_pread(fd, buf, len, off));
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

WEFT_EXPORT ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (!to_ring(fd))
		return REAL(pwrite64)(fd, buf, len, off);
	return weft__posix(weft_pwrite(fd, buf, len, off));
}

WEFT_EXPORT ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

WEFT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (!to_ring(fd))
		return REAL(readv)(fd, iov, iovcnt);
	return weft__posix(weft_readv(fd, iov, iovcnt));
}

WEFT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (!to_ring(fd))
		return REAL(writev)(fd, iov, iovcnt);
	return weft__posix(weft_writev(fd, iov, iovcnt));
}

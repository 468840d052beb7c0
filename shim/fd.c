/* SPDX-License-Identifier: MIT */
/*
 * The calls that create, change and close fds: passed through (close on
 * a virtual thread goes to the ring), and recorded in the fd table.
 */
#include "fdtable.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <linux/close_range.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* open's mode argument is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)                                              \
	do {                                                               \
		va_list ap_;                                               \
                                                                           \
		va_start(ap_, flags);                                      \
		if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) \
			mode = va_arg(ap_, mode_t);                        \
		va_end(ap_);                                               \
	} while (0)

/* After open and its kin, cancellation points (in: entered one). */
static int opened(bool in, int fd, int flags)
{
	weft__point_leave(in, fd < 0 && errno == EINTR);
	if (fd >= 0)
		weft__fd_set(fd, flags & O_NONBLOCK);
	return fd;
}

WEFT_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	bool in;

	MODE_ARG(flags, mode);
	in = weft__point_enter();
	return opened(in, REAL(openat64)(dirfd, path, flags, mode), flags);
}

WEFT_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	bool in;

	MODE_ARG(flags, mode);
	in = weft__point_enter();
	return opened(in, REAL(openat64)(dirfd, path, flags, mode), flags);
}

WEFT_EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	bool in;

	MODE_ARG(flags, mode);
	in = weft__point_enter();
	return opened(in, REAL(open64)(path, flags, mode), flags);
}

WEFT_EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	bool in;

	MODE_ARG(flags, mode);
	in = weft__point_enter();
	return opened(in, REAL(open64)(path, flags, mode), flags);
}

/* The fortified opens: no mode, and O_CREAT without one is a bug. */
static void check_open(int flags)
{
	static const char msg[] = "*** invalid open call: O_CREAT or "
				  "O_TMPFILE without mode ***: terminated\n";

	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
		REAL(write)(2, msg, sizeof(msg) - 1);
		abort();
	}
}

WEFT_EXPORT int __open_2(const char *path, int flags)
{
	bool in;

	check_open(flags);
	in = weft__point_enter();
	return opened(in, REAL(open64)(path, flags), flags);
}

WEFT_EXPORT int __open64_2(const char *path, int flags)
{
	return __open_2(path, flags);
}

WEFT_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	bool in;

	check_open(flags);
	in = weft__point_enter();
	return opened(in, REAL(openat64)(dirfd, path, flags), flags);
}

WEFT_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return __openat_2(dirfd, path, flags);
}

WEFT_EXPORT int creat(const char *path, mode_t mode)
{
	return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

WEFT_EXPORT int creat64(const char *path, mode_t mode)
{
	return creat(path, mode);
}

WEFT_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);

	if (fd >= 0)
		weft__fd_set_socket(fd, type);
	return fd;
}

WEFT_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	int r = REAL(socketpair)(domain, type, protocol, sv);

	if (r == 0) {
		weft__fd_set_socket(sv[0], type);
		weft__fd_set_socket(sv[1], type);
	}
	return r;
}

WEFT_EXPORT int pipe2(int fds[2], int flags)
{
	int r = REAL(pipe2)(fds, flags);

	if (r == 0) {
		weft__fd_set_stream(fds[0], flags & O_NONBLOCK);
		weft__fd_set_stream(fds[1], flags & O_NONBLOCK);
	}
	return r;
}

WEFT_EXPORT int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

WEFT_EXPORT int dup(int fd)
{
	return weft__fd_duped(fd, REAL(dup)(fd));
}

/*
 * The runtime's own fds (lib/ring.c) sit where programs rarely look; one
 * that dup2s onto one anyway is told EBUSY, which Linux's dup2 may say.
 */
static bool onto_own(int fd2)
{
	if (!weft__impl_own_fd(fd2))
		return false;
	errno = EBUSY;
	return true;
}

WEFT_EXPORT int dup2(int fd, int fd2)
{
	if (onto_own(fd2) || !weft__fd_room_for(fd, fd2))
		return -1;
	return weft__fd_duped(fd, REAL(dup2)(fd, fd2));
}

WEFT_EXPORT int dup3(int fd, int fd2, int flags)
{
	if (onto_own(fd2) || !weft__fd_room_for(fd, fd2))
		return -1;
	return weft__fd_duped(fd, REAL(dup3)(fd, fd2, flags));
}

/*
 * fcntl's third argument is an int or a pointer: passing it on as a
 * pointer-sized integer is what glibc's own wrapper does.
 */
static int do_fcntl(int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);
	int r = REAL(fcntl64)(fd, cmd, arg);

	if (r < 0)
		return r;
	if (cmd == F_SETFL)
		weft__fd_set_nonblock(fd, (int)(intptr_t)arg & O_NONBLOCK);
	else if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return weft__fd_duped(fd, r);
	return r;
}

WEFT_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = do_fcntl(fd, cmd, ap);
	va_end(ap);
	return r;
}

WEFT_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = do_fcntl(fd, cmd, ap);
	va_end(ap);
	return r;
}

WEFT_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	int r;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	r = REAL(ioctl)(fd, req, arg);
	if (r == 0 && req == FIONBIO)
		weft__fd_set_nonblock(fd, *(int *)arg);
	return r;
}

/*
 * A cancellation point on entry only: close always closes.  Not the
 * runtime's own fds: to the program they are not open.
 */
WEFT_EXPORT int close(int fd)
{
	long r;

	if (weft__impl_own_fd(fd)) {
		errno = EBADF;
		return -1;
	}
	if (!weft__on_vthread()) {
		r = REAL(close)(fd);
	} else {
		weft__point_leave(weft__point_enter(), false);
		r = weft__posix(weft_close(fd));
	}
	weft__fd_forget(fd);
	return r;
}

/*
 * libc closes fds inside itself, where the shim does not see the close:
 * fclose, pclose, freopen (which dup3s its new file onto the stream's
 * fd), closedir, closefrom and close_range.  Each forgets what the table
 * knew, or it would keep it for the next fd of that number that libc
 * makes unseen (fopen, popen, opendir), and read a file as the pipe it
 * was, or a pipe as a file.  fileno and dirfd set errno for a stream of
 * no fd (fmemopen's): errno is kept.
 */
static int stream_fd(FILE *f)
{
	int saved = errno, fd = fileno(f);

	errno = saved;
	return fd;
}

static void forget(int fd)
{
	if (fd >= 0)
		weft__fd_forget(fd);
}

/* Close f with real (fclose or pclose) and forget its fd. */
static int close_stream(int (*real)(FILE *), FILE *f)
{
	int fd = stream_fd(f), r = real(f);

	forget(fd);
	return r;
}

WEFT_EXPORT int fclose(FILE *f)
{
	return close_stream(REAL(fclose), f);
}

WEFT_EXPORT int pclose(FILE *f)
{
	return close_stream(REAL(pclose), f);
}

typedef FILE *freopen_fn(const char *, const char *, FILE *);

/* The old fd is closed or made another file; the new one is unseen. */
static FILE *reopen(freopen_fn *real, const char *path, const char *mode,
		    FILE *f)
{
	int fd = stream_fd(f);
	FILE *r = real(path, mode, f);

	forget(fd);
	if (r)
		forget(stream_fd(r));
	return r;
}

WEFT_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	return reopen(REAL(freopen), path, mode, f);
}

WEFT_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	return reopen(REAL(freopen64), path, mode, f);
}

WEFT_EXPORT int closedir(DIR *d)
{
	int saved = errno, fd = dirfd(d), r;

	errno = saved;
	r = REAL(closedir)(d);
	forget(fd);
	return r;
}

/*
 * close_range and closefrom close the program's fds and leave the
 * runtime's own: the range is closed in the pieces between them.
 * CLOSE_RANGE_CLOEXEC closes nothing (the runtime's are close-on-exec
 * already); a failure may have closed some.
 */
WEFT_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	unsigned lo = first;
	int own, r = 0;

	if (flags & CLOSE_RANGE_CLOEXEC || first > last)
		return REAL(close_range)(first, last, flags);
	while (r == 0 && lo <= last) {
		own = weft__impl_next_own_fd(lo);
		if (own < 0 || (unsigned)own > last)
			own = -1;
		if (own != (int)lo)
			r = REAL(close_range)(lo, own < 0 ? last : own - 1u,
					      flags);
		if (own < 0)
			break;
		lo = own + 1u;
	}
	weft__fd_forget_range(first, last);
	return r;
}

/* closefrom is close_range to the top, libc's own way where that fails. */
WEFT_EXPORT void closefrom(int low)
{
	unsigned lo = low < 0 ? 0 : (unsigned)low;
	int own;

	if (close_range(lo, ~0u, 0) == 0)
		return;
	/* No close_range (Linux < 5.9): one by one up to the last own fd. */
	while ((own = weft__impl_next_own_fd(lo)) >= 0) {
		for (; lo < (unsigned)own; lo++)
			REAL(close)(lo);
		lo = own + 1u;
	}
	REAL(closefrom)(lo);
}

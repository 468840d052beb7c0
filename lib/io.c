/* SPDX-License-Identifier: MIT */
/*
 * Blocking operations with the semantics of the system calls.
 *
 * On a plain kernel thread each is the system call.  On a virtual thread,
 * reads and writes first try the call without blocking (RWF_NOWAIT,
 * MSG_DONTWAIT): ready data costs one system call and no switch, where an
 * io_uring round trip costs twice that.  Only a call that would block goes
 * to the ring, and only if the fd is a blocking one: on an O_NONBLOCK fd
 * the caller gets EAGAIN, as natively (io_uring itself would wait for
 * readiness).  accept and connect cannot be tried without blocking, so
 * they ask the fd's flags first.
 *
 * A blocking write writes everything, as write(2) does on a blocking pipe
 * or socket, while io_uring completes a short one: writes loop, and an
 * error after some progress reports the progress (the error comes back
 * from the next call).  The ring takes at most MAX_RW bytes at a time,
 * the kernel's own cap for read(2).
 *
 * A read of a file (regular, block or character device) is short only at
 * its end, but one tried with RWF_NOWAIT stops where the page cache ends,
 * and /dev/zero's where the scheduler wants the CPU: such a read goes on
 * until the buffer is full, as read(2) would have.  Pipes and sockets
 * return what is there, as natively.
 *
 * The shim knows more of an fd than the API does (weft__impl_*): whether
 * it is blocking and whether it is a stream, so it needs neither fcntl
 * nor fstat.  With that, a write to a blocking stream goes straight to
 * the ring when the carrier has other work: the threads run before the
 * next submission queue theirs too, and one io_uring_enter sends them
 * all, where each would have made a system call of its own (the kernel
 * tries the write at once when it is submitted, and waits only if the
 * pipe or socket is full).  A thread alone on its carrier tries first, as
 * every read does: ready data then costs one system call and no switch.
 */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"
#include "weftimpl.h"

#define MAX_RW 0x7ffff000u
#define CUR ((uint64_t)-1) /* io_uring's "the file position" */
#define SMALL_IOV 16

#define BLOCKING WEFT_IMPL_FD_BLOCKING
#define STREAM WEFT_IMPL_FD_STREAM
#define FILE_LIKE WEFT_IMPL_FD_FILE
#define SOCKET WEFT_IMPL_FD_SOCKET

/* The carrier of the calling virtual thread, or NULL on a plain thread. */
static inline struct weft__carrier *vthread_carrier(void)
{
	struct weft__carrier *c = weft__carrier_self();

	return c && c->current ? c : NULL;
}

/*
 * Every blocking call is a cancellation point (cancel.c): it fails with
 * the caller's cancellation before doing anything.  close is not one.
 */
static int checkpoint(struct weft__carrier *c)
{
	return weft__cancel_check(c ? &c->current->ctl : weft__ctl_self(),
				  WEFT__WAIT_IO);
}

/* c: the caller's carrier from vthread_carrier(), looked up once. */
#define CHECKPOINT(c)                    \
	do {                             \
		int cp_ = checkpoint(c); \
		if (cp_)                 \
			return cp_;      \
	} while (0)

static bool nonblocking(int fd, unsigned know)
{
	long fl;

	if (know & BLOCKING)
		return false;
	fl = WEFT_SYS(fcntl(fd, F_GETFL));
	return fl >= 0 && (fl & O_NONBLOCK);
}

/* Is a short read of fd native (a stream), or only at its end (a file)? */
static bool file_like(int fd, unsigned know)
{
	struct stat st;

	if (know & (STREAM | FILE_LIKE))
		return know & FILE_LIKE;
	return WEFT_SYS(fstat(fd, &st)) == 0 &&
	       (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
		S_ISCHR(st.st_mode));
}

/*
 * Should this write of fd go straight to the ring?  A blocking stream, on
 * a carrier with threads to run or SQEs to submit: it will enter the
 * ring soon anyway, for all of them at once.
 */
static bool ring_first(struct weft__carrier *c, unsigned know)
{
	return (know & (BLOCKING | STREAM)) == (BLOCKING | STREAM) &&
	       (c->runq.head || c->unsubmitted);
}

static size_t clamp(size_t len)
{
	return len > MAX_RW ? MAX_RW : len;
}

/*
 * ThreadSanitizer takes fds for synchronisation: its write(2) interceptor
 * releases and its read(2) interceptor acquires a sync object of the fd
 * (one per pipe, one for all sockets), so that a write happens before the
 * read that gets its bytes.  The ring tells it nothing, nor do preadv2
 * and pwritev2, which gcc 12's TSan does not intercept: a virtual thread
 * reading what a thread wrote before sending it would be reported racing
 * with the writer.  In TSan builds every read and write here also makes
 * an empty readv or writev, which the kernel returns at once and TSan's
 * interceptors take as that acquire or release.  (Not for the shim, whose
 * own readv this would be: it does not run under TSan.)
 */
static void tsan_fd_release(int fd)
{
#if WEFT_TSAN
	struct iovec v = { NULL, 0 };

	WEFT_SYS(writev(fd, &v, 0));
#else
	(void)fd;
#endif
}

static ssize_t tsan_fd_acquire(int fd, ssize_t r)
{
#if WEFT_TSAN
	struct iovec v = { NULL, 0 };

	if (r >= 0)
		WEFT_SYS(readv(fd, &v, 0));
#else
	(void)fd;
#endif
	return r;
}

/*
 * The tries without blocking that a virtual thread makes go straight to
 * the kernel.  libc's wrappers are cancellation points: in a process with
 * threads each brackets its system call with two atomic updates of the
 * kernel thread's cancel state, 50 ns here (a fifth of a ready read), for
 * a pthread_cancel that cannot reach a carrier.  Sanitizer builds keep
 * libc's, whose interceptors check the buffers.
 */
#if WEFT_ASAN || WEFT_TSAN
#define TRY_SYS(call) WEFT_SYS(call)
#else
#define TRY_SYS(call) try_##call
static inline long try_preadv2(int fd, const struct iovec *iov, int n,
			       off_t off, int flags)
{
	return weft__sys(SYS_preadv2, fd, (long)iov, n, off, 0, flags);
}

static inline long try_pwritev2(int fd, const struct iovec *iov, int n,
				off_t off, int flags)
{
	return weft__sys(SYS_pwritev2, fd, (long)iov, n, off, 0, flags);
}

static inline long try_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return weft__sys(SYS_recvmsg, fd, (long)msg, flags, 0, 0, 0);
}

static inline long try_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return weft__sys(SYS_sendmsg, fd, (long)msg, flags, 0, 0, 0);
}

static inline long try_recvfrom(int fd, void *buf, size_t len, int flags,
				struct sockaddr *addr, socklen_t *addrlen)
{
	return weft__sys(SYS_recvfrom, fd, (long)buf, len, flags, (long)addr,
			 (long)addrlen);
}

static inline long try_sendto(int fd, const void *buf, size_t len, int flags,
			      const struct sockaddr *addr, socklen_t addrlen)
{
	return weft__sys(SYS_sendto, fd, (long)buf, len, flags, (long)addr,
			 addrlen);
}
#endif

/*
 * io_uring sends with MSG_NOSIGNAL whatever the SQE asks (a worker thread
 * must not take the caller's signal).  So a send here always does, and a
 * send that fails with EPIPE having sent nothing raises the SIGPIPE that
 * send(2) sends its kernel thread then, as the kernel makes it (SI_USER,
 * from this process): a blocking send that sent some of its bytes before
 * the peer went returns their count and no signal, in the ring or not.
 */
static ssize_t sent(ssize_t r, int flags)
{
	siginfo_t si = { .si_signo = SIGPIPE, .si_code = SI_USER };

	if (r == -EPIPE && !(flags & MSG_NOSIGNAL)) {
		si.si_pid = getpid();
		si.si_uid = getuid();
		weft__sys(SYS_rt_tgsigqueueinfo, si.si_pid, gettid(), SIGPIPE,
			  (long)&si, 0, 0);
	}
	return r;
}

/* ---- reads ---- */

/* Step an iovec array past n bytes; the index of the first left. */
static int advance(struct iovec *iov, int cnt, size_t n)
{
	int i = 0;

	while (i < cnt && n >= iov[i].iov_len)
		n -= iov[i++].iov_len;
	if (i < cnt) {
		iov[i].iov_base = (char *)iov[i].iov_base + n;
		iov[i].iov_len -= n;
	}
	return i;
}

static size_t total(const struct iovec *iov, int cnt)
{
	size_t t = 0;

	for (int i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

/* The first len bytes of iov were written by the kernel. */
static void filled(const struct iovec *iov, int n, ssize_t len)
{
	for (int i = 0; i < n && len > 0; i++) {
		size_t k = (size_t)len < iov[i].iov_len ? (size_t)len :
							  iov[i].iov_len;

		weft__vg_defined(iov[i].iov_base, k);
		len -= k;
	}
}

/*
 * A read of one buffer at the file position on a socket whose read is
 * recv: recvfrom, and IORING_OP_RECV in the ring, skip the VFS's part of
 * a read (the iovec's copy, the position, fsnotify), a fifth of a ready
 * read of a socket here.  Not of 0 bytes, which read(2) returns at once.
 */
static bool recv_like(const struct iovec *iov, int n, off_t off, unsigned know)
{
	return (know & SOCKET) && n == 1 && off < 0 && iov->iov_len;
}

static ssize_t ring_readv(struct weft__carrier *c, int fd,
			  const struct iovec *iov, int n, uint64_t off,
			  bool recv)
{
	struct io_uring_sqe *sqe = weft__ring_sqe(c);
	ssize_t r;

	if (recv)
		io_uring_prep_recv(sqe, fd, iov->iov_base, clamp(iov->iov_len),
				   0);
	else if (n == 1)
		io_uring_prep_read(sqe, fd, iov->iov_base, clamp(iov->iov_len),
				   off);
	else
		io_uring_prep_readv(sqe, fd, iov, n, off);
	r = weft__ring_wait(c, sqe);
	filled(iov, n, r);
	return r;
}

/*
 * The rest of a read of a file that came back short after done bytes,
 * read as read(2) would have: until full, the end, or an error (which the
 * next call reports).  The bytes read stay read, whatever happens.
 */
static ssize_t read_on(struct weft__carrier *c, int fd, const struct iovec *iov,
		       int n, off_t off, size_t done)
{
	struct iovec small[SMALL_IOV], *rest = small;
	size_t want = total(iov, n);
	int first;

	if (n > SMALL_IOV &&
	    !(rest = WEFT_ALLOC(alloc_iov, malloc(n * sizeof(*rest)))))
		return done;
	memcpy(rest, iov, n * sizeof(*rest));
	first = advance(rest, n, done);
	while (done < want && first < n) {
		off_t at = off < 0 ? off : off + (off_t)done;
		ssize_t r = TRY_SYS(
			preadv2(fd, rest + first, n - first, at, RWF_NOWAIT));

		if (r == -EAGAIN || r == -EOPNOTSUPP)
			r = ring_readv(weft__carrier_self(), fd, rest + first,
				       n - first, at < 0 ? CUR : (uint64_t)at,
				       false);
		if (r <= 0)
			break;
		done += r;
		first += advance(rest + first, n - first, r);
	}
	if (rest != small)
		free(rest);
	return done;
}

/* off < 0: the file position. */
static ssize_t readv_known(struct weft__carrier *c, int fd,
			   const struct iovec *iov, int n, off_t off,
			   unsigned know)
{
	bool recv = recv_like(iov, n, off, know);
	ssize_t r;

	if (recv)
		r = TRY_SYS(recvfrom(fd, iov->iov_base, clamp(iov->iov_len),
				     MSG_DONTWAIT, NULL, NULL));
	else
		r = TRY_SYS(preadv2(fd, iov, n, off, RWF_NOWAIT));
	if (r == -EAGAIN || r == -EOPNOTSUPP) {
		if (r == -EAGAIN && nonblocking(fd, know))
			return r;
		return ring_readv(c, fd, iov, n, off < 0 ? CUR : (uint64_t)off,
				  recv);
	}
	if (r > 0 && !(know & STREAM) && (size_t)r < total(iov, n) &&
	    file_like(fd, know))
		r = read_on(c, fd, iov, n, off, r);
	return r;
}

/*
 * ENOTSOCK from a read made a recv: the shim's entry for fd outlived its
 * socket (closed and made again where the shim could not see, as fclose
 * and fopen do), and the read is made again knowing nothing of the fd.
 * The same for a write made a send.  A stale entry costs time, never a
 * result.
 */
static bool stale_socket(ssize_t r, unsigned know)
{
	return r == -ENOTSOCK && (know & SOCKET);
}

static ssize_t readv_body(int fd, const struct iovec *iov, int n, off_t off,
			  unsigned know)
{
	struct weft__carrier *c = vthread_carrier();
	ssize_t r;
	CHECKPOINT(c);

	if (!c)
		return WEFT_SYS(preadv2(fd, iov, n, off, 0));
	r = readv_known(c, fd, iov, n, off, know);
	if (stale_socket(r, know)) /* a migratable thread may have moved */
		r = readv_known(vthread_carrier(), fd, iov, n, off, 0);
	return r;
}

static ssize_t do_readv(int fd, const struct iovec *iov, int n, off_t off,
			unsigned know)
{
	return tsan_fd_acquire(fd, readv_body(fd, iov, n, off, know));
}

ssize_t weft_read(int fd, void *buf, size_t len)
{
	struct iovec v = { buf, len };

	return do_readv(fd, &v, 1, -1, 0);
}

ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt)
{
	return do_readv(fd, iov, iovcnt, -1, 0);
}

ssize_t weft_pread(int fd, void *buf, size_t len, off_t off)
{
	struct iovec v = { buf, len };

	if (off < 0)
		return -EINVAL;
	return do_readv(fd, &v, 1, off, 0);
}

/* ---- writes ---- */

/*
 * One step of a blocking write: try without blocking, then the ring.
 * send_flags >= 0 makes it a sendmsg with those flags.
 */
static ssize_t write_step(struct weft__carrier *c, int fd, struct iovec *iov,
			  int n, off_t off, int send_flags, unsigned know)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };
	struct io_uring_sqe *sqe;
	ssize_t r;

	if (off < 0 && (send_flags < 0 || !(send_flags & MSG_DONTWAIT)) &&
	    ring_first(c, know))
		r = -EAGAIN; /* as if the try would block: to the ring */
	else if (send_flags >= 0 && n == 1)
		r = TRY_SYS(sendto(fd, iov->iov_base, iov->iov_len,
				   send_flags | MSG_DONTWAIT | MSG_NOSIGNAL,
				   NULL, 0));
	else if (send_flags >= 0)
		r = TRY_SYS(sendmsg(fd, &m,
				    send_flags | MSG_DONTWAIT | MSG_NOSIGNAL));
	else
		r = TRY_SYS(pwritev2(fd, iov, n, off, RWF_NOWAIT));
	if (r != -EAGAIN && r != -EOPNOTSUPP)
		return r;
	if (r == -EAGAIN && ((send_flags >= 0 && (send_flags & MSG_DONTWAIT)) ||
			     nonblocking(fd, know)))
		return r;
	sqe = weft__ring_sqe(c);
	if (send_flags >= 0 && n == 1)
		io_uring_prep_send(sqe, fd, iov->iov_base, clamp(iov->iov_len),
				   send_flags);
	else if (send_flags >= 0)
		io_uring_prep_sendmsg(sqe, fd, &m, send_flags);
	else if (n == 1)
		io_uring_prep_write(sqe, fd, iov->iov_base, clamp(iov->iov_len),
				    off < 0 ? CUR : (uint64_t)off);
	else
		io_uring_prep_writev(sqe, fd, iov, n,
				     off < 0 ? CUR : (uint64_t)off);
	return weft__ring_wait(c, sqe);
}

/*
 * A write that made progress and goes on: on a socket of a kind the
 * caller did not say, it goes on as a send with no flags (which is what
 * a write of a stream socket is), so that it asks for MSG_NOSIGNAL: the
 * ring's write would raise SIGPIPE when the peer goes now, where write(2)
 * returns what it wrote and raises nothing.  (A socket that writes in
 * parts is a stream: a SOCK_SEQPACKET one writes whole or not at all.)
 */
static bool is_socket(int fd)
{
	struct stat st;

	return WEFT_SYS(fstat(fd, &st)) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * Write all of iov (a copy we may change) on a virtual thread: the sum of
 * what was written, or the error if nothing was.
 */
static ssize_t write_all(int fd, struct iovec *iov, int n, off_t off,
			 int send_flags, unsigned know)
{
	size_t want = total(iov, n), done = 0;
	/* Has the fd's kind been looked up (or is it known)? */
	bool asked = know & (STREAM | FILE_LIKE);
	int first = 0;

	do {
		/* after a wait, a migratable thread may be elsewhere */
		ssize_t r = write_step(vthread_carrier(), fd, iov + first,
				       n - first,
				       off < 0 ? off : off + (off_t)done,
				       send_flags, know);

		if (r < 0 && done)
			return done;
		if (r < 0)
			return send_flags >= 0 ? sent(r, send_flags) : r;
		done += r;
		/* MSG_DONTWAIT asks for one try, as a non-blocking fd does. */
		if (r == 0 || done >= want ||
		    (send_flags >= 0 && (send_flags & MSG_DONTWAIT)))
			break;
		first += advance(iov + first, n - first, r);
		if (!asked && send_flags < 0 && off < 0) {
			asked = true;
			if (is_socket(fd))
				send_flags = 0;
		}
	} while (first < n);
	return done;
}

static ssize_t do_writev(int fd, const struct iovec *iov, int n, off_t off,
			 int send_flags, unsigned know)
{
	struct weft__carrier *c = vthread_carrier();
	struct iovec small[SMALL_IOV], *copy = small;
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = n };
	ssize_t r;
	CHECKPOINT(c);

	tsan_fd_release(fd);
	/* A bad count fails at once, with the system call's own errno. */
	if (!c || n < 0 || n > IOV_MAX) {
		if (send_flags >= 0)
			return WEFT_SYS(sendmsg(fd, &m, send_flags));
		return WEFT_SYS(pwritev2(fd, iov, n, off, 0));
	}
	if (n > SMALL_IOV &&
	    !(copy = WEFT_ALLOC(alloc_iov, malloc(n * sizeof(*copy)))))
		return -ENOMEM;
	memcpy(copy, iov, n * sizeof(*copy));
	/* A write of one buffer to such a socket is a send with no flags. */
	if (send_flags < 0 && recv_like(iov, n, off, know)) {
		r = write_all(fd, copy, n, off, 0, know);
		if (stale_socket(r, know)) /* nothing written: copy as it was */
			r = write_all(fd, copy, n, off, -1, 0);
	} else {
		r = write_all(fd, copy, n, off, send_flags, know);
	}
	if (copy != small)
		free(copy);
	return r;
}

ssize_t weft_write(int fd, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };

	return do_writev(fd, &v, 1, -1, -1, 0);
}

ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return do_writev(fd, iov, iovcnt, -1, -1, 0);
}

ssize_t weft_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = { (void *)buf, len };

	if (off < 0)
		return -EINVAL;
	return do_writev(fd, &v, 1, off, -1, 0);
}

/* ---- sockets ---- */

/*
 * plain: a recv, whose caller wants no message flags, name or control
 * data back (msg holds one buffer and nothing else), so it is recvfrom,
 * and IORING_OP_RECV in the ring, which copy no msghdr.
 */
static ssize_t try_recv(int fd, struct msghdr *msg, int flags, bool plain)
{
	if (plain)
		return TRY_SYS(recvfrom(fd, msg->msg_iov->iov_base,
					msg->msg_iov->iov_len, flags, NULL,
					NULL));
	return TRY_SYS(recvmsg(fd, msg, flags));
}

static ssize_t recvmsg_body(int fd, struct msghdr *msg, int flags,
			    unsigned know, bool plain)
{
	struct weft__carrier *c = vthread_carrier();
	struct io_uring_sqe *sqe;
	ssize_t r;
	CHECKPOINT(c);

	if (!c)
		return WEFT_SYS(recvmsg(fd, msg, flags));
	/* MSG_WAITALL wants all of it: the ring waits for the rest. */
	if (!(flags & MSG_WAITALL) || nonblocking(fd, know)) {
		r = try_recv(fd, msg, flags | MSG_DONTWAIT, plain);
		if (r != -EAGAIN || (flags & MSG_DONTWAIT) ||
		    nonblocking(fd, know))
			return r;
	}
	sqe = weft__ring_sqe(c);
	if (plain)
		io_uring_prep_recv(sqe, fd, msg->msg_iov->iov_base,
				   clamp(msg->msg_iov->iov_len), flags);
	else
		io_uring_prep_recvmsg(sqe, fd, msg, flags);
	r = weft__ring_wait(c, sqe);
	if (r >= 0) {
		filled(msg->msg_iov, msg->msg_iovlen, r);
		weft__vg_defined(msg->msg_name, msg->msg_namelen);
		weft__vg_defined(msg->msg_control, msg->msg_controllen);
	}
	return r;
}

static ssize_t do_recvmsg(int fd, struct msghdr *msg, int flags, unsigned know,
			  bool plain)
{
	return tsan_fd_acquire(fd, recvmsg_body(fd, msg, flags, know, plain));
}

static ssize_t do_recv(int fd, void *buf, size_t len, int flags, unsigned know)
{
	struct iovec v = { buf, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	return do_recvmsg(fd, &m, flags, know, true);
}

ssize_t weft_recv(int fd, void *buf, size_t len, int flags)
{
	return do_recv(fd, buf, len, flags, 0);
}

ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags)
{
	return do_recvmsg(fd, msg, flags, 0, false);
}

ssize_t weft_send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec v = { (void *)buf, len };

	return do_writev(fd, &v, 1, -1, flags & ~MSG_WAITALL, 0);
}

static ssize_t do_sendmsg(int fd, const struct msghdr *msg, int flags,
			  unsigned know)
{
	struct weft__carrier *c = vthread_carrier();
	struct io_uring_sqe *sqe;
	ssize_t r;
	CHECKPOINT(c);

	/* Bad arguments fail at once, with the system call's own errno. */
	if (!c || !msg || msg->msg_iovlen > IOV_MAX)
		return WEFT_SYS(sendmsg(fd, msg, flags));
	tsan_fd_release(fd);
	/* With a name or control data, one message: no partial retries. */
	if (msg->msg_name || msg->msg_controllen) {
		r = TRY_SYS(
			sendmsg(fd, msg, flags | MSG_DONTWAIT | MSG_NOSIGNAL));
		if (r != -EAGAIN || (flags & MSG_DONTWAIT) ||
		    nonblocking(fd, know))
			return sent(r, flags);
		sqe = weft__ring_sqe(c);
		io_uring_prep_sendmsg(sqe, fd, msg, flags);
		return sent(weft__ring_wait(c, sqe), flags);
	}
	return do_writev(fd, msg->msg_iov, msg->msg_iovlen, -1, flags, know);
}

ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return do_sendmsg(fd, msg, flags, 0);
}

ssize_t weft__impl_readv(int fd, const struct iovec *iov, int n, off_t off,
			 unsigned know)
{
	return do_readv(fd, iov, n, off, know);
}

ssize_t weft__impl_writev(int fd, const struct iovec *iov, int n, off_t off,
			  unsigned know)
{
	return do_writev(fd, iov, n, off, -1, know);
}

ssize_t weft__impl_recvmsg(int fd, struct msghdr *msg, int flags, unsigned know)
{
	return do_recvmsg(fd, msg, flags, know, false);
}

ssize_t weft__impl_recv(int fd, void *buf, size_t len, int flags, unsigned know)
{
	return do_recv(fd, buf, len, flags, know);
}

ssize_t weft__impl_sendmsg(int fd, const struct msghdr *msg, int flags,
			   unsigned know)
{
	return do_sendmsg(fd, msg, flags, know);
}

int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	struct weft__carrier *c = vthread_carrier();
	struct io_uring_sqe *sqe;
	int r;
	CHECKPOINT(c);

	if (!c || nonblocking(fd, 0))
		return WEFT_SYS(accept4(fd, addr, addrlen, flags));
	sqe = weft__ring_sqe(c);
	io_uring_prep_accept(sqe, fd, addr, addrlen, flags);
	r = weft__ring_wait(c, sqe);
	if (r >= 0 && addr && addrlen) {
		weft__vg_defined(addrlen, sizeof(*addrlen));
		weft__vg_defined(addr, *addrlen);
	}
	return tsan_fd_acquire(r, r);
}

int weft_connect(int fd, const struct sockaddr *addr, socklen_t addrlen)
{
	struct weft__carrier *c = vthread_carrier();
	struct io_uring_sqe *sqe;
	CHECKPOINT(c);

	if (!c || nonblocking(fd, 0))
		return WEFT_SYS(connect(fd, addr, addrlen));
	tsan_fd_release(fd);
	sqe = weft__ring_sqe(c);
	io_uring_prep_connect(sqe, fd, addr, addrlen);
	return weft__ring_wait(c, sqe);
}

/* ---- the rest ---- */

int weft_poll(int fd, short events)
{
	struct weft__carrier *c = vthread_carrier();
	struct pollfd p = { .fd = fd, .events = events };
	struct io_uring_sqe *sqe;
	int r;
	CHECKPOINT(c);

	if (fd < 0)
		return -EBADF; /* poll(2) would ignore it and wait forever */
	r = WEFT_SYS(poll(&p, 1, 0));
	if (r != 0 || !c) {
		if (r == 0)
			r = WEFT_SYS(poll(&p, 1, -1));
		return r < 0 ? r : p.revents;
	}
	sqe = weft__ring_sqe(c);
	io_uring_prep_poll_add(sqe, fd, (unsigned short)events);
	r = weft__ring_wait(c, sqe);
	return r == -EBADF ? POLLNVAL : r;
}

#define IO(prep, plain)                                       \
	do {                                                  \
		struct weft__carrier *c_ = vthread_carrier(); \
		struct io_uring_sqe *sqe;                     \
                                                              \
		CHECKPOINT(c_);                               \
		if (!c_)                                      \
			return WEFT_SYS(plain);               \
		sqe = weft__ring_sqe(c_);                     \
		prep;                                         \
		return weft__ring_wait(c_, sqe);              \
	} while (0)

int weft_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!path)
		return -EFAULT; /* as openat(2); glibc's is declared nonnull */
	IO(io_uring_prep_openat(sqe, dirfd, path, flags, mode),
	   openat(dirfd, path, flags, mode));
}

/* Not a cancellation point: close always closes. */
int weft_close(int fd)
{
	struct weft__carrier *c = vthread_carrier();
	struct io_uring_sqe *sqe;

	if (weft__impl_own_fd(fd))
		return -EBADF; /* not the program's: as if not open */
	if (!c)
		return WEFT_SYS(close(fd));
	sqe = weft__ring_sqe(c);
	io_uring_prep_close(sqe, fd);
	return weft__ring_wait_close(c, sqe);
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
	int r;

	if (deadline < 0)
		return -EINVAL;
	CHECKPOINT(vthread_carrier());
	weft__waiter_init(&w);
	w.kind = WEFT__WAIT_ALWAYS;
	w.note.on = WEFT__ON_SLEEP;
	r = weft__waiter_wait_cancel(&w, deadline);
	/* Its own deadline is no error; one of a scope is. */
	if (r == -ETIMEDOUT && weft__now() >= deadline)
		r = checkpoint(vthread_carrier());
	return r;
}

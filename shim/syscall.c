/* SPDX-License-Identifier: MIT */
/*
 * syscall() itself.  C++'s atomic wait, Rust's std (Mutex, Condvar,
 * park) and others wait on futexes through libc's syscall(): on a
 * virtual thread FUTEX_WAIT and FUTEX_WAIT_BITSET park the thread
 * (lib/futex.c), and FUTEX_WAKE and FUTEX_WAKE_BITSET, from any thread,
 * wake virtual threads and kernel threads alike.  A wait the kernel
 * would refuse (a bad timeout, op or mask) goes to the kernel, which
 * refuses it at once, so errors are its own; a bad pointer to the
 * timeout faults here instead of failing with EFAULT.
 *
 * The blocking calls a program may make this way are routed, on a
 * virtual thread, to the shim's own wrappers of the same calls, which
 * have the same arguments and results (-1 and errno): read, write,
 * their vectored and positioned kin, accept, connect, the recvs and
 * sends, poll, ppoll, select, pselect6, epoll_wait, epoll_pwait,
 * epoll_pwait2, nanosleep, clock_nanosleep, futex_waitv.  So are the
 * calls that make, change and close fds, which keep the fd table
 * current.  None of them is a cancellation point here: syscall() is not.
 * ppoll and pselect6 write the time left back, as the system calls do
 * and the libc wrappers do not.  With a signal mask, and for every other
 * number, the call passes straight through (variadic: six longs, as
 * glibc's syscall() reads them).
 */
#include "pt.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define NS 1000000000LL
#define WAITV_MAX 128 /* the kernel's FUTEX_WAITV_MAX */

#ifndef SYS_futex_waitv
#define SYS_futex_waitv 449
#endif
#ifndef SYS_epoll_pwait2
#define SYS_epoll_pwait2 441
#endif

static bool valid_ts(const struct timespec *ts)
{
	return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < NS;
}

/* What the kernel does with a timed wait's timeout, as a deadline. */
static int64_t rel_deadline(const struct timespec *ts)
{
	return ts ? weft_now() + weft__ts_ns(ts) : -1;
}

static int64_t abs_deadline(clockid_t clock, const struct timespec *ts)
{
	return ts ? weft__deadline(clock, ts) : -1;
}

/* FUTEX_WAIT(_BITSET) on a virtual thread; -ENOSYS: let the kernel. */
static long futex_wait(const long *a)
{
	uint32_t *word = (uint32_t *)a[0];
	int op = (int)a[1], cmd = op & FUTEX_CMD_MASK;
	const struct timespec *ts = (const void *)a[3];
	bool rt = op & FUTEX_CLOCK_REALTIME;
	uint32_t mask = (uint32_t)a[5];
	int64_t d;

	if (cmd == FUTEX_WAIT && !rt)
		mask = FUTEX_BITSET_MATCH_ANY;
	else if (cmd != FUTEX_WAIT_BITSET)
		return -ENOSYS;
	if (((uintptr_t)word & 3) || !mask || (ts && !valid_ts(ts)))
		return -ENOSYS;
	d = cmd == FUTEX_WAIT ?
		    rel_deadline(ts) :
		    abs_deadline(rt ? CLOCK_REALTIME : CLOCK_MONOTONIC, ts);
	return weft__impl_futex_wait(word, (uint32_t)a[2], mask,
				     !(op & FUTEX_PRIVATE_FLAG), d);
}

static long futex(const long *a)
{
	int op = (int)a[1], cmd = op & FUTEX_CMD_MASK;
	bool shared = !(op & FUTEX_PRIVATE_FLAG);
	uint32_t mask = (uint32_t)a[5];
	long r;

	if (cmd == FUTEX_WAKE || cmd == FUTEX_WAKE_BITSET) {
		if (cmd == FUTEX_WAKE)
			mask = FUTEX_BITSET_MATCH_ANY;
		if ((op & FUTEX_CLOCK_REALTIME) || ((uintptr_t)a[0] & 3) ||
		    !mask)
			return -ENOSYS;
		return weft__impl_futex_wake((uint32_t *)a[0], (int)a[2], mask,
					     shared);
	}
	if (!weft__on_vthread())
		return -ENOSYS;
	r = futex_wait(a);
	return r;
}

struct waitv {
	uint64_t val, uaddr;
	uint32_t flags, reserved;
};

static long futex_waitv(const long *a)
{
	const struct timespec *ts = (const void *)a[3];
	clockid_t clock = (clockid_t)a[4];
	long r;

	if (!weft__on_vthread() || a[2] || !a[0] || !a[1] ||
	    (unsigned long)a[1] > WAITV_MAX)
		return -ENOSYS;
	if (ts && (!valid_ts(ts) ||
		   (clock != CLOCK_MONOTONIC && clock != CLOCK_REALTIME)))
		return -ENOSYS;
	r = weft__impl_futex_waitv((void *)a[0], (unsigned)a[1],
				   abs_deadline(clock, ts));
	return r == -EOPNOTSUPP ? -ENOSYS : r;
}

/* The time left of a timeout that ran from start, as the kernel says. */
static void time_left(struct timespec *ts, int64_t end)
{
	int64_t left = end - weft_now();

	if (left < 0)
		left = 0;
	*ts = (struct timespec){ left / NS, left % NS };
}

static long ppoll_call(const long *a)
{
	struct timespec *ts = (void *)a[2];
	int64_t end = ts && valid_ts(ts) ? rel_deadline(ts) : -1;
	bool back = ts && (ts->tv_sec || ts->tv_nsec);
	long r = ppoll((void *)a[0], (nfds_t)a[1], ts, NULL);

	if (back && end >= 0 && (r >= 0 || errno == EINTR))
		time_left(ts, end);
	return r;
}

/* pselect6's last argument: a mask and its size, or NULL. */
struct sigmask6 {
	const sigset_t *ss;
	size_t len;
};

static long pselect6_call(const long *a)
{
	struct timespec *ts = (void *)a[4];
	int64_t end = ts && valid_ts(ts) ? rel_deadline(ts) : -1;
	bool back = ts && (ts->tv_sec || ts->tv_nsec);
	long r = pselect((int)a[0], (void *)a[1], (void *)a[2], (void *)a[3],
			 ts, NULL);

	if (back && end >= 0 && (r >= 0 || errno == EINTR))
		time_left(ts, end);
	return r;
}

/* clock_nanosleep returns its error; syscall() sets errno. */
static long clock_nanosleep_call(const long *a)
{
	int r = clock_nanosleep((clockid_t)a[0], (int)a[1], (void *)a[2],
				(void *)a[3]);

	return r ? (errno = r, -1) : 0;
}

/* Does the call with these arguments go to the shim's wrapper? */
static bool routed(long nr, const long *a)
{
	const struct sigmask6 *m;

	switch (nr) {
	case SYS_ppoll:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return !a[3 + (nr != SYS_ppoll)]; /* no signal mask */
	case SYS_pselect6:
		m = (const void *)a[5];
		return !m || !m->ss;
	default:
		return true;
	}
}

/* The call on a virtual thread, as its wrapper makes it; false: none. */
static bool wrapper(long nr, const long *a, long *ret)
{
	long r;

	switch (nr) {
	case SYS_read:
		r = read((int)a[0], (void *)a[1], (size_t)a[2]);
		break;
	case SYS_write:
		r = write((int)a[0], (void *)a[1], (size_t)a[2]);
		break;
	case SYS_readv:
		r = readv((int)a[0], (void *)a[1], (int)a[2]);
		break;
	case SYS_writev:
		r = writev((int)a[0], (void *)a[1], (int)a[2]);
		break;
	case SYS_pread64:
		r = pread((int)a[0], (void *)a[1], (size_t)a[2], a[3]);
		break;
	case SYS_pwrite64:
		r = pwrite((int)a[0], (void *)a[1], (size_t)a[2], a[3]);
		break;
	case SYS_preadv: /* 64-bit: the offset is whole in its low word */
		r = preadv((int)a[0], (void *)a[1], (int)a[2], a[3]);
		break;
	case SYS_pwritev:
		r = pwritev((int)a[0], (void *)a[1], (int)a[2], a[3]);
		break;
	case SYS_recvfrom:
		r = recvfrom((int)a[0], (void *)a[1], (size_t)a[2], (int)a[3],
			     (void *)a[4], (void *)a[5]);
		break;
	case SYS_sendto:
		r = sendto((int)a[0], (void *)a[1], (size_t)a[2], (int)a[3],
			   (void *)a[4], (socklen_t)a[5]);
		break;
	case SYS_recvmsg:
		r = recvmsg((int)a[0], (void *)a[1], (int)a[2]);
		break;
	case SYS_sendmsg:
		r = sendmsg((int)a[0], (void *)a[1], (int)a[2]);
		break;
	case SYS_accept:
		r = accept((int)a[0], (void *)a[1], (void *)a[2]);
		break;
	case SYS_accept4:
		r = accept4((int)a[0], (void *)a[1], (void *)a[2], (int)a[3]);
		break;
	case SYS_connect:
		r = connect((int)a[0], (void *)a[1], (socklen_t)a[2]);
		break;
#ifdef SYS_poll
	case SYS_poll:
		r = poll((void *)a[0], (nfds_t)a[1], (int)a[2]);
		break;
#endif
	case SYS_ppoll:
		r = ppoll_call(a);
		break;
#ifdef SYS_select
	case SYS_select:
		r = select((int)a[0], (void *)a[1], (void *)a[2], (void *)a[3],
			   (void *)a[4]);
		break;
#endif
	case SYS_pselect6:
		r = pselect6_call(a);
		break;
#ifdef SYS_epoll_wait
	case SYS_epoll_wait:
		r = epoll_wait((int)a[0], (void *)a[1], (int)a[2], (int)a[3]);
		break;
#endif
	case SYS_epoll_pwait:
		r = epoll_wait((int)a[0], (void *)a[1], (int)a[2], (int)a[3]);
		break;
	case SYS_epoll_pwait2:
		r = epoll_pwait2((int)a[0], (void *)a[1], (int)a[2],
				 (void *)a[3], NULL);
		break;
	case SYS_nanosleep:
		r = nanosleep((void *)a[0], (void *)a[1]);
		break;
	case SYS_clock_nanosleep:
		r = clock_nanosleep_call(a);
		break;
	case SYS_sched_yield:
		r = sched_yield();
		break;
	case SYS_close:
		r = close((int)a[0]);
		break;
	case SYS_close_range:
		r = close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
		break;
#ifdef SYS_open
	case SYS_open:
		r = open((void *)a[0], (int)a[1], (mode_t)a[2]);
		break;
#endif
#ifdef SYS_creat
	case SYS_creat:
		r = creat((void *)a[0], (mode_t)a[1]);
		break;
#endif
	case SYS_openat:
		r = openat((int)a[0], (void *)a[1], (int)a[2], (mode_t)a[3]);
		break;
	case SYS_dup:
		r = dup((int)a[0]);
		break;
#ifdef SYS_dup2
	case SYS_dup2:
		r = dup2((int)a[0], (int)a[1]);
		break;
#endif
	case SYS_dup3:
		r = dup3((int)a[0], (int)a[1], (int)a[2]);
		break;
	case SYS_fcntl:
		r = fcntl((int)a[0], (int)a[1], a[2]);
		break;
	case SYS_ioctl:
		r = ioctl((int)a[0], (unsigned long)a[1], a[2]);
		break;
	case SYS_socket:
		r = socket((int)a[0], (int)a[1], (int)a[2]);
		break;
	case SYS_socketpair:
		r = socketpair((int)a[0], (int)a[1], (int)a[2], (void *)a[3]);
		break;
#ifdef SYS_pipe
	case SYS_pipe:
		r = pipe((void *)a[0]);
		break;
#endif
	case SYS_pipe2:
		r = pipe2((void *)a[0], (int)a[1]);
		break;
	default:
		return false;
	}
	*ret = r;
	return true;
}

/*
 * A raw exit ends the virtual thread, not its carrier.  Natively nothing
 * else runs; here the thread's key and thread_local destructors do, as
 * its TLS is reused (lib/tls.c).
 */
static __attribute__((noreturn)) void thread_exit(void)
{
	weft__pt_end(weft__pt_self(), NULL, true);
	weft__impl_exit();
}

WEFT_EXPORT long syscall(long nr, ...)
{
	struct weft__pthread *pt;
	va_list ap;
	long a[6], r;
	bool ok;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_futex) {
		r = futex(a);
		if (r != -ENOSYS)
			return weft__posix(r);
	} else if (nr == SYS_futex_waitv) {
		r = futex_waitv(a);
		if (r != -ENOSYS)
			return weft__posix(r);
	} else if (nr == SYS_seccomp) {
		return weft__seccomp(a);
	} else if (weft__on_vthread() && routed(nr, a)) {
		if (nr == SYS_exit)
			thread_exit();
		pt = weft__pt_self();
		pt->nopoint++;
		ok = wrapper(nr, a, &r);
		pt->nopoint--;
		if (ok)
			return r;
	}
	return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

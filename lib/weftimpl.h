/* SPDX-License-Identifier: MIT */
/*
 * What only the shim needs from the runtime, beyond weft.h: parking on a
 * raw SQE, a per-thread slot, the kind of the caller.  Like libdill's
 * libdillimpl.h: internal, hidden, never installed.
 */
#ifndef WEFT_IMPL_H
#define WEFT_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>

#include "weft.h"

#define WEFT_IMPL __attribute__((visibility("hidden")))

/*
 * weft_main() for a program that does not know it runs on weft: SIGINT
 * and SIGTERM keep their native meaning.
 */
WEFT_IMPL intptr_t weft__impl_main(intptr_t (*fn)(void *), void *arg);

/*
 * Async-signal-safe: have carrier 0's scheduler, which takes the
 * process's signals, call fn() soon, outside any virtual thread.  One fn
 * at a time: the shim's.
 */
WEFT_IMPL void weft__impl_defer(void (*fn)(void));

/*
 * A signal handler ran: fail t's blocking call with EINTR if the native
 * call would fail (I/O: only without SA_RESTART, so restart says whether
 * the handler had it; sleeps, polls, sem_wait: always).  Not
 * async-signal-safe: call it from the function given to weft__impl_defer.
 */
WEFT_IMPL void weft__impl_signal_interrupt(struct weft_thread *t, bool restart);

/*
 * A handler left by siglongjmp for t, elsewhere: fail t's blocking call
 * as a handler without SA_RESTART would, or else the next it makes.
 * weft__impl_jump_landed(), on t, forgets it once the jump is taken.
 */
WEFT_IMPL void weft__impl_jump_interrupt(struct weft_thread *t);
WEFT_IMPL void weft__impl_jump_landed(void);

/*
 * Run fn(arg) on a kernel thread of the blocking pool while the calling
 * virtual thread parks (on a plain thread: here and now).  For calls
 * io_uring cannot make, such as getaddrinfo.  Not a cancellation point.
 */
WEFT_IMPL void weft__impl_blocking(void (*fn)(void *), void *arg);

/*
 * Is fd one of the runtime's own (a ring, an eventfd), which the program
 * must not close or dup onto?  The lowest at or above from, or -1.
 */
WEFT_IMPL bool weft__impl_own_fd(int fd);
WEFT_IMPL int weft__impl_next_own_fd(unsigned from);

/* Is the caller a virtual thread (not a plain thread, not a scheduler)? */
WEFT_IMPL bool weft__impl_in_vthread(void);

/*
 * The calling virtual thread leaves the runtime, staying on its kernel
 * thread for good, as a plain thread that keeps its slot: for a seccomp
 * filter, which holds for the kernel thread that installs it, and which
 * may kill the runtime's own calls.  false if the caller is not a
 * virtual thread.  weft__impl_rejoin() undoes it at once (the filter
 * failed); weft__impl_left() says whether the caller left.
 */
WEFT_IMPL bool weft__impl_leave(void);
WEFT_IMPL void weft__impl_rejoin(void);
WEFT_IMPL bool weft__impl_left(void);

/*
 * The calling virtual thread's one pointer-sized slot for the shim (its
 * pthread_t object, keys...); NULL on a plain thread.  Zero at spawn.
 */
WEFT_IMPL void **weft__impl_slot(void);

/*
 * An SQE on the calling virtual thread's ring, to prepare and pass to
 * weft__impl_wait() before any other weft call; NULL if the caller is
 * not a virtual thread.  Do not set user_data.
 */
WEFT_IMPL struct io_uring_sqe *weft__impl_sqe(void);

/*
 * Park until the SQE completes; its result.  With deadline >= 0 (absolute
 * CLOCK_MONOTONIC ns) a linked timeout cancels the operation then, and
 * -ETIME is returned if it had not completed; a completion that won the
 * race is returned as it is, so no data is lost.
 */
WEFT_IMPL int weft__impl_wait(struct io_uring_sqe *sqe, int64_t deadline);

/*
 * Park until one of fds[0..n) is ready for its events (POLLERR and
 * POLLHUP always count), or until deadline (absolute CLOCK_MONOTONIC ns;
 * < 0: none): one io_uring poll per entry with fd >= 0, the first
 * completion wins and the others are cancelled and reaped before it
 * returns.  Says only that something happened: ask poll(2) what.  0, or
 * -ETIMEDOUT, or -ENOMEM.  Only on a virtual thread.
 */
WEFT_IMPL int weft__impl_poll_any(const struct pollfd *fds, unsigned n,
				  int64_t deadline);

/*
 * What the shim's fd table knows of an fd, so that a blocking operation
 * need not ask the kernel: that it is a blocking one (no O_NONBLOCK), and
 * its kind: a stream (pipe, socket), whose read returns what is there, or
 * a file (regular file, block or character device), whose read is short
 * only at its end; and of a stream, that it is a socket whose read and
 * write are recv and send with no flags (not SOCK_SEQPACKET).  0: nothing
 * known.
 */
enum {
	WEFT_IMPL_FD_BLOCKING = 1,
	WEFT_IMPL_FD_STREAM = 2,
	WEFT_IMPL_FD_FILE = 4,
	WEFT_IMPL_FD_SOCKET = 8,
};

/*
 * weft_readv/pread/writev/pwrite/recvmsg/sendmsg with what is known of the
 * fd (off < 0: the file position); the same results, fewer system calls.
 */
WEFT_IMPL ssize_t weft__impl_readv(int fd, const struct iovec *iov, int n,
				   off_t off, unsigned know);
WEFT_IMPL ssize_t weft__impl_writev(int fd, const struct iovec *iov, int n,
				    off_t off, unsigned know);
WEFT_IMPL ssize_t weft__impl_recvmsg(int fd, struct msghdr *msg, int flags,
				     unsigned know);
WEFT_IMPL ssize_t weft__impl_recv(int fd, void *buf, size_t len, int flags,
				  unsigned know);
WEFT_IMPL ssize_t weft__impl_sendmsg(int fd, const struct msghdr *msg,
				     int flags, unsigned know);

/*
 * The stack of virtual thread t: its lowest usable byte (above the guard)
 * and its usable size, the control block at its top included.
 */
WEFT_IMPL void weft__impl_stack(const struct weft_thread *t, void **ret_lo,
				size_t *ret_size);

/*
 * futex(2)'s FUTEX_WAIT_BITSET on the calling virtual thread: park while
 * *word holds val until a wake whose mask meets mask, or until deadline
 * (absolute CLOCK_MONOTONIC ns; < 0: none).  shared: the word may be in
 * memory shared with other processes.  0 (woken, perhaps spuriously),
 * -EAGAIN (the word differed), -ETIMEDOUT, -EINTR (a signal handler,
 * as the kernel fails the wait: without a deadline only one lacking
 * SA_RESTART; or weft__impl_point_interrupt), -EINVAL, -EFAULT.  On a
 * plain thread, futex(2) itself.  See lib/futex.c.
 */
WEFT_IMPL int weft__impl_futex_wait(uint32_t *word, uint32_t val, uint32_t mask,
				    bool shared, int64_t deadline);

/*
 * FUTEX_WAKE_BITSET: wake up to n waiters of word, virtual or not, whose
 * mask meets mask; how many, or the kernel's -errno.
 */
WEFT_IMPL int weft__impl_futex_wake(uint32_t *word, int n, uint32_t mask,
				    bool shared);

/*
 * futex_waitv(2) (struct futex_waitv waiters[n]) on the calling virtual
 * thread, until deadline as above: the index of the futex woken, or as
 * the kernel fails it; -EOPNOTSUPP where the ring cannot (then call
 * futex_waitv(2) itself).
 */
WEFT_IMPL int weft__impl_futex_waitv(void *waiters, unsigned n,
				     int64_t deadline);

/*
 * pthread_cancel's cancellation points: the calling virtual thread says
 * when it enters and leaves one.  weft__impl_point_interrupt(t), from
 * any thread, fails with -EINTR the blocking call t is parked in inside
 * a point, or the next it makes there; outside a point it does nothing.
 */
WEFT_IMPL void weft__impl_point(bool in);

/*
 * Yield if the caller's carrier is stuck (monitor.c): a blocking call
 * that did not block may be a spin, which must let the threads parked on
 * its carrier run.  Does nothing elsewhere.
 */
WEFT_IMPL void weft__impl_preempt(void);
WEFT_IMPL void weft__impl_point_interrupt(struct weft_thread *t);

/*
 * The kernel thread t runs on: its carrier once it has run (it stays
 * there), else the caller's (plain threads: the caller itself).
 */
WEFT_IMPL pthread_t weft__impl_carrier_of(const struct weft_thread *t);

/*
 * Give every virtual thread spawned from now on TLS of its own (all
 * modules' __thread and thread_local variables, laid out as glibc lays
 * out a kernel thread's), or, unless always, only once a module other
 * than libc and the runtime has TLS (now, or loaded later).  Before the
 * runtime starts: 0, -ENOENT (not needed yet), -EOPNOTSUPP (this machine
 * cannot), -EBUSY.  See lib/tls.c.
 */
WEFT_IMPL int weft__impl_tls_private(bool always);

/*
 * Signal masks of their own for virtual threads (shim, before the
 * runtime starts): pthread_sigmask on one is weft__impl_sigmask, which
 * is -ENOSYS off a virtual thread or before this was called.  Inside a
 * handler the shim brackets the program's with handler_enter (during:
 * what the kernel blocks on top while it runs) and handler_exit (with
 * what enter returned).  See sched.c.
 */
WEFT_IMPL void weft__impl_masks_own(void);
WEFT_IMPL int weft__impl_sigmask(int how, const sigset_t *set, sigset_t *old);
/* Does t's mask block sig?  (A read of another thread's: a moment's.) */
WEFT_IMPL bool weft__impl_blocks(const struct weft_thread *t, int sig);
WEFT_IMPL uint64_t weft__impl_handler_enter(const sigset_t *during);
/*
 * Before handler_enter, a handler that would run on no thread (the
 * carrier's scheduler) may borrow t for its run, if t cannot run
 * elsewhere meanwhile: non-NULL if lent, to give to lend_end after.
 */
WEFT_IMPL void *weft__impl_lend(struct weft_thread *t);
/* The thread the process's signals are for (main), or NULL: see sched.c. */
WEFT_IMPL void weft__impl_signals_for(struct weft_thread *t);
/*
 * weft_thread_spawn() for the program's main: from a virtual thread, it
 * starts on the spawner's carrier and stays there (under the shim, carrier
 * 0, which takes the process's signals; see weft__impl_lend).
 */
WEFT_IMPL int weft__impl_spawn_home(struct weft_thread **ret_thread,
				    intptr_t (*fn)(void *), void *arg,
				    const struct weft_spawn_attr *attr);
WEFT_IMPL void weft__impl_lend_end(void *tp);
WEFT_IMPL void weft__impl_handler_exit(uint64_t before);

/* Does the calling virtual thread have TLS of its own? */
WEFT_IMPL bool weft__impl_tls_own(void);

/*
 * The caller's copy of the main program's TLS block (its own on such a
 * virtual thread) and its size; NULL if none or not per thread.
 */
WEFT_IMPL void *weft__impl_tls_block(size_t *ret_size);

/*
 * End the calling virtual thread here, as if its function had returned
 * 0 (pthread_exit).  Only on a virtual thread.
 */
WEFT_IMPL __attribute__((noreturn)) void weft__impl_exit(void);

#endif

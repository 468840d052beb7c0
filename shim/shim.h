/* SPDX-License-Identifier: MIT */
/* What every file of the shim shares: exports, the errno edge, identity. */
#ifndef WEFT_SHIM_H
#define WEFT_SHIM_H

/*
 * The shim defines open, pread, fcntl... under their own names: with
 * _FILE_OFFSET_BITS=64 glibc's headers would rename them to open64 & co.
 * On 64-bit targets both names are the same function anyway.
 */
#undef _FILE_OFFSET_BITS

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "internal.h" /* hidden, likely, WEFT_SYS */
#include "weftimpl.h"
#include "real.h"

/* An interposed libc symbol: unversioned, so it binds every version. */
#define WEFT_EXPORT __attribute__((visibility("default")))

/*
 * Another name for the interposed function fn, with fn's attributes too
 * (gcc's copy, so that -Wmissing-attributes has nothing to say; clang
 * has no such attribute and no such warning).
 */
#if defined(__clang__)
#define WEFT_ALIAS_OF(fn) __attribute__((alias(#fn)))
#else
#define WEFT_ALIAS_OF(fn) __attribute__((alias(#fn), copy(fn)))
#endif

/* The one POSIX edge: a negative errno becomes -1 and errno. */
static inline long weft__posix(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* signal.c: a wait with a signal mask, on a virtual thread. */
struct weft__masked {
	sigset_t mask, old, in; /* the call's; the thread's before; to take */
	struct pollfd p;	/* a signalfd of in, to wait on too, or -1 */
};
hidden void weft__masked_begin(struct weft__masked *m, const sigset_t *mask);
hidden bool weft__masked_take(struct weft__masked *m);
hidden void weft__masked_end(struct weft__masked *m);

/* signal.c: in a signal handler of the program's, on this kernel thread. */
hidden extern __thread unsigned weft__in_handler
	__attribute__((tls_model("initial-exec")));

/* Is the caller a virtual thread of this process's runtime? */
static inline bool weft__on_vthread(void)
{
	return likely(!weft__in_handler) && weft__impl_in_vthread();
}

/* cancel.c */
/*
 * Cancellation points: a virtual thread's call runs between
 * weft__point_enter(), which acts on a pending cancellation (and does
 * not return then), and weft__point_leave(entered, interrupted), which
 * acts on one that interrupted the call (interrupted: it failed with
 * EINTR and did nothing).
 */
hidden bool weft__point_enter_slow(void);
hidden void weft__point_leave_slow(bool interrupted);

static inline bool weft__point_enter(void)
{
	return weft__on_vthread() && weft__point_enter_slow();
}

static inline void weft__point_leave(bool entered, bool interrupted)
{
	int e = errno;

	if (entered) {
		weft__point_leave_slow(interrupted);
		errno = e;
	}
}
/* The body of a cancellation point whose call returns -1 and errno. */
#define WEFT_POINT(type, call)                                    \
	do {                                                      \
		bool in_ = weft__point_enter();                   \
		type r_ = (call);                                 \
                                                                  \
		weft__point_leave(in_, r_ < 0 && errno == EINTR); \
		return r_;                                        \
	} while (0)

/*
 * The same for a write of want bytes: a blocking write that wrote less
 * was cut short, by a cancellation if one is pending (as glibc 2.36
 * acts on a cancellation that comes while the write blocks, whatever it
 * wrote so far; the bytes are written either way).
 */
#define WEFT_POINT_WRITE(type, call, want)                                    \
	do {                                                                  \
		bool in_ = weft__point_enter();                               \
		type r_ = (call);                                             \
                                                                              \
		weft__point_leave(in_, r_ < 0 ? errno == EINTR :              \
						(size_t)r_ < (size_t)(want)); \
		return r_;                                                    \
	} while (0)

static inline size_t weft__iov_len(const struct iovec *iov, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* pthread.c: the caller's identity, as pthread_self() gives it. */
hidden uintptr_t weft__shim_self(void);

/* time.c: an absolute time on clock into weft's monotonic ns; -EINVAL. */
hidden int64_t weft__deadline(clockid_t clock, const struct timespec *abs);
hidden int64_t weft__ts_ns(const struct timespec *ts);
/* The same for the timed waits of pthreads and semaphores, as glibc's. */
hidden int64_t weft__wait_deadline(clockid_t clock, const struct timespec *abs);

#endif

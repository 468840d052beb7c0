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
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "internal.h" /* hidden, likely, WEFT_SYS */
#include "weftimpl.h"
#include "real.h"

/* An interposed libc symbol: unversioned, so it binds every version. */
#define WEFT_EXPORT __attribute__((visibility("default")))

/* The one POSIX edge: a negative errno becomes -1 and errno. */
static inline long weft__posix(long r)
{
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* signal.c: in a signal handler of the program's, on this kernel thread. */
hidden extern __thread unsigned weft__in_handler
	__attribute__((tls_model("initial-exec")));

/* Is the caller a virtual thread of this process's runtime? */
static inline bool weft__on_vthread(void)
{
	return likely(!weft__in_handler) && weft__impl_in_vthread();
}

/* pthread.c: the caller's identity, as pthread_self() gives it. */
hidden uintptr_t weft__shim_self(void);

/* time.c: an absolute time on clock into weft's monotonic ns; -EINVAL. */
hidden int64_t weft__deadline(clockid_t clock, const struct timespec *abs);
hidden int64_t weft__ts_ns(const struct timespec *ts);

#endif

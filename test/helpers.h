/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests. */
#ifndef WEFT_TEST_HELPERS_H
#define WEFT_TEST_HELPERS_H

#include <errno.h>
#include <stdint.h>
#include <weft.h>

#include "config.h"

#define T_MS 1000000LL
#define T_SEC 1000000000LL

/*
 * ThreadSanitizer runs code several times slower, keeps at most 8128
 * threads and fibers (virtual threads) alive at once, and cannot start
 * threads in a child forked from a threaded process: tests that count on
 * speed, on tens of thousands of live threads, or on a fresh runtime in a
 * fork child scale their figures or skip under it.
 */
#if WEFT_TSAN
#define T_SLOW 10
#define T_MAX_LIVE 4000
#else
#define T_SLOW 1
#define T_MAX_LIVE 1000000
#endif
#define T_MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * For a test whose fork child starts threads (its monitor is one), with
 * the parent's threads running.  ThreadSanitizer cannot start them.  GCC
 * 12's AddressSanitizer has no fork handler (google/sanitizers#774): the
 * child inherits its allocator's locks as the parent's other threads held
 * them (a carrier or the monitor starting, Criterion's own thread), and
 * hangs at its first malloc of that size (a few runs in a hundred did
 * here, the child's monitor stuck in pthread_getattr_np's free).  Natively
 * glibc's malloc holds its locks across fork.  A Criterion test only.
 */
#define T_SKIP_THREADED_FORK()                                              \
	do {                                                                \
		if (WEFT_TSAN)                                              \
			cr_skip_test("TSan: no new thread in a threaded "   \
				     "fork child");                         \
		if (WEFT_ASAN)                                              \
			cr_skip_test("ASan: its allocator's locks are not " \
				     "fork-safe");                          \
	} while (0)

/* Kernel threads of this process, from /proc/self/status. */
int t_kernel_threads(void);
int t_kernel_threads_back_to(int want);
/* Mappings of this process, from /proc/self/maps. */
int t_mappings(void);
/* Open fds of this process, from /proc/self/fd. */
int t_open_fds(void);
/* A connected TCP pair on 127.0.0.1; 0 or -errno. */
int t_tcp_pair(int fds[2]);
/* A listening TCP socket on 127.0.0.1 with an ephemeral port. */
int t_listener(int *ret_port);
/* Spawn fn(arg) and join it from a plain thread; the thread's value. */
intptr_t t_run(intptr_t (*fn)(void *), void *arg);
/* Virtual threads not yet ended, as the runtime counts them. */
unsigned t_live(void);

#endif

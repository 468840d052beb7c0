/* SPDX-License-Identifier: MIT */
/* Helpers every module of lib/ uses: visibility, branch hints, checks. */
#ifndef WEFT_INTERNAL_H
#define WEFT_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <sys/syscall.h>

#include "config.h"
#include "fault.h"

#define hidden __attribute__((visibility("hidden")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a)-1) & ~((uintptr_t)(a)-1))

/* Invariants stay checked in release builds: a broken one is a weft bug. */
#define WEFT_BUG_ON(cond)                                     \
	do {                                                  \
		if (unlikely(cond))                           \
			weft__bug(__FILE__, __LINE__, #cond); \
	} while (0)

hidden __attribute__((noreturn, cold)) void
weft__bug(const char *file, int line, const char *what);
/* Print "weft: <msg>" on stderr with one write(2); no stdio, no malloc. */
hidden __attribute__((format(printf, 1, 2))) void weft__msg(const char *fmt,
							    ...);

static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/*
 * A system call by number, never through syscall(), which the shim
 * interposes: -errno on failure, errno untouched (sys.c).
 */
hidden long weft__sys(long nr, long a, long b, long c, long d, long e, long f);

/*
 * One turn of a spin-wait for another kernel thread: a pause, and every
 * 128th turn the CPU itself, in case that thread was preempted (a small
 * or shared machine, valgrind running one thread at a time).
 */
static inline void weft__spin_turn(unsigned *turns)
{
	if (++*turns % 128)
		weft__cpu_relax();
	else /* the shim's sched_yield would switch virtual threads */
		weft__sys(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
}

/* Call a libc function at the system call edge: -errno, errno untouched. */
#define WEFT_SYS(call)                  \
	({                              \
		int saved_ = errno;     \
		long r_ = (long)(call); \
		if (r_ < 0) {           \
			r_ = -errno;    \
			errno = saved_; \
		}                       \
		r_;                     \
	})

/*
 * Memory the kernel filled through the ring, which valgrind cannot see:
 * mark it defined, so that memcheck runs stay meaningful.
 *
 * ThreadSanitizer cannot see it either.  That makes no false report (a
 * race takes two accesses it saw), but it would miss a buffer that
 * another thread touches while the ring reads into it: so the range is
 * also written, for TSan, by the thread the read returns to, as TSan's
 * own read(2) interceptor does.
 */
#if WEFT_TSAN
void __tsan_write_range(void *addr, long size); /* gcc's builtin type */
#define weft__tsan_filled(p, n) __tsan_write_range((void *)(p), (long)(n))
#else
#define weft__tsan_filled(p, n) ((void)(p), (void)(n))
#endif
#if WEFT_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#define weft__vg_defined(p, n) \
	(VALGRIND_MAKE_MEM_DEFINED(p, n), weft__tsan_filled(p, n))
#else
#define weft__vg_defined(p, n) weft__tsan_filled(p, n)
#endif

/*
 * A test-and-test-and-set spinlock for the few-instruction critical
 * sections of the wait queues.  Holders never park or call the kernel.
 */
struct weft_spin {
	atomic_uint v;
};

static inline void weft__spin_lock(struct weft_spin *s)
{
	unsigned turns = 0;

	for (;;) {
		if (!atomic_exchange_explicit(&s->v, 1, memory_order_acquire))
			return;
		while (atomic_load_explicit(&s->v, memory_order_relaxed))
			weft__spin_turn(&turns);
	}
}

static inline void weft__spin_unlock(struct weft_spin *s)
{
	atomic_store_explicit(&s->v, 0, memory_order_release);
}

#endif

/* SPDX-License-Identifier: MIT */
/* The system call edge: the one place lib/ reads errno. */
#include <linux/futex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime.h"

/*
 * A system call made here, never through syscall(): under the shim that
 * one is interposed (shim/syscall.c) and may park the caller, which the
 * runtime's own futexes and messages must not.  -errno on failure.
 */
long weft__sys(long nr, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__)
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
			   "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
#elif defined(__aarch64__)
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;

	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
#error "weft__sys: x86_64 and aarch64 only"
#endif
}

int64_t weft__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Wait while *word == val, until woken or until the absolute monotonic
 * deadline (< 0: none).  0 when woken or the word changed, -ETIMEDOUT,
 * -EINTR.  FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time.
 */
int weft__futex_wait(atomic_uint *word, unsigned val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;
	long r;

	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	r = weft__sys(SYS_futex, (long)word, FUTEX_WAIT_BITSET_PRIVATE, val,
		      (long)tsp, 0, FUTEX_BITSET_MATCH_ANY);
	return r == -EAGAIN ? 0 : (int)r;
}

void weft__futex_wake(atomic_uint *word, int n)
{
	weft__sys(SYS_futex, (long)word, FUTEX_WAKE_PRIVATE, n, 0, 0, 0);
}

void weft__msg(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	memcpy(buf, "weft: ", 6);
	va_start(ap, fmt);
	n = vsnprintf(buf + 6, sizeof(buf) - 7, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	n += 6;
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	buf[n++] = '\n';
	/* Not write(): under the shim that may be a ring operation. */
	weft__sys(SYS_write, STDERR_FILENO, (long)buf, n, 0, 0, 0);
}

void weft__bug(const char *file, int line, const char *what)
{
	weft__msg("BUG at %s:%d: %s", file, line, what);
	abort();
}

/*
 * Read an unsigned decimal from the environment.  Garbage or a value out
 * of [min, max] gets one line naming the variable and -EINVAL; unset or
 * empty gives dflt.
 */
int weft__env_uint(const char *name, unsigned min, unsigned max, unsigned dflt,
		   unsigned *ret)
{
	const char *s = getenv(name);
	unsigned long v;
	char *end;

	if (!s || !*s) {
		*ret = dflt;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v < min || v > max) {
		weft__msg("%s=\"%s\" is not a number from %u to %u", name, s,
			  min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/*
 * Drepper's three-state futex mutex (0 free, 1 held, 2 held and
 * contended), for the runtime's start/stop and stack slabs: pthread's
 * mutex may be the shim's own emulation, so the runtime never uses it.
 */
void weft__lock(struct weft__lock *l)
{
	unsigned c = 0;

	if (atomic_compare_exchange_strong(&l->v, &c, 1))
		return;
	if (c != 2)
		c = atomic_exchange(&l->v, 2);
	while (c != 0) {
		weft__futex_wait(&l->v, 2, -1);
		c = atomic_exchange(&l->v, 2);
	}
}

void weft__unlock(struct weft__lock *l)
{
	if (atomic_exchange(&l->v, 0) == 2)
		weft__futex_wake(&l->v, 1);
}

/* SPDX-License-Identifier: MIT */
/*
 * Sleeps: on a virtual thread, a timer in the carrier's heap instead of
 * a blocked carrier.  Also the conversion of POSIX absolute times into
 * weft's one time, CLOCK_MONOTONIC nanoseconds.
 */
#include "shim.h"

#include <limits.h>

#define NS 1000000000LL

/* A timespec as nanoseconds; -EINVAL if it is not a valid one. */
int64_t weft__ts_ns(const struct timespec *ts)
{
	if (ts->tv_nsec < 0 || ts->tv_nsec >= NS || ts->tv_sec < 0)
		return -EINVAL;
	if (ts->tv_sec >= INT64_MAX / NS - 1)
		return INT64_MAX / 2; /* forever, with room to add to */
	return ts->tv_sec * NS + ts->tv_nsec;
}

static int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

/*
 * An absolute time on CLOCK_REALTIME or CLOCK_MONOTONIC as a monotonic
 * deadline (never below 0, which weft takes as "already passed").  A
 * realtime deadline is converted once: a later step of the wall clock is
 * not followed.
 */
int64_t weft__deadline(clockid_t clock, const struct timespec *abs)
{
	int64_t ns = weft__ts_ns(abs), d;

	if (ns < 0)
		return ns;
	if (clock == CLOCK_MONOTONIC)
		return ns;
	if (clock != CLOCK_REALTIME)
		return -EINVAL;
	d = weft_now() + (ns - clock_ns(CLOCK_REALTIME));
	return d < 0 ? 0 : d;
}

/*
 * The deadline of a pthread or semaphore timed wait, as glibc takes its
 * time: a clock other than these two, or a bad tv_nsec, is -EINVAL; a
 * time before 1970 has passed (the kernel would refuse it).
 */
int64_t weft__wait_deadline(clockid_t clock, const struct timespec *abs)
{
	if ((clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) ||
	    abs->tv_nsec < 0 || abs->tv_nsec >= NS)
		return -EINVAL;
	return abs->tv_sec < 0 ? 0 : weft__deadline(clock, abs);
}

/*
 * Sleep ns from now: 0, or -EINTR when a signal handler interrupted it,
 * with the time that remained in *rem if rem is not NULL.
 */
static int sleep_ns(int64_t ns, struct timespec *rem)
{
	int64_t end = weft_now() + ns, left;
	int r = weft_sleep_until(end);

	if (r != -EINTR)
		return 0;
	if (rem) {
		left = end - weft_now();
		if (left < 0)
			left = 0;
		*rem = (struct timespec){ left / NS, left % NS };
	}
	return r;
}

static int do_nanosleep(const struct timespec *req, struct timespec *rem)
{
	int64_t ns;

	if (!weft__on_vthread())
		return REAL(nanosleep)(req, rem);
	ns = weft__ts_ns(req);
	if (ns < 0)
		return weft__posix(ns);
	return weft__posix(sleep_ns(ns, rem));
}

WEFT_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	WEFT_POINT(int, do_nanosleep(req, rem));
}

/* clock_nanosleep returns its error; it does not set errno. */
static int do_clock_nanosleep(clockid_t clock, int flags,
			      const struct timespec *req, struct timespec *rem)
{
	int64_t ns;

	if (!weft__on_vthread() ||
	    (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC))
		return REAL(clock_nanosleep)(clock, flags, req, rem);
	if (flags & TIMER_ABSTIME) {
		ns = weft__deadline(clock, req);
		if (ns < 0)
			return EINVAL;
		return weft_sleep_until(ns) == -EINTR ? EINTR : 0;
	}
	ns = weft__ts_ns(req);
	if (ns < 0)
		return EINVAL;
	return -sleep_ns(ns, rem);
}

WEFT_EXPORT int clock_nanosleep(clockid_t clock, int flags,
				const struct timespec *req,
				struct timespec *rem)
{
	bool in = weft__point_enter();
	int r = do_clock_nanosleep(clock, flags, req, rem);

	weft__point_leave(in, r == EINTR);
	return r;
}

static int do_usleep(useconds_t us)
{
	if (!weft__on_vthread())
		return REAL(usleep)(us);
	return weft__posix(sleep_ns((int64_t)us * 1000, NULL));
}

WEFT_EXPORT int usleep(useconds_t us)
{
	WEFT_POINT(int, do_usleep(us));
}

WEFT_EXPORT unsigned sleep(unsigned s)
{
	struct timespec rem;
	bool in;
	int r;

	if (!weft__on_vthread())
		return REAL(sleep)(s);
	in = weft__point_enter();
	r = sleep_ns((int64_t)s * NS, &rem);
	weft__point_leave(in, r == -EINTR);
	return r ? (unsigned)rem.tv_sec : 0;
}

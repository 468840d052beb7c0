/* SPDX-License-Identifier: MIT */
/*
 * Sandboxes.  A seccomp filter, set with prctl(PR_SET_SECCOMP) or
 * seccomp(2), holds for the kernel thread that sets it (and the threads
 * it creates after), and a sandbox's filter kills or fails every call it
 * does not list: io_uring_enter, the fd table's fcntl, the carrier's
 * wake-ups.  So a virtual thread that sets one first leaves the runtime,
 * staying on its carrier's kernel thread for good as a plain thread
 * (lib/impl.c): from then on its calls are the program's own, straight
 * through, and it blocks its kernel thread as the native thread would.
 * Threads the filter does not cover go on as virtual threads on the other
 * carriers, as natively they go on unfiltered.  If the filter is refused
 * the thread stays on the runtime.
 *
 * What this cannot give: a thread that left and ends takes its kernel
 * thread with it (SYS_exit: the runtime's own calls may be denied), so a
 * carrier is lost and the thread cannot be joined; threads pinned to
 * that carrier wait for good; and SECCOMP_FILTER_FLAG_TSYNC, which
 * filters every thread of the process, filters the carriers too.  The
 * common sandbox, a process that forks a child to filter, has one
 * thread there, and none of this comes up.
 */
#include "pt.h"

#include <linux/seccomp.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* nr with a[], off the runtime if it may set a filter on this thread. */
static long sandboxed(long nr, const long *a, bool filters)
{
	bool left = filters && weft__on_vthread() && weft__impl_leave();
	long r = weft__sys(nr, a[0], a[1], a[2], a[3], a[4], a[5]);

	if (left && r < 0)
		weft__impl_rejoin();
	return r;
}

/* prctl(2) is variadic: five longs, as glibc's reads them. */
WEFT_EXPORT int prctl(int option, ...)
{
	long a[6] = { option };
	va_list ap;

	va_start(ap, option);
	for (int i = 1; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return (int)weft__posix(
		sandboxed(SYS_prctl, a, option == PR_SET_SECCOMP));
}

/* syscall(SYS_seccomp, ...): glibc 2.36 has no seccomp() of its own. */
long weft__seccomp(const long *a)
{
	return weft__posix(sandboxed(SYS_seccomp, a,
				     a[0] == SECCOMP_SET_MODE_STRICT ||
					     a[0] == SECCOMP_SET_MODE_FILTER));
}

/* SPDX-License-Identifier: MIT */
/*
 * The other glibc calls that take a pthread_t and would read a virtual
 * thread's struct weft__pthread as glibc's struct pthread (its kernel
 * thread id first of all): CPU affinity, scheduling policy and priority,
 * the CPU-time clock, queued signals.  A virtual thread has no kernel
 * thread of its own, so each gets the closest native behaviour:
 *
 * - Affinity and scheduling parameters are checked as the kernel checks
 *   them and recorded on the thread, which reads them back, but they do
 *   not move it: it shares its carrier with others, and the runtime has
 *   no priorities.  Until they are set, the thread reports its
 *   carrier's, as a new kernel thread reports its creator's.
 * - The CPU-time clock is its carrier's (once it has run, a thread stays
 *   on its carrier): it counts the time of every thread run there.
 * - pthread_sigqueue delivers the value with the signal, as pthread_kill
 *   delivers a signal (signal.c).
 *
 * On a plain thread's pthread_t, glibc's own.  Like every interposed
 * name, these bind all the versions a binary may reference, which for
 * the affinity calls includes GLIBC_2.3.3's, whose two arguments lacked
 * the set's size: binaries of that glibc (2004) would misbehave.
 */
#include "pt.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* The kernel thread a virtual thread runs on, as glibc's pthread_t. */
static pthread_t carrier(struct weft__pthread *pt)
{
	return weft__impl_carrier_of(weft__pt_thread(pt));
}

WEFT_EXPORT int pthread_getcpuclockid(pthread_t th, clockid_t *ret)
{
	if (!weft__pt_ours(th))
		return REAL(pthread_getcpuclockid)(th, ret);
	return REAL(pthread_getcpuclockid)(carrier((void *)th), ret);
}

WEFT_EXPORT int pthread_sigqueue(pthread_t th, int sig, const union sigval v)
{
	if (!weft__pt_ours(th))
		return REAL(pthread_sigqueue)(th, sig, v);
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	if (sig == 0)
		return 0;
	return weft__signal_thread((void *)th, sig, &v);
}

/* ---- affinity ---- */

WEFT_EXPORT int pthread_setaffinity_np(pthread_t th, size_t size,
				       const cpu_set_t *set)
{
	struct weft__pthread *pt = (void *)th;
	cpu_set_t *allowed, *copy;
	size_t n = size < CPU_ALLOC_SIZE(CPU_SETSIZE) ?
			   CPU_ALLOC_SIZE(CPU_SETSIZE) :
			   size;
	bool any = false;
	int r;

	if (!weft__pt_ours(th))
		return REAL(pthread_setaffinity_np)(th, size, set);
	/* As the kernel: the set must hold a CPU the thread may run on. */
	allowed = calloc(1, n);
	copy = malloc(size ? size : 1);
	if (!allowed || !copy) {
		free(allowed);
		free(copy);
		return ENOMEM;
	}
	r = REAL(pthread_getaffinity_np)(carrier(pt), n, allowed);
	for (size_t i = 0; !r && i < size * 8; i++)
		if (CPU_ISSET_S(i, size, set) && CPU_ISSET_S(i, n, allowed))
			any = true;
	free(allowed);
	if (r || !any) {
		free(copy);
		return r ? r : EINVAL;
	}
	memcpy(copy, set, size);
	free(pt->affinity);
	pt->affinity = copy;
	pt->affinity_size = size;
	return 0;
}

WEFT_EXPORT int pthread_getaffinity_np(pthread_t th, size_t size,
				       cpu_set_t *set)
{
	struct weft__pthread *pt = (void *)th;
	int r;

	if (!weft__pt_ours(th))
		return REAL(pthread_getaffinity_np)(th, size, set);
	/* The kernel's checks of size, and the set the carrier may use. */
	r = REAL(pthread_getaffinity_np)(carrier(pt), size, set);
	if (r || !pt->affinity)
		return r;
	for (size_t i = 0; i < size * 8; i++)
		if (i >= pt->affinity_size * 8 ||
		    !CPU_ISSET_S(i, pt->affinity_size, pt->affinity))
			CPU_CLR_S(i, size, set);
	return 0;
}

/* ---- scheduling ---- */

/* What sched_setscheduler(2) says of policy and priority, as an errno. */
static int check_sched(int policy, int priority)
{
	struct rlimit rl;
	int lo, hi;

	policy &= ~SCHED_RESET_ON_FORK;
	if (policy != SCHED_OTHER && policy != SCHED_BATCH &&
	    policy != SCHED_IDLE && policy != SCHED_FIFO && policy != SCHED_RR)
		return EINVAL;
	lo = sched_get_priority_min(policy);
	hi = sched_get_priority_max(policy);
	if (lo < 0 || hi < 0 || priority < lo || priority > hi)
		return EINVAL;
	if ((policy == SCHED_FIFO || policy == SCHED_RR) && geteuid() != 0 &&
	    (getrlimit(RLIMIT_RTPRIO, &rl) || rl.rlim_cur < (rlim_t)priority))
		return EPERM;
	return 0;
}

WEFT_EXPORT int pthread_setschedparam(pthread_t th, int policy,
				      const struct sched_param *param)
{
	struct weft__pthread *pt = (void *)th;
	int r;

	if (!weft__pt_ours(th))
		return REAL(pthread_setschedparam)(th, policy, param);
	r = check_sched(policy, param->sched_priority);
	if (r)
		return r;
	pt->policy = policy & ~SCHED_RESET_ON_FORK;
	pt->priority = param->sched_priority;
	pt->sched_set = true;
	return 0;
}

WEFT_EXPORT int pthread_getschedparam(pthread_t th, int *policy,
				      struct sched_param *param)
{
	struct weft__pthread *pt = (void *)th;

	if (!weft__pt_ours(th))
		return REAL(pthread_getschedparam)(th, policy, param);
	if (!pt->sched_set)
		return REAL(pthread_getschedparam)(carrier(pt), policy, param);
	*policy = pt->policy;
	memset(param, 0, sizeof(*param));
	param->sched_priority = pt->priority;
	return 0;
}

WEFT_EXPORT int pthread_setschedprio(pthread_t th, int priority)
{
	struct weft__pthread *pt = (void *)th;
	struct sched_param p;
	int policy, r;

	if (!weft__pt_ours(th))
		return REAL(pthread_setschedprio)(th, priority);
	r = pthread_getschedparam(th, &policy, &p);
	if (r)
		return r;
	r = check_sched(policy, priority);
	if (r)
		return r;
	pt->policy = policy;
	pt->priority = priority;
	pt->sched_set = true;
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * pthread_create and friends on virtual threads.
 *
 * A virtual thread's pthread_t points to a struct weft__pthread; a plain
 * kernel thread's is glibc's own.  Calls made on a plain thread, or on a
 * glibc pthread_t, go to glibc; that is how the runtime's own carriers
 * are created and joined.
 */
/*
 * When optimising, glibc's pthread.h defines pthread_equal inline; clang
 * then drops the visibility of the definition below (an attribute after
 * a definition), leaving it unexported.  Give glibc's copy another name.
 */
#define pthread_equal glibc_pthread_equal
#include <pthread.h>
#undef pthread_equal
#include "pt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME "pthread"

bool weft__pt_ours(pthread_t th)
{
	const struct weft__pthread *pt = (const void *)th;

	return pt && pt->magic == PT_MAGIC;
}

void weft__pt_free(struct weft__pthread *pt)
{
	free(pt->affinity);
	free(pt);
}

struct weft__pthread *weft__pt_new(void *(*fn)(void *), void *arg)
{
	struct weft__pthread *pt =
		WEFT_ALLOC(shim_pthread, calloc(1, sizeof(*pt)));

	if (pt) {
		pt->magic = PT_MAGIC;
		pt->fn = fn;
		pt->arg = arg;
	}
	return pt;
}

struct weft__pthread *weft__pt_self(void)
{
	void **slot = weft__impl_slot();

	if (!slot)
		return NULL;
	if (!*slot) { /* a virtual thread not made by pthread_create */
		*slot = weft__pt_new(NULL, NULL);
		if (!*slot)
			abort();
		atomic_init(&((struct weft__pthread *)*slot)->state,
			    PT_DETACHED);
	}
	return *slot;
}

uintptr_t weft__shim_self(void)
{
	struct weft__pthread *pt = weft__pt_self();

	return pt ? (uintptr_t)pt : (uintptr_t)REAL(pthread_self)();
}

/*
 * Timed joins wait for any thread's end on one condition variable, which
 * an ending thread signals only while someone waits: the waiter counts
 * itself in before it looks at the state, the thread publishes its state
 * before it looks at the count (both sequentially consistent), so one of
 * them always sees the other.
 */
static struct weft_mutex ends_lock = WEFT_MUTEX_INIT;
static struct weft_cond ends = WEFT_COND_INIT;
static atomic_uint timed_joiners;

static void tell_timed_joiners(void)
{
	if (!atomic_load(&timed_joiners))
		return;
	weft_mutex_lock(&ends_lock);
	weft_cond_broadcast(&ends);
	weft_mutex_unlock(&ends_lock);
}

void weft__pt_end(struct weft__pthread *pt, void *ret, bool keys)
{
	unsigned s = PT_RUNNING;

	pt->ret = ret;
	if (keys) { /* as glibc: thread_locals, then keys */
		weft__tls_end();
		weft__keys_exit(pt);
	}
	weft__signal_forget(pt);
	weft__robust_died((uintptr_t)pt);
	if (!atomic_compare_exchange_strong(&pt->state, &s, PT_EXITED))
		weft__pt_free(pt); /* detached: nobody else holds it */
	else
		tell_timed_joiners();
}

static intptr_t entry(void *arg)
{
	struct weft__pthread *pt = arg;

	*weft__impl_slot() = pt;
	weft__pt_end(pt, pt->fn(pt->arg), true);
	if (weft__impl_left()) /* sandboxed: see sandbox.c */
		weft__impl_exit();
	return 0;
}

int weft__pt_start(struct weft__pthread *pt, size_t stack_size, bool detached,
		   bool home)
{
	struct weft_spawn_attr a = {
		.stack_size = stack_size < 16384 ? 16384 : stack_size,
		.flags = detached ? WEFT_SPAWN_DETACHED : 0,
		.name = NAME,
	};

	atomic_init(&pt->state, detached ? PT_DETACHED : PT_RUNNING);
	if (home)
		return weft__impl_spawn_home(&pt->t, entry, pt, &a);
	return weft_thread_spawn(&pt->t, entry, pt, &a);
}

/* glibc's default stack size: RLIMIT_STACK, or what the program set. */
static size_t default_stack(void)
{
	size_t size = 0;
	pthread_attr_t a;

	if (pthread_getattr_default_np(&a) == 0) {
		pthread_attr_getstacksize(&a, &size);
		pthread_attr_destroy(&a);
	}
	return size ? size : 8 << 20;
}

WEFT_EXPORT int pthread_create(pthread_t *ret, const pthread_attr_t *attr,
			       void *(*fn)(void *), void *arg)
{
	struct weft__pthread *pt;
	size_t size = 0;
	int detach = PTHREAD_CREATE_JOINABLE, r;

	if (!weft__on_vthread())
		return REAL(pthread_create)(ret, attr, fn, arg);
	if (attr) {
		pthread_attr_getstacksize(attr, &size);
		pthread_attr_getdetachstate(attr, &detach);
	}
	pt = weft__pt_new(fn, arg);
	if (!pt)
		return EAGAIN;
	*ret = (pthread_t)pt;
	r = weft__pt_start(pt, size ? size : default_stack(),
			   detach == PTHREAD_CREATE_DETACHED, false);
	if (r < 0) {
		free(pt);
		return r == -EINVAL ? EINVAL : EAGAIN;
	}
	return 0;
}

/*
 * Wait for pt's end and reap it; point: as a cancellation point, which
 * only a cancellation interrupts.
 */
static int reap(struct weft__pthread *pt, void **ret, bool point)
{
	int r;

	do {
		bool in = point && weft__point_enter();

		r = weft_thread_join(pt->t, NULL);
		weft__point_leave(in, r == -EINTR);
	} while (r == -EINTR);
	if (r < 0)
		return -r;
	if (ret)
		*ret = pt->ret;
	weft__pt_free(pt);
	return 0;
}

WEFT_EXPORT int pthread_join(pthread_t th, void **ret)
{
	struct weft__pthread *pt = (void *)th;

	if (!weft__pt_ours(th))
		return REAL(pthread_join)(th, ret);
	if (pt == weft__pt_self())
		return EDEADLK;
	if (atomic_load(&pt->state) == PT_DETACHED)
		return EINVAL;
	return reap(pt, ret, true);
}

/* Wait until pt has ended or deadline (-1: none) passed; ETIMEDOUT. */
static int wait_end(struct weft__pthread *pt, int64_t deadline)
{
	int r = 0;

	atomic_fetch_add(&timed_joiners, 1);
	weft_mutex_lock(&ends_lock);
	while (atomic_load(&pt->state) == PT_RUNNING && r == 0)
		r = weft_cond_timedwait(&ends, &ends_lock, deadline);
	weft_mutex_unlock(&ends_lock);
	atomic_fetch_sub(&timed_joiners, 1);
	if (atomic_load(&pt->state) == PT_EXITED)
		return 0;
	return r == -EINTR ? EINTR : ETIMEDOUT; /* EINTR: a cancellation */
}

/* As glibc: the time is looked at only when the thread still runs. */
static int clockjoin(pthread_t th, void **ret, clockid_t clock,
		     const struct timespec *abs)
{
	struct weft__pthread *pt = (void *)th;
	int64_t d;
	int r;

	if (pt == weft__pt_self())
		return EDEADLK;
	if (atomic_load(&pt->state) == PT_DETACHED)
		return EINVAL;
	if (abs && atomic_load(&pt->state) == PT_RUNNING) {
		d = weft__wait_deadline(clock, abs);
		if (d < 0)
			return EINVAL;
		do {
			bool in = weft__point_enter();

			r = wait_end(pt, d);
			weft__point_leave(in, r == EINTR);
		} while (r == EINTR);
		if (r)
			return r;
	}
	return pthread_join(th, ret);
}

WEFT_EXPORT int pthread_tryjoin_np(pthread_t th, void **ret)
{
	struct weft__pthread *pt = (void *)th;

	if (!weft__pt_ours(th))
		return REAL(pthread_tryjoin_np)(th, ret);
	if (atomic_load(&pt->state) == PT_RUNNING)
		return EBUSY; /* itself included, as in glibc */
	if (atomic_load(&pt->state) == PT_DETACHED)
		return EINVAL;
	return reap(pt, ret, false);
}

WEFT_EXPORT int pthread_timedjoin_np(pthread_t th, void **ret,
				     const struct timespec *abs)
{
	if (!weft__pt_ours(th))
		return REAL(pthread_timedjoin_np)(th, ret, abs);
	return clockjoin(th, ret, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t clock,
				     const struct timespec *abs)
{
	if (!weft__pt_ours(th))
		return REAL(pthread_clockjoin_np)(th, ret, clock, abs);
	return clockjoin(th, ret, clock, abs);
}

WEFT_EXPORT int pthread_detach(pthread_t th)
{
	struct weft__pthread *pt = (void *)th;
	struct weft_thread *t;
	unsigned s = PT_RUNNING;

	if (!weft__pt_ours(th))
		return REAL(pthread_detach)(th);
	t = pt->t; /* once detached, pt may be freed by the thread */
	if (atomic_compare_exchange_strong(&pt->state, &s, PT_DETACHED))
		return -weft_thread_detach(t);
	if (s != PT_EXITED)
		return EINVAL;
	weft__pt_free(pt);
	return -weft_thread_detach(t);
}

WEFT_EXPORT void pthread_exit(void *ret)
{
	struct weft__pthread *pt = weft__pt_self();

	if (!pt || weft__in_handler) {
		REAL(pthread_exit)(ret);
		__builtin_unreachable();
	}
	weft__pt_exit(pt, ret);
}

WEFT_EXPORT pthread_t pthread_self(void)
{
	return (pthread_t)weft__shim_self();
}

WEFT_EXPORT int pthread_equal(pthread_t a, pthread_t b)
{
	return a == b;
}

/* ---- attributes, names, signals ---- */

/* The weft thread behind pt; NULL for one not made by pthread_create. */
struct weft_thread *weft__pt_thread(struct weft__pthread *pt)
{
	if (pt->t)
		return pt->t;
	return pt == weft__pt_self() ? weft_thread_self() : NULL;
}

/* What a native thread reports: its stack, guard and detach state. */
WEFT_EXPORT int pthread_getattr_np(pthread_t th, pthread_attr_t *attr)
{
	struct weft__pthread *pt = (void *)th;
	struct weft_thread *t;
	void *lo;
	size_t size;
	int r;

	if (!weft__pt_ours(th))
		return REAL(pthread_getattr_np)(th, attr);
	t = weft__pt_thread(pt);
	if (!t)
		return ESRCH;
	r = pthread_attr_init(attr);
	if (r)
		return r;
	weft__impl_stack(t, &lo, &size);
	pthread_attr_setstack(attr, lo, size);
	pthread_attr_setguardsize(attr, (size_t)sysconf(_SC_PAGESIZE));
	if (atomic_load(&pt->state) == PT_DETACHED)
		pthread_attr_setdetachstate(attr, PTHREAD_CREATE_DETACHED);
	return 0;
}

#define NAME_MAX_LEN 15 /* the kernel's TASK_COMM_LEN - 1 */

WEFT_EXPORT int pthread_setname_np(pthread_t th, const char *name)
{
	struct weft__pthread *pt = (void *)th;

	if (!weft__pt_ours(th))
		return REAL(pthread_setname_np)(th, name);
	if (strlen(name) > NAME_MAX_LEN)
		return ERANGE;
	strcpy(pt->name, name);
	return 0;
}

/* A thread never named has the name of the process, as natively. */
WEFT_EXPORT int pthread_getname_np(pthread_t th, char *buf, size_t len)
{
	struct weft__pthread *pt = (void *)th;
	char comm[NAME_MAX_LEN + 1];
	const char *name = pt->name;

	if (!weft__pt_ours(th))
		return REAL(pthread_getname_np)(th, buf, len);
	if (!*name) {
		snprintf(comm, sizeof(comm), "%s",
			 program_invocation_short_name);
		name = comm;
	}
	if (strlen(name) >= len)
		return ERANGE;
	strcpy(buf, name);
	return 0;
}

/*
 * A signal aimed at a virtual thread: at the caller itself its handler
 * runs at once; at another it goes to the process, as carriers other
 * than the main thread block asynchronous signals, and its handler then
 * interrupts the target (signal.c).  Signal 0 only asks whether the
 * thread exists.
 */
WEFT_EXPORT int pthread_kill(pthread_t th, int sig)
{
	struct weft__pthread *pt = (void *)th;

	if (!weft__pt_ours(th))
		return REAL(pthread_kill)(th, sig);
	if (sig < 0 || sig >= NSIG)
		return EINVAL;
	if (sig == 0)
		return 0;
	return weft__signal_thread(pt, sig, NULL);
}

/* A thread spinning on sched_yield must let its carrier's others run. */
WEFT_EXPORT int sched_yield(void)
{
	if (!weft__on_vthread())
		return REAL(sched_yield)();
	return weft_yield();
}

/* Old binaries still call pthread_yield; new headers rename it. */
WEFT_EXPORT int old_pthread_yield(void) __asm__("pthread_yield");

int old_pthread_yield(void)
{
	return sched_yield();
}

/* ---- once ---- */

/*
 * glibc's pthread_once_t values: 0 not yet, 1 running, 2 done.  The
 * runner may park, so waiters wait on a weft condition variable, not on
 * glibc's futex, which would block the carrier the runner needs.
 */
enum { ONCE_NEW = 0, ONCE_RUNNING = 1, ONCE_DONE = 2 };

static struct weft_mutex once_lock = WEFT_MUTEX_INIT;
static struct weft_cond once_done = WEFT_COND_INIT;

WEFT_EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	int v = __atomic_load_n(once, __ATOMIC_ACQUIRE);

	if (v == ONCE_DONE)
		return 0;
	weft_mutex_lock(&once_lock);
	while ((v = *once) == ONCE_RUNNING)
		weft_cond_wait(&once_done, &once_lock);
	if (v != ONCE_DONE)
		*once = ONCE_RUNNING;
	weft_mutex_unlock(&once_lock);
	if (v == ONCE_DONE)
		return 0;
	fn();
	weft_mutex_lock(&once_lock);
	__atomic_store_n(once, ONCE_DONE, __ATOMIC_RELEASE);
	weft_cond_broadcast(&once_done);
	weft_mutex_unlock(&once_lock);
	return 0;
}

/* The name libpthread exported before glibc 2.34 (see mutex.c). */
WEFT_EXPORT int __pthread_once(pthread_once_t *, void (*)(void))
	WEFT_ALIAS_OF(pthread_once);

/* SPDX-License-Identifier: MIT */
/*
 * pthread_cancel, pthread_exit's unwinding and the cleanup handlers, for
 * virtual threads.  glibc keeps all of it in its struct pthread, found
 * through the kernel thread's TLS, which under the shim is the carrier's:
 * so the shim keeps it in the thread's own struct weft__pthread.
 *
 * Cancellation is deferred, as POSIX has it by default.  pthread_cancel
 * sets cancel_req; the thread acts on it at the next cancellation point
 * (the interposed calls POSIX names: read, write, recv, send, accept,
 * connect, poll, select, epoll_wait, sleeps, open, close, fsync,
 * pthread_join, pthread_cond_*wait, sem_*wait, pthread_testcancel),
 * where it looks at cancel_req on entry.  One it is parked in is failed
 * with EINTR by the runtime (weft__impl_point_interrupt: a thread says
 * when it is in a point, and the canceller, having set cancel_req first,
 * interrupts only a wait inside one), and the point acts on it as it
 * returns, unless the call completed first: a byte read is never lost,
 * and the next point acts instead.  PTHREAD_CANCEL_ASYNCHRONOUS is
 * accepted and recorded but acts as deferred: the runtime cannot stop a
 * virtual thread at an arbitrary instruction (glibc does it with a
 * signal to the kernel thread, which here runs other threads too).
 *
 * Acting on a cancellation, and pthread_exit, unwind the thread's stack
 * as glibc does: _Unwind_ForcedUnwind (from libgcc_s, loaded on first
 * use, as glibc loads it) with a stop function, so C++ destructors and
 * catch (...) { throw; } blocks run, and C's __attribute__((cleanup)).
 * C's pthread_cleanup_push without -fexceptions is a sigsetjmp buffer
 * registered with __pthread_register_cancel: when the unwinding leaves
 * the frame that holds the innermost one, the stop function longjmps
 * into it, the macro runs the handler and calls __pthread_unwind_next,
 * which unwinds on from there to the next one.  At the outermost frame
 * of the thread's stack (lib/ctx_*.S marks it: no return address) the
 * thread ends as if its function had returned: key destructors run,
 * and a joiner reads PTHREAD_CANCELED or pthread_exit's value.
 *
 * Everything here passes to glibc on a plain thread.
 */
#include "pt.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * siglongjmp into a cleanup buffer, which is smaller than a sigjmp_buf
 * (its mask is never saved), declared as glibc's pthread.h declares
 * __sigsetjmp for it.
 */
extern void longjmp_cancel(struct __cancel_jmp_buf_tag *env,
			   int val) __asm__("siglongjmp")
	__attribute__((noreturn));

typedef _Unwind_Reason_Code forced_unwind_fn(struct _Unwind_Exception *,
					     _Unwind_Stop_Fn, void *);
typedef _Unwind_Word get_cfa_fn(struct _Unwind_Context *);

static forced_unwind_fn *_Atomic forced_unwind;
static get_cfa_fn *_Atomic get_cfa;

static __attribute__((noreturn)) void fatal(const char *msg)
{
	REAL(write)(STDERR_FILENO, msg, strlen(msg));
	abort();
}

/* As glibc, which needs libgcc_s for pthread_exit too. */
static void load_unwinder(void)
{
	void *h;

	if (atomic_load(&forced_unwind))
		return;
	h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
	if (h) {
		atomic_store(&get_cfa, dlsym(h, "_Unwind_GetCFA"));
		atomic_store(&forced_unwind, dlsym(h, "_Unwind_ForcedUnwind"));
	}
	if (!atomic_load(&forced_unwind) || !atomic_load(&get_cfa))
		fatal("libgcc_s.so.1 must be installed for pthread_exit to "
		      "work\n");
}

/* The caller's struct weft__pthread if it is a virtual thread. */
static struct weft__pthread *self(void)
{
	return weft__on_vthread() ? weft__pt_self() : NULL;
}

/* A catch (...) that does not rethrow ends here, as in glibc. */
static void not_rethrown(_Unwind_Reason_Code reason,
			 struct _Unwind_Exception *exc)
{
	fatal("FATAL: exception not rethrown\n");
}

/* The old API's handlers down to stop whose frames the unwinding left. */
static void old_cleanups(struct weft__pthread *pt,
			 struct _pthread_cleanup_buffer *stop, uintptr_t cfa,
			 bool all)
{
	struct _pthread_cleanup_buffer *c = pt->cleanup;

	while (c && c != stop && (all || cfa >= (uintptr_t)c)) {
		struct _pthread_cleanup_buffer *prev = c->__prev;

		pt->cleanup = prev;
		c->__routine(c->__arg);
		c = prev;
	}
}

/*
 * Called for every frame on the way up, before its cleanups run.  The
 * context's CFA is the stack pointer of the frame being unwound as it
 * was at its call: once it is above the buffer, the frame that holds the
 * buffer is the one just left, and the unwinding goes no further than
 * its longjmp.  (glibc compares with the buffer's saved stack pointer,
 * mangled in a way of each architecture's; the frame that did the
 * sigsetjmp is plain C without cleanups of its own, so one frame later
 * makes no difference.)
 */
static _Unwind_Reason_Code stop(int version, _Unwind_Action actions,
				_Unwind_Exception_Class cls,
				struct _Unwind_Exception *exc,
				struct _Unwind_Context *ctx, void *arg)
{
	struct weft__pthread *pt = container_of(exc, struct weft__pthread, exc);
	__pthread_unwind_buf_t *buf = arg;
	uintptr_t cfa = (uintptr_t)atomic_load(&get_cfa)(ctx);
	bool end = actions & _UA_END_OF_STACK;
	bool jump = buf && (end || cfa > (uintptr_t)buf);

	old_cleanups(pt, buf ? buf->__pad[1] : NULL, cfa, jump || end);
	if (jump)
		longjmp_cancel(buf->__cancel_jmp_buf, 1);
	if (end) {
		weft__pt_end(pt, pt->ret, true);
		weft__impl_exit();
	}
	return _URC_NO_REASON;
}

static __attribute__((noreturn)) void unwind(struct weft__pthread *pt,
					     __pthread_unwind_buf_t *buf)
{
	load_unwinder();
	memset(&pt->exc, 0, sizeof(pt->exc)); /* class 0: nobody's, as glibc */
	pt->exc.exception_cleanup = not_rethrown;
	atomic_load (&forced_unwind)(&pt->exc, stop, buf);
	fatal("weft: cannot unwind the thread's stack\n");
}

void weft__pt_exit(struct weft__pthread *pt, void *ret)
{
	pt->exiting = true; /* no more cancellations, as in glibc */
	pt->ret = ret;
	unwind(pt, pt->unwind_buf);
}

static __attribute__((noreturn)) void act(struct weft__pthread *pt)
{
	pt->in_call = false;
	pt->in_point = false;
	weft__impl_point(false);
	weft__pt_exit(pt, PTHREAD_CANCELED);
}

/*
 * Only the outermost call enters (a point may make another): it is the
 * one that may act on a cancellation, and the one a siglongjmp that a
 * handler on another thread made for this one lands from (jump.c).
 */
bool weft__point_enter_slow(void)
{
	struct weft__pthread *pt = weft__pt_self();

	if (pt->in_call)
		return false;
	weft__impl_preempt();
	weft__jump_pending(pt);
	pt->in_call = true;
	if (pt->nopoint || pt->exiting ||
	    pt->cancel_state != PTHREAD_CANCEL_ENABLE)
		return true;
	pt->in_point = true;
	weft__impl_point(true);
	/* Pairs with pthread_cancel: cancel_req, then the point. */
	if (atomic_load(&pt->cancel_req))
		act(pt);
	return true;
}

void weft__point_leave_slow(bool interrupted)
{
	struct weft__pthread *pt = weft__pt_self();

	pt->in_call = false;
	if (pt->in_point) {
		pt->in_point = false;
		weft__impl_point(false);
		if (interrupted && atomic_load(&pt->cancel_req))
			act(pt);
	}
	weft__jump_pending(pt);
}

WEFT_EXPORT int pthread_cancel(pthread_t th)
{
	struct weft__pthread *pt = (void *)th;
	struct weft_thread *t;

	if (!weft__pt_ours(th))
		return REAL(pthread_cancel)(th);
	atomic_store(&pt->cancel_req, 1);
	if (atomic_load(&pt->state) != PT_EXITED && (t = weft__pt_thread(pt)))
		weft__impl_point_interrupt(t);
	return 0;
}

WEFT_EXPORT void pthread_testcancel(void)
{
	if (!weft__on_vthread()) {
		REAL(pthread_testcancel)();
		return;
	}
	weft__point_leave(weft__point_enter(), false);
}

WEFT_EXPORT int pthread_setcancelstate(int state, int *old)
{
	struct weft__pthread *pt = self();

	if (!pt)
		return REAL(pthread_setcancelstate)(state, old);
	if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE)
		return EINVAL;
	if (old)
		*old = pt->cancel_state;
	pt->cancel_state = state;
	return 0;
}

/* Asynchronous cancellation is recorded, and acts as deferred. */
WEFT_EXPORT int pthread_setcanceltype(int type, int *old)
{
	struct weft__pthread *pt = self();

	if (!pt)
		return REAL(pthread_setcanceltype)(type, old);
	if (type != PTHREAD_CANCEL_DEFERRED &&
	    type != PTHREAD_CANCEL_ASYNCHRONOUS)
		return EINVAL;
	if (old)
		*old = pt->cancel_type;
	pt->cancel_type = type;
	return 0;
}

/* ---- cleanup handlers ---- */

/* The buffer's private words: glibc's are its own business too. */
enum { BUF_PREV, BUF_OLD_CLEANUP, BUF_TYPE };

WEFT_EXPORT void __pthread_register_cancel(__pthread_unwind_buf_t *buf)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(__pthread_register_cancel)(buf);
		return;
	}
	buf->__pad[BUF_PREV] = pt->unwind_buf;
	buf->__pad[BUF_OLD_CLEANUP] = pt->cleanup;
	pt->unwind_buf = buf;
}

WEFT_EXPORT void __pthread_unregister_cancel(__pthread_unwind_buf_t *buf)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(__pthread_unregister_cancel)(buf);
		return;
	}
	pt->unwind_buf = buf->__pad[BUF_PREV];
}

WEFT_EXPORT void __pthread_register_cancel_defer(__pthread_unwind_buf_t *buf)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(__pthread_register_cancel_defer)(buf);
		return;
	}
	__pthread_register_cancel(buf);
	buf->__pad[BUF_TYPE] = (void *)(intptr_t)pt->cancel_type;
	pt->cancel_type = PTHREAD_CANCEL_DEFERRED;
}

WEFT_EXPORT void
__pthread_unregister_cancel_restore(__pthread_unwind_buf_t *buf)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(__pthread_unregister_cancel_restore)(buf);
		return;
	}
	__pthread_unregister_cancel(buf);
	pt->cancel_type = (int)(intptr_t)buf->__pad[BUF_TYPE];
}

WEFT_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *buf)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(__pthread_unwind_next)(buf);
		__builtin_unreachable();
	}
	unwind(pt, buf->__pad[BUF_PREV]);
}

/*
 * The API before glibc 2.3.3, still exported for old binaries; two of its
 * functions have only their first version, which dlsym does not find.
 */
#if defined(__x86_64__)
#define GLIBC_FIRST "GLIBC_2.2.5"
#else
#define GLIBC_FIRST "GLIBC_2.17"
#endif

typedef void push_fn(struct _pthread_cleanup_buffer *, void (*)(void *),
		     void *);
typedef void pop_fn(struct _pthread_cleanup_buffer *, int);

static void *first_version(const char *name)
{
	void *p = dlvsym(RTLD_NEXT, name, GLIBC_FIRST);

	if (!p)
		fatal("weft: no real _pthread_cleanup_*_defer\n");
	return p;
}

WEFT_EXPORT void _pthread_cleanup_push(struct _pthread_cleanup_buffer *b,
				       void (*fn)(void *), void *arg)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(_pthread_cleanup_push)(b, fn, arg);
		return;
	}
	b->__routine = fn;
	b->__arg = arg;
	b->__prev = pt->cleanup;
	pt->cleanup = b;
}

WEFT_EXPORT void _pthread_cleanup_pop(struct _pthread_cleanup_buffer *b,
				      int execute)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		REAL(_pthread_cleanup_pop)(b, execute);
		return;
	}
	pt->cleanup = b->__prev;
	if (execute)
		b->__routine(b->__arg);
}

WEFT_EXPORT void _pthread_cleanup_push_defer(struct _pthread_cleanup_buffer *b,
					     void (*fn)(void *), void *arg)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		((push_fn *)first_version("_pthread_cleanup_push_defer"))(b, fn,
									  arg);
		return;
	}
	_pthread_cleanup_push(b, fn, arg);
	b->__canceltype = pt->cancel_type;
	pt->cancel_type = PTHREAD_CANCEL_DEFERRED;
}

WEFT_EXPORT void _pthread_cleanup_pop_restore(struct _pthread_cleanup_buffer *b,
					      int execute)
{
	struct weft__pthread *pt = self();

	if (!pt) {
		((pop_fn *)first_version("_pthread_cleanup_pop_restore"))(
			b, execute);
		return;
	}
	pt->cleanup = b->__prev;
	pt->cancel_type = b->__canceltype;
	if (execute)
		b->__routine(b->__arg);
}

/* SPDX-License-Identifier: MIT */
/*
 * sigsetjmp and siglongjmp.  Two things they give a native program need
 * the shim's help.
 *
 * The mask.  sigsetjmp(env, 1) saves the calling thread's mask, which
 * under the shim is the virtual thread's (lib/sched.c), not the one glibc
 * reads from the kernel: a carrier's, which on every carrier but one
 * blocks the asynchronous signals on top.  siglongjmp must set it back
 * through the runtime, or the carrier gives the next thread it runs the
 * mask siglongjmp left in the kernel.  So sigsetjmp with a mask, on a
 * virtual thread, also writes a mark in env's __saved_mask past the 64
 * bits the kernel fills: the thread's own mask, and the thread.  A jump
 * to a marked env sets that mask on the runtime's side, then jumps
 * through glibc as if no mask were saved.
 *
 * The handler.  A handler that leaves by siglongjmp (a timeout by
 * alarm(), the old way) must land on the thread that called sigsetjmp,
 * on its stack, where the kernel ran the handler on whatever carrier 0
 * ran: another virtual thread, or the scheduler.  If the handler
 * interrupted that very thread in the program's own code (not inside a
 * blocking call, which is the runtime's code), the jump is taken there
 * and the handlers' frames are left, as natively.  Otherwise the handler
 * is abandoned, as if it had returned (signal.c), the jump is left to
 * the thread, and its blocking call fails with EINTR (or the next one it
 * makes): it lands when that call ends, or at its next call, a
 * cancellation point's enter or leave (cancel.c).  A fault's handler
 * (the thread's own) is never abandoned: the fault would repeat.
 *
 * Only on x86-64 (the wrapper is assembly); elsewhere jumps are glibc's.
 * Not handled: a handler's longjmp to an env saved without a mask (by
 * setjmp or _setjmp, whose buffer may be a cleanup's, with no room for a
 * mark) goes to glibc as it is; a jump left for a thread that spins
 * without calls waits for its next call.
 */
#include "pt.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#define MARK 0x21746d6a74666577ull /* "weftjmt!" */

/* In __saved_mask, after the word sigsetjmp's sigprocmask fills. */
struct mark {
	uint64_t kernel;
	uint64_t magic;
	uint64_t mask;		  /* the thread's own, when it was saved */
	struct weft__pthread *pt; /* the thread that saved it */
	struct weft_thread *t;
};

_Static_assert(sizeof(struct mark) <= sizeof(sigset_t), "room for a mark");

typedef void jump_fn(struct __jmp_buf_tag *env, int val);

hidden void *weft__real_sigsetjmp;

static struct mark *mark_of(struct __jmp_buf_tag *env)
{
	return (struct mark *)&env->__saved_mask;
}

/*
 * Called by __sigsetjmp below, before glibc's: mark env if a virtual
 * thread saves its mask.  Returns glibc's, to jump to.
 */
__attribute__((used)) hidden void *weft__jmp_setup(struct __jmp_buf_tag *env,
						   int savemask)
{
	if (savemask) {
		struct mark *k = mark_of(env);
		sigset_t now;

		k->magic = 0;
		if (weft__on_vthread() &&
		    weft__impl_sigmask(SIG_BLOCK, NULL, &now) == 0) {
			memcpy(&k->mask, &now, sizeof(k->mask));
			k->pt = weft__pt_self();
			k->t = weft_thread_self();
			k->magic = MARK;
		}
	}
	if (!weft__real_sigsetjmp)
		weft__real_sigsetjmp = dlsym(RTLD_NEXT, "__sigsetjmp");
	return weft__real_sigsetjmp;
}

#if defined(__x86_64__)
/*
 * __sigsetjmp(env, savemask), the function sigsetjmp() calls, and BSD's
 * setjmp(env), which saves the mask: the mark, then glibc's own with the
 * caller's frame untouched (its return address, its callee-saved
 * registers), so that it saves the caller's context.
 */
__asm__(".text\n"
	".globl __sigsetjmp\n"
	".type __sigsetjmp, @function\n"
	"__sigsetjmp:\n"
	".Lsigsetjmp:\n"
	"	.cfi_startproc\n"
	"	push %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	push %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	sub $8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call weft__jmp_setup\n"
	"	add $8, %rsp\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	pop %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	pop %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	jmp *%rax\n"
	"	.cfi_endproc\n"
	".size __sigsetjmp, . - __sigsetjmp\n"
	".globl setjmp\n"
	".type setjmp, @function\n"
	"setjmp:\n"
	"	mov $1, %esi\n"
	"	jmp .Lsigsetjmp\n"
	".size setjmp, . - setjmp\n");
#endif

static struct mark *marked(struct __jmp_buf_tag *env)
{
	struct mark *k = mark_of(env);

	return env->__mask_was_saved && k->magic == MARK ? k : NULL;
}

/* Set the thread's own mask, and jump as glibc would with none saved. */
static __attribute__((noreturn)) void land(struct __jmp_buf_tag *env, int val,
					   jump_fn *real, uint64_t mask)
{
	struct __jmp_buf_tag copy = *env;
	sigset_t m;

	sigemptyset(&m);
	memcpy(&m, &mask, sizeof(mask));
	weft__impl_sigmask(SIG_SETMASK, &m, NULL);
	copy.__mask_was_saved = 0;
	real(&copy, val);
	__builtin_unreachable();
}

/*
 * Did the handlers running here interrupt k's thread in the program's
 * code: is it the thread on this carrier, outside a blocking call, with
 * the first handler's interrupted stack pointer on its stack?
 */
static bool interrupted_it(const struct mark *k)
{
	const struct weft__frame *f = weft__frames;
	void *lo;
	size_t size;
	uintptr_t sp;

	if (weft_thread_self() != k->t || k->pt->in_call)
		return false;
	while (f->prev)
		f = f->prev;
	if (!f->uc) /* raise() ran it, on this thread */
		return true;
#if defined(__x86_64__)
	sp = (uintptr_t)f->uc->uc_mcontext.gregs[REG_RSP];
#else
	sp = (uintptr_t)f->uc->uc_mcontext.sp;
#endif
	weft__impl_stack(k->t, &lo, &size);
	return sp > (uintptr_t)lo && sp <= (uintptr_t)lo + size;
}

static __attribute__((noreturn)) void jump(struct __jmp_buf_tag *env, int val,
					   jump_fn *real)
{
	struct mark *k = marked(env);
	struct weft__frame *f = weft__frames;

	if (!k || (!f && !weft__on_vthread())) { /* glibc's mask is right */
		real(env, val);
		__builtin_unreachable();
	}
	if (!f || interrupted_it(k)) {
		for (; f; f = weft__frames) { /* leave them, innermost first */
			weft__frames = f->prev;
			weft__in_handler -= f->async;
			if (f->entered)
				weft__impl_handler_exit(f->before);
		}
		land(env, val, real, k->mask);
	}
	if (!f->async) { /* a fault's: as glibc, on this kernel thread */
		real(env, val);
		__builtin_unreachable();
	}
	k->pt->jump_val = val;
	atomic_store(&k->pt->jump_env, env);
	weft__signal_jump(k->pt);
	__builtin_longjmp(f->abandon, 1);
}

void weft__jump_pending(struct weft__pthread *pt)
{
	struct __jmp_buf_tag *env;

	if (likely(!atomic_load_explicit(&pt->jump_env, memory_order_relaxed)))
		return;
	env = atomic_exchange(&pt->jump_env, NULL);
	if (!env)
		return;
	weft__impl_jump_landed();
	land(env, pt->jump_val, REAL(siglongjmp), mark_of(env)->mask);
}

WEFT_EXPORT void siglongjmp(sigjmp_buf env, int val)
{
	jump(env, val, REAL(siglongjmp));
}

/* glibc's longjmp and _longjmp are siglongjmp by other names. */
WEFT_EXPORT void longjmp(jmp_buf env, int val) WEFT_ALIAS_OF(siglongjmp);
WEFT_EXPORT void _longjmp(jmp_buf env, int val) WEFT_ALIAS_OF(siglongjmp);

/* _FORTIFY_SOURCE's, which checks that the jump goes up the stack. */
void __longjmp_chk(sigjmp_buf env, int val) __attribute__((noreturn));

WEFT_EXPORT void __longjmp_chk(sigjmp_buf env, int val)
{
	jump(env, val, REAL(__longjmp_chk));
}

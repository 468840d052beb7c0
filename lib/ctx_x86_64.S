/* SPDX-License-Identifier: MIT */
/*
 * Context switch for x86-64 System V.
 *
 * The saved frame, growing down from the caller's return address:
 *
 *   sp+56  return address (pushed by the call)
 *   sp+48  rbp
 *   sp+40  rbx
 *   sp+32  r12          entry function of a new context
 *   sp+24  r13          its argument
 *   sp+16  r14
 *   sp+8   r15
 *   sp+4   x87 control word
 *   sp+0   mxcsr
 *
 * Only callee-saved state is kept: the caller of weft__ctx_switch() has
 * already spilled everything else, as for any function call.  The layout
 * is checked from C in ctx.h.
 */
#include "ctx.h"

	.text

/* void weft__ctx_switch(void **save_sp (rdi), void *new_sp (rsi)) */
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, @function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	pushq	%rbp			/* callee-saved registers ... */
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	pushq	%rbx
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbx, 0
	pushq	%r12
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r12, 0
	pushq	%r13
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r13, 0
	pushq	%r14
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r14, 0
	pushq	%r15
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset r15, 0
	subq	$8, %rsp		/* ... then room for the FPU words */
	.cfi_adjust_cfa_offset 8
	stmxcsr	WEFT_FRAME_FPU(%rsp)	/* SSE rounding and exception masks */
	fnstcw	WEFT_FRAME_FPU+4(%rsp)	/* x87 precision and rounding */
	movq	%rsp, (%rdi)		/* the old context is now its sp */
	movq	%rsi, %rsp		/* switch stacks */
	ldmxcsr	WEFT_FRAME_FPU(%rsp)
	fldcw	WEFT_FRAME_FPU+4(%rsp)
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret				/* into the resumed context */
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/*
 * First code run by a new context: the frame built by weft__ctx_make()
 * left the entry function in r12 and its argument in r13.  rsp is 16-byte
 * aligned here, so the call gives the entry the alignment the ABI wants.
 */
	.globl	weft__ctx_start
	.hidden	weft__ctx_start
	.type	weft__ctx_start, @function
	.p2align 4
weft__ctx_start:
	.cfi_startproc
	.cfi_undefined rip		/* the outermost frame: stop unwinding */
	movq	%r13, %rdi		/* the argument */
	callq	*%r12			/* entry(arg); it never returns */
	ud2
	.cfi_endproc
	.size	weft__ctx_start, .-weft__ctx_start

	.section .note.GNU-stack, "", @progbits

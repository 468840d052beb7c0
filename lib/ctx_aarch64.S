/* SPDX-License-Identifier: MIT */
/*
 * Context switch for AArch64 (AAPCS64).
 *
 * The saved frame, WEFT_FRAME_SIZE (176) bytes below the caller's sp:
 *
 *   sp+168  pad          keeps sp a multiple of 16
 *   sp+160  fpcr         rounding mode, flush-to-zero, default NaN
 *   sp+152  x30 (lr)     where the switch returns; weft__ctx_start when new
 *   sp+144  x29 (fp)     0 when new: the end of the frame-pointer chain
 *   sp+136  x28
 *   ...
 *   sp+72   x20          argument of a new context's entry
 *   sp+64   x19          entry function of a new context
 *   sp+56   d15
 *   ...
 *   sp+0    d8
 *
 * Only callee-saved state is kept: the caller of weft__ctx_switch() has
 * already spilled everything else, as for any function call.  That is
 * x19-x29, the return address, the low halves of v8-v15 (AAPCS64 leaves
 * their upper halves and v16-v31 to the caller) and FPCR.  x18 is not
 * saved: Linux gives it no special role, so it is a temporary.  FPSR, the
 * sticky exception flags, stays with the carrier, as on x86-64 the x87
 * status word does.  The layout is checked from C in ctx.h.
 */
#include "ctx.h"

/* Store a pair at sp+off and tell the unwinder where the caller's went. */
.macro	save_pair r1, r2, off
	stp	\r1, \r2, [sp, #\off]
	.cfi_rel_offset \r1, \off
	.cfi_rel_offset \r2, \off + 8
.endm

/* Load a pair from sp+off: the registers hold the resumed values again. */
.macro	load_pair r1, r2, off
	ldp	\r1, \r2, [sp, #\off]
	.cfi_restore \r1
	.cfi_restore \r2
.endm

	.text

/* void weft__ctx_switch(void **save_sp (x0), void *new_sp (x1)) */
	.globl	weft__ctx_switch
	.hidden	weft__ctx_switch
	.type	weft__ctx_switch, %function
	.p2align 4
weft__ctx_switch:
	.cfi_startproc
	sub	sp, sp, #WEFT_FRAME_SIZE	/* room; sp stays aligned */
	.cfi_def_cfa_offset WEFT_FRAME_SIZE
	save_pair x29, x30, WEFT_FRAME_X29	/* fp and return address */
	save_pair x19, x20, WEFT_FRAME_X19	/* callee-saved registers */
	save_pair x21, x22, (WEFT_FRAME_X19+16)
	save_pair x23, x24, (WEFT_FRAME_X19+32)
	save_pair x25, x26, (WEFT_FRAME_X19+48)
	save_pair x27, x28, (WEFT_FRAME_X19+64)
	save_pair d8, d9, WEFT_FRAME_D8		/* low halves of v8-v15 */
	save_pair d10, d11, (WEFT_FRAME_D8+16)
	save_pair d12, d13, (WEFT_FRAME_D8+32)
	save_pair d14, d15, (WEFT_FRAME_D8+48)
	mrs	x9, fpcr			/* rounding mode, FZ, DN */
	str	x9, [sp, #WEFT_FRAME_FPCR]	/* kept in x9 for the cmp */
	mov	x10, sp				/* str cannot store sp */
	str	x10, [x0]			/* the old context: its sp */
	mov	sp, x1				/* switch stacks */
	ldr	x10, [sp, #WEFT_FRAME_FPCR]	/* the new context's FPCR */
	cmp	x9, x10				/* writing FPCR can stall */
	b.eq	1f				/* the pipeline: skip it */
	msr	fpcr, x10			/* if nothing changes */
1:	load_pair d8, d9, WEFT_FRAME_D8		/* the same frame, popped */
	load_pair d10, d11, (WEFT_FRAME_D8+16)
	load_pair d12, d13, (WEFT_FRAME_D8+32)
	load_pair d14, d15, (WEFT_FRAME_D8+48)
	load_pair x19, x20, WEFT_FRAME_X19
	load_pair x21, x22, (WEFT_FRAME_X19+16)
	load_pair x23, x24, (WEFT_FRAME_X19+32)
	load_pair x25, x26, (WEFT_FRAME_X19+48)
	load_pair x27, x28, (WEFT_FRAME_X19+64)
	load_pair x29, x30, WEFT_FRAME_X29
	add	sp, sp, #WEFT_FRAME_SIZE	/* pop the frame */
	.cfi_def_cfa_offset 0
	ret					/* into the resumed context */
	.cfi_endproc
	.size	weft__ctx_switch, .-weft__ctx_switch

/*
 * First code run by a new context: the frame built by weft__ctx_make()
 * left the entry function in x19 and its argument in x20, and popping it
 * left sp at the 16-byte aligned top of the stack, as the entry expects.
 */
	.globl	weft__ctx_start
	.hidden	weft__ctx_start
	.type	weft__ctx_start, %function
	.p2align 4
weft__ctx_start:
	.cfi_startproc
	.cfi_undefined x30		/* outermost frame: stop unwinding */
	mov	x0, x20			/* the argument */
	blr	x19			/* entry(arg); it never returns */
	brk	#0			/* trap if it does */
	.cfi_endproc
	.size	weft__ctx_start, .-weft__ctx_start

	.section .note.GNU-stack, "", %progbits

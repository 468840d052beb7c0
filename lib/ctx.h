/* SPDX-License-Identifier: MIT */
/*
 * The context switch: the saved-frame layout shared by the assembly and C.
 *
 * A suspended context is nothing but a stack pointer.  weft__ctx_switch()
 * pushes the callee-saved registers and the floating-point control words
 * onto the current stack, stores the stack pointer through its first
 * argument, loads the second as the new stack pointer, and pops the same
 * frame from there.  A new context is a stack with such a frame built by
 * weft__ctx_make(), whose return address is weft__ctx_start.  The offsets
 * below are used by the .S files and checked against struct weft_frame.
 */
#ifndef WEFT_CTX_H
#define WEFT_CTX_H

#if defined(__x86_64__)
/* sp+0: mxcsr (4) and x87 control word (2), r15 r14 r13 r12 rbx rbp, ret */
#define WEFT_FRAME_FPU 0
#define WEFT_FRAME_R15 8
#define WEFT_FRAME_R14 16
#define WEFT_FRAME_R13 24
#define WEFT_FRAME_R12 32
#define WEFT_FRAME_RBX 40
#define WEFT_FRAME_RBP 48
#define WEFT_FRAME_RET 56
#define WEFT_FRAME_SIZE 64
#elif defined(__aarch64__)
/* sp+0: d8-d15 (64), x19-x28 (80), x29 (fp), x30 (lr), fpcr, pad */
#define WEFT_FRAME_D8 0
#define WEFT_FRAME_X19 64
#define WEFT_FRAME_X29 144
#define WEFT_FRAME_X30 152
#define WEFT_FRAME_FPCR 160
#define WEFT_FRAME_SIZE 176
#else
#error "weft: no context switch for this architecture"
#endif

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#if defined(__x86_64__)
struct weft_frame {
	uint32_t mxcsr;
	uint16_t fpucw;
	uint16_t pad;
	uint64_t r15, r14, r13, r12, rbx, rbp;
	uint64_t ret;
};
_Static_assert(offsetof(struct weft_frame, mxcsr) == WEFT_FRAME_FPU, "fpu");
_Static_assert(offsetof(struct weft_frame, r15) == WEFT_FRAME_R15, "r15");
_Static_assert(offsetof(struct weft_frame, r14) == WEFT_FRAME_R14, "r14");
_Static_assert(offsetof(struct weft_frame, r13) == WEFT_FRAME_R13, "r13");
_Static_assert(offsetof(struct weft_frame, r12) == WEFT_FRAME_R12, "r12");
_Static_assert(offsetof(struct weft_frame, rbx) == WEFT_FRAME_RBX, "rbx");
_Static_assert(offsetof(struct weft_frame, rbp) == WEFT_FRAME_RBP, "rbp");
_Static_assert(offsetof(struct weft_frame, ret) == WEFT_FRAME_RET, "ret");
#elif defined(__aarch64__)
struct weft_frame {
	uint64_t d[8];	/* d8-d15 */
	uint64_t x[10]; /* x19-x28; x19 = entry, x20 = arg at start */
	uint64_t fp, lr;
	uint64_t fpcr, pad;
};
_Static_assert(offsetof(struct weft_frame, d) == WEFT_FRAME_D8, "d8");
_Static_assert(offsetof(struct weft_frame, x) == WEFT_FRAME_X19, "x19");
_Static_assert(offsetof(struct weft_frame, fp) == WEFT_FRAME_X29, "x29");
_Static_assert(offsetof(struct weft_frame, lr) == WEFT_FRAME_X30, "x30");
_Static_assert(offsetof(struct weft_frame, fpcr) == WEFT_FRAME_FPCR, "fpcr");
#endif
_Static_assert(sizeof(struct weft_frame) == WEFT_FRAME_SIZE, "frame size");
_Static_assert(WEFT_FRAME_SIZE % 16 == 0, "frames keep the stack aligned");

/* Save the current context into *save_sp and resume the one at new_sp. */
void weft__ctx_switch(void **save_sp, void *new_sp);

/*
 * Build a context on the stack whose top is stack_hi, so that switching to
 * it calls entry(arg) on that stack.  entry must never return.  Returns the
 * stack pointer to pass to weft__ctx_switch().
 */
void *weft__ctx_make(void *stack_hi, void (*entry)(void *), void *arg);
#endif

#endif

/* SPDX-License-Identifier: MIT */
/* The context switch alone: registers, FPU control words, alignment. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "lib/ctx.h"

TestSuite(ctx, .timeout = 30);

#define STACK (64 * 1024)

static void *main_sp, *co_sp;
static long counter;

static void *new_stack(void)
{
	char *s = aligned_alloc(16, STACK);

	cr_assert(s);
	return s + STACK;
}

static void counting(void *arg)
{
	long step = (long)arg;

	for (;;) {
		counter += step;
		weft__ctx_switch(&co_sp, main_sp);
	}
}

Test(ctx, ping_pong_passes_the_argument)
{
	char *top = new_stack();

	co_sp = weft__ctx_make(top, counting, (void *)3);
	for (int i = 0; i < 100000; i++)
		weft__ctx_switch(&main_sp, co_sp);
	cr_assert_eq(counter, 300000);
	free(top - STACK);
}

#if defined(__x86_64__)
#include <xmmintrin.h>

/*
 * Load callee-saved registers with patterns, switch, and read them back:
 * a switch that forgot one would hand back the other context's value.
 * The asm steps over the red zone and keeps rsp 16-byte aligned.
 */
struct pattern {
	void *sp; /* first: it is the save slot of the switch */
	uint64_t base;
	uint64_t out[6];
};

static void switch_with_patterns(struct pattern *p, void *to)
{
	__asm__ volatile("push %%rbp\n\t"
			 "sub $128, %%rsp\n\t"
			 "mov 8(%%rdi), %%rbx\n\t"
			 "lea 1(%%rbx), %%r12\n\t"
			 "lea 2(%%rbx), %%r13\n\t"
			 "lea 3(%%rbx), %%r14\n\t"
			 "lea 4(%%rbx), %%r15\n\t"
			 "lea 5(%%rbx), %%rbp\n\t"
			 "push %%rdi\n\t"
			 "sub $8, %%rsp\n\t"
			 "call weft__ctx_switch\n\t"
			 "add $8, %%rsp\n\t"
			 "pop %%rax\n\t"
			 "mov %%rbx, 16(%%rax)\n\t"
			 "mov %%r12, 24(%%rax)\n\t"
			 "mov %%r13, 32(%%rax)\n\t"
			 "mov %%r14, 40(%%rax)\n\t"
			 "mov %%r15, 48(%%rax)\n\t"
			 "mov %%rbp, 56(%%rax)\n\t"
			 "add $128, %%rsp\n\t"
			 "pop %%rbp\n\t"
			 : "+D"(p), "+S"(to)
			 :
			 : "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11",
			   "r12", "r13", "r14", "r15", "memory", "cc");
}

static void check_patterns(const struct pattern *p)
{
	for (int i = 0; i < 6; i++)
		cr_assert_eq(p->out[i], p->base + i,
			     "register %d: %#lx != %#lx", i,
			     (unsigned long)p->out[i],
			     (unsigned long)(p->base + i));
}

static struct pattern main_p, co_p;

static void clobbering(void *arg)
{
	(void)arg;
	co_p.base = 0xbad0000;
	for (;;) {
		switch_with_patterns(&co_p, main_p.sp);
		check_patterns(&co_p);
	}
}

Test(ctx, callee_saved_registers_survive)
{
	char *top = new_stack();

	co_p.sp = weft__ctx_make(top, clobbering, NULL);
	for (uint64_t i = 0; i < 1000; i++) {
		main_p.base = 0x1000 * (i + 1);
		switch_with_patterns(&main_p, co_p.sp);
		check_patterns(&main_p);
	}
	free(top - STACK);
}

static unsigned short fpucw(void)
{
	unsigned short cw;

	__asm__ volatile("fnstcw %0" : "=m"(cw));
	return cw;
}

static void set_fpucw(unsigned short cw)
{
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static unsigned co_csr;
static unsigned short co_cw;

static void fpu_context(void *arg)
{
	(void)arg;
	/* A new context starts from the defaults, not from its creator. */
	co_csr = _mm_getcsr();
	co_cw = fpucw();
	_mm_setcsr((co_csr & ~0x6000u) | 0x4000u); /* round up */
	set_fpucw((co_cw & ~0x0c00u) | 0x0800u);
	for (;;) {
		weft__ctx_switch(&co_sp, main_sp);
		co_csr = _mm_getcsr();
		co_cw = fpucw();
	}
}

Test(ctx, fpu_control_words_are_per_context)
{
	unsigned csr = _mm_getcsr(), down = (csr & ~0x6000u) | 0x2000u;
	unsigned short cw = fpucw(), cwdown = (cw & ~0x0c00u) | 0x0400u;
	char *top = new_stack();

	co_sp = weft__ctx_make(top, fpu_context, NULL);
	_mm_setcsr(down);
	set_fpucw(cwdown);
	weft__ctx_switch(&main_sp, co_sp);
	cr_assert_eq(co_csr & 0x6000u, 0, "new context inherited rounding");
	cr_assert_eq(co_cw & 0x0c00u, 0);
	cr_assert_eq(_mm_getcsr(), down, "ours was changed by the other");
	cr_assert_eq(fpucw(), cwdown);
	weft__ctx_switch(&main_sp, co_sp);
	cr_assert_eq(co_csr & 0x6000u, 0x4000u, "the other lost its mode");
	cr_assert_eq(co_cw & 0x0c00u, 0x0800u);
	_mm_setcsr(csr);
	set_fpucw(cw);
	free(top - STACK);
}

/* A leaf that reads its own rsp: just after a call, rsp % 16 == 8. */
__attribute__((noinline)) static uintptr_t rsp_in_leaf(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

static uintptr_t seen_sp;

static void aligned(void *arg)
{
	(void)arg;
	seen_sp = rsp_in_leaf();
	weft__ctx_switch(&co_sp, main_sp);
}

Test(ctx, entry_sees_the_abi_alignment)
{
	char *top = new_stack();

	co_sp = weft__ctx_make(top - 8, aligned, NULL); /* misaligned top */
	weft__ctx_switch(&main_sp, co_sp);
	cr_assert_eq(seen_sp % 16, rsp_in_leaf() % 16);
	cr_assert(seen_sp < (uintptr_t)top && seen_sp > (uintptr_t)top - 256);
	free(top - STACK);
}
#endif

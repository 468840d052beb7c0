/* SPDX-License-Identifier: MIT */
/*
 * The aarch64 context switch, run under qemu-user: lib/ctx.c and
 * lib/ctx_aarch64.S alone, without the runtime or Criterion.  Prints one
 * line per check and exits 1 if any failed.
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>

#include "ctx.h"

#define T_ROUNDS 100000
#define T_STACK_SIZE (64 * 1024)

/* One context: main, or one made on a stack by weft__ctx_make(). */
struct t_ctx {
	/* The saved stack pointer while suspended. */
	void *sp;
	/* Whom t_loop() switches to; main sets it. */
	struct t_ctx *next;
	/* Times t_loop() has been resumed. */
	unsigned long runs;
};

static struct t_ctx t_main;
static _Alignas(16) unsigned char t_stack_a[T_STACK_SIZE];
static _Alignas(16) unsigned char t_stack_b[T_STACK_SIZE];
static int t_failed;

static void t_report(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
	if (!ok)
		t_failed = 1;
}

static uintptr_t t_sp(void)
{
	uintptr_t sp;

	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

static uint64_t t_fpcr(void)
{
	uint64_t fpcr;

	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	return fpcr;
}

/* What the entry of a new context saw, before it switched back to main. */
static struct {
	void *sp;
	void *arg;
	uintptr_t entry_sp;
	int round;
} t_probe;

static void t_probe_entry(void *arg)
{
	t_probe.arg = arg;
	t_probe.entry_sp = t_sp();
	t_probe.round = fegetround();
	weft__ctx_switch(&t_probe.sp, t_main.sp);
}

static void t_check_entry(void)
{
	static int token;
	/* An unaligned top: weft__ctx_make() must round it down. */
	unsigned char *hi = t_stack_a + sizeof(t_stack_a) - 8;
	void *sp;
	int on_stack;

	/* A new context starts with the default FPCR, not its creator's. */
	fesetround(FE_UPWARD);
	sp = weft__ctx_make(hi, t_probe_entry, &token);
	weft__ctx_switch(&t_main.sp, sp);
	fesetround(FE_TONEAREST);

	on_stack = t_probe.entry_sp > (uintptr_t)t_stack_a &&
		   t_probe.entry_sp < (uintptr_t)hi;
	t_report(t_probe.arg == &token, "entry receives its argument");
	t_report(on_stack && t_probe.entry_sp % 16 == 0,
		 "entry runs on its own stack, 16-byte aligned");
	t_report(t_probe.round == FE_TONEAREST,
		 "entry starts with round-to-nearest");
}

static void t_loop(void *arg)
{
	struct t_ctx *self = arg;

	for (;;) {
		self->runs++;
		weft__ctx_switch(&self->sp, self->next->sp);
	}
}

/* main -> a -> main -> b -> main, T_ROUNDS times. */
static void t_check_ping_pong(void)
{
	struct t_ctx a = { .next = &t_main };
	struct t_ctx b = { .next = &t_main };
	int ok = 1;

	a.sp = weft__ctx_make(t_stack_a + sizeof(t_stack_a), t_loop, &a);
	b.sp = weft__ctx_make(t_stack_b + sizeof(t_stack_b), t_loop, &b);
	for (unsigned long i = 1; i <= T_ROUNDS; i++) {
		weft__ctx_switch(&t_main.sp, a.sp);
		if (a.runs != i || b.runs != i - 1)
			ok = 0;
		weft__ctx_switch(&t_main.sp, b.sp);
		if (a.runs != i || b.runs != i)
			ok = 0;
	}
	t_report(ok, "ping-pong between main and two contexts");
}

/* main -> a -> b -> main, T_ROUNDS times: contexts switch to each other. */
static void t_check_ring(void)
{
	struct t_ctx b = { .next = &t_main };
	struct t_ctx a = { .next = &b };
	int ok = 1;

	a.sp = weft__ctx_make(t_stack_a + sizeof(t_stack_a), t_loop, &a);
	b.sp = weft__ctx_make(t_stack_b + sizeof(t_stack_b), t_loop, &b);
	for (unsigned long i = 1; i <= T_ROUNDS; i++) {
		weft__ctx_switch(&t_main.sp, a.sp);
		if (a.runs != i || b.runs != i)
			ok = 0;
	}
	t_report(ok, "ring of main and two contexts");
}

/*
 * Fill every callee-saved register with seed + 1, seed + 2, ... (x19-x28,
 * then d8-d15, then x29), switch, and store what they hold on return in
 * got[].  If the switch lost one, the value the other context left there
 * shows up instead.  Every register is clobbered, so the compiler saves
 * and restores this function's own.
 */
static void t_switch_marked(void **save, void *to, uint64_t seed,
			    uint64_t got[19])
{
	register void **x0 __asm__("x0") = save;
	register void *x1 __asm__("x1") = to;
	register uint64_t x2 __asm__("x2") = seed;
	register uint64_t *x3 __asm__("x3") = got;

	__asm__ volatile("stp	x29, x3, [sp, #-16]!\n\t"
			 "add	x19, x2, #1\n\t"
			 "add	x20, x2, #2\n\t"
			 "add	x21, x2, #3\n\t"
			 "add	x22, x2, #4\n\t"
			 "add	x23, x2, #5\n\t"
			 "add	x24, x2, #6\n\t"
			 "add	x25, x2, #7\n\t"
			 "add	x26, x2, #8\n\t"
			 "add	x27, x2, #9\n\t"
			 "add	x28, x2, #10\n\t"
			 "add	x4, x2, #11\n\t"
			 "fmov	d8, x4\n\t"
			 "add	x4, x2, #12\n\t"
			 "fmov	d9, x4\n\t"
			 "add	x4, x2, #13\n\t"
			 "fmov	d10, x4\n\t"
			 "add	x4, x2, #14\n\t"
			 "fmov	d11, x4\n\t"
			 "add	x4, x2, #15\n\t"
			 "fmov	d12, x4\n\t"
			 "add	x4, x2, #16\n\t"
			 "fmov	d13, x4\n\t"
			 "add	x4, x2, #17\n\t"
			 "fmov	d14, x4\n\t"
			 "add	x4, x2, #18\n\t"
			 "fmov	d15, x4\n\t"
			 "add	x29, x2, #19\n\t"
			 "bl	weft__ctx_switch\n\t"
			 "mov	x4, x29\n\t"
			 "ldp	x29, x3, [sp], #16\n\t"
			 "stp	x19, x20, [x3, #0]\n\t"
			 "stp	x21, x22, [x3, #16]\n\t"
			 "stp	x23, x24, [x3, #32]\n\t"
			 "stp	x25, x26, [x3, #48]\n\t"
			 "stp	x27, x28, [x3, #64]\n\t"
			 "stp	d8, d9, [x3, #80]\n\t"
			 "stp	d10, d11, [x3, #96]\n\t"
			 "stp	d12, d13, [x3, #112]\n\t"
			 "stp	d14, d15, [x3, #128]\n\t"
			 "str	x4, [x3, #144]"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
			 :
			 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
			   "x12", "x13", "x14", "x15", "x16", "x17", "x18",
			   "x19", "x20", "x21", "x22", "x23", "x24", "x25",
			   "x26", "x27", "x28", "x30", "v0", "v1", "v2", "v3",
			   "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",
			   "v12", "v13", "v14", "v15", "v16", "v17", "v18",
			   "v19", "v20", "v21", "v22", "v23", "v24", "v25",
			   "v26", "v27", "v28", "v29", "v30", "v31", "cc",
			   "memory");
}

/* Bit 0 of the result: an x register was lost; bit 1: a d register. */
static int t_lost(uint64_t seed, const uint64_t got[19])
{
	int lost = 0;

	for (int i = 0; i < 19; i++) {
		if (got[i] != seed + i + 1)
			lost |= i >= 10 && i < 18 ? 2 : 1;
	}
	return lost;
}

static struct t_ctx t_marked;
static int t_marked_lost;

static void t_marked_entry(void *arg)
{
	uint64_t got[19];

	for (uint64_t i = 0;; i++) {
		uint64_t seed = 0xbbbb000000000000 + (i << 8);

		t_switch_marked(&t_marked.sp, t_main.sp, seed, got);
		t_marked_lost |= t_lost(seed, got);
	}
}

static void t_check_registers(void)
{
	uint64_t got[19];
	int lost = 0;

	t_marked.sp = weft__ctx_make(t_stack_a + sizeof(t_stack_a),
				     t_marked_entry, NULL);
	for (uint64_t i = 0; i < T_ROUNDS; i++) {
		uint64_t seed = 0xaaaa000000000000 + (i << 8);

		t_switch_marked(&t_main.sp, t_marked.sp, seed, got);
		lost |= t_lost(seed, got);
	}
	lost |= t_marked_lost;
	t_report(!(lost & 1), "x19-x29 preserved across switches");
	t_report(!(lost & 2), "d8-d15 preserved across switches");
}

/*
 * The rounding mode in force, found by arithmetic rather than by reading
 * FPCR back: t is 0.75 ulp of 1, so each mode rounds 1 + t and -1 - t its
 * own way.  Built with -frounding-math so the sums are not folded.
 */
static __attribute__((noinline)) int t_rounding(void)
{
	static volatile double one = 1.0, t = 0x1.8p-53;
	int up = one + t > 1.0;
	int down = -one - t < -1.0;

	if (up && down)
		return FE_TONEAREST;
	if (up)
		return FE_UPWARD;
	if (down)
		return FE_DOWNWARD;
	return FE_TOWARDZERO;
}

static const int t_modes[] = {
	FE_TONEAREST,
	FE_UPWARD,
	FE_DOWNWARD,
	FE_TOWARDZERO,
};

static struct t_ctx t_fp;
static int t_fp_bad;

/* Each turn: check the mode it set last time, then set the next one. */
static void t_fp_entry(void *arg)
{
	for (unsigned int i = 0;; i++) {
		int mode = t_modes[(i + 1) % 4];

		fesetround(mode);
		weft__ctx_switch(&t_fp.sp, t_main.sp);
		if (fegetround() != mode || t_rounding() != mode)
			t_fp_bad = 1;
	}
}

static void t_check_fpcr(void)
{
	int ok = 1;

	t_fp.sp =
		weft__ctx_make(t_stack_b + sizeof(t_stack_b), t_fp_entry, NULL);
	for (unsigned int i = 0; i < 1000; i++) {
		int mode = t_modes[i % 4];
		uint64_t fpcr;

		fesetround(mode);
		fpcr = t_fpcr();
		weft__ctx_switch(&t_main.sp, t_fp.sp);
		if (t_fpcr() != fpcr || t_rounding() != mode)
			ok = 0;
	}
	fesetround(FE_TONEAREST);
	t_report(ok && !t_fp_bad, "FPCR rounding mode kept per context");
}

int main(void)
{
	/* Keep the lines already printed if a broken switch crashes us. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_check_entry();
	t_check_ping_pong();
	t_check_ring();
	t_check_registers();
	t_check_fpcr();
	return t_failed;
}

/* SPDX-License-Identifier: MIT */
/*
 * The sanitizers' view of a switch (sched.c, and dump.c's brief visits).
 * AddressSanitizer: start before, finish after, with the stack to come.
 * ThreadSanitizer: every virtual thread is a fiber of its own (stack.c
 * makes and destroys it with the stack), every carrier's scheduler the
 * fiber of its kernel thread.  A switch synchronises its two sides
 * (flags 0): they run one after the other on one kernel thread, and the
 * carrier's owner-only fields rely on exactly that.
 */
#ifndef WEFT_FIBER_H
#define WEFT_FIBER_H

#include <stddef.h>

#include "config.h"
#if WEFT_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static inline void asan_start(void **fake, void *lo, size_t size)
{
#if WEFT_ASAN
	__sanitizer_start_switch_fiber(fake, lo, size);
#else
	(void)fake, (void)lo, (void)size;
#endif
}

static inline void asan_finish(void *fake)
{
#if WEFT_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#else
	(void)fake;
#endif
}

static inline void tsan_switch(void *fiber)
{
#if WEFT_TSAN
	__tsan_switch_to_fiber(fiber, 0);
#else
	(void)fiber;
#endif
}

static inline void *tsan_current(void)
{
#if WEFT_TSAN
	return __tsan_get_current_fiber();
#else
	return NULL;
#endif
}

#endif

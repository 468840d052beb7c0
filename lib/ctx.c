/* SPDX-License-Identifier: MIT */
/* Building the first frame of a new context; see ctx.h and ctx_*.S. */
#include <string.h>

#include "ctx.h"

void weft__ctx_start(void);

void *weft__ctx_make(void *stack_hi, void (*entry)(void *), void *arg)
{
	uintptr_t top = (uintptr_t)stack_hi & ~(uintptr_t)15;
	struct weft_frame *f = (struct weft_frame *)top - 1;

	memset(f, 0, sizeof(*f));
#if defined(__x86_64__)
	f->mxcsr = 0x1f80; /* all SSE exceptions masked, round to nearest */
	f->fpucw = 0x037f; /* the x87 default */
	f->r12 = (uintptr_t)entry;
	f->r13 = (uintptr_t)arg;
	f->ret = (uintptr_t)weft__ctx_start;
#elif defined(__aarch64__)
	f->x[0] = (uintptr_t)entry; /* x19 */
	f->x[1] = (uintptr_t)arg;   /* x20 */
	f->lr = (uintptr_t)weft__ctx_start;
#endif
	return f;
}

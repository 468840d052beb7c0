/* SPDX-License-Identifier: MIT */
/*
 * What both harnesses share: taking the fuzzer's bytes one at a time, and
 * a check that fails loudly.  Define FUZZ_NAME before including it.
 */
#ifndef WEFT_FUZZ_INPUT_H
#define WEFT_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken promise: say where, and abort, which libFuzzer records. */
#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, FUZZ_NAME ":%d: %s\n", __LINE__, \
				#cond);                                  \
			abort();                                         \
		}                                                        \
	} while (0)

struct input {
	const uint8_t *p;
	size_t n;
};

/* The next byte, or 0 once every byte was taken. */
static inline unsigned take(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

#endif

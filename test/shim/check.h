/* SPDX-License-Identifier: MIT */
/* A check that names what failed, for the shim's test programs. */
#ifndef WEFT_TEST_SHIM_CHECK_H
#define WEFT_TEST_SHIM_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			fflush(stdout);                                        \
			exit(1);                                               \
		}                                                              \
	} while (0)

#endif

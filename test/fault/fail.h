/* SPDX-License-Identifier: MIT */
/*
 * How a fault-sweep program fails: one line "FAIL: ..." on stdout, which
 * sweep.py prints, and exit status 1 at once (no exit handlers: the
 * runtime may be in the state that failed).
 */
#ifndef WEFT_FAULT_FAIL_H
#define WEFT_FAULT_FAIL_H

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static __attribute__((noreturn, format(printf, 1, 2))) void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	_exit(1);
}

#endif

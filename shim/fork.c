/* SPDX-License-Identifier: MIT */
/*
 * fork needs nothing here: the runtime's own atfork handlers give the
 * child a fresh runtime holding only the forking thread (lib/sched.c).
 *
 * vfork's child would share the parent's memory, runtime included, and
 * nothing runs in it to say it is a child: vfork is a fork here, which
 * POSIX allows.
 */
#include "shim.h"

#include <unistd.h>

WEFT_EXPORT pid_t vfork(void)
{
	return fork();
}

/* SPDX-License-Identifier: MIT */
/*
 * fork, for now: the child must never touch the parent's rings, which it
 * shares, so from the fork on every interposed call in the child passes
 * straight through to libc, as on a plain thread.  That is enough for a
 * child that execs (shells, subprocess); a child that goes on using
 * threads gets real ones, and a fresh runtime is future work.
 *
 * vfork's child would share the parent's memory, runtime included, and
 * nothing runs in it to say it is a child: vfork is a fork here, which
 * POSIX allows.
 */
#include "shim.h"

#include <pthread.h>
#include <unistd.h>

bool weft__forked;

static void in_child(void)
{
	weft__forked = true;
}

__attribute__((constructor(102))) static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, in_child);
}

WEFT_EXPORT pid_t vfork(void)
{
	return fork();
}

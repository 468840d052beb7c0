/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests. */
#ifndef WEFT_TEST_HELPERS_H
#define WEFT_TEST_HELPERS_H

#include <errno.h>
#include <stdint.h>
#include <weft.h>

#define T_MS 1000000LL
#define T_SEC 1000000000LL

/* Kernel threads of this process, from /proc/self/status. */
int t_kernel_threads(void);
/* Mappings of this process, from /proc/self/maps. */
int t_mappings(void);
/* Open fds of this process, from /proc/self/fd. */
int t_open_fds(void);
/* A connected TCP pair on 127.0.0.1; 0 or -errno. */
int t_tcp_pair(int fds[2]);
/* A listening TCP socket on 127.0.0.1 with an ephemeral port. */
int t_listener(int *ret_port);
/* Spawn fn(arg) and join it from a plain thread; the thread's value. */
intptr_t t_run(intptr_t (*fn)(void *), void *arg);
/* Virtual threads not yet ended, as the runtime counts them. */
unsigned t_live(void);

#endif

/* SPDX-License-Identifier: MIT */
/* Which fds are O_NONBLOCK, known without a system call. */
#ifndef WEFT_SHIM_FDTABLE_H
#define WEFT_SHIM_FDTABLE_H

#include <stdbool.h>

#include "shim.h"

/* Would a blocking call on fd block?  False for a bad fd. */
hidden bool weft__fd_nonblock(int fd);
/* fd is open now, with O_NONBLOCK set or not. */
hidden void weft__fd_set(int fd, bool nonblock);
/* to now refers to the same open file as from (dup). */
hidden void weft__fd_copy(int from, int to);
/* fd was closed, or changed in a way the table did not see. */
hidden void weft__fd_forget(int fd);

#endif

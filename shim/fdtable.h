/* SPDX-License-Identifier: MIT */
/* Which fds are O_NONBLOCK, known without a system call. */
#ifndef WEFT_SHIM_FDTABLE_H
#define WEFT_SHIM_FDTABLE_H

#include "shim.h"

#include <sys/socket.h>

/* Would a blocking call on fd block?  False for a bad fd. */
hidden bool weft__fd_nonblock(int fd);
/* fd is open now, with O_NONBLOCK set or not. */
hidden void weft__fd_set(int fd, bool nonblock);
/* fd is a new pipe. */
hidden void weft__fd_set_stream(int fd, bool nonblock);
/* fd is a new socket of type, SOCK_NONBLOCK as made (socket(2)'s type). */
hidden void weft__fd_set_socket(int fd, int type);
/*
 * WEFT_IMPL_FD_STREAM (with WEFT_IMPL_FD_SOCKET on a socket whose read and
 * write are recv and send) or WEFT_IMPL_FD_FILE (0: fd is bad).
 */
hidden unsigned weft__fd_kind(int fd);
/* to now refers to the same open file as from (dup). */
hidden void weft__fd_copy(int from, int to);
/* fd was closed, or changed in a way the table did not see. */
hidden void weft__fd_forget(int fd);
/* Every fd from first to last was closed (close_range). */
hidden void weft__fd_forget_range(unsigned first, unsigned last);
/* fcntl or ioctl set or cleared O_NONBLOCK; its timeouts stay. */
hidden void weft__fd_set_nonblock(int fd, bool nonblock);

/* Socket timeouts, in ns (0: none), as setsockopt set them. */
enum { WEFT_RCVTIMEO, WEFT_SNDTIMEO };
hidden int64_t weft__fd_timeout(int fd, int which);
hidden void weft__fd_set_timeout(int fd, int which, int64_t ns);
/* to was accepted on from: it starts with from's timeouts. */
hidden void weft__fd_inherit_timeouts(int from, int to);
/* Has fd a timeout the table keeps (one a dup or accept must copy)? */
hidden bool weft__fd_has_timeouts(int fd);
/*
 * Make room in the tables for fd, so that its timeouts can be recorded:
 * false when memory ran out, and the call that would record them must
 * fail with ENOMEM rather than lose them.
 */
hidden bool weft__fd_reserve(int fd);

/*
 * The bookkeeping of the calls that make fds, for fd.c and net.c, which
 * make the calls (so the fuzzer can drive the table as they do):
 * weft__fd_duped(from, to) records to, a dup of from, and returns to, or
 * -1 and ENOMEM after closing to if its timeouts cannot be recorded;
 * weft__fd_room_for(from, to) makes room for to before a dup2 or dup3
 * replaces it (false and ENOMEM if it cannot); weft__fd_accepted(lfd,
 * fd, flags) records fd, accepted on lfd, as weft__fd_duped does.
 */
hidden int weft__fd_duped(int from, int to);
hidden bool weft__fd_room_for(int from, int to);
hidden int weft__fd_accepted(int lfd, int fd, int flags);

#if WEFT_FAULT_INJECTION
/* For the fuzzer: forget every fd and free every chunk (none may be used). */
hidden void weft__fd_table_reset(void);
#endif

/* timeo.c: blocking calls on a socket with a timeout of timeo ns. */
hidden ssize_t weft__timed_recv(int fd, struct msghdr *msg, int flags,
				int64_t timeo);
hidden ssize_t weft__timed_send(int fd, const struct msghdr *msg, int flags,
				int64_t timeo);
hidden int weft__timed_accept(int fd, struct sockaddr *addr, socklen_t *len,
			      int flags, int64_t timeo);

#endif

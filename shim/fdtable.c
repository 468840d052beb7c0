/* SPDX-License-Identifier: MIT */
/*
 * The fd table: one byte per fd saying whether its open file has
 * O_NONBLOCK, so the shim knows without a system call whether a read may
 * go to the ring (a blocking fd) or must pass straight through (an
 * O_NONBLOCK fd, whose EAGAIN the program expects).
 *
 * The interposed calls that create, change and close fds keep it
 * current; an fd it has not seen (made inside libc, inherited, made by a
 * call the shim does not wrap) is looked up once with F_GETFL.  A stale
 * entry costs speed, never correctness: io_uring itself answers EAGAIN on
 * an O_NONBLOCK file, and a blocking call passed through still blocks.
 *
 * The table is a fixed array of chunks of CHUNK fds, each allocated on
 * first use and never freed; entries are relaxed atomic bytes.
 */
#include "fdtable.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>

#define CHUNK_SHIFT 12
#define CHUNK (1 << CHUNK_SHIFT)
#define NR_CHUNKS 4096 /* fds below 16 Mi are cached */

enum { FD_UNKNOWN = 0, FD_BLOCKING, FD_NONBLOCK };

static _Atomic(atomic_uchar *) chunks[NR_CHUNKS];

/* The entry of fd, allocating its chunk if create; NULL if none. */
static atomic_uchar *entry(int fd, bool create)
{
	unsigned i = (unsigned)fd >> CHUNK_SHIFT;
	atomic_uchar *c, *fresh;

	if (fd < 0 || i >= NR_CHUNKS)
		return NULL;
	c = atomic_load_explicit(&chunks[i], memory_order_acquire);
	if (c || !create)
		return c ? &c[fd & (CHUNK - 1)] : NULL;
	fresh = calloc(CHUNK, sizeof(*fresh));
	if (!fresh)
		return NULL;
	if (!atomic_compare_exchange_strong(&chunks[i], &c, fresh)) {
		free(fresh); /* another thread won; c is its chunk */
		return &c[fd & (CHUNK - 1)];
	}
	return &fresh[fd & (CHUNK - 1)];
}

static void put(int fd, unsigned char v)
{
	atomic_uchar *e = entry(fd, v != FD_UNKNOWN);

	if (e)
		atomic_store_explicit(e, v, memory_order_relaxed);
}

void weft__fd_set(int fd, bool nonblock)
{
	put(fd, nonblock ? FD_NONBLOCK : FD_BLOCKING);
}

void weft__fd_forget(int fd)
{
	put(fd, FD_UNKNOWN);
}

void weft__fd_copy(int from, int to)
{
	atomic_uchar *e = entry(from, false);

	put(to, e ? atomic_load_explicit(e, memory_order_relaxed) : FD_UNKNOWN);
}

bool weft__fd_nonblock(int fd)
{
	atomic_uchar *e = entry(fd, false);
	unsigned char v = e ? atomic_load_explicit(e, memory_order_relaxed) :
			      FD_UNKNOWN;
	int fl, saved = errno;

	if (v != FD_UNKNOWN)
		return v == FD_NONBLOCK;
	fl = REAL(fcntl64)(fd, F_GETFL);
	if (fl < 0) {
		errno = saved;
		return false; /* the ring reports EBADF as the call would */
	}
	weft__fd_set(fd, fl & O_NONBLOCK);
	return fl & O_NONBLOCK;
}

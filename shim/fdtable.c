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
 * The byte also says, once known, whether the fd is a stream (a pipe or
 * socket, whose reads return what is there) or a file (whose reads are
 * short only at the end): sockets and pipes are streams from birth, any
 * other fd is looked up once with fstat when it is first read.  And
 * whether it is a socket on which read and write are recv and send with
 * no flags, as they are on every socket but a SOCK_SEQPACKET one (whose
 * write adds MSG_EOR): recv and send skip the VFS's share of the call.
 *
 * A socket's SO_RCVTIMEO and SO_SNDTIMEO, set through the interposed
 * setsockopt, live in a second table of the same shape, touched only for
 * fds whose byte has FD_TIMEO: the fast path reads one byte.  dup copies
 * them and accept inherits them from the listener, as the kernel does; a
 * timeout set through one of two dups is seen through that one only.
 *
 * Both tables are fixed arrays of chunks of CHUNK fds, each allocated on
 * first use and never freed; entries are relaxed atomics.  A chunk that
 * cannot be allocated leaves its fds unknown, which costs lookups; but a
 * timeout the table cannot hold would be lost, so the calls that record
 * one make room first (weft__fd_reserve) and fail with ENOMEM if they
 * cannot.
 */
#include "fdtable.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>

#define CHUNK_SHIFT 12
#define CHUNK (1 << CHUNK_SHIFT)
#define NR_CHUNKS 4096 /* fds below 16 Mi are cached */

/* An entry: 0 (never seen or closed), or FD_KNOWN and what is known. */
enum {
	FD_KNOWN = 1,
	FD_NONBLOCK = 2,
	FD_TIMEO = 4,
	FD_STREAM = 8,
	FD_FILE = 16,
	FD_SOCKET = 32, /* with FD_STREAM */
};

/* SO_RCVTIMEO and SO_SNDTIMEO of one fd, in ns; 0 is none. */
struct timeo {
	_Atomic int64_t ns[2];
};

static _Atomic(void *) chunks[NR_CHUNKS];	/* of atomic_uchar */
static _Atomic(void *) timeo_chunks[NR_CHUNKS]; /* of struct timeo */

/* Chunk i of a table of elements of size, allocated if create. */
static void *chunk(_Atomic(void *) *table, unsigned i, size_t size, bool create)
{
	void *c = atomic_load_explicit(&table[i], memory_order_acquire), *fresh;

	if (c || !create)
		return c;
	fresh = WEFT_ALLOC(shim_fdtable, calloc(CHUNK, size));
	if (!fresh)
		return NULL;
	if (!atomic_compare_exchange_strong(&table[i], &c, fresh)) {
		free(fresh); /* another thread won; c is its chunk */
		return c;
	}
	return fresh;
}

/* The entry of fd, allocating its chunk if create; NULL if none. */
static atomic_uchar *entry(int fd, bool create)
{
	unsigned i = (unsigned)fd >> CHUNK_SHIFT;
	atomic_uchar *c;

	if (fd < 0 || i >= NR_CHUNKS)
		return NULL;
	c = chunk(chunks, i, sizeof(*c), create);
	return c ? &c[fd & (CHUNK - 1)] : NULL;
}

static struct timeo *timeo_entry(int fd, bool create)
{
	unsigned i = (unsigned)fd >> CHUNK_SHIFT;
	struct timeo *c;

	if (fd < 0 || i >= NR_CHUNKS)
		return NULL;
	c = chunk(timeo_chunks, i, sizeof(*c), create);
	return c ? &c[fd & (CHUNK - 1)] : NULL;
}

static unsigned char get(int fd)
{
	atomic_uchar *e = entry(fd, false);

	return e ? atomic_load_explicit(e, memory_order_relaxed) : 0;
}

static void put(int fd, unsigned char v)
{
	atomic_uchar *e = entry(fd, v != 0);

	if (e)
		atomic_store_explicit(e, v, memory_order_relaxed);
}

void weft__fd_set(int fd, bool nonblock)
{
	put(fd, FD_KNOWN | (nonblock ? FD_NONBLOCK : 0));
}

void weft__fd_set_stream(int fd, bool nonblock)
{
	put(fd, FD_KNOWN | FD_STREAM | (nonblock ? FD_NONBLOCK : 0));
}

/* Are read and write on a socket of this type recv and send? */
static bool recv_send(int type)
{
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	return type == SOCK_STREAM || type == SOCK_DGRAM || type == SOCK_RAW;
}

void weft__fd_set_socket(int fd, int type)
{
	put(fd, FD_KNOWN | FD_STREAM | (recv_send(type) ? FD_SOCKET : 0) |
			(type & SOCK_NONBLOCK ? FD_NONBLOCK : 0));
}

void weft__fd_set_nonblock(int fd, bool nonblock)
{
	unsigned char v = get(fd) &
			  (FD_TIMEO | FD_STREAM | FD_FILE | FD_SOCKET);

	put(fd, v | FD_KNOWN | (nonblock ? FD_NONBLOCK : 0));
}

void weft__fd_forget(int fd)
{
	put(fd, 0);
}

void weft__fd_forget_range(unsigned first, unsigned last)
{
	for (unsigned i = first >> CHUNK_SHIFT;
	     i <= (last >> CHUNK_SHIFT) && i < NR_CHUNKS; i++) {
		atomic_uchar *c = chunk(chunks, i, 1, false);
		unsigned lo = i << CHUNK_SHIFT, hi = lo + CHUNK - 1;

		if (!c)
			continue;
		lo = lo < first ? first : lo;
		hi = hi > last ? last : hi;
		for (unsigned fd = lo; fd <= hi; fd++)
			atomic_store_explicit(&c[fd & (CHUNK - 1)], 0,
					      memory_order_relaxed);
	}
}

static void copy_timeouts(int from, int to)
{
	struct timeo *f = timeo_entry(from, false), *t;

	if (!f || !(t = timeo_entry(to, true)))
		return;
	for (int i = 0; i < 2; i++)
		atomic_store_explicit(
			&t->ns[i],
			atomic_load_explicit(&f->ns[i], memory_order_relaxed),
			memory_order_relaxed);
}

void weft__fd_copy(int from, int to)
{
	unsigned char v = get(from);

	if (v & FD_TIMEO)
		copy_timeouts(from, to);
	put(to, v);
}

void weft__fd_inherit_timeouts(int from, int to)
{
	if (!(get(from) & FD_TIMEO) || !(get(to) & FD_KNOWN))
		return;
	copy_timeouts(from, to);
	put(to, get(to) | FD_TIMEO);
}

bool weft__fd_has_timeouts(int fd)
{
	return get(fd) & FD_TIMEO;
}

bool weft__fd_reserve(int fd)
{
	if (fd < 0 || ((unsigned)fd >> CHUNK_SHIFT) >= NR_CHUNKS)
		return true; /* never cached: nothing to make room for */
	return entry(fd, true) && timeo_entry(fd, true);
}

bool weft__fd_nonblock(int fd)
{
	unsigned char v = get(fd);
	int fl, saved = errno;

	if (v & FD_KNOWN)
		return v & FD_NONBLOCK;
	fl = REAL(fcntl64)(fd, F_GETFL);
	if (fl < 0) {
		errno = saved;
		return false; /* the ring reports EBADF as the call would */
	}
	weft__fd_set(fd, fl & O_NONBLOCK);
	return fl & O_NONBLOCK;
}

unsigned weft__fd_kind(int fd)
{
	unsigned char v = get(fd);
	struct stat st;
	int saved = errno, type;
	socklen_t len = sizeof(type);

	if (!(v & (FD_STREAM | FD_FILE))) {
		if (fstat(fd, &st) < 0) {
			errno = saved;
			return 0;
		}
		v |= S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
				     S_ISCHR(st.st_mode) ?
			     FD_FILE :
			     FD_STREAM;
		if (S_ISSOCK(st.st_mode) &&
		    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
		    recv_send(type))
			v |= FD_SOCKET;
		errno = saved;
		/* Only on a known entry: an unknown one says nothing. */
		if (v & FD_KNOWN)
			put(fd, v);
	}
	if (v & FD_FILE)
		return WEFT_IMPL_FD_FILE;
	return WEFT_IMPL_FD_STREAM | (v & FD_SOCKET ? WEFT_IMPL_FD_SOCKET : 0);
}

int64_t weft__fd_timeout(int fd, int which)
{
	struct timeo *t;

	if (!(get(fd) & FD_TIMEO) || !(t = timeo_entry(fd, false)))
		return 0;
	return atomic_load_explicit(&t->ns[which], memory_order_relaxed);
}

void weft__fd_set_timeout(int fd, int which, int64_t ns)
{
	struct timeo *t = timeo_entry(fd, ns != 0);
	unsigned char v = get(fd);

	if (!t)
		return;
	if (!(v & FD_TIMEO)) /* what is there belongs to a closed fd */
		atomic_store_explicit(&t->ns[!which], 0, memory_order_relaxed);
	atomic_store_explicit(&t->ns[which], ns, memory_order_relaxed);
	if (ns || atomic_load_explicit(&t->ns[!which], memory_order_relaxed))
		v |= FD_TIMEO;
	else
		v &= ~FD_TIMEO;
	/* An fd the table has not seen yet is looked up again later. */
	if (v & FD_KNOWN)
		put(fd, v);
	else if (ns)
		put(fd, (weft__fd_nonblock(fd) ? FD_NONBLOCK : 0) | FD_KNOWN |
				FD_TIMEO);
}

int weft__fd_duped(int from, int to)
{
	if (to < 0 || to == from)
		return to;
	if (weft__fd_has_timeouts(from) && !weft__fd_reserve(to)) {
		REAL(close)(to);
		errno = ENOMEM;
		return -1;
	}
	weft__fd_copy(from, to);
	return to;
}

bool weft__fd_room_for(int from, int to)
{
	if (weft__fd_has_timeouts(from) && !weft__fd_reserve(to)) {
		errno = ENOMEM;
		return false;
	}
	return true;
}

int weft__fd_accepted(int lfd, int fd, int flags)
{
	if (fd < 0)
		return fd;
	if (weft__fd_has_timeouts(lfd) && !weft__fd_reserve(fd)) {
		REAL(close)(fd);
		errno = ENOMEM;
		return -1;
	}
	/* Of the listener's kind; looked up on first use if that is unknown. */
	put(fd, FD_KNOWN | (get(lfd) & (FD_STREAM | FD_SOCKET)) |
			(flags & SOCK_NONBLOCK ? FD_NONBLOCK : 0));
	weft__fd_inherit_timeouts(lfd, fd);
	return fd;
}

#if WEFT_FAULT_INJECTION
void weft__fd_table_reset(void)
{
	for (unsigned i = 0; i < NR_CHUNKS; i++) {
		free(atomic_exchange(&chunks[i], NULL));
		free(atomic_exchange(&timeo_chunks[i], NULL));
	}
}
#endif

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the shim's fd table (shim/fdtable.c): random
 * sequences of the events the interposed calls report (pipes, socket
 * pairs, files, a listener and accept, dup, dup2 to far fds, F_DUPFD,
 * F_SETFL, FIONBIO, close, SO_RCVTIMEO/SO_SNDTIMEO, fds made behind the
 * table's back) are made on real fds and told to the table as fd.c,
 * net.c and timeo.c tell it, while a simple model keeps what the table
 * must answer.  In a fault-injection build the input also makes chunk
 * allocations fail, the table starting from nothing each time.
 *
 * After every event, for every open fd: O_NONBLOCK as the table says it
 * is the kernel's (unless the flag was changed through a dup since: the
 * table is per fd, and a stale entry only costs a system call); the kind
 * (stream or file, and of a socket whether its read and write are recv
 * and send: any type but SOCK_SEQPACKET) is fstat's and SO_TYPE's; the
 * timeouts are the model's: set through that fd, copied by dup, inherited
 * by accept, never lost (a call that cannot record one fails with ENOMEM,
 * and only when memory failed).
 *
 *     build-fuzz/test/fuzz/fuzz_fdtable -max_total_time=600 corpus \
 *         test/fuzz/corpus-fdtable      (see test/fuzz/run.sh)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdtable.h"
#define FUZZ_NAME "fuzz_fdtable"
#include "input.h"

#define SLOTS 12
#define FAR 4096 /* the first fd of the second chunk */

/* What the table must say of one open fd. */
struct fd {
	int fd;		/* -1: the slot is empty */
	int file;	/* fds of one open file share O_NONBLOCK */
	bool synced;	/* its entry has the file's O_NONBLOCK */
	bool listener;	/* listening: accept works */
	int64_t tmo[2]; /* WEFT_RCVTIMEO, WEFT_SNDTIMEO */
};

static struct fd slot[SLOTS];
static int next_file;
static bool may_fail; /* a chunk allocation was made to fail */

static void check_one(const struct fd *s)
{
	struct stat st;
	int fl = fcntl(s->fd, F_GETFL);
	unsigned kind;

	CHECK(fl >= 0);
	if (s->synced)
		CHECK(weft__fd_nonblock(s->fd) == !!(fl & O_NONBLOCK));
	CHECK(fstat(s->fd, &st) == 0);
	kind = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ||
			       S_ISCHR(st.st_mode) ?
		       WEFT_IMPL_FD_FILE :
		       WEFT_IMPL_FD_STREAM;
	/* A socket whose read and write are recv and send: not SEQPACKET. */
	if (S_ISSOCK(st.st_mode)) {
		int type;
		socklen_t len = sizeof(type);

		CHECK(getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0);
		if (type != SOCK_SEQPACKET)
			kind |= WEFT_IMPL_FD_SOCKET;
	}
	CHECK(weft__fd_kind(s->fd) == kind);
	for (int w = 0; w < 2; w++)
		CHECK(weft__fd_timeout(s->fd, w) == s->tmo[w]);
	CHECK(weft__fd_has_timeouts(s->fd) == (s->tmo[0] || s->tmo[1]));
}

static void check_all(void)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd >= 0)
			check_one(&slot[i]);
}

static struct fd *empty_slot(void)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd < 0)
			return &slot[i];
	return NULL;
}

static struct fd *pick(unsigned a)
{
	struct fd *s = &slot[a % SLOTS];

	return s->fd >= 0 ? s : NULL;
}

/* Which slot holds fd number n, if any. */
static struct fd *holder(int n)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd == n)
			return &slot[i];
	return NULL;
}

/* A fresh fd of a new open file, as the table was told of it. */
static void fresh(struct fd *s, int fd)
{
	*s = (struct fd){ .fd = fd, .file = ++next_file, .synced = true };
}

/* fd was made by dup of from: the table's answer, ENOMEM, or an error. */
static void duped(struct fd *from, struct fd *to, int r)
{
	if (r < 0) {
		CHECK(errno != ENOMEM ||
		      (may_fail && from->tmo[0] + from->tmo[1]));
		return;
	}
	*to = *from;
	to->fd = r;
	to->listener = from->listener;
}

/* O_NONBLOCK of from's open file changed: its other fds are stale. */
static void flag_changed(struct fd *s)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd >= 0 && slot[i].file == s->file)
			slot[i].synced = &slot[i] == s;
}

static void do_close(struct fd *s)
{
	CHECK(close(s->fd) == 0);
	weft__fd_forget(s->fd);
	s->fd = -1;
}

/*
 * As close_range(lo, hi) in fd.c, but closing only the slots' fds: the
 * fuzzer's own fds in the span were never in the table.
 */
static void close_span(unsigned lo, unsigned hi)
{
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd >= 0 && (unsigned)slot[i].fd >= lo &&
		    (unsigned)slot[i].fd <= hi) {
			CHECK(close(slot[i].fd) == 0);
			slot[i].fd = -1;
		}
	weft__fd_forget_range(lo, hi);
}

static int64_t timeout_of(unsigned b)
{
	static const int64_t values[] = { 0, 1000000, 5000000000LL, 1000 };

	return values[b % 4];
}

static void set_timeout(struct fd *s, unsigned which, unsigned b)
{
	int64_t ns = timeout_of(b);
	struct timeval tv = { ns / 1000000000, ns % 1000000000 / 1000 };
	int name = which ? SO_SNDTIMEO : SO_RCVTIMEO, r;

	/* As timeo.c's setsockopt: room first, then the kernel, then us. */
	if (!weft__fd_reserve(s->fd)) {
		CHECK(may_fail);
		return;
	}
	r = setsockopt(s->fd, SOL_SOCKET, name, &tv, sizeof(tv));
	if (r)
		return; /* not a socket */
	weft__fd_set_timeout(s->fd, which, ns);
	s->tmo[which] = tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
}

static void make_listener(struct fd *s, unsigned b)
{
	static unsigned n;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int type = b & 2 ? SOCK_SEQPACKET : SOCK_STREAM;
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	/* An abstract name of this process's own. */
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "weft-fuzz-%d-%u",
		 (int)getpid(), n++);
	CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(fd, 8) == 0);
	weft__fd_set_socket(fd, type);
	fresh(s, fd);
	s->listener = true;
}

static void do_accept(struct fd *l, unsigned b)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	struct fd *c = empty_slot(), *n;
	int fd, r, type;
	socklen_t tlen = sizeof(type);

	if (!c || getsockname(l->fd, (struct sockaddr *)&a, &len))
		return;
	CHECK(getsockopt(l->fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0);
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	weft__fd_set_socket(fd, type);
	fresh(c, fd);
	CHECK(connect(fd, (struct sockaddr *)&a, len) == 0);
	if (!(n = empty_slot()))
		return;
	r = accept4(l->fd, NULL, NULL,
		    (b & 1 ? SOCK_NONBLOCK : 0) | SOCK_CLOEXEC);
	CHECK(r >= 0);
	r = weft__fd_accepted(l->fd, r, b & 1 ? SOCK_NONBLOCK : 0);
	if (r < 0) {
		CHECK(errno == ENOMEM && may_fail);
		return;
	}
	fresh(n, r);
	n->tmo[0] = l->tmo[0]; /* as the kernel, the listener's */
	n->tmo[1] = l->tmo[1];
}

static void step(struct input *in)
{
	unsigned op = take(in) % 15, a = take(in), b = take(in);
	struct fd *s = pick(a), *e = empty_slot(), *t;
	int p[2], r, on;

	switch (op) {
	case 0: /* pipe2 */
		if (!e || pipe2(p, (b & 1 ? O_NONBLOCK : 0) | O_CLOEXEC))
			break;
		weft__fd_set_stream(p[0], b & 1);
		weft__fd_set_stream(p[1], b & 1);
		fresh(e, p[0]);
		if ((t = empty_slot()))
			fresh(t, p[1]);
		else
			do_close(&(struct fd){ .fd = p[1] });
		break;
	case 1: /* socketpair */
		on = (b & 2 ? SOCK_SEQPACKET : SOCK_STREAM) |
		     (b & 1 ? SOCK_NONBLOCK : 0);
		if (!e || socketpair(AF_UNIX, on | SOCK_CLOEXEC, 0, p))
			break;
		weft__fd_set_socket(p[0], on);
		weft__fd_set_socket(p[1], on);
		fresh(e, p[0]);
		if ((t = empty_slot()))
			fresh(t, p[1]);
		else
			do_close(&(struct fd){ .fd = p[1] });
		break;
	case 2: /* open, as fd.c's opened() */
		if (!e)
			break;
		r = open(b & 2 ? "/dev/null" : "/proc/self/stat",
			 O_RDONLY | O_CLOEXEC | (b & 1 ? O_NONBLOCK : 0));
		CHECK(r >= 0);
		weft__fd_set(r, b & 1);
		fresh(e, r);
		break;
	case 3: /* dup */
		if (s && e)
			duped(s, e, weft__fd_duped(s->fd, dup(s->fd)));
		break;
	case 4: /* dup2 onto a slot's fd, or a far one */
		if (!s)
			break;
		t = pick(b);
		if (t && t != s) {
			if (!weft__fd_room_for(s->fd, t->fd)) {
				CHECK(may_fail);
				break;
			}
			r = weft__fd_duped(s->fd, dup2(s->fd, t->fd));
			CHECK(r == t->fd);
			duped(s, t, r);
		} else if (e) {
			int far = FAR * (1 + b % 4) + a;

			if (holder(far))
				break;
			if (!weft__fd_room_for(s->fd, far)) {
				CHECK(may_fail);
				break;
			}
			r = weft__fd_duped(s->fd, dup3(s->fd, far, O_CLOEXEC));
			if (r < 0 && errno == EBADF)
				break; /* past RLIMIT_NOFILE */
			duped(s, e, r);
		}
		break;
	case 5: /* F_DUPFD */
		if (s && e) {
			r = fcntl(s->fd, F_DUPFD_CLOEXEC, b * 37);
			duped(s, e, r < 0 ? r : weft__fd_duped(s->fd, r));
		}
		break;
	case 6: /* F_SETFL, as fd.c */
		if (!s)
			break;
		on = fcntl(s->fd, F_GETFL);
		on = b & 1 ? on | O_NONBLOCK : on & ~O_NONBLOCK;
		CHECK(fcntl(s->fd, F_SETFL, on) == 0);
		weft__fd_set_nonblock(s->fd, on & O_NONBLOCK);
		flag_changed(s);
		break;
	case 7: /* FIONBIO */
		if (!s)
			break;
		on = b & 1;
		if (ioctl(s->fd, FIONBIO, &on))
			break;
		weft__fd_set_nonblock(s->fd, on);
		flag_changed(s);
		break;
	case 8:
		if (s)
			do_close(s);
		break;
	case 9: /* close_range from s's fd: the slots' fds in it */
		if (s)
			close_span(s->fd, b & 8 ? ~0u : s->fd + b % 8);
		break;
	case 10:
	case 11:
		if (s)
			set_timeout(s, b & 1, b >> 1);
		break;
	case 12:
		if (s && s->listener)
			do_accept(s, b);
		else if (e)
			make_listener(e, b);
		break;
	case 13: /* an fd made behind the table's back: looked up */
		if (s && e && (r = fcntl(s->fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
			fresh(e, r);
			e->file = s->file;
		}
		break;
	case 14: /* the next chunk allocations fail */
#if WEFT_FAULT_INJECTION
		weft__fault_arm(WEFT_FAULT_shim_fdtable, a % 4, b & 1);
		may_fail = true;
#endif
		break;
	}
	check_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	for (int i = 0; i < SLOTS; i++)
		slot[i].fd = -1;
	may_fail = false;
#if WEFT_FAULT_INJECTION
	weft__fault_arm(-1, 0, false);
	weft__fd_table_reset();
#endif
	for (int ops = 0; in.n && ops < 64; ops++)
		step(&in);
#if WEFT_FAULT_INJECTION
	weft__fault_arm(-1, 0, false);
#endif
	for (int i = 0; i < SLOTS; i++)
		if (slot[i].fd >= 0)
			do_close(&slot[i]);
	return 0;
}

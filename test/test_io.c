/* SPDX-License-Identifier: MIT */
/*
 * The blocking operations on pipes, sockets and files, each compared with
 * the system call it stands for, from virtual and from plain threads.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/weftimpl.h" /* weft__impl_blocking */

#define T_ERRNO 12345 /* errno sentinel: weft must leave it alone */
#define T_FD 1000000L /* "a new fd": numbers differ from run to run */
#define T_BADFD 4000  /* never open in these tests */
#define MIB (1024 * 1024)

static void t_nosigpipe(void)
{
	signal(SIGPIPE, SIG_IGN);
}

TestSuite(io_compare, .timeout = 60, .init = t_nosigpipe);
TestSuite(io_block, .timeout = 60, .init = t_nosigpipe);
TestSuite(io_plain, .timeout = 60, .init = t_nosigpipe);
TestSuite(io_stress, .timeout = 120, .init = t_nosigpipe);
TestSuite(io_signal, .timeout = 30);
TestSuite(io, .timeout = 60);

/* ---- failures seen off the test's own thread ---- */

/*
 * Criterion's asserts longjmp to the test's own stack, which is wrong from
 * a virtual thread or a pthread; those record the first failure here and
 * return nonzero, and the test's thread asserts on it after the join.
 */
static char v_msg[512];
static atomic_int v_failed;

static void t_vfail(int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (atomic_exchange(&v_failed, 1))
		return;
	n = snprintf(v_msg, sizeof(v_msg), "line %d: ", line);
	va_start(ap, fmt);
	vsnprintf(v_msg + n, sizeof(v_msg) - n, fmt, ap);
	va_end(ap);
}

#define V_EQ(a, b)                                                          \
	do {                                                                \
		long long a_ = (long long)(a), b_ = (long long)(b);         \
		if (a_ != b_) {                                             \
			t_vfail(__LINE__, "%s == %s: %lld != %lld", #a, #b, \
				a_, b_);                                    \
			return -1;                                          \
		}                                                           \
	} while (0)

#define V_TRUE(c)                                    \
	do {                                         \
		if (!(c)) {                          \
			t_vfail(__LINE__, "%s", #c); \
			return -1;                   \
		}                                    \
	} while (0)

/* Setup steps that cannot fail in a sane environment. */
#define T_OK(call)                                                           \
	({                                                                   \
		long r_ = (long)(call);                                      \
		if (r_ < 0)                                                  \
			t_vfail(__LINE__, "%s: %s", #call, strerror(errno)); \
		r_;                                                          \
	})

#define T_RUN(fn, arg)                                                    \
	do {                                                              \
		intptr_t v_ = t_run(fn, arg);                             \
		cr_assert_eq(v_, 0, "%s returned %ld: %s", #fn, (long)v_, \
			     v_msg);                                      \
		cr_assert_eq(atomic_load(&v_failed), 0, "%s", v_msg);     \
	} while (0)

/* ---- the ways an operation is made ---- */

enum {
	W_NATIVE,  /* the libc call itself, -errno */
	W_PLAIN,   /* weft, on the test's thread, runtime not started */
	W_VTHREAD, /* weft, in a virtual thread */
	W_PTHREAD, /* weft, in a pthread while the runtime runs */
	W_RUNNING, /* weft, on the test's thread, the runtime running */
	NR_WAYS,
};

static const char *const way_name[NR_WAYS] = {
	"native",  "plain thread before start",	 "virtual thread",
	"pthread", "plain thread while running",
};

/*
 * Make one call the native way or the weft way.  A weft call must leave
 * errno alone, whatever its result.
 */
#define DO(way, native, weft)                               \
	({                                                  \
		long r_;                                    \
		if ((way) == W_NATIVE) {                    \
			errno = 0;                          \
			r_ = (long)(native);                \
			if (r_ < 0)                         \
				r_ = -errno;                \
		} else {                                    \
			errno = T_ERRNO;                    \
			r_ = (long)(weft);                  \
			if (errno != T_ERRNO)               \
				t_vfail(__LINE__,           \
					"%s changed errno " \
					"to %d",            \
					#weft, errno);      \
		}                                           \
		r_;                                         \
	})

/*
 * What one way saw: the result, a few facts observed afterwards (flags of
 * a new fd, the file position, lengths written back, ...), and the bytes
 * read, or the bytes the peer got.
 */
struct t_out {
	long r;
	long x[6];
	size_t n;
	unsigned char d[1100];
};

struct t_case {
	const char *name;
	void (*fn)(int way, struct t_out *o);
	long want; /* the native result, checked first */
};

#define CASE(name) static void name(int way, struct t_out *o)

/* ---- setup ---- */

static long t_fd(long r)
{
	return r >= 0 ? T_FD : r;
}

static void t_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void t_pipe(int p[2], const char *data)
{
	T_OK(pipe2(p, O_CLOEXEC));
	if (data && *data)
		T_OK(write(p[1], data, strlen(data)));
}

static void t_sockpair(int s[2], int type, const char *data)
{
	T_OK(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, s));
	if (data && *data)
		T_OK(write(s[1], data, strlen(data)));
}

static void t_set_nonblock(int fd)
{
	T_OK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
}

/* Wait up to 2 s until fd has at least want bytes queued for reading. */
static int t_wait_queued(int fd, int want)
{
	int64_t end = weft_now() + 2 * T_SEC;
	int n = 0;

	for (;;) {
		if (ioctl(fd, FIONREAD, &n) < 0)
			return -errno;
		if (n >= want || weft_now() > end)
			return n;
		poll(NULL, 0, 1);
	}
}

/* Read what is queued on fd (once want bytes are there) into o->d. */
static void t_drain(int fd, struct t_out *o, int want)
{
	int n = t_wait_queued(fd, want);
	ssize_t r;

	if (n <= 0)
		return;
	if ((size_t)n > sizeof(o->d) - o->n)
		n = sizeof(o->d) - o->n;
	r = recv(fd, o->d + o->n, n, MSG_DONTWAIT);
	if (r < 0 && errno == ENOTSOCK)
		r = read(fd, o->d + o->n, n);
	if (r > 0)
		o->n += r;
}

/* A file in /tmp holding data, opened with flags, already unlinked. */
static int t_tmpfile(const char *data, int flags)
{
	char path[] = "/tmp/weft-io-XXXXXX";
	int fd = mkstemp(path), r;

	if (fd < 0) {
		t_vfail(__LINE__, "mkstemp: %s", strerror(errno));
		return -1;
	}
	if (data && *data)
		T_OK(write(fd, data, strlen(data)));
	close(fd);
	r = T_OK(open(path, flags | O_CLOEXEC));
	unlink(path);
	return r;
}

static long t_pos(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/* The whole of a file, through pread, into o->d. */
static void t_file_contents(int fd, struct t_out *o)
{
	ssize_t r = pread(fd, o->d, sizeof(o->d), 0);

	o->n = r > 0 ? r : 0;
}

static struct sockaddr_in t_loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	return a;
}

/* A TCP socket connected to the listener on port (still in its backlog). */
static int t_client(int port)
{
	struct sockaddr_in a = t_loopback(port);
	int c = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	T_OK(connect(c, (struct sockaddr *)&a, sizeof(a)));
	return c;
}

/* A UDP socket bound to 127.0.0.1 on an ephemeral port. */
static int t_udp(struct sockaddr_in *ret_addr)
{
	struct sockaddr_in a = t_loopback(0);
	socklen_t len = sizeof(a);
	int fd = T_OK(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	T_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	T_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	if (ret_addr)
		*ret_addr = a;
	return fd;
}

/* poll(2) on one fd as weft_poll() reports it: the revents, or -errno. */
static int t_poll1(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r = poll(&p, 1, -1);

	return r < 0 ? r : p.revents;
}

/*
 * A call that must not wait (O_NONBLOCK) might wait anyway through weft:
 * a rescuer pthread then completes it after a second, so that the case
 * reports a wrong result instead of hanging the whole table.
 */
enum { R_WRITE, R_READ, R_CONNECT };

struct t_rescue {
	pthread_t t;
	atomic_int done;
	int how;  /* R_*: what unblocks the call */
	int fd;	  /* written or read, or the port to connect to */
	int conn; /* R_CONNECT: the socket that connected */
};

static void *t_rescuer(void *arg)
{
	struct t_rescue *r = arg;
	struct sockaddr_in a;
	char buf[1 << 16];

	for (int i = 0; i < 100; i++) {
		if (atomic_load(&r->done))
			return NULL;
		poll(NULL, 0, 10);
	}
	switch (r->how) {
	case R_WRITE:
		T_OK(write(r->fd, "!", 1));
		break;
	case R_READ:
		T_OK(read(r->fd, buf, sizeof(buf)));
		break;
	case R_CONNECT:
		a = t_loopback(r->fd);
		r->conn = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		T_OK(connect(r->conn, (struct sockaddr *)&a, sizeof(a)));
		break;
	}
	return NULL;
}

static void t_rescue_start(struct t_rescue *r, int how, int fd)
{
	*r = (struct t_rescue){ .how = how, .fd = fd, .conn = -1 };
	if (pthread_create(&r->t, NULL, t_rescuer, r))
		t_vfail(__LINE__, "pthread_create failed");
}

static void t_rescue_stop(struct t_rescue *r)
{
	atomic_store(&r->done, 1);
	pthread_join(r->t, NULL);
	if (r->conn >= 0)
		close(r->conn);
}

/* Values the compiler must not see through: bad arguments on purpose. */
static void *t_opaque(void *p)
{
	__asm__("" : "+r"(p));
	return p;
}

static int t_opaque_int(int v)
{
	__asm__("" : "+r"(v));
	return v;
}

static unsigned char big_buf[64];	   /* for the 4 GiB lengths */
static struct iovec many_iov[IOV_MAX + 1]; /* one byte each */
static unsigned char many_buf[IOV_MAX + 1];

/* ---- read ---- */

CASE(c_read_short)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, read(p[0], o->d, 64), weft_read(p[0], o->d, 64));
	close(p[0]);
	close(p[1]);
}

CASE(c_read_zero_len)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, read(p[0], o->d, 0), weft_read(p[0], o->d, 0));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
}

CASE(c_read_file_pos)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	lseek(fd, 3, SEEK_SET);
	o->r = DO(way, read(fd, o->d, 4), weft_read(fd, o->d, 4));
	o->x[0] = t_pos(fd);
	o->x[1] = DO(way, read(fd, o->d + 8, 64), weft_read(fd, o->d + 8, 64));
	o->x[2] = t_pos(fd);
	o->x[3] = DO(way, read(fd, o->d, 64), weft_read(fd, o->d, 64));
	close(fd);
}

CASE(c_read_eof_pipe)
{
	int p[2];

	t_pipe(p, NULL);
	close(p[1]);
	o->r = DO(way, read(p[0], o->d, 64), weft_read(p[0], o->d, 64));
	close(p[0]);
}

/* A length above 4 GiB reads what there is, like read(2). */
CASE(c_read_len_over_4g)
{
	size_t len = ((size_t)1 << 32) + 4;
	void *buf = t_opaque(big_buf);
	int p[2];

	t_pipe(p, "0123456789");
	o->r = DO(way, read(p[0], buf, len), weft_read(p[0], buf, len));
	memcpy(o->d, big_buf, sizeof(big_buf));
	memset(big_buf, 0, sizeof(big_buf));
	close(p[0]);
	close(p[1]);
}

CASE(c_read_dev_zero)
{
	int fd = T_OK(open("/dev/zero", O_RDONLY | O_CLOEXEC));

	memset(o->d, 0xaa, 100);
	o->r = DO(way, read(fd, o->d, 64), weft_read(fd, o->d, 64));
	close(fd);
}

CASE(c_read_ebadf_closed)
{
	o->r = DO(way, read(T_BADFD, o->d, 8), weft_read(T_BADFD, o->d, 8));
}

CASE(c_read_ebadf_minus1)
{
	o->r = DO(way, read(-1, o->d, 8), weft_read(-1, o->d, 8));
}

CASE(c_read_ebadf_write_end)
{
	int p[2];

	t_pipe(p, "x");
	o->r = DO(way, read(p[1], o->d, 8), weft_read(p[1], o->d, 8));
	close(p[0]);
	close(p[1]);
}

CASE(c_read_eisdir)
{
	int fd = T_OK(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));

	o->r = DO(way, read(fd, o->d, 8), weft_read(fd, o->d, 8));
	close(fd);
}

CASE(c_read_eagain_nonblock)
{
	int p[2];

	struct t_rescue rs;

	t_pipe(p, NULL);
	t_set_nonblock(p[0]);
	t_rescue_start(&rs, R_WRITE, p[1]);
	o->r = DO(way, read(p[0], o->d, 8), weft_read(p[0], o->d, 8));
	t_rescue_stop(&rs);
	close(p[0]);
	close(p[1]);
}

/* eventfd reads take 8 bytes or more. */
CASE(c_read_einval_eventfd)
{
	int fd = T_OK(eventfd(3, EFD_CLOEXEC));

	o->r = DO(way, read(fd, o->d, 4), weft_read(fd, o->d, 4));
	o->x[0] = DO(way, read(fd, o->d, 8), weft_read(fd, o->d, 8));
	close(fd);
}

CASE(c_read_efault)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, read(p[0], t_opaque(NULL), 8),
		  weft_read(p[0], t_opaque(NULL), 8));
	close(p[0]);
	close(p[1]);
}

static const struct t_case read_cases[] = {
	{ "read short", c_read_short, 5 },
	{ "read zero length", c_read_zero_len, 0 },
	{ "read file position", c_read_file_pos, 4 },
	{ "read EOF of a pipe", c_read_eof_pipe, 0 },
	{ "read length over 4 GiB", c_read_len_over_4g, 10 },
	{ "read /dev/zero", c_read_dev_zero, 64 },
	{ "read EBADF closed", c_read_ebadf_closed, -EBADF },
	{ "read EBADF -1", c_read_ebadf_minus1, -EBADF },
	{ "read EBADF write end", c_read_ebadf_write_end, -EBADF },
	{ "read EISDIR", c_read_eisdir, -EISDIR },
	{ "read EAGAIN O_NONBLOCK", c_read_eagain_nonblock, -EAGAIN },
	{ "read EINVAL eventfd", c_read_einval_eventfd, -EINVAL },
	{ "read EFAULT", c_read_efault, -EFAULT },
};

/* ---- write ---- */

CASE(c_write_pipe)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, write(p[1], "abc", 3), weft_write(p[1], "abc", 3));
	t_drain(p[0], o, 3);
	close(p[0]);
	close(p[1]);
}

CASE(c_write_file_pos)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	lseek(fd, 2, SEEK_SET);
	o->r = DO(way, write(fd, "hello", 5), weft_write(fd, "hello", 5));
	o->x[0] = t_pos(fd);
	o->x[1] = DO(way, write(fd, "world", 5), weft_write(fd, "world", 5));
	o->x[2] = t_pos(fd);
	t_file_contents(fd, o);
	close(fd);
}

CASE(c_write_append)
{
	int fd = t_tmpfile("0123456789", O_RDWR | O_APPEND);

	o->r = DO(way, write(fd, "ab", 2), weft_write(fd, "ab", 2));
	o->x[0] = t_pos(fd);
	t_file_contents(fd, o);
	close(fd);
}

/* O_NONBLOCK: a write larger than the pipe writes what fits. */
CASE(c_write_nonblock_short)
{
	char *buf = calloc(1, MIB);
	int p[2];

	t_pipe(p, NULL);
	t_set_nonblock(p[1]);
	o->r = DO(way, write(p[1], buf, MIB), weft_write(p[1], buf, MIB));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
	free(buf);
}

CASE(c_write_eagain_full)
{
	char buf[4096] = { 0 };
	struct t_rescue rs;
	int p[2];

	t_pipe(p, NULL);
	t_set_nonblock(p[1]);
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	t_rescue_start(&rs, R_READ, p[0]);
	o->r = DO(way, write(p[1], "x", 1), weft_write(p[1], "x", 1));
	t_rescue_stop(&rs);
	close(p[0]);
	close(p[1]);
}

CASE(c_write_epipe)
{
	int p[2];

	t_pipe(p, NULL);
	close(p[0]);
	o->r = DO(way, write(p[1], "x", 1), weft_write(p[1], "x", 1));
	close(p[1]);
}

CASE(c_write_ebadf_closed)
{
	o->r = DO(way, write(T_BADFD, "x", 1), weft_write(T_BADFD, "x", 1));
}

CASE(c_write_ebadf_minus1)
{
	o->r = DO(way, write(-1, "x", 1), weft_write(-1, "x", 1));
}

CASE(c_write_ebadf_read_end)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, write(p[0], "x", 1), weft_write(p[0], "x", 1));
	close(p[0]);
	close(p[1]);
}

CASE(c_write_ebadf_rdonly_file)
{
	int fd = t_tmpfile("abc", O_RDONLY);

	o->r = DO(way, write(fd, "x", 1), weft_write(fd, "x", 1));
	close(fd);
}

CASE(c_write_einval_eventfd)
{
	uint64_t max = UINT64_MAX;
	int fd = T_OK(eventfd(0, EFD_CLOEXEC));

	o->r = DO(way, write(fd, "abcd", 4), weft_write(fd, "abcd", 4));
	o->x[0] = DO(way, write(fd, &max, 8), weft_write(fd, &max, 8));
	close(fd);
}

CASE(c_write_dev_null)
{
	int fd = T_OK(open("/dev/null", O_WRONLY | O_CLOEXEC));

	o->r = DO(way, write(fd, many_buf, 64), weft_write(fd, many_buf, 64));
	close(fd);
}

CASE(c_write_efault)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, write(p[1], t_opaque(NULL), 8),
		  weft_write(p[1], t_opaque(NULL), 8));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
}

static const struct t_case write_cases[] = {
	{ "write pipe", c_write_pipe, 3 },
	{ "write file position", c_write_file_pos, 5 },
	{ "write O_APPEND", c_write_append, 2 },
	{ "write O_NONBLOCK short", c_write_nonblock_short, 65536 },
	{ "write EAGAIN full pipe", c_write_eagain_full, -EAGAIN },
	{ "write EPIPE", c_write_epipe, -EPIPE },
	{ "write EBADF closed", c_write_ebadf_closed, -EBADF },
	{ "write EBADF -1", c_write_ebadf_minus1, -EBADF },
	{ "write EBADF read end", c_write_ebadf_read_end, -EBADF },
	{ "write EBADF read-only file", c_write_ebadf_rdonly_file, -EBADF },
	{ "write EINVAL eventfd", c_write_einval_eventfd, -EINVAL },
	{ "write /dev/null", c_write_dev_null, 64 },
	{ "write EFAULT", c_write_efault, -EFAULT },
};

/* ---- readv, writev ---- */

CASE(c_readv_scatter)
{
	struct iovec iov[3] = {
		{ o->d, 2 },
		{ o->d + 10, 3 },
		{ o->d + 20, 100 },
	};
	int p[2];

	t_pipe(p, "hello world!");
	o->r = DO(way, readv(p[0], iov, 3), weft_readv(p[0], iov, 3));
	close(p[0]);
	close(p[1]);
}

CASE(c_readv_file_pos)
{
	struct iovec iov[2] = { { o->d, 3 }, { o->d + 10, 3 } };
	int fd = t_tmpfile("0123456789", O_RDWR);

	lseek(fd, 1, SEEK_SET);
	o->r = DO(way, readv(fd, iov, 2), weft_readv(fd, iov, 2));
	o->x[0] = t_pos(fd);
	close(fd);
}

CASE(c_readv_iovcnt_0)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, readv(p[0], many_iov, 0), weft_readv(p[0], many_iov, 0));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
}

CASE(c_readv_einval_negative)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, readv(p[0], many_iov, t_opaque_int(-1)),
		  weft_readv(p[0], many_iov, t_opaque_int(-1)));
	close(p[0]);
	close(p[1]);
}

CASE(c_readv_einval_too_many)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, readv(p[0], many_iov, IOV_MAX + 1),
		  weft_readv(p[0], many_iov, IOV_MAX + 1));
	close(p[0]);
	close(p[1]);
}

/* An iov_len above SSIZE_MAX. */
CASE(c_readv_einval_len)
{
	struct iovec iov[2] = { { o->d, 4 }, { o->d + 4, (size_t)-1 } };
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, readv(p[0], iov, 2), weft_readv(p[0], iov, 2));
	close(p[0]);
	close(p[1]);
}

CASE(c_readv_iov_max)
{
	int p[2], n;

	t_pipe(p, NULL);
	for (int i = 0; i < IOV_MAX; i++)
		o->d[i] = i * 7 + i / 256;
	T_OK(write(p[1], o->d, IOV_MAX));
	memset(o->d, 0, IOV_MAX);
	memset(many_buf, 0, sizeof(many_buf));
	o->r = DO(way, readv(p[0], many_iov, IOV_MAX),
		  weft_readv(p[0], many_iov, IOV_MAX));
	n = o->r > 0 ? o->r : 0;
	memcpy(o->d, many_buf, n);
	close(p[0]);
	close(p[1]);
}

CASE(c_readv_ebadf)
{
	struct iovec iov = { o->d, 8 };

	o->r = DO(way, readv(T_BADFD, &iov, 1), weft_readv(T_BADFD, &iov, 1));
}

CASE(c_writev_gather)
{
	struct iovec iov[3] = {
		{ "ab", 2 },
		{ "", 0 },
		{ "cde", 3 },
	};
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, writev(p[1], iov, 3), weft_writev(p[1], iov, 3));
	t_drain(p[0], o, 5);
	close(p[0]);
	close(p[1]);
}

CASE(c_writev_iov_max)
{
	int p[2];

	for (int i = 0; i < IOV_MAX; i++)
		many_buf[i] = i * 13 + i / 256;
	t_pipe(p, NULL);
	o->r = DO(way, writev(p[1], many_iov, IOV_MAX),
		  weft_writev(p[1], many_iov, IOV_MAX));
	t_drain(p[0], o, IOV_MAX);
	close(p[0]);
	close(p[1]);
}

CASE(c_writev_file_pos)
{
	struct iovec iov[2] = { { "AB", 2 }, { "CD", 2 } };
	int fd = t_tmpfile("0123456789", O_RDWR);

	lseek(fd, 3, SEEK_SET);
	o->r = DO(way, writev(fd, iov, 2), weft_writev(fd, iov, 2));
	o->x[0] = t_pos(fd);
	t_file_contents(fd, o);
	close(fd);
}

CASE(c_writev_einval_negative)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, writev(p[1], many_iov, t_opaque_int(-1)),
		  weft_writev(p[1], many_iov, t_opaque_int(-1)));
	close(p[0]);
	close(p[1]);
}

CASE(c_writev_einval_too_many)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, writev(p[1], many_iov, IOV_MAX + 1),
		  weft_writev(p[1], many_iov, IOV_MAX + 1));
	close(p[0]);
	close(p[1]);
}

CASE(c_writev_epipe)
{
	struct iovec iov = { "x", 1 };
	int p[2];

	t_pipe(p, NULL);
	close(p[0]);
	o->r = DO(way, writev(p[1], &iov, 1), weft_writev(p[1], &iov, 1));
	close(p[1]);
}

static const struct t_case vec_cases[] = {
	{ "readv scatter", c_readv_scatter, 12 },
	{ "readv file position", c_readv_file_pos, 6 },
	{ "readv iovcnt 0", c_readv_iovcnt_0, 0 },
	{ "readv EINVAL iovcnt -1", c_readv_einval_negative, -EINVAL },
	{ "readv EINVAL iovcnt > IOV_MAX", c_readv_einval_too_many, -EINVAL },
	{ "readv EINVAL iov_len", c_readv_einval_len, -EINVAL },
	{ "readv IOV_MAX vectors", c_readv_iov_max, IOV_MAX },
	{ "readv EBADF", c_readv_ebadf, -EBADF },
	{ "writev gather", c_writev_gather, 5 },
	{ "writev IOV_MAX vectors", c_writev_iov_max, IOV_MAX },
	{ "writev file position", c_writev_file_pos, 4 },
	{ "writev EINVAL iovcnt -1", c_writev_einval_negative, -EINVAL },
	{ "writev EINVAL iovcnt > IOV_MAX", c_writev_einval_too_many, -EINVAL },
	{ "writev EPIPE", c_writev_epipe, -EPIPE },
};

/* ---- pread, pwrite ---- */

CASE(c_pread_middle)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pread(fd, o->d, 3, 5), weft_pread(fd, o->d, 3, 5));
	o->x[0] = t_pos(fd);
	close(fd);
}

CASE(c_pread_short)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pread(fd, o->d, 64, 8), weft_pread(fd, o->d, 64, 8));
	close(fd);
}

CASE(c_pread_past_eof)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pread(fd, o->d, 8, 100), weft_pread(fd, o->d, 8, 100));
	close(fd);
}

/* The position of a file is neither used nor moved by pread. */
CASE(c_pread_keeps_pos)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	lseek(fd, 7, SEEK_SET);
	o->r = DO(way, pread(fd, o->d, 2, 0), weft_pread(fd, o->d, 2, 0));
	o->x[0] = t_pos(fd);
	close(fd);
}

CASE(c_pread_espipe_pipe)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, pread(p[0], o->d, 8, 0), weft_pread(p[0], o->d, 8, 0));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
}

CASE(c_pread_espipe_socket)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "hello");
	o->r = DO(way, pread(s[0], o->d, 8, 0), weft_pread(s[0], o->d, 8, 0));
	close(s[0]);
	close(s[1]);
}

CASE(c_pread_einval_offset)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pread(fd, o->d, 8, -1), weft_pread(fd, o->d, 8, -1));
	close(fd);
}

CASE(c_pread_ebadf)
{
	o->r = DO(way, pread(T_BADFD, o->d, 8, 0),
		  weft_pread(T_BADFD, o->d, 8, 0));
}

CASE(c_pwrite_middle)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pwrite(fd, "ab", 2, 4), weft_pwrite(fd, "ab", 2, 4));
	o->x[0] = t_pos(fd);
	t_file_contents(fd, o);
	close(fd);
}

CASE(c_pwrite_extends)
{
	struct stat st;
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pwrite(fd, "ab", 2, 20), weft_pwrite(fd, "ab", 2, 20));
	fstat(fd, &st);
	o->x[0] = st.st_size;
	t_file_contents(fd, o);
	close(fd);
}

/* Linux appends whatever the offset when the file is O_APPEND. */
CASE(c_pwrite_append)
{
	int fd = t_tmpfile("0123456789", O_RDWR | O_APPEND);

	o->r = DO(way, pwrite(fd, "ab", 2, 0), weft_pwrite(fd, "ab", 2, 0));
	t_file_contents(fd, o);
	close(fd);
}

CASE(c_pwrite_espipe)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, pwrite(p[1], "ab", 2, 0), weft_pwrite(p[1], "ab", 2, 0));
	o->x[0] = t_wait_queued(p[0], 0);
	close(p[0]);
	close(p[1]);
}

CASE(c_pwrite_einval_offset)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	o->r = DO(way, pwrite(fd, "ab", 2, -5), weft_pwrite(fd, "ab", 2, -5));
	close(fd);
}

CASE(c_pwrite_ebadf_rdonly)
{
	int fd = t_tmpfile("0123456789", O_RDONLY);

	o->r = DO(way, pwrite(fd, "ab", 2, 0), weft_pwrite(fd, "ab", 2, 0));
	close(fd);
}

static const struct t_case pos_cases[] = {
	{ "pread middle", c_pread_middle, 3 },
	{ "pread short", c_pread_short, 2 },
	{ "pread past EOF", c_pread_past_eof, 0 },
	{ "pread keeps the position", c_pread_keeps_pos, 2 },
	{ "pread ESPIPE pipe", c_pread_espipe_pipe, -ESPIPE },
	{ "pread ESPIPE socket", c_pread_espipe_socket, -ESPIPE },
	{ "pread EINVAL offset", c_pread_einval_offset, -EINVAL },
	{ "pread EBADF", c_pread_ebadf, -EBADF },
	{ "pwrite middle", c_pwrite_middle, 2 },
	{ "pwrite extends", c_pwrite_extends, 2 },
	{ "pwrite O_APPEND", c_pwrite_append, 2 },
	{ "pwrite ESPIPE", c_pwrite_espipe, -ESPIPE },
	{ "pwrite EINVAL offset", c_pwrite_einval_offset, -EINVAL },
	{ "pwrite EBADF read-only", c_pwrite_ebadf_rdonly, -EBADF },
};

/* ---- recv, send ---- */

CASE(c_recv_short)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "hello");
	o->r = DO(way, recv(s[0], o->d, 64, 0), weft_recv(s[0], o->d, 64, 0));
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_tcp)
{
	int s[2];

	T_OK(t_tcp_pair(s));
	T_OK(send(s[1], "hello tcp", 9, 0));
	t_wait_queued(s[0], 9);
	o->r = DO(way, recv(s[0], o->d, 64, 0), weft_recv(s[0], o->d, 64, 0));
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_peek)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "hello");
	o->r = DO(way, recv(s[0], o->d, 64, MSG_PEEK),
		  weft_recv(s[0], o->d, 64, MSG_PEEK));
	o->x[0] = t_wait_queued(s[0], 0);
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_waitall)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "0123456789");
	o->r = DO(way, recv(s[0], o->d, 10, MSG_WAITALL),
		  weft_recv(s[0], o->d, 10, MSG_WAITALL));
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_dontwait)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, recv(s[0], o->d, 8, MSG_DONTWAIT),
		  weft_recv(s[0], o->d, 8, MSG_DONTWAIT));
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_eagain_nonblock)
{
	struct t_rescue rs;
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	t_set_nonblock(s[0]);
	t_rescue_start(&rs, R_WRITE, s[1]);
	o->r = DO(way, recv(s[0], o->d, 8, 0), weft_recv(s[0], o->d, 8, 0));
	t_rescue_stop(&rs);
	close(s[0]);
	close(s[1]);
}

CASE(c_recv_eof)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	close(s[1]);
	o->r = DO(way, recv(s[0], o->d, 8, 0), weft_recv(s[0], o->d, 8, 0));
	close(s[0]);
}

CASE(c_recv_len_over_4g)
{
	size_t len = ((size_t)1 << 32) + 4;
	int s[2];

	t_sockpair(s, SOCK_STREAM, "0123456789");
	o->r = DO(way, recv(s[0], t_opaque(big_buf), len, 0),
		  weft_recv(s[0], t_opaque(big_buf), len, 0));
	memcpy(o->d, big_buf, sizeof(big_buf));
	memset(big_buf, 0, sizeof(big_buf));
	close(s[0]);
	close(s[1]);
}

/* A datagram longer than the buffer: the rest is dropped. */
CASE(c_recv_udp_trunc)
{
	struct sockaddr_in a;
	int rx = t_udp(&a), tx = t_udp(NULL);

	T_OK(sendto(tx, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)));
	t_wait_queued(rx, 10);
	o->r = DO(way, recv(rx, o->d, 4, 0), weft_recv(rx, o->d, 4, 0));
	o->x[0] = t_wait_queued(rx, 0);
	close(rx);
	close(tx);
}

/* MSG_TRUNC: the datagram's real length. */
CASE(c_recv_udp_msg_trunc)
{
	struct sockaddr_in a;
	int rx = t_udp(&a), tx = t_udp(NULL);

	T_OK(sendto(tx, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)));
	t_wait_queued(rx, 10);
	o->r = DO(way, recv(rx, o->d, 4, MSG_TRUNC),
		  weft_recv(rx, o->d, 4, MSG_TRUNC));
	close(rx);
	close(tx);
}

CASE(c_recv_enotsock)
{
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, recv(p[0], o->d, 8, 0), weft_recv(p[0], o->d, 8, 0));
	close(p[0]);
	close(p[1]);
}

CASE(c_recv_ebadf)
{
	o->r = DO(way, recv(T_BADFD, o->d, 8, 0),
		  weft_recv(T_BADFD, o->d, 8, 0));
}

CASE(c_recv_enotconn)
{
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	o->r = DO(way, recv(fd, o->d, 8, 0), weft_recv(fd, o->d, 8, 0));
	close(fd);
}

CASE(c_send_unix)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, send(s[0], "abc", 3, 0), weft_send(s[0], "abc", 3, 0));
	t_drain(s[1], o, 3);
	close(s[0]);
	close(s[1]);
}

CASE(c_send_tcp)
{
	int s[2];

	T_OK(t_tcp_pair(s));
	o->r = DO(way, send(s[0], "tcp!", 4, 0), weft_send(s[0], "tcp!", 4, 0));
	t_drain(s[1], o, 4);
	close(s[0]);
	close(s[1]);
}

CASE(c_send_epipe)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	close(s[1]);
	o->r = DO(way, send(s[0], "x", 1, MSG_NOSIGNAL),
		  weft_send(s[0], "x", 1, MSG_NOSIGNAL));
	close(s[0]);
}

CASE(c_send_epipe_unconnected_tcp)
{
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	o->r = DO(way, send(fd, "x", 1, MSG_NOSIGNAL),
		  weft_send(fd, "x", 1, MSG_NOSIGNAL));
	close(fd);
}

CASE(c_send_edestaddrreq)
{
	int fd = t_udp(NULL);

	o->r = DO(way, send(fd, "x", 1, 0), weft_send(fd, "x", 1, 0));
	close(fd);
}

CASE(c_send_emsgsize)
{
	char *buf = calloc(1, 70000);
	struct sockaddr_in a;
	int rx = t_udp(&a), tx = t_udp(NULL);

	T_OK(connect(tx, (struct sockaddr *)&a, sizeof(a)));
	o->r = DO(way, send(tx, buf, 70000, 0), weft_send(tx, buf, 70000, 0));
	close(rx);
	close(tx);
	free(buf);
}

CASE(c_send_eagain_full)
{
	char buf[4096] = { 0 };
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	while (send(s[0], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	o->r = DO(way, send(s[0], "x", 1, MSG_DONTWAIT),
		  weft_send(s[0], "x", 1, MSG_DONTWAIT));
	close(s[0]);
	close(s[1]);
}

CASE(c_send_enotsock)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, send(p[1], "x", 1, 0), weft_send(p[1], "x", 1, 0));
	close(p[0]);
	close(p[1]);
}

CASE(c_send_ebadf)
{
	o->r = DO(way, send(-1, "x", 1, 0), weft_send(-1, "x", 1, 0));
}

static const struct t_case sock_cases[] = {
	{ "recv short", c_recv_short, 5 },
	{ "recv TCP", c_recv_tcp, 9 },
	{ "recv MSG_PEEK", c_recv_peek, 5 },
	{ "recv MSG_WAITALL", c_recv_waitall, 10 },
	{ "recv MSG_DONTWAIT", c_recv_dontwait, -EAGAIN },
	{ "recv EAGAIN O_NONBLOCK", c_recv_eagain_nonblock, -EAGAIN },
	{ "recv EOF", c_recv_eof, 0 },
	{ "recv length over 4 GiB", c_recv_len_over_4g, 10 },
	{ "recv UDP truncated", c_recv_udp_trunc, 4 },
	{ "recv UDP MSG_TRUNC", c_recv_udp_msg_trunc, 10 },
	{ "recv ENOTSOCK", c_recv_enotsock, -ENOTSOCK },
	{ "recv EBADF", c_recv_ebadf, -EBADF },
	{ "recv ENOTCONN", c_recv_enotconn, -ENOTCONN },
	{ "send unix", c_send_unix, 3 },
	{ "send TCP", c_send_tcp, 4 },
	{ "send EPIPE", c_send_epipe, -EPIPE },
	{ "send EPIPE unconnected TCP", c_send_epipe_unconnected_tcp, -EPIPE },
	{ "send EDESTADDRREQ", c_send_edestaddrreq, -EDESTADDRREQ },
	{ "send EMSGSIZE", c_send_emsgsize, -EMSGSIZE },
	{ "send EAGAIN full", c_send_eagain_full, -EAGAIN },
	{ "send ENOTSOCK", c_send_enotsock, -ENOTSOCK },
	{ "send EBADF", c_send_ebadf, -EBADF },
};

/* ---- recvmsg, sendmsg ---- */

CASE(c_recvmsg_udp_name)
{
	struct sockaddr_in a, from, me;
	struct iovec iov[2] = { { o->d, 4 }, { o->d + 10, 100 } };
	struct msghdr m = {
		.msg_name = &from,
		.msg_namelen = sizeof(from) + 8,
		.msg_iov = iov,
		.msg_iovlen = 2,
	};
	int rx = t_udp(&a), tx = t_udp(&me);

	memset(&from, 0, sizeof(from));
	T_OK(sendto(tx, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)));
	t_wait_queued(rx, 10);
	o->r = DO(way, recvmsg(rx, &m, 0), weft_recvmsg(rx, &m, 0));
	o->x[0] = m.msg_namelen;
	o->x[1] = from.sin_family;
	o->x[2] = from.sin_port == me.sin_port;
	o->x[3] = from.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	o->x[4] = m.msg_flags;
	close(rx);
	close(tx);
}

CASE(c_recvmsg_trunc_flag)
{
	struct sockaddr_in a;
	struct iovec iov = { o->d, 4 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int rx = t_udp(&a), tx = t_udp(NULL);

	T_OK(sendto(tx, "0123456789", 10, 0, (struct sockaddr *)&a, sizeof(a)));
	t_wait_queued(rx, 10);
	o->r = DO(way, recvmsg(rx, &m, 0), weft_recvmsg(rx, &m, 0));
	o->x[0] = m.msg_flags;
	close(rx);
	close(tx);
}

/* Send fd over s with one byte, natively. */
static void t_send_fd(int s, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { "F", 1 };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.b,
		.msg_controllen = sizeof(u.b),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(&u, 0, sizeof(u));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	T_OK(sendmsg(s, &m, 0));
}

static bool t_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
	       sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

/* Receive with control space ctl; the facts of the fd that came. */
static void t_recvmsg_rights(int way, struct t_out *o, size_t ctl)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int)) + 16];
	} u;
	struct iovec iov = { o->d, 64 };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.b,
		.msg_controllen = ctl,
	};
	struct cmsghdr *c;
	int s[2], p[2], fd = -1;

	memset(&u, 0, sizeof(u));
	t_sockpair(s, SOCK_STREAM, NULL);
	t_pipe(p, NULL);
	t_send_fd(s[1], p[0]);
	o->r = DO(way, recvmsg(s[0], &m, MSG_CMSG_CLOEXEC),
		  weft_recvmsg(s[0], &m, MSG_CMSG_CLOEXEC));
	o->x[0] = m.msg_flags;
	o->x[1] = m.msg_controllen;
	c = m.msg_controllen ? CMSG_FIRSTHDR(&m) : NULL;
	if (c) {
		o->x[2] = c->cmsg_level * 100 + c->cmsg_type;
		o->x[3] = c->cmsg_len;
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		o->x[4] = t_same_file(fd, p[0]);
		o->x[5] = fcntl(fd, F_GETFD);
		t_close(fd);
	}
	close(s[0]);
	close(s[1]);
	close(p[0]);
	close(p[1]);
}

CASE(c_recvmsg_rights)
{
	t_recvmsg_rights(way, o, CMSG_SPACE(sizeof(int)));
}

CASE(c_recvmsg_ctrunc)
{
	t_recvmsg_rights(way, o, sizeof(struct cmsghdr));
}

CASE(c_recvmsg_dontwait)
{
	struct iovec iov = { o->d, 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, recvmsg(s[0], &m, MSG_DONTWAIT),
		  weft_recvmsg(s[0], &m, MSG_DONTWAIT));
	close(s[0]);
	close(s[1]);
}

CASE(c_recvmsg_enotsock)
{
	struct iovec iov = { o->d, 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int p[2];

	t_pipe(p, "hello");
	o->r = DO(way, recvmsg(p[0], &m, 0), weft_recvmsg(p[0], &m, 0));
	close(p[0]);
	close(p[1]);
}

CASE(c_recvmsg_ebadf)
{
	struct iovec iov = { o->d, 8 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };

	o->r = DO(way, recvmsg(T_BADFD, &m, 0), weft_recvmsg(T_BADFD, &m, 0));
}

CASE(c_sendmsg_gather)
{
	struct iovec iov[2] = { { "ab", 2 }, { "cd", 2 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, sendmsg(s[0], &m, 0), weft_sendmsg(s[0], &m, 0));
	t_drain(s[1], o, 4);
	close(s[0]);
	close(s[1]);
}

CASE(c_sendmsg_udp_to)
{
	struct sockaddr_in a;
	struct iovec iov = { "dgram", 5 };
	struct msghdr m = {
		.msg_name = &a,
		.msg_namelen = sizeof(a),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	int rx = t_udp(&a), tx = t_udp(NULL);

	o->r = DO(way, sendmsg(tx, &m, 0), weft_sendmsg(tx, &m, 0));
	t_drain(rx, o, 5);
	close(rx);
	close(tx);
}

CASE(c_sendmsg_rights)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} u, v;
	struct iovec iov = { "F", 1 };
	struct msghdr m = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.b,
		.msg_controllen = sizeof(u.b),
	};
	struct iovec riov = { o->d, 8 };
	struct msghdr rm = {
		.msg_iov = &riov,
		.msg_iovlen = 1,
		.msg_control = v.b,
		.msg_controllen = sizeof(v.b),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int s[2], p[2], fd = -1;

	memset(&u, 0, sizeof(u));
	memset(&v, 0, sizeof(v));
	t_sockpair(s, SOCK_STREAM, NULL);
	t_pipe(p, NULL);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[1], sizeof(int));
	o->r = DO(way, sendmsg(s[0], &m, 0), weft_sendmsg(s[0], &m, 0));
	t_wait_queued(s[1], 1);
	o->x[0] = recvmsg(s[1], &rm, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	c = rm.msg_controllen ? CMSG_FIRSTHDR(&rm) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS) {
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
		o->x[1] = t_same_file(fd, p[1]);
		t_close(fd);
	}
	close(s[0]);
	close(s[1]);
	close(p[0]);
	close(p[1]);
}

CASE(c_sendmsg_emsgsize_iovlen)
{
	struct msghdr m = { .msg_iov = many_iov, .msg_iovlen = IOV_MAX + 1 };
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, sendmsg(s[0], &m, 0), weft_sendmsg(s[0], &m, 0));
	close(s[0]);
	close(s[1]);
}

CASE(c_sendmsg_eafnosupport)
{
	struct sockaddr_in a;
	struct iovec iov = { "x", 1 };
	struct msghdr m = {
		.msg_name = &a,
		.msg_namelen = sizeof(a),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	int tx = t_udp(&a);

	a.sin_family = AF_INET6;
	o->r = DO(way, sendmsg(tx, &m, 0), weft_sendmsg(tx, &m, 0));
	close(tx);
}

CASE(c_sendmsg_einval_namelen)
{
	struct sockaddr_in a;
	struct iovec iov = { "x", 1 };
	struct msghdr m = {
		.msg_name = &a,
		.msg_namelen = 4,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	int tx = t_udp(&a);

	o->r = DO(way, sendmsg(tx, &m, 0), weft_sendmsg(tx, &m, 0));
	close(tx);
}

CASE(c_sendmsg_epipe)
{
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	close(s[1]);
	o->r = DO(way, sendmsg(s[0], &m, MSG_NOSIGNAL),
		  weft_sendmsg(s[0], &m, MSG_NOSIGNAL));
	close(s[0]);
}

CASE(c_sendmsg_enotsock)
{
	struct iovec iov = { "x", 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, sendmsg(p[1], &m, 0), weft_sendmsg(p[1], &m, 0));
	close(p[0]);
	close(p[1]);
}

static const struct t_case msg_cases[] = {
	{ "recvmsg UDP with name", c_recvmsg_udp_name, 10 },
	{ "recvmsg MSG_TRUNC flag", c_recvmsg_trunc_flag, 4 },
	{ "recvmsg SCM_RIGHTS", c_recvmsg_rights, 1 },
	{ "recvmsg MSG_CTRUNC", c_recvmsg_ctrunc, 1 },
	{ "recvmsg MSG_DONTWAIT", c_recvmsg_dontwait, -EAGAIN },
	{ "recvmsg ENOTSOCK", c_recvmsg_enotsock, -ENOTSOCK },
	{ "recvmsg EBADF", c_recvmsg_ebadf, -EBADF },
	{ "sendmsg gather", c_sendmsg_gather, 4 },
	{ "sendmsg UDP with name", c_sendmsg_udp_to, 5 },
	{ "sendmsg SCM_RIGHTS", c_sendmsg_rights, 1 },
	{ "sendmsg EMSGSIZE iovlen", c_sendmsg_emsgsize_iovlen, -EMSGSIZE },
	{ "sendmsg EAFNOSUPPORT", c_sendmsg_eafnosupport, -EAFNOSUPPORT },
	{ "sendmsg EINVAL namelen", c_sendmsg_einval_namelen, -EINVAL },
	{ "sendmsg EPIPE", c_sendmsg_epipe, -EPIPE },
	{ "sendmsg ENOTSOCK", c_sendmsg_enotsock, -ENOTSOCK },
};

/* ---- accept, connect ---- */

static void t_accept(int way, struct t_out *o, int flags, socklen_t alen)
{
	struct sockaddr_in a, me;
	socklen_t len = alen, ml = sizeof(me);
	int port, l = T_OK(t_listener(&port)), c = t_client(port);
	long fd;

	memset(&a, 0xee, sizeof(a));
	fd = DO(way, accept4(l, (struct sockaddr *)&a, &len, flags),
		weft_accept(l, (struct sockaddr *)&a, &len, flags));
	o->r = t_fd(fd);
	if (fd >= 0) {
		T_OK(getsockname(c, (struct sockaddr *)&me, &ml));
		o->x[0] = fcntl(fd, F_GETFD);
		o->x[1] = fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE);
		o->x[2] = len;
		o->x[3] = a.sin_family;
		o->x[4] = a.sin_port == me.sin_port;
		o->x[5] = a.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
		T_OK(send(c, "ping", 4, 0));
		t_drain(fd, o, 4);
		close(fd);
	}
	close(c);
	close(l);
}

CASE(c_accept_0)
{
	t_accept(way, o, 0, sizeof(struct sockaddr_in));
}

CASE(c_accept_cloexec)
{
	t_accept(way, o, SOCK_CLOEXEC, sizeof(struct sockaddr_in));
}

CASE(c_accept_nonblock)
{
	t_accept(way, o, SOCK_NONBLOCK, sizeof(struct sockaddr_in));
}

CASE(c_accept_both)
{
	t_accept(way, o, SOCK_CLOEXEC | SOCK_NONBLOCK,
		 sizeof(struct sockaddr_in));
}

/* A short address buffer: truncated, and the real length returned. */
CASE(c_accept_short_addrlen)
{
	t_accept(way, o, SOCK_CLOEXEC, 4);
}

CASE(c_accept_null_addr)
{
	int port, l = T_OK(t_listener(&port)), c = t_client(port);
	long fd;

	fd = DO(way, accept4(l, NULL, NULL, SOCK_CLOEXEC),
		weft_accept(l, NULL, NULL, SOCK_CLOEXEC));
	o->r = t_fd(fd);
	if (fd >= 0)
		close(fd);
	close(c);
	close(l);
}

CASE(c_accept_einval_flags)
{
	int port, l = T_OK(t_listener(&port)), c = t_client(port);
	long fd;

	fd = DO(way, accept4(l, NULL, NULL, 0x1),
		weft_accept(l, NULL, NULL, 0x1));
	o->r = t_fd(fd);
	if (fd >= 0)
		close(fd);
	close(c);
	close(l);
}

CASE(c_accept_einval_not_listening)
{
	struct sockaddr_in a = t_loopback(0);
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	T_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	o->r = t_fd(DO(way, accept4(fd, NULL, NULL, 0),
		       weft_accept(fd, NULL, NULL, 0)));
	close(fd);
}

CASE(c_accept_eagain_nonblock)
{
	int port, l = T_OK(t_listener(&port));
	struct t_rescue rs;
	long fd;

	t_set_nonblock(l);
	t_rescue_start(&rs, R_CONNECT, port);
	fd = DO(way, accept4(l, NULL, NULL, 0), weft_accept(l, NULL, NULL, 0));
	t_rescue_stop(&rs);
	o->r = t_fd(fd);
	t_close(fd);
	close(l);
}

CASE(c_accept_eopnotsupp_udp)
{
	int fd = t_udp(NULL);

	o->r = t_fd(DO(way, accept4(fd, NULL, NULL, 0),
		       weft_accept(fd, NULL, NULL, 0)));
	close(fd);
}

CASE(c_accept_enotsock)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = t_fd(DO(way, accept4(p[0], NULL, NULL, 0),
		       weft_accept(p[0], NULL, NULL, 0)));
	close(p[0]);
	close(p[1]);
}

CASE(c_accept_ebadf)
{
	o->r = t_fd(DO(way, accept4(T_BADFD, NULL, NULL, 0),
		       weft_accept(T_BADFD, NULL, NULL, 0)));
}

#define SA(a) ((struct sockaddr *)&(a))

CASE(c_connect_ok)
{
	struct sockaddr_in a, peer;
	socklen_t pl = sizeof(peer);
	int port, l = T_OK(t_listener(&port));
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), c;

	a = t_loopback(port);
	o->r = DO(way, connect(fd, SA(a), sizeof(a)),
		  weft_connect(fd, SA(a), sizeof(a)));
	if (getpeername(fd, SA(peer), &pl) == 0)
		o->x[0] = ntohs(peer.sin_port) == port;
	c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0) {
		T_OK(send(c, "hi", 2, 0));
		t_drain(fd, o, 2);
		close(c);
	}
	close(fd);
	close(l);
}

/* A port that was bound and closed again: nobody listens there. */
CASE(c_connect_econnrefused)
{
	struct sockaddr_in a;
	int port, l = T_OK(t_listener(&port));
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	close(l);
	a = t_loopback(port);
	o->r = DO(way, connect(fd, SA(a), sizeof(a)),
		  weft_connect(fd, SA(a), sizeof(a)));
	close(fd);
}

CASE(c_connect_eisconn)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s[2];

	T_OK(t_tcp_pair(s));
	T_OK(getsockname(s[0], SA(a), &len));
	o->r = DO(way, connect(s[1], SA(a), sizeof(a)),
		  weft_connect(s[1], SA(a), sizeof(a)));
	close(s[0]);
	close(s[1]);
}

CASE(c_connect_einval_len)
{
	struct sockaddr_in a;
	int port, l = T_OK(t_listener(&port));
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	a = t_loopback(port);
	o->r = DO(way, connect(fd, SA(a), 4), weft_connect(fd, SA(a), 4));
	close(fd);
	close(l);
}

CASE(c_connect_eafnosupport)
{
	struct sockaddr_in a;
	int port, l = T_OK(t_listener(&port));
	int fd = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));

	a = t_loopback(port);
	a.sin_family = AF_INET6;
	o->r = DO(way, connect(fd, SA(a), sizeof(a)),
		  weft_connect(fd, SA(a), sizeof(a)));
	close(fd);
	close(l);
}

/* O_NONBLOCK: the handshake goes on after connect returns. */
CASE(c_connect_einprogress)
{
	struct sockaddr_in a;
	int port, l = T_OK(t_listener(&port));
	int fd = T_OK(
		socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));

	a = t_loopback(port);
	o->r = DO(way, connect(fd, SA(a), sizeof(a)),
		  weft_connect(fd, SA(a), sizeof(a)));
	close(fd);
	close(l);
}

CASE(c_connect_udp)
{
	struct sockaddr_in a, peer;
	socklen_t pl = sizeof(peer);
	int rx = t_udp(&a),
	    tx = T_OK(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));

	o->r = DO(way, connect(tx, SA(a), sizeof(a)),
		  weft_connect(tx, SA(a), sizeof(a)));
	if (getpeername(tx, SA(peer), &pl) == 0)
		o->x[0] = peer.sin_port == a.sin_port;
	close(rx);
	close(tx);
}

CASE(c_connect_unix_enoent)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = T_OK(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));

	strcpy(a.sun_path, "/tmp/weft-io-no-such-socket");
	o->r = DO(way, connect(fd, SA(a), sizeof(a)),
		  weft_connect(fd, SA(a), sizeof(a)));
	close(fd);
}

CASE(c_connect_enotsock)
{
	struct sockaddr_in a = t_loopback(1);
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, connect(p[0], SA(a), sizeof(a)),
		  weft_connect(p[0], SA(a), sizeof(a)));
	close(p[0]);
	close(p[1]);
}

CASE(c_connect_ebadf)
{
	struct sockaddr_in a = t_loopback(1);

	o->r = DO(way, connect(T_BADFD, SA(a), sizeof(a)),
		  weft_connect(T_BADFD, SA(a), sizeof(a)));
}

static const struct t_case conn_cases[] = {
	{ "accept flags 0", c_accept_0, T_FD },
	{ "accept SOCK_CLOEXEC", c_accept_cloexec, T_FD },
	{ "accept SOCK_NONBLOCK", c_accept_nonblock, T_FD },
	{ "accept SOCK_CLOEXEC|SOCK_NONBLOCK", c_accept_both, T_FD },
	{ "accept short addrlen", c_accept_short_addrlen, T_FD },
	{ "accept NULL address", c_accept_null_addr, T_FD },
	{ "accept EINVAL flags", c_accept_einval_flags, -EINVAL },
	{ "accept EINVAL not listening", c_accept_einval_not_listening,
	  -EINVAL },
	{ "accept EAGAIN O_NONBLOCK", c_accept_eagain_nonblock, -EAGAIN },
	{ "accept EOPNOTSUPP UDP", c_accept_eopnotsupp_udp, -EOPNOTSUPP },
	{ "accept ENOTSOCK", c_accept_enotsock, -ENOTSOCK },
	{ "accept EBADF", c_accept_ebadf, -EBADF },
	{ "connect", c_connect_ok, 0 },
	{ "connect ECONNREFUSED", c_connect_econnrefused, -ECONNREFUSED },
	{ "connect EISCONN", c_connect_eisconn, -EISCONN },
	{ "connect EINVAL addrlen", c_connect_einval_len, -EINVAL },
	{ "connect EAFNOSUPPORT", c_connect_eafnosupport, -EAFNOSUPPORT },
	{ "connect EINPROGRESS O_NONBLOCK", c_connect_einprogress,
	  -EINPROGRESS },
	{ "connect UDP", c_connect_udp, 0 },
	{ "connect ENOENT unix", c_connect_unix_enoent, -ENOENT },
	{ "connect ENOTSOCK", c_connect_enotsock, -ENOTSOCK },
	{ "connect EBADF", c_connect_ebadf, -EBADF },
};

/* ---- poll ---- */

CASE(c_poll_in)
{
	int p[2];

	t_pipe(p, "x");
	o->r = DO(way, t_poll1(p[0], POLLIN), weft_poll(p[0], POLLIN));
	close(p[0]);
	close(p[1]);
}

CASE(c_poll_out)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, t_poll1(p[1], POLLOUT), weft_poll(p[1], POLLOUT));
	close(p[0]);
	close(p[1]);
}

CASE(c_poll_in_out)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "x");
	o->r = DO(way, t_poll1(s[0], POLLIN | POLLOUT),
		  weft_poll(s[0], POLLIN | POLLOUT));
	close(s[0]);
	close(s[1]);
}

/* Only the events asked for, and POLLHUP/POLLERR always. */
CASE(c_poll_masked)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, "x");
	o->r = DO(way, t_poll1(s[0], POLLIN), weft_poll(s[0], POLLIN));
	close(s[0]);
	close(s[1]);
}

CASE(c_poll_hup)
{
	int p[2];

	t_pipe(p, NULL);
	close(p[1]);
	o->r = DO(way, t_poll1(p[0], POLLIN), weft_poll(p[0], POLLIN));
	close(p[0]);
}

CASE(c_poll_err)
{
	int p[2];

	t_pipe(p, NULL);
	close(p[0]);
	o->r = DO(way, t_poll1(p[1], POLLOUT), weft_poll(p[1], POLLOUT));
	close(p[1]);
}

CASE(c_poll_rdhup)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	close(s[1]);
	o->r = DO(way, t_poll1(s[0], POLLIN | POLLRDHUP),
		  weft_poll(s[0], POLLIN | POLLRDHUP));
	close(s[0]);
}

/* A closed fd is no error for poll(2): it reports POLLNVAL. */
CASE(c_poll_nval)
{
	o->r = DO(way, t_poll1(T_BADFD, POLLIN), weft_poll(T_BADFD, POLLIN));
}

static const struct t_case poll_cases[] = {
	{ "poll POLLIN", c_poll_in, POLLIN },
	{ "poll POLLOUT", c_poll_out, POLLOUT },
	{ "poll POLLIN|POLLOUT", c_poll_in_out, POLLIN | POLLOUT },
	{ "poll masked", c_poll_masked, POLLIN },
	{ "poll POLLHUP", c_poll_hup, POLLHUP },
	{ "poll POLLERR", c_poll_err, POLLOUT | POLLERR },
	{ "poll POLLRDHUP", c_poll_rdhup, POLLIN | POLLRDHUP | POLLHUP },
	{ "poll POLLNVAL", c_poll_nval, POLLNVAL },
};

/* ---- openat, close, fsync ---- */

/* A fresh directory with a file "f" holding "content" and a dir "d". */
static int t_tmpdir(char path[32])
{
	int dfd, fd;

	strcpy(path, "/tmp/weft-io-dir-XXXXXX");
	if (!mkdtemp(path)) {
		t_vfail(__LINE__, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	dfd = T_OK(open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	fd = T_OK(openat(dfd, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
	T_OK(write(fd, "content", 7));
	close(fd);
	T_OK(mkdirat(dfd, "d", 0700));
	T_OK(symlinkat("f", dfd, "link"));
	return dfd;
}

static void t_rmdir(const char *path, int dfd)
{
	static const char *const names[] = { "f", "link", "new", "d/g" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(dfd, names[i], 0);
	unlinkat(dfd, "d", AT_REMOVEDIR);
	close(dfd);
	rmdir(path);
}

/* Open path under a fresh directory with flags; the facts of the fd. */
static void t_openat(int way, struct t_out *o, int dirfd, const char *path,
		     int flags, mode_t mode)
{
	char dir[32];
	int dfd = t_tmpdir(dir);
	struct stat st;
	long fd;

	if (dirfd == AT_FDCWD)
		T_OK(fchdir(dfd));
	else if (dirfd == 0)
		dirfd = dfd;
	fd = DO(way, openat(dirfd, path, flags, mode),
		weft_openat(dirfd, path, flags, mode));
	o->r = t_fd(fd);
	if (fd >= 0) {
		o->x[0] = fcntl(fd, F_GETFD);
		o->x[1] = fcntl(fd, F_GETFL) &
			  (O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY |
			   O_PATH);
		if (fstat(fd, &st) == 0) {
			o->x[2] = st.st_mode;
			o->x[3] = st.st_size;
		}
		o->x[4] = pread(fd, o->d, 64, 0);
		close(fd);
	}
	if (dirfd == AT_FDCWD)
		T_OK(chdir("/"));
	t_rmdir(dir, dfd);
}

CASE(c_openat_rdonly)
{
	t_openat(way, o, 0, "f", O_RDONLY, 0);
}

CASE(c_openat_cloexec)
{
	t_openat(way, o, 0, "f", O_RDWR | O_CLOEXEC, 0);
}

CASE(c_openat_create)
{
	t_openat(way, o, 0, "new", O_CREAT | O_EXCL | O_WRONLY, 0640);
}

CASE(c_openat_trunc_append)
{
	t_openat(way, o, 0, "f", O_WRONLY | O_TRUNC | O_APPEND, 0);
}

CASE(c_openat_cwd)
{
	t_openat(way, o, AT_FDCWD, "f", O_RDONLY | O_NONBLOCK, 0);
}

CASE(c_openat_absolute_bad_dirfd)
{
	t_openat(way, o, T_BADFD, "/etc/hostname", O_RDONLY, 0);
}

CASE(c_openat_directory)
{
	t_openat(way, o, 0, "d", O_RDONLY | O_DIRECTORY, 0);
}

CASE(c_openat_path)
{
	t_openat(way, o, 0, "d", O_PATH, 0);
}

CASE(c_openat_enoent)
{
	t_openat(way, o, 0, "none", O_RDONLY, 0);
}

CASE(c_openat_eexist)
{
	t_openat(way, o, 0, "f", O_CREAT | O_EXCL | O_WRONLY, 0600);
}

CASE(c_openat_enotdir)
{
	t_openat(way, o, 0, "f", O_RDONLY | O_DIRECTORY, 0);
}

CASE(c_openat_eisdir)
{
	t_openat(way, o, 0, "d", O_WRONLY, 0);
}

CASE(c_openat_eloop)
{
	t_openat(way, o, 0, "link", O_RDONLY | O_NOFOLLOW, 0);
}

CASE(c_openat_ebadf)
{
	t_openat(way, o, T_BADFD, "f", O_RDONLY, 0);
}

CASE(c_openat_einval_tmpfile)
{
	t_openat(way, o, 0, "d", O_TMPFILE | O_RDONLY, 0600);
}

CASE(c_openat_efault)
{
	t_openat(way, o, 0, t_opaque((void *)8), O_RDONLY, 0);
}

CASE(c_close_ok)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, close(p[0]), weft_close(p[0]));
	o->x[0] = fcntl(p[0], F_GETFD) < 0 ? -errno : 0;
	o->x[1] = write(p[1], "x", 1) < 0 ? -errno : 0;
	close(p[1]);
}

CASE(c_close_socket)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, close(s[0]), weft_close(s[0]));
	o->x[0] = recv(s[1], o->d, 8, MSG_DONTWAIT);
	close(s[1]);
}

CASE(c_close_ebadf)
{
	o->r = DO(way, close(T_BADFD), weft_close(T_BADFD));
}

CASE(c_close_ebadf_minus1)
{
	o->r = DO(way, close(-1), weft_close(-1));
}

CASE(c_fsync_file)
{
	int fd = t_tmpfile("0123456789", O_RDWR);

	T_OK(write(fd, "abc", 3));
	o->r = DO(way, fsync(fd), weft_fsync(fd));
	close(fd);
}

CASE(c_fsync_rdonly)
{
	int fd = t_tmpfile("0123456789", O_RDONLY);

	o->r = DO(way, fsync(fd), weft_fsync(fd));
	close(fd);
}

CASE(c_fsync_dir)
{
	int fd = T_OK(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));

	o->r = DO(way, fsync(fd), weft_fsync(fd));
	close(fd);
}

CASE(c_fsync_einval_pipe)
{
	int p[2];

	t_pipe(p, NULL);
	o->r = DO(way, fsync(p[1]), weft_fsync(p[1]));
	close(p[0]);
	close(p[1]);
}

CASE(c_fsync_einval_socket)
{
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	o->r = DO(way, fsync(s[0]), weft_fsync(s[0]));
	close(s[0]);
	close(s[1]);
}

CASE(c_fsync_ebadf)
{
	o->r = DO(way, fsync(T_BADFD), weft_fsync(T_BADFD));
}

static const struct t_case fs_cases[] = {
	{ "openat O_RDONLY", c_openat_rdonly, T_FD },
	{ "openat O_CLOEXEC", c_openat_cloexec, T_FD },
	{ "openat O_CREAT|O_EXCL", c_openat_create, T_FD },
	{ "openat O_TRUNC|O_APPEND", c_openat_trunc_append, T_FD },
	{ "openat AT_FDCWD", c_openat_cwd, T_FD },
	{ "openat absolute, bad dirfd", c_openat_absolute_bad_dirfd, T_FD },
	{ "openat O_DIRECTORY", c_openat_directory, T_FD },
	{ "openat O_PATH", c_openat_path, T_FD },
	{ "openat ENOENT", c_openat_enoent, -ENOENT },
	{ "openat EEXIST", c_openat_eexist, -EEXIST },
	{ "openat ENOTDIR", c_openat_enotdir, -ENOTDIR },
	{ "openat EISDIR", c_openat_eisdir, -EISDIR },
	{ "openat ELOOP", c_openat_eloop, -ELOOP },
	{ "openat EBADF", c_openat_ebadf, -EBADF },
	{ "openat EINVAL O_TMPFILE", c_openat_einval_tmpfile, -EINVAL },
	{ "openat EFAULT", c_openat_efault, -EFAULT },
	{ "close", c_close_ok, 0 },
	{ "close socket", c_close_socket, 0 },
	{ "close EBADF", c_close_ebadf, -EBADF },
	{ "close EBADF -1", c_close_ebadf_minus1, -EBADF },
	{ "fsync file", c_fsync_file, 0 },
	{ "fsync read-only file", c_fsync_rdonly, 0 },
	{ "fsync directory", c_fsync_dir, 0 },
	{ "fsync EINVAL pipe", c_fsync_einval_pipe, -EINVAL },
	{ "fsync EINVAL socket", c_fsync_einval_socket, -EINVAL },
	{ "fsync EBADF", c_fsync_ebadf, -EBADF },
};

/* ---- running a table every way ---- */

struct t_batch {
	const struct t_case *c;
	size_t n;
	struct t_out *o; /* n * NR_WAYS */
	int way;
};

/* WEFT_TEST_TRACE=1 names each case as it starts, to find a hang. */
static void t_batch_run(struct t_batch *b)
{
	bool trace = getenv("WEFT_TEST_TRACE");

	for (size_t i = 0; i < b->n; i++) {
		if (trace)
			fprintf(stderr, "%s: %s\n", way_name[b->way],
				b->c[i].name);
		b->c[i].fn(b->way, &b->o[i * NR_WAYS + b->way]);
	}
}

static intptr_t t_batch_vthread(void *arg)
{
	struct t_batch *b = arg;

	V_TRUE(weft_thread_self() != NULL);
	t_batch_run(b);
	return 0;
}

static void *t_batch_pthread(void *arg)
{
	struct t_batch *b = arg;

	if (weft_thread_self() || weft_carrier_index() != -1)
		t_vfail(__LINE__, "a pthread taken for a virtual thread");
	t_batch_run(b);
	return NULL;
}

/* The first field where got differs from want, for the message. */
static const char *t_diff(const struct t_out *got, const struct t_out *want,
			  char *buf, size_t size)
{
	if (got->r != want->r) {
		snprintf(buf, size, "result %ld (%s), native %ld (%s)", got->r,
			 got->r < 0 ? strerror(-got->r) : "-", want->r,
			 want->r < 0 ? strerror(-want->r) : "-");
		return buf;
	}
	for (int k = 0; k < 6; k++)
		if (got->x[k] != want->x[k]) {
			snprintf(buf, size, "fact x[%d] %ld, native %ld", k,
				 got->x[k], want->x[k]);
			return buf;
		}
	if (got->n != want->n) {
		snprintf(buf, size, "%zu bytes, native %zu", got->n, want->n);
		return buf;
	}
	for (size_t k = 0; k < sizeof(got->d); k++)
		if (got->d[k] != want->d[k]) {
			snprintf(buf, size, "byte %zu is %#x, native %#x", k,
				 got->d[k], want->d[k]);
			return buf;
		}
	return NULL;
}

/*
 * Run every case natively, then through weft from each kind of thread,
 * and expect the same result, facts and bytes everywhere.
 */
static void t_compare(const struct t_case *c, size_t n)
{
	struct t_out *o = calloc(n * NR_WAYS, sizeof(*o));
	struct t_batch b = { c, n, o, 0 };
	int mismatches = 0;
	pthread_t pt;
	char buf[200];

	cr_assert(o);
	umask(022);
	for (int i = 0; i < IOV_MAX + 1; i++)
		many_iov[i] = (struct iovec){ &many_buf[i], 1 };
	cr_assert_eq(weft_carrier_count(), 0);
	b.way = W_NATIVE;
	t_batch_run(&b);
	b.way = W_PLAIN;
	t_batch_run(&b);
	cr_assert_eq(weft_carrier_count(), 0, "a plain call started weft");
	b.way = W_VTHREAD;
	T_RUN(t_batch_vthread, &b);
	cr_assert_gt(weft_carrier_count(), 0);
	b.way = W_PTHREAD;
	cr_assert_eq(pthread_create(&pt, NULL, t_batch_pthread, &b), 0);
	cr_assert_eq(pthread_join(pt, NULL), 0);
	b.way = W_RUNNING;
	t_batch_run(&b);
	cr_assert_eq(weft_shutdown(), 0);

	for (size_t i = 0; i < n; i++) {
		const struct t_out *nat = &o[i * NR_WAYS + W_NATIVE];

		if (nat->r != c[i].want) {
			cr_log_error("%s: native gave %ld, the test wants %ld",
				     c[i].name, nat->r, c[i].want);
			mismatches++;
		}
		for (int w = W_PLAIN; w < NR_WAYS; w++) {
			const char *d = t_diff(&o[i * NR_WAYS + w], nat, buf,
					       sizeof(buf));

			if (d) {
				cr_log_error("%s, %s: %s", c[i].name,
					     way_name[w], d);
				mismatches++;
			}
		}
	}
	free(o);
	cr_assert_eq(atomic_load(&v_failed), 0, "%s", v_msg);
	cr_assert_eq(mismatches, 0, "%d results differ (listed above)",
		     mismatches);
}

#define T_COMPARE(table) t_compare(table, sizeof(table) / sizeof(table[0]))

Test(io_compare, read)
{
	T_COMPARE(read_cases);
}

Test(io_compare, write)
{
	T_COMPARE(write_cases);
}

Test(io_compare, readv_writev)
{
	T_COMPARE(vec_cases);
}

Test(io_compare, pread_pwrite)
{
	T_COMPARE(pos_cases);
}

Test(io_compare, recv_send)
{
	T_COMPARE(sock_cases);
}

Test(io_compare, recvmsg_sendmsg)
{
	T_COMPARE(msg_cases);
}

Test(io_compare, accept_connect)
{
	T_COMPARE(conn_cases);
}

Test(io_compare, poll)
{
	T_COMPARE(poll_cases);
}

Test(io_compare, openat_close_fsync)
{
	T_COMPARE(fs_cases);
}

/* ---- a blocked operation parks its thread, not its carrier ---- */

enum {
	B_READ,
	B_READV,
	B_RECV,
	B_RECV_WAITALL,
	B_RECVMSG,
	B_POLL,
	B_ACCEPT,
	B_WRITE_FULL,
	B_SEND_FULL,
};

struct t_blk {
	int op;
	int fd[2];	      /* the blocked side reads or writes fd[0] */
	int port;	      /* B_ACCEPT: fd[0] listens here */
	atomic_int woke;      /* the waker has made the op possible */
	atomic_int done;      /* the blocked op has returned */
	atomic_long progress; /* the waker's steps while the op waits */
	unsigned char buf[64];
};

static void t_blk_setup(struct t_blk *b, int op)
{
	char junk[4096] = { 0 };

	memset(b, 0, sizeof(*b));
	b->op = op;
	switch (op) {
	case B_READ:
	case B_READV:
	case B_WRITE_FULL:
		T_OK(pipe2(b->fd, O_CLOEXEC));
		if (op == B_WRITE_FULL) {
			/* the blocked side writes fd[0]: swap the ends */
			int t = b->fd[0];

			b->fd[0] = b->fd[1];
			b->fd[1] = t;
			t_set_nonblock(b->fd[0]);
			while (write(b->fd[0], junk, sizeof(junk)) > 0)
				;
			T_OK(fcntl(b->fd[0], F_SETFL, 0));
		}
		break;
	case B_ACCEPT:
		b->fd[0] = T_OK(t_listener(&b->port));
		b->fd[1] = -1;
		break;
	case B_SEND_FULL:
		t_sockpair(b->fd, SOCK_STREAM, NULL);
		while (send(b->fd[0], junk, sizeof(junk), MSG_DONTWAIT) > 0)
			;
		break;
	default:
		T_OK(t_tcp_pair(b->fd));
		break;
	}
}

/* The operation that has to wait for the waker. */
static intptr_t t_blocked(void *arg)
{
	struct t_blk *b = arg;
	struct iovec iov[2] = { { b->buf, 2 }, { b->buf + 2, 60 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	long r = -1, want = 4;
	int c;

	errno = T_ERRNO;
	switch (b->op) {
	case B_READ:
		r = weft_read(b->fd[0], b->buf, sizeof(b->buf));
		break;
	case B_READV:
		r = weft_readv(b->fd[0], iov, 2);
		break;
	case B_RECV:
		r = weft_recv(b->fd[0], b->buf, sizeof(b->buf), 0);
		break;
	case B_RECV_WAITALL:
		r = weft_recv(b->fd[0], b->buf, 8, MSG_WAITALL);
		want = 8;
		break;
	case B_RECVMSG:
		r = weft_recvmsg(b->fd[0], &m, 0);
		break;
	case B_POLL:
		r = weft_poll(b->fd[0], POLLIN);
		want = POLLIN;
		break;
	case B_ACCEPT:
		r = weft_accept(b->fd[0], NULL, NULL, SOCK_CLOEXEC);
		if (r >= 0) {
			c = r;
			r = weft_recv(c, b->buf, sizeof(b->buf), 0);
			weft_close(c);
		}
		break;
	case B_WRITE_FULL:
		r = weft_write(b->fd[0], "wake", 4);
		break;
	case B_SEND_FULL:
		r = weft_send(b->fd[0], "wake", 4, 0);
		break;
	}
	atomic_store(&b->done, 1);
	V_EQ(errno, T_ERRNO);
	V_TRUE(atomic_load(&b->woke));
	V_EQ(r, want);
	if (b->op != B_POLL && b->op != B_WRITE_FULL && b->op != B_SEND_FULL)
		V_TRUE(memcmp(b->buf,
			      b->op == B_RECV_WAITALL ? "wakewake" : "wake",
			      want) == 0);
	return 0;
}

/* Show progress while the other waits, then let it go on. */
static intptr_t t_waker(void *arg)
{
	struct t_blk *b = arg;
	char junk[4096];
	int c;

	for (int i = 0; i < 200; i++) {
		weft_yield();
		atomic_fetch_add(&b->progress, 1);
		V_TRUE(!atomic_load(&b->done));
	}
	V_EQ(weft_sleep_until(weft_now() + 30 * T_MS), 0);
	V_TRUE(!atomic_load(&b->done));
	atomic_store(&b->woke, 1);
	switch (b->op) {
	case B_ACCEPT:
		c = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		{
			struct sockaddr_in a = t_loopback(b->port);

			V_EQ(weft_connect(c, SA(a), sizeof(a)), 0);
		}
		V_EQ(weft_send(c, "wake", 4, 0), 4);
		V_EQ(weft_read(c, junk, 1), 0); /* until accepted and closed */
		weft_close(c);
		break;
	case B_WRITE_FULL:
	case B_SEND_FULL:
		/* Drain the zeros of the junk until "wake" has come. */
		for (int seen = 0; seen < 4;) {
			long r = weft_read(b->fd[1], junk, sizeof(junk));

			V_TRUE(r > 0);
			for (long k = 0; k < r; k++)
				if (junk[k])
					V_EQ(junk[k], "wake"[seen++]);
		}
		break;
	case B_RECV_WAITALL:
		V_EQ(weft_write(b->fd[1], "wake", 4), 4);
		for (int i = 0; i < 50; i++)
			weft_yield();
		V_TRUE(!atomic_load(&b->done));
		V_EQ(weft_write(b->fd[1], "wake", 4), 4);
		break;
	default:
		V_EQ(weft_write(b->fd[1], "wake", 4), 4);
		break;
	}
	V_EQ(weft_carrier_index(), 0);
	return 0;
}

/*
 * One carrier: the blocked thread and its waker share it, so the waker
 * runs only if the blocked operation parked the thread alone.
 */
static void t_one_carrier_blocking(int op)
{
	struct weft_thread *a, *w;
	struct t_blk b;
	intptr_t va = -1, vw = -1;

	setenv("WEFT_CARRIERS", "1", 1);
	t_blk_setup(&b, op);
	cr_assert_eq(weft_thread_spawn(&a, t_blocked, &b, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&w, t_waker, &b, NULL), 0);
	cr_assert_eq(weft_carrier_count(), 1);
	cr_assert_eq(weft_thread_join(w, &vw), 0);
	cr_assert_eq(weft_thread_join(a, &va), 0);
	cr_assert_eq(vw, 0, "waker: %s", v_msg);
	cr_assert_eq(va, 0, "blocked: %s", v_msg);
	cr_assert_eq(atomic_load(&b.progress), 200);
	t_close(b.fd[0]);
	t_close(b.fd[1]);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(io_block, read)
{
	t_one_carrier_blocking(B_READ);
}

Test(io_block, readv)
{
	t_one_carrier_blocking(B_READV);
}

Test(io_block, recv)
{
	t_one_carrier_blocking(B_RECV);
}

Test(io_block, recv_waitall_waits_for_all)
{
	t_one_carrier_blocking(B_RECV_WAITALL);
}

Test(io_block, recvmsg)
{
	t_one_carrier_blocking(B_RECVMSG);
}

Test(io_block, poll)
{
	t_one_carrier_blocking(B_POLL);
}

Test(io_block, accept)
{
	t_one_carrier_blocking(B_ACCEPT);
}

Test(io_block, write_to_a_full_pipe)
{
	t_one_carrier_blocking(B_WRITE_FULL);
}

Test(io_block, send_to_a_full_socket)
{
	t_one_carrier_blocking(B_SEND_FULL);
}

/* ---- 1 MiB through one blocking write, with a reader draining it ---- */

enum { BIG_WRITE, BIG_WRITEV, BIG_SEND, BIG_SENDMSG };

struct t_big {
	int how;   /* BIG_* */
	int fd[2]; /* written at fd[0], read at fd[1] */
	unsigned char *data;
	long wrote;
	long got;
	long bad_at; /* first byte out of order, or -1 */
};

static unsigned char t_pattern(size_t i)
{
	return (unsigned char)(i * 7 + i / 251);
}

static intptr_t t_big_writer(void *arg)
{
	struct t_big *g = arg;
	struct iovec iov[2] = {
		{ g->data, MIB / 2 - 1 },
		{ g->data + MIB / 2 - 1, MIB / 2 + 1 },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	switch (g->how) {
	case BIG_WRITE:
		g->wrote = weft_write(g->fd[0], g->data, MIB);
		break;
	case BIG_WRITEV:
		g->wrote = weft_writev(g->fd[0], iov, 2);
		break;
	case BIG_SEND:
		g->wrote = weft_send(g->fd[0], g->data, MIB, 0);
		break;
	case BIG_SENDMSG:
		g->wrote = weft_sendmsg(g->fd[0], &m, 0);
		break;
	}
	/* The reader sees EOF after what was written. */
	V_EQ(weft_close(g->fd[0]), 0);
	return 0;
}

static intptr_t t_big_reader(void *arg)
{
	struct t_big *g = arg;
	unsigned char buf[3001];
	long r;

	g->bad_at = -1;
	for (;;) {
		r = weft_read(g->fd[1], buf, sizeof(buf));
		V_TRUE(r >= 0);
		if (r == 0)
			break;
		for (long k = 0; k < r; k++)
			if (buf[k] != t_pattern(g->got + k) && g->bad_at < 0)
				g->bad_at = g->got + k;
		g->got += r;
	}
	return 0;
}

/* Writer on a virtual or the plain thread, reader on a virtual thread. */
static void t_big(int how, int kind, bool writer_plain)
{
	struct t_big g = { .how = how };
	struct weft_thread *rt;
	intptr_t v;

	g.data = malloc(MIB);
	cr_assert(g.data);
	for (size_t i = 0; i < MIB; i++)
		g.data[i] = t_pattern(i);
	if (kind == 0)
		cr_assert_eq(pipe2(g.fd, O_CLOEXEC), 0);
	else if (kind == 1)
		cr_assert_eq(t_tcp_pair(g.fd), 0);
	else
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					g.fd),
			     0);
	if (kind == 0) {
		int t = g.fd[0];

		g.fd[0] = g.fd[1];
		g.fd[1] = t;
	}
	cr_assert_eq(weft_thread_spawn(&rt, t_big_reader, &g, NULL), 0);
	if (writer_plain)
		cr_assert_eq(t_big_writer(&g), 0, "%s", v_msg);
	else
		T_RUN(t_big_writer, &g);
	cr_assert_eq(weft_thread_join(rt, &v), 0);
	cr_assert_eq(v, 0, "reader: %s", v_msg);
	close(g.fd[1]);
	free(g.data);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(g.wrote, MIB, "one blocking write of 1 MiB returned %ld",
		     g.wrote);
	cr_assert_eq(g.got, MIB, "the reader got %ld bytes", g.got);
	cr_assert_eq(g.bad_at, -1, "byte %ld out of order", g.bad_at);
}

Test(io_block, write_1mib_pipe)
{
	t_big(BIG_WRITE, 0, false);
}

Test(io_block, writev_1mib_pipe)
{
	t_big(BIG_WRITEV, 0, false);
}

Test(io_block, write_1mib_tcp)
{
	t_big(BIG_WRITE, 1, false);
}

Test(io_block, send_1mib_tcp)
{
	t_big(BIG_SEND, 1, false);
}

Test(io_block, send_1mib_unix)
{
	t_big(BIG_SEND, 2, false);
}

Test(io_block, sendmsg_1mib_tcp)
{
	t_big(BIG_SENDMSG, 1, false);
}

Test(io_plain, write_1mib_pipe_blocks_the_kernel_thread)
{
	t_big(BIG_WRITE, 0, true);
}

Test(io_plain, send_1mib_tcp_blocks_the_kernel_thread)
{
	t_big(BIG_SEND, 1, true);
}

/* ---- plain threads block honestly while virtual threads run ---- */

static intptr_t t_late_waker(void *arg)
{
	struct t_blk *b = arg;

	V_EQ(weft_sleep_until(weft_now() + 30 * T_MS), 0);
	V_TRUE(!atomic_load(&b->done));
	atomic_store(&b->woke, 1);
	if (b->op == B_ACCEPT) {
		int c = T_OK(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		struct sockaddr_in a = t_loopback(b->port);
		char x;

		V_EQ(weft_connect(c, SA(a), sizeof(a)), 0);
		V_EQ(weft_send(c, "wake", 4, 0), 4);
		V_EQ(weft_read(c, &x, 1), 0);
		weft_close(c);
	} else {
		V_EQ(weft_write(b->fd[1], "wake", 4), 4);
	}
	return 0;
}

static void t_plain_blocking(int op)
{
	struct weft_thread *w;
	struct t_blk b;
	intptr_t v;

	t_blk_setup(&b, op);
	cr_assert_eq(weft_thread_spawn(&w, t_late_waker, &b, NULL), 0);
	cr_assert_null(weft_thread_self());
	cr_assert_eq(t_blocked(&b), 0, "%s", v_msg);
	cr_assert_eq(weft_thread_join(w, &v), 0);
	cr_assert_eq(v, 0, "%s", v_msg);
	t_close(b.fd[0]);
	t_close(b.fd[1]);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(io_plain, read_waits_for_a_virtual_writer)
{
	t_plain_blocking(B_READ);
}

Test(io_plain, recvmsg_waits_for_a_virtual_writer)
{
	t_plain_blocking(B_RECVMSG);
}

Test(io_plain, poll_waits_for_a_virtual_writer)
{
	t_plain_blocking(B_POLL);
}

Test(io_plain, accept_waits_for_a_virtual_client)
{
	t_plain_blocking(B_ACCEPT);
}

/* ---- accept's flags, checked for their exact values ---- */

static intptr_t t_accept_flags(void *arg)
{
	static const int flags[] = {
		0,
		SOCK_CLOEXEC,
		SOCK_NONBLOCK,
		SOCK_CLOEXEC | SOCK_NONBLOCK,
	};
	int port, l = T_OK(t_listener(&port));

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct sockaddr_in a;
		socklen_t len = sizeof(a);
		int c = t_client(port), fd;

		fd = weft_accept(l, SA(a), &len, flags[i]);
		V_TRUE(fd >= 0);
		V_EQ(fcntl(fd, F_GETFD),
		     flags[i] & SOCK_CLOEXEC ? FD_CLOEXEC : 0);
		V_EQ(fcntl(fd, F_GETFL) & O_NONBLOCK,
		     flags[i] & SOCK_NONBLOCK ? O_NONBLOCK : 0);
		V_EQ(len, sizeof(a));
		V_EQ(a.sin_family, AF_INET);
		V_EQ(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
		V_EQ(weft_close(fd), 0);
		close(c);
	}
	close(l);
	return 0;
}

Test(io_compare, accept_flags_exact)
{
	cr_assert_eq(t_accept_flags(NULL), 0, "plain: %s", v_msg);
	T_RUN(t_accept_flags, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- weft_main: the test's thread is carrier 0 ---- */

static intptr_t t_echo_main(void *arg)
{
	struct t_blk b;
	struct weft_thread *w;
	intptr_t v;

	t_blk_setup(&b, B_RECV);
	V_EQ(weft_thread_spawn(&w, t_waker, &b, NULL), 0);
	V_EQ(t_blocked(&b), 0);
	V_EQ(weft_thread_join(w, &v), 0);
	V_EQ(v, 0);
	close(b.fd[0]);
	close(b.fd[1]);
	return 42;
}

Test(io_block, under_weft_main)
{
	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(weft_main(t_echo_main, NULL), 42, "%s", v_msg);
	cr_assert_eq(weft_carrier_count(), 0);
}

/* ---- many threads, each on its own pair ---- */

#define PAIRS 1000
#define MSGS 8
#define ROUNDS 3
#define CARRIERS 4

struct t_conn {
	int fd;
	int idx;
};

static atomic_long sent, echoed, received;
static atomic_uint carriers_seen;

static size_t t_msg_size(int idx, int m)
{
	return 1 + (idx * 131 + m * 977) % 3000;
}

static unsigned char t_msg_byte(int idx, int m, size_t k)
{
	return (unsigned char)(idx * 31 + m * 17 + k);
}

static intptr_t t_echo(void *arg)
{
	struct t_conn *c = arg;
	unsigned char buf[4096];
	long r;

	atomic_fetch_or(&carriers_seen, 1u << weft_carrier_index());
	for (;;) {
		if (c->idx % 3 == 0)
			V_TRUE(weft_poll(c->fd, POLLIN) & POLLIN);
		r = c->idx & 1 ? weft_recv(c->fd, buf, sizeof(buf), 0) :
				 weft_read(c->fd, buf, sizeof(buf));
		V_TRUE(r >= 0);
		if (r == 0)
			break;
		V_EQ(weft_write(c->fd, buf, r), r);
		atomic_fetch_add(&echoed, r);
	}
	V_EQ(weft_close(c->fd), 0);
	return 0;
}

static intptr_t t_client_thread(void *arg)
{
	struct t_conn *c = arg;
	unsigned char out[3000], in[3000];

	atomic_fetch_or(&carriers_seen, 1u << weft_carrier_index());
	for (int m = 0; m < MSGS; m++) {
		size_t size = t_msg_size(c->idx, m), got = 0;
		struct iovec iov = { out, size };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		long r;

		for (size_t k = 0; k < size; k++)
			out[k] = t_msg_byte(c->idx, m, k);
		switch (m % 3) {
		case 0:
			r = weft_write(c->fd, out, size);
			break;
		case 1:
			r = weft_send(c->fd, out, size, 0);
			break;
		default:
			r = weft_sendmsg(c->fd, &mh, 0);
			break;
		}
		V_EQ(r, size);
		atomic_fetch_add(&sent, r);
		while (got < size) {
			r = m & 1 ? weft_read(c->fd, in + got, size - got) :
				    weft_recv(c->fd, in + got, size - got, 0);
			V_TRUE(r > 0);
			got += r;
		}
		V_EQ(got, size);
		V_TRUE(memcmp(in, out, size) == 0);
		atomic_fetch_add(&received, got);
	}
	V_EQ(weft_close(c->fd), 0);
	return 0;
}

static void t_raise_nofile(rlim_t want)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want)
		cr_skip_test("RLIMIT_NOFILE is %lu, the test needs %lu",
			     (unsigned long)rl.rlim_max, (unsigned long)want);
	rl.rlim_cur = want;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

Test(io_stress, thousand_threads_each_on_its_own_pair)
{
	static struct t_conn conn[2 * PAIRS];
	static struct weft_thread *t[2 * PAIRS];
	long want = 0;
	int fds;

	t_raise_nofile(4 * PAIRS + 100);
	setenv("WEFT_CARRIERS", "4", 1);
	for (int i = 0; i < PAIRS; i++)
		for (int m = 0; m < MSGS; m++)
			want += t_msg_size(i, m);
	fds = t_open_fds();
	for (int round = 0; round < ROUNDS; round++) {
		atomic_store(&sent, 0);
		atomic_store(&echoed, 0);
		atomic_store(&received, 0);
		atomic_store(&carriers_seen, 0);
		for (int i = 0; i < PAIRS; i++) {
			int s[2];

			if (i % 2)
				cr_assert_eq(t_tcp_pair(s), 0);
			else
				cr_assert_eq(socketpair(AF_UNIX,
							SOCK_STREAM |
								SOCK_CLOEXEC,
							0, s),
					     0);
			conn[2 * i] = (struct t_conn){ s[0], i };
			conn[2 * i + 1] = (struct t_conn){ s[1], i };
		}
		/* Servers first, so that many of them park before any data. */
		for (int i = 0; i < PAIRS; i++)
			cr_assert_eq(weft_thread_spawn(&t[2 * i], t_echo,
						       &conn[2 * i], NULL),
				     0);
		for (int i = 0; i < PAIRS; i++)
			cr_assert_eq(weft_thread_spawn(&t[2 * i + 1],
						       t_client_thread,
						       &conn[2 * i + 1], NULL),
				     0);
		/* And perhaps an extra one the monitor started meanwhile. */
		cr_assert_geq(weft_carrier_count(), CARRIERS);
		for (int i = 0; i < 2 * PAIRS; i++) {
			intptr_t v;

			cr_assert_eq(weft_thread_join(t[i], &v), 0);
			cr_assert_eq(v, 0, "thread %d: %s", i, v_msg);
		}
		cr_assert_eq(weft_shutdown(), 0);
		cr_assert_eq(atomic_load(&sent), want);
		cr_assert_eq(atomic_load(&echoed), want);
		cr_assert_eq(atomic_load(&received), want);
		cr_assert_eq(atomic_load(&carriers_seen), (1u << CARRIERS) - 1);
		cr_assert_eq(t_open_fds(), fds, "fds leaked in round %d",
			     round);
	}
}

/* ---- a migratable thread's write in several waits ---- */

#define MIG_PAIRS 16
#define MIG_BYTES (512 * 1024)
#define MIG_ROUNDS 3
#define MIG_MAX_ROUNDS 40

struct t_mig {
	int fd, seed;
};

static atomic_int mig_moved, mig_writing;

static unsigned char t_mig_byte(int seed, size_t k)
{
	return (unsigned char)(k * 7 + (k >> 12) + seed);
}

static intptr_t t_mig_writer(void *arg)
{
	struct t_mig *m = arg;
	unsigned char *out = malloc(MIG_BYTES);
	int before;

	V_TRUE(out);
	for (size_t k = 0; k < MIG_BYTES; k++)
		out[k] = t_mig_byte(m->seed, k);
	before = weft_carrier_index();
	V_EQ(weft_write(m->fd, out, MIG_BYTES), MIG_BYTES);
	if (weft_carrier_index() != before)
		atomic_fetch_add(&mig_moved, 1);
	atomic_fetch_sub(&mig_writing, 1);
	free(out);
	V_EQ(weft_close(m->fd), 0);
	return 0;
}

/*
 * Holds its carrier 2 ms at a time: the threads queued behind it there
 * are stolen by the other carrier.
 */
static intptr_t t_mig_hog(void *arg)
{
	while (atomic_load(&mig_writing)) {
		int64_t until = weft_now() + 30000000;

		while (weft_now() < until)
			;
		weft_sleep_until(weft_now() + 1000000);
	}
	return 0;
}

/* A chunk at a time, so that the writer waits many times. */
static intptr_t t_mig_reader(void *arg)
{
	struct t_mig *m = arg;
	unsigned char in[4096];
	size_t got = 0;
	ssize_t r;

	while ((r = weft_read(m->fd, in, sizeof(in))) > 0) {
		for (ssize_t k = 0; k < r; k++)
			V_EQ(in[k], t_mig_byte(m->seed, got + k));
		got += r;
	}
	V_EQ(r, 0);
	V_EQ(got, MIG_BYTES);
	V_EQ(weft_close(m->fd), 0);
	return 0;
}

/*
 * A write that waits several times on a socket, by a migratable thread
 * that moves to the other carrier between two waits: every later wait is
 * the new carrier's (its ring only that carrier touches), and every byte
 * arrives in order.
 */
Test(io_stress, migratable_writer_moves_between_waits)
{
	static struct t_mig m[2 * MIG_PAIRS];
	static struct weft_thread *t[2 * MIG_PAIRS], *hog[2];
	struct weft_spawn_attr mig = { .flags = WEFT_SPAWN_MIGRATABLE };
	int fds = t_open_fds();

	setenv("WEFT_CARRIERS", "2", 1);
	atomic_store(&mig_moved, 0);
	/* Rounds until some write did move (the point of the test). */
	for (int round = 0; round < MIG_ROUNDS || (!atomic_load(&mig_moved) &&
						   round < MIG_MAX_ROUNDS);
	     round++) {
		for (int i = 0; i < MIG_PAIRS; i++) {
			int s[2], small = 8192;

			cr_assert_eq(socketpair(AF_UNIX,
						SOCK_STREAM | SOCK_CLOEXEC, 0,
						s),
				     0);
			setsockopt(s[0], SOL_SOCKET, SO_SNDBUF, &small,
				   sizeof(small));
			m[2 * i] =
				(struct t_mig){ s[0], round * MIG_PAIRS + i };
			m[2 * i + 1] =
				(struct t_mig){ s[1], round * MIG_PAIRS + i };
		}
		atomic_store(&mig_writing, MIG_PAIRS);
		for (int i = 0; i < 2; i++)
			cr_assert_eq(weft_thread_spawn(&hog[i], t_mig_hog, NULL,
						       &mig),
				     0);
		for (int i = 0; i < MIG_PAIRS; i++) {
			cr_assert_eq(weft_thread_spawn(&t[2 * i], t_mig_writer,
						       &m[2 * i], &mig),
				     0);
			cr_assert_eq(weft_thread_spawn(&t[2 * i + 1],
						       t_mig_reader,
						       &m[2 * i + 1], &mig),
				     0);
		}
		for (int i = 0; i < 2 * MIG_PAIRS; i++) {
			intptr_t v;

			cr_assert_eq(weft_thread_join(t[i], &v), 0);
			cr_assert_eq(v, 0, "thread %d: %s", i, v_msg);
		}
		for (int i = 0; i < 2; i++)
			cr_assert_eq(weft_thread_join(hog[i], NULL), 0);
	}
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(t_open_fds(), fds);
	cr_assert_gt(atomic_load(&mig_moved), 0, "no writer moved");
}

/* ---- SIGPIPE, as write(2) raises it ---- */

static atomic_int sigpipes;

static void t_on_sigpipe(int sig)
{
	atomic_fetch_add(&sigpipes, 1);
}

static intptr_t t_write_broken_pipe(void *arg)
{
	int p[2];

	T_OK(pipe2(p, O_CLOEXEC));
	close(p[0]);
	V_EQ(weft_write(p[1], "x", 1), -EPIPE);
	close(p[1]);
	return 0;
}

/*
 * write(2) to a pipe nobody reads raises SIGPIPE in the writer; a
 * program that handles it must see it from weft_write too.
 */
Test(io_signal, sigpipe_as_native)
{
	struct sigaction sa = { .sa_handler = t_on_sigpipe };
	int64_t end;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGPIPE, &sa, NULL), 0);
	cr_assert_eq(t_write_broken_pipe(NULL), 0, "%s", v_msg);
	cr_assert_eq(atomic_load(&sigpipes), 1, "native write");
	T_RUN(t_write_broken_pipe, NULL);
	end = weft_now() + 2 * T_SEC;
	while (atomic_load(&sigpipes) < 2 && weft_now() < end)
		poll(NULL, 0, 10);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(atomic_load(&sigpipes), 2,
		     "no SIGPIPE for weft_write on a virtual thread");
}

/*
 * send(2) and sendmsg(2) without MSG_NOSIGNAL raise SIGPIPE too, from the
 * kernel (SI_USER, this process); io_uring never does, so weft raises it
 * as the kernel would; with MSG_NOSIGNAL, nothing.
 */
static atomic_int pipe_code, pipe_pid;

static void t_on_sigpipe_info(int sig, siginfo_t *si, void *uc)
{
	atomic_store(&pipe_code, si->si_code);
	atomic_store(&pipe_pid, si->si_pid);
	atomic_fetch_add(&sigpipes, 1);
}

static intptr_t t_send_broken(void *arg)
{
	bool weft = arg != NULL;
	struct iovec v = { "x", 1 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	int s[2];

	for (int i = 0; i < 3; i++) {
		t_sockpair(s, SOCK_STREAM, NULL);
		close(s[1]);
		if (i == 0)
			V_EQ(weft ? weft_send(s[0], "x", 1, 0) :
				    (send(s[0], "x", 1, 0) < 0 ? -errno : 0),
			     -EPIPE);
		else if (i == 1)
			V_EQ(weft ? weft_sendmsg(s[0], &m, 0) :
				    (sendmsg(s[0], &m, 0) < 0 ? -errno : 0),
			     -EPIPE);
		else
			V_EQ(weft ? weft_send(s[0], "x", 1, MSG_NOSIGNAL) :
				    (send(s[0], "x", 1, MSG_NOSIGNAL) < 0 ?
					     -errno :
					     0),
			     -EPIPE);
		close(s[0]);
	}
	return 0;
}

Test(io_signal, sigpipe_from_send_as_native)
{
	struct sigaction sa = { .sa_sigaction = t_on_sigpipe_info,
				.sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGPIPE, &sa, NULL), 0);
	cr_assert_eq(t_send_broken(NULL), 0, "%s", v_msg);
	cr_assert_eq(atomic_load(&sigpipes), 2, "native send and sendmsg");
	cr_assert_eq(atomic_load(&pipe_code), SI_USER);
	cr_assert_eq(atomic_load(&pipe_pid), getpid());
	atomic_store(&sigpipes, 0);
	atomic_store(&pipe_code, -1);
	T_RUN(t_send_broken, "weft");
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(
		atomic_load(&sigpipes), 2,
		"weft_send and weft_sendmsg: SIGPIPE as send(2) raises it");
	cr_assert_eq(atomic_load(&pipe_code), SI_USER);
	cr_assert_eq(atomic_load(&pipe_pid), getpid());
}

/*
 * A blocking write(2) to a socket whose reader takes some of it and goes
 * returns what it wrote and raises nothing; the next write fails with
 * EPIPE and raises SIGPIPE.  weft_write must do the same, whatever its
 * steps after the first are made of (the ring's write raises SIGPIPE).
 */
static void *take_some_and_close(void *arg)
{
	static char buf[64 << 10];
	int fd = *(int *)arg;
	size_t got = 0;

	while (got < sizeof(buf)) {
		ssize_t r = read(fd, buf, sizeof(buf) - got);

		if (r <= 0)
			break;
		got += r;
	}
	usleep(20 * 1000); /* the writer waits for room again */
	close(fd);
	return NULL;
}

static intptr_t t_write_then_broken(void *arg)
{
	static char big[4 << 20];
	bool weft = arg != NULL;
	pthread_t t;
	ssize_t r;
	int s[2];

	t_sockpair(s, SOCK_STREAM, NULL);
	V_EQ(pthread_create(&t, NULL, take_some_and_close, &s[1]), 0);
	r = weft ? weft_write(s[0], big, sizeof(big)) :
		   write(s[0], big, sizeof(big));
	V_TRUE(r >= 64 << 10 && r < (ssize_t)sizeof(big));
	V_EQ(pthread_join(t, NULL), 0);
	V_EQ(atomic_load(&sigpipes), 0);
	r = weft ? weft_write(s[0], big, 1) :
		   (write(s[0], big, 1) < 0 ? -errno : 0);
	V_EQ(r, -EPIPE);
	close(s[0]);
	return 0;
}

Test(io_signal, no_sigpipe_after_progress_as_native)
{
	struct sigaction sa = { .sa_sigaction = t_on_sigpipe_info,
				.sa_flags = SA_SIGINFO };
	int64_t end;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGPIPE, &sa, NULL), 0);
	cr_assert_eq(t_write_then_broken(NULL), 0, "%s", v_msg);
	cr_assert_eq(atomic_load(&sigpipes), 1, "native write");
	atomic_store(&sigpipes, 0);
	T_RUN(t_write_then_broken, "weft");
	end = weft_now() + 200 * T_MS; /* a signal raised late */
	while (weft_now() < end)
		poll(NULL, 0, 10);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(atomic_load(&sigpipes), 1,
		     "weft_write: one SIGPIPE, for the write that failed");
}

/* ---- the blocking pool ---- */

static atomic_int ticks;
static atomic_bool job_done;

/* A call that blocks its kernel thread, as getaddrinfo may. */
static void blocking_job(void *arg)
{
	usleep(100 * 1000);
	*(int *)arg = atomic_load(&ticks);
}

static intptr_t ticker(void *arg)
{
	while (!atomic_load(&job_done)) {
		atomic_fetch_add(&ticks, 1);
		weft_sleep_until(weft_now() + T_MS);
	}
	return 0;
}

static intptr_t pool_caller(void *arg)
{
	int seen = -1;

	weft__impl_blocking(blocking_job, &seen);
	atomic_store(&job_done, true);
	return seen;
}

/* The pool's call blocks its own kernel thread, not the one carrier. */
Test(io, blocking_pool_leaves_the_carrier_free)
{
	struct weft_thread *t, *caller;
	intptr_t seen;
	int plain = -1, threads = t_kernel_threads();

	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(weft_thread_spawn(&t, ticker, NULL, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&caller, pool_caller, NULL, NULL), 0);
	cr_assert_eq(weft_thread_join(caller, &seen), 0);
	cr_assert_eq(weft_thread_join(t, NULL), 0);
	cr_assert_gt(seen, 0, "the other thread never ran meanwhile");
	/* From a plain thread: the call is made here. */
	weft__impl_blocking(blocking_job, &plain);
	cr_assert_geq(plain, 0);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(t_kernel_threads(), threads, "pool threads left behind");
}

/* ---- a read of a file is short only at its end ---- */

#define HALF_SIZE (8 * MIB)

/* A file whose first MiB is in the page cache and the rest is not. */
static int t_half_cached(unsigned char *buf)
{
	int fd = t_tmpfile("", O_RDWR);

	for (size_t i = 0; i < HALF_SIZE; i++)
		buf[i] = t_pattern(i);
	cr_assert_eq(write(fd, buf, HALF_SIZE), HALF_SIZE);
	cr_assert_eq(fsync(fd), 0);
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	cr_assert_eq(pread(fd, buf, MIB, 0), MIB);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	memset(buf, 0, HALF_SIZE);
	return fd;
}

static intptr_t t_read_half_cached(void *arg)
{
	unsigned char *buf = arg;
	int fd = t_half_cached(buf);
	ssize_t r = weft_read(fd, buf, HALF_SIZE);

	for (size_t i = 0; r == HALF_SIZE && i < HALF_SIZE; i++)
		if (buf[i] != t_pattern(i))
			r = -1000 - 1;
	close(fd);
	if (r != HALF_SIZE)
		return r;
	fd = t_half_cached(buf);
	r = weft_pread(fd, buf, HALF_SIZE, 0);
	close(fd);
	return r;
}

/* RWF_NOWAIT stops where the page cache does; read(2) does not. */
Test(io, read_of_a_partly_cached_file_is_whole)
{
	unsigned char *buf = malloc(HALF_SIZE);

	cr_assert(buf);
	intptr_t got = t_run(t_read_half_cached, buf);

	cr_assert_eq(got, HALF_SIZE, "a virtual thread read %ld", (long)got);
	cr_assert_eq(t_read_half_cached(buf), HALF_SIZE);
	cr_assert_eq(weft_shutdown(), 0);
	free(buf);
}

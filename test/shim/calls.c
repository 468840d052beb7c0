/* SPDX-License-Identifier: MIT */
/*
 * The rest of the blocking calls: preadv/pwritev, fsync, recvmsg/sendmsg,
 * sendfile, the fortified variants, open and its kin in the fd table, and
 * SO_RCVTIMEO/SO_SNDTIMEO honoured to their exact results.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WAITERS 8
#define FILE_SIZE (1 << 20)

ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t len, off_t off, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		const void *mask, size_t fdslen);
int __open_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);

static char path[] = "/tmp/weft-calls-XXXXXX";

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *err(ssize_t r)
{
	if (r >= 0)
		return "ok";
	return errno == EAGAIN	    ? "EAGAIN" :
	       errno == EINVAL	    ? "EINVAL" :
	       errno == EBADF	    ? "EBADF" :
	       errno == ESPIPE	    ? "ESPIPE" :
	       errno == EINPROGRESS ? "EINPROGRESS" :
				      "other";
}

static void test_files(void)
{
	char a[] = "hello ", b[] = "world", got[16] = "";
	struct iovec w[2] = { { a, 6 }, { b, 5 } };
	struct iovec r[2] = { { got, 4 }, { got + 4, 7 } };
	int fd, p[2];
	ssize_t n;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	n = pwritev(fd, w, 2, 10);
	printf("pwritev: %zd, position %ld\n", n, (long)lseek(fd, 0, SEEK_CUR));
	n = preadv(fd, r, 2, 10);
	printf("preadv: %zd '%s'\n", n, got);
	errno = 0;
	n = preadv(fd, r, 2, -1);
	printf("preadv at -1: %zd %s\n", n, err(n));
	printf("fsync %d fdatasync %d\n", fsync(fd), fdatasync(fd));
	CHECK(pipe(p) == 0);
	errno = 0;
	n = fsync(p[0]);
	printf("fsync of a pipe: %zd %s\n", n, err(n));
	errno = 0;
	n = pwritev(p[1], w, 2, 0);
	printf("pwritev on a pipe: %zd %s\n", n, err(n));
	memset(got, 0, sizeof(got));
	n = __pread64_chk(fd, got, 5, 16, sizeof(got));
	printf("__pread64_chk: %zd '%s'\n", n, got);
	close(fd);

	fd = __open_2(path, O_RDONLY);
	memset(got, 0, sizeof(got));
	n = __read_chk(fd, got, 16, sizeof(got));
	printf("__open_2 + __read_chk: %zd bytes\n", n);
	close(fd);
	fd = __openat_2(AT_FDCWD, path, O_RDONLY | O_NONBLOCK);
	printf("__openat_2 nonblocking: %s\n",
	       fcntl(fd, F_GETFL) & O_NONBLOCK ? "yes" : "no");
	close(fd);
	fd = creat(path, 0600);
	printf("creat truncates: size %ld\n", (long)lseek(fd, 0, SEEK_END));
	close(fd);
	close(p[0]);
	close(p[1]);
}

static void test_fifo(void)
{
	char fifo[64], c;
	ssize_t n;
	int fd;

	snprintf(fifo, sizeof(fifo), "%s.fifo", path);
	CHECK(mkfifo(fifo, 0600) == 0);
	fd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(fd >= 0);
	errno = 0;
	n = read(fd, &c, 1);
	printf("nonblocking fifo read, no writer: %zd\n", n);
	close(fd);
	unlink(fifo);
}

struct pair {
	int fd;
	char buf[32];
	ssize_t n;
};

static void *msg_reader(void *arg)
{
	struct pair *x = arg;
	char a[5], b[32];
	struct iovec iov[2] = { { a, 5 }, { b, sizeof(b) } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	x->n = recvmsg(x->fd, &m, 0);
	snprintf(x->buf, sizeof(x->buf), "%.5s|%.*s", a,
		 x->n > 5 ? (int)x->n - 5 : 0, b);
	return NULL;
}

static void test_msgs(void)
{
	struct iovec iov[3] = { { "one ", 4 }, { "two ", 4 }, { "three", 5 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };
	struct pair x;
	pthread_t t;
	int sv[2];
	ssize_t n;
	char buf[8];
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	x.fd = sv[0];
	pthread_create(&t, NULL, msg_reader, &x);
	pause_ms(10);
	n = sendmsg(sv[1], &m, 0);
	pthread_join(t, NULL);
	printf("sendmsg %zd, recvmsg %zd '%s'\n", n, x.n, x.buf);
	CHECK(send(sv[1], "chk", 3, 0) == 3);
	n = __recv_chk(sv[0], buf, 3, sizeof(buf), 0);
	printf("__recv_chk: %zd\n", n);
	CHECK(send(sv[1], "chk", 3, 0) == 3);
	n = __recvfrom_chk(sv[0], buf, 3, sizeof(buf), 0, NULL, NULL);
	printf("__recvfrom_chk: %zd\n", n);
	errno = 0;
	n = __recvfrom_chk(sv[0], buf, 3, sizeof(buf), MSG_DONTWAIT,
			   (struct sockaddr *)&sa, &len);
	printf("__recvfrom_chk, nothing there: %zd %s\n", n, err(n));
	close(sv[0]);
	close(sv[1]);
}

static void *file_reader(void *arg)
{
	struct pair *x = arg;
	char buf[4096];
	uint32_t s = 0;
	ssize_t n;
	long total = 0;

	while ((n = read(x->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			s = s * 31 + (unsigned char)buf[i];
		total += n;
	}
	snprintf(x->buf, sizeof(x->buf), "%ld %08x", total, s);
	return NULL;
}

static void test_sendfile(void)
{
	static char data[FILE_SIZE];
	struct pair x;
	pthread_t t;
	off_t off = 4096;
	ssize_t a, b;
	int fd, sv[2];

	for (int i = 0; i < FILE_SIZE; i++)
		data[i] = (char)(i * 13 + i / 1000);
	fd = open(path, O_RDWR | O_TRUNC);
	CHECK(write(fd, data, FILE_SIZE) == FILE_SIZE);
	CHECK(lseek(fd, 1000, SEEK_SET) == 1000);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	x.fd = sv[0];
	pthread_create(&t, NULL, file_reader, &x);
	a = sendfile(sv[1], fd, &off, 300000);
	b = sendfile(sv[1], fd, NULL, FILE_SIZE);
	close(sv[1]);
	pthread_join(t, NULL);
	printf("sendfile %zd (offset now %ld), %zd (position now %ld): "
	       "read %s\n",
	       a, (long)off, b, (long)lseek(fd, 0, SEEK_CUR), x.buf);
	close(sv[0]);
	close(fd);
}

static void set_timeo(int fd, int name, long ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };

	CHECK(setsockopt(fd, SOL_SOCKET, name, &tv, sizeof(tv)) == 0);
}

static void *late_send(void *arg)
{
	pause_ms(20);
	CHECK(send((int)(intptr_t)arg, "late", 4, 0) == 4);
	return NULL;
}

static void test_rcvtimeo(void)
{
	char buf[8];
	pthread_t t;
	int64_t t0;
	ssize_t n;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeo(sv[0], SO_RCVTIMEO, 50);
	t0 = now_ms();
	errno = 0;
	n = recv(sv[0], buf, sizeof(buf), 0);
	printf("recv with SO_RCVTIMEO: %zd %s, waited %s\n", n, err(n),
	       now_ms() - t0 >= 50 ? "enough" : "too little");
	errno = 0;
	n = read(sv[0], buf, sizeof(buf));
	printf("read with SO_RCVTIMEO: %zd %s\n", n, err(n));
	pthread_create(&t, NULL, late_send, (void *)(intptr_t)sv[1]);
	n = recv(sv[0], buf, sizeof(buf), 0);
	printf("recv, data before the timeout: %zd\n", n);
	pthread_join(t, NULL);
	set_timeo(sv[0], SO_RCVTIMEO, 0);
	t0 = now_ms();
	pthread_create(&t, NULL, late_send, (void *)(intptr_t)sv[1]);
	set_timeo(sv[0], SO_RCVTIMEO, 5);
	set_timeo(sv[0], SO_RCVTIMEO, 0); /* 0 is forever */
	n = recv(sv[0], buf, sizeof(buf), 0);
	printf("recv, timeout 0 waits: %zd\n", n);
	pthread_join(t, NULL);
	set_timeo(sv[0], SO_RCVTIMEO, 30);
	CHECK(dup2(sv[0], 50) == 50);
	errno = 0;
	n = recv(50, buf, sizeof(buf), 0);
	printf("recv on a dup: %zd %s\n", n, err(n));
	close(50);
	close(sv[0]);
	close(sv[1]);
}

static void test_sndtimeo(void)
{
	static char big[1 << 20];
	int64_t t0;
	ssize_t n;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeo(sv[1], SO_SNDTIMEO, 50);
	t0 = now_ms();
	n = send(sv[1], big, sizeof(big), 0);
	printf("send with SO_SNDTIMEO: %s, waited %s\n",
	       n > 0 && n < (ssize_t)sizeof(big) ? "partial" : "wrong",
	       now_ms() - t0 >= 50 ? "enough" : "too little");
	errno = 0;
	n = write(sv[1], big, sizeof(big));
	printf("write when full: %zd %s\n", n, err(n));
	close(sv[0]);
	close(sv[1]);
}

static void test_accept_timeo(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int l, c, a;
	char buf[4];
	ssize_t n;

	l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(l, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CHECK(listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&sa, &len) == 0);
	set_timeo(l, SO_RCVTIMEO, 30);
	errno = 0;
	a = accept(l, NULL, NULL);
	printf("accept with SO_RCVTIMEO: %d %s\n", a, err(a));
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	errno = 0;
	n = recv(a, buf, sizeof(buf), 0);
	printf("recv on the accepted socket: %zd %s\n", n, err(n));
	close(a);
	close(c);
	close(l);
}

static int wsv[WAITERS][2];
static ssize_t wgot[WAITERS];

static void *timed_waiter(void *arg)
{
	intptr_t i = (intptr_t)arg;
	char buf[8];

	set_timeo(wsv[i][0], SO_RCVTIMEO, 5000);
	wgot[i] = recv(wsv[i][0], buf, sizeof(buf), 0);
	return NULL;
}

/* More timed receivers than carriers: parked, not blocking carriers. */
static void test_many_timed(void)
{
	pthread_t t[WAITERS];

	for (intptr_t i = 0; i < WAITERS; i++) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, wsv[i]) == 0);
		pthread_create(&t[i], NULL, timed_waiter, (void *)i);
	}
	pause_ms(20);
	for (int i = 0; i < WAITERS; i++)
		CHECK(send(wsv[i][1], "x", 1, 0) == 1);
	for (int i = 0; i < WAITERS; i++) {
		pthread_join(t[i], NULL);
		printf("timed receiver %d: %zd\n", i, wgot[i]);
		close(wsv[i][0]);
		close(wsv[i][1]);
	}
}

static void test_poll_chk(void)
{
	struct pollfd p[1];
	struct timespec ts = { 0, 1000000 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	p[0] = (struct pollfd){ .fd = sv[0], .events = POLLIN };
	printf("__poll_chk: %d\n", __poll_chk(p, 1, 10, sizeof(p)));
	CHECK(send(sv[1], "x", 1, 0) == 1);
	printf("__ppoll_chk: %d\n", __ppoll_chk(p, 1, &ts, NULL, sizeof(p)));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_files();
	test_fifo();
	test_msgs();
	test_sendfile();
	test_rcvtimeo();
	test_sndtimeo();
	test_accept_timeo();
	test_many_timed();
	test_poll_chk();
	unlink(path);
	printf("done\n");
	return 0;
}

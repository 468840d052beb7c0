/* SPDX-License-Identifier: MIT */
/*
 * Pipes between threads: a token passed round a ring of threads, a bulk
 * copy with a checksum, vectored and positioned I/O, poll, and the exact
 * EAGAIN of an O_NONBLOCK pipe.  Output is the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"

#define RING 32
#define LAPS 200
#define BULK (4 << 20)

static int ring[RING][2];

static void *ring_member(void *arg)
{
	intptr_t i = (intptr_t)arg;
	unsigned v;

	for (int lap = 0; lap < LAPS; lap++) {
		CHECK(read(ring[i][0], &v, sizeof(v)) == sizeof(v));
		v++;
		CHECK(write(ring[(i + 1) % RING][1], &v, sizeof(v)) ==
		      sizeof(v));
	}
	return NULL;
}

static void test_ring(void)
{
	pthread_t t[RING];
	unsigned v = 0;

	for (int i = 0; i < RING; i++)
		CHECK(pipe(ring[i]) == 0);
	for (intptr_t i = 1; i < RING; i++)
		pthread_create(&t[i], NULL, ring_member, (void *)i);
	for (int lap = 0; lap < LAPS; lap++) {
		CHECK(write(ring[1][1], &v, sizeof(v)) == sizeof(v));
		CHECK(read(ring[0][0], &v, sizeof(v)) == sizeof(v));
	}
	for (int i = 1; i < RING; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < RING; i++) {
		close(ring[i][0]);
		close(ring[i][1]);
	}
	printf("ring token %u\n", v);
}

static uint32_t sum(const unsigned char *p, size_t n, uint32_t s)
{
	while (n--)
		s = s * 31 + *p++;
	return s;
}

static void *producer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static unsigned char buf[BULK];

	for (size_t i = 0; i < BULK; i++)
		buf[i] = (unsigned char)(i * 7 + i / 4096);
	CHECK(write(fd, buf, BULK) == BULK); /* all of it, as natively */
	close(fd);
	return (void *)(uintptr_t)sum(buf, BULK, 0);
}

static void test_bulk(void)
{
	unsigned char buf[65536];
	uint32_t s = 0;
	size_t total = 0;
	pthread_t t;
	ssize_t n;
	void *r;
	int p[2];

	CHECK(pipe(p) == 0);
	pthread_create(&t, NULL, producer, (void *)(intptr_t)p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0) {
		s = sum(buf, n, s);
		total += n;
	}
	CHECK(n == 0);
	pthread_join(t, &r);
	close(p[0]);
	printf("bulk %zu bytes, checksums %s\n", total,
	       (uint32_t)(uintptr_t)r == s ? "match" : "differ");
}

static void test_vectors(void)
{
	char a[] = "hello, ", b[] = "world", got[32] = "";
	struct iovec w[2] = { { a, 7 }, { b, 5 } };
	struct iovec r[2] = { { got, 3 }, { got + 3, 9 } };
	char path[] = "/tmp/weft-pipes-XXXXXX";
	int p[2], fd;

	CHECK(pipe(p) == 0);
	CHECK(writev(p[1], w, 2) == 12);
	CHECK(readv(p[0], r, 2) == 12);
	printf("readv '%s'\n", got);
	close(p[0]);
	close(p[1]);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	CHECK(pwrite(fd, "abcdef", 6, 100) == 6);
	CHECK(pread(fd, got, 3, 102) == 3);
	CHECK(pread(fd, got + 3, 3, 1000) == 0);
	got[3] = '\0';
	CHECK(lseek(fd, 0, SEEK_CUR) == 0);
	CHECK(write(fd, "xy", 2) == 2);
	CHECK(lseek(fd, 0, SEEK_CUR) == 2);
	printf("pread '%s'\n", got);
	close(fd);
}

static void *late_writer(void *arg)
{
	struct timespec ts = { 0, 20 * 1000000 };

	nanosleep(&ts, NULL);
	CHECK(write((int)(intptr_t)arg, "!", 1) == 1);
	return NULL;
}

static void test_poll_nonblock(void)
{
	struct pollfd pfd;
	pthread_t t;
	ssize_t n;
	char c;
	int p[2], on = 1;

	CHECK(pipe(p) == 0);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	printf("poll empty: %d\n", poll(&pfd, 1, 10));
	pthread_create(&t, NULL, late_writer, (void *)(intptr_t)p[1]);
	n = poll(&pfd, 1, 5000);
	printf("poll wait: %zd revents %#x\n", n, pfd.revents);
	pthread_join(t, NULL);
	CHECK(read(p[0], &c, 1) == 1);

	CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
	errno = 0;
	n = read(p[0], &c, 1);
	printf("nonblocking read: %zd %s\n", n,
	       errno == EAGAIN ? "EAGAIN" : "?");
	on = 0;
	CHECK(ioctl(p[0], FIONBIO, &on) == 0);
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	pthread_create(&t, NULL, late_writer, (void *)(intptr_t)p[1]);
	printf("blocking read again: %zd\n", read(p[0], &c, 1));
	pthread_join(t, NULL);

	CHECK(pipe2(p, O_NONBLOCK) == 0);
	errno = 0;
	n = read(p[0], &c, 1);
	printf("pipe2 nonblocking read: %zd %s\n", n,
	       errno == EAGAIN ? "EAGAIN" : "?");
	CHECK(dup2(p[0], 100) == 100);
	errno = 0;
	n = read(100, &c, 1);
	printf("dup2 of it: %zd %s\n", n, errno == EAGAIN ? "EAGAIN" : "?");
	close(100);
	close(p[1]);
	printf("read at end: %zd\n", read(p[0], &c, 1));
	close(p[0]);
	errno = 0;
	n = read(p[0], &c, 1);
	printf("read of a closed fd: %zd %s\n", n,
	       errno == EBADF ? "EBADF" : "?");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_ring();
	test_bulk();
	test_vectors();
	test_poll_nonblock();
	printf("done\n");
	return 0;
}

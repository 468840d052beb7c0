/* SPDX-License-Identifier: MIT */
/*
 * Reads whose length programs count on: a read of a regular file is short
 * only at its end, even where the page cache is not (a try without
 * waiting stops there), and so is one of /dev/zero while other threads
 * want the CPU; a stream still returns what is there, and a socket that
 * waited for every read still answers EAGAIN once made O_NONBLOCK.
 * Output is the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"

#define FILE_SIZE (8 << 20)
#define CACHED (1 << 20)
#define ZERO_READS 256
#define ZERO_SIZE (1 << 20)
#define WAITS 40

static char *buf;

/* A file of FILE_SIZE bytes whose pages past CACHED are not in memory. */
static int half_cached(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	for (size_t i = 0; i < FILE_SIZE; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	CHECK(write(fd, buf, FILE_SIZE) == FILE_SIZE);
	CHECK(fsync(fd) == 0);
	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	CHECK(pread(fd, buf, CACHED, 0) == CACHED);
	return fd;
}

static int same_as_written(size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (char)(i * 7 + i / 4096))
			return 0;
	return 1;
}

static void test_file(void)
{
	char path[] = "/tmp/weft-files-XXXXXX";
	struct iovec v[2];
	ssize_t n;
	int fd;

	CHECK(mkstemp(path) >= 0);
	fd = half_cached(path);
	memset(buf, 0, FILE_SIZE);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	n = read(fd, buf, FILE_SIZE);
	printf("read: %zd, same %d\n", n, same_as_written(FILE_SIZE));
	close(fd);

	fd = half_cached(path);
	memset(buf, 0, FILE_SIZE);
	n = pread(fd, buf, FILE_SIZE, 0);
	printf("pread: %zd, same %d\n", n, same_as_written(FILE_SIZE));
	close(fd);

	fd = half_cached(path);
	memset(buf, 0, FILE_SIZE);
	v[0] = (struct iovec){ buf, CACHED / 2 };
	v[1] = (struct iovec){ buf + CACHED / 2, FILE_SIZE - CACHED / 2 };
	n = preadv(fd, v, 2, 0);
	printf("preadv: %zd, same %d\n", n, same_as_written(FILE_SIZE));
	close(fd);

	/* Past the end: short at the end and only there. */
	fd = half_cached(path);
	CHECK(lseek(fd, FILE_SIZE - 100, SEEK_SET) == FILE_SIZE - 100);
	n = read(fd, buf, 4096);
	printf("read at the end: %zd, then %zd\n", n, read(fd, buf, 4096));
	close(fd);
	unlink(path);
}

static atomic_int spinning;

static void *spin(void *arg)
{
	while (atomic_load(&spinning))
		;
	return NULL;
}

/* /dev/zero, while two threads keep both CPUs wanted. */
static void test_zero(void)
{
	pthread_t t[2];
	int fd = open("/dev/zero", O_RDONLY), short_reads = 0;

	CHECK(fd >= 0);
	atomic_store(&spinning, 1);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, spin, NULL);
	for (int i = 0; i < ZERO_READS; i++)
		short_reads += read(fd, buf, ZERO_SIZE) != ZERO_SIZE;
	atomic_store(&spinning, 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	close(fd);
	printf("/dev/zero: %d short reads of %d\n", short_reads, ZERO_READS);
}

static int sv[2];

static void *writer(void *arg)
{
	for (int i = 0; i < WAITS; i++) {
		usleep(500);
		CHECK(write(sv[1], "x", 1) == 1);
	}
	return NULL;
}

/* Reads that wait, then the same socket made non-blocking two ways. */
static void test_waited_then_nonblocking(void)
{
	pthread_t t;
	int got = 0, on = 1;
	char c[16];
	ssize_t n;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pthread_create(&t, NULL, writer, NULL);
	while (got < WAITS) {
		n = read(sv[0], c, sizeof(c));
		CHECK(n > 0);
		got += n;
	}
	pthread_join(t, NULL);
	CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
	n = read(sv[0], c, 1);
	printf("waited %d bytes; then O_NONBLOCK: %zd %s\n", got, n,
	       errno == EAGAIN ? "EAGAIN" : "other");
	CHECK(fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) & ~O_NONBLOCK) == 0);
	CHECK(ioctl(sv[0], FIONBIO, &on) == 0);
	errno = 0;
	n = recv(sv[0], c, 1, 0);
	printf("then FIONBIO: recv %zd %s\n", n,
	       errno == EAGAIN ? "EAGAIN" : "other");
	/* A stream read is short when that is all there is. */
	on = 0;
	CHECK(ioctl(sv[0], FIONBIO, &on) == 0);
	CHECK(write(sv[1], "abc", 3) == 3);
	printf("stream: %zd of %zu\n", read(sv[0], c, sizeof(c)), sizeof(c));
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	buf = malloc(FILE_SIZE);
	CHECK(buf);
	test_file();
	test_zero();
	test_waited_then_nonblocking();
	free(buf);
	return 0;
}

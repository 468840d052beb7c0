/* SPDX-License-Identifier: MIT */
/*
 * A read of ready data: weft_read from a virtual thread against read(2)
 * from a plain thread on the same pipe, and the io_uring floors under
 * weft_read: a NOP round trip and a read round trip on a bare ring set up
 * as weft sets up its own.  preadv2(RWF_NOWAIT) is the cost of trying the
 * read before parking, weft's fast path: made as weft makes it, a system
 * call without libc's wrapper, whose cancellation bracket costs 50 ns in
 * a process with threads (read(2) here runs before any thread starts).
 *
 * A process with threads also shares its fd table, and then the kernel
 * takes a reference on the file for every call, where a process with one
 * thread skips it: weft's always has threads (its carriers and monitor).
 * raw_read_threads and preadv2_nowait_threads are the same calls made
 * while a second kernel thread waits, the conditions weft_read runs in.
 *
 * The pipe is filled before each round of reads, outside the clock, and
 * every timed read takes CHUNK bytes that are already there.
 */
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "weft.h"
#include "bench.h"

#define CHUNK 64
#define PIPE_BYTES (1024 * 1024)

typedef ssize_t (*reader)(int fd, void *buf, size_t len);

struct run {
	long ops;
	int fd[2];
	double ns; /* out */
};

static struct io_uring ring;

/* Fill the empty pipe (its write end does not block); returns the bytes. */
static long fill(int wfd)
{
	static char buf[64 * 1024];
	long n = 0;
	ssize_t w;

	while ((w = write(wfd, buf, sizeof(buf))) > 0)
		n += w;
	return n;
}

static double time_reads(struct run *r, reader rd)
{
	char buf[CHUNK];
	int64_t ns = 0, t0;
	long done = 0;

	while (done < r->ops) {
		long n = fill(r->fd[1]), k = n / CHUNK;

		t0 = b_now();
		for (long i = 0; i < k; i++)
			if (rd(r->fd[0], buf, CHUNK) != CHUNK) {
				fprintf(stderr, "read: short read\n");
				exit(1);
			}
		ns += b_now() - t0;
		/* What is left is less than a chunk, and not timed. */
		if (n % CHUNK && read(r->fd[0], buf, n % CHUNK) < 0)
			exit(1);
		done += k;
	}
	return (double)ns / done;
}

static ssize_t uring_read(int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	ssize_t res;

	io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
	io_uring_submit_and_wait(&ring, 1);
	if (io_uring_peek_cqe(&ring, &cqe))
		return -1;
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

static ssize_t nowait_read(int fd, void *buf, size_t len)
{
	struct iovec iov = { buf, len };

	return syscall(SYS_preadv2, fd, &iov, 1, -1L, 0L, RWF_NOWAIT);
}

/* A second kernel thread, asleep until its pipe is written. */
static void *sleeper(void *arg)
{
	char c;

	return (void *)(intptr_t)read(*(int *)arg, &c, 1);
}

static double uring_nop(long ops)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int64_t t0;

	t0 = b_now();
	for (long i = 0; i < ops; i++) {
		sqe = io_uring_get_sqe(&ring);
		io_uring_prep_nop(sqe);
		io_uring_submit_and_wait(&ring, 1);
		if (io_uring_peek_cqe(&ring, &cqe)) {
			fprintf(stderr, "read: no NOP completion\n");
			exit(1);
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	return (double)(b_now() - t0) / ops;
}

static intptr_t weft_reads(void *arg)
{
	struct run *r = arg;

	r->ns = time_reads(r, weft_read);
	return 0;
}

int main(void)
{
	struct run r = { .ops = b_env("BENCH_READS", 200000) };
	struct io_uring_params p = {
		/* weft's first choice, see lib/ring.c */
		.flags = IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN,
	};
	int ret;

	if (pipe2(r.fd, O_CLOEXEC) < 0 ||
	    fcntl(r.fd[1], F_SETFL, O_NONBLOCK) < 0) {
		perror("read: pipe");
		return 1;
	}
	/* A big pipe makes long rounds; the default 64 KiB works too. */
	fcntl(r.fd[1], F_SETPIPE_SZ, PIPE_BYTES);
	ret = io_uring_queue_init_params(64, &ring, &p);
	if (ret < 0) {
		fprintf(stderr, "read: io_uring setup: %s\n", strerror(-ret));
		return 1;
	}

	/* Warm-up, then each reader in turn. */
	r.ops = 20000;
	time_reads(&r, read);
	r.ops = b_env("BENCH_READS", 200000);

	b_emit("read", "raw_read", time_reads(&r, read), "ns/op");

	setenv("WEFT_CARRIERS", "1", 1);
	if (weft_main(weft_reads, &r) < 0) {
		fprintf(stderr, "read: weft_main failed\n");
		return 1;
	}
	b_emit("read", "weft_read", r.ns, "ns/op");

	b_emit("read", "uring_read", time_reads(&r, uring_read), "ns/op");
	b_emit("read", "uring_nop", uring_nop(r.ops), "ns/op");
	b_emit("read", "preadv2_nowait", time_reads(&r, nowait_read), "ns/op");

	int wake[2];
	pthread_t t;

	if (pipe2(wake, O_CLOEXEC) < 0 ||
	    pthread_create(&t, NULL, sleeper, &wake[0])) {
		perror("read: thread");
		return 1;
	}
	b_emit("read", "raw_read_threads", time_reads(&r, read), "ns/op");
	b_emit("read", "preadv2_nowait_threads", time_reads(&r, nowait_read),
	       "ns/op");
	if (write(wake[1], "", 1) != 1 || pthread_join(t, NULL))
		return 1;
	io_uring_queue_exit(&ring);
	return 0;
}

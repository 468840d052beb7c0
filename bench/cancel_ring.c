/* SPDX-License-Identifier: MIT */
/*
 * The kernel's share of a cancellation, with no weft in it: N reads armed
 * on the read end of one empty pipe in one bare ring (set up as weft sets
 * up its own), then cancelled, and the clock runs until the last CQE.
 *
 *   by_data   one IORING_OP_ASYNC_CANCEL per read, by user_data, as weft
 *             cancels a thread's SQE (newest first, then oldest first)
 *   fd_all    a single IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL
 *
 * BENCH_READS (default 5000, what each of two carriers holds in the group
 * benchmark's cancel) sets N.  Not run by run.sh: a probe of where the
 * cost of `group weft_cancel` lies (bench/RESULTS.md).
 */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

enum { BY_DATA_NEWEST, BY_DATA_OLDEST, FD_ALL };

static struct io_uring_sqe *sqe(struct io_uring *r)
{
	struct io_uring_sqe *s = io_uring_get_sqe(r);

	if (!s) {
		io_uring_submit(r);
		s = io_uring_get_sqe(r);
	}
	return s;
}

/* ns per read cancelled, from the first cancel to the last CQE. */
static double once(struct io_uring *r, int fd, char *bufs, long n, int how)
{
	int64_t t0;
	long got = 0;

	for (long i = 0; i < n; i++) {
		struct io_uring_sqe *s = sqe(r);

		io_uring_prep_read(s, fd, bufs + i, 1, 0);
		io_uring_sqe_set_data(s, bufs + i);
	}
	io_uring_submit(r);
	t0 = b_now();
	if (how == FD_ALL) {
		struct io_uring_sqe *s = sqe(r);

		io_uring_prep_cancel_fd(s, fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data(s, NULL);
	} else {
		for (long k = 0; k < n; k++) {
			long i = how == BY_DATA_NEWEST ? n - 1 - k : k;
			struct io_uring_sqe *s = sqe(r);

			io_uring_prep_cancel(s, bufs + i, 0);
			io_uring_sqe_set_data(s, NULL);
			s->flags |= IOSQE_CQE_SKIP_SUCCESS;
		}
	}
	io_uring_submit(r);
	while (got < n) {
		struct io_uring_cqe *c;
		unsigned head, seen = 0;

		if (io_uring_wait_cqe(r, &c) < 0)
			break;
		io_uring_for_each_cqe (r, head, c) {
			got += c->user_data != 0 && c->res == -ECANCELED;
			seen++;
		}
		io_uring_cq_advance(r, seen);
	}
	return got == n ? (double)(b_now() - t0) / n : -1;
}

int main(void)
{
	static const char *name[] = { "by_data_newest", "by_data_oldest",
				      "fd_all" };
	long n = b_env("BENCH_READS", 5000);
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
		.cq_entries = 8192,
	};
	struct io_uring r;
	char *bufs = malloc(n);
	int fd[2];

	if (!bufs || pipe(fd) < 0 || io_uring_queue_init_params(256, &r, &p)) {
		fprintf(stderr, "cancel_ring: setup failed\n");
		return 1;
	}
	for (int how = 0; how <= FD_ALL; how++) {
		double best = -1;

		/* The best of three: the kernel's own cost, not the noise. */
		for (int rep = 0; rep < 3; rep++) {
			double ns = once(&r, fd[0], bufs, n, how);

			if (ns < 0) {
				fprintf(stderr, "cancel_ring: %s lost a CQE\n",
					name[how]);
				return 1;
			}
			if (best < 0 || ns < best)
				best = ns;
		}
		b_emit("cancel_ring", name[how], best, "ns/read");
	}
	io_uring_queue_exit(&r);
	return 0;
}

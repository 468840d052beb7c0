/* SPDX-License-Identifier: MIT */
/*
 * Waiting on several SQEs: the first completion wins, the rest are
 * cancelled and still reaped, and a completion that beat its cancellation
 * is reported as done: nothing read is ever lost.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"
#include "lib/weftimpl.h"

TestSuite(ring, .timeout = 120);

static intptr_t two_pipes(void *arg)
{
	struct weft__carrier *c = weft__carrier_self();
	struct io_uring_sqe *sqe[2];
	struct weft__waiter w[2];
	int a[2], b[2], r;

	cr_assert_eq(pipe(a), 0);
	cr_assert_eq(pipe(b), 0);
	cr_assert_eq(write(b[1], "x", 1), 1);
	sqe[0] = weft__ring_sqe(c);
	io_uring_prep_poll_add(sqe[0], a[0], POLLIN);
	sqe[1] = weft__ring_sqe(c);
	io_uring_prep_poll_add(sqe[1], b[0], POLLIN);
	r = weft__ring_wait_any(c, sqe, w, 2, -1, WEFT__WAIT_IO);
	cr_assert_eq(r, 0);
	cr_assert_eq(w[0].res, -ECANCELED);
	cr_assert_eq(w[1].res, POLLIN);

	/* Nothing ready: the deadline wins and both are cancelled. */
	sqe[0] = weft__ring_sqe(c);
	io_uring_prep_poll_add(sqe[0], a[0], POLLIN);
	sqe[1] = weft__ring_sqe(c);
	io_uring_prep_poll_add(sqe[1], a[0], POLLIN);
	r = weft__ring_wait_any(c, sqe, w, 2, weft_now() + 5 * T_MS,
				WEFT__WAIT_IO);
	cr_assert_eq(r, -ETIMEDOUT);
	cr_assert_eq(w[0].res, -ECANCELED);
	cr_assert_eq(w[1].res, -ECANCELED);
	cr_assert_eq(c->inflight, 0);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	return 0;
}

Test(ring, first_completion_wins_and_the_rest_are_reaped)
{
	cr_assert_eq(t_run(two_pipes, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

#define ROUNDS 20000

struct race {
	int fd[2];
	atomic_long written, read;
	atomic_int done;
};

static void *writer(void *arg)
{
	struct race *x = arg;
	char buf[7] = "abcdefg";

	for (int i = 0; i < ROUNDS; i++) {
		if (write(x->fd[1], buf, 1 + i % 7) > 0)
			atomic_fetch_add(&x->written, 1 + i % 7);
		if (i % 64 == 0)
			usleep(20);
	}
	atomic_store(&x->done, 1);
	return NULL;
}

/* Reads racing their deadlines: every byte written is read exactly once. */
static intptr_t reader(void *arg)
{
	struct weft__carrier *c = weft__carrier_self();
	struct race *x = arg;
	struct io_uring_sqe *sqe;
	struct weft__waiter w;
	char buf[64];

	for (;;) {
		long seen = atomic_load(&x->read);

		if (atomic_load(&x->done) && seen == atomic_load(&x->written))
			break;
		sqe = weft__ring_sqe(c);
		io_uring_prep_read(sqe, x->fd[0], buf, sizeof(buf), -1);
		/* deadlines from already passed to a few microseconds */
		weft__ring_wait_any(c, &sqe, &w, 1,
				    weft_now() + (seen % 4) * 3000,
				    WEFT__WAIT_IO);
		cr_assert(w.res > 0 || w.res == -ECANCELED, "res %d", w.res);
		if (w.res > 0)
			atomic_fetch_add(&x->read, w.res);
	}
	return 0;
}

Test(ring, cancelled_reads_never_lose_bytes)
{
	static struct race x;
	pthread_t p;

	cr_assert_eq(pipe(x.fd), 0);
	pthread_create(&p, NULL, writer, &x);
	cr_assert_eq(t_run(reader, &x), 0);
	pthread_join(p, NULL);
	cr_assert_eq(atomic_load(&x.read), atomic_load(&x.written));
	cr_assert_gt(atomic_load(&x.written), ROUNDS);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * The fds of the runtime's rings and eventfds, from /proc/self/fd: those
 * that were not there before it started (Criterion has eventfds too).
 */
static bool before[4096];

static int own_fds(int *fds, int max)
{
	char path[64], link[64];
	int n = 0;

	for (int fd = 0; fd < 4096 && n < max; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = 0;
		if (!before[fd] &&
		    (strstr(link, "[io_uring]") || strstr(link, "[eventfd]")))
			fds[n++] = fd;
	}
	return n;
}

static intptr_t close_own(void *arg)
{
	int fds[64], n = own_fds(fds, 64), p[2];
	char c;

	(void)arg;
	/* Each carrier's ring and eventfd, above the numbers programs use. */
	cr_assert_geq(n, 2 * weft_carrier_count());
	for (int i = 0; i < n; i++) {
		cr_assert_geq(fds[i], 1024 - 64, "fd %d", fds[i]);
		cr_assert(weft__impl_own_fd(fds[i]), "fd %d", fds[i]);
		cr_assert_eq(weft_close(fds[i]), -EBADF, "fd %d", fds[i]);
		cr_assert_eq(weft__impl_next_own_fd(fds[i]), fds[i]);
	}
	cr_assert_eq(weft__impl_next_own_fd(fds[n - 1] + 1), -1);
	cr_assert(!weft__impl_own_fd(0));
	cr_assert_eq(own_fds(fds, 64), n);
	/* The ring still waits. */
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(weft_sleep_until(weft_now() + T_MS), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert_eq(weft_read(p[0], &c, 1), 1);
	close(p[0]);
	close(p[1]);
	return 0;
}

Test(ring, own_fds_sit_high_and_cannot_be_closed)
{
	int fds[64], n = own_fds(fds, 64);

	for (int i = 0; i < n; i++)
		before[fds[i]] = true;
	cr_assert_eq(t_run(close_own, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * Cancellation: of a thread blocked in each kind of call, level and edge,
 * scopes, shields, deadlines; and cancellations racing completions, with
 * every byte accounted for.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(cancel, .timeout = 180);

static int fds[2], lfd;
static struct weft_mutex m = WEFT_MUTEX_INIT;
static struct weft_cond cv = WEFT_COND_INIT;
static struct weft_sem sem = WEFT_SEM_INIT(0);
static struct weft_thread *forever;
static struct weft_future *never;

static intptr_t wait_forever(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

static intptr_t blocked_read(void *arg)
{
	char c;

	return weft_read(fds[0], &c, 1);
}

static intptr_t blocked_recv(void *arg)
{
	char c;

	return weft_recv(fds[0], &c, 1, 0);
}

static intptr_t blocked_accept(void *arg)
{
	return weft_accept(lfd, NULL, NULL, 0);
}

/*
 * A listener with a backlog of 0 whose queue is already full drops the
 * next SYN: a connect to it blocks until cancelled (or retried).
 */
static struct sockaddr_in full_addr;

static intptr_t blocked_connect(void *arg)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	intptr_t r = weft_connect(fd, (struct sockaddr *)&full_addr,
				  sizeof(full_addr));

	close(fd);
	return r;
}

static int full_listener(int *ret_filler)
{
	socklen_t len = sizeof(full_addr);
	int l = socket(AF_INET, SOCK_STREAM, 0), c;

	full_addr = (struct sockaddr_in){ .sin_family = AF_INET };
	full_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(l, (struct sockaddr *)&full_addr, sizeof(full_addr));
	getsockname(l, (struct sockaddr *)&full_addr, &len);
	listen(l, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	connect(c, (struct sockaddr *)&full_addr, sizeof(full_addr));
	*ret_filler = c;
	return l;
}

static intptr_t blocked_poll(void *arg)
{
	return weft_poll(fds[0], POLLIN);
}

static intptr_t blocked_mutex(void *arg)
{
	return weft_mutex_lock(&m); /* the test holds it */
}

static intptr_t blocked_cond(void *arg)
{
	int r;

	weft_mutex_lock(&m);
	r = weft_cond_wait(&cv, &m);
	/* held again, cancelled or not */
	if (weft_mutex_trylock(&m) != -EBUSY)
		r = -1000;
	weft_mutex_unlock(&m);
	return r;
}

static intptr_t blocked_sem(void *arg)
{
	return weft_sem_wait(&sem);
}

static intptr_t blocked_join(void *arg)
{
	return weft_thread_join(forever, NULL);
}

static intptr_t blocked_future(void *arg)
{
	return weft_future_wait(never, NULL);
}

static intptr_t (*const blocked[])(void *) = {
	wait_forever, blocked_read,   blocked_recv,    blocked_accept,
	blocked_poll, blocked_mutex,  blocked_cond,    blocked_sem,
	blocked_join, blocked_future, blocked_connect,
};

static intptr_t body_each_kind(void *arg)
{
	struct weft_group outer, g;
	struct weft_future *f[sizeof(blocked) / sizeof(blocked[0])];
	int port, full, filler;
	intptr_t v;

	cr_assert_eq(t_tcp_pair(fds), 0);
	lfd = t_listener(&port);
	full = full_listener(&filler);
	weft_thread_spawn(&forever, wait_forever, NULL, NULL);
	/* a future that stays pending: its thread sleeps in another group */
	weft_group(&outer)
	{
		weft_spawn_future(&outer, wait_forever, NULL, &never);
		weft_mutex_lock(&m);
		weft_group(&g, .policy = WEFT_SUPERVISE)
		{
			for (size_t i = 0;
			     i < sizeof(blocked) / sizeof(blocked[0]); i++)
				weft_spawn_future(&g, blocked[i], NULL, &f[i]);
			weft_sleep_until(weft_now() + 50 * T_MS);
			weft_group_cancel(&g);
		}
		weft_mutex_unlock(&m);
		weft_group_cancel(&outer);
	}
	for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++) {
		cr_assert_eq(weft_future_wait(f[i], &v), -ECANCELED,
			     "kind %zu: status", i);
		cr_assert_eq(v, i == 6 ? -ECANCELED : -ECANCELED,
			     "kind %zu returned %ld", i, (long)v);
		weft_future_release(f[i]);
	}
	weft_future_release(never);
	cr_assert_eq(weft_group_result(&g), 0);
	weft_thread_interrupt(forever);
	weft_thread_join(forever, NULL);
	close(fds[0]);
	close(fds[1]);
	close(lfd);
	close(full);
	close(filler);
	return 0;
}

Test(cancel, a_thread_blocked_in_each_kind_of_call)
{
	cr_assert_eq(t_run(body_each_kind, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_level(void *arg)
{
	struct weft_cancel_scope s, shield;
	int64_t soon = weft_now() + T_MS;

	cr_assert_eq(weft_cancel_scope_enter(&s, -1, 0), 0);
	cr_assert_eq(weft_cancelled(), 0);
	weft_cancel_scope_cancel(&s);
	/* every blocking call, until the scope is left */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(weft_sleep_until(soon), -ECANCELED);
	cr_assert_eq(weft_yield(), 0, "yield is not a blocking call");
	cr_assert_eq(weft_openat(AT_FDCWD, "/", O_RDONLY, 0), -ECANCELED);
	cr_assert_eq(weft_fsync(0), -ECANCELED);
	cr_assert_eq(weft_cancelled(), -ECANCELED);
	/* a shield keeps it out, and needs a deadline of its own */
	cr_assert_eq(weft_cancel_scope_enter(&shield, -1, 1), -EINVAL);
	cr_assert_eq(weft_cancel_scope_enter(&shield, weft_now() + T_SEC, 1),
		     0);
	cr_assert_eq(weft_sleep_until(weft_now() + T_MS), 0);
	cr_assert_eq(weft_cancel_scope_leave(&s), -EINVAL, "misnested");
	cr_assert_eq(weft_cancel_scope_leave(&shield), 0);
	cr_assert_eq(weft_sleep_until(soon), -ECANCELED);
	cr_assert_eq(weft_cancel_scope_leave(&s), 0);
	cr_assert_eq(weft_sleep_until(weft_now() + T_MS), 0);
	return 0;
}

Test(cancel, level_cancellation_lasts_until_the_scope_is_left)
{
	cr_assert_eq(t_run(body_level, NULL), 0);
	cr_assert_eq(body_level(NULL), 0, "on a plain thread too");
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t body_deadlines(void *arg)
{
	struct weft_cancel_scope a, b;
	int64_t now = weft_now();

	cr_assert_eq(weft_deadline(), -1);
	weft_cancel_scope_enter(&a, now + 30 * T_MS, 0);
	weft_cancel_scope_enter(&b, now + T_SEC, 0);
	cr_assert_eq(weft_deadline(), now + 30 * T_MS, "the earliest rules");
	cr_assert_eq(weft_sleep_until(now + 10 * T_SEC), -ETIMEDOUT);
	cr_assert_geq(weft_now(), now + 30 * T_MS);
	cr_assert_eq(weft_cancelled(), -ETIMEDOUT);
	weft_cancel_scope_leave(&b);
	weft_cancel_scope_leave(&a);
	cr_assert_eq(weft_cancelled(), 0);
	return 0;
}

Test(cancel, deadlines_and_the_queries)
{
	cr_assert_eq(t_run(body_deadlines, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t interrupted(void *arg)
{
	int r1 = weft_sleep_until(weft_now() + 10 * T_SEC);
	int r2 = weft_sleep_until(weft_now() + T_MS);

	return r1 == -EINTR && r2 == 0 ? 0 : -1;
}

Test(cancel, an_interrupt_fails_one_call)
{
	struct weft_thread *t;
	intptr_t v;

	cr_assert_eq(weft_thread_spawn(&t, interrupted, NULL, NULL), 0);
	usleep(20000);
	cr_assert_eq(weft_thread_interrupt(t), 0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A cancellation racing a read that completes: a reader in a group,
 * cancelled at once or after the writer's bytes, ROUNDS times.  Bytes
 * read, plus bytes left in the pipe at the end, must be exactly the bytes
 * written: none lost, none twice, none reported as not done.
 */
#define ROUNDS 100000

static intptr_t reader(void *arg)
{
	char buf[64];
	ssize_t n = weft_read(fds[0], buf, sizeof(buf));

	return n; /* bytes, or -ECANCELED */
}

static intptr_t body_race(void *arg)
{
	long written = 0, got = 0, cancelled = 0, drained = 0;
	char buf[64] = "0123456789";
	struct weft_future *f;
	struct weft_group g;
	intptr_t v;

	for (int i = 0; i < ROUNDS; i++) {
		weft_group(&g, .policy = WEFT_SUPERVISE)
		{
			weft_spawn_future(&g, reader, NULL, &f);
			/*
			 * Vary where the cancellation lands: before the
			 * read parks, while it is parked, just as the data
			 * arrives, or after it completed.  The owner's own
			 * calls are cancelled too once it cancels: write
			 * first.
			 */
			if (i % 3 == 0)
				weft_yield();
			written += weft_write(fds[1], buf, 1 + i % 7);
			if (i % 2 == 1)
				weft_yield();
			weft_group_cancel(&g);
		}
		cr_assert_eq(weft_future_wait(f, &v), v < 0 ? -ECANCELED : 0);
		if (v > 0)
			got += v;
		else
			cancelled++;
		cr_assert(v > 0 || v == -ECANCELED, "read returned %ld",
			  (long)v);
		weft_future_release(f);
	}
	/* what is left in the socket or pipe */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
		drained += n;
	cr_assert_eq(got + drained, written, "read %ld + left %ld != %ld", got,
		     drained, written);
	cr_assert_gt(cancelled, 0, "no read was cancelled: no race");
	cr_assert_gt(got, 0, "no read completed: no race");
	return 0;
}

Test(cancel, racing_a_completing_read_on_a_socket_loses_nothing)
{
	cr_assert_eq(t_tcp_pair(fds), 0);
	cr_assert_eq(t_run(body_race, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(cancel, racing_a_completing_read_on_a_pipe_loses_nothing)
{
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(t_run(body_race, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A cancellation that lands as its thread goes from its check to
 * registering its wait is never missed: a plain thread, running beside
 * the carriers, cancels a group the moment its member starts to sleep
 * for a minute.  A missed one is a minute's hang: the suite's timeout.
 */
#define ENTRY_RACES 20000

static intptr_t sleep_long(void *arg)
{
	atomic_int *started = arg;

	atomic_store(started, 1);
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

Test(cancel, a_cancel_as_a_thread_enters_its_wait_is_never_missed)
{
	setenv("WEFT_CARRIERS", "2", 1);
	for (int i = 0; i < ENTRY_RACES; i++) {
		struct weft_group g;
		atomic_int started = 0;

		cr_assert_eq(weft_group_open(&g, NULL), 0);
		cr_assert_eq(weft_spawn(&g, sleep_long, &started), 0);
		/* Vary where in its way to the wait the member is. */
		while (!atomic_load(&started))
			;
		for (int spin = i % 128; spin > 0; spin--)
			__asm__ volatile("" ::: "memory");
		weft_group_cancel(&g);
		cr_assert_eq(weft_group_join(&g), 0);
		weft_group_fini(&g);
	}
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * fork while the runtime runs: the child gets a fresh runtime holding
 * only the forking thread, never the parent's rings; the parent goes on.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(fork, .timeout = 120);

#define FORKS 50
#define KIDS 100

static int never[2];

/* Blocks in a read until the test closes the pipe: busy parent carriers. */
static intptr_t blocked(void *arg)
{
	char c;

	return weft_read(never[0], &c, 1);
}

static intptr_t add_one(void *arg)
{
	return (intptr_t)arg + 1;
}

/*
 * What a child does on its fresh runtime: threads, I/O through a pipe, a
 * sleep, a group; 0 when all of it worked.
 */
static int child_work(int carriers)
{
	struct weft_thread *t[KIDS];
	struct weft_group g;
	intptr_t v, sum = 0;
	int p[2], r = 0;
	char buf[8];

	for (int i = 0; i < KIDS; i++)
		if (weft_thread_spawn(&t[i], add_one, (void *)(intptr_t)i,
				      NULL) < 0)
			return 1;
	for (int i = 0; i < KIDS; i++) {
		if (weft_thread_join(t[i], &v) < 0)
			return 2;
		sum += v;
	}
	if (sum != KIDS * (KIDS + 1) / 2)
		return 3;
	if (pipe(p) < 0 || weft_write(p[1], "forked", 6) != 6 ||
	    weft_read(p[0], buf, sizeof(buf)) != 6 || memcmp(buf, "forked", 6))
		return 4;
	close(p[0]);
	close(p[1]);
	if (weft_sleep_until(weft_now() + 1000000) < 0)
		return 5;
	weft_group(&g)
	{
		for (int i = 0; i < 10; i++)
			weft_spawn(&g, add_one, NULL);
	}
	if (weft_group_result(&g) < 0)
		return 7;
	if (carriers && weft_carrier_count() != carriers)
		return 6;
	return r;
}

static intptr_t child_work_any(void *arg)
{
	return child_work(0);
}

static int status_of(pid_t pid)
{
	int st;

	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static intptr_t fork_many(void *arg)
{
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0)
			_exit(child_work(1));
		cr_assert_eq(status_of(pid), 0, "fork %d", i);
	}
	return 0;
}

Test(fork, from_a_virtual_thread_with_busy_carriers)
{
	struct weft_thread *t[8];

	/* The child starts a monitor of its own: a thread. */
	T_SKIP_THREADED_FORK();
	cr_assert_eq(pipe(never), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], blocked, NULL, NULL), 0);
	cr_assert_eq(t_run(fork_many, NULL), 0);
	/* The parent's threads and rings are as they were. */
	close(never[1]);
	for (int i = 0; i < 8; i++) {
		intptr_t v;

		cr_assert_eq(weft_thread_join(t[i], &v), 0);
		cr_assert_eq(v, 0);
	}
	close(never[0]);
	cr_assert_eq(t_run(add_one, (void *)41), 42);
	cr_assert_eq(weft_shutdown(), 0);
}

/* weft_main in the child: its runtime ends when the forking thread does. */
static intptr_t forking_body(void *arg)
{
	pid_t pid = fork();

	if (pid == 0)
		return child_work(1) + 10;
	return status_of(pid);
}

Test(fork, under_weft_main_the_child_returns_from_weft_main)
{
	pid_t pid;

	T_SKIP_THREADED_FORK();
	pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit((int)weft_main(forking_body, NULL));
	/* The grandchild's weft_main returned 10; the child's passed it on. */
	cr_assert_eq(status_of(pid), 10);
}

/* From a plain thread: the child's runtime starts afresh on first spawn. */
Test(fork, from_a_plain_thread_while_the_runtime_runs)
{
	T_SKIP_THREADED_FORK();
	cr_assert_eq(t_run(add_one, (void *)1), 2);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();

		cr_assert_geq(pid, 0);
		if (pid == 0) {
			int r = (int)t_run(child_work_any, NULL);

			_exit(r ? r : weft_shutdown() ? 20 : 0);
		}
		cr_assert_eq(status_of(pid), 0, "fork %d", i);
	}
	cr_assert_eq(t_run(add_one, (void *)2), 3);
	cr_assert_eq(weft_shutdown(), 0);
}

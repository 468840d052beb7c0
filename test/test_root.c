/* SPDX-License-Identifier: MIT */
/*
 * The root group: spawns without a group join it; weft_main gives them a
 * grace period, then cancels and joins them; SIGINT and SIGTERM cancel
 * the root scope of a weft_main program, which then ends cleanly.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(root, .timeout = 60);

static atomic_int finished, cancelled;

static intptr_t short_task(void *arg)
{
	weft_sleep_until(weft_now() + 20 * T_MS);
	atomic_fetch_add(&finished, 1);
	return 0;
}

static intptr_t endless_task(void *arg)
{
	int r = weft_sleep_until(weft_now() + 60 * T_SEC);

	if (r == -ECANCELED)
		atomic_fetch_add(&cancelled, 1);
	return r;
}

static intptr_t spawns_and_returns(void *arg)
{
	for (int i = 0; i < 100; i++)
		cr_assert_eq(weft_spawn(NULL, short_task, NULL), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_spawn(NULL, endless_task, NULL), 0);
	return 42;
}

Test(root, weft_main_joins_the_root_group_after_a_grace_period)
{
	int64_t t0 = weft_now();

	setenv("WEFT_GRACE_MS", "200", 1);
	cr_assert_eq(weft_main(spawns_and_returns, NULL), 42);
	/* the short ones finished within the grace, the rest were cancelled */
	cr_assert_eq(atomic_load(&finished), 100);
	cr_assert_eq(atomic_load(&cancelled), 10);
	cr_assert_geq(weft_now() - t0, 200 * T_MS);
	cr_assert_lt(weft_now() - t0, 30 * T_SEC);
}

Test(root, weft_shutdown_joins_it_too)
{
	setenv("WEFT_GRACE_MS", "0", 1);
	cr_assert_eq(weft_spawn(NULL, endless_task, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(atomic_load(&cancelled), 1);
}

Test(root, garbage_in_weft_grace_ms)
{
	setenv("WEFT_GRACE_MS", "soon", 1);
	cr_assert_eq(weft_main(spawns_and_returns, NULL), -EINVAL);
}

static void *send_signal(void *arg)
{
	usleep(100000);
	kill(getpid(), (int)(intptr_t)arg);
	return NULL;
}

/* A server's main loop: blocks until cancelled, then cleans up. */
static intptr_t serve_until_stopped(void *arg)
{
	int r;

	weft_spawn(NULL, endless_task, NULL);
	r = weft_sleep_until(weft_now() + 60 * T_SEC);
	return r == -ECANCELED ? 7 : -1; /* 7: a clean shutdown */
}

static void stop_by(int sig)
{
	pthread_t p;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		setenv("WEFT_GRACE_MS", "100", 1);
		pthread_create(&p, NULL, send_signal, (void *)(intptr_t)sig);
		_exit((int)weft_main(serve_until_stopped, NULL));
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "killed by signal %d",
		  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 7);
}

Test(root, sigint_cancels_the_root_scope)
{
	stop_by(SIGINT);
}

Test(root, sigterm_cancels_the_root_scope)
{
	stop_by(SIGTERM);
}

static void on_int(int sig)
{
}

/* A program's own handler is left alone. */
Test(root, the_programs_own_handlers_win)
{
	struct sigaction sa = { .sa_handler = on_int }, now;

	sigaction(SIGINT, &sa, NULL);
	setenv("WEFT_GRACE_MS", "0", 1);
	cr_assert_eq(weft_main(spawns_and_returns, NULL), 42);
	sigaction(SIGINT, NULL, &now);
	cr_assert_eq(now.sa_handler, on_int);
}

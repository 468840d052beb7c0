/* SPDX-License-Identifier: MIT */
/*
 * The monitor: a thread that spins or blocks its carrier where the
 * runtime cannot see must not stop the others.  Each test but the last
 * few fails with the monitor off (WEFT_STUCK_MS=0 in the environment).
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"

TestSuite(monitor, .timeout = 60);

#define SPIN_MS 2000 /* at most: a spinner stops once released */
#define SLEEPERS 100

static atomic_int holding; /* the spinner or blocker holds its carrier */
static atomic_int done;	   /* sleepers that have finished */
static atomic_int release_at = INT_MAX; /* done that releases the spinner */
static atomic_int release, spin_timed_out;
static atomic_llong spin_end; /* when the spinner stopped */
static atomic_llong last_done;
static int never[2];	      /* a pipe the blocker reads with read(2) */
static atomic_int blocker_at; /* the blocker's carrier */

static void wait_for(atomic_int *v, int want, int64_t deadline)
{
	while (atomic_load(v) < want && weft_now() < deadline)
		usleep(500);
}

/* Spin for arg ms at most, until released; without a switch. */
static intptr_t spinner(void *arg)
{
	int64_t end = weft_now() + (intptr_t)arg * T_MS;

	atomic_store(&holding, 1);
	while (!atomic_load(&release) && weft_now() < end)
		;
	atomic_store(&spin_timed_out, !atomic_load(&release));
	atomic_store(&spin_end, weft_now());
	atomic_store(&holding, 0);
	return 0;
}

/* read(2), not weft_read: the carrier blocks in the kernel. */
static intptr_t blocker(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c;

	atomic_store(&blocker_at, weft_carrier_index());
	atomic_store(&holding, 1);
	return read(fd, &c, 1) == 1 ? 0 : -EIO;
}

static intptr_t sleeper(void *arg)
{
	int64_t t;

	weft_sleep_until(weft_now() + 5 * T_MS);
	t = weft_now();
	if (t > atomic_load(&last_done))
		atomic_store(&last_done, t);
	if (atomic_fetch_add(&done, 1) + 1 == atomic_load(&release_at))
		atomic_store(&release, 1);
	return 0;
}

static void spawn_sleepers(struct weft_thread **t)
{
	for (int i = 0; i < SLEEPERS; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], sleeper, NULL, NULL), 0);
}

static void join_all(struct weft_thread **t, int n)
{
	for (int i = 0; i < n; i++)
		cr_assert_eq(weft_thread_join(t[i], NULL), 0);
}

static void start_on_one_carrier(void)
{
	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(pipe(never), 0);
	cr_assert_eq(t_run(sleeper, NULL), 0);
	atomic_store(&done, 0);
}

Test(monitor, a_spinning_thread_does_not_stop_new_ones)
{
	struct weft_thread *s, *t[SLEEPERS];
	int64_t t0;

	start_on_one_carrier();
	atomic_store(&release_at, SLEEPERS);
	cr_assert_eq(weft_thread_spawn(&s, spinner, (void *)SPIN_MS, NULL), 0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	t0 = weft_now();
	spawn_sleepers(t);
	wait_for(&done, SLEEPERS, t0 + 3 * T_SEC);
	cr_assert_eq(atomic_load(&done), SLEEPERS);
	cr_assert_lt(atomic_load(&last_done) - t0, 500 * T_MS);
	join_all(t, SLEEPERS);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	cr_assert(!atomic_load(&spin_timed_out), "they waited for the spin");
	cr_assert_eq(weft_shutdown(), 0);
}

Test(monitor, a_thread_blocked_in_read_does_not_stop_new_ones)
{
	struct weft_thread *b, *t[SLEEPERS];
	int64_t t0;

	start_on_one_carrier();
	cr_assert_eq(weft_thread_spawn(&b, blocker, (void *)(intptr_t)never[0],
				       NULL),
		     0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	t0 = weft_now();
	spawn_sleepers(t);
	wait_for(&done, SLEEPERS, t0 + 3 * T_SEC);
	cr_assert_eq(atomic_load(&done), SLEEPERS);
	cr_assert_lt(atomic_load(&last_done) - t0, 500 * T_MS);
	cr_assert_eq(write(never[1], "x", 1), 1);
	join_all(t, SLEEPERS);
	cr_assert_eq(weft_thread_join(b, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* A thread that spawns and then spins: its own carrier holds the new ones. */
static intptr_t spawn_then_spin(void *arg)
{
	struct weft_thread **t = arg;

	spawn_sleepers(t);
	return spinner((void *)SPIN_MS);
}

Test(monitor, a_spinning_spawner_does_not_strand_its_children)
{
	struct weft_thread *s, *t[SLEEPERS];

	start_on_one_carrier();
	atomic_store(&release_at, SLEEPERS);
	cr_assert_eq(weft_thread_spawn(&s, spawn_then_spin, t, NULL), 0);
	wait_for(&done, SLEEPERS, weft_now() + 3 * T_SEC);
	cr_assert_eq(atomic_load(&done), SLEEPERS);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	join_all(t, SLEEPERS);
	cr_assert(!atomic_load(&spin_timed_out), "they waited for the spin");
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * With two carriers, spawns from a plain thread go to the one not stuck:
 * one at a time, so that the other sleeps between them and nobody would
 * steal a thread queued on the stuck one.
 */
Test(monitor, plain_spawns_avoid_a_stuck_carrier)
{
	struct weft_thread *b, *t[4];
	struct weft__carrier *c;
	int64_t end;

	setenv("WEFT_CARRIERS", "2", 1);
	cr_assert_eq(pipe(never), 0);
	cr_assert_eq(weft_thread_spawn(&b, blocker, (void *)(intptr_t)never[0],
				       NULL),
		     0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	c = weft__rt.carriers[atomic_load(&blocker_at)];
	end = weft_now() + T_SEC;
	while (!atomic_load(&c->stuck) && weft_now() < end)
		usleep(1000);
	cr_assert(atomic_load(&c->stuck));
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(weft_thread_spawn(&t[i], sleeper, NULL, NULL), 0);
		wait_for(&done, i + 1, weft_now() + 200 * T_MS);
		cr_assert_eq(atomic_load(&done), i + 1);
	}
	cr_assert_eq(weft_carrier_count(), 2, "no extra carrier was needed");
	cr_assert_eq(write(never[1], "x", 1), 1);
	join_all(t, 4);
	cr_assert_eq(weft_thread_join(b, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A thread pinned to the stuck carrier (it ran there, then slept) waits
 * for it, and resumes there once it is free; new threads meanwhile run
 * elsewhere.
 */
static atomic_int pinned_parked;
static int pinned_where[2];
static atomic_llong pinned_woke;

static intptr_t pinned(void *arg)
{
	pinned_where[0] = weft_carrier_index();
	atomic_store(&pinned_parked, 1);
	weft_sleep_until(weft_now() + 20 * T_MS);
	atomic_store(&pinned_woke, weft_now());
	pinned_where[1] = weft_carrier_index();
	return 0;
}

static atomic_int elsewhere;

static intptr_t where(void *arg)
{
	if (weft_carrier_index() != 0)
		atomic_fetch_add(&elsewhere, 1);
	return sleeper(arg);
}

Test(monitor, pinned_threads_wait_for_their_carrier_and_resume_there)
{
	struct weft_thread *p, *s, *t[10];

	start_on_one_carrier();
	atomic_store(&release_at, 10);
	cr_assert_eq(weft_thread_spawn(&p, pinned, NULL, NULL), 0);
	wait_for(&pinned_parked, 1, weft_now() + T_SEC);
	/* One carrier: the spinner runs once the pinned thread has parked. */
	cr_assert_eq(weft_thread_spawn(&s, spinner, (void *)SPIN_MS, NULL), 0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], where, NULL, NULL), 0);
	wait_for(&done, 10, weft_now() + 3 * T_SEC);
	cr_assert_eq(atomic_load(&done), 10);
	cr_assert_eq(atomic_load(&elsewhere), 10);
	cr_assert_eq(weft_thread_join(p, NULL), 0);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	join_all(t, 10);
	cr_assert(!atomic_load(&spin_timed_out), "they waited for the spin");
	cr_assert_geq(atomic_load(&pinned_woke), atomic_load(&spin_end));
	cr_assert_eq(pinned_where[0], 0);
	cr_assert_eq(pinned_where[1], 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* A migratable thread waiting in a stuck carrier's steal queue moves. */
static atomic_int moved;

static intptr_t roamer(void *arg)
{
	int64_t end = weft_now() + 3 * T_SEC;

	while (!atomic_load(&moved) && weft_now() < end) {
		weft_yield();
		if (atomic_load(&holding) && weft_carrier_index() != 0) {
			atomic_store(&moved, 1);
			atomic_store(&release, 1);
		}
	}
	return 0;
}

Test(monitor, a_migratable_thread_leaves_a_stuck_carrier)
{
	struct weft_spawn_attr a = { .flags = WEFT_SPAWN_MIGRATABLE };
	struct weft_thread *m, *s;

	start_on_one_carrier();
	cr_assert_eq(weft_thread_spawn(&m, roamer, NULL, &a), 0);
	cr_assert_eq(weft_thread_spawn(&s, spinner, (void *)SPIN_MS, NULL), 0);
	cr_assert_eq(weft_thread_join(m, NULL), 0);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	cr_assert(atomic_load(&moved));
	cr_assert(!atomic_load(&spin_timed_out),
		  "it moved as the spin went on");
	cr_assert_eq(weft_shutdown(), 0);
}

/* Poll for up to 5 s until the extra carriers have left. */
static void wait_retired(int threads)
{
	int64_t end = weft_now() + 5 * T_SEC;

	while ((weft_carrier_count() != 1 || t_kernel_threads() != threads) &&
	       weft_now() < end)
		usleep(1000);
	cr_assert_eq(weft_carrier_count(), 1);
	cr_assert_eq(t_kernel_threads(), threads);
}

Test(monitor, an_extra_carrier_retires_and_is_counted)
{
	struct weft_thread *b, *t[SLEEPERS];
	struct weft__monitor_stats ms;
	int threads;

	start_on_one_carrier();
	threads = t_kernel_threads();
	cr_assert_eq(weft_thread_spawn(&b, blocker, (void *)(intptr_t)never[0],
				       NULL),
		     0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	spawn_sleepers(t);
	wait_for(&done, SLEEPERS, weft_now() + 2 * T_SEC);
	cr_assert_eq(weft_carrier_count(), 2);
	cr_assert_eq(t_kernel_threads(), threads + 1);
	usleep(100 * 1000);
	cr_assert_eq(write(never[1], "x", 1), 1);
	join_all(t, SLEEPERS);
	cr_assert_eq(weft_thread_join(b, NULL), 0);
	wait_retired(threads);
	cr_assert_geq(atomic_load(&weft__rt.monitor.stuck), 1);
	/* What the statistics table prints (WEFT_STATS). */
	weft__monitor_stats(&ms);
	cr_assert_eq(ms.compensating, 1);
	cr_assert_eq(ms.peak, 1);
	cr_assert_geq(ms.blocked_ns, 100 * T_MS);
	/* The runtime goes on as before, and starts extras again. */
	cr_assert_eq(t_run(sleeper, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * A thread dump while a carrier is stuck and an extra one runs: every
 * carrier is in it, the stuck one with the thread that holds it.
 */
static intptr_t named_blocker(void *arg)
{
	return blocker(arg);
}

Test(monitor, a_dump_sees_the_extra_carrier_and_the_stuck_one)
{
	struct weft_spawn_attr a = { .name = "blocker" };
	struct weft_thread *b, *t[SLEEPERS];
	char out[8192] = "";
	int p[2];
	ssize_t n;

	start_on_one_carrier();
	cr_assert_eq(weft_thread_spawn(&b, named_blocker,
				       (void *)(intptr_t)never[0], &a),
		     0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	spawn_sleepers(t);
	wait_for(&done, SLEEPERS, weft_now() + 3 * T_SEC);
	cr_assert_eq(weft_carrier_count(), 2);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(weft_dump(p[1], 0), 0);
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	cr_assert_gt(n, 0);
	close(p[0]);
	cr_assert(strstr(out, ", 2 carriers\n"), "%s", out);
	cr_assert(strstr(out, "carrier 0 did not stop"), "%s", out);
	cr_assert(strstr(out, "\"blocker\""), "%s", out);
	cr_assert_eq(write(never[1], "x", 1), 1);
	join_all(t, SLEEPERS);
	cr_assert_eq(weft_thread_join(b, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

#define BLOCKERS 8

Test(monitor, extra_carriers_are_capped)
{
	struct weft_thread *b[BLOCKERS];
	int p[BLOCKERS][2], threads, most = 0;
	int64_t end;

	setenv("WEFT_MAX_EXTRA_CARRIERS", "2", 1);
	start_on_one_carrier();
	threads = t_kernel_threads();
	for (int i = 0; i < BLOCKERS; i++) {
		cr_assert_eq(pipe(p[i]), 0);
		cr_assert_eq(weft_thread_spawn(&b[i], blocker,
					       (void *)(intptr_t)p[i][0], NULL),
			     0);
	}
	/* Until the cap is reached, and 200 ms more, or 3 s. */
	end = weft_now() + 3 * T_SEC;
	while (weft_now() < end) {
		int n = weft_carrier_count();

		if (n > most)
			most = n;
		if (most == 3 && end > weft_now() + 200 * T_MS)
			end = weft_now() + 200 * T_MS;
		cr_assert_leq(n, 3);
		cr_assert_leq(t_kernel_threads(), threads + 2);
		usleep(1000);
	}
	cr_assert_eq(most, 3, "carriers at most: %d", most);
	for (int i = 0; i < BLOCKERS; i++)
		cr_assert_eq(write(p[i][1], "x", 1), 1);
	join_all(b, BLOCKERS);
	wait_retired(threads);
	cr_assert_eq(atomic_load(&weft__rt.monitor.extra_peak), 2);
	cr_assert_eq(weft_shutdown(), 0);
}

/* The monitor's kernel thread, found by its name; 0 if none. */
static int monitor_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int tid = 0;

	while (d && (e = readdir(d))) {
		char path[300], comm[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm",
			 e->d_name);
		f = fopen(path, "r");
		if (f && fgets(comm, sizeof(comm), f) &&
		    !strcmp(comm, "weft-monitor\n"))
			tid = atoi(e->d_name);
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return tid;
}

static long switches(int tid)
{
	char path[64], line[128];
	long n = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
	f = fopen(path, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
			n += v;
	fclose(f);
	return n;
}

Test(monitor, the_monitor_sleeps_while_every_carrier_does)
{
	struct weft_thread *s;
	long before, after;
	int64_t end;
	int tid;

	if (getenv("WEFT_UNDER_VALGRIND"))
		cr_skip_test("under valgrind carriers nap, waking the monitor");
	start_on_one_carrier();
	end = weft_now() + T_SEC; /* it names itself as it starts */
	while (!(tid = monitor_tid()) && weft_now() < end)
		usleep(1000);
	cr_assert_gt(tid, 0, "no weft-monitor thread");
	usleep(50 * 1000); /* its last looks, as the carrier went idle */
	before = switches(tid);
	usleep(300 * 1000);
	cr_assert_eq(switches(tid), before, "woken while all slept");
	/* While a carrier runs, it looks, every few milliseconds. */
	cr_assert_eq(weft_thread_spawn(&s, spinner, (void *)SPIN_MS, NULL), 0);
	end = weft_now() + SPIN_MS * T_MS;
	while ((after = switches(tid)) < before + 3 && weft_now() < end)
		usleep(1000);
	atomic_store(&release, 1);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	cr_assert_geq(after, before + 3, "%ld, then %ld", before, after);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(monitor_tid(), 0);
}

Test(monitor, weft_stuck_ms_0_turns_it_off)
{
	struct weft_thread *s, *t[SLEEPERS];

	setenv("WEFT_STUCK_MS", "0", 1);
	start_on_one_carrier();
	cr_assert_eq(monitor_tid(), 0);
	cr_assert_eq(weft_thread_spawn(&s, spinner, (void *)100, NULL), 0);
	wait_for(&holding, 1, weft_now() + T_SEC);
	spawn_sleepers(t);
	join_all(t, SLEEPERS);
	cr_assert_eq(weft_thread_join(s, NULL), 0);
	cr_assert_geq(atomic_load(&last_done), atomic_load(&spin_end));
	cr_assert(atomic_load(&spin_timed_out));
	cr_assert_eq(weft_carrier_count(), 1);
	cr_assert_eq(weft_shutdown(), 0);
}

/* In a fork child, whose runtime has one carrier and a monitor again. */
static intptr_t child_spin_and_spawn(void *arg)
{
	struct weft_thread *s, *t[SLEEPERS];

	atomic_store(&done, 0);
	atomic_store(&holding, 0);
	atomic_store(&last_done, 0);
	atomic_store(&spin_end, 0);
	atomic_store(&release, 0);
	atomic_store(&release_at, SLEEPERS);
	if (weft_thread_spawn(&s, spinner, (void *)SPIN_MS, NULL) < 0)
		return 10;
	for (int i = 0; i < SLEEPERS; i++)
		if (weft_thread_spawn(&t[i], sleeper, NULL, NULL) < 0)
			return 11;
	/* Pinned to the carrier the spinner holds: back when it stops. */
	weft_sleep_until(weft_now() + T_MS);
	for (int i = 0; i < SLEEPERS; i++)
		weft_thread_join(t[i], NULL);
	weft_thread_join(s, NULL);
	if (atomic_load(&done) != SLEEPERS)
		return 12;
	return atomic_load(&spin_timed_out) ? 13 : 0;
}

static intptr_t fork_and_check(void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0)
		_exit((int)child_spin_and_spawn(NULL));
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(monitor, a_fork_child_has_a_monitor_of_its_own)
{
	T_SKIP_THREADED_FORK();
	setenv("WEFT_CARRIERS", "2", 1);
	intptr_t v = t_run(fork_and_check, NULL);

	cr_assert_eq(v, 0, "the child said %d", (int)v);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(monitor, garbage_in_its_variables, .init = cr_redirect_stderr)
{
	const char *bad[][2] = {
		{ "WEFT_STUCK_MS", "ten" },
		{ "WEFT_STUCK_MS", "-1" },
		{ "WEFT_STUCK_MS", "60001" },
		{ "WEFT_MAX_EXTRA_CARRIERS", "2x" },
		{ "WEFT_MAX_EXTRA_CARRIERS", "1025" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv(bad[i][0], bad[i][1], 1);
		cr_assert_eq(t_run(sleeper, NULL), -EINVAL, "%s", bad[i][1]);
		cr_assert_eq(weft_carrier_count(), 0);
		unsetenv(bad[i][0]);
	}
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"weft: WEFT_STUCK_MS=\"ten\" is not a number from 0 to 60000\n"
		"weft: WEFT_STUCK_MS=\"-1\" is not a number from 0 to 60000\n"
		"weft: WEFT_STUCK_MS=\"60001\" is not a number from 0 to "
		"60000\n"
		"weft: WEFT_MAX_EXTRA_CARRIERS=\"2x\" is not a number from 0 "
		"to 1024\n"
		"weft: WEFT_MAX_EXTRA_CARRIERS=\"1025\" is not a number from 0 "
		"to 1024\n");
}

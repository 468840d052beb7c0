/* SPDX-License-Identifier: MIT */
/*
 * The migration rule: a thread that has run stays on its carrier, so an
 * &errno computed before a blocking call is still this thread's errno
 * after it; and errno itself is saved and restored across every switch.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(migration, .timeout = 120);

#define THREADS 2000
#define ROUNDS 20

/* &errno as the carrier sees it now, not as the compiler remembers it. */
__attribute__((noinline)) static int *fresh_errno(void)
{
	int *p = &errno;

	__asm__ volatile("" : "+r"(p) : : "memory");
	return p;
}

static atomic_int moved, bad_value, done;

/* Keep the other carrier hungry so that stealing is always attempted. */
static intptr_t spinner(void *arg)
{
	while (!atomic_load(&done))
		weft_yield();
	return 0;
}

static intptr_t cached(void *arg)
{
	int id = 1000 + (int)(intptr_t)arg;
	int *e = &errno; /* computed once, kept across the parks */
	int carrier = weft_carrier_index();

	for (int i = 0; i < ROUNDS; i++) {
		*e = id + i;
		if (i % 2)
			weft_sleep_until(weft_now() + (rand() % 1000) * 1000);
		else
			weft_yield();
		if (e != fresh_errno() || weft_carrier_index() != carrier)
			atomic_fetch_add(&moved, 1);
		if (*fresh_errno() != id + i)
			atomic_fetch_add(&bad_value, 1);
	}
	return 0;
}

static void run_all(intptr_t (*fn)(void *), unsigned flags)
{
	struct weft_spawn_attr a = { .flags = flags };
	struct weft_thread *t[THREADS], *spin[4];
	/* valgrind runs one thread at a time, slowly: fewer do as well. */
	int n = getenv("WEFT_UNDER_VALGRIND") ? THREADS / 10 : THREADS;

	setenv("WEFT_CARRIERS", "2", 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(weft_thread_spawn(&spin[i], spinner, NULL, NULL),
			     0);
	for (int i = 0; i < n; i++)
		cr_assert_eq(weft_thread_spawn(&t[i], fn, (void *)(intptr_t)i,
					       &a),
			     0);
	for (int i = 0; i < n; i++)
		weft_thread_join(t[i], NULL);
	atomic_store(&done, 1);
	for (int i = 0; i < 4; i++)
		weft_thread_join(spin[i], NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(migration, cached_errno_address_stays_valid_across_blocking_calls)
{
	run_all(cached, 0);
	cr_assert_eq(atomic_load(&moved), 0, "%d resumes on another carrier",
		     atomic_load(&moved));
	cr_assert_eq(atomic_load(&bad_value), 0, "%d errno values lost",
		     atomic_load(&bad_value));
}

static atomic_int carriers_seen;

static intptr_t migratable(void *arg)
{
	int id = 1000 + (int)(intptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		*fresh_errno() = id + i;
		atomic_fetch_or(&carriers_seen, 1 << weft_carrier_index());
		weft_yield();
		if (*fresh_errno() != id + i)
			atomic_fetch_add(&bad_value, 1);
	}
	return 0;
}

/* Migratable threads may move; errno must follow them all the same. */
Test(migration, errno_follows_a_migratable_thread)
{
	run_all(migratable, WEFT_SPAWN_MIGRATABLE);
	cr_assert_eq(atomic_load(&bad_value), 0, "%d errno values lost",
		     atomic_load(&bad_value));
	/* Both carriers; an extra one the monitor started may come too. */
	cr_assert_eq(atomic_load(&carriers_seen) & 3, 3, "carriers %#x",
		     atomic_load(&carriers_seen));
}

/*
 * Placement: a thread that has run stays, so the only balance is where
 * threads start.  One thread spawns readers that stay blocked: the idle
 * carrier takes no more than evens the two, and the spawner lets its own
 * start before its queue grows long, so each carrier ends up with about
 * half.  Before, the idle carrier took each one as it was queued and
 * held all of them.  The check is that the spawner's carrier started a
 * quarter or more: on a loaded machine the other may get less CPU than
 * it takes to take its half.
 */
#define READERS 2000

static atomic_int on_carrier[8], readers_blocked;
static int read_fd[2], spawner_carrier;

static intptr_t blocked_reader(void *arg)
{
	char c;
	int i = weft_carrier_index();

	atomic_fetch_add(&on_carrier[i < 8 ? i : 7], 1);
	atomic_fetch_add(&readers_blocked, 1);
	return weft_read(read_fd[0], &c, 1) == 1 ? 0 : -1;
}

/* n threads of fn from this one, back once all are blocked; or NULL. */
static struct weft_thread **spawn_blocked(int n, intptr_t (*fn)(void *))
{
	struct weft_thread **t = calloc(n, sizeof(*t));

	for (int i = 0; t && i < n; i++)
		if (weft_thread_spawn(&t[i], fn, NULL, NULL))
			return NULL;
	while (t && atomic_load(&readers_blocked) < n)
		weft_sleep_until(weft_now() + 1000000);
	return t;
}

/* Join and free them: how many failed. */
static intptr_t join_all(struct weft_thread **t, int n)
{
	intptr_t r, bad = 0;

	for (int i = 0; i < n; i++) {
		weft_thread_join(t[i], &r);
		bad += r != 0;
	}
	free(t);
	return bad;
}

static intptr_t spawn_readers(void *arg)
{
	int n = *(int *)arg;
	struct weft_thread **t;
	char bytes[READERS] = { 0 };

	spawner_carrier = weft_carrier_index();
	if (!(t = spawn_blocked(n, blocked_reader)) ||
	    write(read_fd[1], bytes, n) != n)
		return -1;
	return join_all(t, n);
}

Test(migration, a_spawning_thread_leaves_each_carrier_its_share)
{
	int n = getenv("WEFT_UNDER_VALGRIND") ? READERS / 10 : READERS;

	setenv("WEFT_CARRIERS", "2", 1);
	cr_assert_eq(pipe(read_fd), 0);
	cr_assert_eq(t_run(spawn_readers, &n), 0);
	cr_assert_eq(weft_shutdown(), 0);
	/*
	 * Under TSan a spawn takes longer than a carrier's patience (sched.c):
	 * the other one then takes threads that waited that long, rightly.
	 */
	if (!WEFT_TSAN)
		cr_assert_leq(n - atomic_load(&on_carrier[spawner_carrier]),
			      n - n / 4,
			      "the spawner's carrier started %d of %d",
			      atomic_load(&on_carrier[spawner_carrier]), n);
	close(read_fd[0]);
	close(read_fd[1]);
}

/*
 * The other side of fair shares: a carrier holding more threads, all of
 * them parked, still takes a thread that waits behind one that keeps its
 * carrier, once it has waited a while.  Without a monitor, so that no
 * stuck carrier's queue is handed over: only that patience spreads the
 * two spinners.  Each spins until both have started, or for 2 s.
 */
static int home_pipe[2], away_pipe[2], home_carrier;
static atomic_int spinners_started, spinner_carrier[2];

static intptr_t parked_by_carrier(void *arg)
{
	bool home = weft_carrier_index() == home_carrier;
	char c;

	if (home)
		atomic_fetch_add(&on_carrier[0], 1);
	atomic_fetch_add(&readers_blocked, 1);
	return weft_read(home ? home_pipe[0] : away_pipe[0], &c, 1) == 1 ? 0 :
									   -1;
}

static intptr_t spinner_until_both(void *arg)
{
	int64_t until = weft_now() + 2000000000;

	atomic_store(&spinner_carrier[(intptr_t)arg], weft_carrier_index());
	atomic_fetch_add(&spinners_started, 1);
	while (atomic_load(&spinners_started) < 2 && weft_now() < until)
		;
	return 0;
}

/* Two spinners from this thread, joined. */
static intptr_t spawn_two_spinners(void *arg)
{
	struct weft_thread *s[2];

	for (int i = 0; i < 2; i++)
		if (weft_thread_spawn(&s[i], spinner_until_both,
				      (void *)(intptr_t)i, NULL))
			return -1;
	for (int i = 0; i < 2; i++)
		weft_thread_join(s[i], NULL);
	return 0;
}

static intptr_t uneven_then_spin(void *arg)
{
	int n = *(int *)arg, home;
	struct weft_thread **t;
	char bytes[READERS] = { 0 };

	home_carrier = weft_carrier_index();
	if (!(t = spawn_blocked(n, parked_by_carrier)))
		return -1;
	/* The readers on this carrier end; the others stay parked. */
	home = atomic_load(&on_carrier[0]);
	if (write(home_pipe[1], bytes, home) != home)
		return -1;
	weft_sleep_until(weft_now() + 20000000);
	if (spawn_two_spinners(NULL) < 0 ||
	    write(away_pipe[1], bytes, n - home) != n - home)
		return -1;
	return join_all(t, n);
}

Test(migration, a_carrier_with_more_threads_still_takes_work_that_waits)
{
	int n = getenv("WEFT_UNDER_VALGRIND") ? READERS / 10 : READERS;

	setenv("WEFT_CARRIERS", "2", 1);
	setenv("WEFT_STUCK_MS", "0", 1);
	cr_assert_eq(pipe(home_pipe), 0);
	cr_assert_eq(pipe(away_pipe), 0);
	cr_assert_eq(t_run(uneven_then_spin, &n), 0);
	cr_assert_eq(weft_shutdown(), 0);
	unsetenv("WEFT_STUCK_MS");
	/* The other carrier kept more parked threads than the spinners. */
	cr_assert_geq(n - atomic_load(&on_carrier[0]), 16);
	cr_assert_neq(atomic_load(&spinner_carrier[0]),
		      atomic_load(&spinner_carrier[1]),
		      "both spinners ran on carrier %d",
		      atomic_load(&spinner_carrier[0]));
	for (int i = 0; i < 2; i++) {
		close(home_pipe[i]);
		close(away_pipe[i]);
	}
}

/*
 * New threads that run for less than a move costs stay where they were
 * spawned: the other carrier takes new threads only once they have
 * waited (sched.c, YOUNG_NS), and a batch of short ones is run by then.
 * Before, 18-75% of them moved to the other CPU and back (4 runs); now
 * under 1%, and the check allows for a spawner whose CPU was taken
 * from it mid-batch.
 */
#define BATCH 64
#define BATCHES 500

static atomic_int ran_home;

static intptr_t note_carrier(void *arg)
{
	if (weft_carrier_index() == (intptr_t)arg)
		atomic_fetch_add(&ran_home, 1);
	return 0;
}

static intptr_t spawn_short_batches(void *arg)
{
	intptr_t home = weft_carrier_index();
	struct weft_thread *t[BATCH];

	for (int r = 0; r < BATCHES; r++) {
		for (int i = 0; i < BATCH; i++)
			if (weft_thread_spawn(&t[i], note_carrier, (void *)home,
					      NULL))
				return -1;
		for (int i = 0; i < BATCH; i++)
			weft_thread_join(t[i], NULL);
	}
	return 0;
}

Test(migration, a_batch_of_short_threads_stays_where_it_was_spawned)
{
	setenv("WEFT_CARRIERS", "2", 1);
	cr_assert_eq(t_run(spawn_short_batches, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	/* Sanitizers and valgrind make a spawn slower than the wait. */
	if (!WEFT_TSAN && !WEFT_ASAN && !getenv("WEFT_UNDER_VALGRIND"))
		cr_assert_geq(atomic_load(&ran_home), BATCHES * BATCH / 8 * 7,
			      "%d of %d ran where they were spawned",
			      atomic_load(&ran_home), BATCHES * BATCH);
}

/*
 * And a new thread that waits is taken: one thread spawns two spinners
 * on a runtime without a monitor, and the first keeps the spawner's
 * carrier until both have started.
 */
Test(migration, a_new_thread_that_waits_is_taken)
{
	setenv("WEFT_CARRIERS", "2", 1);
	setenv("WEFT_STUCK_MS", "0", 1);
	cr_assert_eq(t_run(spawn_two_spinners, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	unsetenv("WEFT_STUCK_MS");
	cr_assert_neq(atomic_load(&spinner_carrier[0]),
		      atomic_load(&spinner_carrier[1]),
		      "both spinners ran on carrier %d",
		      atomic_load(&spinner_carrier[0]));
}

static intptr_t read_errno_after_failure(void *arg)
{
	char c;

	errno = 77;
	/* weft returns -EBADF and leaves errno alone. */
	if (weft_read(-1, &c, 1) != -EBADF)
		return -1;
	return errno;
}

Test(migration, blocking_calls_leave_errno_alone)
{
	cr_assert_eq(t_run(read_errno_after_failure, NULL), 77);
	cr_assert_eq(read_errno_after_failure(NULL), 77);
	cr_assert_eq(weft_shutdown(), 0);
}

/* SPDX-License-Identifier: MIT */
/*
 * Mutex, condition variable and semaphore under contention from thousands
 * of virtual threads on every carrier and from plain kernel threads.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(sync, .timeout = 180);

#define THREADS 2000
#define PLAIN 4

struct plain_call {
	intptr_t (*fn)(void *);
	void *arg;
};

static void *plain_main(void *arg)
{
	struct plain_call *c = arg;

	return (void *)c->fn(c->arg);
}

struct spawned {
	struct weft_thread *t[THREADS];
	pthread_t p[PLAIN];
};

/* Run fn in THREADS virtual threads and PLAIN pthreads at once. */
static void run_mixed(intptr_t (*fn)(void *), void *arg, int plain)
{
	static struct spawned s;
	static struct plain_call call;

	setenv("WEFT_CARRIERS", "2", 1);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(weft_thread_spawn(&s.t[i], fn, arg, NULL), 0);
	call = (struct plain_call){ fn, arg };
	for (int i = 0; i < plain; i++)
		cr_assert_eq(pthread_create(&s.p[i], NULL, plain_main, &call),
			     0);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(weft_thread_join(s.t[i], NULL), 0);
	for (int i = 0; i < plain; i++)
		pthread_join(s.p[i], NULL);
}

/* ---- mutex ---- */

static struct weft_mutex m = WEFT_MUTEX_INIT;
static long counter; /* guarded by m, deliberately not atomic */
static atomic_int inside;

static intptr_t hammer(void *arg)
{
	int rounds = (int)(intptr_t)arg;

	for (int i = 0; i < rounds; i++) {
		weft_mutex_lock(&m);
		cr_assert_eq(atomic_fetch_add(&inside, 1), 0);
		counter++;
		if (i % 8 == 0)
			weft_yield(); /* hold it across a switch */
		atomic_fetch_sub(&inside, 1);
		weft_mutex_unlock(&m);
	}
	return 0;
}

Test(sync, mutex_excludes_under_contention)
{
	run_mixed(hammer, (void *)50, PLAIN);
	cr_assert_eq(counter, 50L * (THREADS + PLAIN));
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t try_and_time(void *arg)
{
	int r;

	if (weft_mutex_trylock(&m) != -EBUSY)
		return -1;
	r = weft_mutex_timedlock(&m, weft_now() + 10 * T_MS);
	if (r != -ETIMEDOUT)
		return -2;
	/* The holder lets go within 1 s: this one gets it. */
	r = weft_mutex_timedlock(&m, weft_now() + 10 * T_SEC);
	if (r != 0)
		return -3;
	return weft_mutex_unlock(&m);
}

Test(sync, mutex_trylock_and_timeouts)
{
	struct weft_thread *t;
	intptr_t v;

	cr_assert_eq(weft_mutex_lock(&m), 0);
	cr_assert_eq(weft_thread_spawn(&t, try_and_time, NULL, NULL), 0);
	weft_sleep_until(weft_now() + 100 * T_MS);
	cr_assert_eq(weft_mutex_unlock(&m), 0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(weft_mutex_unlock(&m), -EPERM);
	cr_assert_eq(weft_mutex_timedlock(&m, -5), -EINVAL);
	cr_assert_eq(weft_mutex_lock(NULL), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
}

static atomic_int timeouts, acquired;

/* Timeouts racing hand-overs: every acquisition must be a real one. */
static intptr_t race_timeouts(void *arg)
{
	for (int i = 0; i < 200; i++) {
		int r = weft_mutex_timedlock(&m, weft_now() + (i % 5) * 1000);

		if (r == -ETIMEDOUT) {
			atomic_fetch_add(&timeouts, 1);
			continue;
		}
		cr_assert_eq(r, 0);
		cr_assert_eq(atomic_fetch_add(&inside, 1), 0);
		atomic_fetch_add(&acquired, 1);
		counter++;
		atomic_fetch_sub(&inside, 1);
		weft_mutex_unlock(&m);
	}
	return 0;
}

Test(sync, mutex_timeouts_racing_handovers)
{
	run_mixed(race_timeouts, NULL, PLAIN);
	cr_assert_eq(atomic_load(&timeouts) + atomic_load(&acquired),
		     200 * (THREADS + PLAIN));
	cr_assert_eq(counter, atomic_load(&acquired));
	cr_assert_eq(weft_mutex_trylock(&m), 0, "left locked");
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- condition variable ---- */

static struct weft_cond cv = WEFT_COND_INIT;
static int queue_len, produced, consumed;

static intptr_t producer(void *arg)
{
	for (int i = 0; i < 20; i++) {
		weft_mutex_lock(&m);
		queue_len++;
		produced++;
		weft_cond_signal(&cv);
		weft_mutex_unlock(&m);
	}
	return 0;
}

static intptr_t consumer(void *arg)
{
	for (int i = 0; i < 20; i++) {
		weft_mutex_lock(&m);
		while (queue_len == 0)
			weft_cond_wait(&cv, &m);
		queue_len--;
		consumed++;
		weft_mutex_unlock(&m);
	}
	return 0;
}

static intptr_t prod_or_cons(void *arg)
{
	static atomic_int n;

	return atomic_fetch_add(&n, 1) % 2 ? producer(arg) : consumer(arg);
}

Test(sync, condvar_producers_and_consumers)
{
	run_mixed(prod_or_cons, NULL, PLAIN);
	cr_assert_eq(produced, 20 * (THREADS + PLAIN) / 2);
	cr_assert_eq(consumed, produced);
	cr_assert_eq(queue_len, 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static int generation;
static atomic_int waiting;

static intptr_t wait_generation(void *arg)
{
	weft_mutex_lock(&m);
	atomic_fetch_add(&waiting, 1);
	while (generation == 0)
		weft_cond_wait(&cv, &m);
	weft_mutex_unlock(&m);
	return 0;
}

Test(sync, condvar_broadcast_wakes_everyone)
{
	struct weft_thread *t[THREADS];
	pthread_t p[PLAIN];

	setenv("WEFT_CARRIERS", "2", 1);
	for (int i = 0; i < THREADS; i++)
		weft_thread_spawn(&t[i], wait_generation, NULL, NULL);
	static struct plain_call call = { wait_generation, NULL };

	for (int i = 0; i < PLAIN; i++)
		pthread_create(&p[i], NULL, plain_main, &call);
	while (atomic_load(&waiting) < THREADS + PLAIN)
		weft_sleep_until(weft_now() + T_MS);
	weft_mutex_lock(&m);
	generation = 1;
	weft_cond_broadcast(&cv);
	weft_mutex_unlock(&m);
	for (int i = 0; i < THREADS; i++)
		cr_assert_eq(weft_thread_join(t[i], NULL), 0);
	for (int i = 0; i < PLAIN; i++)
		pthread_join(p[i], NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t cond_timeout(void *arg)
{
	int64_t deadline = weft_now() + 20 * T_MS;
	int r;

	weft_mutex_lock(&m);
	r = weft_cond_timedwait(&cv, &m, deadline);
	/* the mutex is held again, timeout or not */
	if (weft_mutex_trylock(&m) != -EBUSY)
		r = -1;
	weft_mutex_unlock(&m);
	if (weft_now() < deadline)
		r = -2;
	return r;
}

Test(sync, condvar_timedwait_times_out)
{
	cr_assert_eq(t_run(cond_timeout, NULL), -ETIMEDOUT);
	cr_assert_eq(cond_timeout(NULL), -ETIMEDOUT);
	cr_assert_eq(weft_cond_wait(NULL, &m), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- semaphore ---- */

#define LIMIT 7
static struct weft_sem limiter = WEFT_SEM_INIT(LIMIT);
static atomic_int peak;

static struct weft_sem go = WEFT_SEM_INIT(0);

/* Open the gate once every thread is queued on it, so that all contend. */
static void *open_gate(void *arg)
{
	usleep(100000);
	for (int i = 0; i < THREADS + PLAIN; i++)
		weft_sem_post(&go);
	return NULL;
}

static intptr_t limited(void *arg)
{
	weft_sem_wait(&go);
	for (int i = 0; i < 10; i++) {
		int n;

		cr_assert_eq(weft_sem_wait(&limiter), 0);
		n = atomic_fetch_add(&inside, 1) + 1;
		cr_assert_leq(n, LIMIT);
		if (n > atomic_load(&peak))
			atomic_store(&peak, n);
		weft_yield();
		atomic_fetch_sub(&inside, 1);
		weft_sem_post(&limiter);
	}
	return 0;
}

Test(sync, semaphore_limits_concurrency)
{
	pthread_t gate;

	pthread_create(&gate, NULL, open_gate, NULL);
	run_mixed(limited, NULL, PLAIN);
	pthread_join(gate, NULL);
	cr_assert_eq(weft_sem_value(&limiter), LIMIT);
	cr_assert_eq(atomic_load(&peak), LIMIT, "peak %d", atomic_load(&peak));
	cr_assert_eq(weft_shutdown(), 0);
}

static struct weft_sem units = WEFT_SEM_INIT(0);
static atomic_int taken, timed_out;

static intptr_t take_units(void *arg)
{
	for (int i = 0; i < 50; i++) {
		int r = weft_sem_timedwait(&units,
					   weft_now() + (i % 3) * 50000);

		cr_assert(r == 0 || r == -ETIMEDOUT, "r = %d", r);
		atomic_fetch_add(r == 0 ? &taken : &timed_out, 1);
	}
	return 0;
}

static void *post_units(void *arg)
{
	for (int i = 0; i < 40000; i++)
		weft_sem_post(&units);
	return NULL;
}

/* Timed waits racing posts: no unit is lost or taken twice. */
Test(sync, semaphore_units_are_conserved)
{
	pthread_t poster;

	pthread_create(&poster, NULL, post_units, NULL);
	run_mixed(take_units, NULL, PLAIN);
	pthread_join(poster, NULL);
	cr_assert_eq(atomic_load(&taken) + atomic_load(&timed_out),
		     50 * (THREADS + PLAIN));
	cr_assert_eq(atomic_load(&taken) + weft_sem_value(&units), 40000);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(sync, semaphore_edges)
{
	struct weft_sem s;

	cr_assert_eq(weft_sem_init(&s, 1), 0);
	cr_assert_eq(weft_sem_trywait(&s), 0);
	cr_assert_eq(weft_sem_trywait(&s), -EAGAIN);
	cr_assert_eq(weft_sem_timedwait(&s, weft_now()), -ETIMEDOUT);
	cr_assert_eq(weft_sem_init(&s, 0x80000000u), -EINVAL);
	cr_assert_eq(weft_sem_init(&s, 0x7fffffff), 0);
	cr_assert_eq(weft_sem_post(&s), -EOVERFLOW);
	cr_assert_eq(weft_sem_value(&s), 0x7fffffff);
	cr_assert_eq(weft_sem_wait(NULL), -EINVAL);
}

static struct weft_sem ping = WEFT_SEM_INIT(0), pong = WEFT_SEM_INIT(0);

static intptr_t ponger(void *arg)
{
	for (int i = 0; i < 10000; i++) {
		weft_sem_wait(&ping);
		weft_sem_post(&pong);
	}
	return 0;
}

/* A plain thread and a virtual thread hand a token back and forth. */
Test(sync, plain_and_virtual_threads_ping_pong)
{
	struct weft_thread *t;

	cr_assert_eq(weft_thread_spawn(&t, ponger, NULL, NULL), 0);
	for (int i = 0; i < 10000; i++) {
		weft_sem_post(&ping);
		cr_assert_eq(weft_sem_wait(&pong), 0);
	}
	cr_assert_eq(weft_thread_join(t, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

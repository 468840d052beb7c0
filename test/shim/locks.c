/* SPDX-License-Identifier: MIT */
/*
 * Read-write locks, barriers, spinlocks, the clock* waits, tryjoin and
 * timedjoin, thread attributes and names, and pthread_kill with signal 0,
 * with more threads than carriers.  Output is the same natively.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 2000

static const char *err(int r)
{
	return r == 0				  ? "0" :
	       r == EBUSY			  ? "EBUSY" :
	       r == EDEADLK			  ? "EDEADLK" :
	       r == ETIMEDOUT			  ? "ETIMEDOUT" :
	       r == EINVAL			  ? "EINVAL" :
	       r == ERANGE			  ? "ERANGE" :
	       r == PTHREAD_BARRIER_SERIAL_THREAD ? "SERIAL" :
						    "other";
}

static struct timespec in_ms(clockid_t clock, long ms)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- rwlock ---- */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static long a, b; /* equal whenever a reader looks */
static long torn;

static void *rw_worker(void *arg)
{
	intptr_t i = (intptr_t)arg;

	for (int k = 0; k < ROUNDS; k++) {
		if ((k + i) % 4 == 0) {
			pthread_rwlock_wrlock(&rw);
			a++;
			sched_yield();
			b++;
			pthread_rwlock_unlock(&rw);
		} else {
			pthread_rwlock_rdlock(&rw);
			if (a != b)
				__atomic_fetch_add(&torn, 1, __ATOMIC_RELAXED);
			pthread_rwlock_unlock(&rw);
		}
	}
	return NULL;
}

static void *try_read(void *arg)
{
	struct timespec ts = in_ms(CLOCK_MONOTONIC, 20);

	printf("  tryrdlock: %s\n", err(pthread_rwlock_tryrdlock(&rw)));
	printf("  clockrdlock: %s\n",
	       err(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &ts)));
	return NULL;
}

static void *try_write(void *arg)
{
	struct timespec ts = in_ms(CLOCK_REALTIME, 20);

	printf("  trywrlock: %s\n", err(pthread_rwlock_trywrlock(&rw)));
	printf("  timedwrlock: %s\n",
	       err(pthread_rwlock_timedwrlock(&rw, &ts)));
	return NULL;
}

static void test_rwlock(void)
{
	pthread_t t[THREADS];
	pthread_rwlockattr_t attr;
	pthread_rwlock_t w;

	for (intptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, rw_worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	printf("rwlock: %ld writes, %ld torn reads\n", a, torn);

	pthread_rwlock_wrlock(&rw);
	printf("writer holds it:\n");
	pthread_create(&t[0], NULL, try_read, NULL);
	pthread_join(t[0], NULL);
	printf("  wrlock again: %s\n", err(pthread_rwlock_wrlock(&rw)));
	printf("  rdlock by the writer: %s\n", err(pthread_rwlock_rdlock(&rw)));
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_rdlock(&rw);
	pthread_rwlock_rdlock(&rw);
	printf("reader holds it twice:\n");
	pthread_create(&t[0], NULL, try_write, NULL);
	pthread_join(t[0], NULL);
	pthread_rwlock_unlock(&rw);
	pthread_rwlock_unlock(&rw);
	printf("  free again: trywrlock %s\n",
	       err(pthread_rwlock_trywrlock(&rw)));
	pthread_rwlock_unlock(&rw);

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	CHECK(pthread_rwlock_init(&w, &attr) == 0);
	printf("writer-preferring: rdlock %s", err(pthread_rwlock_rdlock(&w)));
	pthread_rwlock_unlock(&w);
	printf(", wrlock %s\n", err(pthread_rwlock_wrlock(&w)));
	pthread_rwlock_unlock(&w);
	pthread_rwlock_destroy(&w);
	pthread_rwlockattr_destroy(&attr);
}

/* ---- barrier ---- */

#define BROUNDS 5

static pthread_barrier_t bar;
static int serials[BROUNDS];
static int phase_seen[THREADS][BROUNDS];
static int phase;

static void *bar_worker(void *arg)
{
	intptr_t i = (intptr_t)arg;

	for (int r = 0; r < BROUNDS; r++) {
		phase_seen[i][r] = __atomic_load_n(&phase, __ATOMIC_RELAXED);
		if (pthread_barrier_wait(&bar) ==
		    PTHREAD_BARRIER_SERIAL_THREAD) {
			__atomic_fetch_add(&serials[r], 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&phase, 1, __ATOMIC_RELAXED);
		}
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

static void test_barrier(void)
{
	pthread_t t[THREADS];
	int bad = 0;

	printf("barrier of 0: %s\n", err(pthread_barrier_init(&bar, NULL, 0)));
	CHECK(pthread_barrier_init(&bar, NULL, THREADS) == 0);
	for (intptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, bar_worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < THREADS; i++)
		for (int r = 0; r < BROUNDS; r++)
			bad += phase_seen[i][r] != r;
	printf("barrier: serial threads per round %d %d %d %d %d, "
	       "phases out of step %d\n",
	       serials[0], serials[1], serials[2], serials[3], serials[4], bad);
	printf("barrier destroy: %s\n", err(pthread_barrier_destroy(&bar)));
}

/* ---- spinlock ---- */

static pthread_spinlock_t spin;
static long spun;

static void *spin_worker(void *arg)
{
	for (int k = 0; k < ROUNDS; k++) {
		pthread_spin_lock(&spin);
		spun++;
		if (k % 64 == 0)
			usleep(10); /* hold it across a park */
		pthread_spin_unlock(&spin);
	}
	return NULL;
}

static void test_spin(void)
{
	pthread_t t[THREADS];

	pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, spin_worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_spin_lock(&spin);
	printf("spinlock: %ld, trylock when held %s\n", spun,
	       err(pthread_spin_trylock(&spin)));
	pthread_spin_unlock(&spin);
	pthread_spin_destroy(&spin);
}

/* ---- the clock* waits ---- */

static void test_clock_waits(void)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct timespec ts;
	sem_t s;
	int r;

	sem_init(&s, 0, 0);
	ts = in_ms(CLOCK_MONOTONIC, 20);
	r = sem_clockwait(&s, CLOCK_MONOTONIC, &ts);
	printf("sem_clockwait: %d %s\n", r,
	       errno == ETIMEDOUT ? "ETIMEDOUT" : "?");
	pthread_mutex_lock(&m);
	ts = in_ms(CLOCK_MONOTONIC, 20);
	printf("pthread_cond_clockwait: %s\n",
	       err(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts)));
	ts = in_ms(CLOCK_MONOTONIC, 20);
	printf("pthread_mutex_clocklock, held: %s\n",
	       err(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &ts)));
	pthread_mutex_unlock(&m);
	sem_destroy(&s);
}

/*
 * Bad and early times, as glibc takes them: a bad tv_nsec is EINVAL (a
 * rwlock checks it first, a mutex only when it must wait), a time before
 * 1970 has passed, an unsupported clock is EINVAL at once.
 */
static pthread_rwlock_t held_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;

static void *bad_times_elsewhere(void *arg)
{
	struct timespec neg = { -1, 0 }, bad = { 0, -1 };

	printf("mutex held, before 1970: %s\n",
	       err(pthread_mutex_timedlock(&held_m, &neg)));
	printf("mutex held, bad time: %s\n",
	       err(pthread_mutex_timedlock(&held_m, &bad)));
	printf("rwlock held, rd before 1970: %s\n",
	       err(pthread_rwlock_timedrdlock(&held_rw, &neg)));
	printf("rwlock held, wr before 1970: %s\n",
	       err(pthread_rwlock_timedwrlock(&held_rw, &neg)));
	printf("rwlock held, rd bad time: %s\n",
	       err(pthread_rwlock_timedrdlock(&held_rw, &bad)));
	return arg;
}

static void test_bad_times(void)
{
	struct timespec neg = { -1, 0 }, bad = { 0, -1 }, ok = { 0, 0 };
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_t t;

	printf("mutex free, before 1970: %s\n",
	       err(pthread_mutex_timedlock(&m, &neg)));
	pthread_mutex_unlock(&m);
	printf("mutex free, bad time: %s\n",
	       err(pthread_mutex_timedlock(&m, &bad)));
	pthread_mutex_unlock(&m);
	printf("mutex free, CPU clock: %s\n",
	       err(pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &ok)));
	pthread_mutex_lock(&m);
	printf("cond, before 1970: %s\n",
	       err(pthread_cond_timedwait(&c, &m, &neg)));
	printf("cond, bad time: %s\n",
	       err(pthread_cond_timedwait(&c, &m, &bad)));
	pthread_mutex_unlock(&m);
	printf("rwlock free, rd bad time: %s\n",
	       err(pthread_rwlock_timedrdlock(&held_rw, &bad)));
	pthread_mutex_lock(&held_m);
	pthread_rwlock_wrlock(&held_rw);
	pthread_create(&t, NULL, bad_times_elsewhere, NULL);
	pthread_join(t, NULL);
	pthread_rwlock_unlock(&held_rw);
	pthread_mutex_unlock(&held_m);
}

/* ---- joins, attributes, names, kill ---- */

static void *sleeper(void *arg)
{
	pause_ms((int)(intptr_t)arg);
	return arg;
}

static void test_joins(void)
{
	struct timespec ts;
	pthread_t t;
	void *ret = NULL;
	int r;

	pthread_create(&t, NULL, sleeper, (void *)(intptr_t)60);
	printf("tryjoin, running: %s\n", err(pthread_tryjoin_np(t, &ret)));
	printf("pthread_kill 0, running: %s\n", err(pthread_kill(t, 0)));
	ts = (struct timespec){ -1, 0 };
	printf("timedjoin before 1970: %s\n",
	       err(pthread_timedjoin_np(t, &ret, &ts)));
	ts = in_ms(CLOCK_REALTIME, 10);
	printf("timedjoin 10ms: %s\n", err(pthread_timedjoin_np(t, &ret, &ts)));
	ts = in_ms(CLOCK_MONOTONIC, 5000);
	r = pthread_clockjoin_np(t, &ret, CLOCK_MONOTONIC, &ts);
	printf("clockjoin 5s: %s, value %ld\n", err(r), (long)(intptr_t)ret);
	pthread_create(&t, NULL, sleeper, (void *)(intptr_t)1);
	pause_ms(30);
	printf("tryjoin, ended: %s\n", err(pthread_tryjoin_np(t, &ret)));
	printf("tryjoin self: %s\n",
	       err(pthread_tryjoin_np(pthread_self(), &ret)));
}

static size_t asked = 256 << 10;

static void *attrs(void *arg)
{
	pthread_attr_t at;
	char name[32];
	size_t size;
	void *lo;
	int local;

	CHECK(pthread_getattr_np(pthread_self(), &at) == 0);
	pthread_attr_getstack(&at, &lo, &size);
	printf("thread stack: %s requested, local %s\n",
	       size >= asked ? "at least the" : "less than",
	       (char *)&local >= (char *)lo &&
			       (char *)&local < (char *)lo + size ?
		       "inside" :
		       "outside");
	pthread_attr_destroy(&at);
	pthread_getname_np(pthread_self(), name, sizeof(name));
	printf("default name '%s'\n", name);
	printf("set a long name: %s\n",
	       err(pthread_setname_np(pthread_self(),
				      "a name longer than fifteen")));
	CHECK(pthread_setname_np(pthread_self(), "worker-1") == 0);
	pthread_getname_np(pthread_self(), name, sizeof(name));
	printf("name '%s', into 4 bytes: %s\n", name,
	       err(pthread_getname_np(pthread_self(), name, 4)));
	return NULL;
}

static void test_attrs(void)
{
	pthread_attr_t at;
	pthread_t t;
	size_t size;
	void *lo;
	int local;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, asked);
	pthread_create(&t, &at, attrs, NULL);
	pthread_join(t, NULL);
	pthread_attr_destroy(&at);
	CHECK(pthread_getattr_np(pthread_self(), &at) == 0);
	pthread_attr_getstack(&at, &lo, &size);
	printf("main stack: local %s\n",
	       (char *)&local >= (char *)lo &&
			       (char *)&local < (char *)lo + size ?
		       "inside" :
		       "outside");
	pthread_attr_destroy(&at);
	printf("pthread_kill 0 on self: %s\n",
	       err(pthread_kill(pthread_self(), 0)));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_rwlock();
	test_barrier();
	test_spin();
	test_clock_waits();
	test_bad_times();
	test_joins();
	test_attrs();
	printf("done\n");
	return 0;
}

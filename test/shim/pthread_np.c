/* SPDX-License-Identifier: MIT */
/*
 * The calls that take a pthread_t beyond create and join, on the main
 * thread, on a blocked thread and on the caller itself: CPU affinity,
 * scheduling policy and priority, the CPU-time clock, queued signals;
 * and C11's <threads.h>, whose threads under the shim are virtual
 * threads too (no more kernel threads than carriers and a few, counted
 * as kthreads.c counts them, on stderr).  Results only, in a fixed order.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *err(int e)
{
	return e == 0	   ? "0" :
	       e == EINVAL ? "EINVAL" :
	       e == EPERM  ? "EPERM" :
	       e == ESRCH  ? "ESRCH" :
			     strerror(e);
}

/* ---- what each call says about one thread ---- */

static volatile sig_atomic_t got_value, got_code;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	got_code = si->si_code;
	got_value = si->si_value.sival_int;
}

static void affinity(pthread_t th)
{
	cpu_set_t set, all, one;
	int r;

	CHECK(pthread_getaffinity_np(th, sizeof(all), &all) == 0);
	printf("  affinity: has a CPU %d\n", CPU_COUNT(&all) > 0);
	CPU_ZERO(&one);
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &all)) {
			CPU_SET(i, &one);
			break;
		}
	r = pthread_setaffinity_np(th, sizeof(one), &one);
	CHECK(pthread_getaffinity_np(th, sizeof(set), &set) == 0);
	printf("  set to its first CPU: %s, reads back %d CPU, the same %d\n",
	       err(r), CPU_COUNT(&set), CPU_EQUAL(&set, &one));
	CPU_ZERO(&set);
	printf("  set to no CPU: %s\n",
	       err(pthread_setaffinity_np(th, sizeof(set), &set)));
	printf("  get into 1 byte: %s\n",
	       err(pthread_getaffinity_np(th, 1, &set)));
	CHECK(pthread_setaffinity_np(th, sizeof(all), &all) == 0);
	CHECK(pthread_getaffinity_np(th, sizeof(set), &set) == 0);
	printf("  all again: %d\n", CPU_EQUAL(&set, &all));
}

static void scheduling(pthread_t th)
{
	struct sched_param p = { 0 };
	int policy, r;

	CHECK(pthread_getschedparam(th, &policy, &p) == 0);
	printf("  policy %s, priority %d\n",
	       policy == SCHED_OTHER ? "SCHED_OTHER" : "other",
	       p.sched_priority);
	r = pthread_setschedparam(th, SCHED_BATCH, &p);
	CHECK(pthread_getschedparam(th, &policy, &p) == 0);
	printf("  SCHED_BATCH: %s, reads back %s\n", err(r),
	       policy == SCHED_BATCH ? "SCHED_BATCH" : "other");
	p.sched_priority = 5;
	printf("  SCHED_OTHER, priority 5: %s\n",
	       err(pthread_setschedparam(th, SCHED_OTHER, &p)));
	printf("  policy 99: %s\n", err(pthread_setschedparam(th, 99, &p)));
	printf("  setschedprio 3: %s\n", err(pthread_setschedprio(th, 3)));
	printf("  setschedprio 0: %s\n", err(pthread_setschedprio(th, 0)));
	p.sched_priority = 0;
	CHECK(pthread_setschedparam(th, SCHED_OTHER, &p) == 0);
}

static void clock_and_signal(pthread_t th, bool self)
{
	union sigval v = { .sival_int = 42 };
	struct timespec ts;
	clockid_t clk;

	CHECK(pthread_getcpuclockid(th, &clk) == 0);
	printf("  CPU clock: reads %s\n",
	       clock_gettime(clk, &ts) == 0 ? "fine" : strerror(errno));
	got_value = got_code = 0;
	CHECK(pthread_sigqueue(th, SIGUSR1, v) == 0);
	for (int i = 0; !self && i < 1000 && !got_value; i++)
		usleep(1000);
	printf("  sigqueue: value %d, SI_QUEUE %d\n", (int)got_value,
	       got_code == SI_QUEUE);
	printf("  sigqueue signal 0: %s, signal 1000: %s\n",
	       err(pthread_sigqueue(th, 0, v)),
	       err(pthread_sigqueue(th, 1000, v)));
}

static void all_of(const char *who, pthread_t th, bool self)
{
	printf("%s:\n", who);
	affinity(th);
	scheduling(th);
	clock_and_signal(th, self);
}

static int gate[2];
static pthread_t main_thread;

/* Its read goes on through the signal: the handler has SA_RESTART. */
static void *blocked(void *arg)
{
	char c;

	CHECK(read(gate[0], &c, 1) == 1);
	return NULL;
}

static void *other(void *arg)
{
	all_of("the main thread, from another", main_thread, false);
	all_of("a thread, on itself", pthread_self(), true);
	return NULL;
}

/* ---- C11 threads ---- */

#define C11_THREADS 50
static mtx_t m, rm;
static cnd_t c;
static int waiting, go;
static tss_t key;
static once_flag once = ONCE_FLAG_INIT;
static int once_runs;

static void once_fn(void)
{
	once_runs++;
}

static void tss_dtor(void *v)
{
	__atomic_fetch_add((int *)v, 1, __ATOMIC_SEQ_CST);
}

static int dtors;

static int c11_worker(void *arg)
{
	int id = (int)(intptr_t)arg;

	call_once(&once, once_fn);
	CHECK(tss_set(key, &dtors) == thrd_success);
	CHECK(mtx_lock(&m) == thrd_success);
	waiting++;
	cnd_broadcast(&c);
	while (!go)
		CHECK(cnd_wait(&c, &m) == thrd_success);
	CHECK(mtx_unlock(&m) == thrd_success);
	return id * 2;
}

static int c11_nothing(void *arg)
{
	return 0;
}

static int threads_now(void)
{
	char line[256];
	int n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Threads:", 8))
			n = atoi(line + 8);
	if (f)
		fclose(f);
	return n;
}

static void c11(void)
{
	struct timespec ts = { 0, 20000000 }, abs;
	const char *carriers = getenv("WEFT_CARRIERS");
	int bound = carriers ? atoi(carriers) + 4 : C11_THREADS + 8;
	thrd_t t[C11_THREADS], d;
	long sum = 0;
	int res, n;

	CHECK(mtx_init(&m, mtx_plain) == thrd_success);
	CHECK(mtx_init(&rm, mtx_timed | mtx_recursive) == thrd_success);
	CHECK(cnd_init(&c) == thrd_success);
	CHECK(tss_create(&key, tss_dtor) == thrd_success);
	for (int i = 0; i < C11_THREADS; i++)
		CHECK(thrd_create(&t[i], c11_worker, (void *)(intptr_t)i) ==
		      thrd_success);
	mtx_lock(&m);
	while (waiting < C11_THREADS)
		cnd_wait(&c, &m);
	n = threads_now();
	fprintf(stderr, "C11: %d kernel threads, bound %d\n", n, bound);
	printf("C11: %d threads in cnd_wait, kernel threads within the "
	       "bound: %d\n",
	       waiting, n <= bound);
	go = 1;
	cnd_broadcast(&c);
	mtx_unlock(&m);
	for (int i = 0; i < C11_THREADS; i++) {
		CHECK(thrd_join(t[i], &res) == thrd_success);
		sum += res;
	}
	printf("C11: joined, results sum %ld, call_once ran %d, tss "
	       "destructors %d\n",
	       sum, once_runs, dtors);
	printf("C11: thrd_equal(current, current) %d\n",
	       thrd_equal(thrd_current(), thrd_current()) != 0);
	CHECK(mtx_lock(&rm) == thrd_success);
	printf("C11: recursive mtx again: %d, trylock of a held plain: %d\n",
	       mtx_trylock(&rm) == thrd_success,
	       (mtx_lock(&m), mtx_trylock(&m)) == thrd_busy);
	mtx_unlock(&m);
	mtx_unlock(&rm);
	mtx_unlock(&rm);
	clock_gettime(CLOCK_REALTIME, &abs);
	abs.tv_nsec += 20000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	mtx_lock(&m);
	printf("C11: cnd_timedwait: %s\n",
	       cnd_timedwait(&c, &m, &abs) == thrd_timedout ? "thrd_timedout" :
							      "?");
	mtx_unlock(&m);
	printf("C11: thrd_sleep 20 ms: %d\n", thrd_sleep(&ts, NULL));
	thrd_yield();
	CHECK(thrd_create(&d, c11_nothing, NULL) == thrd_success);
	printf("C11: thrd_detach: %d\n", thrd_detach(d) == thrd_success);
	mtx_destroy(&rm);
	tss_delete(key);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr1,
				.sa_flags = SA_SIGINFO | SA_RESTART };
	pthread_t t;

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(pipe(gate) == 0);
	main_thread = pthread_self();
	all_of("the main thread, on itself", main_thread, true);
	CHECK(pthread_create(&t, NULL, blocked, NULL) == 0);
	usleep(20000);
	all_of("a blocked thread", t, false);
	CHECK(write(gate[1], "x", 1) == 1);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_create(&t, NULL, other, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	c11();
	return 0;
}

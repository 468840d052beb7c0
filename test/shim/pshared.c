/* SPDX-License-Identifier: MIT */
/*
 * Process-shared semaphores: sem_open's named ones and sem_init's with
 * pshared 1 in shared memory, between a parent and its forked child,
 * each with more threads than carriers, and within one process.  The
 * raw words of the shared ones are printed: glibc lays them out, and a
 * process with the shim must leave the same value and waiter count as
 * one without.  Then process-shared mutexes (normal, recursive,
 * error-checking, timed), condition variables, rwlocks and barriers
 * between the two processes.  Output is the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define THREADS 4

static int rounds = 2000, adds = 5000; /* or as argv[1] says */

struct shared {
	sem_t ping, pong, lock, idle;
	long counter;
	pthread_mutex_t m, rec, chk;
	pthread_cond_t c;
	pthread_mutex_t pm; /* process-shared, with a private condition */
	pthread_cond_t pc;
	int turn;
	pthread_rwlock_t rw;
	pthread_barrier_t b;
	int serial;
};

static struct shared *sh;

static const char *err(int r)
{
	return r == 0		  ? "0" :
	       errno == EAGAIN	  ? "EAGAIN" :
	       errno == ETIMEDOUT ? "ETIMEDOUT" :
	       errno == EINVAL	  ? "EINVAL" :
	       errno == EOVERFLOW ? "EOVERFLOW" :
				    "other";
}

static struct timespec in_ms(long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ms * 1000000;
	ts.tv_sec += ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

/* glibc's word: the value and, above it, the waiters. */
static void show(const char *what, sem_t *s)
{
	uint64_t d;
	int v;

	memcpy(&d, s, sizeof(d));
	CHECK(sem_getvalue(s, &v) == 0);
	printf("%s: value %d, word value %u, waiters %u\n", what, v,
	       (unsigned)d, (unsigned)(d >> 32));
}

static void ping_pong(sem_t *ping, sem_t *pong, bool parent)
{
	for (int i = 0; i < rounds; i++) {
		if (parent) {
			CHECK(sem_post(ping) == 0);
			CHECK(sem_wait(pong) == 0);
		} else {
			CHECK(sem_wait(ping) == 0);
			CHECK(sem_post(pong) == 0);
		}
	}
}

static const char *strerr(int r)
{
	return r == 0	      ? "0" :
	       r == EBUSY     ? "EBUSY" :
	       r == EPERM     ? "EPERM" :
	       r == EDEADLK   ? "EDEADLK" :
	       r == ETIMEDOUT ? "ETIMEDOUT" :
	       r == EINVAL    ? "EINVAL" :
				"other";
}

static pid_t fork_or_die(void)
{
	pid_t p;

	fflush(stdout); /* or the child writes what the parent buffered */
	p = fork();
	CHECK(p >= 0);
	if (p == 0)
		return 0;
	return p;
}

static void reap(pid_t p)
{
	int st;

	CHECK(waitpid(p, &st, 0) == p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void named(void)
{
	char a[64], b[64];
	sem_t *ping, *pong;
	pid_t p;

	snprintf(a, sizeof(a), "/weft-test-ping-%d", (int)getpid());
	snprintf(b, sizeof(b), "/weft-test-pong-%d", (int)getpid());
	ping = sem_open(a, O_CREAT | O_EXCL, 0600, 0);
	pong = sem_open(b, O_CREAT | O_EXCL, 0600, 0);
	CHECK(ping != SEM_FAILED && pong != SEM_FAILED);
	CHECK(sem_unlink(a) == 0 && sem_unlink(b) == 0);
	p = fork_or_die();
	if (!p) {
		ping_pong(ping, pong, false);
		_exit(0);
	}
	ping_pong(ping, pong, true);
	reap(p);
	show("named ping", ping);
	show("named pong", pong);
	CHECK(sem_close(ping) == 0 && sem_close(pong) == 0);
	printf("named: %d rounds\n", rounds);
}

/* A binary semaphore as a lock, taken by threads of both processes. */
static void *adder(void *arg)
{
	for (int i = 0; i < adds; i++) {
		CHECK(sem_wait(&sh->lock) == 0);
		sh->counter++;
		CHECK(sem_post(&sh->lock) == 0);
	}
	return arg;
}

static void add_with_threads(void)
{
	pthread_t t[THREADS];

	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, adder, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
}

static void anonymous(void)
{
	pid_t p;

	CHECK(sem_init(&sh->ping, 1, 0) == 0);
	CHECK(sem_init(&sh->pong, 1, 0) == 0);
	CHECK(sem_init(&sh->lock, 1, 1) == 0);
	p = fork_or_die();
	if (!p) {
		ping_pong(&sh->ping, &sh->pong, false);
		add_with_threads();
		_exit(0);
	}
	ping_pong(&sh->ping, &sh->pong, true);
	add_with_threads();
	reap(p);
	printf("anonymous: %d rounds, counter %ld\n", rounds, sh->counter);
	show("anonymous lock", &sh->lock);
}

/* One process: a thread waits for main's post, on one carrier or more. */
static void *waiter(void *arg)
{
	CHECK(sem_wait(&sh->idle) == 0);
	return arg;
}

static void one_process(void)
{
	struct timespec nap = { 0, 1000000 }, ts;
	uint64_t d = 0; /* the word, as read here */
	pthread_t t;
	void *ret;
	int r;

	CHECK(sem_init(&sh->idle, 1, 0) == 0);
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	while (!(d >> 32)) { /* the test's timeout bounds it */
		nanosleep(&nap, NULL);
		memcpy(&d, &sh->idle, sizeof(d));
	}
	show("waited on", &sh->idle);
	CHECK(sem_post(&sh->idle) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	show("after the post", &sh->idle);

	/* Cancelled while it waits, the thread is no waiter any more. */
	CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	for (d = 0; !(d >> 32);) {
		nanosleep(&nap, NULL);
		memcpy(&d, &sh->idle, sizeof(d));
	}
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	printf("cancelled: %s\n", ret == PTHREAD_CANCELED ? "yes" : "no");
	show("after the cancellation", &sh->idle);

	errno = 0;
	ts = in_ms(30);
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait on 0: %s\n", err(r));
	show("after the timeout", &sh->idle);
	r = sem_trywait(&sh->idle);
	printf("trywait on 0: %s\n", err(r));
	ts = (struct timespec){ -1, 0 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait in the past: %s\n", err(r));
	ts.tv_nsec = -1;
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait, bad time, on 0: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	r = sem_timedwait(&sh->idle, &ts);
	printf("timedwait, bad time, on 1: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	ts = in_ms(1000);
	r = sem_clockwait(&sh->idle, CLOCK_MONOTONIC, &ts);
	printf("clockwait on 1: %s\n", err(r));
	CHECK(sem_post(&sh->idle) == 0);
	r = sem_clockwait(&sh->idle, CLOCK_PROCESS_CPUTIME_ID, &ts);
	printf("clockwait on the CPU clock: %s\n", err(r));
	CHECK(sem_trywait(&sh->idle) == 0);

	/* The same checks on a private semaphore. */
	CHECK(sem_init(&sh->idle, 0, 1) == 0);
	ts = (struct timespec){ 0, -1 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait, bad time, on 1: %s\n", err(r));
	ts = in_ms(1000);
	r = sem_clockwait(&sh->idle, CLOCK_PROCESS_CPUTIME_ID, &ts);
	printf("private clockwait on the CPU clock: %s\n", err(r));
	ts = (struct timespec){ -1, 0 };
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait in the past, on 1: %s\n", err(r));
	r = sem_timedwait(&sh->idle, &ts);
	printf("private timedwait in the past, on 0: %s\n", err(r));

	CHECK(sem_init(&sh->idle, 1, SEM_VALUE_MAX) == 0);
	r = sem_post(&sh->idle);
	printf("post at SEM_VALUE_MAX: %s\n", err(r));
	show("full", &sh->idle);

	/* Zeroed, never initialised: glibc takes it as private, value 0. */
	memset(&sh->idle, 0, sizeof(sh->idle));
	CHECK(sem_post(&sh->idle) == 0);
	show("zeroed, posted", &sh->idle);
	CHECK(sem_wait(&sh->idle) == 0);
}

static void *mutex_adder(void *arg)
{
	for (int i = 0; i < adds; i++) {
		CHECK(pthread_mutex_lock(&sh->m) == 0);
		sh->counter++;
		CHECK(pthread_mutex_unlock(&sh->m) == 0);
	}
	return arg;
}

/* Take turns through the condition: the parent is 0, the child 1. */
static void take_turns(int me)
{
	CHECK(pthread_mutex_lock(&sh->m) == 0);
	for (int i = 0; i < rounds; i++) {
		while (sh->turn != me)
			CHECK(pthread_cond_wait(&sh->c, &sh->m) == 0);
		sh->turn = !me;
		CHECK(pthread_cond_signal(&sh->c) == 0);
	}
	CHECK(pthread_mutex_unlock(&sh->m) == 0);
}

static void init_mutex(pthread_mutex_t *m, int type)
{
	pthread_mutexattr_t a;

	CHECK(pthread_mutexattr_init(&a) == 0);
	CHECK(pthread_mutexattr_settype(&a, type) == 0);
	CHECK(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0);
	CHECK(pthread_mutex_init(m, &a) == 0);
	CHECK(pthread_mutexattr_destroy(&a) == 0);
}

static void mutexes(void)
{
	pthread_condattr_t ca;
	pthread_t t[THREADS];
	struct timespec ts;
	int r;
	pid_t p;

	init_mutex(&sh->m, PTHREAD_MUTEX_NORMAL);
	init_mutex(&sh->rec, PTHREAD_MUTEX_RECURSIVE);
	init_mutex(&sh->chk, PTHREAD_MUTEX_ERRORCHECK);
	CHECK(pthread_condattr_init(&ca) == 0);
	CHECK(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED) == 0);
	CHECK(pthread_cond_init(&sh->c, &ca) == 0);
	sh->counter = 0;

	/* Held here: the child is not its owner, though its ids are ours. */
	CHECK(pthread_mutex_lock(&sh->rec) == 0);
	CHECK(pthread_mutex_lock(&sh->rec) == 0);
	CHECK(pthread_mutex_lock(&sh->chk) == 0);
	p = fork_or_die();
	if (!p) {
		printf("child: recursive trylock %s",
		       strerr(pthread_mutex_trylock(&sh->rec)));
		printf(", errorcheck trylock %s",
		       strerr(pthread_mutex_trylock(&sh->chk)));
		printf(", errorcheck unlock %s",
		       strerr(pthread_mutex_unlock(&sh->chk)));
		ts = in_ms(30);
		printf(", timedlock %s",
		       strerr(pthread_mutex_timedlock(&sh->rec, &ts)));
		ts = (struct timespec){ 0, -1 };
		printf(", bad time %s\n",
		       strerr(pthread_mutex_timedlock(&sh->rec, &ts)));
		fflush(stdout);
		_exit(0);
	}
	reap(p);
	CHECK(pthread_mutex_unlock(&sh->rec) == 0);
	printf("parent: errorcheck lock again %s",
	       strerr(pthread_mutex_lock(&sh->chk)));
	printf(", unlock %s", strerr(pthread_mutex_unlock(&sh->chk)));
	printf(", recursive unlock %s\n",
	       strerr(pthread_mutex_unlock(&sh->rec)));

	/* Threads of both processes on one mutex, then turns on one cond. */
	p = fork_or_die();
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, mutex_adder, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	take_turns(!p);
	if (!p)
		_exit(0);
	reap(p);
	printf("mutex: counter %ld; condition: %d turns each, turn %d\n",
	       sh->counter, rounds, sh->turn);

	CHECK(pthread_mutex_lock(&sh->m) == 0);
	ts = in_ms(30);
	r = pthread_cond_timedwait(&sh->c, &sh->m, &ts);
	printf("cond timedwait: %s, ", strerr(r));
	ts = (struct timespec){ 0, -1 };
	r = pthread_cond_timedwait(&sh->c, &sh->m, &ts);
	printf("bad time %s\n", strerr(r));
	CHECK(pthread_mutex_unlock(&sh->m) == 0);
	CHECK(pthread_mutex_destroy(&sh->m) == 0);
	CHECK(pthread_cond_destroy(&sh->c) == 0);
}

/* A private condition with a process-shared mutex, in one process. */
static void *signaller(void *arg)
{
	CHECK(pthread_mutex_lock(&sh->pm) == 0);
	sh->turn = 1;
	CHECK(pthread_cond_broadcast(&sh->pc) == 0);
	CHECK(pthread_mutex_unlock(&sh->pm) == 0);
	return arg;
}

static void mixed(void)
{
	pthread_t t;

	init_mutex(&sh->pm, PTHREAD_MUTEX_NORMAL);
	CHECK(pthread_cond_init(&sh->pc, NULL) == 0);
	sh->turn = 0;
	CHECK(pthread_mutex_lock(&sh->pm) == 0);
	CHECK(pthread_create(&t, NULL, signaller, NULL) == 0);
	while (!sh->turn)
		CHECK(pthread_cond_wait(&sh->pc, &sh->pm) == 0);
	CHECK(pthread_mutex_unlock(&sh->pm) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("private condition, shared mutex: turn %d\n", sh->turn);
}

static void *rw_user(void *arg)
{
	long seen;

	for (int i = 0; i < adds; i++) {
		if (i % 4 == 0) {
			CHECK(pthread_rwlock_wrlock(&sh->rw) == 0);
			sh->counter++;
		} else {
			CHECK(pthread_rwlock_rdlock(&sh->rw) == 0);
			seen = sh->counter;
			CHECK(seen == sh->counter);
		}
		CHECK(pthread_rwlock_unlock(&sh->rw) == 0);
	}
	return arg;
}

static void *crosser(void *arg)
{
	for (int i = 0; i < rounds / 10; i++)
		if (pthread_barrier_wait(&sh->b) ==
		    PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&sh->serial, 1, __ATOMIC_RELAXED);
	return arg;
}

static void in_both(void *(*fn)(void *))
{
	pthread_t t[THREADS];
	pid_t p = fork_or_die();

	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, fn, NULL) == 0);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	if (!p)
		_exit(0);
	reap(p);
}

static void rwlocks_barriers(void)
{
	pthread_rwlockattr_t ra;
	pthread_barrierattr_t ba;
	struct timespec ts;
	pid_t p;

	CHECK(pthread_rwlockattr_init(&ra) == 0);
	CHECK(pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED) == 0);
	CHECK(pthread_rwlock_init(&sh->rw, &ra) == 0);
	CHECK(pthread_rwlock_wrlock(&sh->rw) == 0);
	p = fork_or_die();
	if (!p) {
		printf("child: rwlock tryrdlock %s",
		       strerr(pthread_rwlock_tryrdlock(&sh->rw)));
		printf(", trywrlock %s",
		       strerr(pthread_rwlock_trywrlock(&sh->rw)));
		ts = in_ms(30);
		printf(", timedrdlock %s\n",
		       strerr(pthread_rwlock_timedrdlock(&sh->rw, &ts)));
		fflush(stdout);
		_exit(0);
	}
	reap(p);
	printf("parent: wrlock again %s",
	       strerr(pthread_rwlock_wrlock(&sh->rw)));
	printf(", unlock %s\n", strerr(pthread_rwlock_unlock(&sh->rw)));
	sh->counter = 0;
	in_both(rw_user);
	printf("rwlock: counter %ld\n", sh->counter);
	CHECK(pthread_rwlock_destroy(&sh->rw) == 0);

	CHECK(pthread_barrierattr_init(&ba) == 0);
	CHECK(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED) == 0);
	CHECK(pthread_barrier_init(&sh->b, &ba, 2 * THREADS) == 0);
	in_both(crosser);
	printf("barrier: %d rounds, %d serial\n", rounds / 10, sh->serial);
	CHECK(pthread_barrier_destroy(&sh->b) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		rounds = atoi(argv[1]);
		adds = rounds;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	named();
	anonymous();
	one_process();
	mutexes();
	mixed();
	rwlocks_barriers();
	return 0;
}

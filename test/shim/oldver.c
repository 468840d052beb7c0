/* SPDX-License-Identifier: MIT */
/*
 * A program as if linked against glibc before 2.34: its references bind
 * to the old symbol versions (libpthread's, GLIBC_2.2.5 and 2.3.3, the
 * old condition variable's pthread_cond_*@GLIBC_2.2.5, libpthread's
 * __pthread_* names, the cleanup API before 2.3.3).  oldver.sh checks
 * with objdump -T that they do.  Under the shim its threads must be
 * virtual threads: with 80 of them blocked in the old functions the
 * process has no more kernel threads than carriers and a few (counted
 * as kthreads.c counts them, on stderr), which only holds if the shim
 * interposed every one of them.  x86-64's versions.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define OLD(name, version) __asm__(".symver " #name "," #name "@" version)

OLD(pthread_create, "GLIBC_2.2.5");
OLD(pthread_join, "GLIBC_2.2.5");
OLD(pthread_detach, "GLIBC_2.2.5");
OLD(pthread_tryjoin_np, "GLIBC_2.3.3");
OLD(pthread_timedjoin_np, "GLIBC_2.3.3");
OLD(pthread_cond_init, "GLIBC_2.2.5");
OLD(pthread_cond_wait, "GLIBC_2.2.5");
OLD(pthread_cond_timedwait, "GLIBC_2.2.5");
OLD(pthread_cond_signal, "GLIBC_2.2.5");
OLD(pthread_cond_broadcast, "GLIBC_2.2.5");
OLD(pthread_cond_destroy, "GLIBC_2.2.5");
OLD(pthread_mutex_trylock, "GLIBC_2.2.5");
OLD(pthread_mutex_timedlock, "GLIBC_2.2.5");
OLD(sem_init, "GLIBC_2.2.5");
OLD(sem_wait, "GLIBC_2.2.5");
OLD(sem_post, "GLIBC_2.2.5");
OLD(sem_destroy, "GLIBC_2.2.5");
OLD(pthread_key_create, "GLIBC_2.2.5");
OLD(pthread_getspecific, "GLIBC_2.2.5");
OLD(pthread_setspecific, "GLIBC_2.2.5");
OLD(pthread_once, "GLIBC_2.2.5");
OLD(pthread_rwlock_rdlock, "GLIBC_2.2.5");
OLD(pthread_rwlock_wrlock, "GLIBC_2.2.5");
OLD(pthread_rwlock_unlock, "GLIBC_2.2.5");
OLD(pthread_barrier_init, "GLIBC_2.2.5");
OLD(pthread_barrier_wait, "GLIBC_2.2.5");
OLD(pthread_spin_lock, "GLIBC_2.2.5");
OLD(pthread_spin_unlock, "GLIBC_2.2.5");
OLD(pthread_cancel, "GLIBC_2.2.5");
OLD(pthread_testcancel, "GLIBC_2.2.5");
OLD(__pthread_register_cancel, "GLIBC_2.3.3");
OLD(__pthread_unregister_cancel, "GLIBC_2.3.3");
OLD(__pthread_unwind_next, "GLIBC_2.3.3");
OLD(_pthread_cleanup_push, "GLIBC_2.2.5");
OLD(_pthread_cleanup_pop, "GLIBC_2.2.5");
OLD(pthread_yield, "GLIBC_2.2.5");
OLD(__pthread_mutex_lock, "GLIBC_2.2.5");
OLD(__pthread_mutex_unlock, "GLIBC_2.2.5");
OLD(__pthread_key_create, "GLIBC_2.2.5");
OLD(__pthread_once, "GLIBC_2.2.5");

/* Declared by no header any more. */
extern int __pthread_mutex_lock(pthread_mutex_t *m);
extern int __pthread_mutex_unlock(pthread_mutex_t *m);
extern int __pthread_key_create(pthread_key_t *k, void (*d)(void *));
extern int __pthread_once(pthread_once_t *o, void (*fn)(void));
extern void _pthread_cleanup_push(struct _pthread_cleanup_buffer *b,
				  void (*fn)(void *), void *arg);
extern void _pthread_cleanup_pop(struct _pthread_cleanup_buffer *b, int run);
extern int pthread_yield(void);

#define PER_KIND 40

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static sem_t sem;
static int waiting, go;
static pthread_key_t key, old_key;
static int destructed;

static void destructor(void *v)
{
	__atomic_fetch_add(&destructed, 1, __ATOMIC_SEQ_CST);
}

static void *cond_waiter(void *arg)
{
	CHECK(pthread_setspecific(key, arg) == 0);
	CHECK(pthread_getspecific(key) == arg);
	__pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_broadcast(&cond);
	while (!go)
		pthread_cond_wait(&cond, &lock);
	__pthread_mutex_unlock(&lock);
	return arg;
}

static void *sem_waiter(void *arg)
{
	__pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_broadcast(&cond);
	__pthread_mutex_unlock(&lock);
	CHECK(sem_wait(&sem) == 0);
	return arg;
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

static void blocked_in_old_functions(void)
{
	const char *carriers = getenv("WEFT_CARRIERS");
	int bound = carriers ? atoi(carriers) + 4 : 2 * PER_KIND + 8;
	pthread_t t[2 * PER_KIND];
	long sum = 0;
	void *r;
	int n;

	CHECK(pthread_cond_init(&cond, NULL) == 0);
	CHECK(sem_init(&sem, 0, 0) == 0);
	CHECK(pthread_key_create(&key, destructor) == 0);
	for (int i = 0; i < PER_KIND; i++) {
		CHECK(pthread_create(&t[i], NULL, cond_waiter,
				     (void *)(intptr_t)(i + 1)) == 0);
		CHECK(pthread_create(&t[PER_KIND + i], NULL, sem_waiter,
				     (void *)(intptr_t)(i + 1)) == 0);
	}
	__pthread_mutex_lock(&lock);
	while (waiting < 2 * PER_KIND)
		pthread_cond_wait(&cond, &lock);
	__pthread_mutex_unlock(&lock);
	usleep(20000); /* the semaphore's waiters are in sem_wait by now */
	n = threads_now();
	fprintf(stderr, "%d kernel threads, bound %d\n", n, bound);
	printf("%d threads blocked in old functions, kernel threads within "
	       "the bound: %d\n",
	       2 * PER_KIND, n <= bound);
	__pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&cond);
	__pthread_mutex_unlock(&lock);
	for (int i = 0; i < PER_KIND; i++)
		CHECK(sem_post(&sem) == 0);
	for (int i = 0; i < 2 * PER_KIND; i++) {
		CHECK(pthread_join(t[i], &r) == 0);
		sum += (intptr_t)r;
	}
	printf("joined: sum %ld, key destructors %d\n", sum, destructed);
	CHECK(pthread_cond_destroy(&cond) == 0);
	CHECK(sem_destroy(&sem) == 0);
}

static pthread_once_t once = PTHREAD_ONCE_INIT, old_once = PTHREAD_ONCE_INIT;
static int once_runs;

static void once_fn(void)
{
	once_runs++;
}

static void say(void *what)
{
	printf("  cleanup: %s\n", (const char *)what);
}

static int never[2];

/* Cancelled in a read, with both cleanup APIs of old binaries. */
static void *cancelled(void *arg)
{
	struct _pthread_cleanup_buffer b;
	char c;

	_pthread_cleanup_push(&b, say, "the API before 2.3.3");
	pthread_cleanup_push(say, "__pthread_register_cancel's");
	pthread_testcancel();
	CHECK(read(never[0], &c, 1) < 0);
	pthread_cleanup_pop(0);
	_pthread_cleanup_pop(&b, 0);
	return NULL;
}

static void *quick(void *arg)
{
	pthread_yield();
	return arg;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_spinlock_t spin;
static pthread_barrier_t barrier;

static void *barrier_member(void *arg)
{
	pthread_rwlock_rdlock(&rw);
	pthread_rwlock_unlock(&rw);
	pthread_spin_lock(&spin);
	pthread_spin_unlock(&spin);
	return (void *)(intptr_t)(pthread_barrier_wait(&barrier) ==
				  PTHREAD_BARRIER_SERIAL_THREAD);
}

int main(void)
{
	struct timespec ts;
	pthread_t t, m[4];
	long serial = 0;
	void *r;

	blocked_in_old_functions();

	CHECK(pthread_once(&once, once_fn) == 0);
	CHECK(pthread_once(&once, once_fn) == 0);
	CHECK(__pthread_once(&old_once, once_fn) == 0);
	CHECK(__pthread_key_create(&old_key, NULL) == 0);
	printf("once: %d runs\n", once_runs);

	CHECK(pipe(never) == 0);
	CHECK(pthread_create(&t, NULL, cancelled, NULL) == 0);
	usleep(30000);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &r) == 0);
	printf("cancelled: %s\n", r == PTHREAD_CANCELED ? "yes" : "no");

	CHECK(pthread_create(&t, NULL, quick, (void *)5) == 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	CHECK(pthread_timedjoin_np(t, &r, &ts) == 0);
	printf("timedjoin: %ld\n", (long)(intptr_t)r);
	CHECK(pthread_create(&t, NULL, quick, (void *)6) == 0);
	while (pthread_tryjoin_np(t, &r) != 0)
		usleep(1000);
	printf("tryjoin: %ld\n", (long)(intptr_t)r);

	CHECK(pthread_spin_init(&spin, 0) == 0);
	CHECK(pthread_barrier_init(&barrier, NULL, 4) == 0);
	pthread_rwlock_wrlock(&rw);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&m[i], NULL, barrier_member, NULL) == 0);
	usleep(10000);
	pthread_rwlock_unlock(&rw);
	for (int i = 0; i < 4; i++) {
		CHECK(pthread_join(m[i], &r) == 0);
		serial += (intptr_t)r;
	}
	printf("rwlock, spin lock, barrier: %ld serial thread\n", serial);
	CHECK(pthread_mutex_trylock(&lock) == 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	CHECK(pthread_mutex_timedlock(&lock, &ts) != 0);
	CHECK(pthread_cond_init(&cond, NULL) == 0);
	CHECK(pthread_cond_signal(&cond) == 0);
	printf("old pthread_cond_timedwait, deadline passed: %s\n",
	       pthread_cond_timedwait(&cond, &lock, &ts) == ETIMEDOUT ?
		       "ETIMEDOUT" :
		       "?");
	CHECK(pthread_mutex_unlock(&lock) == 0);
	CHECK(pthread_create(&t, NULL, quick, NULL) == 0);
	CHECK(pthread_detach(t) == 0);
	return 0;
}

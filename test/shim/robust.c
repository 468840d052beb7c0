/* SPDX-License-Identifier: MIT */
/*
 * Robust mutexes: an owner that ends holding one, a thread or a process,
 * gives the next locker EOWNERDEAD; one not made consistent before it is
 * unlocked is ENOTRECOVERABLE for good.  The processes include native
 * ones (this program run again without LD_PRELOAD), which must read the
 * shim's process-shared robust mutex as glibc's, and the shim glibc's.
 * usage: shim_robust, or shim_robust native-hold|native-lock FD (itself)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 200

static void robust_init(pthread_mutex_t *m, int type, int pshared)
{
	pthread_mutexattr_t a;

	CHECK(pthread_mutexattr_init(&a) == 0);
	CHECK(pthread_mutexattr_settype(&a, type) == 0);
	CHECK(pthread_mutexattr_setpshared(&a, pshared) == 0);
	CHECK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0);
	CHECK(pthread_mutex_init(m, &a) == 0);
	CHECK(pthread_mutexattr_destroy(&a) == 0);
}

/* ---- threads ---- */

static pthread_mutex_t mu;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int holding;

static void *lock_and_end(void *arg)
{
	CHECK(pthread_mutex_lock(&mu) == 0);
	atomic_store(&holding, 1);
	if (arg)
		usleep(2000); /* long enough for main to wait */
	if (arg == (void *)2)
		pthread_exit(NULL);
	return NULL;
}

static void *unlock_it(void *arg)
{
	return (void *)(intptr_t)pthread_mutex_unlock(&mu);
}

/* A waiter in pthread_cond_wait takes the mutex back from a dead owner. */
static void *cond_waiter(void *arg)
{
	int r;

	CHECK(pthread_mutex_lock(&mu) == 0);
	atomic_store(&holding, 1);
	while ((r = pthread_cond_wait(&cv, &mu)) == 0)
		;
	CHECK(r == EOWNERDEAD);
	CHECK(pthread_mutex_consistent(&mu) == 0);
	CHECK(pthread_mutex_unlock(&mu) == 0);
	return NULL;
}

static void threads(int type, const char *name)
{
	int dead = 0, waited = 0, conds = 0;
	pthread_t t;
	void *r;

	robust_init(&mu, type, PTHREAD_PROCESS_PRIVATE);
	for (int i = 0; i < ROUNDS; i++) {
		/* the owner ends first, or while this thread waits */
		atomic_store(&holding, 0);
		CHECK(pthread_create(&t, NULL, lock_and_end,
				     (void *)(intptr_t)(i % 3)) == 0);
		if (i % 3) {
			while (!atomic_load(&holding))
				usleep(100);
		} else {
			CHECK(pthread_join(t, NULL) == 0);
		}
		if (pthread_mutex_lock(&mu) == EOWNERDEAD)
			dead++;
		if (i % 3) {
			CHECK(pthread_join(t, NULL) == 0);
			waited++;
		}
		CHECK(pthread_mutex_consistent(&mu) == 0);
		CHECK(pthread_mutex_consistent(&mu) == EINVAL);
		CHECK(pthread_mutex_unlock(&mu) == 0);
		CHECK(pthread_mutex_trylock(&mu) == 0);
		CHECK(pthread_mutex_unlock(&mu) == 0);
	}
	for (int i = 0; i < ROUNDS / 10; i++) {
		pthread_t w;

		/* woken before or after the owner ends, it may wait again */
		atomic_store(&holding, 0);
		CHECK(pthread_create(&w, NULL, cond_waiter, NULL) == 0);
		while (!atomic_load(&holding))
			usleep(100);
		CHECK(pthread_mutex_lock(&mu) == 0); /* it waits: free */
		CHECK(pthread_cond_signal(&cv) == 0);
		CHECK(pthread_create(&t, NULL, lock_and_end, NULL) == 0);
		CHECK(pthread_mutex_unlock(&mu) == 0);
		CHECK(pthread_join(t, NULL) == 0);
		CHECK(pthread_cond_signal(&cv) == 0);
		CHECK(pthread_join(w, NULL) == 0);
		conds++;
	}
	printf("%s: %d of %d owners found dead (%d while waited for), "
	       "%d by a condition's waiter\n",
	       name, dead, ROUNDS, waited, conds);

	/* Only the owner unlocks, even a normal robust mutex. */
	CHECK(pthread_mutex_lock(&mu) == 0);
	CHECK(pthread_create(&t, NULL, unlock_it, NULL) == 0);
	CHECK(pthread_join(t, &r) == 0);
	printf("%s: another thread's unlock: %s\n", name,
	       strerror((int)(intptr_t)r));
	if (type == PTHREAD_MUTEX_ERRORCHECK)
		printf("%s: relock: %s\n", name,
		       strerror(pthread_mutex_lock(&mu)));
	CHECK(pthread_mutex_unlock(&mu) == 0);

	/* Unlocked inconsistent: not recoverable, for every later locker. */
	CHECK(pthread_create(&t, NULL, lock_and_end, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_mutex_lock(&mu) == EOWNERDEAD);
	CHECK(pthread_mutex_unlock(&mu) == 0);
	/* (Not trylock: glibc 2.36's keeps it taken then.) */
	printf("%s: then lock: %s, ", name, strerror(pthread_mutex_lock(&mu)));
	printf("again: %s, ", strerror(pthread_mutex_lock(&mu)));
	printf("consistent: %s\n", strerror(pthread_mutex_consistent(&mu)));
	CHECK(pthread_mutex_destroy(&mu) == 0);
}

/* ---- processes ---- */

struct shared {
	pthread_mutex_t m;
	atomic_int step;
};

static struct shared *map(int fd)
{
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED, fd, 0);

	CHECK(s != MAP_FAILED);
	return s;
}

static void wait_step(struct shared *s, int step)
{
	while (atomic_load(&s->step) < step)
		usleep(200);
}

/* This program again, without the shim, on the shared fd. */
static pid_t native(const char *what, int fd)
{
	char arg[16];
	pid_t p;

	snprintf(arg, sizeof(arg), "%d", fd);
	fflush(stdout);
	CHECK((p = fork()) >= 0);
	if (p == 0) {
		unsetenv("LD_PRELOAD");
		execl("/proc/self/exe", "shim_robust", what, arg, (char *)NULL);
		_exit(127);
	}
	return p;
}

static int status_of(pid_t p)
{
	int st;

	CHECK(waitpid(p, &st, 0) == p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Native: hold the mutex and die, after step 1 if told (argv). */
static int native_hold(struct shared *s)
{
	CHECK(pthread_mutex_lock(&s->m) == 0);
	atomic_store(&s->step, 1);
	usleep(20000);
	_exit(0);
}

/* Native: lock what the shim's process left held when it died. */
static int native_lock(struct shared *s)
{
	int r = pthread_mutex_lock(&s->m);

	if (r == EOWNERDEAD) {
		CHECK(pthread_mutex_consistent(&s->m) == 0);
		CHECK(pthread_mutex_unlock(&s->m) == 0);
	}
	return r == EOWNERDEAD ? 0 : 1;
}

static void processes(void)
{
	int fd = memfd_create("robust", 0), dead = 0, natives = 0;
	struct shared *s;
	pid_t p;

	CHECK(fd >= 0 && ftruncate(fd, sizeof(*s)) == 0);
	s = map(fd);
	robust_init(&s->m, PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_SHARED);
	for (int i = 0; i < ROUNDS / 10; i++) {
		/* A child of this process holds it and dies, killed or not. */
		atomic_store(&s->step, 0);
		fflush(stdout);
		CHECK((p = fork()) >= 0);
		if (p == 0) {
			CHECK(pthread_mutex_lock(&s->m) == 0);
			atomic_store(&s->step, 1);
			if (i % 2)
				pause();
			usleep(20000);
			_exit(0);
		}
		wait_step(s, 1);
		if (i % 2)
			kill(p, SIGKILL);
		if (pthread_mutex_lock(&s->m) == EOWNERDEAD)
			dead++;
		status_of(p);
		CHECK(pthread_mutex_consistent(&s->m) == 0);
		CHECK(pthread_mutex_unlock(&s->m) == 0);

		/* A native process holds it and dies while this one waits. */
		atomic_store(&s->step, 0);
		p = native("native-hold", fd);
		wait_step(s, 1);
		if (pthread_mutex_lock(&s->m) == EOWNERDEAD)
			natives++;
		status_of(p);
		CHECK(pthread_mutex_consistent(&s->m) == 0);
		CHECK(pthread_mutex_unlock(&s->m) == 0);
	}
	printf("processes: %d of %d children found dead, %d of %d native "
	       "ones\n",
	       dead, ROUNDS / 10, natives, ROUNDS / 10);

	/* This process's child dies holding it; a native one locks it. */
	fflush(stdout);
	CHECK((p = fork()) >= 0);
	if (p == 0) {
		CHECK(pthread_mutex_lock(&s->m) == 0);
		_exit(0);
	}
	status_of(p);
	printf("processes: a native locker after the child: %s\n",
	       status_of(native("native-lock", fd)) == 0 ? "EOWNERDEAD" : "no");
	CHECK(pthread_mutex_lock(&s->m) == 0);
	CHECK(pthread_mutex_unlock(&s->m) == 0);
	munmap(s, sizeof(*s));
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 3) {
		struct shared *s = map(atoi(argv[2]));

		if (!strcmp(argv[1], "native-hold"))
			return native_hold(s);
		if (!strcmp(argv[1], "native-lock"))
			return native_lock(s);
		return 2;
	}
	threads(PTHREAD_MUTEX_NORMAL, "normal");
	threads(PTHREAD_MUTEX_ERRORCHECK, "errorcheck");
	threads(PTHREAD_MUTEX_RECURSIVE, "recursive");
	processes();
	return 0;
}

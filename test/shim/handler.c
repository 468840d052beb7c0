/* SPDX-License-Identifier: MIT */
/*
 * A process's signal runs its handler on the main thread when the other
 * threads block it, as the kernel has it: the handler sees main's TLS,
 * main's pthread_self() and main's keys, whether the signal comes while
 * main waits in a read or while the workers run.  (Under the shim it may
 * come while carrier 0's scheduler runs and no thread is on it.)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 10
#define ROUNDS 30

static __thread int mine;
static pthread_key_t key;
static pthread_t main_thread;
static atomic_int stop, as_main, ran;

static void on_alarm(int sig)
{
	int e = errno;

	atomic_fetch_add(&ran, 1);
	if (mine == 42 && pthread_getspecific(key) == &mine &&
	    pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&as_main, 1);
	errno = e;
}

static void *worker(void *arg)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGALRM);
	CHECK(pthread_sigmask(SIG_BLOCK, &s, NULL) == 0);
	mine = 7;
	CHECK(pthread_setspecific(key, &s) == 0);
	while (!atomic_load(&stop))
		usleep(1000);
	return NULL;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { 0, 10000 } };
	pthread_t w[WORKERS];
	int fds[2], eintr = 0;
	char c;

	main_thread = pthread_self();
	mine = 42;
	CHECK(pthread_key_create(&key, NULL) == 0);
	CHECK(pthread_setspecific(key, &mine) == 0);
	CHECK(pipe(fds) == 0);
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0); /* no SA_RESTART */
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
	for (int i = 0; i < ROUNDS; i++) {
		CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
		if (i % 2) {
			if (read(fds[0], &c, 1) < 0 && errno == EINTR)
				eintr++;
		} else {
			while (atomic_load(&ran) <= i)
				usleep(500);
		}
		while (atomic_load(&ran) <= i)
			usleep(500);
	}
	atomic_store(&stop, 1);
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
	printf("%d of %d handlers ran as main; %d of %d reads ended in "
	       "EINTR\n",
	       atomic_load(&as_main), atomic_load(&ran), eintr, ROUNDS / 2);
	return 0;
}

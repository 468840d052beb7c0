/* SPDX-License-Identifier: MIT */
/*
 * fork from a process whose every carrier is busy.  Pairs of threads pass
 * numbers back and forth through pipes, and spinners burn the CPU in
 * short bursts between sched_yield()s, while the main thread forks 1,000
 * times.  Each child spawns a thread that writes a message to a pipe,
 * reads it, joins the thread, sleeps a little and exits with a status of
 * its own; the parent checks every status, and that its own threads went
 * on unharmed: every number arrived in order, and every thread moved on
 * while the forks went on.  Output is the same natively.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define FORKS 1000
#define PAIRS 4
#define SPINNERS 4

static atomic_bool stop;
static atomic_long progress[2 * PAIRS + SPINNERS];
static atomic_int errors;

struct pair {
	int there[2], back[2];
	int index;
};

/* Sends 0, 1, 2... and expects each back plus one. */
static void *pinger(void *arg)
{
	struct pair *p = arg;

	for (long i = 0; !atomic_load(&stop); i++) {
		long v;

		CHECK(write(p->there[1], &i, sizeof(i)) == sizeof(i));
		CHECK(read(p->back[0], &v, sizeof(v)) == sizeof(v));
		if (v != i + 1)
			atomic_fetch_add(&errors, 1);
		atomic_fetch_add(&progress[2 * p->index], 1);
	}
	close(p->there[1]); /* the ponger sees the end */
	return NULL;
}

static void *ponger(void *arg)
{
	struct pair *p = arg;
	long v, want = 0;

	while (read(p->there[0], &v, sizeof(v)) == sizeof(v)) {
		if (v != want++)
			atomic_fetch_add(&errors, 1);
		v++;
		CHECK(write(p->back[1], &v, sizeof(v)) == sizeof(v));
		atomic_fetch_add(&progress[2 * p->index + 1], 1);
	}
	return NULL;
}

static void *spinner(void *arg)
{
	int i = (int)(intptr_t)arg;
	volatile unsigned x = 1;

	while (!atomic_load(&stop)) {
		for (int k = 0; k < 20000; k++)
			x = x * 31 + 1;
		sched_yield();
		atomic_fetch_add(&progress[2 * PAIRS + i], 1);
	}
	return NULL;
}

/* ---- the child ---- */

struct hello {
	int fd;
	int n;
};

static void *say_hello(void *arg)
{
	struct hello *h = arg;

	if (write(h->fd, &h->n, sizeof(h->n)) != sizeof(h->n))
		_exit(254);
	return NULL;
}

/* A thread, a pipe, a sleep; exit with the status the parent expects. */
static void child(int n)
{
	struct hello h = { .n = n };
	pthread_t t;
	int p[2], got = -1;

	if (pipe(p) || (h.fd = p[1], pthread_create(&t, NULL, say_hello, &h)))
		_exit(253);
	if (read(p[0], &got, sizeof(got)) != sizeof(got) || got != n)
		_exit(252);
	if (pthread_join(t, NULL))
		_exit(251);
	usleep(100);
	_exit(n % 200 + 1);
}

int main(void)
{
	pthread_t t[2 * PAIRS + SPINNERS];
	struct pair pairs[PAIRS];
	long before[2 * PAIRS + SPINNERS];
	int wrong = 0, moved = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < PAIRS; i++) {
		pairs[i].index = i;
		CHECK(pipe(pairs[i].there) == 0 && pipe(pairs[i].back) == 0);
		CHECK(pthread_create(&t[2 * i], NULL, pinger, &pairs[i]) == 0);
		CHECK(pthread_create(&t[2 * i + 1], NULL, ponger, &pairs[i]) ==
		      0);
	}
	for (int i = 0; i < SPINNERS; i++)
		CHECK(pthread_create(&t[2 * PAIRS + i], NULL, spinner,
				     (void *)(intptr_t)i) == 0);
	/* Every thread under way before the forks start. */
	for (int i = 0; i < 2 * PAIRS + SPINNERS; i++)
		while (!atomic_load(&progress[i]))
			usleep(1000);
	for (int i = 0; i < 2 * PAIRS + SPINNERS; i++)
		before[i] = atomic_load(&progress[i]);

	for (int n = 0; n < FORKS; n++) {
		int st;
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0)
			child(n);
		CHECK(waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != n % 200 + 1) {
			if (wrong++ < 5)
				printf("child %d: status %#x\n", n, st);
		}
	}
	for (int i = 0; i < 2 * PAIRS + SPINNERS; i++)
		moved += atomic_load(&progress[i]) > before[i];

	atomic_store(&stop, true);
	for (int i = 0; i < 2 * PAIRS + SPINNERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	for (int i = 0; i < PAIRS; i++) {
		close(pairs[i].there[0]);
		close(pairs[i].back[0]);
		close(pairs[i].back[1]);
	}
	printf("%d children, %d with a wrong status\n", FORKS, wrong);
	printf("threads that moved on during the forks: %d of %d\n", moved,
	       2 * PAIRS + SPINNERS);
	printf("numbers out of order: %d\n", atomic_load(&errors));
	return wrong || errors;
}

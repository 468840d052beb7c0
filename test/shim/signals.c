/* SPDX-License-Identifier: MIT */
/*
 * Signals in a threaded program: handlers run; a blocking read returns
 * EINTR under a handler without SA_RESTART and goes on under one with
 * it; sleeps, poll and select return EINTR either way; pthread_kill
 * interrupts the thread it names; raise runs the handler at once; a
 * handler's own write to a pipe works; sigaction reports the program's
 * handlers.  Output is the same natively.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t hits;
static int self_pipe[2];

static void on_signal(int sig)
{
	hits++;
}

static void to_pipe(int sig)
{
	char c = (char)sig;

	CHECK(write(self_pipe[1], &c, 1) == 1);
}

static void install(int sig, void (*fn)(int), int flags)
{
	struct sigaction a = { .sa_handler = fn, .sa_flags = flags };

	sigemptyset(&a.sa_mask);
	CHECK(sigaction(sig, &a, NULL) == 0);
}

/*
 * Sends sig to the process (or to a thread) every 50 ms until the call it
 * aims at has returned: a signal that comes before the call blocks
 * interrupts nothing, natively too.
 */
struct shot {
	int sig;
	pthread_t target;
	bool directed;
	volatile sig_atomic_t done;
};

static void *shoot(void *arg)
{
	struct shot *s = arg;

	do {
		usleep(50 * 1000);
		if (s->done)
			break;
		if (s->directed)
			CHECK(pthread_kill(s->target, s->sig) == 0);
		else
			CHECK(kill(getpid(), s->sig) == 0);
	} while (!s->done);
	return NULL;
}

/* The call returned: stop shooting, and wait for the shooter. */
static void stop(struct shot *s, pthread_t t)
{
	s->done = 1;
	pthread_join(t, NULL);
}

static pthread_t later(struct shot *s)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, shoot, s) == 0);
	return t;
}

static void read_interrupted(void)
{
	struct shot s = { .sig = SIGUSR1 };
	int p[2];
	char c;
	pthread_t t;
	ssize_t n;

	CHECK(pipe(p) == 0);
	install(SIGUSR1, on_signal, 0);
	t = later(&s);
	n = read(p[0], &c, 1);
	stop(&s, t);
	printf("read without SA_RESTART: %zd, %s, handler ran: %d\n", n,
	       n < 0 ? strerror(errno) : "-", hits > 0);
	close(p[0]);
	close(p[1]);
}

/* Writes once a handler has run, the read having gone on through it. */
static void *write_later(void *arg)
{
	while (!hits)
		usleep(10 * 1000);
	usleep(50 * 1000);
	CHECK(write(*(int *)arg, "x", 1) == 1);
	return NULL;
}

static void read_restarted(void)
{
	struct shot s = { .sig = SIGUSR1 };
	int p[2];
	char c;
	pthread_t t, w;
	ssize_t n;

	hits = 0;
	CHECK(pipe(p) == 0);
	install(SIGUSR1, on_signal, SA_RESTART);
	t = later(&s);
	CHECK(pthread_create(&w, NULL, write_later, &p[1]) == 0);
	n = read(p[0], &c, 1);
	stop(&s, t);
	printf("read with SA_RESTART: %zd, handler ran: %d\n", n, hits > 0);
	pthread_join(w, NULL);
	close(p[0]);
	close(p[1]);
}

static void sleeps_interrupted(void)
{
	struct shot s = { .sig = SIGUSR1 };
	struct timespec req = { 5, 0 }, rem = { 0, 0 };
	struct pollfd pfd;
	pthread_t t;
	fd_set rd;
	int p[2], r;

	install(SIGUSR1, on_signal, SA_RESTART);
	CHECK(pipe(p) == 0);

	t = later(&s);
	r = nanosleep(&req, &rem);
	stop(&s, t);
	printf("nanosleep: %d %s, remaining > 3 s: %d\n", r,
	       r ? strerror(errno) : "-", rem.tv_sec >= 3);

	s.done = 0;
	t = later(&s);
	r = (int)sleep(5);
	stop(&s, t);
	printf("sleep: remaining %s\n", r >= 3 && r <= 5 ? "3-5 s" : "wrong");

	s.done = 0;
	t = later(&s);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	r = poll(&pfd, 1, 5000);
	stop(&s, t);
	printf("poll: %d %s\n", r, r < 0 ? strerror(errno) : "-");

	s.done = 0;
	t = later(&s);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	r = select(p[0] + 1, &rd, NULL, NULL, &(struct timeval){ 5, 0 });
	stop(&s, t);
	printf("select: %d %s\n", r, r < 0 ? strerror(errno) : "-");
	close(p[0]);
	close(p[1]);
}

/* A worker blocked in accept-like read, woken by pthread_kill. */
static int worker_pipe[2];
static struct shot worker_shot = { .sig = SIGUSR2, .directed = true };

static void *blocked_worker(void *arg)
{
	char c;
	ssize_t n = read(worker_pipe[0], &c, 1);

	worker_shot.done = 1;
	printf("worker read: %zd %s\n", n, n < 0 ? strerror(errno) : "-");
	return NULL;
}

/* The main thread sleeps meanwhile: only the worker may be interrupted. */
static void directed(void)
{
	pthread_t w, t;

	install(SIGUSR2, on_signal, 0);
	CHECK(pipe(worker_pipe) == 0);
	CHECK(pthread_create(&w, NULL, blocked_worker, NULL) == 0);
	worker_shot.target = w;
	t = later(&worker_shot);
	pthread_join(t, NULL); /* before w ends, so w is a valid target */
	pthread_join(w, NULL);
	close(worker_pipe[0]);
	close(worker_pipe[1]);
}

static void self_pipe_handler(void)
{
	char c = 0;

	CHECK(pipe(self_pipe) == 0);
	install(SIGUSR1, to_pipe, SA_RESTART);
	CHECK(raise(SIGUSR1) == 0);
	/* raise runs the handler before it returns: the byte is there. */
	CHECK(read(self_pipe[0], &c, 1) == 1);
	printf("raise: handler wrote %d\n", c);
	CHECK(pthread_kill(pthread_self(), SIGUSR1) == 0);
	CHECK(read(self_pipe[0], &c, 1) == 1);
	printf("pthread_kill(self): handler wrote %d\n", c);
	close(self_pipe[0]);
	close(self_pipe[1]);
}

static void reported(void)
{
	struct sigaction a;

	install(SIGUSR1, on_signal, SA_RESTART);
	CHECK(sigaction(SIGUSR1, NULL, &a) == 0);
	printf("sigaction reports the handler: %d, SA_RESTART: %d\n",
	       a.sa_handler == on_signal, !!(a.sa_flags & SA_RESTART));
	CHECK(signal(SIGUSR1, SIG_IGN) == on_signal);
	CHECK(signal(SIGUSR1, SIG_DFL) == SIG_IGN);
	CHECK(sigaction(SIGUSR1, NULL, &a) == 0);
	printf("then SIG_DFL: %d\n", a.sa_handler == SIG_DFL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	read_interrupted();
	read_restarted();
	sleeps_interrupted();
	directed();
	self_pipe_handler();
	reported();
	printf("done\n");
	return 0;
}

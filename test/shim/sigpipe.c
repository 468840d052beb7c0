/* SPDX-License-Identifier: MIT */
/*
 * Writes to a pipe or socket nobody reads any more, while other threads
 * keep the carrier busy (so that the shim sends through the ring): EPIPE
 * with SIGPIPE ignored, the handler run once with one installed, and the
 * process killed by SIGPIPE by default.  Output is the same natively.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define BUSY 4

static atomic_int stop, handled;

static void *busy(void *arg)
{
	while (!atomic_load(&stop))
		sched_yield();
	return NULL;
}

static void on_pipe(int sig)
{
	atomic_fetch_add(&handled, 1);
}

/* A pair whose reading end is closed: a pipe or a socket pair. */
static int broken(int kind)
{
	int p[2];

	if (kind == 0)
		CHECK(pipe(p) == 0);
	else
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
	close(p[0]);
	return p[1];
}

/* One write while BUSY threads yield on every carrier. */
static void write_broken(const char *what, int kind)
{
	pthread_t t[BUSY];
	int fd = broken(kind);
	ssize_t r;
	int e;

	atomic_store(&stop, 0);
	for (int i = 0; i < BUSY; i++)
		pthread_create(&t[i], NULL, busy, NULL);
	usleep(10000);
	errno = 0;
	r = write(fd, "x", 1);
	e = errno;
	atomic_store(&stop, 1);
	for (int i = 0; i < BUSY; i++)
		pthread_join(t[i], NULL);
	close(fd);
	printf("%s: %zd %s, handled %d\n", what, r, e == EPIPE ? "EPIPE" : "?",
	       atomic_exchange(&handled, 0));
}

int main(void)
{
	const char *kinds[] = { "pipe", "socket" };

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int kind = 0; kind < 2; kind++) {
		int status;
		pid_t pid;

		signal(SIGPIPE, SIG_IGN);
		write_broken(kinds[kind], kind);
		signal(SIGPIPE, on_pipe);
		write_broken(kinds[kind], kind);
		signal(SIGPIPE, SIG_DFL);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			write_broken(kinds[kind], kind);
			_exit(0); /* not reached: SIGPIPE ends it */
		}
		CHECK(waitpid(pid, &status, 0) == pid);
		printf("%s, default: %s\n", kinds[kind],
		       WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE ?
			       "killed by SIGPIPE" :
			       "survived");
	}
	return 0;
}

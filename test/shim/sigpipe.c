/* SPDX-License-Identifier: MIT */
/*
 * Writes to a pipe or socket nobody reads any more, while other threads
 * keep the carrier busy (so that the shim sends through the ring): EPIPE
 * with SIGPIPE ignored, the handler run once with one installed, and the
 * process killed by SIGPIPE by default.  The same for send() with no
 * flags (MSG_NOSIGNAL: EPIPE and no signal), and for a write and a send
 * that block on a full socket until its peer closes.  Output is the same
 * natively.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
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

enum { WRITE, SEND, SEND_NOSIGNAL, NR_CALLS };
static const char *calls[] = { "write", "send", "send MSG_NOSIGNAL" };

static ssize_t call(int how, int fd, const void *buf, size_t len)
{
	if (how == WRITE)
		return write(fd, buf, len);
	return send(fd, buf, len, how == SEND_NOSIGNAL ? MSG_NOSIGNAL : 0);
}

/* One write while BUSY threads yield on every carrier. */
static void write_broken(const char *what, int kind, int how)
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
	r = call(how, fd, "x", 1);
	e = errno;
	atomic_store(&stop, 1);
	for (int i = 0; i < BUSY; i++)
		pthread_join(t[i], NULL);
	close(fd);
	printf("%s, %s: %zd %s, handled %d\n", what, calls[how], r,
	       e == EPIPE ? "EPIPE" : "?", atomic_exchange(&handled, 0));
}

static void *close_later(void *arg)
{
	usleep(50000);
	close(*(int *)arg);
	return NULL;
}

/*
 * Writes or sends of 1 MiB to a socket nobody reads, which fill its
 * buffers (the shim's then wait in the ring) until the peer closes: the
 * first fits, the second returns what it sent before the close, the
 * third fails; the signal comes from the third, not the second.
 */
static void write_blocked(int how)
{
	static char big[1 << 20];
	char line[64] = "";
	pthread_t t;
	int p[2], n = sizeof(big);
	ssize_t r = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, p) == 0);
	CHECK(setsockopt(p[1], SOL_SOCKET, SO_SNDBUF, &n, sizeof(n)) == 0);
	pthread_create(&t, NULL, close_later, &p[0]);
	for (int i = 0; i < 4 && r >= 0; i++) {
		errno = 0;
		r = call(how, p[1], big, sizeof(big));
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "%s%s (%d)", i ? ", " : "",
			 r == (ssize_t)sizeof(big) ? "all" :
			 r > 0			   ? "short" :
			 errno == EPIPE		   ? "EPIPE" :
						     "?",
			 atomic_exchange(&handled, 0));
	}
	pthread_join(t, NULL);
	close(p[1]);
	printf("blocked %s: %s\n", calls[how], line);
}

int main(void)
{
	const char *kinds[] = { "pipe", "socket" };

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int kind = 0; kind < 2; kind++) {
		for (int how = 0; how < (kind ? NR_CALLS : 1); how++) {
			int status;
			pid_t pid;

			signal(SIGPIPE, SIG_IGN);
			write_broken(kinds[kind], kind, how);
			signal(SIGPIPE, on_pipe);
			write_broken(kinds[kind], kind, how);
			signal(SIGPIPE, SIG_DFL);
			pid = fork();
			CHECK(pid >= 0);
			if (pid == 0) {
				write_broken(kinds[kind], kind, how);
				_exit(0); /* SIGPIPE ends it, but not all */
			}
			CHECK(waitpid(pid, &status, 0) == pid);
			printf("%s, %s, default: %s\n", kinds[kind], calls[how],
			       WIFSIGNALED(status) &&
					       WTERMSIG(status) == SIGPIPE ?
				       "killed by SIGPIPE" :
				       "survived");
		}
	}
	signal(SIGPIPE, on_pipe);
	for (int how = 0; how < NR_CALLS; how++)
		write_blocked(how);
	return 0;
}

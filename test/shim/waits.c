/* SPDX-License-Identifier: MIT */
/*
 * waitpid and its kin report what happened to a child: an exit status, a
 * death by signal, a stop and a continue (WUNTRACED, WCONTINUED); wait,
 * wait3 and wait4 (with and without a struct rusage), waitid with and
 * without WNOWAIT, waitpid for the process group (0 and -pgid), WNOHANG
 * on a running child, ECHILD with none left.  While the main thread
 * waits, another thread goes on.  Output is the same natively.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void show(const char *what, pid_t r, pid_t want, int st)
{
	printf("%-28s ", what);
	if (r < 0)
		printf("-1 %s\n", strerror(errno));
	else if (r != want)
		printf("pid wrong\n");
	else if (r == 0)
		printf("0, nothing to report\n");
	else if (WIFEXITED(st))
		printf("exited %d\n", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("killed by %s\n", strsignal(WTERMSIG(st)));
	else if (WIFSTOPPED(st))
		printf("stopped by %s\n", strsignal(WSTOPSIG(st)));
	else if (WIFCONTINUED(st))
		printf("continued\n");
	else
		printf("status %#x\n", st);
}

/* A child that waits for a byte on the pipe, then exits with it. */
static pid_t child(int p[2])
{
	pid_t pid;

	CHECK(pipe(p) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		char c = 1;

		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(100);
		if (c == 'K')
			raise(SIGTERM);
		if (c == 'S') {
			raise(SIGSTOP);
			c = read(p[0], &c, 1) == 1 ? c : 101;
		}
		_exit(c);
	}
	close(p[0]);
	return pid;
}

static void tell(int p[2], char c)
{
	usleep(20 * 1000); /* so that the parent waits first */
	CHECK(write(p[1], &c, 1) == 1);
}

static atomic_long ticks;
static atomic_bool stop;

static void *ticker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		usleep(1000);
		atomic_fetch_add(&ticks, 1);
	}
	return NULL;
}

int main(void)
{
	struct rusage ru;
	siginfo_t si;
	pthread_t t;
	int p[2], st;
	pid_t pid, r;
	long before;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(pthread_create(&t, NULL, ticker, NULL) == 0);

	pid = child(p);
	before = atomic_load(&ticks);
	tell(p, 7);
	r = waitpid(pid, &st, 0);
	show("waitpid", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 'K');
	r = waitpid(pid, &st, 0);
	show("waitpid, a signal", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 'S');
	r = waitpid(pid, &st, WUNTRACED);
	show("waitpid WUNTRACED", r, pid, st);
	CHECK(kill(pid, SIGCONT) == 0);
	r = waitpid(pid, &st, WCONTINUED);
	show("waitpid WCONTINUED", r, pid, st);
	r = waitpid(pid, &st, WNOHANG);
	show("waitpid WNOHANG, running", r, 0, st);
	tell(p, 3);
	r = waitpid(pid, &st, 0);
	show("waitpid after it all", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 4);
	r = wait(&st);
	show("wait", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 5);
	r = wait3(&st, 0, NULL);
	show("wait3", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 6);
	r = wait4(pid, &st, 0, &ru);
	show("wait4 with a rusage", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 8);
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOWAIT) == 0);
	printf("%-28s pid %s, code %s, status %d\n", "waitid WNOWAIT",
	       si.si_pid == pid ? "right" : "wrong",
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status);
	memset(&si, 0, sizeof(si));
	CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0);
	printf("%-28s pid %s, code %s, status %d, signo %s\n", "waitid",
	       si.si_pid == pid ? "right" : "wrong",
	       si.si_code == CLD_EXITED ? "CLD_EXITED" : "other", si.si_status,
	       si.si_signo == SIGCHLD ? "SIGCHLD" : "other");
	close(p[1]);

	pid = child(p);
	tell(p, 10);
	r = waitpid(0, &st, 0);
	show("waitpid 0 (my group)", r, pid, st);
	close(p[1]);

	pid = child(p);
	tell(p, 11);
	r = waitpid(-getpgrp(), &st, 0);
	show("waitpid -pgid", r, pid, st);
	close(p[1]);

	r = waitpid(-1, &st, 0);
	show("waitpid with no child", r, -1, st);
	r = wait(&st);
	show("wait with no child", r, -1, st);

	atomic_store(&stop, true);
	CHECK(pthread_join(t, NULL) == 0);
	printf("the other thread went on: %s\n",
	       atomic_load(&ticks) > before ? "yes" : "no");
	return 0;
}

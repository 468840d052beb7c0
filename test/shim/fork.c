/* SPDX-License-Identifier: MIT */
/*
 * Children of a threaded program: fork then exec, vfork then exec,
 * system(), popen(), and a forked child that only writes to a pipe and
 * exits, while other threads go on blocking in the parent.  Output is
 * the same natively.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int never[2];

static void *blocked(void *arg)
{
	char c;

	CHECK(read(never[0], &c, 1) == 0); /* until the parent closes it */
	return NULL;
}

static int wait_status(pid_t pid)
{
	int st;

	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(void)
{
	char buf[64] = "";
	pthread_t t[4];
	pid_t pid;
	FILE *f;
	int p[2];

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(pipe(never) == 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, blocked, NULL);

	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "echo fork and exec; exit 3",
		      (char *)NULL);
		_exit(127);
	}
	printf("child exit %d\n", wait_status(pid));

	pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "echo vfork and exec",
		      (char *)NULL);
		_exit(127);
	}
	printf("child exit %d\n", wait_status(pid));

	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		CHECK(write(p[1], "from the child", 14) == 14);
		close(p[1]);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], buf, sizeof(buf) - 1) == 14);
	close(p[0]);
	printf("read '%s', child exit %d\n", buf, wait_status(pid));

	printf("system: %d\n", WEXITSTATUS(system("echo system; exit 4")));
	f = popen("echo popen | tr a-z A-Z", "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	printf("popen: %s", buf);
	printf("pclose: %d\n", pclose(f));

	close(never[1]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("done\n");
	return 0;
}

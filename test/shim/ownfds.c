/* SPDX-License-Identifier: MIT */
/*
 * A program's fds are its own: the numbers it gets are the native ones,
 * and what it does to the numbers it did not open (close them all, as a
 * daemon does; dup2 onto 3, as a shell's `exec 3<file` does) cannot take
 * the runtime's rings and eventfds from under it.  After each, threads
 * still block in reads of pipes and in sleeps, which need the rings.
 * Output is the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void *writer(void *arg)
{
	int fd = *(int *)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	CHECK(write(fd, "late", 4) == 4);
	return NULL;
}

/* A read that must wait for a thread that sleeps first: the rings work. */
static void still_works(const char *after)
{
	pthread_t t;
	char buf[8];
	int p[2];
	ssize_t r;

	CHECK(pipe(p) == 0);
	CHECK(pthread_create(&t, NULL, writer, &p[1]) == 0);
	r = read(p[0], buf, sizeof(buf));
	CHECK(pthread_join(t, NULL) == 0);
	printf("after %s: pipe %d %d, read %zd %.*s\n", after, p[0], p[1], r,
	       (int)(r > 0 ? r : 0), buf);
	close(p[0]);
	close(p[1]);
}

/* Close every fd from 3 to 1023 one by one; how many were open. */
static int close_all(void)
{
	int n = 0;

	for (int fd = 3; fd < 1024; fd++)
		n += close(fd) == 0;
	return n;
}

int main(void)
{
	int s, fd, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Whatever the test's runner left open is gone, natively too. */
	closefrom(3);

	/* The first fds a program makes are 3, 4... */
	s = socket(AF_INET, SOCK_STREAM, 0);
	fd = open("/dev/null", O_RDONLY);
	printf("first socket %d, first file %d\n", s, fd);
	close(s);
	close(fd);
	still_works("a thread and a pipe");

	/* ...onto which a shell's `exec 3<file 4<file...` dup2s. */
	fd = open("/dev/null", O_RDONLY);
	for (int to = 3; to < 20; to++)
		if (to != fd)
			CHECK(dup2(fd, to) == to);
	close(fd);
	printf("dup2 onto 3..19: done\n");
	still_works("dup2 onto 3..19");
	n = close_all();
	printf("closed one by one: %d open\n", n);
	still_works("closing every fd");

	for (int i = 0; i < 3; i++)
		CHECK(dup(0) >= 0);
	CHECK(close_range(3, ~0u, 0) == 0);
	printf("close_range: %d open after\n", close_all());
	still_works("close_range");

	for (int i = 0; i < 3; i++)
		CHECK(dup(0) >= 0);
	CHECK(syscall(SYS_close_range, 3, ~0u, 0) == 0);
	printf("syscall(close_range): %d open after\n", close_all());
	still_works("syscall(close_range)");

	for (int i = 0; i < 3; i++)
		CHECK(dup(0) >= 0);
	closefrom(3);
	printf("closefrom: %d open after\n", close_all());
	still_works("closefrom");

	/* Nothing else is open: a close of any other fd fails as natively. */
	for (int i = 0; i < 2; i++) {
		int bad = i ? 1000 : 500;

		errno = 0;
		n = close(bad);
		printf("close(%d): %d %s\n", bad, n, strerror(errno));
	}
	return 0;
}

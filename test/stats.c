/* SPDX-License-Identifier: MIT */
/*
 * Work for WEFT_STATS to count, ended each way a runtime ends; stats.sh
 * reads the tables.  usage: stats main|shutdown|exit|fork
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <weft.h>

#define ROUNDS 250 /* each a blocking read at both ends */
#define READERS 10 /* cancelled in their reads */

static int ab[2], ba[2], idle[2];

static intptr_t nothing(void *arg)
{
	return 0;
}

static intptr_t pinger(void *arg)
{
	char c = 'x';

	for (int i = 0; i < ROUNDS; i++)
		if (weft_write(ab[1], &c, 1) != 1 ||
		    weft_read(ba[0], &c, 1) != 1)
			return -EIO;
	return 0;
}

static intptr_t ponger(void *arg)
{
	char c;

	for (int i = 0; i < ROUNDS; i++)
		if (weft_read(ab[0], &c, 1) != 1 ||
		    weft_write(ba[1], &c, 1) != 1)
			return -EIO;
	return 0;
}

static intptr_t reader(void *arg)
{
	char c;

	return weft_read(idle[0], &c, 1);
}

/* 1000 threads, ROUNDS ping-pongs, READERS cancelled reads. */
static intptr_t work(void *arg)
{
	struct weft_group g;
	int r;

	if (pipe(ab) || pipe(ba) || pipe(idle))
		return -errno;
	weft_group(&g)
	{
		for (int i = 0; i < 1000; i++)
			weft_spawn(&g, nothing, NULL);
	}
	weft_group(&g)
	{
		weft_spawn(&g, pinger, NULL);
		weft_spawn(&g, ponger, NULL);
	}
	if ((r = weft_group_result(&g)) < 0)
		return r;
	weft_group(&g)
	{
		for (int i = 0; i < READERS; i++)
			weft_spawn(&g, reader, NULL);
		weft_sleep_until(weft_now() + 50000000);
		weft_group_cancel(&g);
	}
	return weft_group_result(&g);
}

/* From a plain thread: work() on a virtual thread. */
static int run_work(void)
{
	struct weft_thread *t;
	intptr_t v;
	int r = weft_thread_spawn(&t, work, NULL, NULL);

	if (r == 0)
		r = weft_thread_join(t, &v);
	return r < 0 ? r : (int)v;
}

static intptr_t forker(void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The child's runtime holds only this thread; add ten. */
		struct weft_group g;

		weft_group(&g)
		{
			for (int i = 0; i < 10; i++)
				weft_spawn(&g, nothing, NULL);
		}
		fflush(stdout);
		exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -ECHILD;
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	int r;

	if (!strcmp(mode, "main"))
		return weft_main(work, NULL) ? 1 : 0;
	if (!strcmp(mode, "fork"))
		return weft_main(forker, NULL) ? 1 : 0;
	if (!strcmp(mode, "shutdown") || !strcmp(mode, "exit")) {
		r = run_work();
		if (r < 0)
			return 1;
		if (!strcmp(mode, "exit"))
			exit(0); /* the runtime still runs */
		weft_shutdown();
		fprintf(stderr, "after weft_shutdown\n");
		return 0;
	}
	fprintf(stderr, "usage: stats main|shutdown|exit|fork\n");
	return 2;
}

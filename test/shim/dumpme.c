/* SPDX-License-Identifier: MIT */
/*
 * A blocking pthread program with threads parked in a read, a mutex and a
 * sleep, and main in a join, for thread dumps under the shim (dump.sh)
 * and gdb (test/gdb.sh).  It prints "ready FD" (FD: the read's) once they
 * block; with "stop" it then calls stop_here() and exits, else it waits
 * to be killed.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fds[2];
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;

static __attribute__((noinline)) void *reader_main(void *arg)
{
	char c;

	return read(fds[0], &c, 1) == 1 ? NULL : arg;
}

static __attribute__((noinline)) void *locker_main(void *arg)
{
	pthread_mutex_lock(&held);
	pthread_mutex_unlock(&held);
	return NULL;
}

static __attribute__((noinline)) void *sleeper_main(void *arg)
{
	sleep(60);
	return NULL;
}

/* gdb breaks here. */
__attribute__((noinline)) void stop_here(void)
{
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	void *(*fns[])(void *) = { reader_main, locker_main, sleeper_main };
	pthread_t ts[3];

	if (pipe(fds) || pthread_mutex_lock(&held))
		return 1;
	for (int i = 0; i < 3; i++)
		if (pthread_create(&ts[i], NULL, fns[i], NULL))
			return 1;
	usleep(200 * 1000);
	printf("ready %d\n", fds[0]);
	fflush(stdout);
	if (argc > 1 && !strcmp(argv[1], "stop")) {
		stop_here();
		_exit(0);
	}
	pthread_join(ts[0], NULL);
	return 0;
}

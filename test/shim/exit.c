/* SPDX-License-Identifier: MIT */
/*
 * How a program ends, with threads still blocked: main returns, a thread
 * calls exit(), main calls pthread_exit and the last thread ends.  The
 * exit status, atexit handlers (in reverse order) and destructors must
 * be as natively.  argv[1] names the way.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int never[2]; /* nobody writes: readers block until the end */

static void handler1(void)
{
	printf("atexit handler 1\n");
}

static void handler2(void)
{
	printf("atexit handler 2\n");
}

__attribute__((destructor)) static void destructor(void)
{
	printf("destructor\n");
}

static void *blocked(void *arg)
{
	char c;

	CHECK(read(never[0], &c, 1) < 0); /* never returns */
	return NULL;
}

static void *exiter(void *arg)
{
	struct timespec ts = { 0, 10 * 1000000 };

	nanosleep(&ts, NULL);
	printf("thread calls exit(5)\n");
	exit(5);
}

static void *last(void *arg)
{
	struct timespec ts = { 0, 50 * 1000000 };

	nanosleep(&ts, NULL);
	printf("last thread ends\n");
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(argc == 2);
	CHECK(pipe(never) == 0);
	atexit(handler1);
	atexit(handler2);
	if (strcmp(argv[1], "pthread-exit") != 0)
		for (int i = 0; i < 10; i++)
			pthread_create(&t, NULL, blocked, NULL);
	if (!strcmp(argv[1], "return")) {
		printf("main returns 3\n");
		return 3;
	}
	if (!strcmp(argv[1], "exit-thread")) {
		pthread_create(&t, NULL, exiter, NULL);
		pthread_join(t, NULL);
		printf("not reached\n");
		return 1;
	}
	if (!strcmp(argv[1], "pthread-exit")) {
		pthread_create(&t, NULL, last, NULL);
		printf("main calls pthread_exit\n");
		pthread_exit(NULL);
	}
	return 1;
}

/* SPDX-License-Identifier: MIT */
/*
 * Many threads blocked at once, in a condition wait, a pipe read and a
 * sleep: under the shim the process must still have no more than its
 * carriers and a few kernel threads (/proc/self/status).  The bound is
 * WEFT_CARRIERS + 4 when that is set (as weft-run --carriers sets it),
 * the thread count plus a few when it is not (natively).  Output is the
 * same either way; the count itself goes to stderr.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define PER_KIND 100

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int ready, go;
static int p[2];

static void arrive(void)
{
	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
}

static void *cond_waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_broadcast(&changed);
	while (!go)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *reader(void *arg)
{
	char c;

	arrive();
	CHECK(read(p[0], &c, 1) == 1);
	return NULL;
}

static void *sleeper(void *arg)
{
	arrive();
	usleep(300 * 1000);
	return NULL;
}

static int kernel_threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	CHECK(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Threads:", 8))
			n = atoi(line + 8);
	fclose(f);
	return n;
}

int main(void)
{
	void *(*kinds[])(void *) = { cond_waiter, reader, sleeper };
	pthread_t t[3 * PER_KIND];
	const char *carriers = getenv("WEFT_CARRIERS");
	int n, bound = carriers ? atoi(carriers) + 4 : 3 * PER_KIND + 5;
	char buf[PER_KIND];

	CHECK(pipe(p) == 0);
	for (int i = 0; i < 3 * PER_KIND; i++)
		CHECK(pthread_create(&t[i], NULL, kinds[i % 3], NULL) == 0);
	pthread_mutex_lock(&lock);
	while (ready < 3 * PER_KIND)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);
	n = kernel_threads();
	fprintf(stderr, "kernel threads: %d, bound %d\n", n, bound);
	printf("%d threads blocked, kernel threads within bound: %s\n",
	       3 * PER_KIND, n <= bound ? "yes" : "no");
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&changed);
	pthread_mutex_unlock(&lock);
	memset(buf, 'x', sizeof(buf));
	CHECK(write(p[1], buf, sizeof(buf)) == sizeof(buf));
	for (int i = 0; i < 3 * PER_KIND; i++)
		pthread_join(t[i], NULL);
	printf("all joined\n");
	return 0;
}

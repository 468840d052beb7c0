/* SPDX-License-Identifier: MIT */
/*
 * A plain blocking pthread program, no weft in it: N threads block in a
 * pipe read at once, and it prints how many kernel threads the process
 * had meanwhile (N + 1 natively, a few under the shim).
 * usage: blocking N
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static int ready, got;
static int p[2];

static void *reader(void *arg)
{
	char c;

	pthread_mutex_lock(&lock);
	ready++;
	pthread_cond_signal(&arrived);
	pthread_mutex_unlock(&lock);
	if (read(p[0], &c, 1) == 1) {
		pthread_mutex_lock(&lock);
		got++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static int kernel_threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Threads:", 8))
			n = atoi(line + 8);
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0, k;
	pthread_t *t = calloc(n > 0 ? n : 1, sizeof(*t));
	char *buf = malloc(n > 0 ? n : 1);

	if (n < 1 || !t || !buf || pipe(p))
		return 2;
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, reader, NULL))
			return 2;
	pthread_mutex_lock(&lock);
	while (ready < n)
		pthread_cond_wait(&arrived, &lock);
	pthread_mutex_unlock(&lock);
	usleep(100 * 1000); /* into their reads */
	k = kernel_threads();
	memset(buf, 'x', n);
	if (write(p[1], buf, n) != n)
		return 2;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("%d threads read %d bytes\n", n, got);
	printf("kernel threads while blocked: %d\n", k);
	return 0;
}

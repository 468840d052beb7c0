/* SPDX-License-Identifier: MIT */
/*
 * Every way to sleep, from many threads at once: each sleep must last at
 * least what was asked.  Output is the same natively.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define PER_KIND 40
#define MS 1000000LL

enum {
	USLEEP,
	NANOSLEEP,
	CLOCK_REL,
	CLOCK_ABS_MONO,
	CLOCK_ABS_REAL,
	POLL,
	NR_KINDS
};
static const char *names[] = { "usleep",
			       "nanosleep",
			       "clock_nanosleep",
			       "clock_nanosleep abs monotonic",
			       "clock_nanosleep abs realtime",
			       "poll" };

static int64_t now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ ns / 1000000000, ns % 1000000000 };
}

static void do_sleep(int kind, int64_t ns)
{
	struct timespec ts;

	switch (kind) {
	case USLEEP:
		CHECK(usleep(ns / 1000) == 0);
		break;
	case NANOSLEEP:
		ts = ts_of(ns);
		CHECK(nanosleep(&ts, NULL) == 0);
		break;
	case CLOCK_REL:
		ts = ts_of(ns);
		CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL) == 0);
		break;
	case CLOCK_ABS_MONO:
		ts = ts_of(now(CLOCK_MONOTONIC) + ns);
		CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				      NULL) == 0);
		break;
	case CLOCK_ABS_REAL:
		ts = ts_of(now(CLOCK_REALTIME) + ns);
		CHECK(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts,
				      NULL) == 0);
		break;
	case POLL:
		CHECK(poll(NULL, 0, ns / MS) == 0);
		break;
	}
}

static void *sleeper(void *arg)
{
	intptr_t i = (intptr_t)arg;
	int64_t want = (20 + i % 5 * 10) * MS, t0 = now(CLOCK_MONOTONIC);

	do_sleep(i / PER_KIND, want);
	return (void *)(intptr_t)(now(CLOCK_MONOTONIC) - t0 >= want);
}

int main(void)
{
	pthread_t t[NR_KINDS * PER_KIND];
	struct timespec bad = { 0, 1000000000 };
	int ok[NR_KINDS] = { 0 };
	int64_t t0;
	void *r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (intptr_t i = 0; i < NR_KINDS * PER_KIND; i++)
		CHECK(pthread_create(&t[i], NULL, sleeper, (void *)i) == 0);
	for (int i = 0; i < NR_KINDS * PER_KIND; i++) {
		pthread_join(t[i], &r);
		ok[i / PER_KIND] += (intptr_t)r;
	}
	for (int k = 0; k < NR_KINDS; k++)
		printf("%s: %d of %d slept long enough\n", names[k], ok[k],
		       PER_KIND);
	t0 = now(CLOCK_MONOTONIC);
	CHECK(sleep(1) == 0);
	printf("sleep(1): %s\n",
	       now(CLOCK_MONOTONIC) - t0 >= 1000 * MS ? "ok" : "short");
	errno = 0;
	CHECK(nanosleep(&bad, NULL) == -1 && errno == EINVAL);
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL) == EINVAL);
	printf("bad times: EINVAL\n");
	return 0;
}

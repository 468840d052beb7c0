/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the benchmarks: a clock, JSON figures, memory use.
 *
 * Every figure is one line on stdout,
 *   {"bench":"switch","metric":"weft_yield","value":12.3,"unit":"ns/switch"}
 * and one row of a human-readable table on stderr, so that
 * `grep '^{'` on stdout gives the machine-readable results.
 */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline int64_t b_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void b_emit(const char *bench, const char *metric, double value,
			  const char *unit)
{
	printf("{\"bench\":\"%s\",\"metric\":\"%s\",\"value\":%.6g,"
	       "\"unit\":\"%s\"}\n",
	       bench, metric, value, unit);
	fflush(stdout);
	fprintf(stderr, "%-10s %-24s %14.2f %s\n", bench, metric, value, unit);
}

/* An unsigned count from the environment, for quick runs; dflt if unset. */
static inline long b_env(const char *name, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return dflt;
	v = strtol(s, &end, 10);
	if (*end || v <= 0) {
		fprintf(stderr, "bench: ignoring %s=%s\n", name, s);
		return dflt;
	}
	return v;
}

/* A line "Key:   1234 kB" of /proc/self/status, in bytes; -1 if missing. */
static inline long long b_status_bytes(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	size_t n = strlen(key);
	long long kib = -1;
	char line[256];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			kib = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kib < 0 ? -1 : kib * 1024;
}

/* Resident set now, and its peak over the life of the process. */
static inline long long b_rss(void)
{
	return b_status_bytes("VmRSS");
}

static inline long long b_peak_rss(void)
{
	return b_status_bytes("VmHWM");
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Fault injection (-Dfault_injection=true): every injection point counts
 * its calls, and the calls WEFT_FAULT names fail.  A sweep first runs a
 * scenario with WEFT_FAULT_COUNT to learn how often each site is reached,
 * then fails the Nth call of each site for each N (test/fault/).
 *
 * The counters are process-wide: "the Nth call" is the Nth in the process,
 * from any carrier or thread.  A fork child inherits the counts and goes
 * on counting; only the process that loaded the library writes the file.
 * Files are written with raw system calls: under the shim, write() may be
 * a ring operation of a runtime that is going away.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define MAX_SPECS 8

static const char *const names[] = {
#define X(name, kind, what) #name,
	WEFT_FAULT_SITES
#undef X
};

static const char *const kinds[] = {
#define X(name, kind, what) #kind,
	WEFT_FAULT_SITES
#undef X
};

struct spec {
	int site;
	unsigned long n; /* the first call to fail, from 1 */
	bool every;	 /* and every call after it */
};

static atomic_ulong counts[WEFT_FAULT_NR], fired[WEFT_FAULT_NR];
static struct spec specs[MAX_SPECS];
static int nr_specs;
static atomic_int parsed; /* 0: not yet, 1: being parsed, 2: done */
static pid_t loader;

static int site_of(const char *s, size_t len)
{
	for (int i = 0; i < WEFT_FAULT_NR; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], s, len))
			return i;
	return -1;
}

/* "site:N[+]" at s, up to a comma or the end; false if it is not that. */
static bool parse_one(const char *s, struct spec *ret)
{
	const char *colon = strchr(s, ':'), *p;
	unsigned long n = 0;

	if (!colon || (ret->site = site_of(s, colon - s)) < 0)
		return false;
	for (p = colon + 1; *p >= '0' && *p <= '9'; p++) {
		if (n > (~0ul - 9) / 10)
			return false;
		n = 10 * n + (*p - '0');
	}
	if (p == colon + 1 || n == 0)
		return false;
	ret->n = n;
	ret->every = *p == '+';
	p += ret->every;
	return *p == '\0' || *p == ',';
}

static void parse(void)
{
	const char *s = getenv("WEFT_FAULT"), *p;
	int n = 0;

	if (!s || !*s)
		return;
	for (p = s; n < MAX_SPECS; p++) {
		if (!parse_one(p, &specs[n]))
			break;
		n++;
		p = strchr(p, ',');
		if (!p) {
			nr_specs = n;
			return;
		}
	}
	weft__msg("WEFT_FAULT=\"%.64s\" is not site:N[+],... (at most %d); "
		  "no faults are injected",
		  s, MAX_SPECS);
}

static void ensure_parsed(void)
{
	int expect = 0;

	if (likely(atomic_load_explicit(&parsed, memory_order_acquire) == 2))
		return;
	if (atomic_compare_exchange_strong(&parsed, &expect, 1)) {
		parse();
		atomic_store_explicit(&parsed, 2, memory_order_release);
		return;
	}
	while (atomic_load_explicit(&parsed, memory_order_acquire) != 2)
		weft__cpu_relax();
}

bool weft__fault(enum weft__fault_site site)
{
	unsigned long n;

	ensure_parsed();
	n = atomic_fetch_add_explicit(&counts[site], 1, memory_order_relaxed) +
	    1;
	for (int i = 0; i < nr_specs; i++) {
		if (specs[i].site != (int)site)
			continue;
		if (n == specs[i].n || (specs[i].every && n > specs[i].n)) {
			atomic_fetch_add_explicit(&fired[site], 1,
						  memory_order_relaxed);
			return true;
		}
	}
	return false;
}

void weft__fault_arm(int site, unsigned long after, bool every)
{
	ensure_parsed();
	nr_specs = 0;
	if (site < 0 || site >= WEFT_FAULT_NR)
		return;
	specs[0] = (struct spec){ site, atomic_load(&counts[site]) + after + 1,
				  every };
	nr_specs = 1;
}

__attribute__((constructor)) static void note_loader(void)
{
	loader = getpid();
}

__attribute__((destructor)) static void write_counts(void)
{
	const char *path = getenv("WEFT_FAULT_COUNT");
	char line[96];
	long fd;

	if (!path || !*path || getpid() != loader)
		return;
	fd = syscall(SYS_openat, AT_FDCWD, path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		weft__msg("WEFT_FAULT_COUNT=\"%.64s\" cannot be written", path);
		return;
	}
	for (int i = 0; i < WEFT_FAULT_NR; i++) {
		int len = snprintf(line, sizeof(line), "%s %lu %s %lu\n",
				   names[i], atomic_load(&counts[i]), kinds[i],
				   atomic_load(&fired[i]));

		syscall(SYS_write, fd, line, len);
	}
	syscall(SYS_close, fd);
}

/* SPDX-License-Identifier: MIT */
/* weft-run: run a program with the shim preloaded, on virtual threads. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRELOAD_NAME "libweft-preload.so"
#define MAX_CARRIERS 1024

static const char usage[] =
	"usage: weft-run [--carriers N] [--stats] [--] program [args...]\n"
	"Run program with its main and its pthreads as weft virtual threads\n"
	"and their blocking calls on io_uring.\n"
	"\n"
	"  --carriers N  kernel threads that run the virtual threads\n"
	"                (1 to 1024; default: one per online CPU)\n"
	"  --stats       print the runtime's statistics on stderr at exit\n"
	"                (WEFT_STATS=1)\n"
	"  --help        print this and exit\n";

static __attribute__((noreturn)) void fail(const char *fmt, const char *arg)
{
	fputs("weft-run: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (weft-run --help)\n", stderr);
	exit(2);
}

/*
 * The library beside this executable (the build directory), else the
 * one installed in WEFT_PRELOAD_INSTALLED.  NULL if neither exists.
 */
static char *preload_path(void)
{
	static char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	char *slash;

	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash && (size_t)(slash + 1 - buf) + sizeof(PRELOAD_NAME) <=
				     sizeof(buf)) {
			strcpy(slash + 1, PRELOAD_NAME);
			if (access(buf, R_OK) == 0)
				return buf;
		}
	}
	if (access(WEFT_PRELOAD_INSTALLED, R_OK) == 0)
		return WEFT_PRELOAD_INSTALLED;
	return NULL;
}

/* Put lib in front of any LD_PRELOAD already set. */
static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;

	if (!old || !*old) {
		setenv("LD_PRELOAD", lib, 1);
		return;
	}
	v = malloc(strlen(lib) + strlen(old) + 2);
	if (!v) {
		perror("weft-run");
		exit(2);
	}
	sprintf(v, "%s:%s", lib, old);
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

static void set_carriers(const char *s)
{
	char *end;
	long n;

	if (!s)
		fail("--carriers needs a number%s", "");
	errno = 0;
	n = strtol(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || n < 1 || n > MAX_CARRIERS)
		fail("--carriers '%s' is not a number from 1 to 1024", s);
	setenv("WEFT_CARRIERS", s, 1);
}

int main(int argc, char **argv)
{
	const char *lib;
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (!strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--stats"))
			setenv("WEFT_STATS", "1", 1);
		else if (!strcmp(argv[i], "--carriers"))
			set_carriers(argv[++i]);
		else if (!strncmp(argv[i], "--carriers=", 11))
			set_carriers(argv[i] + 11);
		else
			fail("unknown option '%s'", argv[i]);
	}
	if (i >= argc)
		fail("no program to run%s", "");
	lib = preload_path();
	if (!lib) {
		fputs("weft-run: cannot find " PRELOAD_NAME "\n", stderr);
		return 2;
	}
	set_preload(lib);
	execvp(argv[i], argv + i);
	fprintf(stderr, "weft-run: cannot run '%s': %s\n", argv[i],
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

/* SPDX-License-Identifier: MIT */
/* weft-run: run a program with the shim preloaded, on virtual threads. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
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

/* Set buf to the path in fmt if that file is readable. */
static bool found(char *buf, const char *fmt, const char *dir, const char *sub)
{
	int n = snprintf(buf, PATH_MAX, fmt, dir, sub);

	return n > 0 && n < PATH_MAX && access(buf, R_OK) == 0;
}

/*
 * Where the library is, first found of: beside this executable (the build
 * tree); in the libdir of the tree this executable is installed in,
 * wherever that tree has been moved (a DESTDIR, a copied prefix): the
 * executable's directory ends in WEFT_BINDIR, and the library is in
 * WEFT_LIBDIR of the same prefix; at WEFT_PRELOAD_INSTALLED, where it was
 * installed.  /proc/self/exe has symlinks resolved.  NULL if none is.
 */
static const char *preload_path(void)
{
	static char buf[PATH_MAX];
	char dir[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	size_t len, bin = strlen(WEFT_BINDIR);

	if (n > 0) {
		dir[n] = '\0';
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (found(buf, "%s/%s", dir, PRELOAD_NAME))
			return buf;
		len = strlen(dir);
		if (bin && len > bin && dir[len - bin - 1] == '/' &&
		    !strcmp(dir + len - bin, WEFT_BINDIR)) {
			dir[len - bin - 1] = '\0'; /* the prefix */
			if (found(buf, "%s/%s/" PRELOAD_NAME, dir, WEFT_LIBDIR))
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
		fputs("weft-run: cannot find " PRELOAD_NAME " beside weft-run, "
		      "in its tree, or at " WEFT_PRELOAD_INSTALLED "\n",
		      stderr);
		return 2;
	}
	/* ld.so splits LD_PRELOAD at spaces and colons. */
	if (strpbrk(lib, " :")) {
		fprintf(stderr,
			"weft-run: LD_PRELOAD cannot hold '%s': "
			"it has a space or a colon\n",
			lib);
		return 2;
	}
	set_preload(lib);
	execvp(argv[i], argv + i);
	fprintf(stderr, "weft-run: cannot run '%s': %s\n", argv[i],
		strerror(errno));
	return errno == ENOENT ? 127 : 126;
}

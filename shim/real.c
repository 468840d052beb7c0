/* SPDX-License-Identifier: MIT */
/*
 * The RTLD_NEXT table: every real function the shim may pass a call to,
 * looked up once, when the library loads or when the first interposed
 * call made before that needs one.  dlsym may call back into libc, and
 * libc into the shim: a lookup that re-enters itself on the same thread
 * cannot be answered, so it says so and aborts instead of recursing.
 */
#include "shim.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct weft_real weft__real;

static __thread bool loading __attribute__((tls_model("initial-exec")));

/* No stdio, no interposed call: this may run before anything works. */
static void die(const char *what)
{
	static const char pre[] = "weft: cannot find the real ";

	weft__sys(SYS_write, 2, (long)pre, sizeof(pre) - 1, 0, 0, 0);
	weft__sys(SYS_write, 2, (long)what, (long)strlen(what), 0, 0, 0);
	weft__sys(SYS_write, 2, (long)"\n", 1, 0, 0, 0);
	abort();
}

static void *find(const char *name, const char *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (!p && fallback)
		p = dlsym(RTLD_NEXT, fallback);
	if (!p)
		die(name);
	return p;
}

/* Older glibc has only the plain name of these. */
static const char *fallback_of(const char *name)
{
	static const char *const pairs[][2] = {
		{ "fcntl64", "fcntl" },	    { "open64", "open" },
		{ "openat64", "openat" },   { "pread64", "pread" },
		{ "pwrite64", "pwrite" },   { "preadv64", "preadv" },
		{ "pwritev64", "pwritev" }, { "sendfile64", "sendfile" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (!strcmp(name, pairs[i][0]))
			return pairs[i][1];
	return NULL;
}

/* The table's entries are pointers written whole: racing loaders agree. */
void weft__real_load(void)
{
	if (loading)
		die("function while looking functions up");
	loading = true;
#define X(name, ret, params)                        \
	__atomic_store_n((void **)&weft__real.name, \
			 find(#name, fallback_of(#name)), __ATOMIC_RELAXED);
	WEFT_REAL_FUNCTIONS
#undef X
	loading = false;
}

__attribute__((constructor(101))) static void load_at_start(void)
{
	if (!weft__real.poll)
		weft__real_load();
}

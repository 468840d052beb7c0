/* SPDX-License-Identifier: MIT */
/*
 * Thread-local storage of its own for every virtual thread (lib/tls.c),
 * when the program needs it: once a module other than libc and the shim
 * has TLS (Rust's std, C++'s runtime, the program's own __thread, a
 * dlopened libjvm.so), or WEFT_TLS=thread says so; WEFT_TLS=carrier keeps all
 * TLS the carrier's, as it is for plain C programs, which then cost no
 * memory for it.
 *
 * With it, a thread's thread_local destructors are its own: they run
 * when it ends (glibc's __call_tls_dtors, as glibc's start_thread runs
 * them) or calls exit() (which runs them itself), and a thread's
 * uselocale() ends with it.  main starts with what the program's
 * constructors left in the main program's TLS, as natively.
 */
#include "pt.h"

#include <dlfcn.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *main_values;
static void (*call_tls_dtors)(void);

/* shim_main: before the runtime starts. */
void weft__tls_setup(void)
{
	const char *v = getenv("WEFT_TLS");
	bool always = false;
	size_t size;
	int r;
	void *b;

	if (v && *v && strcmp(v, "auto")) {
		if (!strcmp(v, "carrier"))
			return;
		if (strcmp(v, "thread"))
			fprintf(stderr,
				"weft: WEFT_TLS must be auto, thread "
				"or carrier, not '%s'\n",
				v);
		else
			always = true;
	}
	r = weft__impl_tls_private(always);
	if (r < 0 && r != -ENOENT)
		return;
	call_tls_dtors =
		(void (*)(void))dlsym(RTLD_DEFAULT, "__call_tls_dtors");
	b = weft__impl_tls_block(&size); /* NULL unless on now */
	main_values = b ? malloc(size) : NULL;
	if (main_values)
		memcpy(main_values, b, size);
}

/* run_main, first thing: main's thread takes those values. */
void weft__tls_main(void)
{
	size_t size;
	void *b = weft__impl_tls_block(&size);

	if (b && main_values)
		memcpy(b, main_values, size);
	free(main_values);
	main_values = NULL;
}

/* The thread ends (not by SYS_exit): as a kernel thread's end does. */
void weft__tls_end(void)
{
	if (!weft__impl_tls_own())
		return;
	if (call_tls_dtors)
		call_tls_dtors();
	uselocale(LC_GLOBAL_LOCALE); /* the block is reused */
}

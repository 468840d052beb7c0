/* SPDX-License-Identifier: MIT */
/*
 * The start and the end: the program's main runs as a virtual thread.
 *
 * __libc_start_main is handed the program's main; the shim hands it its
 * own instead, which starts the runtime with weft_main(), the main kernel
 * thread becoming carrier 0.  The root thread weft_main runs only starts
 * "main" as a pthread-like virtual thread with glibc's main-thread stack
 * size (weft_main has no stack size of its own), and ends.  When main
 * returns, its thread calls exit() itself, exactly where glibc would:
 * atexit handlers and destructors run on that virtual thread, while the
 * other threads go on running as native threads do, until _exit ends them
 * all.  If main calls pthread_exit instead, the runtime runs until the
 * last thread has ended, weft_main returns, and the process exits with 0,
 * as natively.  If the runtime cannot start, the program runs natively.
 */
#include "pt.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

#define MAIN_STACK_DEFAULT (8 << 20)

struct start {
	main_fn *main;
	int argc;
	char **argv;
	char **envp;
	struct weft__pthread *pt;
	bool started;
};

static struct start start;

static void *run_main(void *arg)
{
	weft__tls_main();
	weft__signal_main(start.pt);
	exit(start.main(start.argc, start.argv, start.envp));
}

/* As large as a native main's: RLIMIT_STACK, committed lazily. */
static size_t main_stack(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_STACK, &rl) || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur < MAIN_STACK_DEFAULT)
		return MAIN_STACK_DEFAULT;
	return rl.rlim_cur;
}

/* If main cannot have its thread (no stack), shim_main runs it natively. */
static intptr_t root(void *arg)
{
	struct weft__pthread *pt;

	/* At home on carrier 0, as root: the process's signals come there. */
	if (weft__pt_start(start.pt, main_stack(), false, true) < 0)
		return -1;
	start.started = true;
	/* It ends as a thread does: its keys' values, its TLS's. */
	pt = *weft__impl_slot();
	weft__tls_end();
	if (pt) {
		weft__keys_exit(pt);
		*weft__impl_slot() = NULL;
		weft__pt_free(pt);
	}
	return 0;
}

/*
 * The runtime stopped on this thread, its carrier 0: the kernel tears the
 * thread's io_uring down in the background and then runs a task work on
 * the thread, which ends a socket wait with a timeout in EINTR where any
 * other wait restarts unseen.  It comes once the ring's references are
 * gone, some milliseconds after the close.  Let it land in a wait of
 * ours, a receive with a timeout on a socket pair of our own, which it
 * ends with EINTR (half a second at most), so that the program's first
 * calls see nothing of it.  Only on the way to running natively.
 */
static void settle(void)
{
	struct timeval tv = { 0, 10000 };
	int s[2], saved = errno;
	char c;

	if (REAL(socketpair)(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
		return;
	if (REAL(setsockopt)(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ==
	    0)
		for (int i = 0; i < 50; i++)
			if (REAL(recv)(s[0], &c, 1, 0) < 0 && errno == EINTR)
				break;
	REAL(close)(s[0]);
	REAL(close)(s[1]);
	errno = saved;
}

static int shim_main(int argc, char **argv, char **envp)
{
	intptr_t r;

	start.argc = argc;
	start.argv = argv;
	start.envp = envp;
	start.pt = weft__pt_new(run_main, NULL);
	if (start.pt && weft__keys_inherit(start.pt)) {
		weft__robust_start();
		pthread_atfork(NULL, NULL, weft__robust_start);
		weft__tls_setup();
		weft__impl_masks_own();
		r = weft__impl_main(root, NULL);
		if (start.started)
			return (int)r;
		settle();
	}
	if (start.pt) {
		weft__keys_drop(start.pt);
		free(start.pt);
	}
	fputs("weft: cannot start the runtime; running natively\n", stderr);
	return start.main(argc, argv, envp);
}

WEFT_EXPORT int __libc_start_main(main_fn *main, int argc, char **argv,
				  void (*init)(void), void (*fini)(void),
				  void (*rtld_fini)(void), void *stack_end)
{
	start.main = main;
	return REAL(__libc_start_main)(shim_main, argc, argv, init, fini,
				       rtld_fini, stack_end);
}

/* SPDX-License-Identifier: MIT */
/*
 * Shutdown leaves nothing behind: kernel threads, fds (rings, eventfds),
 * mappings.  Memory is checked by LeakSanitizer in the sanitizer build
 * and by valgrind in .ci/run.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "helpers.h"
#include "config.h"

TestSuite(shutdown, .timeout = 120);

static intptr_t leaf(void *arg)
{
	weft_sleep_until(weft_now() + T_MS);
	return 0;
}

/* Threads, a pipe through the ring, a timer: every kind of resource. */
static intptr_t work(void *arg)
{
	struct weft_thread *t[100];
	int p[2];
	char c;

	if (pipe(p) < 0)
		return -1;
	for (int i = 0; i < 100; i++)
		weft_thread_spawn(&t[i], leaf, NULL, NULL);
	weft_write(p[1], "x", 1);
	weft_read(p[0], &c, 1);
	for (int i = 0; i < 100; i++)
		weft_thread_join(t[i], NULL);
	close(p[0]);
	close(p[1]);
	return 0;
}

Test(shutdown, weft_main_leaves_nothing_behind)
{
	int threads = t_kernel_threads(), fds = t_open_fds();
	int maps;

	weft_main(work, NULL); /* the first run may map libraries lazily */
	maps = t_mappings();
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(weft_main(work, NULL), 0);
		cr_assert_eq(t_kernel_threads_back_to(threads), threads);
		cr_assert_eq(t_open_fds(), fds);
	}
	/*
	 * valgrind maps and unmaps memory of its own as it goes, and so do
	 * ThreadSanitizer and AddressSanitizer's allocator, whose quarantine
	 * grows its regions from run to run.
	 */
	if (!getenv("WEFT_UNDER_VALGRIND") && !WEFT_ASAN && !WEFT_TSAN)
		cr_assert_eq(t_mappings(), maps);
}

Test(shutdown, lazy_start_and_shutdown_leave_nothing_behind)
{
	int threads = t_kernel_threads(), fds = t_open_fds();

	for (int i = 0; i < 20; i++) {
		cr_assert_eq(t_run(work, NULL), 0);
		cr_assert_gt(t_kernel_threads(), threads);
		cr_assert_eq(weft_shutdown(), 0);
		cr_assert_eq(t_kernel_threads_back_to(threads), threads);
		cr_assert_eq(t_open_fds(), fds);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * Virtual threads parked in a read, a sleep and a mutex when stop_here()
 * is called, for the gdb extension's test (gdb.sh).  On one carrier the
 * ids are fixed: main 1, reader 2, sleeper 3, locker 4.
 */
#include <stdlib.h>
#include <unistd.h>
#include <weft.h>

static int fds[2];
static struct weft_mutex held;

static __attribute__((noinline)) intptr_t blocked_reader(void *arg)
{
	char c;

	return weft_read(fds[0], &c, 1);
}

static __attribute__((noinline)) intptr_t sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60000000000LL);
}

static __attribute__((noinline)) intptr_t locker(void *arg)
{
	int r = weft_mutex_lock(&held);

	if (r == 0)
		weft_mutex_unlock(&held);
	return r;
}

/* gdb breaks here. */
__attribute__((noinline)) void stop_here(void)
{
	__asm__ volatile("" ::: "memory");
}

static intptr_t body(void *arg)
{
	static const char *const names[] = { "reader", "sleeper", "locker" };
	intptr_t (*const fns[])(void *) = { blocked_reader, sleeper, locker };
	struct weft_thread *ts[3];

	if (pipe(fds))
		return -1;
	weft_mutex_lock(&held);
	for (int i = 0; i < 3; i++) {
		struct weft_spawn_attr a = { .name = names[i] };

		if (weft_thread_spawn(&ts[i], fns[i], NULL, &a) < 0)
			return -1;
	}
	weft_sleep_until(weft_now() + 50000000); /* they all park */
	stop_here();
	_exit(0);
}

int main(void)
{
	setenv("WEFT_CARRIERS", "1", 1);
	return (int)weft_main(body, NULL);
}

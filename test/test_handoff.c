/* SPDX-License-Identifier: MIT */
/*
 * Data handed from one thread to another through a pipe or a socket, one
 * side a virtual thread, the other plain: the bytes arrive, and under
 * ThreadSanitizer the fd orders the writer's stores before the reader's
 * loads, as it does for read(2) and write(2) (io.c tells TSan what the
 * ring did), so that no race is reported where natively there is none.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(handoff, .timeout = 60);

#define ROUNDS 200

/* Written plainly before each byte is sent, read after it arrives. */
static int shared[ROUNDS];
static int fds[2];

static intptr_t virtual_reader(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		char c;

		if (weft_read(fds[0], &c, 1) != 1 || c != (char)i ||
		    shared[i] != i + 1)
			return -EIO;
	}
	return 0;
}

static intptr_t virtual_writer(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		char c = (char)i;

		shared[i] = i + 1;
		if (weft_write(fds[1], &c, 1) != 1)
			return -EIO;
		if (i % 16 == 0)
			weft_sleep_until(weft_now() + T_MS); /* let it wait */
	}
	return 0;
}

static void *plain_reader(void *arg)
{
	for (int i = 0; i < ROUNDS; i++) {
		char c;

		if (read(fds[0], &c, 1) != 1 || c != (char)i ||
		    shared[i] != i + 1)
			return (void *)-1;
	}
	return NULL;
}

static void plain_to_virtual(void)
{
	struct weft_thread *t;
	intptr_t v = -1;

	memset(shared, 0, sizeof(shared));
	cr_assert_eq(weft_thread_spawn(&t, virtual_reader, NULL, NULL), 0);
	for (int i = 0; i < ROUNDS; i++) {
		char c = (char)i;

		shared[i] = i + 1;
		cr_assert_eq(write(fds[1], &c, 1), 1);
		if (i % 16 == 0)
			usleep(1000); /* the reader parks on the ring */
	}
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 0);
}

static void virtual_to_plain(void)
{
	struct weft_thread *t;
	pthread_t p;
	void *pv = (void *)-1;
	intptr_t v = -1;

	memset(shared, 0, sizeof(shared));
	cr_assert_eq(pthread_create(&p, NULL, plain_reader, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&t, virtual_writer, NULL, NULL), 0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(pthread_join(p, &pv), 0);
	cr_assert_null(pv);
}

Test(handoff, through_a_pipe)
{
	cr_assert_eq(pipe(fds), 0);
	plain_to_virtual();
	virtual_to_plain();
	close(fds[0]);
	close(fds[1]);
	cr_assert_eq(weft_shutdown(), 0);
}

Test(handoff, through_a_socket)
{
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	plain_to_virtual();
	virtual_to_plain();
	close(fds[0]);
	close(fds[1]);
	cr_assert_eq(weft_shutdown(), 0);
}

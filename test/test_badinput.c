/* SPDX-License-Identifier: MIT */
/*
 * Bad input: every public function of weft.h with invalid arguments
 * (NULL, stale and never-opened handles, negative sizes, bad fds,
 * out-of-range deadlines, double joins and releases, a non-owner's join,
 * misnested scopes, handles used in a fork child) returns the documented
 * error; every WEFT_* variable with garbage gets one line naming it.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "lib/runtime.h"

TestSuite(badinput, .timeout = 120);

static int never[2]; /* nobody writes: reads block until it is closed */

static intptr_t blocked(void *arg)
{
	char c;

	return weft_read(never[0], &c, 1);
}

static intptr_t value(void *arg)
{
	return (intptr_t)arg;
}

/* Run fn on a virtual thread and on this plain thread: the same value. */
static void both(intptr_t (*fn)(void *), void *arg)
{
	cr_assert_eq(t_run(fn, arg), 0, "on a virtual thread");
	cr_assert_eq(fn(arg), 0, "on a plain thread");
}

/* ---- threads ---- */

static intptr_t thread_args(void *arg)
{
	struct weft_thread *t;
	struct weft_spawn_attr a = { 0 };

	cr_assert_eq(weft_thread_spawn(NULL, value, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_thread_spawn(&t, NULL, NULL, NULL), -EINVAL);
	a.flags = 0x80;
	cr_assert_eq(weft_thread_spawn(&t, value, NULL, &a), -EINVAL);
	a = (struct weft_spawn_attr){ .stack_size = 1000 };
	cr_assert_eq(weft_thread_spawn(&t, value, NULL, &a), -EINVAL);
	a.stack_size = (size_t)1 << 41;
	cr_assert_eq(weft_thread_spawn(&t, value, NULL, &a), -EINVAL);
	a = (struct weft_spawn_attr){ .flags = WEFT_SPAWN_DETACHED };
	cr_assert_eq(weft_thread_spawn(NULL, value, NULL, &a), 0);

	cr_assert_eq(weft_thread_join(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_thread_detach(NULL), -EINVAL);
	cr_assert_eq(weft_thread_interrupt(NULL), -EINVAL);
	cr_assert_eq(weft_thread_id(NULL), 0);
	return 0;
}

Test(badinput, spawn_arguments)
{
	both(thread_args, NULL);
}

static intptr_t join_self(void *arg)
{
	return weft_thread_join(weft_thread_self(), NULL);
}

static intptr_t join_it(void *arg)
{
	return weft_thread_join(arg, NULL);
}

/* Joined, or ended detached: the handle is stale, and says so. */
static intptr_t stale_handles(void *arg)
{
	struct weft_thread *t, *u;
	intptr_t v = 0;

	cr_assert_eq(weft_thread_spawn(&t, value, (void *)5, NULL), 0);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_assert_eq(v, 5);
	cr_assert_eq(weft_thread_join(t, &v), -EINVAL, "a second join");
	cr_assert_eq(weft_thread_detach(t), -EINVAL);
	cr_assert_eq(weft_thread_interrupt(t), -EINVAL);
	cr_assert_eq(weft_thread_id(t), 0);

	cr_assert_eq(weft_thread_spawn(&u, value, NULL, NULL), 0);
	cr_assert_eq(weft_thread_detach(u), 0);
	while (t_live() > (weft_thread_self() ? 1u : 0u))
		weft_yield(); /* (on a plain thread: sched_yield) */
	cr_assert_eq(weft_thread_join(u, NULL), -EINVAL, "detached, ended");
	cr_assert_eq(weft_thread_detach(u), -EINVAL, "detached twice");
	return 0;
}

Test(badinput, stale_thread_handles)
{
	cr_assert_eq(stale_handles(NULL), 0); /* from a plain thread */
	cr_assert_eq(weft_shutdown(), 0);
}

Test(badinput, join_of_self_and_of_a_detached_thread)
{
	struct weft_thread *t, *j;
	intptr_t v = 0;

	cr_assert_eq(t_run(join_self, NULL), -EDEADLK);
	cr_assert_eq(pipe(never), 0);
	cr_assert_eq(weft_thread_spawn(&t, blocked, NULL, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&j, join_it, t, NULL), 0);
	weft_sleep_until(weft_now() + 10 * T_MS);
	cr_assert_eq(weft_thread_join(t, NULL), -EINVAL, "joined by another");
	cr_assert_eq(weft_thread_detach(t), -EINVAL, "being joined");
	close(never[1]);
	cr_assert_eq(weft_thread_join(j, &v), 0);
	cr_assert_eq(v, 0, "the first joiner joined it");
	close(never[0]);

	cr_assert_eq(pipe(never), 0);
	cr_assert_eq(weft_thread_spawn(&t, blocked, NULL, NULL), 0);
	cr_assert_eq(weft_thread_detach(t), 0);
	cr_assert_eq(weft_thread_detach(t), -EINVAL, "detached twice");
	cr_assert_eq(weft_thread_join(t, NULL), -EINVAL, "detached");
	close(never[1]);
	/* The detached reader may still be in weft_read: it ends first. */
	cr_assert_eq(weft_shutdown(), 0);
	close(never[0]);
}

Test(badinput, stale_handles_on_a_virtual_thread)
{
	cr_assert_eq(t_run(stale_handles, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- time and deadlines ---- */

static intptr_t deadlines(void *arg)
{
	struct weft_cancel_scope s;

	cr_assert_eq(weft_sleep_until(-1), -EINVAL);
	cr_assert_eq(weft_sleep_until(INT64_MIN), -EINVAL);
	cr_assert_eq(weft_sleep_until(0), 0, "a deadline long past");
	cr_assert_eq(weft_cancel_scope_enter(&s, weft_now() + T_MS, 0), 0);
	cr_assert_eq(weft_sleep_until(INT64_MAX), -ETIMEDOUT);
	cr_assert_eq(weft_cancel_scope_leave(&s), 0);
	cr_assert_eq(weft_cancel_scope_enter(&s, INT64_MAX, 1), 0);
	cr_assert_eq(weft_deadline(), INT64_MAX);
	cr_assert_eq(weft_sleep_until(weft_now() + T_MS), 0);
	cr_assert_eq(weft_cancel_scope_leave(&s), 0);
	return 0;
}

Test(badinput, out_of_range_deadlines)
{
	both(deadlines, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- I/O: the system call's own errno, virtual thread or not ---- */

static intptr_t io_args(void *arg)
{
	struct iovec iov[2] = { { NULL, 0 }, { NULL, 0 } };
	struct msghdr big = { 0 };
	char buf[8];
	int p[2], s[2], fd;

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
	cr_assert_eq(weft_read(-1, buf, 1), -EBADF);
	cr_assert_eq(weft_read(100000, buf, 1), -EBADF);
	cr_assert_eq(weft_write(-1, buf, 1), -EBADF);
	cr_assert_eq(weft_write(p[0], buf, 1), -EBADF, "the read end");
	cr_assert_eq(weft_write(p[1], "xy", 2), 2);
	cr_assert_eq(weft_read(p[0], NULL, 1), -EFAULT);
	cr_assert_eq(weft_write(p[1], NULL, 1), -EFAULT);
	cr_assert_eq(weft_readv(p[0], iov, -1), -EINVAL);
	cr_assert_eq(weft_readv(p[0], iov, IOV_MAX + 1), -EINVAL);
	cr_assert_eq(weft_writev(p[1], iov, -1), -EINVAL);
	cr_assert_eq(weft_writev(p[1], iov, IOV_MAX + 1), -EINVAL);
	cr_assert_eq(weft_pread(p[0], buf, 1, -1), -EINVAL);
	cr_assert_eq(weft_pwrite(p[1], buf, 1, -1), -EINVAL);
	cr_assert_eq(weft_pread(p[0], buf, 1, 0), -ESPIPE);
	cr_assert_eq(weft_read(p[0], buf, sizeof(buf)), 2, "nothing lost");

	cr_assert_eq(weft_recv(p[0], buf, 1, 0), -ENOTSOCK);
	cr_assert_eq(weft_send(p[1], buf, 1, 0), -ENOTSOCK);
	cr_assert_eq(weft_recvmsg(s[0], NULL, 0), -EFAULT);
	cr_assert_eq(weft_sendmsg(s[0], NULL, 0), -EFAULT);
	big.msg_iov = iov;
	big.msg_iovlen = (size_t)IOV_MAX + 1;
	cr_assert_eq(weft_sendmsg(s[0], &big, 0), -EMSGSIZE);
	big.msg_iovlen = ((size_t)1 << 32) + 1; /* not an int */
	cr_assert_eq(weft_sendmsg(s[0], &big, 0), -EMSGSIZE);
	cr_assert_eq(weft_accept(p[0], NULL, NULL, 0), -ENOTSOCK);
	cr_assert_eq(weft_accept(s[0], NULL, NULL, 0), -EINVAL, "no listen");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(weft_connect(fd, NULL, 16), -EFAULT);
	close(fd);
	cr_assert_eq(weft_poll(-1, POLLIN), -EBADF);
	cr_assert_eq(weft_openat(AT_FDCWD, NULL, O_RDONLY, 0), -EFAULT);
	cr_assert_eq(weft_openat(AT_FDCWD, "/nonexistent/x", O_RDONLY, 0),
		     -ENOENT);
	cr_assert_eq(weft_fsync(-1), -EBADF);
	cr_assert_eq(weft_close(-1), -EBADF);
	cr_assert_eq(weft_close(p[0]), 0);
	cr_assert_eq(weft_close(p[0]), -EBADF, "closed twice");
	cr_assert_eq(weft_poll(p[0], POLLIN), POLLNVAL, "a closed fd");
	cr_assert_eq(weft_read(p[0], buf, 1), -EBADF, "a closed fd");
	close(p[1]);
	close(s[0]);
	close(s[1]);
	return 0;
}

Test(badinput, io_arguments)
{
	both(io_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- synchronisation ---- */

static intptr_t sync_args(void *arg)
{
	struct weft_mutex m = WEFT_MUTEX_INIT, junk;
	struct weft_cond c = WEFT_COND_INIT;
	struct weft_sem s;

	cr_assert_eq(weft_mutex_init(NULL), -EINVAL);
	cr_assert_eq(weft_mutex_lock(NULL), -EINVAL);
	cr_assert_eq(weft_mutex_timedlock(NULL, 0), -EINVAL);
	cr_assert_eq(weft_mutex_timedlock(&m, -1), -EINVAL);
	cr_assert_eq(weft_mutex_trylock(NULL), -EINVAL);
	cr_assert_eq(weft_mutex_unlock(NULL), -EINVAL);
	cr_assert_eq(weft_mutex_unlock(&m), -EPERM, "not locked");
	cr_assert_eq(weft_mutex_lock(&m), 0);
	cr_assert_eq(weft_mutex_unlock(&m), 0);
	cr_assert_eq(weft_mutex_unlock(&m), -EPERM, "unlocked twice");
	memset(&junk, 0xab, sizeof(junk));
	cr_assert_eq(weft_mutex_lock(&junk), -EINVAL, "not a mutex");
	cr_assert_eq(weft_mutex_trylock(&junk), -EINVAL);
	cr_assert_eq(weft_mutex_timedlock(&junk, weft_now()), -EINVAL);
	cr_assert_eq(weft_mutex_unlock(&junk), -EINVAL);

	cr_assert_eq(weft_cond_init(NULL), -EINVAL);
	cr_assert_eq(weft_cond_wait(NULL, &m), -EINVAL);
	cr_assert_eq(weft_cond_wait(&c, NULL), -EINVAL);
	cr_assert_eq(weft_cond_wait(&c, &m), -EPERM, "m not locked");
	cr_assert_eq(weft_mutex_trylock(&m), 0, "and m is still free");
	cr_assert_eq(weft_cond_timedwait(&c, &m, -2), -EINVAL);
	cr_assert_eq(weft_cond_timedwait(&c, &m, 0), -ETIMEDOUT);
	cr_assert_eq(weft_mutex_unlock(&m), 0, "held again after the wait");
	cr_assert_eq(weft_cond_signal(NULL), -EINVAL);
	cr_assert_eq(weft_cond_broadcast(NULL), -EINVAL);

	cr_assert_eq(weft_sem_init(NULL, 0), -EINVAL);
	cr_assert_eq(weft_sem_init(&s, (unsigned)INT_MAX + 1), -EINVAL);
	cr_assert_eq(weft_sem_init(&s, 0), 0);
	cr_assert_eq(weft_sem_wait(NULL), -EINVAL);
	cr_assert_eq(weft_sem_timedwait(&s, -2), -EINVAL);
	cr_assert_eq(weft_sem_trywait(NULL), -EINVAL);
	cr_assert_eq(weft_sem_trywait(&s), -EAGAIN);
	cr_assert_eq(weft_sem_post(NULL), -EINVAL);
	cr_assert_eq(weft_sem_value(NULL), -EINVAL);
	cr_assert_eq(weft_sem_init(&s, INT_MAX), 0);
	cr_assert_eq(weft_sem_post(&s), -EOVERFLOW);
	cr_assert_eq(weft_sem_value(&s), INT_MAX);
	return 0;
}

Test(badinput, sync_arguments)
{
	both(sync_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- groups and futures ---- */

static struct weft_group shared;

static intptr_t sleepy(void *arg)
{
	return weft_sleep_until(weft_now() + 30 * T_SEC);
}

static intptr_t join_shared(void *arg)
{
	return weft_group_join(&shared);
}

static intptr_t group_args(void *arg)
{
	struct weft_group g, h, junk;
	struct weft_group_opts o = { 0 };
	struct weft_cancel_scope s;
	struct weft_future *f;
	uint64_t id;

	cr_assert_eq(weft_group_open(NULL, NULL), -EINVAL);
	o.policy = 7;
	cr_assert_eq(weft_group_open(&g, &o), -EINVAL);
	cr_assert_eq(weft_group_result(&g), -EINVAL, "failed to open");
	o = (struct weft_group_opts){ .deadline = -5 };
	cr_assert_eq(weft_group_open(&g, &o), -EINVAL);
	o = (struct weft_group_opts){ .max_concurrency = UINT_MAX };
	cr_assert_eq(weft_group_open(&g, &o), -EINVAL);
	cr_assert_eq(weft_group_join(NULL), -EINVAL);
	cr_assert_eq(weft_group_cancel(NULL), -EINVAL);
	cr_assert_eq(weft_group_result(NULL), -EINVAL);
	cr_assert_eq(weft_group_failures(NULL), -EINVAL);
	cr_assert_eq(weft_group_failure(NULL, 0, &id), -EINVAL);
	weft_group_fini(NULL);

	memset(&junk, 0xab, sizeof(junk)); /* never opened */
	cr_assert_eq(weft_group_join(&junk), -EINVAL);
	cr_assert_eq(weft_group_cancel(&junk), -EINVAL);
	cr_assert_eq(weft_spawn(&junk, value, NULL), -EINVAL);
	cr_assert_eq(weft_group_result(&junk), -EINVAL);
	cr_assert_eq(weft_group_failures(&junk), -EINVAL);
	cr_assert_eq(weft_group_failure(&junk, 0, &id), -EINVAL);
	weft_group_fini(&junk);

	cr_assert_eq(weft_group_open(&g, NULL), 0);
	cr_assert_eq(weft_group_open(&g, NULL), -EBUSY, "open already");
	/* The image of an open group is only bytes (once, a reused stack). */
	memcpy(&junk, &g, sizeof(junk));
	cr_assert_eq(weft_group_open(&junk, NULL), 0, "a copy opens afresh");
	cr_assert_eq(weft_group_join(&junk), 0);
	cr_assert_eq(weft_spawn(&g, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_spawn_future(&g, value, NULL, NULL), -EINVAL);
	cr_assert_eq(weft_group_failure(&g, 0, &id), -EINVAL, "not joined");
	weft_group_fini(&g); /* before the join: nothing */

	/* Strict nesting: the inner group, then a scope, block the join. */
	cr_assert_eq(weft_group_open(&h, NULL), 0);
	cr_assert_eq(weft_group_join(&g), -EINVAL, "h is still open");
	cr_assert_eq(weft_group_join(&h), 0);
	cr_assert_eq(weft_cancel_scope_enter(&s, -1, 0), 0);
	cr_assert_eq(weft_group_join(&g), -EINVAL, "s is still entered");
	cr_assert_eq(weft_cancel_scope_leave(&s), 0);

	cr_assert_eq(weft_spawn_future(&g, sleepy, NULL, &f), 0);
	cr_assert_eq(weft_spawn(&g, value, (void *)-EIO), 0);
	cr_assert_eq(weft_group_join(&g), -EIO);
	cr_assert_eq(weft_group_join(&g), -EINVAL, "joined twice");
	cr_assert_eq(weft_spawn(&g, value, NULL), -EINVAL, "joined");
	cr_assert_eq(weft_group_cancel(&g), 0, "joined: nothing to do");
	cr_assert_eq(weft_group_failures(&g), 1, "fail-fast: the first");
	cr_assert_eq(weft_group_failure(&g, 1, &id), -EINVAL, "out of range");
	cr_assert_eq(weft_group_failure(&g, 0, &id), -EIO);
	weft_group_fini(&g);
	weft_group_fini(&g);
	cr_assert_eq(weft_group_failure(&g, 0, &id), -EIO, "kept in g");
	cr_assert_eq(weft_group_result(&g), -EIO);
	cr_assert_eq(weft_future_wait(f, NULL), -ECANCELED, "fail-fast");
	cr_assert_eq(weft_future_release(f), 0);

	/* A group joined by another thread than its owner. */
	cr_assert_eq(weft_group_open(&shared, NULL), 0);
	cr_assert_eq(t_run(join_shared, NULL), -EINVAL, "not the owner");
	cr_assert_eq(weft_group_join(&shared), 0);
	return 0;
}

Test(badinput, group_arguments)
{
	both(group_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t future_args(void *arg)
{
	struct weft_future *f;
	intptr_t v;

	cr_assert_eq(weft_future_wait(NULL, &v), -EINVAL);
	cr_assert_eq(weft_future_release(NULL), -EINVAL);
	cr_assert_eq(pipe(never), 0);
	cr_assert_eq(weft_spawn_future(NULL, blocked, NULL, &f), 0);
	cr_assert_eq(weft_future_release(f), 0);
	cr_assert_eq(weft_future_release(f), -EINVAL, "released twice");
	cr_assert_eq(weft_future_wait(f, &v), -EINVAL, "released");
	/*
	 * A byte, not a close, ends the reader: ThreadSanitizer sees the
	 * write happen before the read (io.c), and so the looks at f above
	 * before the reader frees it.  It ends before the pipe is closed.
	 */
	cr_assert_eq(write(never[1], "x", 1), 1);
	while (t_live() > (weft_thread_self() ? 1u : 0u))
		weft_yield();
	close(never[1]);
	close(never[0]);
	return 0;
}

Test(badinput, future_arguments)
{
	both(future_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- channels, context values, scopes ---- */

static intptr_t chan_args(void *arg)
{
	struct weft_chan *ch;
	void *v;

	cr_assert_eq(weft_chan_new(NULL, 1), -EINVAL);
	cr_assert_eq(weft_chan_new(&ch, 0), -EINVAL);
	cr_assert_eq(weft_chan_new(&ch, ((size_t)1 << 32) + 1), -EINVAL);
	cr_assert_eq(weft_chan_send(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_chan_recv(NULL, &v), -EINVAL);
	cr_assert_eq(weft_chan_close(NULL), -EINVAL);
	weft_chan_free(NULL);
	cr_assert_eq(weft_chan_new(&ch, 1), 0);
	cr_assert_eq(weft_chan_recv(ch, NULL), -EINVAL);
	cr_assert_eq(weft_chan_send(ch, (void *)1), 0);
	cr_assert_eq(weft_chan_close(ch), 0);
	cr_assert_eq(weft_chan_close(ch), 0, "closed twice");
	cr_assert_eq(weft_chan_send(ch, NULL), -EPIPE);
	cr_assert_eq(weft_chan_recv(ch, &v), 0, "sent before the close");
	cr_assert_eq(weft_chan_recv(ch, &v), -EPIPE);
	weft_chan_free(ch);

	cr_assert_eq(weft_context_set(NULL, NULL), -EINVAL);
	cr_assert_null(weft_context_get(NULL));
	cr_assert_null(weft_context_get(&v), "never set");
	return 0;
}

Test(badinput, channel_and_context_arguments)
{
	both(chan_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

static struct weft_cancel_scope outer_scope;

static intptr_t leave_outer(void *arg)
{
	return weft_cancel_scope_leave(&outer_scope);
}

static intptr_t scope_args(void *arg)
{
	struct weft_cancel_scope a, b, junk;

	cr_assert_eq(weft_cancel_scope_enter(NULL, -1, 0), -EINVAL);
	cr_assert_eq(weft_cancel_scope_enter(&a, -2, 0), -EINVAL);
	cr_assert_eq(weft_cancel_scope_enter(&a, -1, 1), -EINVAL,
		     "a shield "
		     "needs a "
		     "deadline");
	cr_assert_eq(weft_cancel_scope_leave(NULL), -EINVAL);
	cr_assert_eq(weft_cancel_scope_cancel(NULL), -EINVAL);
	memset(&junk, 0xab, sizeof(junk));
	cr_assert_eq(weft_cancel_scope_leave(&junk), -EINVAL, "never entered");
	cr_assert_eq(weft_cancel_scope_cancel(&junk), -EINVAL);

	cr_assert_eq(weft_cancel_scope_enter(&a, -1, 0), 0);
	cr_assert_eq(weft_cancel_scope_enter(&b, -1, 0), 0);
	cr_assert_eq(weft_cancel_scope_leave(&a), -EINVAL, "misnested");
	cr_assert_eq(weft_cancel_scope_leave(&b), 0);
	cr_assert_eq(weft_cancel_scope_leave(&b), -EINVAL, "left twice");
	cr_assert_eq(weft_cancel_scope_leave(&a), 0);
	cr_assert_eq(weft_cancel_scope_cancel(&a), 0, "left: nothing");
	cr_assert_eq(weft_cancelled(), 0);

	cr_assert_eq(weft_cancel_scope_enter(&outer_scope, -1, 0), 0);
	cr_assert_eq(t_run(leave_outer, NULL), -EINVAL, "not its scope");
	cr_assert_eq(weft_cancel_scope_leave(&outer_scope), 0);
	return 0;
}

Test(badinput, scope_arguments)
{
	both(scope_args, NULL);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- the runtime ---- */

static intptr_t shutdown_here(void *arg)
{
	return weft_shutdown();
}

Test(badinput, runtime_arguments)
{
	struct weft__held h = weft__hold(NULL);

	cr_assert_eq(weft_main(NULL, NULL), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0, "nothing runs");
	cr_assert_eq(weft_carrier_count(), 0);
	cr_assert_eq(weft_carrier_index(), -1);
	cr_assert_null(weft_thread_self());
	cr_assert_eq(t_run(shutdown_here, NULL), -EINVAL, "on a carrier");
	cr_assert_eq(weft_main(shutdown_here, NULL), -EINVAL);
	cr_assert_eq(h.once, 0, "weft_locked of no mutex skips its block");
	weft__release(&h);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- handles of the parent, in a fork child ---- */

static struct weft_group parents_group;
static struct weft_sem owner_go;

/* Opens a group and stays in it, blocked, until the test ends. */
static intptr_t group_owner(void *arg)
{
	intptr_t r;

	weft_group_open(&parents_group, NULL);
	weft_spawn(&parents_group, blocked, NULL);
	weft_sem_post(&owner_go);
	r = blocked(NULL);
	weft_group_cancel(&parents_group);
	weft_group_join(&parents_group);
	return r;
}

static intptr_t forker(void *arg)
{
	struct weft_thread *run, *done, *owner;
	struct weft_future *f, *fd;
	intptr_t v = 0;
	int status;
	pid_t pid;

	cr_assert_eq(weft_thread_spawn(&run, blocked, NULL, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&done, value, (void *)9, NULL), 0);
	cr_assert_eq(weft_thread_spawn(&owner, group_owner, NULL, NULL), 0);
	cr_assert_eq(weft_spawn_future(NULL, blocked, NULL, &f), 0);
	cr_assert_eq(weft_spawn_future(NULL, value, (void *)4, &fd), 0);
	cr_assert_eq(weft_sem_wait(&owner_go), 0);
	while (weft_future_wait(fd, NULL) != 0)
		;
	while (atomic_load(&done->join) != WEFT_JOIN_DONE)
		weft_sleep_until(weft_now() + T_MS); /* done has ended */
	pid = fork();
	if (pid == 0) {
		/* What stayed behind is gone; what had ended is there. */
		int bad = 0;

		bad |= (weft_thread_join(run, NULL) != -ECHILD) << 0;
		bad |= (weft_thread_detach(run) != -ECHILD) << 1;
		bad |= (weft_thread_interrupt(run) != -ECHILD) << 2;
		bad |= (weft_spawn(&parents_group, value, NULL) != -ECHILD)
		       << 3;
		bad |= (weft_group_cancel(&parents_group) != -ECHILD) << 4;
		bad |= (weft_future_wait(f, NULL) != -ECHILD) << 5;
		bad |= (weft_thread_join(done, &v) != 0 || v != 9) << 6;
		bad |= (weft_future_wait(fd, &v) != 0 || v != 4) << 7;
		bad |= (t_run(value, (void *)3) != 3) << 8;
		_exit(bad);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the child died");
	cr_assert_eq(WEXITSTATUS(status), 0, "checks failed in the child: %#x",
		     WEXITSTATUS(status));
	/* The parent's handles are all still good. */
	close(never[1]);
	cr_assert_eq(weft_thread_join(run, &v), 0);
	cr_assert_eq(weft_thread_join(done, &v), 0);
	cr_assert_eq(v, 9);
	cr_assert_eq(weft_thread_join(owner, &v), 0);
	cr_assert_eq(weft_future_wait(f, NULL), 0);
	weft_future_release(f);
	weft_future_release(fd);
	close(never[0]);
	return 0;
}

Test(badinput, parents_handles_in_a_fork_child)
{
	cr_assert_eq(pipe(never), 0);
	weft_sem_init(&owner_go, 0);
	cr_assert_eq(t_run(forker, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- environment variables ---- */

/* Run fn in a child with name=value, stderr caught; its lines, status. */
static int with_env(const char *name, const char *val, int (*fn)(void),
		    char *err, size_t len)
{
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		setenv(name, val, 1);
		_exit(fn());
	}
	close(p[1]);
	while ((n = read(p[0], err + got, len - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static intptr_t nothing(void *arg)
{
	return 0;
}

/* Every way the runtime starts refuses, and the message comes once. */
static int refuses(void)
{
	struct weft_thread *t;

	if (weft_main(nothing, NULL) != -EINVAL)
		return 1;
	if (weft_thread_spawn(&t, nothing, NULL, NULL) != -EINVAL)
		return 2;
	if (weft_spawn(NULL, nothing, NULL) != -EINVAL)
		return 3;
	return 0;
}

static int starts(void)
{
	return weft_main(nothing, NULL) == 0 ? 0 : 4;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(badinput, garbage_in_every_variable)
{
	static const char *const vars[] = { "WEFT_CARRIERS",
					    "WEFT_STACK_SIZE_KB",
					    "WEFT_GRACE_MS" };
	static const char *const garbage[] = {
		"abc",	"-1",	       "99999999999999999999",
		"1e3",	" 4",	       "4 ",
		"0x10", "4x",	       "18446744073709551617",
		"+4",	"4\nweft: no",
	};
	/* Out of each one's range: too small, too large. */
	static const char *const range[][2] = { { "0", "1025" },
						{ "15", "1048577" },
						{ NULL, "3600001" } };
	char err[1024];

	for (size_t v = 0; v < ARRAY_SIZE(vars); v++) {
		const char *bad[ARRAY_SIZE(garbage) + 2];
		size_t n = 0;

		for (size_t g = 0; g < ARRAY_SIZE(garbage); g++)
			bad[n++] = garbage[g];
		for (int k = 0; k < 2; k++)
			if (range[v][k])
				bad[n++] = range[v][k];
		for (size_t g = 0; g < n; g++) {
			int r = with_env(vars[v], bad[g], refuses, err,
					 sizeof(err));

			cr_assert_eq(r, 0, "%s=\"%s\": step %d", vars[v],
				     bad[g], r);
			cr_assert_eq(count_lines(err), 1,
				     "%s=\"%s\": not one line: '%s'", vars[v],
				     bad[g], err);
			cr_assert(strstr(err, vars[v]), "'%s' names not %s",
				  err, vars[v]);
		}
		/*
		 * Starting carriers in a child forked from Criterion's
		 * threaded process is what TSan cannot do reliably.
		 */
		if (WEFT_TSAN)
			continue;
		cr_assert_eq(with_env(vars[v], "", starts, err, sizeof(err)), 0,
			     "%s empty is the default: '%s'", vars[v], err);
		cr_assert_str_empty(err);
	}
}

#if WEFT_FAULT_INJECTION
static int fault_refuses(void)
{
	return weft_main(nothing, NULL) == 0 ? 0 : 5;
}

/* The stderr of a command, run with the shell. */
static void stderr_of(const char *cmd, char *err, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	cr_assert(f);
	n = fread(err, 1, len - 1, f);
	err[n] = '\0';
	pclose(f);
}

Test(badinput, garbage_in_the_fault_variables)
{
	static const char *const garbage[] = {
		"x",
		"stack_map",
		"stack_map:",
		"stack_map:0",
		"nosuch:1",
		"stack_map:1x",
		"stack_map:99999999999999999999"
	};
	char err[1024];

	for (size_t g = 0; g < ARRAY_SIZE(garbage); g++) {
		cr_assert_eq(with_env("WEFT_FAULT", garbage[g], fault_refuses,
				      err, sizeof(err)),
			     0, "WEFT_FAULT=\"%s\" injected a fault",
			     garbage[g]);
		cr_assert_eq(count_lines(err), 1, "WEFT_FAULT=\"%s\": '%s'",
			     garbage[g], err);
		cr_assert(strstr(err, "WEFT_FAULT"));
	}
	/* Written at exit: a program of its own. */
	const char *top = getenv("WEFT_TEST_BUILD");
	char cmd[4096];

	if (!top)
		cr_skip_test("WEFT_TEST_BUILD is not set");
	snprintf(cmd, sizeof(cmd),
		 "WEFT_FAULT_COUNT=/nonexistent/dir/file %s/test/demo 10 2 "
		 "2>&1 >/dev/null",
		 top);
	stderr_of(cmd, err, sizeof(err));
	cr_assert_eq(count_lines(err), 1, "'%s'", err);
	cr_assert(strstr(err, "WEFT_FAULT_COUNT"));
}
#endif

/* Under the shim: the one line, then the program runs natively. */
/* The stdout of a command, run with the shell; its exit status. */
static int stdout_of(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	cr_assert(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return pclose(f);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert(f, "%s", path);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

Test(badinput, garbage_under_the_shim)
{
	const char *top = getenv("WEFT_TEST_BUILD");
	char cmd[4096], out[8192], native[8192], err[1024];
	char path[] = "/tmp/weft-badinput-XXXXXX";
	int fd;

	if (!top)
		cr_skip_test("WEFT_TEST_BUILD is not set");
	if (WEFT_ASAN || WEFT_TSAN)
		cr_skip_test("a sanitized preload needs a sanitized program");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s/test/shim/shim_threads", top);
	cr_assert_eq(stdout_of(cmd, native, sizeof(native)), 0);
	snprintf(
		cmd, sizeof(cmd),
		"WEFT_CARRIERS=lots %s/shim/weft-run %s/test/shim/shim_threads "
		"2>%s",
		top, top, path);
	cr_assert_eq(stdout_of(cmd, out, sizeof(out)), 0);
	read_file(path, err, sizeof(err));
	unlink(path);
	cr_assert_str_eq(err, "weft: WEFT_CARRIERS=\"lots\" is not a number "
			      "from 1 to 1024\n"
			      "weft: cannot start the runtime; running "
			      "natively\n");
	cr_assert_str_eq(out, native, "the program ran natively");
}

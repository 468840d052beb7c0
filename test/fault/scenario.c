/* SPDX-License-Identifier: MIT */
/*
 * The fault sweep's workload on the API (test/fault/sweep.py runs it with
 * WEFT_FAULT set): spawns, groups that fail, time out and are cancelled,
 * futures, context values, I/O on pipes and loopback sockets with every
 * byte accounted for, mutex, condition variable, semaphore and channel,
 * hundreds of sleeps at once and timed waits, a poll of many fds, the
 * blocking pool; under weft_main, then on a runtime that a plain spawn
 * starts and weft_shutdown stops.
 *
 * Exit 0: every result was right.  Exit 3: some call failed with a
 * resource error (-ENOMEM, -EAGAIN, -ENFILE, -EMFILE, -ENOSYS), said on
 * stdout as "error: <step>: <errno>", and everything else was right.
 * Exit 1 and "FAIL: ...": a wrong result, a lost or duplicated byte, an
 * unexpected errno, or an fd, mapping or kernel thread left behind.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "fail.h"
#include "helpers.h"
#include "lib/runtime.h"
#include "lib/weftimpl.h"

#define SLEEPERS 600 /* more than a timer heap's first 256 on each carrier */
#define PIPE_BYTES (512 * 1024)
#define SOCK_BYTES (256 * 1024)
#define IOVS 20 /* more than io.c's 16 on the stack */
#define POLL_FDS 20

static int first_error;

static bool resource_error(long r)
{
	return r == -ENOMEM || r == -EAGAIN || r == -ENFILE || r == -EMFILE ||
	       r == -ENOSYS;
}

/* r < 0 from step: a resource error is noted, anything else fails. */
static long check(const char *step, long r)
{
	if (r >= 0)
		return r;
	if (!resource_error(r))
		fail("%s: unexpected %s", step, strerror((int)-r));
	printf("error: %s: %s\n", step, strerror((int)-r));
	if (!first_error)
		first_error = (int)r;
	return r;
}

static void expect(const char *step, long got, long want)
{
	if (got != want)
		fail("%s: %ld, not %ld", step, got, want);
}

static unsigned char pattern(size_t off)
{
	return (unsigned char)(off * 7 + off / 251 + 3);
}

/* ---- spawns ---- */

static intptr_t square(void *arg)
{
	intptr_t i = (intptr_t)arg;

	return i * i;
}

static void spawns(void)
{
	struct weft_thread *t[64];
	struct weft_spawn_attr mig = { .flags = WEFT_SPAWN_MIGRATABLE };
	int n = 0;

	for (; n < 64; n++)
		if (check("spawn",
			  weft_thread_spawn(&t[n], square, (void *)(intptr_t)n,
					    n % 2 ? &mig : NULL)) < 0)
			break;
	for (int i = 0; i < n; i++) {
		intptr_t v = -1;

		expect("join", weft_thread_join(t[i], &v), 0);
		expect("joined value", v, (intptr_t)i * i);
	}
	/* A stack too big for a class: a dedicated mapping. */
	if (check("spawn big",
		  weft_thread_spawn(&t[0], square, (void *)(intptr_t)3,
				    &(struct weft_spawn_attr){
					    .stack_size = (size_t)80
							  << 20 })) == 0) {
		intptr_t v = -1;

		expect("join big", weft_thread_join(t[0], &v), 0);
		expect("big value", v, 9);
	}
}

/* ---- groups ---- */

static int never[2]; /* a pipe nobody writes: reads block until cancelled */

static intptr_t sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 30 * T_SEC);
}

static intptr_t blocked_reader(void *arg)
{
	char c;

	return weft_read(never[0], &c, 1);
}

static intptr_t failer(void *arg)
{
	weft_sleep_until(weft_now() + 2 * T_MS);
	return (intptr_t)arg;
}

/* Spawn fn into g, with a future if f; false (noted) if it failed. */
static bool spawn_into(struct weft_group *g, intptr_t (*fn)(void *), void *arg,
		       struct weft_future **f)
{
	int r = f ? weft_spawn_future(g, fn, arg, f) : weft_spawn(g, fn, arg);

	if (f && r < 0)
		*f = NULL;
	return check("group spawn", r) == 0;
}

static void fail_fast(void)
{
	struct weft_group g;
	struct weft_future *f[4] = { 0 };
	bool all = true, failer_in = false;
	intptr_t v;
	int r;

	check("pipe", pipe(never) < 0 ? -errno : 0);
	weft_group(&g)
	{
		for (int i = 0; i < 4 && all; i++)
			all = spawn_into(&g, i % 2 ? sleeper : blocked_reader,
					 NULL, &f[i]);
		for (int i = 0; i < 6 && all; i++)
			all = spawn_into(&g, i % 2 ? sleeper : blocked_reader,
					 NULL, NULL);
		if (all)
			all = failer_in = spawn_into(
				&g, failer, (void *)(intptr_t)-EIO, NULL);
		if (!all)
			break; /* cancels the group, then joins it */
	}
	r = weft_group_result(&g);
	expect("fail-fast join", r, failer_in ? -EIO : 0);
	for (int i = 0; i < 4; i++) {
		if (!f[i])
			continue;
		/* A member cancelled: its status says so, whatever it was. */
		expect("future of a cancelled member",
		       weft_future_wait(f[i], &v), -ECANCELED);
		expect("release", weft_future_release(f[i]), 0);
	}
	weft_group_fini(&g);
	close(never[0]);
	close(never[1]);
}

static void supervise(void)
{
	static const int fails[] = { -EIO, -EPIPE, -ENOENT };
	struct weft_group g;
	unsigned spawned = 0, seen = 0;
	int n, r;

	weft_group(&g, .policy = WEFT_SUPERVISE)
	{
		for (int i = 0; i < 3; i++) {
			if (!spawn_into(&g, failer, (void *)(intptr_t)fails[i],
					NULL))
				break;
			spawned |= 1u << i;
			weft_sleep_until(weft_now() + 3 * T_MS);
		}
		spawn_into(&g, square, (void *)(intptr_t)2, NULL);
	}
	n = weft_group_failures(&g);
	expect("failures", n, __builtin_popcount(spawned));
	for (int i = 0; i < n; i++) {
		uint64_t id = 0;

		r = weft_group_failure(&g, i, &id);
		if (r == -ENOMEM) { /* counted, not kept */
			check("failure list", r);
			continue;
		}
		for (int k = 0; k < 3; k++)
			if (r == fails[k] && (spawned & (1u << k)))
				seen |= 1u << k;
		if (!id)
			fail("failure %d without a thread id", i);
	}
	if (seen & ~spawned)
		fail("failures listed that did not happen");
	if (spawned & 1)
		expect("supervise join", weft_group_result(&g), -EIO);
	weft_group_fini(&g);
}

static intptr_t inner_group(void *arg)
{
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < 3; i++)
			if (!spawn_into(&g, sleeper, NULL, NULL))
				break;
		weft_sleep_until(weft_now() + 30 * T_SEC);
	}
	return weft_group_result(&g);
}

static void deadlines(void)
{
	struct weft_group g;
	struct weft_cancel_scope s;
	struct weft_thread *t;
	char c;
	int r;

	bool any = false;

	weft_group(&g, .deadline = weft_now() + 20 * T_MS)
	{
		any = spawn_into(&g, inner_group, NULL, NULL);
		any |= spawn_into(&g, sleeper, NULL, NULL);
	}
	expect("group deadline", weft_group_result(&g), any ? -ETIMEDOUT : 0);
	weft_group_fini(&g);

	check("pipe", pipe(never) < 0 ? -errno : 0);
	expect("scope enter",
	       weft_cancel_scope_enter(&s, weft_now() + 5 * T_MS, 0), 0);
	expect("read under a deadline", weft_read(never[0], &c, 1), -ETIMEDOUT);
	expect("scope leave", weft_cancel_scope_leave(&s), 0);

	if (check("spawn reader",
		  weft_thread_spawn(&t, blocked_reader, NULL, NULL)) == 0) {
		intptr_t v = 0;

		weft_sleep_until(weft_now() + 2 * T_MS);
		expect("interrupt", weft_thread_interrupt(t), 0);
		expect("join reader", weft_thread_join(t, &v), 0);
		expect("interrupted read", v, -EINTR);
	}
	/* Cancelled by another thread, while blocked in a read. */
	weft_group(&g)
	{
		spawn_into(&g, blocked_reader, NULL, NULL);
		weft_sleep_until(weft_now() + 2 * T_MS);
		weft_group_cancel(&g);
	}
	r = weft_group_result(&g);
	expect("cancelled group", r, 0);
	weft_group_fini(&g);
	close(never[0]);
	close(never[1]);
}

/* ---- context values ---- */

static int key;

static intptr_t read_context(void *arg)
{
	return (intptr_t)weft_context_get(&key);
}

static void context(void)
{
	if (check("context", weft_context_set(&key, (void *)42)) < 0)
		return;
	expect("context seen by a child", t_run(read_context, NULL), 42);
}

/* ---- pipes and sockets, every byte accounted for ---- */

struct stream {
	int fd;
	size_t bytes;	 /* to write */
	bool sock;	 /* send/recv, not write/read */
	size_t done;	 /* written, or read and checked */
	long err;	 /* a write's resource error */
	const char *who; /* for messages */
};

static intptr_t writer(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[IOVS * 1024];
	struct iovec iov[IOVS];

	while (s->done < s->bytes) {
		size_t n = 1 + (s->done * 13) % sizeof(buf);
		ssize_t w;

		if (n > s->bytes - s->done)
			n = s->bytes - s->done;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(s->done + i);
		if (s->sock) {
			w = weft_send(s->fd, buf, n, 0);
		} else if (n >= IOVS) {
			size_t part = n / IOVS;

			for (int i = 0; i < IOVS; i++)
				iov[i] = (struct iovec){ buf + i * part,
							 i < IOVS - 1 ?
								 part :
								 n - i * part };
			w = weft_writev(s->fd, iov, IOVS);
		} else {
			w = weft_write(s->fd, buf, n);
		}
		if (w < 0) {
			s->err = w;
			break;
		}
		if (w == 0 || (size_t)w > n)
			fail("%s: write of %zu gave %zd", s->who, n, w);
		s->done += w;
	}
	weft_close(s->fd);
	return 0;
}

static intptr_t reader(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[8192];

	for (;;) {
		size_t want = 1 + (s->done * 11) % sizeof(buf);
		ssize_t r = s->sock ? weft_recv(s->fd, buf, want, 0) :
				      weft_read(s->fd, buf, want);

		if (r < 0)
			fail("%s: read: %s", s->who, strerror((int)-r));
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(s->done + i))
				fail("%s: byte %zu is wrong", s->who,
				     s->done + i);
		s->done += r;
	}
	weft_close(s->fd);
	return 0;
}

/* Write through a pair of fds while reading the other end. */
static void stream(const char *who, int wfd, int rfd, size_t bytes, bool sock)
{
	struct stream w = { wfd, bytes, sock, 0, 0, who };
	struct stream r = { rfd, 0, sock, 0, 0, who };
	struct weft_thread *tw, *tr;

	if (check(who, weft_thread_spawn(&tr, reader, &r, NULL)) < 0) {
		close(wfd);
		close(rfd);
		return;
	}
	bool wrote = check(who, weft_thread_spawn(&tw, writer, &w, NULL)) == 0;

	if (!wrote)
		weft_close(wfd); /* the reader sees the end */
	else
		expect("join writer", weft_thread_join(tw, NULL), 0);
	expect("join reader", weft_thread_join(tr, NULL), 0);
	if (r.done != w.done)
		fail("%s: %zu bytes written, %zu read", who, w.done, r.done);
	if (w.err)
		check(who, w.err);
	else if (wrote && w.done != bytes)
		fail("%s: %zu of %zu bytes written", who, w.done, bytes);
}

static int listener_fd;

static intptr_t acceptor(void *arg)
{
	return weft_accept(listener_fd, NULL, NULL, SOCK_CLOEXEC);
}

static void io(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct weft_thread *t;
	int p[2], port, c;
	intptr_t s = -1;

	if (check("pipe", pipe(p) < 0 ? -errno : 0) == 0)
		stream("pipe", p[1], p[0], PIPE_BYTES, false);

	listener_fd = check("listen", t_listener(&port));
	if (listener_fd < 0)
		return;
	if (check("spawn acceptor",
		  weft_thread_spawn(&t, acceptor, NULL, NULL)) < 0) {
		close(listener_fd);
		return;
	}
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		fail("socket: %s", strerror(errno));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	expect("connect", weft_connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	expect("join acceptor", weft_thread_join(t, &s), 0);
	if (s < 0)
		fail("accept: %s", strerror((int)-s));
	close(listener_fd);
	stream("socket", c, (int)s, SOCK_BYTES, true);
}

/* ---- synchronisation ---- */

static struct weft_mutex m = WEFT_MUTEX_INIT;
static struct weft_cond cv = WEFT_COND_INIT;
static long counter, turns;

static intptr_t bump(void *arg)
{
	for (int i = 0; i < 100; i++) {
		expect("lock", weft_mutex_lock(&m), 0);
		counter++;
		if (i % 10 == 0)
			weft_cond_broadcast(&cv);
		expect("unlock", weft_mutex_unlock(&m), 0);
		if (i % 7 == 0)
			weft_yield();
	}
	return 0;
}

static intptr_t timedlock(void *arg)
{
	return weft_mutex_timedlock(&m, weft_now() + T_MS);
}

static struct weft_chan *ch;

static intptr_t produce(void *arg)
{
	for (intptr_t i = 1; i <= 100; i++)
		expect("send", weft_chan_send(ch, (void *)i), 0);
	return 0;
}

static intptr_t consume(void *arg)
{
	intptr_t sum = 0;
	void *v;
	int r;

	while ((r = weft_chan_recv(ch, &v)) == 0)
		sum += (intptr_t)v;
	expect("recv after close", r, -EPIPE);
	return sum;
}

static void sync_(void)
{
	struct weft_thread *t[8], *p[4], *q[4];
	struct weft_sem s = WEFT_SEM_INIT(0);
	int n = 0, np = 0, nq = 0;
	intptr_t r;
	intptr_t sum = 0, v;

	counter = 0;
	for (; n < 8; n++)
		if (check("spawn bump",
			  weft_thread_spawn(&t[n], bump, NULL, NULL)) < 0)
			break;
	weft_mutex_lock(&m);
	while (counter < 100L * n && turns++ < 100000)
		weft_cond_timedwait(&cv, &m, weft_now() + T_MS);
	weft_mutex_unlock(&m);
	for (int i = 0; i < n; i++)
		expect("join bump", weft_thread_join(t[i], NULL), 0);
	expect("counter", counter, 100L * n);

	expect("sem timed out", weft_sem_timedwait(&s, weft_now() + T_MS),
	       -ETIMEDOUT);
	expect("post", weft_sem_post(&s), 0);
	expect("sem", weft_sem_wait(&s), 0);
	weft_mutex_lock(&m);
	r = t_run(timedlock, NULL);
	if (r != -ETIMEDOUT)
		check("timedlock of a held mutex", r < 0 ? r : -EINVAL);
	expect("condition timed out",
	       weft_cond_timedwait(&cv, &m, weft_now() + T_MS), -ETIMEDOUT);
	weft_mutex_unlock(&m);

	if (check("channel", weft_chan_new(&ch, 8)) < 0)
		return;
	for (; nq < 4; nq++)
		if (check("spawn consumer",
			  weft_thread_spawn(&q[nq], consume, NULL, NULL)) < 0)
			break;
	for (; nq && np < 4; np++)
		if (check("spawn producer",
			  weft_thread_spawn(&p[np], produce, NULL, NULL)) < 0)
			break;
	for (int i = 0; i < np; i++)
		expect("join producer", weft_thread_join(p[i], NULL), 0);
	expect("close", weft_chan_close(ch), 0);
	expect("send after close", weft_chan_send(ch, NULL), -EPIPE);
	for (int i = 0; i < nq; i++) {
		expect("join consumer", weft_thread_join(q[i], &v), 0);
		sum += v;
	}
	expect("channel sum", sum, np * 5050L);
	weft_chan_free(ch);
}

/* ---- timers ---- */

static intptr_t nap(void *arg)
{
	int64_t start = weft_now(), until = start + (intptr_t)arg;
	int r = weft_sleep_until(until);

	if (r == 0 && weft_now() < until)
		fail("a sleep ended early");
	return r;
}

static void timers(void)
{
	static struct weft_thread *t[SLEEPERS];
	int n = 0;

	for (; n < SLEEPERS; n++)
		if (check("spawn sleeper",
			  weft_thread_spawn(
				  &t[n], nap,
				  (void *)(intptr_t)((5 + n % 7) * T_MS),
				  NULL)) < 0)
			break;
	for (int i = 0; i < n; i++) {
		intptr_t v = -1;

		expect("join sleeper", weft_thread_join(t[i], &v), 0);
		expect("slept", v, 0);
	}
}

/* ---- a poll of many fds, the blocking pool ---- */

static int poll_pipes[POLL_FDS][2];

static intptr_t poke(void *arg)
{
	weft_sleep_until(weft_now() + T_MS);
	return weft_write(poll_pipes[POLL_FDS - 1][1], "x", 1);
}

static void blocking_job(void *arg)
{
	usleep(1000);
	*(int *)arg = 1;
}

static intptr_t pooled(void *arg)
{
	int done = 0;

	weft__impl_blocking(blocking_job, &done);
	return done;
}

static void poll_and_pool(void)
{
	struct pollfd fds[POLL_FDS];
	struct weft_thread *t, *j[3];
	int n = 0, r;

	for (; n < POLL_FDS; n++) {
		if (check("pipe", pipe(poll_pipes[n]) < 0 ? -errno : 0) < 0)
			break;
		fds[n] = (struct pollfd){ .fd = poll_pipes[n][0],
					  .events = POLLIN };
	}
	if (n == POLL_FDS) {
		r = weft__impl_poll_any(fds, n, weft_now() + 2 * T_MS);
		if (r != -ETIMEDOUT)
			check("poll of idle pipes", r < 0 ? r : -EINVAL);
		if (check("spawn poke",
			  weft_thread_spawn(&t, poke, NULL, NULL)) == 0) {
			intptr_t v = 0;

			r = check("poll",
				  weft__impl_poll_any(fds, n,
						      weft_now() + 30 * T_SEC));
			expect("join poke", weft_thread_join(t, &v), 0);
			expect("poke", v, 1);
			if (r >= 0)
				expect("poll of a ready pipe", r, 0);
		}
	}
	for (int i = 0; i < n; i++) {
		close(poll_pipes[i][0]);
		close(poll_pipes[i][1]);
	}

	n = 0;
	for (; n < 3; n++)
		if (check("spawn pooled",
			  weft_thread_spawn(&j[n], pooled, NULL, NULL)) < 0)
			break;
	for (int i = 0; i < n; i++) {
		intptr_t v = 0;

		expect("join pooled", weft_thread_join(j[i], &v), 0);
		expect("pooled job ran", v, 1);
	}
}

/* ---- the whole ---- */

static intptr_t body(void *arg)
{
	spawns();
	fail_fast();
	supervise();
	deadlines();
	context();
	io();
	sync_();
	timers();
	poll_and_pool();
	return 7;
}

static intptr_t small_body(void *arg)
{
	spawns();
	io();
	return 7;
}

/* Mappings of io_uring rings in this process. */
static int ring_mappings(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0;

	if (!f)
		fail("/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "io_uring") != NULL;
	fclose(f);
	return n;
}

/* The kernel threads left, once io-wq's have had time to go. */
static int settled_threads(int want)
{
	int n = t_kernel_threads();

	for (int i = 0; i < 100 && n > want; i++) {
		usleep(10000);
		n = t_kernel_threads();
	}
	return n;
}

int main(void)
{
	int fds = t_open_fds(), threads = t_kernel_threads();
	intptr_t r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	r = weft_main(body, NULL);
	if (r != 7)
		check("weft_main", r);

	/* A runtime a plain spawn starts, stopped by weft_shutdown. */
	r = t_run(small_body, NULL);
	if (r != 7)
		check("spawn from a plain thread", r);
	expect("shutdown", weft_shutdown(), 0);
	expect("live threads", t_live(), 0);
	expect("carriers after shutdown", weft_carrier_count(), 0);

	expect("fds left", t_open_fds(), fds);
	expect("kernel threads left", settled_threads(threads), threads);
	/*
	 * Mappings in all would count glibc's malloc arenas and cached
	 * pthread stacks, which come and go: the rings' must all be gone.
	 */
	expect("io_uring mappings left", ring_mappings(), 0);
	if (first_error) {
		printf("done, with errors\n");
		return 3;
	}
	printf("done\n");
	return 0;
}

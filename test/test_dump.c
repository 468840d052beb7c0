/* SPDX-License-Identifier: MIT */
/* Thread dumps: the group tree, waits, stacks, stuck carriers, signals. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(dump, .timeout = 120);

#define OUT_PIPE (1 << 20) /* room for a whole dump: nobody reads it yet */

/* A pipe that holds a whole dump; its read end is non-blocking. */
static void t_out_pipe(int fds[2])
{
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	cr_assert_geq(fcntl(fds[1], F_SETPIPE_SZ, OUT_PIPE), OUT_PIPE);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

/* All the pipe holds, NUL-terminated; the caller frees it. */
static char *t_slurp(int fd, size_t *ret_len)
{
	size_t n = 0, cap = OUT_PIPE + 1;
	char *s = malloc(cap);
	ssize_t r;

	cr_assert(s);
	while ((r = read(fd, s + n, cap - 1 - n)) > 0)
		n += r;
	s[n] = '\0';
	*ret_len = n;
	return s;
}

/* Run test/dump_check.py MODE ARGS on json; its exit status. */
static int t_check(const char *json, size_t len, const char *mode,
		   const char *args)
{
	const char *src = getenv("WEFT_TEST_SRC");
	char cmd[1024];
	FILE *p;

	cr_assert(src, "WEFT_TEST_SRC is not set");
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 %s/test/dump_check.py %s %s", src, mode,
		 args);
	p = popen(cmd, "w");
	cr_assert(p);
	fwrite(json, 1, len, p);
	return pclose(p);
}

/* ---- a tree of groups, on one carrier ---- */

static int in1[2], in2[2];
static struct weft_mutex held, cond_lock;
static struct weft_cond cond;
static struct weft_sem sem;
static struct weft_chan *chan;
static struct weft_thread *joined;

static __attribute__((noinline)) intptr_t blocked_reader(void *arg)
{
	char c;

	return weft_read(in1[0], &c, 1);
}

static __attribute__((noinline)) intptr_t sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

static __attribute__((noinline)) intptr_t late_sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

static __attribute__((noinline)) intptr_t locker(void *arg)
{
	int r = weft_mutex_lock(&held);

	if (r == 0)
		weft_mutex_unlock(&held);
	return r;
}

static __attribute__((noinline)) intptr_t cond_waiter(void *arg)
{
	int r;

	weft_mutex_lock(&cond_lock);
	r = weft_cond_wait(&cond, &cond_lock);
	weft_mutex_unlock(&cond_lock);
	return r;
}

static __attribute__((noinline)) intptr_t sem_waiter(void *arg)
{
	return weft_sem_wait(&sem);
}

static __attribute__((noinline)) intptr_t chan_receiver(void *arg)
{
	void *v;

	return weft_chan_recv(chan, &v);
}

static __attribute__((noinline)) intptr_t joined_sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

static __attribute__((noinline)) intptr_t joiner(void *arg)
{
	intptr_t v;
	int r = weft_thread_spawn(&joined, joined_sleeper, NULL, NULL);

	if (r < 0)
		return r;
	r = weft_thread_join(joined, &v);
	return r < 0 ? r : 0;
}

static __attribute__((noinline)) intptr_t inner_reader(void *arg)
{
	char c;

	return weft_read(in2[0], &c, 1);
}

static __attribute__((noinline)) intptr_t supervisor(void *arg)
{
	struct weft_group g;
	struct weft_group_opts o = { .policy = WEFT_SUPERVISE };

	weft_group_open(&g, &o);
	weft_spawn(&g, inner_reader, NULL);
	return weft_group_join(&g);
}

static __attribute__((noinline)) intptr_t tree_body(void *arg)
{
	intptr_t (*const fns[])(
		void *) = { blocked_reader, sleeper,	   locker, cond_waiter,
			    sem_waiter,	    chan_receiver, joiner, supervisor };
	int text[2], json[2];
	struct weft_group g;
	char args[512], want[128], *out;
	size_t len;

	cr_assert_eq(pipe2(in1, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(in2, O_CLOEXEC), 0);
	cr_assert_eq(weft_chan_new(&chan, 4), 0);
	t_out_pipe(text);
	t_out_pipe(json);
	weft_mutex_lock(&held);
	cr_assert_eq(weft_group_open(&g, NULL), 0);
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		cr_assert_eq(weft_spawn(&g, fns[i], NULL), 0);
	/* One carrier: they all run and park while we sleep. */
	weft_sleep_until(weft_now() + 50 * T_MS);

	cr_assert_eq(weft_spawn(&g, late_sleeper, NULL), 0); /* not started */
	cr_assert_eq(weft_dump(text[1], 0), 0);
	out = t_slurp(text[0], &len);
	snprintf(want, sizeof(want), "READ fd %d", in1[0]);
	cr_expect(strstr(out, want), "no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want), "mutex %p", (void *)&held);
	cr_expect(strstr(out, want), "no '%s' in:\n%s", want, out);
	cr_expect(strstr(out, "at blocked_reader+0x"), "%s", out);
	cr_expect(strstr(out, "\n  group 0x"), "main's group under it: %s",
		  out);
	cr_expect(strstr(out, "\n    #"), "members under their group: %s", out);
	cr_expect(strstr(out, "\" new\n"), "a new thread: %s", out);
	cr_expect(strstr(out, "sleep, deadline in "), "%s", out);
	free(out);

	/* The thread the text dump saw new runs now: this one is new. */
	weft_sleep_until(weft_now() + 20 * T_MS);
	cr_assert_eq(weft_spawn(&g, sleeper, NULL), 0);
	cr_assert_eq(weft_dump(json[1], WEFT_DUMP_JSON), 0);
	out = t_slurp(json[0], &len);
	cr_expect_eq(out[len - 1], '\n');
	cr_expect_eq(strchr(out, '\n'), out + len - 1, "one line");
	snprintf(args, sizeof(args),
		 "fd=%d fd2=%d mutex=%p cond=%p sem=%p chan=%p", in1[0], in2[0],
		 (void *)&held, (void *)&cond, (void *)&sem, (void *)chan);
	cr_expect_eq(t_check(out, len, "tree", args), 0);
	free(out);

	weft_thread_interrupt(joined); /* the joiner's join then returns */
	weft_sleep_until(weft_now() + 20 * T_MS);
	weft_group_cancel(&g);
	weft_mutex_unlock(&held);
	cr_expect_eq(weft_group_join(&g), 0);
	weft_chan_free(chan);
	for (int i = 0; i < 2; i++) {
		close(in1[i]);
		close(in2[i]);
		close(text[i]);
		close(json[i]);
	}
	return 0;
}

Test(dump, a_tree_of_groups_in_text_and_json)
{
	setenv("WEFT_CARRIERS", "1", 1);
	cr_assert_eq(weft_main(tree_body, NULL), 0);
}

/* ---- many threads on every carrier, from a plain thread ---- */

enum { CARRIERS = 3, PER = 130, MIG = 50 };
static struct weft_thread *sleepers[CARRIERS][PER];
static atomic_int spinning;

static __attribute__((noinline)) intptr_t many_sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

static __attribute__((noinline)) intptr_t mig_sleeper(void *arg)
{
	weft_yield();
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

/*
 * The spawners spin until all of them spin, so each is on a carrier of
 * its own; then each spawns its sleepers there, and sleeps itself.
 */
static __attribute__((noinline)) intptr_t spawner(void *arg)
{
	struct weft_thread **mine = sleepers[(intptr_t)arg];
	int64_t end = weft_now() + 5 * T_SEC;

	atomic_fetch_add(&spinning, 1);
	while (atomic_load(&spinning) < CARRIERS && weft_now() < end)
		;
	for (int i = 0; i < PER; i++)
		if (weft_thread_spawn(&mine[i], many_sleeper, NULL, NULL) < 0)
			return -ENOMEM;
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

Test(dump, every_carrier_from_a_plain_thread)
{
	struct weft_spawn_attr mig = { .flags = WEFT_SPAWN_MIGRATABLE };
	struct weft_thread *sp[CARRIERS], *ms[MIG];
	int json[2];
	char *out, args[128];
	size_t len;
	intptr_t v;

	setenv("WEFT_CARRIERS", "3", 1);
	t_out_pipe(json);
	for (intptr_t i = 0; i < CARRIERS; i++)
		cr_assert_eq(
			weft_thread_spawn(&sp[i], spawner, (void *)i, NULL), 0);
	for (int i = 0; i < MIG; i++)
		cr_assert_eq(weft_thread_spawn(&ms[i], mig_sleeper, NULL, &mig),
			     0);
	usleep(300 * 1000);
	cr_assert_eq(atomic_load(&spinning), CARRIERS);
	cr_assert_eq(weft_dump(json[1], WEFT_DUMP_JSON), 0);
	out = t_slurp(json[0], &len);
	snprintf(args, sizeof(args), "carriers=%d sleepers=%d migratable=%d",
		 CARRIERS, CARRIERS * PER, MIG);
	cr_expect_eq(t_check(out, len, "many", args), 0);
	free(out);
	for (int i = 0; i < CARRIERS; i++) {
		for (int k = 0; k < PER; k++) {
			weft_thread_interrupt(sleepers[i][k]);
			cr_assert_eq(weft_thread_join(sleepers[i][k], &v), 0);
			cr_expect_eq(v, -EINTR);
		}
		weft_thread_interrupt(sp[i]);
		cr_assert_eq(weft_thread_join(sp[i], &v), 0);
		cr_expect_eq(v, -EINTR);
	}
	for (int i = 0; i < MIG; i++) {
		weft_thread_interrupt(ms[i]);
		cr_assert_eq(weft_thread_join(ms[i], &v), 0);
		cr_expect_eq(v, -EINTR);
	}
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- a carrier stuck in a thread that never parks ---- */

static atomic_bool spin_on = true;

static __attribute__((noinline)) intptr_t spinner(void *arg)
{
	while (atomic_load_explicit(&spin_on, memory_order_relaxed))
		;
	return 0;
}

Test(dump, a_stuck_carrier_is_reported_with_its_thread)
{
	struct weft_thread *spin, *ts[20];
	int json[2];
	char *out, args[64];
	size_t len;
	int64_t t0;

	setenv("WEFT_CARRIERS", "2", 1);
	t_out_pipe(json);
	cr_assert_eq(weft_thread_spawn(&spin, spinner, NULL, NULL), 0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(
			weft_thread_spawn(&ts[i], many_sleeper, NULL, NULL), 0);
	usleep(100 * 1000);
	t0 = weft_now();
	cr_assert_eq(weft_dump(json[1], WEFT_DUMP_JSON), 0);
	cr_expect_geq(weft_now() - t0, 900 * T_MS, "waited for the carrier");
	cr_expect_lt(weft_now() - t0, 10 * T_SEC);
	out = t_slurp(json[0], &len);
	snprintf(args, sizeof(args), "spinner=%llu",
		 (unsigned long long)weft_thread_id(spin));
	cr_expect_eq(t_check(out, len, "stuck", args), 0);
	free(out);
	atomic_store(&spin_on, false);
	cr_assert_eq(weft_thread_join(spin, NULL), 0);
	for (int i = 0; i < 20; i++) {
		weft_thread_interrupt(ts[i]);
		cr_assert_eq(weft_thread_join(ts[i], NULL), 0);
	}
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- dumps while threads wake, switch, spawn and end ---- */

static atomic_bool churn_on;
static atomic_long pongs, spawned;
static struct weft_mutex churn_lock;
static long under_lock;

struct pair {
	int a[2], b[2];
};

static intptr_t ping(void *arg)
{
	struct pair *p = arg;
	char c = 0;

	while (atomic_load(&churn_on)) {
		if (weft_write(p->a[1], &c, 1) != 1 ||
		    weft_read(p->b[0], &c, 1) != 1)
			return -EIO;
		atomic_fetch_add(&pongs, 1);
	}
	c = 1;
	weft_write(p->a[1], &c, 1);
	return 0;
}

static intptr_t pong(void *arg)
{
	struct pair *p = arg;
	char c;

	do {
		if (weft_read(p->a[0], &c, 1) != 1)
			return -EIO;
		if (c == 0 && weft_write(p->b[1], &c, 1) != 1)
			return -EIO;
	} while (c == 0);
	return 0;
}

static intptr_t short_one(void *arg)
{
	weft_yield();
	return 0;
}

static intptr_t churner(void *arg)
{
	struct weft_spawn_attr mig = { .flags = WEFT_SPAWN_MIGRATABLE |
						WEFT_SPAWN_DETACHED };

	while (atomic_load(&churn_on)) {
		struct weft_group g;

		weft_group(&g)
		{
			for (int i = 0; i < 16; i++)
				weft_spawn(&g, short_one, NULL);
		}
		weft_thread_spawn(NULL, short_one, NULL, &mig);
		weft_mutex_lock(&churn_lock);
		under_lock++;
		weft_yield();
		weft_mutex_unlock(&churn_lock);
		atomic_fetch_add(&spawned, 17);
	}
	return 0;
}

static intptr_t vthread_dumper(void *arg)
{
	int fd = *(int *)arg;

	for (int i = 0; i < 10; i++) {
		int r = weft_dump(fd, i % 2 ? WEFT_DUMP_JSON : 0);

		if (r < 0)
			return r;
	}
	return 0;
}

Test(dump, dumps_while_threads_wake_switch_and_end)
{
	enum { PAIRS = 8, CHURNERS = 4 };
	static struct pair pairs[PAIRS];
	struct weft_thread *ts[2 * PAIRS + CHURNERS + 1];
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC), k = 0;
	intptr_t v;

	setenv("WEFT_CARRIERS", "3", 1);
	cr_assert_geq(null, 0);
	atomic_store(&churn_on, true);
	for (int i = 0; i < PAIRS; i++) {
		cr_assert_eq(pipe2(pairs[i].a, O_CLOEXEC), 0);
		cr_assert_eq(pipe2(pairs[i].b, O_CLOEXEC), 0);
		cr_assert_eq(weft_thread_spawn(&ts[k++], ping, &pairs[i], NULL),
			     0);
		cr_assert_eq(weft_thread_spawn(&ts[k++], pong, &pairs[i], NULL),
			     0);
	}
	for (int i = 0; i < CHURNERS; i++)
		cr_assert_eq(weft_thread_spawn(&ts[k++], churner, NULL, NULL),
			     0);
	cr_assert_eq(weft_thread_spawn(&ts[k++], vthread_dumper, &null, NULL),
		     0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(weft_dump(null, i % 2 ? WEFT_DUMP_JSON : 0), 0);
	atomic_store(&churn_on, false);
	for (int i = 0; i < k; i++) {
		cr_assert_eq(weft_thread_join(ts[i], &v), 0);
		cr_expect_eq(v, 0, "thread %d failed: %ld", i, (long)v);
	}
	cr_expect_gt(atomic_load(&pongs), 0);
	cr_expect_eq(under_lock, atomic_load(&spawned) / 17);
	cr_assert_eq(weft_shutdown(), 0);
	for (int i = 0; i < PAIRS; i++)
		for (int j = 0; j < 2; j++) {
			close(pairs[i].a[j]);
			close(pairs[i].b[j]);
		}
	close(null);
}

/* ---- a thread with too little stack left to be traced ---- */

static __attribute__((noinline)) intptr_t deep_sleeper(void *arg)
{
	volatile char pad[10000];

	pad[0] = 1;
	pad[sizeof(pad) - 1] = 1;
	weft_sleep_until(weft_now() + 60 * T_SEC);
	return pad[0] + pad[sizeof(pad) - 1] - 2;
}

Test(dump, a_thread_near_its_stack_s_end_is_shown_not_traced)
{
	struct weft_spawn_attr small = { .stack_size = 16384 };
	struct weft_thread *t;
	int json[2];
	char *out;
	size_t len;
	intptr_t v;

	setenv("WEFT_CARRIERS", "1", 1);
	t_out_pipe(json);
	cr_assert_eq(weft_thread_spawn(&t, deep_sleeper, NULL, &small), 0);
	usleep(50 * 1000);
	cr_assert_eq(weft_dump(json[1], WEFT_DUMP_JSON), 0);
	out = t_slurp(json[0], &len);
	cr_expect(strstr(out, "\"wait\":{\"kind\":\"sleep\"}"), "%s", out);
	cr_expect(strstr(out, "\"traced\":false,\"untraced\":\"too little "
			      "stack left\",\"stack\":[]"),
		  "%s", out);
	free(out);
	weft_thread_interrupt(t);
	cr_assert_eq(weft_thread_join(t, &v), 0);
	cr_expect_eq(v, 0);
	cr_assert_eq(weft_shutdown(), 0);
}

/* ---- the signal, and misuse ---- */

static __attribute__((noinline)) intptr_t signal_sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + 60 * T_SEC);
}

Test(dump, a_signal_dumps_to_the_file)
{
	char path[] = "/tmp/weft-dump-XXXXXX", *out = NULL;
	struct weft_thread *t;
	struct sigaction sa;
	size_t len = 0;
	FILE *f;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	setenv("WEFT_CARRIERS", "2", 1);
	setenv("WEFT_DUMP_SIGNAL", "SIGUSR2", 1);
	setenv("WEFT_DUMP_FORMAT", "json", 1);
	setenv("WEFT_DUMP_FILE", path, 1);
	cr_assert_eq(weft_thread_spawn(&t, signal_sleeper, NULL, NULL), 0);
	usleep(50 * 1000);
	cr_assert_eq(kill(getpid(), SIGUSR2), 0);
	for (int i = 0; i < 500 && !len; i++) {
		usleep(10 * 1000);
		f = fopen(path, "r");
		cr_assert(f);
		free(out);
		out = NULL;
		if (getline(&out, &len, f) <= 0)
			len = 0;
		fclose(f);
	}
	cr_assert_gt(len, 0, "no dump in %s", path);
	cr_expect_eq(t_check(out, strlen(out), "signal", ""), 0);
	free(out);
	weft_thread_interrupt(t);
	cr_assert_eq(weft_thread_join(t, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	/* The program's own action is back. */
	cr_assert_eq(sigaction(SIGUSR2, NULL, &sa), 0);
	cr_expect_eq(sa.sa_handler, SIG_DFL);
	unlink(path);
}

static volatile sig_atomic_t got;

static void mine(int sig)
{
	got = sig;
}

Test(dump, the_program_s_own_handler_wins)
{
	char path[] = "/tmp/weft-dump-XXXXXX";
	struct sigaction sa = { .sa_handler = mine };
	struct weft_thread *t;
	struct stat st;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	setenv("WEFT_DUMP_SIGNAL", "USR1", 1);
	setenv("WEFT_DUMP_FILE", path, 1);
	cr_assert_eq(weft_thread_spawn(&t, signal_sleeper, NULL, NULL), 0);
	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	cr_assert_eq(kill(getpid(), SIGUSR1), 0);
	for (int i = 0; i < 500 && !got; i++)
		usleep(1000);
	cr_expect_eq(got, SIGUSR1);
	usleep(200 * 1000);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_size, 0,
		     "a dump though the program took the signal");
	weft_thread_interrupt(t);
	cr_assert_eq(weft_thread_join(t, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
	cr_assert_eq(sigaction(SIGUSR1, NULL, &sa), 0);
	cr_expect_eq(sa.sa_handler, mine, "the runtime's stop took it back");
	unlink(path);
}

Test(dump, bad_arguments_and_no_runtime)
{
	int json[2];
	char *out;
	size_t len;

	cr_expect_eq(weft_dump(-1, 0), -EINVAL);
	cr_expect_eq(weft_dump(1, 0x80), -EINVAL);
	t_out_pipe(json);
	cr_assert_eq(weft_dump(json[1], WEFT_DUMP_JSON), 0);
	out = t_slurp(json[0], &len);
	cr_expect(strstr(out, "\"carriers\":[],\"threads\":[],\"groups\":[]"),
		  "an empty dump: %s", out);
	free(out);
}

/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the API: each input is a program of calls made
 * by a weft_main body on a fresh runtime.  It spawns, joins, detaches and
 * interrupts threads that return values, fail, sleep, read a pipe, send
 * and receive on a channel, lock a mutex, wait on a semaphore or open
 * groups of their own; opens and joins groups (policies, limits,
 * deadlines) and cancel scopes (deadlines, shields) in any nesting, and
 * cancels them; writes the pipe, sends, locks, posts, sets context
 * values, waits on futures; and tries bad calls.  Every blocking call of
 * the body runs under a deadline of a few ms, so no input may hang.
 *
 * Checked throughout: a thread's value is what it returned, a stale
 * handle is refused, a group's result agrees with its failures, a mutex
 * admits one thread at a time; at the end, with everything cancelled and
 * joined: every byte written to the pipe was read once, in order, every
 * value sent on the channel was received once, the semaphore holds what
 * was posted, and no fd is left open.  LeakSanitizer checks the heap.
 * A broken invariant aborts.
 *
 *     build-fuzz/test/fuzz/fuzz_api -max_total_time=600 corpus \
 *         test/fuzz/corpus-api      (see test/fuzz/run.sh)
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft.h>

#include "../helpers.h"
#define FUZZ_NAME "fuzz_api"
#include "input.h"

#define SLOTS 8
#define NEST 6
#define KEYS 3
#define MS 1000000LL

/* What a spawned thread does. */
enum kind {
	K_VALUE, /* returns arg */
	K_FAIL,	 /* returns -EIO */
	K_SLEEP, /* sleeps arg * 100 us */
	K_READ,	 /* reads up to arg + 1 bytes of the pipe */
	K_SEND,	 /* sends on the channel */
	K_RECV,	 /* receives from it */
	K_LOCK,	 /* holds the mutex a while */
	K_SEM,	 /* takes a unit of the semaphore and gives it back */
	K_NEST,	 /* opens a group of its own, of sleepers */
	K_CTX,	 /* returns its context value of key arg % KEYS */
	NR_KINDS
};

static struct world {
	int pipe[2];
	struct weft_mutex wlock, rlock; /* writers, readers of the pipe */
	uint64_t written, read;		/* pattern offsets */
	struct weft_chan *ch;
	atomic_long sent, received;
	struct weft_mutex m;
	atomic_int inside;
	struct weft_sem sem;
	long posts;
	struct weft_thread *t[SLOTS];
	intptr_t want[SLOTS];  /* its value, or INTPTR_MIN: any */
	bool free_kind[SLOTS]; /* ends by itself: may be detached */
	int keys[KEYS];
	intptr_t ctx[KEYS]; /* the body's context values */
} w;

static unsigned char pattern(uint64_t off)
{
	return (unsigned char)(off * 31 + (off >> 8) + 7);
}

static intptr_t job(enum kind k, unsigned arg)
{
	return (intptr_t)k | (intptr_t)arg << 8;
}

/* Read from the pipe under rlock, checking every byte; bytes, or < 0. */
static ssize_t read_pipe(size_t want)
{
	unsigned char buf[512];
	ssize_t r;
	int e = weft_mutex_lock(&w.rlock);

	if (e)
		return e;
	if (want > sizeof(buf))
		want = sizeof(buf);
	r = weft_read(w.pipe[0], buf, want);
	for (ssize_t i = 0; i < r; i++)
		CHECK(buf[i] == pattern(w.read + i));
	if (r > 0)
		w.read += r;
	weft_mutex_unlock(&w.rlock);
	return r;
}

static intptr_t sleeper(void *arg)
{
	return weft_sleep_until(weft_now() + (intptr_t)arg);
}

static intptr_t worker(void *arg)
{
	intptr_t j = (intptr_t)arg;
	unsigned a = (unsigned)(j >> 8);
	struct weft_group g;
	void *v;
	int r;

	switch ((enum kind)(j & 0xff)) {
	case K_VALUE:
		return a;
	case K_FAIL:
		return -EIO;
	case K_SLEEP:
		return weft_sleep_until(weft_now() + a * 100000LL);
	case K_READ:
		return read_pipe(a + 1);
	case K_SEND:
		r = weft_chan_send(w.ch, (void *)1);
		if (!r)
			atomic_fetch_add(&w.sent, 1);
		return r;
	case K_RECV:
		r = weft_chan_recv(w.ch, &v);
		if (!r)
			atomic_fetch_add(&w.received, 1);
		return r;
	case K_LOCK:
		r = weft_mutex_lock(&w.m);
		if (r)
			return r;
		CHECK(atomic_fetch_add(&w.inside, 1) == 0);
		weft_sleep_until(weft_now() + (a % 4) * 100000LL);
		CHECK(atomic_fetch_sub(&w.inside, 1) == 1);
		CHECK(weft_mutex_unlock(&w.m) == 0);
		return 0;
	case K_SEM:
		r = weft_sem_wait(&w.sem);
		if (!r)
			CHECK(weft_sem_post(&w.sem) == 0);
		return r;
	case K_NEST:
		weft_group(&g, .deadline = weft_now() + (a % 20 + 1) * MS)
		{
			weft_spawn(&g, sleeper,
				   (void *)(intptr_t)(a * 100000LL));
			weft_spawn(&g, sleeper, (void *)(intptr_t)(30 * MS));
		}
		return weft_group_result(&g);
	case K_CTX:
		return (intptr_t)weft_context_get(&w.keys[a % KEYS]);
	default:
		return 0;
	}
}

/* ---- the body's nest of groups and scopes ---- */

struct level {
	bool group;
	struct weft_group g;
	struct weft_cancel_scope s;
};

static struct level nest[NEST];
static int depth;

/* A scope with a deadline d ns away, for one blocking call. */
static void brief(struct weft_cancel_scope *s, int64_t d)
{
	CHECK(weft_cancel_scope_enter(s, weft_now() + d, 0) == 0);
}

static void unbrief(struct weft_cancel_scope *s)
{
	CHECK(weft_cancel_scope_leave(s) == 0);
}

/* A group's result must agree with its list of failures. */
static void check_group(struct weft_group *g, int r)
{
	int n = weft_group_failures(g);
	uint64_t id;

	CHECK(n >= 0);
	CHECK(r == weft_group_result(g));
	if (n > 0)
		CHECK(r == weft_group_failure(g, 0, &id) && id != 0);
	else
		CHECK(r == 0 || r == -ETIMEDOUT || r == -ECANCELED);
	CHECK(weft_group_join(g) == -EINVAL);
	weft_group_fini(g);
}

static void pop(void)
{
	struct level *l = &nest[--depth];

	if (l->group) {
		weft_group_cancel(&l->g);
		check_group(&l->g, weft_group_join(&l->g));
	} else {
		CHECK(weft_cancel_scope_leave(&l->s) == 0);
	}
}

static struct weft_group *top_group(void)
{
	for (int i = depth - 1; i >= 0; i--)
		if (nest[i].group)
			return &nest[i].g;
	return NULL;
}

/* ---- threads ---- */

static void spawn(unsigned slot, enum kind k, unsigned arg, unsigned flags)
{
	struct weft_spawn_attr a = { .flags = flags & WEFT_SPAWN_MIGRATABLE };
	int r;

	if (w.t[slot])
		return;
	r = weft_thread_spawn(&w.t[slot], worker, (void *)job(k, arg), &a);
	if (r) { /* cancelled scopes do not stop a plain spawn */
		CHECK(r == -ENOMEM || r == -EAGAIN);
		w.t[slot] = NULL;
		return;
	}
	w.want[slot] = k == K_VALUE ? (intptr_t)arg :
		       k == K_FAIL  ? -EIO :
		       k == K_CTX   ? w.ctx[arg % KEYS] :
				      INTPTR_MIN;
	w.free_kind[slot] = k == K_VALUE || k == K_FAIL || k == K_SLEEP ||
			    k == K_CTX;
}

/* Join within d ns: true if it was joined (and checked). */
static bool join(unsigned slot, int64_t d)
{
	struct weft_cancel_scope s;
	intptr_t v = INTPTR_MIN;
	int r;

	if (!w.t[slot])
		return true;
	brief(&s, d);
	r = weft_thread_join(w.t[slot], &v);
	unbrief(&s);
	if (r) {
		CHECK(r == -ETIMEDOUT || r == -ECANCELED || r == -EINTR);
		return false;
	}
	if (w.want[slot] != INTPTR_MIN)
		CHECK(v == w.want[slot]);
	CHECK(weft_thread_join(w.t[slot], &v) == -EINVAL); /* stale now */
	CHECK(weft_thread_id(w.t[slot]) == 0);
	w.t[slot] = NULL;
	return true;
}

/* ---- the program ---- */

static void write_pipe(size_t n)
{
	unsigned char buf[1024];
	struct weft_cancel_scope s;
	ssize_t r;

	if (n > sizeof(buf))
		n = sizeof(buf);
	brief(&s, MS);
	if (weft_mutex_lock(&w.wlock) == 0) {
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(w.written + i);
		r = weft_write(w.pipe[1], buf, n);
		CHECK(r <= (ssize_t)n);
		if (r > 0)
			w.written += r;
		weft_mutex_unlock(&w.wlock);
	}
	unbrief(&s);
}

static void bad_calls(unsigned b)
{
	struct weft_group junk;
	int r;

	memset(&junk, b | 1, sizeof(junk));
	CHECK(weft_thread_join(NULL, NULL) == -EINVAL);
	CHECK(weft_group_join(&junk) == -EINVAL);
	CHECK(weft_spawn(&junk, worker, NULL) == -EINVAL);
	CHECK(weft_cancel_scope_leave(NULL) == -EINVAL);
	CHECK(weft_sleep_until(-(int64_t)b - 1) == -EINVAL);
	CHECK(weft_chan_send(NULL, NULL) == -EINVAL);
	r = weft_read(-1 - (int)b, NULL, 0); /* the cancellation comes first */
	CHECK(r == -EBADF || r == weft_cancelled() ||
	      (r == -EINTR && weft_cancelled() == 0));
	if (depth > 1) /* not the innermost: refused */
		CHECK(nest[0].group ?
			      weft_group_join(&nest[0].g) == -EINVAL :
			      weft_cancel_scope_leave(&nest[0].s) == -EINVAL);
}

static void step(struct input *in)
{
	unsigned op = take(in) % 22, a = take(in), b = take(in);
	struct weft_cancel_scope s;
	struct weft_group *g;
	struct weft_future *f;
	intptr_t v;
	void *p;
	int r;

	switch (op) {
	case 0:
	case 1:
		spawn(a % SLOTS, b % NR_KINDS, take(in), a >> 7);
		break;
	case 2:
		join(a % SLOTS, (b % 3) * MS);
		break;
	case 3:
		if (w.t[a % SLOTS] && w.free_kind[a % SLOTS]) {
			CHECK(weft_thread_detach(w.t[a % SLOTS]) == 0);
			w.t[a % SLOTS] = NULL;
		}
		break;
	case 4:
		if (w.t[a % SLOTS])
			CHECK(weft_thread_interrupt(w.t[a % SLOTS]) == 0);
		break;
	case 5:
		if (depth == NEST)
			break;
		nest[depth].group = true;
		r = weft_group_open(
			&nest[depth].g,
			&(struct weft_group_opts){
				.policy = a % 3,
				.max_concurrency = b % 4,
				.deadline = weft_now() + (b % 20 + 1) * MS });
		CHECK(r == 0);
		depth++;
		break;
	case 6:
		if (!(g = top_group()))
			break;
		brief(&s, MS); /* spawn waits at the limit */
		r = a & 1 ? weft_try_spawn(g, worker,
					   (void *)job(b % NR_KINDS, a >> 1)) :
			    weft_spawn(g, worker,
				       (void *)job(b % NR_KINDS, a >> 1));
		unbrief(&s);
		CHECK(r == 0 || r == -EAGAIN || r == -ECANCELED ||
		      r == -ETIMEDOUT || r == -EINTR);
		break;
	case 7:
		if ((g = top_group()))
			CHECK(weft_group_cancel(g) == 0);
		break;
	case 8:
		if (depth)
			pop();
		break;
	case 9:
		if (depth == NEST)
			break;
		nest[depth].group = false;
		r = weft_cancel_scope_enter(
			&nest[depth].s, a & 1 ? weft_now() + (b % 10) * MS : -1,
			(a & 3) == 3);
		CHECK(r == 0);
		depth++;
		break;
	case 10:
		for (int i = depth - 1; i >= 0; i--)
			if (!nest[i].group && i % 4 == (int)a % 4) {
				CHECK(weft_cancel_scope_cancel(&nest[i].s) ==
				      0);
				break;
			}
		break;
	case 11:
		r = weft_sleep_until(weft_now() + (a % 20) * 100000LL);
		CHECK(r == 0 || r == -ECANCELED || r == -ETIMEDOUT ||
		      r == -EINTR);
		break;
	case 12:
		write_pipe(a * 4 + b);
		break;
	case 13:
		brief(&s, MS);
		read_pipe(a + 1);
		unbrief(&s);
		break;
	case 14:
		brief(&s, MS);
		if (a & 1) {
			if (weft_chan_send(w.ch, (void *)1) == 0)
				atomic_fetch_add(&w.sent, 1);
		} else if (weft_chan_recv(w.ch, &p) == 0) {
			atomic_fetch_add(&w.received, 1);
		}
		unbrief(&s);
		break;
	case 15:
		if (weft_mutex_timedlock(&w.m, weft_now() + MS) == 0) {
			CHECK(atomic_fetch_add(&w.inside, 1) == 0);
			weft_yield();
			CHECK(atomic_fetch_sub(&w.inside, 1) == 1);
			CHECK(weft_mutex_unlock(&w.m) == 0);
		}
		break;
	case 16:
		CHECK(weft_sem_post(&w.sem) == 0);
		w.posts++;
		break;
	case 17:
		r = weft_context_set(&w.keys[a % KEYS], (void *)(intptr_t)b);
		CHECK(r == 0 || r == -ENOMEM);
		if (!r)
			w.ctx[a % KEYS] = b;
		break;
	case 18:
		/* Not in the root group: its threads outlive the checks. */
		if (!top_group())
			break;
		r = weft_spawn_future(top_group(), worker,
				      (void *)job(b % NR_KINDS, a), &f);
		if (r)
			break;
		brief(&s, (a % 3) * MS);
		r = weft_future_wait(f, &v);
		unbrief(&s);
		if (b % NR_KINDS == K_VALUE && r == 0)
			CHECK(v == a);
		CHECK(weft_future_release(f) == 0);
		break;
	case 19:
		weft_yield();
		break;
	case 20:
		bad_calls(a);
		break;
	case 21:
		/* A handle joined twice, detached after its join. */
		spawn(a % SLOTS, K_VALUE, b, 0);
		join(a % SLOTS, 30 * MS);
		break;
	}
}

static intptr_t body(void *arg)
{
	struct input *in = arg;
	void *p;

	for (int ops = 0; in->n && ops < 64; ops++)
		step(in);

	/* Everything ends: the nest, cancelled; the threads, interrupted. */
	while (depth)
		pop();
	for (unsigned s = 0; s < SLOTS; s++)
		while (!join(s, MS))
			weft_thread_interrupt(w.t[s]);

	/* Every byte written was read, once and in order. */
	CHECK(weft_close(w.pipe[1]) == 0);
	while (read_pipe(512) > 0)
		;
	CHECK(w.read == w.written);
	CHECK(weft_close(w.pipe[0]) == 0);
	/* Every value sent was received once. */
	CHECK(weft_chan_close(w.ch) == 0);
	while (weft_chan_recv(w.ch, &p) == 0)
		atomic_fetch_add(&w.received, 1);
	CHECK(atomic_load(&w.sent) == atomic_load(&w.received));
	CHECK(weft_sem_value(&w.sem) == w.posts);
	CHECK(atomic_load(&w.inside) == 0);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	setenv("WEFT_CARRIERS", "2", 0);
	setenv("WEFT_GRACE_MS", "0", 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	int fds = t_open_fds();

	memset(&w, 0, sizeof(w));
	depth = 0;
	CHECK(pipe(w.pipe) == 0);
	CHECK(weft_chan_new(&w.ch, 1 + (size ? data[0] % 4 : 0)) == 0);
	CHECK(weft_main(body, &in) == 0);
	weft_chan_free(w.ch);
	CHECK(t_open_fds() == fds);
	return 0;
}

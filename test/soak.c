/* SPDX-License-Identifier: MIT */
/*
 * The soak: a bounded, seeded stress of the whole runtime, with its
 * invariants checked as it goes and its resources counted at the end.
 *
 *	test_soak [seconds [seed]]	(or WEFT_SOAK_SECONDS, WEFT_SOAK_SEED)
 *
 * It runs epochs until the time is up.  An epoch is a group of scenarios
 * picked at random, each a few virtual threads (and now and then a plain
 * one) doing one thing hard: byte streams over pipes and loopback TCP
 * with reads and writes under short deadlines, interrupts and group
 * cancellation; mutexes, condition variables, semaphores and channels,
 * some waits timed; groups of every policy whose joins must return what
 * DESIGN.md says; spawn storms; sleeps.  Every byte written is read
 * exactly once and in order, so a cancelled read or write that lost or
 * invented a byte shows up as a wrong byte or a wrong total.
 *
 * Between epochs nothing runs but the epoch's owner: the runtime's count
 * of live threads must then match the soak's own, every stack but the
 * owner's must be back in the pools, the fds must be those of the start,
 * and the kernel threads within the carriers' and io-wq's bounds.  After
 * a warm-up, RSS, mappings and the stacks made may grow only a little.
 * After weft_main returns, fds and kernel threads are those of before.
 *
 * The seed fixes what each scenario does (its choices, sizes, deadlines),
 * not how the carriers interleave it: a failure names the seed, the epoch
 * and the scenario, and running that seed again replays the same work.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "lib/runtime.h"
#include "lib/sync.h"

static uint64_t seed;
static int64_t end_time;
static unsigned epoch_nr;
static int nr_carriers;

/* ---- failing, with what it takes to reproduce ---- */

static __attribute__((noreturn, format(printf, 1, 2))) void
fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soak: FAILED in epoch %u (seed %llu): %s\n", epoch_nr,
		(unsigned long long)seed, msg);
	_exit(1);
}

#define CHECK(cond, ...)                   \
	do {                               \
		if (!(cond))               \
			fail(__VA_ARGS__); \
	} while (0)

static void on_alarm(int sig)
{
	static const char m[] = "soak: FAILED: hung (the watchdog fired)\n";

	(void)!write(2, m, sizeof(m) - 1);
	_exit(2);
}

/* ---- a seeded generator per scenario ---- */

struct rng {
	uint64_t s;
};

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t next(struct rng *r)
{
	return mix(r->s += 0x9e3779b97f4a7c15ull);
}

/* Uniform in [0, n), n > 0. */
static uint64_t below(struct rng *r, uint64_t n)
{
	return next(r) % n;
}

static bool one_in(struct rng *r, uint64_t n)
{
	return below(r, n) == 0;
}

static struct rng rng_for(uint64_t a, uint64_t b)
{
	return (struct rng){ mix(seed ^ mix(a * 0x100000001b3ull + b)) };
}

/* ---- what every soak thread reports ---- */

enum {
	K_PIPE,
	K_TCP,
	K_MUTEX,
	K_COND,
	K_SEM,
	K_CHAN,
	K_GROUP,
	K_SPAWN,
	K_SLEEP,
	NR_KINDS
};

static const char *const kind_name[NR_KINDS] = {
	"pipe", "tcp",	 "mutex", "cond",  "sem",
	"chan", "group", "spawn", "sleep",
};

#define MAX_CARRIERS 64

static atomic_long alive; /* soak threads running, by their own count */
static atomic_long ran_on[NR_KINDS][MAX_CARRIERS];
static atomic_ullong bytes_verified, threads_run, cancels_seen;

/* First thing in every virtual thread of the soak. */
static void enter(int kind)
{
	int c = weft_carrier_index();

	atomic_fetch_add(&alive, 1);
	atomic_fetch_add(&threads_run, 1);
	if (c >= 0 && c < MAX_CARRIERS)
		atomic_fetch_add(&ran_on[kind][c], 1);
}

/* Last thing: return leave(v). */
static intptr_t leave(intptr_t v)
{
	atomic_fetch_sub(&alive, 1);
	return v;
}

static void note_cancel(intptr_t r)
{
	if (r == -ECANCELED || r == -ETIMEDOUT || r == -EINTR)
		atomic_fetch_add(&cancels_seen, 1);
}

/* A short deadline from now, up to max_us microseconds. */
static int64_t soon(struct rng *r, unsigned max_us)
{
	return weft_now() + (int64_t)below(r, max_us + 1) * 1000;
}

/* ---- byte streams ---- */

/* The byte at offset off of stream key. */
static uint8_t stream_byte(uint64_t key, uint64_t off)
{
	return (uint8_t)(mix(key ^ (off >> 3)) >> ((off & 7) * 8));
}

static void fill(uint8_t *buf, uint64_t key, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = stream_byte(key, off + i);
}

static void verify(const uint8_t *buf, uint64_t key, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK(buf[i] == stream_byte(key, off + i),
		      "stream %llx: byte %llu is %#x, not %#x",
		      (unsigned long long)key, (unsigned long long)(off + i),
		      buf[i], stream_byte(key, off + i));
	atomic_fetch_add(&bytes_verified, n);
}

/*
 * One direction of a stream.  The writer's total counts what writes said
 * they wrote; the reader's, what reads returned.  They must meet exactly.
 */
struct stream {
	int kind;
	int rfd, wfd;
	bool socket; /* wfd is a socket carrying the other direction too */
	uint64_t key, len;
	uint64_t written, read;
	uint64_t wseed, rseed;
	/* The reader's handle, while it runs, for interrupts. */
	struct weft_mutex lock;
	struct weft_thread *reader;
	bool eof;
};

/* A read or write, perhaps under a short deadline of its own. */
static ssize_t stream_io(struct rng *r, bool reading, int fd, uint8_t *buf,
			 size_t n, bool socket)
{
	struct weft_cancel_scope cs;
	bool timed = one_in(r, 6);
	ssize_t got;

	if (timed)
		weft_cancel_scope_enter(&cs, soon(r, 2000), 0);
	if (reading)
		got = socket && one_in(r, 2) ? weft_recv(fd, buf, n, 0) :
					       weft_read(fd, buf, n);
	else
		got = socket && one_in(r, 2) ? weft_send(fd, buf, n, 0) :
					       weft_write(fd, buf, n);
	if (timed)
		weft_cancel_scope_leave(&cs);
	return got;
}

static intptr_t stream_writer(void *arg)
{
	struct stream *s = arg;
	struct rng r = { s->wseed };
	uint8_t buf[8192];

	enter(s->kind);
	while (s->written < s->len) {
		size_t n = 1 + below(&r, sizeof(buf));
		ssize_t w;

		if (n > s->len - s->written)
			n = s->len - s->written;
		fill(buf, s->key, s->written, n);
		w = stream_io(&r, false, s->wfd, buf, n, s->socket);
		note_cancel(w);
		if (w > 0)
			s->written += w;
		else if (w == -ECANCELED) /* the group: stop */
			return leave(w);
		else
			CHECK(w == -ETIMEDOUT || w == -EINTR, "write: %zd", w);
		if (one_in(&r, 16))
			weft_yield();
	}
	if (s->socket)
		shutdown(s->wfd, SHUT_WR);
	else
		weft_close(s->wfd);
	s->wfd = -1;
	return leave(0);
}

static intptr_t stream_reader(void *arg)
{
	struct stream *s = arg;
	struct rng r = { s->rseed };
	uint8_t buf[8192];
	intptr_t v = 0;

	enter(s->kind);
	weft__mutex_relock(&s->lock); /* not a cancellation point */
	s->reader = weft_thread_self();
	weft_mutex_unlock(&s->lock);
	for (;;) {
		size_t n = 1 + below(&r, sizeof(buf));
		ssize_t got = stream_io(&r, true, s->rfd, buf, n, s->socket);

		note_cancel(got);
		if (got > 0) {
			verify(buf, s->key, s->read, got);
			s->read += got;
		} else if (got == 0) {
			s->eof = true;
			break;
		} else if (got == -ECANCELED) {
			v = got;
			break;
		} else {
			CHECK(got == -ETIMEDOUT || got == -EINTR, "read: %zd",
			      got);
		}
	}
	/* Nobody may interrupt it once it may be gone. */
	weft__mutex_relock(&s->lock);
	s->reader = NULL;
	weft_mutex_unlock(&s->lock);
	return leave(v);
}

/* Read the rest of a stream outside any cancellation, and check it. */
static void drain(struct stream *s)
{
	uint8_t buf[8192];
	ssize_t got;

	if (s->eof)
		return;
	while ((got = weft_read(s->rfd, buf, sizeof(buf))) > 0) {
		verify(buf, s->key, s->read, got);
		s->read += got;
	}
	CHECK(got == 0, "drain: %zd", got);
}

static void stream_init(struct stream *s, int kind, struct rng *r, int rfd,
			int wfd, bool socket)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->rfd = rfd;
	s->wfd = wfd;
	s->socket = socket;
	s->key = next(r);
	s->len = below(r, 4) ? below(r, 64 << 10) : below(r, 1 << 20);
	s->wseed = next(r);
	s->rseed = next(r);
	weft_mutex_init(&s->lock);
}

static void interrupt_reader(struct stream *s)
{
	weft__mutex_relock(&s->lock);
	if (s->reader)
		weft_thread_interrupt(s->reader);
	weft_mutex_unlock(&s->lock);
}

/*
 * Run the streams, perhaps interrupting their readers and cancelling the
 * lot part-way; then drain what is left and check every total.
 */
static void run_streams(struct rng *r, struct stream *s, int n)
{
	struct weft_group g;
	bool cancel = one_in(r, 4);
	int r_join;

	weft_group(&g)
	{
		for (int i = 0; i < n; i++) {
			CHECK(weft_spawn(&g, stream_writer, &s[i]) == 0,
			      "spawn");
			CHECK(weft_spawn(&g, stream_reader, &s[i]) == 0,
			      "spawn");
		}
		for (int k = below(r, 4); k > 0; k--) {
			weft_sleep_until(soon(r, 3000));
			interrupt_reader(&s[below(r, n)]);
		}
		if (cancel) {
			weft_sleep_until(soon(r, 5000));
			weft_group_cancel(&g);
		}
	}
	r_join = weft_group_result(&g);
	/* The owner's cancel: 0; nothing failed for real. */
	CHECK(r_join == 0, "a stream group joined with %d", r_join);
	for (int i = 0; i < n; i++) {
		if (s[i].wfd >= 0) { /* cancelled: end it here */
			if (s[i].socket)
				shutdown(s[i].wfd, SHUT_WR);
			else
				weft_close(s[i].wfd);
			s[i].wfd = -1;
		}
		drain(&s[i]);
		CHECK(s[i].read == s[i].written,
		      "stream %llx: %llu bytes written, %llu read",
		      (unsigned long long)s[i].key,
		      (unsigned long long)s[i].written,
		      (unsigned long long)s[i].read);
		CHECK(cancel || s[i].written == s[i].len,
		      "stream %llx: %llu of %llu written, not cancelled",
		      (unsigned long long)s[i].key,
		      (unsigned long long)s[i].written,
		      (unsigned long long)s[i].len);
	}
}

static intptr_t sc_pipe(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct stream s[3];
	int n = 1 + below(&r, 3), p[2];

	enter(K_PIPE);
	for (int i = 0; i < n; i++) {
		CHECK(pipe2(p, O_CLOEXEC) == 0, "pipe2");
		stream_init(&s[i], K_PIPE, &r, p[0], p[1], false);
	}
	run_streams(&r, s, n);
	for (int i = 0; i < n; i++)
		weft_close(s[i].rfd);
	return leave(0);
}

/* Connect and accept on loopback, the accept tried first with no peer. */
struct tcp_setup {
	int lfd, port, fd[2];
	struct weft_sem go;
};

static intptr_t tcp_acceptor(void *arg)
{
	struct tcp_setup *t = arg;
	struct weft_cancel_scope cs;
	int r;

	enter(K_TCP);
	/* Nobody connects yet: the deadline must end it, losing nothing. */
	weft_cancel_scope_enter(&cs, weft_now() + T_MS, 0);
	r = weft_accept(t->lfd, NULL, NULL, SOCK_CLOEXEC);
	weft_cancel_scope_leave(&cs);
	CHECK(r == -ETIMEDOUT, "accept with no peer: %d", r);
	weft_sem_post(&t->go);
	t->fd[0] = weft_accept(t->lfd, NULL, NULL, SOCK_CLOEXEC);
	CHECK(t->fd[0] >= 0, "accept: %d", t->fd[0]);
	return leave(0);
}

static intptr_t tcp_connector(void *arg)
{
	struct tcp_setup *t = arg;
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, r;

	enter(K_TCP);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(t->port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0, "socket");
	weft_sem_wait(&t->go);
	r = weft_connect(fd, (struct sockaddr *)&a, sizeof(a));
	CHECK(r == 0, "connect: %d", r);
	t->fd[1] = fd;
	return leave(0);
}

static intptr_t sc_tcp(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct tcp_setup t = { .fd = { -1, -1 } };
	struct weft_group g;
	struct stream s[2];
	int n;

	enter(K_TCP);
	t.lfd = t_listener(&t.port);
	CHECK(t.lfd >= 0, "listener: %d", t.lfd);
	weft_sem_init(&t.go, 0);
	weft_group(&g)
	{
		weft_spawn(&g, tcp_acceptor, &t);
		weft_spawn(&g, tcp_connector, &t);
	}
	CHECK(weft_group_result(&g) == 0, "tcp setup");
	weft_close(t.lfd);
	/* One direction, or both at once over the same connection. */
	n = 1 + below(&r, 2);
	stream_init(&s[0], K_TCP, &r, t.fd[0], t.fd[1], true);
	if (n == 2)
		stream_init(&s[1], K_TCP, &r, t.fd[1], t.fd[0], true);
	run_streams(&r, s, n);
	weft_close(t.fd[0]);
	weft_close(t.fd[1]);
	return leave(0);
}

/* ---- mutex: a counter and a flag only the holder may see ---- */

struct locked {
	struct weft_mutex m;
	long counter, rounds;
	int inside;
	atomic_long timeouts;
	struct weft_sem plain_done;
};

static void locked_round(struct locked *l, struct rng *r)
{
	int e;

	for (;;) {
		unsigned how = below(r, 8);

		if (how == 0)
			e = weft_mutex_trylock(&l->m);
		else if (how == 1)
			e = weft_mutex_timedlock(&l->m, soon(r, 500));
		else
			e = weft_mutex_lock(&l->m);
		if (e == 0)
			break;
		CHECK(e == -EBUSY || e == -ETIMEDOUT, "lock: %d", e);
		atomic_fetch_add(&l->timeouts, 1);
	}
	CHECK(l->inside == 0, "two threads hold the mutex");
	l->inside = 1;
	if (one_in(r, 32))
		weft_yield(); /* holding it */
	l->counter++;
	l->inside = 0;
	CHECK(weft_mutex_unlock(&l->m) == 0, "unlock");
}

struct worker {
	void *shared;
	uint64_t seed;
	int index;
};

static intptr_t mutex_worker(void *arg)
{
	struct worker *w = arg;
	struct locked *l = w->shared;
	struct rng r = { w->seed };

	enter(K_MUTEX);
	for (long i = 0; i < l->rounds; i++)
		locked_round(l, &r);
	return leave(0);
}

static void *mutex_plain(void *arg)
{
	struct worker *w = arg;
	struct locked *l = w->shared;
	struct rng r = { w->seed };

	for (long i = 0; i < l->rounds; i++)
		locked_round(l, &r);
	weft_sem_post(&l->plain_done);
	return NULL;
}

static intptr_t sc_mutex(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct locked l = { .rounds = 1 + below(&r, 2000) };
	int n = 2 + below(&r, 2 * nr_carriers + 4);
	bool plain = one_in(&r, 4);
	struct worker w[16];
	struct weft_group g;
	pthread_t pt;

	enter(K_MUTEX);
	weft_sem_init(&l.plain_done, 0);
	for (int i = 0; i < n; i++)
		w[i] = (struct worker){ &l, next(&r), i };
	if (plain)
		CHECK(pthread_create(&pt, NULL, mutex_plain, &w[0]) == 0,
		      "pthread_create");
	weft_group(&g)
	{
		for (int i = plain; i < n; i++)
			weft_spawn(&g, mutex_worker, &w[i]);
	}
	CHECK(weft_group_result(&g) == 0, "mutex group joined with %d",
	      weft_group_result(&g));
	if (plain) {
		weft_sem_wait(&l.plain_done); /* parks; the join is brief */
		pthread_join(pt, NULL);
	}
	CHECK(l.counter == n * l.rounds, "mutex counter %ld, not %ld",
	      l.counter, n * l.rounds);
	return leave(0);
}

/* ---- condition variable: a bounded queue, every item taken once ---- */

#define QCAP 8

struct queue {
	struct weft_mutex m;
	struct weft_cond not_full, not_empty;
	int items[QCAP], head, n;
	int produced, consumed, total;
	atomic_uchar *seen;
};

static intptr_t cond_producer(void *arg)
{
	struct worker *w = arg;
	struct queue *q = w->shared;
	struct rng r = { w->seed };
	int per = q->total / 4;

	enter(K_COND);
	for (int i = 0; i < per; i++) {
		CHECK(weft_mutex_lock(&q->m) == 0, "lock");
		while (q->n == QCAP) {
			int e = one_in(&r, 4) ?
					weft_cond_timedwait(&q->not_full, &q->m,
							    soon(&r, 300)) :
					weft_cond_wait(&q->not_full, &q->m);

			CHECK(e == 0 || e == -ETIMEDOUT, "cond wait: %d", e);
		}
		q->items[(q->head + q->n++) % QCAP] = w->index * per + i;
		q->produced++;
		weft_cond_signal(&q->not_empty);
		weft_mutex_unlock(&q->m);
	}
	return leave(0);
}

static intptr_t cond_consumer(void *arg)
{
	struct worker *w = arg;
	struct queue *q = w->shared;
	struct rng r = { w->seed };

	enter(K_COND);
	CHECK(weft_mutex_lock(&q->m) == 0, "lock");
	for (;;) {
		int v;

		while (q->n == 0 && q->consumed < q->total) {
			int e = one_in(&r, 4) ?
					weft_cond_timedwait(&q->not_empty,
							    &q->m,
							    soon(&r, 300)) :
					weft_cond_wait(&q->not_empty, &q->m);

			CHECK(e == 0 || e == -ETIMEDOUT, "cond wait: %d", e);
		}
		if (q->consumed == q->total)
			break;
		v = q->items[q->head];
		q->head = (q->head + 1) % QCAP;
		q->n--;
		q->consumed++;
		CHECK(v >= 0 && v < q->total && !q->seen[v]++,
		      "item %d taken twice", v);
		weft_cond_signal(&q->not_full);
		if (q->consumed == q->total)
			weft_cond_broadcast(&q->not_empty);
	}
	weft_mutex_unlock(&q->m);
	return leave(0);
}

static intptr_t sc_cond(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct queue q = { .total = 4 * (1 + (int)below(&r, 500)) };
	struct worker w[4 + 6];
	int consumers = 1 + below(&r, 6);
	struct weft_group g;

	enter(K_COND);
	q.seen = calloc(q.total, 1);
	CHECK(q.seen, "calloc");
	for (int i = 0; i < 4 + consumers; i++)
		w[i] = (struct worker){ &q, next(&r), i };
	weft_group(&g)
	{
		for (int i = 0; i < 4 + consumers; i++)
			CHECK(weft_spawn(&g,
					 i < 4 ? cond_producer : cond_consumer,
					 &w[i]) == 0,
			      "spawn");
	}
	CHECK(weft_group_result(&g) == 0, "cond group joined with %d",
	      weft_group_result(&g));
	CHECK(q.produced == q.total && q.consumed == q.total && q.n == 0,
	      "queue: %d produced, %d consumed of %d", q.produced, q.consumed,
	      q.total);
	free(q.seen);
	return leave(0);
}

/* ---- semaphore: never more than its value inside ---- */

struct limit {
	struct weft_sem s;
	int k;
	atomic_int inside;
	long rounds;
	struct weft_sem plain_done;
};

static void limit_round(struct limit *l, struct rng *r)
{
	int e, now;

	for (;;) {
		unsigned how = below(r, 6);

		if (how == 0)
			e = weft_sem_trywait(&l->s);
		else if (how == 1)
			e = weft_sem_timedwait(&l->s, soon(r, 300));
		else
			e = weft_sem_wait(&l->s);
		if (e == 0)
			break;
		CHECK(e == -EAGAIN || e == -ETIMEDOUT, "sem wait: %d", e);
	}
	now = atomic_fetch_add(&l->inside, 1) + 1;
	CHECK(now <= l->k, "%d inside a semaphore of %d", now, l->k);
	if (one_in(r, 8))
		weft_yield();
	atomic_fetch_sub(&l->inside, 1);
	CHECK(weft_sem_post(&l->s) == 0, "sem post");
}

static intptr_t sem_worker(void *arg)
{
	struct worker *w = arg;
	struct limit *l = w->shared;
	struct rng r = { w->seed };

	enter(K_SEM);
	for (long i = 0; i < l->rounds; i++)
		limit_round(l, &r);
	return leave(0);
}

static void *sem_plain(void *arg)
{
	struct worker *w = arg;
	struct limit *l = w->shared;
	struct rng r = { w->seed };

	for (long i = 0; i < l->rounds; i++)
		limit_round(l, &r);
	weft_sem_post(&l->plain_done);
	return NULL;
}

static intptr_t sc_sem(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct limit l = { .k = 1 + below(&r, 4),
			   .rounds = 1 + below(&r, 800) };
	int n = 2 + below(&r, 10);
	bool plain = one_in(&r, 4);
	struct worker w[12];
	struct weft_group g;
	pthread_t pt;

	enter(K_SEM);
	weft_sem_init(&l.s, l.k);
	weft_sem_init(&l.plain_done, 0);
	for (int i = 0; i < n; i++)
		w[i] = (struct worker){ &l, next(&r), i };
	if (plain)
		CHECK(pthread_create(&pt, NULL, sem_plain, &w[0]) == 0,
		      "pthread_create");
	weft_group(&g)
	{
		for (int i = plain; i < n; i++)
			weft_spawn(&g, sem_worker, &w[i]);
	}
	CHECK(weft_group_result(&g) == 0, "sem group joined with %d",
	      weft_group_result(&g));
	if (plain) {
		weft_sem_wait(&l.plain_done);
		pthread_join(pt, NULL);
	}
	CHECK(weft_sem_value(&l.s) == l.k, "semaphore at %d, not %d",
	      weft_sem_value(&l.s), l.k);
	return leave(0);
}

/* ---- channel: what was sent is received, once; cancelled sends not ---- */

struct pipeline {
	struct weft_chan *ch;
	int per, producers;
	atomic_uchar *sent, *got;
	struct weft_sem plain_done;
};

static int chan_send_one(struct pipeline *p, struct rng *r, int token)
{
	struct weft_cancel_scope cs;
	bool timed = one_in(r, 4);
	int e;

	if (timed)
		weft_cancel_scope_enter(&cs, soon(r, 200), 0);
	e = weft_chan_send(p->ch, (void *)(intptr_t)(token + 1));
	if (timed)
		weft_cancel_scope_leave(&cs);
	note_cancel(e);
	if (e == 0)
		p->sent[token] = 1;
	else
		CHECK(e == -ETIMEDOUT, "chan send: %d", e);
	return e;
}

static intptr_t chan_producer(void *arg)
{
	struct worker *w = arg;
	struct pipeline *p = w->shared;
	struct rng r = { w->seed };

	enter(K_CHAN);
	for (int i = 0; i < p->per; i++)
		chan_send_one(p, &r, w->index * p->per + i);
	return leave(0);
}

static void *chan_plain(void *arg)
{
	struct worker *w = arg;
	struct pipeline *p = w->shared;
	struct rng r = { w->seed };

	for (int i = 0; i < p->per; i++)
		chan_send_one(p, &r, w->index * p->per + i);
	weft_sem_post(&p->plain_done);
	return NULL;
}

static intptr_t chan_consumer(void *arg)
{
	struct worker *w = arg;
	struct pipeline *p = w->shared;
	struct rng r = { w->seed };
	void *v;
	int e;

	enter(K_CHAN);
	for (;;) {
		struct weft_cancel_scope cs;
		bool timed = one_in(&r, 4);
		int t;

		if (timed)
			weft_cancel_scope_enter(&cs, soon(&r, 200), 0);
		e = weft_chan_recv(p->ch, &v);
		if (timed)
			weft_cancel_scope_leave(&cs);
		note_cancel(e);
		if (e == -EPIPE)
			break;
		if (e == -ETIMEDOUT)
			continue;
		CHECK(e == 0, "chan recv: %d", e);
		t = (int)(intptr_t)v - 1;
		CHECK(t >= 0 && t < p->per * p->producers && !p->got[t]++,
		      "token %d received twice", t);
	}
	return leave(0);
}

static intptr_t sc_chan(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct pipeline p = { .per = 1 + below(&r, 400),
			      .producers = 1 + below(&r, 4) };
	int consumers = 1 + below(&r, 4), n = p.producers * p.per;
	bool plain = one_in(&r, 4);
	struct weft_group prod, cons;
	struct worker w[8];
	pthread_t pt;

	enter(K_CHAN);
	CHECK(weft_chan_new(&p.ch, 1 + below(&r, 16)) == 0, "chan");
	p.sent = calloc(n, 1);
	p.got = calloc(n, 1);
	CHECK(p.sent && p.got, "calloc");
	weft_sem_init(&p.plain_done, 0);
	for (int i = 0; i < p.producers + consumers; i++)
		w[i] = (struct worker){ &p, next(&r), i };
	weft_group(&cons)
	{
		for (int i = 0; i < consumers; i++)
			weft_spawn(&cons, chan_consumer, &w[p.producers + i]);
		if (plain)
			CHECK(pthread_create(&pt, NULL, chan_plain, &w[0]) == 0,
			      "pthread_create");
		weft_group(&prod)
		{
			for (int i = plain; i < p.producers; i++)
				weft_spawn(&prod, chan_producer, &w[i]);
		}
		CHECK(weft_group_result(&prod) == 0, "producers");
		if (plain) {
			weft_sem_wait(&p.plain_done);
			pthread_join(pt, NULL);
		}
		weft_chan_close(p.ch);
	}
	CHECK(weft_group_result(&cons) == 0, "consumers");
	for (int i = 0; i < n; i++)
		CHECK(p.sent[i] == p.got[i], "token %d: sent %d, received %d",
		      i, p.sent[i], p.got[i]);
	weft_chan_free(p.ch);
	free(p.sent);
	free(p.got);
	return leave(0);
}

/* ---- groups: every join returns what DESIGN.md says ---- */

/* Sleeps until cancelled, counting itself in *arg (if not NULL) then. */
static intptr_t sleeper(void *arg)
{
	atomic_int *cancelled = arg;
	intptr_t r;

	enter(K_GROUP);
	r = weft_sleep_until(weft_now() + 30 * T_SEC);
	if (cancelled && (r == -ECANCELED || r == -ETIMEDOUT))
		atomic_fetch_add(cancelled, 1);
	else if (cancelled)
		fprintf(stderr, "sleeper got %ld\n", (long)r);
	return leave(r);
}

/* Sleeps (intptr_t)arg microseconds, then returns arg's low bits. */
struct napper {
	int64_t us;
	intptr_t ret;
};

static intptr_t napper(void *arg)
{
	struct napper *n = arg;
	int r;

	enter(K_GROUP);
	r = weft_sleep_until(weft_now() + n->us * 1000);
	if (r < 0)
		return leave(r);
	return leave(n->ret);
}

static const int errnos[] = { -EIO, -ENOENT, -EPERM, -EBADF, -ENOSPC };

struct canceller {
	struct weft_cancel_scope *s;
	int64_t at;
};

static intptr_t scope_canceller(void *arg)
{
	struct canceller *c = arg;

	enter(K_GROUP);
	weft_sleep_until(c->at);
	weft_cancel_scope_cancel(c->s);
	return leave(0);
}

struct limited {
	atomic_int inside, peak;
	int limit;
};

static intptr_t limited_member(void *arg)
{
	struct limited *l = arg;
	int now;

	enter(K_GROUP);
	now = atomic_fetch_add(&l->inside, 1) + 1;
	for (int p = atomic_load(&l->peak);
	     now > p && !atomic_compare_exchange_weak(&l->peak, &p, now);)
		;
	weft_sleep_until(weft_now() + 100 * 1000);
	atomic_fetch_sub(&l->inside, 1);
	return leave(0);
}

/* Opens a group of its own whose leaf fails: its join passes it up. */
static intptr_t nested_member(void *arg)
{
	struct napper fails = { 10, (intptr_t)arg };
	struct weft_group g;
	int r;

	enter(K_GROUP);
	weft_group(&g)
	{
		weft_spawn(&g, sleeper, NULL);
		weft_spawn(&g, napper, &fails);
	}
	r = weft_group_result(&g);
	CHECK(r == (intptr_t)arg, "nested join %d, not %d", r,
	      (int)(intptr_t)arg);
	return leave(r);
}

static void group_case(struct rng *r)
{
	struct napper naps[8];
	struct weft_group g;
	int n = 1 + below(r, 6), c = below(r, 8), want, got, failed = 0;
	atomic_int cancelled = 0;

	switch (c) {
	case 0: { /* fail-fast: the first real failure, the rest cancelled */
		struct napper f = { below(r, 2000), errnos[below(r, 5)] };

		weft_group(&g)
		{
			for (int i = 0; i < n; i++)
				weft_spawn(&g, sleeper, &cancelled);
			weft_spawn(&g, napper, &f);
			/* The owner's body is cancelled too. */
			got = weft_sleep_until(weft_now() + 30 * T_SEC);
			CHECK(got == -ECANCELED, "owner's sleep: %d", got);
			got = weft_spawn(&g, sleeper, &cancelled);
			CHECK(got == -ECANCELED, "spawn after cancel: %d", got);
		}
		want = f.ret;
		CHECK(weft_group_failures(&g) == 1, "failures %d",
		      weft_group_failures(&g));
		CHECK(atomic_load(&cancelled) == n,
		      "case %d: %d of %d cancelled", c, atomic_load(&cancelled),
		      n);
		break;
	}
	case 1: /* supervise: all run; the first real failure wins */
		weft_group(&g, .policy = WEFT_SUPERVISE)
		{
			for (int i = 0; i < n; i++) {
				naps[i].us = below(r, 1000);
				naps[i].ret = one_in(r, 2) ? errnos[i % 5] : i;
				failed += naps[i].ret < 0;
				weft_spawn(&g, napper, &naps[i]);
			}
		}
		got = weft_group_result(&g);
		CHECK(weft_group_failures(&g) == failed, "%d failures, not %d",
		      weft_group_failures(&g), failed);
		for (int i = 0; i < failed; i++) {
			int f = weft_group_failure(&g, i, NULL);
			bool known = false;

			for (int j = 0; j < n; j++)
				known |= naps[j].ret == f;
			CHECK(known, "failure %d listed: %d", i, f);
		}
		CHECK(failed ? got == weft_group_failure(&g, 0, NULL) :
			       got == 0,
		      "supervised join %d with %d failures", got, failed);
		weft_group_fini(&g);
		return;
	case 2: /* the owner cancels: 0 */
		weft_group(&g)
		{
			for (int i = 0; i < n; i++)
				weft_spawn(&g, sleeper, &cancelled);
			weft_sleep_until(soon(r, 2000));
			weft_group_cancel(&g);
		}
		want = 0;
		CHECK(atomic_load(&cancelled) == n,
		      "case %d: %d of %d cancelled", c, atomic_load(&cancelled),
		      n);
		break;
	case 3: /* its deadline: -ETIMEDOUT */
		weft_group(&g, .deadline = soon(r, 5000))
		{
			/* Once the deadline is seen, spawns are refused. */
			for (int i = 0, k = n; i < k; i++) {
				got = weft_spawn(&g, sleeper, &cancelled);
				CHECK(got == 0 || got == -ECANCELED,
				      "spawn: %d", got);
				n -= got != 0;
			}
		}
		want = -ETIMEDOUT;
		CHECK(atomic_load(&cancelled) == n,
		      "case %d: %d of %d cancelled", c, atomic_load(&cancelled),
		      n);
		break;
	case 4: { /* an enclosing scope, cancelled from elsewhere */
		struct weft_cancel_scope s;
		struct canceller cc = { &s, soon(r, 3000) };
		struct weft_thread *t;

		weft_cancel_scope_enter(&s, -1, 0);
		CHECK(weft_thread_spawn(&t, scope_canceller, &cc, NULL) == 0,
		      "spawn");
		weft_group(&g)
		{
			for (int i = 0; i < n; i++)
				weft_spawn(&g, sleeper, &cancelled);
		}
		weft_cancel_scope_leave(&s);
		weft_thread_join(t, NULL);
		want = -ECANCELED;
		break;
	}
	case 5: /* first success: the others cancelled, 0 */
		weft_group(&g, .policy = WEFT_FIRST_SUCCESS)
		{
			naps[0] = (struct napper){ below(r, 2000), 1 };
			weft_spawn(&g, napper, &naps[0]);
			for (int i = 0; i < n; i++)
				weft_spawn(&g, sleeper, &cancelled);
		}
		want = 0;
		break;
	case 6: { /* a limit: spawn waits, try-spawn says -EAGAIN */
		struct limited l = { .limit = 1 + below(r, 3) };
		int spawned = 0;

		weft_group(&g, .max_concurrency = l.limit)
		{
			for (int i = 0; i < 3 * n; i++) {
				got = one_in(r, 2) ?
					      weft_try_spawn(&g, limited_member,
							     &l) :
					      weft_spawn(&g, limited_member,
							 &l);
				CHECK(got == 0 || got == -EAGAIN,
				      "limited spawn: %d", got);
				spawned += got == 0;
			}
		}
		want = 0;
		CHECK(spawned > 0 && atomic_load(&l.peak) <= l.limit,
		      "peak %d over a limit of %d", atomic_load(&l.peak),
		      l.limit);
		break;
	}
	default: { /* nesting: a failure deep down comes up */
		intptr_t e = errnos[below(r, 5)];

		weft_group(&g)
		{
			weft_spawn(&g, nested_member, (void *)e);
			for (int i = 0; i < n; i++)
				weft_spawn(&g, sleeper, &cancelled);
		}
		want = e;
		break;
	}
	}
	got = weft_group_result(&g);
	CHECK(got == want, "group case %d joined with %d, not %d", c, got,
	      want);
	weft_group_fini(&g);
}

static intptr_t sc_group(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };

	enter(K_GROUP);
	for (int i = 1 + below(&r, 4); i > 0; i--)
		group_case(&r);
	return leave(0);
}

/* ---- spawn storms: joined, detached, futures ---- */

static intptr_t tripler(void *arg)
{
	enter(K_SPAWN);
	if (one_in(&(struct rng){ (uintptr_t)arg }, 8))
		weft_yield();
	return leave((intptr_t)arg * 3);
}

static intptr_t detached_one(void *arg)
{
	atomic_int *left = arg;

	enter(K_SPAWN);
	atomic_fetch_sub(left, 1);
	return leave(0);
}

#define WINDOW 64 /* threads of a storm not yet joined, at most */

static intptr_t sc_spawn(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	int n = 1 + below(&r, 2000), nf = below(&r, WINDOW);
	struct weft_thread *t[WINDOW] = { 0 };
	struct weft_future *f[WINDOW];
	atomic_int left = 0;
	struct weft_group g;
	intptr_t v;

	enter(K_SPAWN);
	/* Joined as it goes, so that a storm holds WINDOW stacks at most. */
	for (int i = 0; i < n + WINDOW; i++) {
		struct weft_thread **slot = &t[i % WINDOW];
		struct weft_spawn_attr a = { 0 };

		if (*slot) {
			int was = i - WINDOW;

			CHECK(weft_thread_join(*slot, &v) == 0 && v == 3 * was,
			      "join %d: %ld", was, (long)v);
			*slot = NULL;
		}
		if (i >= n)
			continue;
		if (one_in(&r, 4))
			a.flags |= WEFT_SPAWN_MIGRATABLE;
		if (one_in(&r, 8))
			a.stack_size = 16384 << below(&r, 4);
		if (one_in(&r, 5) && atomic_load(&left) < WINDOW) {
			a.flags |= WEFT_SPAWN_DETACHED;
			atomic_fetch_add(&left, 1);
			CHECK(weft_thread_spawn(NULL, detached_one, &left,
						&a) == 0,
			      "spawn detached");
			continue;
		}
		CHECK(weft_thread_spawn(slot, tripler, (void *)(intptr_t)i,
					&a) == 0,
		      "spawn");
	}
	/* The detached ones count down on this stack: wait for them. */
	while (atomic_load(&left))
		weft_yield();
	/* Futures outlive their group's join. */
	weft_group(&g)
	{
		for (int i = 0; i < nf; i++)
			CHECK(weft_spawn_future(&g, tripler,
						(void *)(intptr_t)i,
						&f[i]) == 0,
			      "spawn future");
	}
	CHECK(weft_group_result(&g) == 0, "future group joined with %d",
	      weft_group_result(&g));
	for (int i = 0; i < nf; i++) {
		CHECK(weft_future_wait(f[i], &v) == 0 && v == 3 * i,
		      "future %d: %ld", i, (long)v);
		weft_future_release(f[i]);
	}
	return leave(0);
}

/* ---- sleeps: never early; a scope's deadline ends them ---- */

static intptr_t sleep_one(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	int64_t d = soon(&r, 3000);
	int e;

	enter(K_SLEEP);
	if (one_in(&r, 3)) {
		struct weft_cancel_scope cs;
		int64_t sd = soon(&r, 1500);

		weft_cancel_scope_enter(&cs, sd, 0);
		e = weft_sleep_until(d);
		CHECK(e == 0 || e == -ETIMEDOUT, "sleep: %d", e);
		CHECK(weft_now() >= (e ? sd : d), "a sleep woke early");
		CHECK(!e || weft_cancelled() == -ETIMEDOUT, "cause %d",
		      weft_cancelled());
		weft_cancel_scope_leave(&cs);
		CHECK(weft_cancelled() == 0, "still cancelled");
	} else {
		e = weft_sleep_until(d);
		CHECK(e == 0, "sleep: %d", e);
		CHECK(weft_now() >= d, "a sleep woke early");
	}
	return leave(0);
}

static intptr_t sc_sleep(void *arg)
{
	struct rng r = { (uint64_t)(uintptr_t)arg };
	struct weft_group g;

	enter(K_SLEEP);
	weft_group(&g)
	{
		for (int i = below(&r, 200); i >= 0; i--)
			weft_spawn(&g, sleep_one, (void *)(uintptr_t)next(&r));
	}
	CHECK(weft_group_result(&g) == 0, "sleep group joined with %d",
	      weft_group_result(&g));
	return leave(0);
}

static intptr_t (*const scenario[NR_KINDS])(void *) = {
	[K_PIPE] = sc_pipe,   [K_TCP] = sc_tcp,	    [K_MUTEX] = sc_mutex,
	[K_COND] = sc_cond,   [K_SEM] = sc_sem,	    [K_CHAN] = sc_chan,
	[K_GROUP] = sc_group, [K_SPAWN] = sc_spawn, [K_SLEEP] = sc_sleep,
};

/* ---- resources, between epochs ---- */

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct counts {
	int fds, threads, maps;
	long rss;
	size_t made, pooled;
	unsigned live;
};

/* maps and rss (reading /proc/self/maps is slow) only if full. */
static struct counts count(bool full)
{
	struct counts c = { .fds = t_open_fds(),
			    .threads = t_kernel_threads() };

	if (full) {
		c.maps = t_mappings();
		c.rss = rss_kib();
	}
	weft__stack_counts(&c.made, &c.pooled);
	c.live = t_live();
	return c;
}

/*
 * Only the epoch's owner runs: the counts must agree.  The stacks of
 * threads that just ended are freed by their carriers a moment after
 * their groups learn they ended, so give that a little time.
 */
static struct counts settle(bool full)
{
	struct counts c;

	for (int i = 0;; i++) {
		c = count(full);
		if ((c.live == 1 && c.made - c.pooled == 1) || i == 2000)
			break;
		weft_sleep_until(weft_now() + T_MS);
	}
	CHECK(atomic_load(&alive) == 0, "%ld soak threads still running",
	      atomic_load(&alive));
	CHECK(c.live == 1, "the runtime counts %u live threads, the soak 1",
	      c.live);
	CHECK(c.made - c.pooled == 1,
	      "%zu stacks in use for 1 thread (%zu made, %zu pooled)",
	      c.made - c.pooled, c.made, c.pooled);
	return c;
}

/* What the fds are, on stderr, when their count is wrong. */
static void show_fds(void)
{
	char path[64], target[256];

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			fprintf(stderr, "soak: fd %d: %s\n", fd, target);
		}
	}
}

/* ---- the epochs ---- */

#define SCENARIOS 16

static void epoch(void)
{
	struct rng r = rng_for(epoch_nr, 0);
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < SCENARIOS; i++) {
			int k = below(&r, NR_KINDS);

			CHECK(weft_spawn(&g, scenario[k],
					 (void *)(uintptr_t)rng_for(epoch_nr,
								    1 + i)
						 .s) == 0,
			      "spawn %s", kind_name[k]);
		}
	}
	CHECK(weft_group_result(&g) == 0, "epoch joined with %d",
	      weft_group_result(&g));
}

struct totals {
	unsigned epochs;
	int64_t seconds;
	struct counts start, warm, last;
	int max_threads;
	size_t max_stacks;
};

/* What a scenario runs at once, at most (the sleep one: 1 + 201). */
#define SCENARIO_THREADS 256
/* Stack sizes the soak uses: 16, 32, 64 (the default) and 128 KiB. */
#define STACK_CLASSES 4

static intptr_t soak_main(void *arg)
{
	struct totals *tot = arg;
	int64_t t0 = weft_now(), warm_until = t0 + (end_time - t0) / 5;
	bool warm = false;
	/*
	 * Kernel threads: the carriers and as many extra ones as the
	 * monitor may start, each with its io-wq workers (2 + 2 a ring),
	 * the monitor, the blocking pool, and the scenarios' plain threads,
	 * which may be leaving still.  Stacks: what the epoch runs at most,
	 * and what the carriers' caches (32 a class) may hide from the pools.
	 */
	tot->max_threads = 2 * nr_carriers * 5 + 1 + 4 + SCENARIOS;
	tot->max_stacks = 1 + SCENARIOS * SCENARIO_THREADS +
			  (size_t)nr_carriers * 32 * STACK_CLASSES;
	tot->start = settle(true);
	while (weft_now() < end_time) {
		bool full = epoch_nr % 16 == 0;
		struct counts c;

		epoch();
		epoch_nr++;
		c = settle(full);
		/*
		 * The monitor holds one for a moment as it reads /proc, and
		 * an extra carrier it started two: a handful at most, where
		 * a leak would pile up over the epochs.
		 */
		if (c.fds < tot->start.fds ||
		    c.fds > tot->start.fds + 2 * nr_carriers) {
			show_fds();
			fail("%d fds open, %d at the start", c.fds,
			     tot->start.fds);
		}
		CHECK(c.threads <= tot->max_threads,
		      "%d kernel threads, at most %d expected", c.threads,
		      tot->max_threads);
		CHECK(c.made <= tot->max_stacks,
		      "%zu stacks made, at most %zu expected", c.made,
		      tot->max_stacks);
		if (!full)
			continue;
		if (!warm && weft_now() >= warm_until) {
			tot->warm = c;
			warm = true;
		} else if (warm && !WEFT_TSAN) { /* TSan maps its own */
			/* Mappings: two more for each stack made since. */
			CHECK(c.maps <= tot->warm.maps + 64 +
						2 * (int)(c.made -
							  tot->warm.made),
			      "%d mappings, %d after the warm-up", c.maps,
			      tot->warm.maps);
			CHECK(c.rss <= tot->warm.rss + tot->warm.rss / 2 +
					       32 * 1024,
			      "RSS %ld KiB, %ld after the warm-up", c.rss,
			      tot->warm.rss);
		}
		tot->last = c;
		if (getenv("SOAK_DEBUG"))
			fprintf(stderr,
				"e %u maps %d made %zu rss %ld thr %d\n",
				epoch_nr, c.maps, c.made, c.rss, c.threads);
	}
	tot->epochs = epoch_nr;
	tot->seconds = (weft_now() - t0) / T_SEC;
	CHECK(warm, "no epoch ended after the warm-up: run longer");
	return 0;
}

static uint64_t arg_or_env(int argc, char **argv, int i, const char *name,
			   uint64_t dflt)
{
	const char *s = argc > i ? argv[i] : getenv(name);
	char *end;
	uint64_t v;

	if (!s || !*s)
		return dflt;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "soak: %s=\"%s\" is not a number\n", name, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	uint64_t seconds = arg_or_env(argc, argv, 1, "WEFT_SOAK_SECONDS", 60);
	struct totals tot = { 0 };
	int fds0 = t_open_fds(), threads0 = t_kernel_threads();
	intptr_t r;

	seed = arg_or_env(argc, argv, 2, "WEFT_SOAK_SEED",
			  (uint64_t)weft_now() ^ ((uint64_t)getpid() << 32));
	printf("soak: seed %llu, %llu s (test_soak %llu %llu replays it)\n",
	       (unsigned long long)seed, (unsigned long long)seconds,
	       (unsigned long long)seconds, (unsigned long long)seed);
	fflush(stdout);
	signal(SIGALRM, on_alarm);
	alarm(seconds + 180);
	signal(SIGPIPE, SIG_IGN);
	end_time = weft_now() + (int64_t)seconds * T_SEC;
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		const char *e = getenv("WEFT_CARRIERS");

		nr_carriers = e && *e ? atoi(e) : n > 0 ? (int)n : 1;
		if (nr_carriers > MAX_CARRIERS)
			nr_carriers = MAX_CARRIERS;
	}
	r = weft_main(soak_main, &tot);
	CHECK(r == 0, "weft_main: %ld", (long)r);
	/* Carriers seen per kind: every kind ran on every carrier. */
	for (int k = 0; k < NR_KINDS; k++)
		for (int c = 0; c < nr_carriers; c++)
			CHECK(atomic_load(&ran_on[k][c]) > 0,
			      "no %s thread ran on carrier %d", kind_name[k],
			      c);
	CHECK(t_open_fds() == fds0, "%d fds after the runtime, %d before",
	      t_open_fds(), fds0);
	/* ThreadSanitizer starts a thread of its own with the first one. */
	CHECK(t_kernel_threads() <= threads0 + WEFT_TSAN,
	      "%d kernel threads after the runtime, %d before",
	      t_kernel_threads(), threads0);
	printf("soak: ok: %lld s, %u epochs, %llu threads, %llu bytes "
	       "verified, %llu cancelled calls, seed %llu; at the end %d fds, "
	       "%d kernel threads (at most %d), %ld KiB RSS (%ld after the "
	       "warm-up), %d mappings (%d), %zu stacks made (%zu)\n",
	       (long long)tot.seconds, tot.epochs,
	       (unsigned long long)atomic_load(&threads_run),
	       (unsigned long long)atomic_load(&bytes_verified),
	       (unsigned long long)atomic_load(&cancels_seen),
	       (unsigned long long)seed, tot.last.fds, tot.last.threads,
	       tot.max_threads, tot.last.rss, tot.warm.rss, tot.last.maps,
	       tot.warm.maps, tot.last.made, tot.warm.made);
	return 0;
}

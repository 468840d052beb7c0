/* SPDX-License-Identifier: MIT */
/*
 * The load generator of bench/echo.sh: a closed loop of 64-byte echoes on
 * many TCP connections to one server, the same for every server.
 *
 *   bench_echo_load -p PORT -c CONNS [-s SERVER_PID] [-n NAME]
 *
 * Each connection sends a 64-byte request, waits for the whole 64-byte
 * echo, checks it byte for byte and sends the next.  First the connections
 * are opened, ECHO_CONNECT_BATCH (200) at a time so the listen queue never
 * overflows, each making one round trip before the next is opened; then
 * all of them run for ECHO_WARMUP_MS (1000) of warm-up and ECHO_MEASURE_MS
 * (3000) of measurement.  Only echoes that complete inside the measurement
 * window count: requests a second, and p50/p99 of the time from a
 * request's write to the end of its echo, from a log-linear histogram
 * (64 buckets a power of two: 1.6% resolution).
 *
 * On stderr it also tells how long the setup took and the longest time in
 * the window when no echo came back, which shows a stalled machine.
 *
 * ECHO_LOAD_THREADS (1) kernel threads share the connections, each with its
 * own epoll set; the main thread only watches the clock and samples the
 * server's /proc/PID/status every 20 ms for the most kernel threads
 * ("Threads:") and, at the end, its peak RSS (VmHWM).
 *
 * Figures go out as JSON lines, bench "echo", metrics NAME_CONNS_rps,
 * _p50_us, _p99_us, _rss_mib, _kthreads.  A wrong byte, a short write, an
 * error or an early close counts as an error: errors are printed as
 * NAME_CONNS_errors and make the exit status 1.  Every socket has a zero
 * SO_LINGER, so that the closes at exit send resets and leave no TIME_WAIT
 * behind to exhaust the ephemeral ports of later runs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MSG 64
#define MAX_EVENTS 512
#define SUB_BITS 6 /* 64 histogram buckets a power of two */
#define SUB (1 << SUB_BITS)
#define HIST_SIZE ((64 - SUB_BITS) * SUB + SUB)

enum state {
	CONNECTING, /* waiting for EPOLLOUT after a non-blocking connect */
	AWAIT,	    /* a request is out, got bytes of its echo are in */
	IDLE,	    /* set up, waiting for the measurement to start */
	DEAD,	    /* failed and closed */
};

struct conn {
	int fd;
	enum state state;
	uint32_t id;
	uint32_t got; /* bytes of the echo read so far */
	uint64_t seq; /* of the request out */
	int64_t sent; /* b_now() when it was written */
	unsigned char rx[MSG];
};

struct worker {
	pthread_t thread;
	int ep;
	struct conn *conns; /* this worker's slice of all_conns */
	size_t nconns;
	size_t next;   /* next of conns to connect, during setup */
	size_t ready;  /* conns done with their first round trip */
	size_t open;   /* conns that are not DEAD */
	uint64_t done; /* echoes completed in the window */
	uint64_t all;  /* echoes completed since the start line */
	int64_t last;  /* b_now() of the last echo in the window */
	int64_t gap;   /* the longest time in the window without an echo */
	uint64_t errors;
	uint64_t hist[HIST_SIZE];
};

static struct sockaddr_in server;
static long setup_batch;
static struct conn *all_conns;
static pthread_barrier_t start_line;

/* Set by main before the start line; read-only afterwards. */
static int64_t window_start, window_end;
/* Workers done with their setup, waiting at the start line. */
static atomic_long at_line;
/* The measurement is over: workers return. */
static atomic_bool stop;

static unsigned int bucket(uint64_t v)
{
	unsigned int shift;

	if (v < 2 * SUB)
		return v;
	shift = 63 - __builtin_clzll(v) - SUB_BITS;
	return shift * SUB + (unsigned int)(v >> shift);
}

/* The middle of the values that land in bucket i. */
static double bucket_value(unsigned int i)
{
	unsigned int shift = i < 2 * SUB ? 0 : i / SUB - 1;
	uint64_t lo = (uint64_t)(i - shift * SUB) << shift;

	return lo + ((1ull << shift) - 1) / 2.0;
}

static double percentile(const uint64_t *hist, uint64_t n, double p)
{
	uint64_t rank = (uint64_t)(p * n + 0.999999), sum = 0;
	unsigned int i;

	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_SIZE; i++) {
		sum += hist[i];
		if (sum >= rank)
			return bucket_value(i);
	}
	return 0;
}

/* The request seq of connection id: its header, then a pattern of both. */
static void fill(unsigned char *buf, uint32_t id, uint64_t seq)
{
	unsigned int i;

	memcpy(buf, &seq, sizeof(seq));
	memcpy(buf + sizeof(seq), &id, sizeof(id));
	for (i = sizeof(seq) + sizeof(id); i < MSG; i++)
		buf[i] = (unsigned char)(seq * 31 + id * 7 + i);
}

static void fail(struct worker *w, struct conn *c, const char *what, int err)
{
	if (w->errors++ < 5)
		fprintf(stderr, "echo_load: connection %u: %s%s%s\n", c->id,
			what, err ? ": " : "", err ? strerror(err) : "");
	if (c->state == IDLE)
		w->ready--;
	if (c->state != DEAD) {
		close(c->fd);
		c->state = DEAD;
		w->open--;
	}
}

static int send_request(struct worker *w, struct conn *c, int64_t now)
{
	unsigned char buf[MSG];
	ssize_t n;

	c->seq++;
	fill(buf, c->id, c->seq);
	c->got = 0;
	c->sent = now;
	c->state = AWAIT;
	n = write(c->fd, buf, MSG);
	if (n != MSG) {
		fail(w, c, n < 0 ? "write" : "short write", n < 0 ? errno : 0);
		return -1;
	}
	return 0;
}

/* Start the non-blocking connect of the next connection of the slice. */
static void connect_next(struct worker *w)
{
	struct linger lin = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT };
	struct conn *c = &w->conns[w->next++];
	int one = 1;

	c->state = CONNECTING;
	w->open++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		c->state = DEAD;
		w->open--;
		if (w->errors++ < 5)
			perror("echo_load: socket");
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lin, sizeof(lin));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = c;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev)) {
		fail(w, c, "epoll_ctl", errno);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) &&
	    errno != EINPROGRESS)
		fail(w, c, "connect", errno);
}

static void on_connected(struct worker *w, struct conn *c, int64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		fail(w, c, "connect", err ? err : errno);
		return;
	}
	if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev)) {
		fail(w, c, "epoll_ctl", errno);
		return;
	}
	send_request(w, c, now);
}

static void on_readable(struct worker *w, struct conn *c, bool running)
{
	unsigned char want[MSG];
	int64_t now;
	ssize_t n;

	if (c->state != AWAIT) {
		/* Bytes nobody asked for, or a close while idle. */
		n = read(c->fd, want, sizeof(want));
		fail(w, c, n > 0 ? "unexpected bytes" : "closed while idle",
		     n < 0 ? errno : 0);
		return;
	}
	n = read(c->fd, c->rx + c->got, MSG - c->got);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		fail(w, c, n ? "read" : "closed by the server", n ? errno : 0);
		return;
	}
	c->got += n;
	if (c->got < MSG)
		return;
	fill(want, c->id, c->seq);
	if (memcmp(want, c->rx, MSG)) {
		fail(w, c, "echo differs from the request", 0);
		return;
	}
	now = b_now();
	if (!running) {
		c->state = IDLE;
		w->ready++;
		if (w->next < w->nconns)
			connect_next(w);
		return;
	}
	w->all++;
	if (now >= window_start && now < window_end) {
		if (now - (w->last ? w->last : window_start) > w->gap)
			w->gap = now - (w->last ? w->last : window_start);
		w->last = now;
		w->done++;
		w->hist[bucket(now - c->sent)]++;
	}
	send_request(w, c, now);
}

static void handle(struct worker *w, struct epoll_event *ev, bool running)
{
	struct conn *c = ev->data.ptr;

	if (c->state == DEAD)
		return;
	if (c->state == CONNECTING) {
		on_connected(w, c, b_now());
		return;
	}
	on_readable(w, c, running);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[MAX_EVENTS];
	size_t i;
	int n;

	/* Setup: a window of setup_batch connections in their first echo. */
	while (w->ready < w->open || w->next < w->nconns) {
		while (w->next < w->nconns && w->ready + setup_batch > w->open)
			connect_next(w); /* replaces the ones that failed */
		n = epoll_wait(w->ep, evs, MAX_EVENTS, 10);
		for (i = 0; i < (size_t)n; i++)
			handle(w, &evs[i], false);
	}
	atomic_fetch_add(&at_line, 1);
	pthread_barrier_wait(&start_line);

	/* Measurement: every open connection sends, then the closed loop. */
	for (i = 0; i < w->nconns; i++)
		if (w->conns[i].state == IDLE)
			send_request(w, &w->conns[i], b_now());
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		n = epoll_wait(w->ep, evs, MAX_EVENTS, 10);
		for (i = 0; i < (size_t)n; i++)
			handle(w, &evs[i], true);
		if (b_now() >= window_end)
			break;
	}
	return NULL;
}

/* A "Key:  value" line of /proc/PID/status, as a number; -1 if none. */
static long long status_field(int pid, const char *key)
{
	char path[64], line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtoll(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* User + system CPU time of a process, in ns; -1 if unknown. */
static long long cpu_ns(int pid)
{
	unsigned long long ut, st;
	char path[64], line[1024], *p;
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* utime and stime are fields 14 and 15; the name (2) may hold ')'. */
	if (!p || !(p = strrchr(line, ')')) ||
	    (n = sscanf(p + 2,
			"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			"%llu %llu",
			&ut, &st)) != 2)
		return -1;
	return (long long)((ut + st) * (1000000000.0 / sysconf(_SC_CLK_TCK)));
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_echo_load -p PORT -c CONNS "
			"[-s SERVER_PID] [-n NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long warmup = b_env("ECHO_WARMUP_MS", 1000);
	long measure = b_env("ECHO_MEASURE_MS", 3000);
	long nthreads = b_env("ECHO_LOAD_THREADS", 1);
	long timeout = b_env("ECHO_SETUP_TIMEOUT_MS", 60000);
	long port = 0, nconns = 0, kthreads = -1, t;
	uint64_t done = 0, all = 0, errors = 0, *hist;
	int64_t gap = 0;
	const char *name = "server";
	struct worker *workers;
	int pid = 0, opt, i;
	int64_t t0, t1, cpu_t0 = 0, cpu_t1 = 0;
	long long cpu0 = -1, cpu1 = -1;
	size_t open = 0, j;
	char metric[128];
	double secs;

	setup_batch = b_env("ECHO_CONNECT_BATCH", 200);
	while ((opt = getopt(argc, argv, "p:c:s:n:")) != -1) {
		switch (opt) {
		case 'p':
			port = atol(optarg);
			break;
		case 'c':
			nconns = atol(optarg);
			break;
		case 's':
			pid = atoi(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		default:
			usage();
		}
	}
	if (port <= 0 || port > 65535 || nconns <= 0 || optind != argc)
		usage();
	if (nthreads > nconns)
		nthreads = nconns;
	raise_nofile();
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	server.sin_port = htons(port);

	all_conns = calloc(nconns, sizeof(*all_conns));
	workers = calloc(nthreads, sizeof(*workers));
	hist = calloc(HIST_SIZE, sizeof(*hist));
	if (!all_conns || !workers || !hist) {
		perror("echo_load");
		return 1;
	}
	for (j = 0; j < (size_t)nconns; j++)
		all_conns[j].id = j;
	pthread_barrier_init(&start_line, NULL, nthreads + 1);

	t0 = b_now();
	for (t = 0; t < nthreads; t++) {
		struct worker *w = &workers[t];

		w->conns = all_conns + nconns * t / nthreads;
		w->nconns = nconns * (t + 1) / nthreads - nconns * t / nthreads;
		w->ep = epoll_create1(0);
		if (w->ep < 0 || pthread_create(&w->thread, NULL, work, w)) {
			perror("echo_load: worker");
			return 1;
		}
	}

	/*
	 * Sample the server while the workers set up; a setup that outlasts
	 * the timeout ends the program, workers and all.
	 */
	while (atomic_load(&at_line) < nthreads) {
		if (pid > 0 && (t = status_field(pid, "Threads")) > kthreads)
			kthreads = t;
		if (b_now() - t0 > timeout * 1000000) {
			fprintf(stderr,
				"echo_load: %s, %ld connections: setup took "
				"over %ld ms\n",
				name, nconns, timeout);
			snprintf(metric, sizeof(metric), "%s_%ld_errors", name,
				 nconns);
			b_emit("echo", metric, nconns, "errors");
			_exit(1);
		}
		usleep(20000);
	}
	t1 = b_now();
	window_start = t1 + warmup * 1000000;
	window_end = window_start + measure * 1000000;
	pthread_barrier_wait(&start_line);

	while (b_now() < window_end + 20000000) {
		int64_t now = b_now();

		if (pid > 0 && (t = status_field(pid, "Threads")) > kthreads)
			kthreads = t;
		/* The server's CPU time across (nearly) the same window. */
		if (pid > 0 && !cpu_t0 && now >= window_start) {
			cpu0 = cpu_ns(pid);
			cpu_t0 = now;
		}
		if (pid > 0 && !cpu_t1 && now >= window_end) {
			cpu1 = cpu_ns(pid);
			cpu_t1 = now;
		}
		usleep(now < window_start ? 1000 : 20000);
	}
	atomic_store(&stop, true);
	for (t = 0; t < nthreads; t++) {
		pthread_join(workers[t].thread, NULL);
		done += workers[t].done;
		all += workers[t].all;
		if (!workers[t].last)
			workers[t].last = window_start;
		if (window_end - workers[t].last > workers[t].gap)
			workers[t].gap = window_end - workers[t].last;
		if (workers[t].gap > gap)
			gap = workers[t].gap;
		errors += workers[t].errors;
		open += workers[t].open;
		for (i = 0; i < HIST_SIZE; i++)
			hist[i] += workers[t].hist[i];
	}

	secs = (window_end - window_start) / 1e9;
	fprintf(stderr,
		"echo_load: %s, %ld connections (%zu open at the end): setup "
		"%.0f ms, %llu echoes in the %.1f s window (%llu in all), "
		"at most %.1f ms without one\n",
		name, nconns, open, (t1 - t0) / 1e6, (unsigned long long)done,
		secs, (unsigned long long)all, gap / 1e6);
#define EMIT(what, v, unit)                                                 \
	do {                                                                \
		snprintf(metric, sizeof(metric), "%s_%ld_%s", name, nconns, \
			 what);                                             \
		b_emit("echo", metric, v, unit);                            \
	} while (0)
	EMIT("rps", done / secs, "req/s");
	EMIT("p50_us", done ? percentile(hist, done, 0.50) / 1e3 : 0, "us");
	EMIT("p99_us", done ? percentile(hist, done, 0.99) / 1e3 : 0, "us");
	if (pid > 0 && done && cpu0 >= 0 && cpu1 >= cpu0 && cpu_t1 > cpu_t0)
		EMIT("cpu_us",
		     (double)(cpu1 - cpu0) / (cpu_t1 - cpu_t0) * secs * 1e6 /
			     done,
		     "us/echo");
	if (pid > 0) {
		EMIT("rss_mib", status_field(pid, "VmHWM") / 1024.0, "MiB");
		EMIT("kthreads", kthreads, "threads");
	}
	if (errors)
		EMIT("errors", errors, "errors");
	return errors ? 1 : 0;
}

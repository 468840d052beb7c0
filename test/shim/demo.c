/* SPDX-License-Identifier: MIT */
/*
 * The shim's demo, an ordinary blocking program: a thread-per-connection
 * TCP echo server on 127.0.0.1 and N clients, one thread and one
 * connection each, in one process.  Every connection is opened and held
 * until all N are, then each client makes M round trips of 64 bytes and
 * checks the bytes that come back.  It prints the connections held at
 * once, the round trips, the failures, the time, and the most kernel
 * threads the process had (natively 2N and more; under weft-run, its
 * carriers).  usage: shim_demo [connections [round_trips]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64
#define IN_FLIGHT 100 /* connections not yet accepted, at most */
#define TIME_LIMIT 60 /* seconds: then the watchdog ends the program */

static int conns = 5000, rounds = 20;
static struct sockaddr_in server;

/*
 * Everything below is guarded by lock.  main waits on progress for the
 * counters; the clients wait on all_open for go.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_open = PTHREAD_COND_INITIALIZER;
static int arrived;   /* clients that tried to connect */
static int connected; /* ... and succeeded */
static int serving;   /* connections a server thread holds */
static int gave_up;   /* clients that could not start or connect */
static int go;	      /* all connections are open: start the round trips */
static int clients_done, servers_done;
static long round_trips, failures;
static int peak_threads, done;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int kernel_threads(void)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void count(int *counter, long *failed)
{
	pthread_mutex_lock(&lock);
	(*counter)++;
	if (failed)
		(*failed)++;
	pthread_cond_signal(&progress);
	pthread_mutex_unlock(&lock);
}

static void note_threads(int n)
{
	pthread_mutex_lock(&lock);
	if (n > peak_threads)
		peak_threads = n;
	pthread_mutex_unlock(&lock);
}

/* Samples the kernel threads every 10 ms; ends a run that hangs. */
static void *monitor(void *arg)
{
	double deadline = now() + TIME_LIMIT;

	for (;;) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		note_threads(kernel_threads());
		pthread_mutex_lock(&lock);
		if (done) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		if (now() > deadline) {
			printf("TIMEOUT after %d s: %d of %d clients connected, "
			       "%d served, %d finished, %ld failures\n",
			       TIME_LIMIT, connected, conns, serving,
			       clients_done, failures);
			fflush(stdout);
			_exit(2);
		}
		pthread_mutex_unlock(&lock);
		nanosleep(&ts, NULL);
	}
}

/* If even the monitor cannot run. */
static void on_alarm(int sig)
{
	static const char msg[] = "TIMEOUT: the watchdog did not run\n";

	write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

/* One connection, served the 1998 way: read, write back, until EOF. */
static void *echo(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;
	int failed = 0;

	count(&serving, NULL);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (write(fd, buf, n) != n) {
			failed = 1;
			break;
		}
	}
	if (n < 0)
		failed = 1;
	close(fd);
	count(&servers_done, failed ? &failures : NULL);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("accept");
			exit(1);
		}
		if (pthread_create(&t, NULL, echo, (void *)(intptr_t)fd)) {
			close(fd);
			count(&serving, &failures);
			count(&servers_done, NULL);
			continue;
		}
		pthread_detach(t);
	}
}

/* Read exactly n bytes; 0 on success. */
static int read_full(int fd, char *buf, size_t n)
{
	while (n) {
		ssize_t r = read(fd, buf, n);

		if (r <= 0)
			return -1;
		buf += r;
		n -= r;
	}
	return 0;
}

static void *client(void *arg)
{
	int id = (int)(intptr_t)arg;
	char out[MSG], in[MSG];
	int fd = socket(AF_INET, SOCK_STREAM, 0), m = 0;

	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0) {
		if (fd >= 0)
			close(fd);
		pthread_mutex_lock(&lock);
		arrived++;
		gave_up++;
		failures++;
		pthread_cond_signal(&progress);
		pthread_mutex_unlock(&lock);
		return NULL;
	}
	pthread_mutex_lock(&lock);
	arrived++;
	connected++;
	pthread_cond_signal(&progress);
	while (!go)
		pthread_cond_wait(&all_open, &lock);
	pthread_mutex_unlock(&lock);

	for (m = 0; m < rounds; m++) {
		for (int i = 0; i < MSG; i++)
			out[i] = (char)(id * 31 + m * 7 + i);
		if (write(fd, out, MSG) != MSG || read_full(fd, in, MSG) ||
		    memcmp(in, out, MSG))
			break;
	}
	close(fd);
	pthread_mutex_lock(&lock);
	round_trips += m;
	if (m < rounds)
		failures++;
	clients_done++;
	pthread_cond_signal(&progress);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Raise the fd limit to the hard limit; fewer connections if short. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)2 * conns + 50 > rl.rlim_cur) {
		int fit = rl.rlim_cur > 52 ? (int)(rl.rlim_cur - 50) / 2 : 1;

		printf("only %ld file descriptors: %d connections, not %d\n",
		       (long)rl.rlim_cur, fit, conns);
		conns = fit;
	}
}

int main(int argc, char **argv)
{
	socklen_t len = sizeof(server);
	int lfd, one = 1, at_once;
	pthread_t mon, acc, *t;
	double start, opened, end;
	struct rusage ru;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		conns = atoi(argv[1]);
	if (argc > 2)
		rounds = atoi(argv[2]);
	if (argc > 3 || conns < 1 || rounds < 0) {
		fprintf(stderr, "usage: %s [connections [round_trips]]\n",
			argv[0]);
		return 2;
	}
	signal(SIGALRM, on_alarm);
	alarm(TIME_LIMIT + 10);
	raise_fd_limit();
	t = malloc(conns * sizeof(*t));
	if (!t) {
		perror("malloc");
		return 1;
	}

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	server.sin_family = AF_INET;
	server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&server, len) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&server, &len) < 0 ||
	    listen(lfd, SOMAXCONN) < 0) {
		perror("listen");
		return 1;
	}

	start = now();
	if (pthread_create(&mon, NULL, monitor, NULL) ||
	    pthread_create(&acc, NULL, acceptor, (void *)(intptr_t)lfd)) {
		perror("pthread_create");
		return 1;
	}
	/*
	 * Connect as fast as the server accepts, but no faster: a full
	 * listen queue drops the SYN, and the client retries 1 s later.
	 */
	for (int i = 0; i < conns; i++) {
		pthread_mutex_lock(&lock);
		while (i - serving - gave_up >= IN_FLIGHT)
			pthread_cond_wait(&progress, &lock);
		pthread_mutex_unlock(&lock);
		if (pthread_create(&t[i], NULL, client, (void *)(intptr_t)i)) {
			t[i] = 0;
			pthread_mutex_lock(&lock);
			arrived++;
			gave_up++;
			failures++;
			pthread_mutex_unlock(&lock);
		}
	}

	/* Every connection open, on both ends: count the kernel threads. */
	pthread_mutex_lock(&lock);
	while (arrived < conns || serving < connected)
		pthread_cond_wait(&progress, &lock);
	at_once = connected;
	pthread_mutex_unlock(&lock);
	opened = now();
	note_threads(kernel_threads());

	pthread_mutex_lock(&lock);
	go = 1;
	pthread_cond_broadcast(&all_open);
	while (clients_done < connected || servers_done < serving)
		pthread_cond_wait(&progress, &lock);
	pthread_mutex_unlock(&lock);
	end = now();
	for (int i = 0; i < conns; i++)
		if (t[i])
			pthread_join(t[i], NULL);

	pthread_mutex_lock(&lock);
	done = 1;
	pthread_mutex_unlock(&lock);
	pthread_join(mon, NULL);
	getrusage(RUSAGE_SELF, &ru);

	printf("%d connections held at once, each its own client and "
	       "server thread: opened in %.2f s\n",
	       at_once, opened - start);
	printf("%ld round trips of %d bytes in %.2f s, %ld failures\n",
	       round_trips, MSG, end - opened, failures);
	printf("%.2f s in all; peak kernel threads: %d; peak RSS: %ld MiB\n",
	       end - start, peak_threads, ru.ru_maxrss / 1024);
	close(lfd);
	free(t);
	return failures ? 1 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Children of a threaded program, while other threads go on blocking in
 * the parent: fork then exec, vfork then exec, system(), popen(), a child
 * that only writes to a pipe; a child that runs threads of its own
 * (blocking pipe I/O, sleeps, a mutex and condition variable), and forks
 * a grandchild that does the same; a child whose last thread ends by
 * pthread_exit; a forking TCP server, a child per connection; and a
 * child forked in a signal handler.  Under
 * the shim each child has a fresh runtime of its own.  Output is the same
 * natively.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static int never[2];

static void *blocked(void *arg)
{
	char c;

	CHECK(read(never[0], &c, 1) == 0); /* until the parent closes it */
	return NULL;
}

static int wait_status(pid_t pid)
{
	int st;

	CHECK(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- a child with threads ---- */

#define WORKERS 8
#define ROUNDS 100

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int finished;

struct pipe_pair {
	int in, out;
};

/* Reads numbers from one pipe and writes them, doubled, to another. */
static void *worker(void *arg)
{
	struct pipe_pair *p = arg;
	long v;

	for (int i = 0; i < ROUNDS; i++) {
		CHECK(read(p->in, &v, sizeof(v)) == sizeof(v));
		v *= 2;
		CHECK(write(p->out, &v, sizeof(v)) == sizeof(v));
	}
	usleep(1000);
	pthread_mutex_lock(&lock);
	finished++;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* WORKERS threads doubling numbers through pipes; the sum of it all. */
static long threaded_work(void)
{
	struct pipe_pair pp[WORKERS];
	int to[WORKERS][2], from[WORKERS][2];
	pthread_t t[WORKERS];
	long sum = 0, v;

	finished = 0;
	for (int i = 0; i < WORKERS; i++) {
		CHECK(pipe(to[i]) == 0 && pipe(from[i]) == 0);
		pp[i] = (struct pipe_pair){ to[i][0], from[i][1] };
		CHECK(pthread_create(&t[i], NULL, worker, &pp[i]) == 0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < WORKERS; i++) {
			v = r * WORKERS + i;
			CHECK(write(to[i][1], &v, sizeof(v)) == sizeof(v));
		}
		for (int i = 0; i < WORKERS; i++) {
			CHECK(read(from[i][0], &v, sizeof(v)) == sizeof(v));
			sum += v;
		}
	}
	pthread_mutex_lock(&lock);
	while (finished < WORKERS)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < WORKERS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		close(to[i][0]), close(to[i][1]);
		close(from[i][0]), close(from[i][1]);
	}
	return sum;
}

static void *last_one(void *arg)
{
	usleep(20000);
	printf("last thread of the child ends\n");
	fflush(stdout);
	return NULL;
}

/* ---- a forking server ---- */

#define CONNS 20

static void serve(int fd)
{
	char buf[256];
	ssize_t n;

	/* A thread of the child's own, to show its runtime works. */
	CHECK(threaded_work() > 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		CHECK(write(fd, buf, n) == n);
	CHECK(n == 0);
	_exit(0);
}

static void *client(void *arg)
{
	struct sockaddr_in *a = arg;
	char msg[64], back[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)a, sizeof(*a)) == 0);
	for (int i = 0; i < 10; i++) {
		memset(msg, 'a' + i, sizeof(msg));
		CHECK(write(fd, msg, sizeof(msg)) == sizeof(msg));
		for (size_t got = 0; got < sizeof(back);) {
			ssize_t n = read(fd, back + got, sizeof(back) - got);

			CHECK(n > 0);
			got += n;
		}
		CHECK(!memcmp(msg, back, sizeof(msg)));
	}
	close(fd);
	return NULL;
}

/* The clients in a process of their own, a thread each: exit 0 if served. */
static pid_t clients(struct sockaddr_in *a)
{
	pthread_t t[CONNS];
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid)
		return pid;
	for (int i = 0; i < CONNS; i++)
		CHECK(pthread_create(&t[i], NULL, client, a) == 0);
	for (int i = 0; i < CONNS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);
	exit(0);
}

static void forking_server(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	pid_t pids[CONNS], cpid;
	int lfd, ok = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(lfd >= 0 && bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0);
	CHECK(listen(lfd, CONNS) == 0);
	CHECK(getsockname(lfd, (struct sockaddr *)&a, &len) == 0);
	cpid = clients(&a);
	for (int i = 0; i < CONNS; i++) {
		int fd = accept(lfd, NULL, NULL);

		CHECK(fd >= 0);
		pids[i] = fork();
		CHECK(pids[i] >= 0);
		if (pids[i] == 0) {
			close(lfd);
			serve(fd);
		}
		close(fd);
	}
	for (int i = 0; i < CONNS; i++)
		ok += wait_status(pids[i]) == 0;
	close(lfd);
	printf("forking server: %d of %d children served and exited 0; "
	       "clients exit %d\n",
	       ok, CONNS, wait_status(cpid));
}

/*
 * fork() in a signal handler, as PostgreSQL's postmaster starts its
 * children: the handler interrupts the main thread's poll, and under the
 * shim it runs on carrier 0's scheduler, idle while every thread waits.
 * The child is a plain process that locks and writes, as natively.
 */
static volatile pid_t handler_child;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t child_rwlock = PTHREAD_RWLOCK_INITIALIZER;

static void forker(int sig)
{
	static const char msg[] = "the handler's child ran\n";
	pid_t p = fork();

	if (p == 0) {
		pthread_mutex_lock(&child_lock);
		pthread_rwlock_wrlock(&child_rwlock);
		if (write(1, msg, sizeof(msg) - 1) != sizeof(msg) - 1)
			_exit(1);
		pthread_rwlock_unlock(&child_rwlock);
		pthread_mutex_unlock(&child_lock);
		_exit(6);
	}
	handler_child = p;
}

static void fork_in_handler(void)
{
	struct sigaction sa = { .sa_handler = forker };
	struct pollfd pfd = { .fd = never[0], .events = POLLIN };
	pid_t kicker;
	int r, e, st;

	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	kicker = fork();
	if (kicker == 0) {
		struct timespec ts = { 0, 50000000 };

		nanosleep(&ts, NULL);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	do
		r = poll(&pfd, 1, 10000);
	while (r == 0 || !handler_child);
	e = errno;
	st = wait_status(handler_child); /* it writes first */
	printf("poll: %s\n", r < 0 && e == EINTR ? "EINTR" : "?");
	printf("kicker exit %d\n", wait_status(kicker));
	printf("the handler's child exit %d\n", st);
}

int main(void)
{
	char buf[64] = "";
	pthread_t t[4];
	pid_t pid;
	FILE *f;
	int p[2];

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(pipe(never) == 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, blocked, NULL);

	pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "echo fork and exec; exit 3",
		      (char *)NULL);
		_exit(127);
	}
	printf("child exit %d\n", wait_status(pid));

	pid = vfork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", "echo vfork and exec",
		      (char *)NULL);
		_exit(127);
	}
	printf("child exit %d\n", wait_status(pid));

	CHECK(pipe(p) == 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		CHECK(write(p[1], "from the child", 14) == 14);
		close(p[1]);
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], buf, sizeof(buf) - 1) == 14);
	close(p[0]);
	printf("read '%s', child exit %d\n", buf, wait_status(pid));

	/* A child with threads of its own, and a grandchild likewise. */
	printf("parent's work: %ld\n", threaded_work());
	pid = fork();
	if (pid == 0) {
		pid_t grandchild;
		long sum = threaded_work();

		grandchild = fork();
		if (grandchild == 0)
			_exit(threaded_work() == sum ? 7 : 1);
		exit(wait_status(grandchild) == 7 && sum == threaded_work() ?
			     5 :
			     1);
	}
	printf("threaded child exit %d\n", wait_status(pid));

	/* A child whose last thread ends by pthread_exit: status 0. */
	pid = fork();
	if (pid == 0) {
		pthread_t last;

		CHECK(pthread_create(&last, NULL, last_one, NULL) == 0);
		pthread_exit(NULL);
	}
	printf("pthread_exit child exit %d\n", wait_status(pid));

	forking_server();
	fork_in_handler();

	printf("system: %d\n", WEXITSTATUS(system("echo system; exit 4")));
	f = popen("echo popen | tr a-z A-Z", "r");
	CHECK(f && fgets(buf, sizeof(buf), f));
	printf("popen: %s", buf);
	printf("pclose: %d\n", pclose(f));

	close(never[1]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("done\n");
	return 0;
}

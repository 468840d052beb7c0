/* SPDX-License-Identifier: MIT */
/*
 * A signal handler runs while the main thread is blocked in each kind of
 * call the shim interposes, once with SA_RESTART and once without: read,
 * write to a full pipe, accept, connect to a full backlog, recv, send to
 * a full socket, poll, select, epoll_wait, nanosleep, sem_wait and
 * sem_timedwait, a futex wait through syscall() with and without a
 * timeout, pthread_cond_wait, pthread_join, waitpid and
 * pthread_mutex_lock.  A shooter thread sends SIGUSR1 to the main thread
 * three times, 50 ms apart, then lets the call finish; what the call
 * returned (restarted and done, or EINTR) must be what it is natively,
 * which signal(7) says: I/O, waitpid, sem_wait and futex waits restart
 * only with SA_RESTART; the waits for fds, sleeps, sem_timedwait and
 * futex waits with a timeout never restart; locks, condition waits and
 * joins are never interrupted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <linux/futex.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile sig_atomic_t hits;
static pthread_t main_thread;

static void on_signal(int sig)
{
	(void)sig;
	hits++;
}

static int p[2], s[2], lfd, cfd, afd, ep;
static sem_t sem, held;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool flag;
static pthread_t joinee;
static struct sockaddr_in addr;

static void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	CHECK(fl >= 0);
	CHECK(fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) == 0);
}

/* Write to fd without blocking until it would block. */
static void fill(int fd)
{
	static char junk[4096];

	set_nonblock(fd, true);
	while (write(fd, junk, sizeof(junk)) > 0)
		;
	CHECK(errno == EAGAIN);
	while (write(fd, junk, 1) > 0)
		;
	CHECK(errno == EAGAIN);
	set_nonblock(fd, false);
}

/* Read what fd holds, without blocking. */
static void drain(int fd)
{
	char buf[4096];

	set_nonblock(fd, true);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	set_nonblock(fd, false);
}

static int listener(int backlog)
{
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	addr = (struct sockaddr_in){ .sin_family = AF_INET };
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(fd, backlog) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)&addr, &len) == 0);
	return fd;
}

static int connected(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0);
	CHECK(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	return fd;
}

static void *joined(void *arg)
{
	char c;

	(void)arg;
	CHECK(read(p[0], &c, 1) == 1);
	return NULL;
}

/* ---- the calls, each with what sets it up, lets it finish, undoes it ---- */

struct call {
	const char *name;
	void (*setup)(void);
	long (*call)(void);   /* the result, or -errno */
	void (*finish)(void); /* from the shooter, after its shots */
	void (*cleanup)(void);
};

static long ret(long r)
{
	return r < 0 ? -errno : r;
}

static void setup_pipe(void)
{
	CHECK(pipe(p) == 0);
}

static void cleanup_pipe(void)
{
	close(p[0]);
	close(p[1]);
}

static void finish_write1(void)
{
	CHECK(write(p[1], "x", 1) == 1);
}

static long call_read(void)
{
	char c;

	return ret(read(p[0], &c, 1));
}

static void setup_full_pipe(void)
{
	setup_pipe();
	fill(p[1]);
}

static long call_write(void)
{
	return ret(write(p[1], "y", 1));
}

static void finish_drain_pipe(void)
{
	drain(p[0]);
}

static void setup_listener(void)
{
	lfd = listener(16);
	cfd = afd = -1;
}

static long call_accept(void)
{
	afd = accept(lfd, NULL, NULL);
	return afd < 0 ? -errno : 0;
}

static void finish_connect(void)
{
	cfd = connected();
}

static void cleanup_sockets(void)
{
	close(lfd);
	if (cfd >= 0)
		close(cfd);
	if (afd >= 0)
		close(afd);
}

/*
 * A backlog of 0 queues one connection; a second one's SYN is dropped
 * and retried a second later, so its connect blocks until an accept
 * makes room.
 */
static int queued;

static void setup_full_backlog(void)
{
	lfd = listener(0);
	queued = connected();
	afd = -1;
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(cfd >= 0);
}

static long call_connect(void)
{
	return ret(connect(cfd, (struct sockaddr *)&addr, sizeof(addr)));
}

static void finish_accept(void)
{
	afd = accept(lfd, NULL, NULL);
	CHECK(afd >= 0);
}

static void cleanup_backlog(void)
{
	close(queued);
	cleanup_sockets();
}

static void setup_socketpair(void)
{
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
}

static void cleanup_socketpair(void)
{
	close(s[0]);
	close(s[1]);
}

static long call_recv(void)
{
	char c;

	return ret(recv(s[0], &c, 1, 0));
}

static void finish_send1(void)
{
	CHECK(send(s[1], "z", 1, 0) == 1);
}

static void setup_full_socket(void)
{
	setup_socketpair();
	fill(s[0]);
}

static long call_send(void)
{
	return ret(send(s[0], "w", 1, 0));
}

static void finish_drain_socket(void)
{
	drain(s[1]);
}

static long call_poll(void)
{
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };

	return ret(poll(&pfd, 1, -1));
}

static long call_select(void)
{
	fd_set rd;

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	return ret(select(p[0] + 1, &rd, NULL, NULL, NULL));
}

static void setup_epoll(void)
{
	struct epoll_event ev = { .events = EPOLLIN };

	setup_pipe();
	ep = epoll_create1(0);
	CHECK(ep >= 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
}

static long call_epoll_wait(void)
{
	struct epoll_event ev;

	return ret(epoll_wait(ep, &ev, 1, -1));
}

static void cleanup_epoll(void)
{
	close(ep);
	cleanup_pipe();
}

static void nothing(void)
{
}

static long call_nanosleep(void)
{
	struct timespec ts = { 2, 0 };

	return ret(nanosleep(&ts, NULL));
}

static void setup_sem(void)
{
	CHECK(sem_init(&sem, 0, 0) == 0);
}

static long call_sem_wait(void)
{
	return ret(sem_wait(&sem));
}

static long call_sem_timedwait(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	return ret(sem_timedwait(&sem, &ts));
}

static void finish_sem_post(void)
{
	CHECK(sem_post(&sem) == 0);
}

static void cleanup_sem(void)
{
	sem_destroy(&sem);
}

/* A raw futex wait through syscall(), as C++ atomics and Rust make. */
static unsigned word;

static void setup_futex(void)
{
	__atomic_store_n(&word, 0, __ATOMIC_SEQ_CST);
}

static long call_futex(void)
{
	return ret(syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
			   0));
}

static long call_futex_timed(void)
{
	struct timespec ts = { 10, 0 };

	return ret(
		syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0));
}

static void finish_futex(void)
{
	__atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void setup_cond(void)
{
	flag = false;
}

/* Returns the first non-zero result of a wait, or 0. */
static long call_cond_wait(void)
{
	long r = 0;
	int e;

	pthread_mutex_lock(&m);
	while (!flag)
		if ((e = pthread_cond_wait(&cv, &m)) && !r)
			r = -e;
	pthread_mutex_unlock(&m);
	return r;
}

static void finish_cond(void)
{
	pthread_mutex_lock(&m);
	flag = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&m);
}

static void setup_join(void)
{
	setup_pipe();
	CHECK(pthread_create(&joinee, NULL, joined, NULL) == 0);
}

static long call_join(void)
{
	return -pthread_join(joinee, NULL);
}

/* A child that exits once the pipe says so. */
static pid_t kid;

static void setup_child(void)
{
	setup_pipe();
	kid = fork();
	CHECK(kid >= 0);
	if (kid == 0) {
		char c;

		_exit(read(p[0], &c, 1) == 1 ? 9 : 1);
	}
}

static long call_waitpid(void)
{
	int st;
	pid_t r = waitpid(kid, &st, 0);

	if (r < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 9 ? 0 : -EPROTO;
}

static void cleanup_child(void)
{
	waitpid(kid, NULL, 0); /* if the wait was interrupted */
	cleanup_pipe();
}

static void setup_mutex(void)
{
	CHECK(sem_init(&held, 0, 0) == 0);
}

/* The shooter holds m before the first shot, and lets it go to finish. */
static long call_mutex_lock(void)
{
	int e;

	while (sem_wait(&held) != 0)
		;
	e = pthread_mutex_lock(&m);
	if (!e)
		pthread_mutex_unlock(&m);
	return -e;
}

static void finish_mutex(void)
{
	pthread_mutex_unlock(&m);
}

static void cleanup_mutex(void)
{
	sem_destroy(&held);
}

static const struct call calls[] = {
	{ "read", setup_pipe, call_read, finish_write1, cleanup_pipe },
	{ "write to a full pipe", setup_full_pipe, call_write,
	  finish_drain_pipe, cleanup_pipe },
	{ "accept", setup_listener, call_accept, finish_connect,
	  cleanup_sockets },
	{ "connect to a full backlog", setup_full_backlog, call_connect,
	  finish_accept, cleanup_backlog },
	{ "recv", setup_socketpair, call_recv, finish_send1,
	  cleanup_socketpair },
	{ "send to a full socket", setup_full_socket, call_send,
	  finish_drain_socket, cleanup_socketpair },
	{ "poll", setup_pipe, call_poll, finish_write1, cleanup_pipe },
	{ "select", setup_pipe, call_select, finish_write1, cleanup_pipe },
	{ "epoll_wait", setup_epoll, call_epoll_wait, finish_write1,
	  cleanup_epoll },
	{ "nanosleep", nothing, call_nanosleep, nothing, nothing },
	{ "sem_wait", setup_sem, call_sem_wait, finish_sem_post, cleanup_sem },
	{ "sem_timedwait", setup_sem, call_sem_timedwait, finish_sem_post,
	  cleanup_sem },
	{ "futex wait", setup_futex, call_futex, finish_futex, nothing },
	{ "futex wait, a timeout", setup_futex, call_futex_timed, finish_futex,
	  nothing },
	{ "pthread_cond_wait", setup_cond, call_cond_wait, finish_cond,
	  nothing },
	{ "pthread_join", setup_join, call_join, finish_write1, cleanup_pipe },
	{ "waitpid", setup_child, call_waitpid, finish_write1, cleanup_child },
	{ "pthread_mutex_lock", setup_mutex, call_mutex_lock, finish_mutex,
	  cleanup_mutex },
};

/* ---- the shooter ---- */

struct shooter {
	const struct call *c;
	volatile sig_atomic_t returned;
};

static void *shoot(void *arg)
{
	struct shooter *sh = arg;

	if (sh->c->call == call_mutex_lock) {
		pthread_mutex_lock(&m);
		CHECK(sem_post(&held) == 0);
	}
	for (int i = 0; i < 3 && !sh->returned; i++) {
		usleep(50 * 1000);
		if (!sh->returned)
			CHECK(pthread_kill(main_thread, SIGUSR1) == 0);
	}
	usleep(20 * 1000);
	sh->c->finish();
	return NULL;
}

static void try(const struct call *c, int flags)
{
	struct sigaction a = { .sa_handler = on_signal, .sa_flags = flags };
	struct shooter sh = { c, 0 };
	pthread_t t;
	long r;

	sigemptyset(&a.sa_mask);
	CHECK(sigaction(SIGUSR1, &a, NULL) == 0);
	hits = 0;
	c->setup();
	CHECK(pthread_create(&t, NULL, shoot, &sh) == 0);
	r = c->call();
	sh.returned = 1;
	CHECK(pthread_join(t, NULL) == 0);
	/* Interrupted: the call's business is still to finish. */
	if (r == -EINTR && c->call == call_join)
		CHECK(pthread_join(joinee, NULL) == 0);
	c->cleanup();
	printf("%-26s %-13s %s, handler ran: %s\n", c->name,
	       flags ? "SA_RESTART" : "no SA_RESTART",
	       r >= 0 ? "done" : strerror((int)-r), hits ? "yes" : "no");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	main_thread = pthread_self();
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		try(&calls[i], 0);
		try(&calls[i], SA_RESTART);
	}
	printf("done\n");
	return 0;
}

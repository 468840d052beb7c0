/* SPDX-License-Identifier: MIT */
/*
 * The fault sweep's program under the shim: an ordinary blocking pthread
 * program that knows nothing of weft.  Threads, keys, a barrier, mutex,
 * condition and semaphore, a pipe stream and a socket stream with every
 * byte checked, socket timeouts (also through a dup), non-blocking fds,
 * poll and select of many fds, sendfile, getaddrinfo, sleeps.
 *
 * Exit 0: every result was right.  Exit 3: a call failed with an errno a
 * native call may give when resources run out (EAGAIN, ENOMEM, ENFILE,
 * EMFILE, ENOBUFS), said on stdout, and everything else was right.
 * Exit 1 and "FAIL: ...": a wrong result, a lost or duplicated byte, an
 * unexpected errno, or an fd left open.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fail.h"

#define THREADS 40
#define PIPE_BYTES (256 * 1024)
#define IOVS 20
#define MANY 40

static int first_error;

/* e from step: a resource errno is noted (true), anything else fails. */
static bool error(const char *step, int e)
{
	if (e != EAGAIN && e != ENOMEM && e != ENFILE && e != EMFILE &&
	    e != ENOBUFS)
		fail("%s: unexpected %s", step, strerror(e));
	printf("error: %s: %s\n", step, strerror(e));
	if (!first_error)
		first_error = e;
	return true;
}

/* A call that returns -1 and errno: false if it failed (noted). */
static bool ok(const char *step, long r)
{
	return r >= 0 || !error(step, errno);
}

static unsigned char pattern(size_t off)
{
	return (unsigned char)(off * 5 + off / 241 + 1);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		fail("/proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static void nap_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- threads, keys, a barrier, locks ---- */

static pthread_key_t key;
static pthread_barrier_t barrier;
static bool have_barrier;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static sem_t sem;

static void *worker(void *arg)
{
	long i = (long)arg;
	int r = pthread_setspecific(key, (void *)(i + 1));
	bool keyed = !r || !error("pthread_setspecific", r);

	if (have_barrier && i == 0) {
		r = pthread_barrier_wait(&barrier);
		if (r && r != PTHREAD_BARRIER_SERIAL_THREAD)
			fail("barrier wait: %s", strerror(r));
	}
	for (int k = 0; k < 50; k++) {
		pthread_mutex_lock(&m);
		counter++;
		pthread_cond_signal(&cv);
		pthread_mutex_unlock(&m);
		if (k % 10 == 0)
			sched_yield();
	}
	sem_post(&sem);
	if (!keyed)
		return (void *)-1L;
	if (pthread_getspecific(key) != (void *)(i + 1))
		fail("a key's value changed");
	return (void *)(i * i);
}

static void threads(void)
{
	pthread_t t[THREADS];
	int n = 0, r;

	if ((r = pthread_key_create(&key, NULL)))
		fail("pthread_key_create: %s", strerror(r));
	r = pthread_barrier_init(&barrier, NULL, 2); /* main and thread 0 */
	have_barrier = !r || !error("pthread_barrier_init", r);
	sem_init(&sem, 0, 0);
	counter = 0;
	for (; n < THREADS; n++) {
		r = pthread_create(&t[n], NULL, worker, (void *)(long)n);
		if (r) {
			error("pthread_create", r);
			break;
		}
		if (n == 0 && have_barrier) {
			r = pthread_barrier_wait(&barrier);
			if (r && r != PTHREAD_BARRIER_SERIAL_THREAD)
				fail("barrier wait: %s", strerror(r));
		}
	}
	for (int i = 0; i < n; i++) {
		void *v;

		if ((r = pthread_join(t[i], &v)))
			fail("pthread_join: %s", strerror(r));
		if (v != (void *)-1L && v != (void *)((long)i * i))
			fail("thread %d returned %ld", i, (long)v);
	}
	for (int i = 0; i < n; i++)
		if (sem_trywait(&sem))
			fail("a post is missing");
	if (counter != 50L * n)
		fail("counter %ld, not %ld", counter, 50L * n);
	if (have_barrier)
		pthread_barrier_destroy(&barrier);
	pthread_key_delete(key);
	sem_destroy(&sem);
}

/* ---- streams ---- */

struct stream {
	int fd;
	size_t bytes, done;
	int err;
	bool sock;
};

static void *writer(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[IOVS * 512];
	struct iovec iov[IOVS];

	while (s->done < s->bytes) {
		size_t n = 1 + (s->done * 17) % sizeof(buf);
		ssize_t w;

		if (n > s->bytes - s->done)
			n = s->bytes - s->done;
		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(s->done + i);
		if (n >= IOVS) {
			size_t part = n / IOVS;
			struct msghdr msg = { .msg_iov = iov,
					      .msg_iovlen = IOVS };

			for (int i = 0; i < IOVS; i++)
				iov[i] = (struct iovec){ buf + i * part,
							 i < IOVS - 1 ?
								 part :
								 n - i * part };
			w = s->sock ? sendmsg(s->fd, &msg, 0) :
				      writev(s->fd, iov, IOVS);
		} else {
			w = write(s->fd, buf, n);
		}
		if (w < 0) {
			s->err = errno;
			break;
		}
		if (w == 0 || (size_t)w > n)
			fail("write of %zu gave %zd", n, w);
		s->done += w;
	}
	close(s->fd);
	return NULL;
}

static void *reader(void *arg)
{
	struct stream *s = arg;
	unsigned char buf[4096];

	for (;;) {
		size_t want = 1 + (s->done * 3) % sizeof(buf);
		ssize_t r = s->sock ? recv(s->fd, buf, want, 0) :
				      read(s->fd, buf, want);

		if (r < 0 && errno == EAGAIN && s->sock)
			continue; /* its receive timeout: wait on */
		if (r < 0)
			fail("read: %s", strerror(errno));
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(s->done + i))
				fail("byte %zu is wrong", s->done + i);
		s->done += r;
	}
	close(s->fd);
	return NULL;
}

static void stream(const char *who, int wfd, int rfd, bool sock)
{
	struct stream w = { wfd, PIPE_BYTES, 0, 0, sock };
	struct stream r = { rfd, 0, 0, 0, sock };
	pthread_t tw, tr;
	int e;

	if ((e = pthread_create(&tr, NULL, reader, &r))) {
		error(who, e);
		close(wfd);
		close(rfd);
		return;
	}
	if ((e = pthread_create(&tw, NULL, writer, &w))) {
		error(who, e);
		close(wfd);
	} else {
		pthread_join(tw, NULL);
	}
	pthread_join(tr, NULL);
	if (r.done != w.done)
		fail("%s: %zu bytes written, %zu read", who, w.done, r.done);
	if (w.err)
		error(who, w.err);
	else if (!e && w.done != w.bytes)
		fail("%s: %zu of %zu written", who, w.done, w.bytes);
}

static int64_t ms_since(struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 +
	       (b.tv_nsec - a->tv_nsec) / 1000000;
}

/* A receive on fd with a 5 ms timeout fails with EAGAIN, in time. */
static void times_out(const char *who, int fd)
{
	struct timespec t0;
	char c;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (recv(fd, &c, 1, 0) != -1 || errno != EAGAIN)
		fail("%s: a recv with a timeout did not time out", who);
	if (ms_since(&t0) < 4)
		fail("%s: the timeout came early", who);
}

static void streams(void)
{
	struct timeval tv = { 0, 5000 }, slow = { 10, 0 };
	int p[2], s[2], d;

	if (ok("pipe", pipe(p)))
		stream("pipe", p[1], p[0], false);

	if (!ok("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, s)))
		return;
	if (ok("setsockopt",
	       setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))) {
		times_out("socket", s[0]);
		d = dup(s[0]);
		if (ok("dup", d)) {
			times_out("dup", d);
			close(d);
		}
	}
	/* A send with a timeout that never comes: timeo.c's send. */
	ok("setsockopt",
	   setsockopt(s[1], SOL_SOCKET, SO_SNDTIMEO, &slow, sizeof(slow)));
	stream("socket", s[1], s[0], true);
}

/* ---- non-blocking fds, poll and select of many ---- */

static void nothing(int sig)
{
}

/* ppoll with a mask that lets in a signal with a handler: a signalfd. */
static void masked_poll(struct pollfd *pf)
{
	struct sigaction sa = { .sa_handler = nothing };
	struct timespec ts = { 0, 2000000 };
	sigset_t usr2, old;
	int r;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigaction(SIGUSR2, &sa, NULL);
	sigprocmask(SIG_BLOCK, &usr2, &old);
	r = ppoll(pf, MANY, &ts, &old);
	if (r != 0 && ok("ppoll", r))
		fail("ppoll of idle pipes with a mask: %d", r);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void many(void)
{
	int p[MANY][2], n = 0, one = 1, r;
	struct pollfd pf[MANY];
	fd_set rd;
	struct timeval tv = { 0, 2000 };
	char c;

	for (; n < MANY; n++)
		if (!ok("pipe", pipe(p[n])))
			break;
	if (n == MANY) {
		fcntl(p[0][0], F_SETFL, O_NONBLOCK);
		if (read(p[0][0], &c, 1) != -1 || errno != EAGAIN)
			fail("a read of an O_NONBLOCK pipe did not fail");
		ioctl(p[1][0], FIONBIO, &one);
		if (read(p[1][0], &c, 1) != -1 || errno != EAGAIN)
			fail("a read of a FIONBIO pipe did not fail");

		for (int i = 0; i < MANY; i++)
			pf[i] = (struct pollfd){ .fd = p[i][0],
						 .events = POLLIN };
		r = poll(pf, MANY, 2);
		if (r != 0 && ok("poll", r))
			fail("poll of idle pipes: %d", r);
		masked_poll(pf);
		if (write(p[MANY - 1][1], "x", 1) != 1)
			fail("write: %s", strerror(errno));
		r = poll(pf, MANY, 10000);
		if (ok("poll", r) &&
		    (r != 1 || !(pf[MANY - 1].revents & POLLIN)))
			fail("poll of a ready pipe: %d", r);

		FD_ZERO(&rd);
		FD_SET(p[MANY - 2][0], &rd);
		r = select(p[MANY - 2][0] + 1, &rd, NULL, NULL, &tv);
		if (r != 0 && ok("select", r))
			fail("select of an idle pipe: %d", r);
	}
	for (int i = 0; i < n; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

/* ---- sendfile, getaddrinfo, sleeps ---- */

static void files(void)
{
	char path[] = "/tmp/weft-fault-XXXXXX", buf[4096];
	int fd = mkstemp(path), p[2];
	ssize_t r;
	size_t got = 0;

	if (!ok("mkstemp", fd))
		return;
	unlink(path);
	for (int i = 0; i < 16; i++) {
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (char)pattern(i * sizeof(buf) + k);
		if (write(fd, buf, sizeof(buf)) != sizeof(buf))
			fail("write of a file: %s", strerror(errno));
	}
	if (ok("pipe", pipe(p))) {
		off_t off = 0;

		fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
		r = sendfile(p[1], fd, &off, 16 * sizeof(buf));
		if (ok("sendfile", r)) {
			close(p[1]);
			while ((r = read(p[0], buf, sizeof(buf))) > 0) {
				for (ssize_t k = 0; k < r; k++)
					if ((unsigned char)buf[k] !=
					    pattern(got + k))
						fail("sendfile byte %zu",
						     got + k);
				got += r;
			}
			if (got != (size_t)off)
				fail("sendfile moved %zu, read %zu",
				     (size_t)off, got);
		} else {
			close(p[1]);
		}
		close(p[0]);
	}
	close(fd);
}

static void resolve(void)
{
	struct addrinfo hints = { .ai_family = AF_INET,
				  .ai_socktype = SOCK_STREAM },
			*res;
	int r = getaddrinfo("localhost", "80", &hints, &res);

	if (r == EAI_MEMORY || r == EAI_AGAIN) {
		error("getaddrinfo", r == EAI_MEMORY ? ENOMEM : EAGAIN);
		return;
	}
	if (r)
		fail("getaddrinfo: %s", gai_strerror(r));
	freeaddrinfo(res);
}

int main(void)
{
	int fds;

	setvbuf(stdout, NULL, _IOLBF, 0);
	fds = open_fds();
	threads();
	streams();
	many();
	files();
	resolve();
	nap_ms(2);
	if (open_fds() != fds)
		fail("fds: %d at the start, %d at the end", fds, open_fds());
	if (first_error) {
		printf("done, with errors\n");
		return 3;
	}
	printf("done\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * close() of an fd another thread is blocked on.  On Linux the close
 * takes the fd out of the table but not the file from under the call,
 * which holds its own reference: a read blocked on a pipe or a socket
 * goes on until data or EOF comes from the other end, an accept until a
 * connection comes, a poll until the file is woken, and then finds the
 * fd gone (POLLNVAL).  Each case runs ROUNDS times on pipes, AF_UNIX and
 * TCP sockets and a listener, the close coming at once or a moment
 * after the call started; what most rounds did is printed, and anything
 * else than EBADF (the close having come first).  Output is the same
 * natively.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

#define ROUNDS 200

enum { PIPE, SOCKET, TCP, LISTENER };

struct race {
	int kind;  /* PIPE, SOCKET (AF_UNIX), TCP, LISTENER */
	int op;	   /* 'r' read, 'a' accept, 'p' poll */
	int fd;	   /* the one closed under the call */
	int other; /* the pipe's write end, the socket's peer */
	struct sockaddr_in addr;
	atomic_int started;
	long result; /* of the call, or -errno */
	short revents;
};

static void *blocked(void *arg)
{
	struct race *r = arg;
	char c;

	atomic_store(&r->started, 1);
	if (r->op == 'r') {
		ssize_t n = read(r->fd, &c, 1);

		r->result = n < 0 ? -errno : n;
	} else if (r->op == 'a') {
		int fd = accept(r->fd, NULL, NULL);

		r->result = fd < 0 ? -errno : 0;
		if (fd >= 0)
			close(fd);
	} else {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		int n = poll(&p, 1, 1000);

		r->result = n < 0 ? -errno : n;
		r->revents = p.revents;
	}
	return NULL;
}

static void listen_on(struct race *r)
{
	socklen_t len = sizeof(r->addr);

	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(r->fd >= 0);
	r->addr = (struct sockaddr_in){ .sin_family = AF_INET };
	r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(r->fd, (struct sockaddr *)&r->addr, sizeof(r->addr)) == 0);
	CHECK(listen(r->fd, 16) == 0);
	CHECK(getsockname(r->fd, (struct sockaddr *)&r->addr, &len) == 0);
}

static void setup(struct race *r)
{
	int fds[2];

	if (r->kind == PIPE) {
		CHECK(pipe(fds) == 0);
		r->fd = fds[0];
		r->other = fds[1];
	} else if (r->kind == SOCKET) {
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
		r->fd = fds[0];
		r->other = fds[1];
	} else if (r->kind == TCP) {
		int l;

		listen_on(r);
		l = r->fd;
		r->other = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(r->other >= 0);
		CHECK(connect(r->other, (struct sockaddr *)&r->addr,
			      sizeof(r->addr)) == 0);
		r->fd = accept(l, NULL, NULL);
		CHECK(r->fd >= 0);
		close(l);
	} else {
		listen_on(r);
		/*
		 * The client's socket comes first: made after the close, it
		 * would take the closed fd's number, and a poll would then
		 * report on it, natively too (poll looks fds up again).
		 */
		r->other = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(r->other >= 0);
	}
}

/* What the other end does once the fd is closed: data, or a connection. */
static void poke(struct race *r)
{
	if (r->kind == LISTENER) {
		/* Refused if the listener went away first: also native. */
		connect(r->other, (struct sockaddr *)&r->addr, sizeof(r->addr));
		close(r->other);
	} else {
		/*
		 * EPIPE if the close came before the call took hold of the
		 * pipe (poll holds it while it waits): natively too.
		 */
		ssize_t w = write(r->other, "x", 1);

		CHECK(w == 1 || (w < 0 && errno == EPIPE));
		close(r->other);
	}
}

static const char *outcome(const struct race *r)
{
	static char buf[64];

	if (r->op == 'p' && r->result > 0)
		snprintf(buf, sizeof(buf), "%ld, revents %s", r->result,
			 r->revents == POLLNVAL ? "POLLNVAL" :
			 r->revents & POLLIN	? "POLLIN" :
						  "other");
	else if (r->result >= 0)
		snprintf(buf, sizeof(buf), "%ld", r->result);
	else
		snprintf(buf, sizeof(buf), "%s", strerror((int)-r->result));
	return buf;
}

/*
 * One case, ROUNDS times: the call starts, the fd is closed (at once or
 * after a moment), then the other end acts.  Distinct outcomes, counted.
 */
static void run(const char *name, int kind, int op)
{
	struct {
		char what[64];
		int n;
	} seen[8];
	int nseen = 0;

	for (int i = 0; i < ROUNDS; i++) {
		struct race r = { .kind = kind, .op = op };
		pthread_t t;
		int k;

		setup(&r);
		CHECK(pthread_create(&t, NULL, blocked, &r) == 0);
		while (!atomic_load(&r.started))
			usleep(100);
		/* Most rounds the call has blocked by now; some not. */
		usleep(i % 4 ? 2000 : 0);
		CHECK(close(r.fd) == 0);
		usleep(1000);
		poke(&r);
		CHECK(pthread_join(t, NULL) == 0);
		for (k = 0; k < nseen; k++)
			if (!strcmp(seen[k].what, outcome(&r)))
				break;
		if (k == nseen && nseen < 8) {
			snprintf(seen[k].what, sizeof(seen[k].what), "%s",
				 outcome(&r));
			seen[k].n = 0;
			nseen++;
		}
		seen[k].n++;
	}
	/*
	 * What most rounds did, and nothing else but EBADF, when the close
	 * came before the call did (natively a matter of timing too).
	 */
	for (int k = 0; k < nseen; k++)
		if (seen[k].n > ROUNDS / 2)
			printf("%-22s %s\n", name, seen[k].what);
		else if (strcmp(seen[k].what, strerror(EBADF)))
			printf("%-22s also %s (%d times)\n", name, seen[k].what,
			       seen[k].n);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); /* see poke */
	run("read, pipe", PIPE, 'r');
	run("read, socket", SOCKET, 'r');
	run("read, TCP", TCP, 'r');
	run("accept", LISTENER, 'a');
	run("poll, pipe", PIPE, 'p');
	run("poll, socket", SOCKET, 'p');
	run("poll, TCP", TCP, 'p');
	run("poll, listener", LISTENER, 'p');
	return 0;
}

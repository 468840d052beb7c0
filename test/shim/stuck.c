/* SPDX-License-Identifier: MIT */
/*
 * A thread blocked where the shim cannot see, which only the work of
 * other threads releases: under the shim the monitor must run them on
 * another carrier, or the program hangs.  usage: shim_stuck KIND, with
 * KIND one of
 *   fgets      fgets() on a pipe: stdio's internal read is not the shim's
 *   flock      flock() on a file another descriptor has locked
 *   waitpid    waitpid() for a child that waits for the workers
 *   flockfile  printf() on stdout while another thread, on another
 *              carrier, holds its FILE lock (a libc-internal lock)
 *   spin       poll() in a loop on a pipe that threads parked in read()
 *              drain: a blocking call that never blocks, so the carrier
 *              never comes back to run the readers it holds
 * Output is the same natively; the wall time, bounded, goes to stderr.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define WORKERS 20
#define TIME_LIMIT 10 /* seconds, for the whole run */

static atomic_int finished;
static void (*release)(void); /* what the last worker to finish does */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Some work, a sleep (it parks), and the last one releases the blocked. */
static void *worker(void *arg)
{
	volatile unsigned long x = 0;

	for (unsigned long i = 0; i < 100000; i++)
		x += i;
	(void)x;
	usleep(2000);
	if (atomic_fetch_add(&finished, 1) == WORKERS - 1)
		release();
	return NULL;
}

static void start_workers(pthread_t *w)
{
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, worker, NULL) == 0);
}

static void join_workers(pthread_t *w)
{
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_join(w[i], NULL) == 0);
}

/* ---- fgets ---- */

static int line[2];
static char got[64];

static void write_line(void)
{
	static const char msg[] = "hello from the workers\n";

	CHECK(write(line[1], msg, strlen(msg)) == (ssize_t)strlen(msg));
}

static void *reader(void *arg)
{
	FILE *in = arg;

	CHECK(fgets(got, sizeof(got), in));
	return NULL;
}

/* ---- flock ---- */

static int held, wanted; /* two descriptions of one file */

static void unlock_file(void)
{
	CHECK(flock(held, LOCK_UN) == 0);
}

static void *locker(void *arg)
{
	CHECK(flock(wanted, LOCK_EX) == 0);
	CHECK(flock(wanted, LOCK_UN) == 0);
	return NULL;
}

/* ---- waitpid ---- */

static int go[2];
static pid_t child;
static int child_status;

static void let_child_go(void)
{
	CHECK(write(go[1], "x", 1) == 1);
}

static void *waiter(void *arg)
{
	CHECK(waitpid(child, &child_status, 0) == child);
	return NULL;
}

/* ---- flockfile ---- */

/*
 * A spins until B has arrived, so that they run on two carriers at once;
 * then A holds stdout's lock and sleeps (it parks, its carrier is free),
 * until the workers B started just before it blocked on that lock are
 * done.
 */
static atomic_int arrived, locked;
static pthread_t w_of_b[WORKERS];

static void nothing(void)
{
}

static void *holder(void *arg)
{
	double end = now() + TIME_LIMIT;

	atomic_fetch_add(&arrived, 1);
	while (atomic_load(&arrived) < 2)
		;
	flockfile(stdout);
	printf("A holds stdout\n");
	atomic_store(&locked, 1);
	while (atomic_load(&finished) < WORKERS && now() < end)
		usleep(1000);
	printf("A lets go after %d workers\n", atomic_load(&finished));
	funlockfile(stdout);
	return NULL;
}

static void *printer(void *arg)
{
	atomic_fetch_add(&arrived, 1);
	while (atomic_load(&arrived) < 2 || !atomic_load(&locked))
		;
	start_workers(w_of_b);
	printf("B printed once A let go\n");
	return NULL;
}

/* ---- spin ---- */

static int bytes[2];

static void *drainer(void *arg)
{
	char x;

	CHECK(read(bytes[0], &x, 1) == 1);
	atomic_fetch_add(&finished, 1);
	return NULL;
}

/*
 * The drainers run and park in read() before the bytes come (so their
 * completions wait on the carrier they ran on, where main spins); main
 * polls until they are done, and the fd is ready every time but the last.
 */
static void spin(void)
{
	struct pollfd p = { .events = POLLIN };
	double end = now() + TIME_LIMIT;
	pthread_t w[WORKERS];
	char x[WORKERS];

	CHECK(pipe(bytes) == 0);
	p.fd = bytes[0];
	for (int i = 0; i < WORKERS; i++)
		CHECK(pthread_create(&w[i], NULL, drainer, NULL) == 0);
	usleep(50000);
	memset(x, 'x', sizeof(x));
	CHECK(write(bytes[1], x, sizeof(x)) == sizeof(x));
	while (atomic_load(&finished) < WORKERS && now() < end)
		CHECK(poll(&p, 1, 1) >= 0);
	if (atomic_load(&finished) == WORKERS)
		join_workers(w);
	printf("the drainers were done while main polled: %s\n",
	       atomic_load(&finished) == WORKERS ? "yes" : "no");
	close(bytes[0]);
	close(bytes[1]);
}

int main(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "";
	double t0 = now();
	pthread_t b, c, w[WORKERS];
	char path[] = "/tmp/weft-stuck-XXXXXX";

	if (!strcmp(kind, "fgets")) {
		FILE *in;

		CHECK(pipe(line) == 0);
		CHECK((in = fdopen(line[0], "r")));
		release = write_line;
		CHECK(pthread_create(&b, NULL, reader, in) == 0);
		start_workers(w);
		join_workers(w);
		CHECK(pthread_join(b, NULL) == 0);
		printf("read: %s", got);
		fclose(in);
		close(line[1]);
	} else if (!strcmp(kind, "flock")) {
		CHECK((held = mkstemp(path)) >= 0);
		CHECK((wanted = open(path, O_RDWR | O_CLOEXEC)) >= 0);
		unlink(path);
		CHECK(flock(held, LOCK_EX) == 0);
		release = unlock_file;
		CHECK(pthread_create(&b, NULL, locker, NULL) == 0);
		start_workers(w);
		join_workers(w);
		CHECK(pthread_join(b, NULL) == 0);
		printf("the lock was had after the workers let it go\n");
		close(held);
		close(wanted);
	} else if (!strcmp(kind, "waitpid")) {
		char x;

		CHECK(pipe(go) == 0);
		fflush(stdout);
		CHECK((child = fork()) >= 0);
		if (child == 0) {
			close(go[1]);
			_exit(read(go[0], &x, 1) == 1 ? 7 : 1);
		}
		close(go[0]);
		release = let_child_go;
		CHECK(pthread_create(&b, NULL, waiter, NULL) == 0);
		start_workers(w);
		join_workers(w);
		CHECK(pthread_join(b, NULL) == 0);
		printf("the child exited with %d\n", WEXITSTATUS(child_status));
		close(go[1]);
	} else if (!strcmp(kind, "flockfile")) {
		release = nothing;
		CHECK(pthread_create(&b, NULL, holder, NULL) == 0);
		CHECK(pthread_create(&c, NULL, printer, NULL) == 0);
		CHECK(pthread_join(b, NULL) == 0);
		CHECK(pthread_join(c, NULL) == 0);
		join_workers(w_of_b);
	} else if (!strcmp(kind, "spin")) {
		spin();
	} else {
		fprintf(stderr,
			"usage: %s fgets|flock|waitpid|flockfile|spin\n",
			argv[0]);
		return 2;
	}
	printf("%d workers finished\n", atomic_load(&finished));
	fprintf(stderr, "%s: %.3f s\n", kind, now() - t0);
	printf("within %d s: %s\n", TIME_LIMIT,
	       now() - t0 < TIME_LIMIT ? "yes" : "no");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Raw futexes through syscall(), as C++ atomics and Rust's std make
 * them: FUTEX_WAIT and FUTEX_WAIT_BITSET (private and shared, relative,
 * absolute and CLOCK_REALTIME timeouts) and their exact results (0,
 * EAGAIN, ETIMEDOUT, EINTR as signal(7) has it), FUTEX_WAKE(_BITSET)
 * counts and masks, threads ping-ponging on one word (run on one carrier,
 * a waiter that blocked its carrier would hang the waker), a wait armed
 * before the process has a second kernel thread, a kernel thread (glibc's
 * own, for a SIGEV_THREAD timer) waking a thread and woken by one, a
 * process-shared futex across fork, and other numbers passing through.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define NS 1000000000LL

static long futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts,
		  uint32_t mask)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, mask);
}

static const char *result(long r)
{
	static char buf[32];

	if (r >= 0) {
		snprintf(buf, sizeof(buf), "%ld", r);
		return buf;
	}
	return errno == EAGAIN	  ? "EAGAIN" :
	       errno == ETIMEDOUT ? "ETIMEDOUT" :
	       errno == EINTR	  ? "EINTR" :
	       errno == EINVAL	  ? "EINVAL" :
	       errno == ENOSYS	  ? "ENOSYS" :
				    strerror(errno);
}

static int64_t now(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static struct timespec ts_of(int64_t ns)
{
	return (struct timespec){ ns / NS, ns % NS };
}

static void pause_ms(int ms)
{
	struct timespec ts = ts_of(ms * 1000000LL);

	while (nanosleep(&ts, &ts) < 0)
		;
}

/* Wait while *w == val, as a careful user does: until it changes. */
static void wait_while(uint32_t *w, uint32_t val, int op)
{
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == val)
		futex(w, op, val, NULL, FUTEX_BITSET_MATCH_ANY);
}

static void store_wake(uint32_t *w, uint32_t val, int op)
{
	__atomic_store_n(w, val, __ATOMIC_RELEASE);
	futex(w, op, INT_MAX, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* ---- ping-pong: two threads hand a token back and forth ---- */

#define ROUNDS 2000
static uint32_t token;

static void *pong(void *arg)
{
	for (uint32_t i = 0; i < ROUNDS; i++) {
		wait_while(&token, 2 * i, FUTEX_WAIT_PRIVATE);
		store_wake(&token, 2 * i + 2, FUTEX_WAKE_PRIVATE);
	}
	return NULL;
}

static void ping_pong(void)
{
	pthread_t t;

	CHECK(pthread_create(&t, NULL, pong, NULL) == 0);
	for (uint32_t i = 0; i < ROUNDS; i++) {
		store_wake(&token, 2 * i + 1, FUTEX_WAKE_PRIVATE);
		wait_while(&token, 2 * i + 1, FUTEX_WAIT_PRIVATE);
	}
	CHECK(pthread_join(t, NULL) == 0);
	printf("ping-pong: %u rounds, token %u\n", ROUNDS, token);
}

/* ---- results of single waits ---- */

static void results(void)
{
	uint32_t w = 5;
	struct timespec rel = ts_of(30 * 1000000LL), ts;
	int64_t t0;
	long r;

	r = futex(&w, FUTEX_WAIT_PRIVATE, 4, NULL, 0);
	printf("FUTEX_WAIT, another value: %s\n", result(r));
	t0 = now(CLOCK_MONOTONIC);
	r = futex(&w, FUTEX_WAIT_PRIVATE, 5, &rel, 0);
	printf("FUTEX_WAIT, 30 ms: %s, waited %s\n", result(r),
	       now(CLOCK_MONOTONIC) - t0 >= 30000000 ? "enough" : "too little");
	r = futex(&w, FUTEX_WAIT, 5, &rel, 0);
	printf("FUTEX_WAIT shared, 30 ms: %s\n", result(r));
	t0 = now(CLOCK_MONOTONIC);
	ts = ts_of(t0 + 30000000);
	r = futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &ts,
		  FUTEX_BITSET_MATCH_ANY);
	printf("FUTEX_WAIT_BITSET, monotonic deadline: %s, waited %s\n",
	       result(r),
	       now(CLOCK_MONOTONIC) >= t0 + 30000000 ? "enough" : "too little");
	ts = ts_of(now(CLOCK_REALTIME) + 30000000);
	r = futex(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 5, &ts,
		  FUTEX_BITSET_MATCH_ANY);
	printf("FUTEX_WAIT_BITSET, realtime deadline: %s\n", result(r));
	ts = ts_of(now(CLOCK_MONOTONIC) - NS);
	r = futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, &ts,
		  FUTEX_BITSET_MATCH_ANY);
	printf("FUTEX_WAIT_BITSET, deadline passed: %s\n", result(r));
	rel = ts_of(0);
	r = futex(&w, FUTEX_WAIT_PRIVATE, 5, &rel, 0);
	printf("FUTEX_WAIT, 0 ns: %s\n", result(r));
	rel.tv_nsec = NS;
	r = futex(&w, FUTEX_WAIT_PRIVATE, 5, &rel, 0);
	printf("FUTEX_WAIT, bad timeout: %s\n", result(r));
	r = futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 5, NULL, 0);
	printf("FUTEX_WAIT_BITSET, mask 0: %s\n", result(r));
	r = futex(&w, FUTEX_WAIT_PRIVATE | FUTEX_CLOCK_REALTIME, 5, NULL, 0);
	printf("FUTEX_WAIT with FUTEX_CLOCK_REALTIME: %s\n", result(r));
	r = futex((uint32_t *)((char *)&w + 1), FUTEX_WAIT_PRIVATE, 5, NULL, 0);
	printf("FUTEX_WAIT, unaligned: %s\n", result(r));
	r = futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	printf("FUTEX_WAKE, nobody waits: %s\n", result(r));
	r = futex(&w, FUTEX_WAKE_BITSET_PRIVATE, 1, NULL, 0);
	printf("FUTEX_WAKE_BITSET, mask 0: %s\n", result(r));
}

/* ---- wake counts and masks ---- */

#define WAITERS 5
static uint32_t word, ready, woken;

struct waiter {
	uint32_t mask;
	int op;
};

static void *waiter(void *arg)
{
	const struct waiter *wt = arg;

	__atomic_fetch_add(&ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&word, __ATOMIC_ACQUIRE) == 0)
		futex(&word, wt->op, 0, NULL, wt->mask);
	__atomic_fetch_add(&woken, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Start n waiters and let them block. */
static void start_waiters(pthread_t *t, int n, struct waiter *wt)
{
	word = ready = woken = 0;
	for (int i = 0; i < n; i++)
		CHECK(pthread_create(&t[i], NULL, waiter, &wt[i]) == 0);
	while (__atomic_load_n(&ready, __ATOMIC_SEQ_CST) < (uint32_t)n)
		pause_ms(1);
	pause_ms(50); /* in the futex by now */
}

static void counts(void)
{
	struct waiter wt[WAITERS];
	pthread_t t[WAITERS];
	long r;

	for (int i = 0; i < WAITERS; i++)
		wt[i] = (struct waiter){ FUTEX_BITSET_MATCH_ANY,
					 FUTEX_WAIT_PRIVATE };
	start_waiters(t, WAITERS, wt);
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	r = futex(&word, FUTEX_WAKE_PRIVATE, 2, NULL, 0);
	printf("FUTEX_WAKE 2 of %d: %s\n", WAITERS, result(r));
	r = futex(&word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
	printf("FUTEX_WAKE all: %s\n", result(r));
	for (int i = 0; i < WAITERS; i++)
		CHECK(pthread_join(t[i], NULL) == 0);

	for (int i = 0; i < 2; i++)
		wt[i] = (struct waiter){ 1u << i, FUTEX_WAIT_BITSET_PRIVATE };
	start_waiters(t, 2, wt);
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	r = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, 4);
	printf("FUTEX_WAKE_BITSET, mask of nobody: %s\n", result(r));
	r = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, 2);
	printf("FUTEX_WAKE_BITSET, second's mask: %s\n", result(r));
	r = futex(&word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, 1);
	printf("FUTEX_WAKE_BITSET, first's mask: %s\n", result(r));
	for (int i = 0; i < 2; i++)
		CHECK(pthread_join(t[i], NULL) == 0);

	wt[0] = (struct waiter){ FUTEX_BITSET_MATCH_ANY, FUTEX_WAIT };
	start_waiters(t, 1, wt);
	__atomic_store_n(&word, 1, __ATOMIC_RELEASE);
	r = futex(&word, FUTEX_WAKE, 1, NULL, 0);
	printf("FUTEX_WAKE shared: %s\n", result(r));
	CHECK(pthread_join(t[0], NULL) == 0);
}

/* ---- signals: EINTR where the kernel gives it ---- */

static uint32_t sigword;
static volatile sig_atomic_t handled;

static void on_usr1(int sig)
{
	handled++;
}

static void *sig_waiter(void *arg)
{
	const struct timespec *ts = arg;
	long r = futex(&sigword, FUTEX_WAIT_PRIVATE, 0, ts, 0);

	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void interrupted(int flags, bool timed)
{
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = flags };
	struct timespec ts = { 2, 0 };
	pthread_t t;
	void *ret;
	int e;

	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sigword = 0;
	handled = 0;
	CHECK(pthread_create(&t, NULL, sig_waiter, timed ? &ts : NULL) == 0);
	pause_ms(50);
	CHECK(pthread_kill(t, SIGUSR1) == 0);
	pause_ms(50);
	__atomic_store_n(&sigword, 1, __ATOMIC_RELEASE);
	futex(&sigword, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
	CHECK(pthread_join(t, &ret) == 0);
	e = (int)(intptr_t)ret;
	printf("signal during a%s wait, %s: handler ran %d, wait %s\n",
	       timed ? " timed" : "n untimed",
	       flags & SA_RESTART ? "SA_RESTART" : "no SA_RESTART",
	       (int)handled,
	       e == EINTR ? "EINTR" :
	       e == 0	  ? "woken (0)" :
			    strerror(e));
}

/* ---- a wait armed while the process has one kernel thread ---- */

static uint32_t early;

static void *early_waiter(void *arg)
{
	wait_while(&early, 0, FUTEX_WAIT_PRIVATE);
	return NULL;
}

/* ---- a kernel thread of glibc's own, for a SIGEV_THREAD timer ---- */

static uint32_t k_started, k_word, k_done;

static void kernel_thread(union sigval v)
{
	store_wake(&k_started, 1, FUTEX_WAKE_PRIVATE);
	wait_while(&k_word, 0, FUTEX_WAIT_PRIVATE);
	store_wake(&k_done, 1, FUTEX_WAKE_PRIVATE);
}

static void kernel_threads(void)
{
	struct sigevent ev = { .sigev_notify = SIGEV_THREAD,
			       .sigev_notify_function = kernel_thread };
	struct itimerspec it = { .it_value = { 0, 10000000 } };
	pthread_t t;
	timer_t tm;
	long r;

	/* A thread parks on a futex before there is a second kernel thread. */
	CHECK(pthread_create(&t, NULL, early_waiter, NULL) == 0);
	pause_ms(30);
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &tm) == 0);
	CHECK(timer_settime(tm, 0, &it, NULL) == 0);
	wait_while(&k_started, 0, FUTEX_WAIT_PRIVATE);
	printf("a kernel thread woke a waiting thread\n");
	pause_ms(50);
	__atomic_store_n(&k_word, 1, __ATOMIC_RELEASE);
	r = futex(&k_word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
	printf("a thread woke the waiting kernel thread: %s\n", result(r));
	wait_while(&k_done, 0, FUTEX_WAIT_PRIVATE);
	CHECK(timer_delete(tm) == 0);
	store_wake(&early, 1, FUTEX_WAKE_PRIVATE);
	CHECK(pthread_join(t, NULL) == 0);
	printf("the wait armed before the timer's kernel thread was woken\n");
}

/* ---- a process-shared futex across fork ---- */

static void shared_across_fork(void)
{
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	CHECK(w != MAP_FAILED);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		store_wake(&w[1], 1, FUTEX_WAKE); /* the child is here */
		wait_while(&w[0], 0, FUTEX_WAIT);
		_exit(7);
	}
	wait_while(&w[1], 0, FUTEX_WAIT);
	pause_ms(30);
	store_wake(&w[0], 1, FUTEX_WAKE);
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("shared futex across fork: child exited %d\n",
	       WEXITSTATUS(status));
	munmap(w, 4096);
}

int main(void)
{
	long r;

	ping_pong();
	results();
	counts();
	interrupted(0, false);
	interrupted(SA_RESTART, false);
	interrupted(SA_RESTART, true);
	kernel_threads();
	shared_across_fork();
	r = syscall(SYS_getppid);
	printf("other numbers pass through: %s\n",
	       r == getppid() ? "getppid" : "FAIL");
	return 0;
}

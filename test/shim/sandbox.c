/* SPDX-License-Identifier: MIT */
/*
 * A sandbox, as sshd's privilege-separated child makes one: a seccomp
 * filter that lets a short list of calls through, fails dup with EACCES
 * and kills the process at any other call.  The thread that sets
 * it then reads a pipe, writes, sleeps, polls, locks a mutex, reads a
 * key and exits through atexit, all of it as natively.  argv[1] says how
 * the filter is set: prctl, seccomp (syscall(SYS_seccomp)), forked (by
 * a forked child, with prctl, as sshd does), or refused (a bad filter,
 * after which the program goes on with threads).
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

#define ALLOW(nr)                                        \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter rules[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	ALLOW(SYS_read),
	ALLOW(SYS_write),
	ALLOW(SYS_close),
	ALLOW(SYS_exit),
	ALLOW(SYS_exit_group),
	ALLOW(SYS_rt_sigreturn),
	ALLOW(SYS_brk),
	ALLOW(SYS_mmap),
	ALLOW(SYS_munmap),
	ALLOW(SYS_futex),
	ALLOW(SYS_clock_nanosleep),
	ALLOW(SYS_nanosleep),
	ALLOW(SYS_ppoll),
#ifdef SYS_poll
	ALLOW(SYS_poll),
#endif
	ALLOW(SYS_clock_gettime),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_dup, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t key;

static void say(const char *s)
{
	CHECK(write(1, s, strlen(s)) == (ssize_t)strlen(s));
}

static void at_exit(void)
{
	say("atexit handler\n");
}

static void *worker(void *arg)
{
	return (char *)arg + 1;
}

int main(int argc, char **argv)
{
	struct sock_fprog prog = { sizeof(rules) / sizeof(rules[0]), rules };
	const char *how = argc > 1 ? argv[1] : "prctl";
	struct timespec nap = { 0, 10000000 };
	struct pollfd pfd;
	char buf[16] = "";
	pthread_t t;
	void *ret;
	int p[2], r;

	CHECK(pipe(p) == 0);
	CHECK(write(p[1], "hello", 5) == 5);
	CHECK(pthread_key_create(&key, NULL) == 0);
	CHECK(pthread_setspecific(key, &key) == 0);
	CHECK(atexit(at_exit) == 0);
	if (!strcmp(how, "forked")) {
		pid_t child;
		int st;

		fflush(stdout);
		child = fork();
		CHECK(child >= 0);
		if (child > 0) {
			CHECK(close(p[0]) == 0 && close(p[1]) == 0);
			CHECK(waitpid(child, &st, 0) == child);
			printf("child: exit %d\n",
			       WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return 0;
		}
	}
	CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	if (!strcmp(how, "refused")) {
		prog.filter = NULL;
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
		printf("refused: %d %s\n", r, strerror(errno));
		CHECK(pthread_create(&t, NULL, worker, buf) == 0);
		CHECK(pthread_join(t, &ret) == 0);
		printf("a thread after: %s\n", ret == buf + 1 ? "ok" : "wrong");
		return 0;
	}
	fflush(stdout); /* stdio's first write would fstat */
	if (!strcmp(how, "seccomp"))
		r = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0,
				 &prog);
	else
		r = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
	CHECK(r == 0);

	say("in the sandbox\n");
	CHECK(read(p[0], buf, sizeof(buf)) == 5);
	say(buf);
	say("\n");
	errno = 0;
	r = dup(0);
	say(r == -1 && errno == EACCES ? "dup: EACCES\n" : "dup: ?\n");
	CHECK(nanosleep(&nap, NULL) == 0);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	say(poll(&pfd, 1, 20) == 0 ? "poll: timed out\n" : "poll: ?\n");
	CHECK(pthread_mutex_lock(&lock) == 0);
	CHECK(pthread_mutex_unlock(&lock) == 0);
	say(pthread_getspecific(key) == &key ? "key: kept\n" : "key: lost\n");
	CHECK(close(p[1]) == 0);
	say(read(p[0], buf, sizeof(buf)) == 0 ? "end of file\n" : "?\n");
	exit(3);
}

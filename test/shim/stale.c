/* SPDX-License-Identifier: MIT */
/*
 * fds the shim cannot see being closed and made again: a socket closed by
 * fclose, whose number popen's pipes and fopen's file then take (libc's
 * own close, pipe2 and open, not the interposed calls).  The shim's table
 * still says socket, and a read or write made a recv or send fails with
 * ENOTSOCK there: each must still read and write as natively.  Output is
 * the same natively.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

/* A socket that libc's fclose closes, which the shim does not see. */
static int closed_socket(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	FILE *f;

	CHECK(s >= 0);
	f = fdopen(s, "r+");
	CHECK(f);
	CHECK(fclose(f) == 0);
	return s;
}

/* popen's pipe (libc's own pipe2) on the number of a socket gone so. */
static void pipe_on_socket_number(void)
{
	char buf[64];
	int s = closed_socket();
	FILE *f = popen("echo hello; sleep 0.05; echo late", "r");
	ssize_t r;

	CHECK(f);
	printf("pipe on the socket's number: %s\n",
	       fileno(f) == s ? "yes" : "no");
	r = read(fileno(f), buf, sizeof(buf));
	printf("read: %zd %.*s", r, (int)(r > 0 ? r : 0), buf);
	/* The pipe is empty for 50 ms: the read waits, in the ring. */
	r = read(fileno(f), buf, sizeof(buf));
	printf("read after waiting: %zd %.*s", r, (int)(r > 0 ? r : 0), buf);
	errno = 0;
	r = send(fileno(f), "x", 1, 0); /* a real send: ENOTSOCK */
	printf("send on the pipe: %zd %s\n", r, strerror(errno));
	CHECK(pclose(f) == 0);

	/* Two at once: popen keeps the second end of its pipe. */
	int s2 = socket(AF_INET, SOCK_STREAM, 0);

	s = closed_socket();
	CHECK(s2 >= 0 && fclose(fdopen(s2, "r+")) == 0);
	f = popen("wc -c", "w");
	CHECK(f);
	printf("pipe on the socket's number: %s\n",
	       fileno(f) == s || fileno(f) == s2 ? "yes" : "no");
	r = write(fileno(f), "twelve bytes", 12);
	printf("write: %zd\n", r);
	fflush(stdout);
	CHECK(pclose(f) == 0);
}

/* fopen's file (libc's own open) on the number of a socket gone so. */
static void file_after_fclose(void)
{
	char path[] = "/tmp/weft-stale-XXXXXX", buf[64];
	int s, fd, tmp;
	FILE *f;
	ssize_t r;

	tmp = mkstemp(path);
	CHECK(tmp >= 0);
	CHECK(write(tmp, "file contents\n", 14) == 14);
	close(tmp);
	s = closed_socket();
	f = fopen(path, "r+");
	CHECK(f);
	fd = fileno(f);
	printf("file on the socket's number: %s\n", fd == s ? "yes" : "no");
	r = read(fd, buf, sizeof(buf));
	printf("read: %zd %.*s", r, (int)(r > 0 ? r : 0), buf);
	r = write(fd, "more\n", 5);
	printf("write: %zd\n", r);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	r = read(fd, buf, sizeof(buf));
	printf("read again: %zd\n", r);
	fclose(f);
	unlink(path);
}

/*
 * A pipe's number taken by fopen after fclose: a read of a file whose
 * second half is not in the page cache returns all of it, as natively,
 * not what a pipe's read would (what is there).
 */
static void file_after_pipe(void)
{
	static char data[16 << 20], back[sizeof(data)];
	char path[] = "/var/tmp/weft-stale-XXXXXX";
	int p[2], tmp;
	FILE *f;
	ssize_t r;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 4096);
	tmp = mkstemp(path);
	CHECK(tmp >= 0);
	CHECK(write(tmp, data, sizeof(data)) == (ssize_t)sizeof(data));
	CHECK(fsync(tmp) == 0);
	CHECK(posix_fadvise(tmp, sizeof(data) / 2, 0, POSIX_FADV_DONTNEED) ==
	      0);
	close(tmp);
	CHECK(pipe(p) == 0);
	CHECK(fclose(fdopen(p[0], "r")) == 0);
	close(p[1]);
	f = fopen(path, "r");
	CHECK(f);
	printf("file on the pipe's number: %s\n",
	       fileno(f) == p[0] ? "yes" : "no");
	r = read(fileno(f), back, sizeof(back));
	printf("read of 16 MiB, half of it not cached: %zd, %s\n", r,
	       r == (ssize_t)sizeof(data) && !memcmp(data, back, r) ?
		       "same" :
		       "differs");
	fclose(f);
	unlink(path);
}

/* fclose of a stream with no fd (fmemopen's) sets no errno. */
static void memstream_fclose(void)
{
	char buf[16];
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	int r;

	CHECK(f);
	errno = 0;
	r = fclose(f);
	printf("fclose of a memory stream: %d, errno %d\n", r, errno);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	pipe_on_socket_number();
	file_after_fclose();
	file_after_pipe();
	memstream_fclose();
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fds the shim cannot see being closed and made again: a socket closed by
 * fclose, whose number popen's pipes and fopen's file then take (libc's
 * own close, pipe2 and open, not the interposed calls).  The shim's table
 * still says socket, and a read or write made a recv or send fails with
 * ENOTSOCK there: each must still read and write as natively.  And a
 * pipe closed by fclose, close_range, closefrom, closedir or freopen,
 * whose number a file then takes, must read as a file, and a file so
 * closed whose number a pipe takes as a pipe.  Output is the same
 * natively.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/* Close fd as the shim sees no close(2) do, or through syscall(). */
static void close_unseen(const char *how, int fd)
{
	if (!strcmp(how, "fclose"))
		CHECK(fclose(fdopen(fd, "r")) == 0);
	else if (!strcmp(how, "close_range"))
		CHECK(close_range(fd, fd, 0) == 0);
	else if (!strcmp(how, "syscall(close_range)"))
		CHECK(syscall(SYS_close_range, fd, fd, 0) == 0);
	else if (!strcmp(how, "closefrom"))
		closefrom(fd); /* nothing above fd is open */
	else
		CHECK(!"a way to close");
}

static char data[16 << 20], back[sizeof(data)];

/* A 16 MiB file whose second half is not in the page cache. */
static void half_cached(char *path)
{
	int tmp;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + i / 4096);
	tmp = mkstemp(path);
	CHECK(tmp >= 0);
	CHECK(write(tmp, data, sizeof(data)) == (ssize_t)sizeof(data));
	CHECK(fsync(tmp) == 0);
	CHECK(posix_fadvise(tmp, sizeof(data) / 2, 0, POSIX_FADV_DONTNEED) ==
	      0);
	close(tmp);
}

/* A read of the file returns all of it, not what a pipe's would. */
static void read_whole(FILE *f, int was, const char *how)
{
	ssize_t r;

	printf("file on the number of what %s closed: %s\n", how,
	       fileno(f) == was ? "yes" : "no");
	r = read(fileno(f), back, sizeof(back));
	printf("read of 16 MiB, half of it not cached: %zd, %s\n", r,
	       r == (ssize_t)sizeof(data) && !memcmp(data, back, r) ?
		       "same" :
		       "differs");
	fclose(f);
}

/*
 * A pipe's number taken by fopen after the pipe was closed unseen, or by
 * freopen of a stream on the pipe (glibc keeps the stream's fd number).
 */
static void file_after_pipe(const char *how)
{
	char path[] = "/var/tmp/weft-stale-XXXXXX";
	int p[2];
	FILE *f;

	half_cached(path);
	CHECK(pipe(p) == 0);
	close(p[1]);
	if (!strcmp(how, "freopen")) {
		f = fdopen(p[0], "r");
		CHECK(f);
		f = freopen(path, "r", f);
	} else {
		close_unseen(how, p[0]);
		f = fopen(path, "r");
	}
	CHECK(f);
	read_whole(f, p[0], how);
	unlink(path);
}

/*
 * A directory read (EISDIR) and closed by closedir, then a file.  opendir
 * opens with O_NONBLOCK, which a read passes straight through: cleared,
 * the read goes the shim's way and its table learns the fd.
 */
static void file_after_dir(void)
{
	char path[] = "/var/tmp/weft-stale-XXXXXX", c;
	DIR *d = opendir("/");
	ssize_t r;
	int fd;
	FILE *f;

	half_cached(path);
	CHECK(d);
	fd = dirfd(d);
	CHECK(fcntl(fd, F_SETFL, 0) == 0);
	errno = 0;
	r = read(fd, &c, 1);
	printf("read of a directory: %zd %s\n", r, strerror(errno));
	CHECK(closedir(d) == 0);
	f = fopen(path, "r");
	CHECK(f);
	read_whole(f, fd, "closedir");
	unlink(path);
}

/*
 * A file read once and closed unseen, then popen's pipe on its number: a
 * read of what is there returns it, as a pipe's does, and does not wait
 * to fill the buffer, as a file's would.
 */
static void pipe_after_file(const char *how)
{
	char buf[64];
	int fd = open("/etc/hostname", O_RDONLY);
	FILE *f;
	ssize_t r;

	CHECK(fd >= 0 && read(fd, buf, 1) == 1);
	close_unseen(how, fd);
	f = popen("echo hello; sleep 0.2; echo late", "r");
	CHECK(f);
	printf("pipe on the number of what %s closed: %s\n", how,
	       fileno(f) == fd ? "yes" : "no");
	/* hello is there when the read is made, and late is not. */
	CHECK(poll(&(struct pollfd){ .fd = fileno(f), .events = POLLIN }, 1,
		   -1) == 1);
	for (int i = 0; i < 2; i++) {
		r = read(fileno(f), buf, sizeof(buf));
		printf("read: %zd %.*s", r, (int)(r > 0 ? r : 0), buf);
	}
	CHECK(pclose(f) == 0);
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
	file_after_pipe("fclose");
	file_after_pipe("close_range");
	file_after_pipe("syscall(close_range)");
	file_after_pipe("closefrom");
	file_after_dir();
	file_after_pipe("freopen");
	pipe_after_file("close_range");
	pipe_after_file("closefrom");
	memstream_fclose();
	return 0;
}

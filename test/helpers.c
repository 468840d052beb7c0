/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "helpers.h"
#include "lib/runtime.h"

int t_kernel_threads(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/*
 * The count of kernel threads once it is back to want, or what it is
 * after a second.  pthread_join returns when the kernel clears the
 * thread's tid, a moment before the exiting thread leaves the count.
 */
int t_kernel_threads_back_to(int want)
{
	int n;

	for (int i = 0; (n = t_kernel_threads()) != want && i < 1000; i++)
		usleep(1000);
	return n;
}

int t_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int t_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int t_listener(int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

int t_tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int port, l = t_listener(&port), c;

	if (l < 0)
		return l;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(l);
		return -errno;
	}
	fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	fds[1] = c;
	close(l);
	return fds[0] < 0 ? -errno : 0;
}

intptr_t t_run(intptr_t (*fn)(void *), void *arg)
{
	struct weft_thread *t;
	intptr_t v;
	int r = weft_thread_spawn(&t, fn, arg, NULL);

	if (r < 0)
		return r;
	r = weft_thread_join(t, &v);
	return r < 0 ? r : v;
}

/* Virtual threads not yet ended, summed over the carriers' counts. */
unsigned t_live(void)
{
	return weft__live_threads();
}

/* SPDX-License-Identifier: MIT */
/*
 * A program built against an installed weft: a group of threads that hand
 * their squares over a channel.  With --where it also prints the file
 * that weft_version() came from, to show which libweft it ran with.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <weft.h>

#define N 10

static struct weft_chan *ch;

static intptr_t square(void *arg)
{
	intptr_t i = (intptr_t)arg;

	if (weft_sleep_until(weft_now() + 1000000) < 0)
		return -1;
	return weft_chan_send(ch, (void *)(i * i));
}

static intptr_t body(void *arg)
{
	struct weft_group g;
	intptr_t sum = 0;
	void *v;

	(void)arg;
	if (weft_chan_new(&ch, N) < 0)
		return 1;
	weft_group(&g)
	{
		for (intptr_t i = 0; i < N; i++)
			weft_spawn(&g, square, (void *)i);
	}
	weft_chan_close(ch);
	while (weft_chan_recv(ch, &v) == 0)
		sum += (intptr_t)v;
	weft_chan_free(ch);
	printf("weft %s (header %s): %d threads, sum of squares %ld, "
	       "%d carriers\n",
	       weft_version(), WEFT_VERSION, N, (long)sum,
	       weft_carrier_count());
	return weft_group_result(&g);
}

int main(int argc, char **argv)
{
	Dl_info info;

	if (argc > 1 && !strcmp(argv[1], "--where")) {
		if (!dladdr((void *)weft_version, &info) || !info.dli_fname)
			return 1;
		printf("%s\n", info.dli_fname);
	}
	return (int)weft_main(body, NULL);
}

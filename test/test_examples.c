/* SPDX-License-Identifier: MIT */
/*
 * The four examples of the design note ("From Async/Await to Virtual
 * Threads"), in C, against a small HTTP/1.0 server on 127.0.0.1:
 * sequential download, a group with spawn, max_concurrency with a
 * mutex-enclosed result store, and futures read after the group.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(examples, .timeout = 120);

#define NR_URLS 50

/* ---- a tiny blocking HTTP server: GET /N answers "page N" ---- */

static int port;
static atomic_int in_flight, most_in_flight;

static intptr_t serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg, n = -1;
	char req[256], body[64], resp[256];
	ssize_t got = weft_read(fd, req, sizeof(req) - 1);
	int now = atomic_fetch_add(&in_flight, 1) + 1;

	if (now > atomic_load(&most_in_flight))
		atomic_store(&most_in_flight, now);
	if (got > 0) {
		req[got] = 0;
		sscanf(req, "GET /%d", &n);
	}
	weft_sleep_until(weft_now() + 2 * T_MS * T_SLOW); /* a slow network */
	snprintf(body, sizeof(body), "page %d", n);
	snprintf(resp, sizeof(resp),
		 n < 0 ? "HTTP/1.0 404 Not Found\r\n\r\n" :
			 "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
		 strlen(body), body);
	weft_write(fd, resp, strlen(resp));
	atomic_fetch_sub(&in_flight, 1);
	weft_close(fd);
	return 0;
}

static intptr_t server(void *arg)
{
	int lfd = (int)(intptr_t)arg, fd;
	struct weft_group g;

	weft_group(&g, .policy = WEFT_SUPERVISE)
	{
		while ((fd = weft_accept(lfd, NULL, NULL, 0)) >= 0)
			weft_spawn(&g, serve_one, (void *)(intptr_t)fd);
	}
	return 0;
}

/* ---- fetch_url: blocking, as the note wants it ---- */

struct page {
	char body[64];
};

/* GET http://127.0.0.1:port/path; the body, or NULL on failure. */
static struct page *fetch_url(const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	char req[128], resp[512];
	size_t len = 0;
	ssize_t n;
	char *body;
	struct page *p = NULL;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (weft_connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (weft_write(fd, req, strlen(req)) < 0)
		goto out;
	while ((n = weft_read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += n;
	resp[len] = 0;
	body = strstr(resp, "\r\n\r\n");
	if (strncmp(resp, "HTTP/1.0 200", 12) || !body)
		goto out;
	p = calloc(1, sizeof(*p));
	snprintf(p->body, sizeof(p->body), "%s", body + 4);
out:
	weft_close(fd);
	return p;
}

static char urls[NR_URLS][16];

static void check_pages(struct page *results[NR_URLS])
{
	for (int i = 0; i < NR_URLS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "page %d", i);
		cr_assert(results[i], "no result for %s", urls[i]);
		cr_assert_str_eq(results[i]->body, want);
		free(results[i]);
	}
}

/* ---- 1. sequential: for url in urls: results[url] = fetch_url(url) ---- */

static int download_all_sequential(struct page *results[NR_URLS])
{
	for (int i = 0; i < NR_URLS; i++) {
		results[i] = fetch_url(urls[i]);
		if (!results[i])
			return -EIO; /* one failure aborts the rest */
	}
	return 0;
}

/* ---- 2. with ThreadGroup() as g: g.spawn(download_and_store) ---- */

struct job {
	struct page **results;
	int i;
};

static intptr_t download_and_store(void *arg)
{
	struct job *j = arg;

	j->results[j->i] = fetch_url(urls[j->i]);
	return j->results[j->i] ? 0 : -EIO;
}

static int download_all_group(struct page *results[NR_URLS])
{
	struct job jobs[NR_URLS];
	struct weft_group g;

	weft_group(&g)
	{
		for (int i = 0; i < NR_URLS; i++) {
			jobs[i] = (struct job){ results, i };
			weft_spawn(&g, download_and_store, &jobs[i]);
		}
	}
	return weft_group_result(&g);
}

/* ---- 3. ThreadGroup(max_concurrency=8) and Mutex(MyResultStore()) ---- */

struct store {
	struct page *pages[NR_URLS];
	int stored;
};

static WEFT_MUTEX_OF(struct store) results_mutex;

static intptr_t download_and_store_locked(void *arg)
{
	int i = (int)(intptr_t)arg;
	struct page *result = fetch_url(urls[i]);

	weft_locked(&results_mutex, results)
	{
		results->pages[i] = result;
		results->stored++;
	}
	return result ? 0 : -EIO;
}

static int download_all_limited(void)
{
	struct weft_group g;

	weft_group(&g, .max_concurrency = 8)
	{
		for (int i = 0; i < NR_URLS; i++)
			weft_spawn(&g, download_and_store_locked,
				   (void *)(intptr_t)i);
	}
	return weft_group_result(&g);
}

/* ---- 4. futures: {url: future.result() for (url, future) in futures} ---- */

static intptr_t fetch_one(void *arg)
{
	return (intptr_t)fetch_url(urls[(intptr_t)arg]);
}

static int download_all_futures(struct page *results[NR_URLS])
{
	struct weft_future *futures[NR_URLS];
	struct weft_group g;
	intptr_t page;

	weft_group(&g)
	{
		for (int i = 0; i < NR_URLS; i++)
			weft_spawn_future(&g, fetch_one, (void *)(intptr_t)i,
					  &futures[i]);
	}
	for (int i = 0; i < NR_URLS; i++) {
		weft_future_wait(futures[i], &page);
		results[i] = (struct page *)page;
		weft_future_release(futures[i]);
	}
	return weft_group_result(&g);
}

/* ---- the tests ---- */

static struct weft_thread *srv;
static int lfd;

static void start_server(void)
{
	lfd = t_listener(&port);
	cr_assert_geq(lfd, 0);
	for (int i = 0; i < NR_URLS; i++)
		snprintf(urls[i], sizeof(urls[i]), "/%d", i);
	cr_assert_eq(weft_thread_spawn(&srv, server, (void *)(intptr_t)lfd,
				       NULL),
		     0);
}

static void stop_server(void)
{
	shutdown(lfd, SHUT_RDWR);
	weft_thread_join(srv, NULL);
	close(lfd);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t run_example(void *arg)
{
	struct page *results[NR_URLS] = { 0 };
	int which = (int)(intptr_t)arg, r = -1;

	if (which == 1)
		r = download_all_sequential(results);
	else if (which == 2)
		r = download_all_group(results);
	else if (which == 4)
		r = download_all_futures(results);
	cr_assert_eq(r, 0);
	check_pages(results);
	return 0;
}

Test(examples, sequential_download)
{
	start_server();
	t_run(run_example, (void *)1);
	cr_assert_eq(atomic_load(&most_in_flight), 1, "one at a time");
	stop_server();
}

Test(examples, a_group_with_spawn)
{
	start_server();
	t_run(run_example, (void *)2);
	cr_assert_gt(atomic_load(&most_in_flight), 8, "not concurrent");
	stop_server();
}

static intptr_t run_limited(void *arg)
{
	return download_all_limited();
}

Test(examples, max_concurrency_and_a_mutex_enclosed_store)
{
	start_server();
	cr_assert_eq(t_run(run_limited, NULL), 0);
	cr_assert_eq(results_mutex.weft__value.stored, NR_URLS);
	check_pages(results_mutex.weft__value.pages);
	cr_assert_leq(atomic_load(&most_in_flight), 8);
	cr_assert_gt(atomic_load(&most_in_flight), 1);
	stop_server();
}

Test(examples, futures_read_after_the_group)
{
	start_server();
	t_run(run_example, (void *)4);
	stop_server();
}

static intptr_t failing_download(void *arg)
{
	struct page *results[NR_URLS] = { 0 };
	int r;

	/* one url that fails: the group fails fast with it */
	snprintf(urls[7], sizeof(urls[7]), "/missing");
	r = download_all_group(results);
	for (int i = 0; i < NR_URLS; i++)
		free(results[i]);
	return r;
}

Test(examples, one_failed_download_fails_the_group)
{
	start_server();
	cr_assert_eq(t_run(failing_download, NULL), -EIO);
	stop_server();
}

/* SPDX-License-Identifier: MIT */
/* Bounded channels: many producers and consumers, close, cancellation. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "helpers.h"

TestSuite(chan, .timeout = 120);

#define PRODUCERS 100
#define PER 1000

static struct weft_chan *ch;
static atomic_long sum;
static atomic_int received;

static intptr_t producer(void *arg)
{
	intptr_t base = (intptr_t)arg * PER;

	for (intptr_t i = 1; i <= PER; i++)
		if (weft_chan_send(ch, (void *)(base + i)) < 0)
			return -EIO;
	return 0;
}

static intptr_t consumer(void *arg)
{
	void *v;

	while (weft_chan_recv(ch, &v) == 0) {
		atomic_fetch_add(&sum, (intptr_t)v);
		atomic_fetch_add(&received, 1);
	}
	return 0;
}

static intptr_t body_mpmc(void *arg)
{
	struct weft_group producers, consumers;
	long want = 0;

	cr_assert_eq(weft_chan_new(&ch, 16), 0);
	weft_group(&consumers)
	{
		for (int i = 0; i < 50; i++)
			weft_spawn(&consumers, consumer, NULL);
		weft_group(&producers)
		{
			for (intptr_t p = 0; p < PRODUCERS; p++)
				weft_spawn(&producers, producer, (void *)p);
		}
		cr_assert_eq(weft_group_result(&producers), 0);
		weft_chan_close(ch); /* the consumers drain it, then end */
	}
	for (long p = 0; p < PRODUCERS; p++)
		for (long i = 1; i <= PER; i++)
			want += p * PER + i;
	cr_assert_eq(atomic_load(&received), PRODUCERS * PER);
	cr_assert_eq(atomic_load(&sum), want, "a value lost or twice");
	weft_chan_free(ch);
	return 0;
}

Test(chan, many_producers_and_consumers_lose_nothing)
{
	setenv("WEFT_CARRIERS", "2", 1);
	cr_assert_eq(t_run(body_mpmc, NULL), 0);
	cr_assert_eq(weft_shutdown(), 0);
}

static intptr_t blocked_recv(void *arg)
{
	void *v;

	return weft_chan_recv(ch, &v);
}

static intptr_t blocked_send(void *arg)
{
	return weft_chan_send(ch, arg); /* the channel is full */
}

static intptr_t body_cancel(void *arg)
{
	struct weft_chan *full;
	struct weft_future *r, *s;
	struct weft_group g;
	intptr_t v;

	cr_assert_eq(weft_chan_new(&ch, 1), 0);
	cr_assert_eq(weft_chan_new(&full, 1), 0);
	weft_group(&g, .policy = WEFT_SUPERVISE)
	{
		weft_spawn_future(&g, blocked_recv, NULL, &r);
		weft_sleep_until(weft_now() + 10 * T_MS);
		weft_group_cancel(&g);
	}
	cr_assert_eq(weft_future_wait(r, &v), -ECANCELED);
	weft_future_release(r);
	/* a full channel: the sender waits, and is cancelled */
	weft_chan_send(ch, (void *)1);
	weft_group(&g, .policy = WEFT_SUPERVISE)
	{
		weft_spawn_future(&g, blocked_send, (void *)2, &s);
		weft_sleep_until(weft_now() + 10 * T_MS);
		weft_group_cancel(&g);
	}
	cr_assert_eq(weft_future_wait(s, &v), -ECANCELED);
	weft_future_release(s);
	/* what was in it is still there, once */
	cr_assert_eq(weft_chan_recv(ch, (void **)&v), 0);
	cr_assert_eq(v, 1);
	weft_chan_close(ch);
	cr_assert_eq(weft_chan_recv(ch, (void **)&v), -EPIPE);
	cr_assert_eq(weft_chan_send(ch, NULL), -EPIPE);
	weft_chan_free(ch);
	weft_chan_free(full);
	return 0;
}

Test(chan, waits_are_cancellable_and_close_ends_them)
{
	cr_assert_eq(t_run(body_cancel, NULL), 0);
	cr_assert_eq(weft_chan_new(NULL, 1), -EINVAL);
	cr_assert_eq(weft_chan_new(&ch, 0), -EINVAL);
	cr_assert_eq(weft_shutdown(), 0);
}

static void *plain_producer(void *arg)
{
	producer(arg);
	return NULL;
}

Test(chan, plain_threads_send_to_virtual_consumers)
{
	pthread_t p[4];
	struct weft_thread *c[8];

	cr_assert_eq(weft_chan_new(&ch, 4), 0);
	for (int i = 0; i < 8; i++)
		weft_thread_spawn(&c[i], consumer, NULL, NULL);
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&p[i], NULL, plain_producer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(p[i], NULL);
	weft_chan_close(ch);
	for (int i = 0; i < 8; i++)
		weft_thread_join(c[i], NULL);
	cr_assert_eq(atomic_load(&received), 4 * PER);
	weft_chan_free(ch);
	cr_assert_eq(weft_shutdown(), 0);
}

/*
 * Deadlines firing at random points of sends and receives on a small,
 * busy channel: in the wait for room or data, or in the wait for the
 * channel's lock.  A call that fails changes nothing; every value sent is
 * received exactly once.
 */
#define RACERS 32
#define TRIES 3000

static atomic_long sent_sum, sent_n, got_sum, got_n, failed;

static int64_t t_soon(unsigned *seed)
{
	return weft_now() + rand_r(seed) % 5000;
}

static intptr_t deadline_sender(void *arg)
{
	unsigned seed = (unsigned)(intptr_t)arg;

	for (intptr_t i = 1; i <= TRIES; i++) {
		struct weft_cancel_scope s;
		intptr_t v = (intptr_t)arg * TRIES + i;
		int r;

		weft_cancel_scope_enter(&s, t_soon(&seed), 0);
		r = weft_chan_send(ch, (void *)v);
		weft_cancel_scope_leave(&s);
		if (r == 0) {
			atomic_fetch_add(&sent_sum, v);
			atomic_fetch_add(&sent_n, 1);
		} else if (r == -ETIMEDOUT) {
			atomic_fetch_add(&failed, 1);
		} else {
			return r;
		}
	}
	return 0;
}

static intptr_t deadline_receiver(void *arg)
{
	unsigned seed = (unsigned)(intptr_t)arg + 7777;
	void *v;

	for (int i = 0; i < TRIES; i++) {
		struct weft_cancel_scope s;
		int r;

		weft_cancel_scope_enter(&s, t_soon(&seed), 0);
		r = weft_chan_recv(ch, &v);
		weft_cancel_scope_leave(&s);
		if (r == 0) {
			atomic_fetch_add(&got_sum, (intptr_t)v);
			atomic_fetch_add(&got_n, 1);
		} else if (r == -ETIMEDOUT) {
			atomic_fetch_add(&failed, 1);
		} else {
			return r;
		}
	}
	return 0;
}

static intptr_t body_deadlines(void *arg)
{
	struct weft_group g;
	void *v;

	cr_assert_eq(weft_chan_new(&ch, 2), 0);
	weft_group(&g)
	{
		for (intptr_t i = 1; i <= RACERS; i++) {
			weft_spawn(&g, deadline_sender, (void *)i);
			weft_spawn(&g, deadline_receiver, (void *)i);
		}
	}
	cr_assert_eq(weft_group_result(&g), 0);
	weft_chan_close(ch);
	while (weft_chan_recv(ch, &v) == 0) {
		atomic_fetch_add(&got_sum, (intptr_t)v);
		atomic_fetch_add(&got_n, 1);
	}
	weft_chan_free(ch);
	cr_assert_gt(atomic_load(&failed), 0, "no deadline ever fired");
	cr_assert_eq(atomic_load(&got_n), atomic_load(&sent_n));
	cr_assert_eq(atomic_load(&got_sum), atomic_load(&sent_sum),
		     "a value lost or received twice");
	return 0;
}

Test(chan, deadlines_anywhere_in_a_call_lose_nothing)
{
	setenv("WEFT_CARRIERS", "2", 1);
	for (int round = 0; round < 20; round++) {
		atomic_store(&sent_sum, 0);
		atomic_store(&sent_n, 0);
		atomic_store(&got_sum, 0);
		atomic_store(&got_n, 0);
		cr_assert_eq(t_run(body_deadlines, NULL), 0);
	}
	cr_assert_eq(weft_shutdown(), 0);
}

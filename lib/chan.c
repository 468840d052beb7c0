/* SPDX-License-Identifier: MIT */
/*
 * A bounded channel of pointers: multi-producer, multi-consumer, with
 * close.  A ring buffer under a weft_mutex and two condition variables;
 * its waits are theirs, so they park virtual threads, work for plain
 * threads, and are cancellation points, as send and receive are at entry.
 * A call cancelled in any of its waits, the lock's included, changes
 * nothing; close always closes.
 */
#include <stdlib.h>

#include "runtime.h"
#include "sync.h"

struct weft_chan {
	struct weft_mutex lock;
	struct weft_cond not_full, not_empty;
	size_t cap, head, n;
	bool closed;
	void *slot[];
};

int weft_chan_new(struct weft_chan **ret_chan, size_t capacity)
{
	struct weft_chan *ch;

	if (!ret_chan || capacity == 0 || capacity > ((size_t)1 << 32))
		return -EINVAL;
	ch = WEFT_ALLOC(alloc_chan,
			calloc(1, sizeof(*ch) + capacity * sizeof(void *)));
	if (!ch)
		return -ENOMEM;
	ch->cap = capacity;
	*ret_chan = ch;
	return 0;
}

void weft_chan_free(struct weft_chan *ch)
{
	free(ch);
}

static int wait(struct weft_cond *c, struct weft_chan *ch)
{
	return weft__cond_wait_as(c, &ch->lock, -1, WEFT__ON_CHAN, ch);
}

int weft_chan_send(struct weft_chan *ch, void *value)
{
	int r = 0;

	if (!ch)
		return -EINVAL;
	r = weft__cancel_check(weft__ctl_self(), WEFT__WAIT_OTHER);
	if (!r)
		r = weft_mutex_lock(&ch->lock);
	if (r)
		return r;
	while (!r && ch->n == ch->cap && !ch->closed)
		r = wait(&ch->not_full, ch);
	if (!r && ch->closed)
		r = -EPIPE;
	if (!r) {
		ch->slot[(ch->head + ch->n++) % ch->cap] = value;
		weft_cond_signal(&ch->not_empty);
	}
	weft_mutex_unlock(&ch->lock);
	return r;
}

int weft_chan_recv(struct weft_chan *ch, void **ret_value)
{
	int r = 0;

	if (!ch || !ret_value)
		return -EINVAL;
	r = weft__cancel_check(weft__ctl_self(), WEFT__WAIT_OTHER);
	if (!r)
		r = weft_mutex_lock(&ch->lock);
	if (r)
		return r;
	while (!r && ch->n == 0 && !ch->closed)
		r = wait(&ch->not_empty, ch);
	/* Values sent before the close are still received. */
	if (!r && ch->n == 0)
		r = -EPIPE;
	if (!r) {
		*ret_value = ch->slot[ch->head];
		ch->head = (ch->head + 1) % ch->cap;
		ch->n--;
		weft_cond_signal(&ch->not_full);
	}
	weft_mutex_unlock(&ch->lock);
	return r;
}

int weft_chan_close(struct weft_chan *ch)
{
	if (!ch)
		return -EINVAL;
	weft__mutex_relock(&ch->lock); /* not a cancellation point */
	ch->closed = true;
	weft_cond_broadcast(&ch->not_full);
	weft_cond_broadcast(&ch->not_empty);
	weft_mutex_unlock(&ch->lock);
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Context values: set in a thread, inherited by the threads it spawns.
 *
 * Each thread (a plain one too) holds the head of an immutable list of
 * (key, value) nodes, newest first.  Setting a value pushes a node on the
 * caller's own list, shadowing older ones: nothing leaks upward.  A spawn
 * gives the child a counted reference to the parent's head: a snapshot in
 * O(1), shared until either side sets something.  Keys are addresses,
 * such as that of a static variable of the caller's.
 */
#include <stdlib.h>

#include "runtime.h"

struct weft__ctxval {
	atomic_uint refs;
	const void *key;
	void *value;
	struct weft__ctxval *next; /* a reference of its own */
};

struct weft__ctxval *weft__ctxval_get(struct weft__ctxval *v)
{
	if (v)
		atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	return v;
}

void weft__ctxval_put(struct weft__ctxval *v)
{
	while (v && atomic_fetch_sub(&v->refs, 1) == 1) {
		struct weft__ctxval *next = v->next;

		free(v);
		v = next;
	}
}

int weft_context_set(const void *key, void *value)
{
	struct weft__ctl *ctl = weft__ctl_self();
	struct weft__ctxval *v;

	if (!key)
		return -EINVAL;
	v = WEFT_ALLOC(alloc_context, malloc(sizeof(*v)));
	if (!v)
		return -ENOMEM;
	atomic_init(&v->refs, 1);
	v->key = key;
	v->value = value;
	v->next = ctl->values; /* the caller's reference moves here */
	ctl->values = v;
	return 0;
}

void *weft_context_get(const void *key)
{
	for (struct weft__ctxval *v = weft__ctl_self()->values; v; v = v->next)
		if (v->key == key)
			return v->value;
	return NULL;
}

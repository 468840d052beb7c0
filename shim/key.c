/* SPDX-License-Identifier: MIT */
/*
 * Thread-specific keys.  glibc allocates every key number, so a key is
 * valid for plain and virtual threads alike and plain threads keep
 * glibc's values and destructors; the shim also records each key's
 * destructor and a sequence number, odd while the key is in use, and
 * keeps virtual threads' values in their own blocks.  A value stored
 * under an older sequence number belongs to a deleted key: it reads as
 * NULL and its destructor is never run, as in glibc.
 */
#include "pt.h"

#include <stdlib.h>

struct key {
	atomic_uint seq;	    /* odd: in use */
	void (*destructor)(void *); /* valid while seq is odd */
};

static struct key keys[PTHREAD_KEYS_MAX];

static bool in_use(pthread_key_t k, unsigned *ret_seq)
{
	unsigned seq;

	if (k >= PTHREAD_KEYS_MAX)
		return false;
	seq = atomic_load_explicit(&keys[k].seq, memory_order_acquire);
	*ret_seq = seq;
	return seq & 1;
}

WEFT_EXPORT int pthread_key_create(pthread_key_t *k, void (*d)(void *))
{
	int r = REAL(pthread_key_create)(k, d);

	if (r == 0 && *k < PTHREAD_KEYS_MAX) {
		keys[*k].destructor = d;
		atomic_fetch_add_explicit(&keys[*k].seq, 1,
					  memory_order_release);
	}
	return r;
}

WEFT_EXPORT int pthread_key_delete(pthread_key_t k)
{
	unsigned seq;

	if (!in_use(k, &seq))
		return EINVAL;
	atomic_fetch_add_explicit(&keys[k].seq, 1, memory_order_release);
	return REAL(pthread_key_delete)(k);
}

/* The value cell of key k in pt, allocating its block if create. */
static struct weft__key_value *cell(struct weft__pthread *pt, pthread_key_t k,
				    bool create)
{
	struct weft__key_value **b = &pt->keys[k / KEY_BLOCK];

	if (!*b && create)
		*b = WEFT_ALLOC(shim_key, calloc(KEY_BLOCK, sizeof(**b)));
	return *b ? &(*b)[k % KEY_BLOCK] : NULL;
}

WEFT_EXPORT void *pthread_getspecific(pthread_key_t k)
{
	struct weft__pthread *pt = weft__pt_self();
	struct weft__key_value *v;
	unsigned seq;

	if (!pt)
		return REAL(pthread_getspecific)(k);
	if (!in_use(k, &seq) || !(v = cell(pt, k, false)) || v->seq != seq)
		return NULL;
	return v->value;
}

WEFT_EXPORT int pthread_setspecific(pthread_key_t k, const void *value)
{
	struct weft__pthread *pt = weft__pt_self();
	struct weft__key_value *v;
	unsigned seq;

	if (!pt)
		return REAL(pthread_setspecific)(k, value);
	if (!in_use(k, &seq))
		return EINVAL;
	v = cell(pt, k, true);
	if (!v)
		return ENOMEM;
	v->seq = seq;
	v->value = (void *)value;
	return 0;
}

/* One pass over pt's values; whether a destructor ran. */
static bool destroy_pass(struct weft__pthread *pt)
{
	bool ran = false;

	for (pthread_key_t k = 0; k < PTHREAD_KEYS_MAX; k++) {
		struct weft__key_value *v = cell(pt, k, false);
		void (*d)(void *);
		unsigned seq;
		void *value;

		if (!v) {
			k += KEY_BLOCK - 1; /* the whole block is empty */
			continue;
		}
		if (!v->value || !in_use(k, &seq) || v->seq != seq)
			continue;
		d = keys[k].destructor;
		value = v->value;
		v->value = NULL;
		if (d) {
			d(value);
			ran = true;
		}
	}
	return ran;
}

void weft__keys_drop(struct weft__pthread *pt)
{
	for (int i = 0; i < NR_KEY_BLOCKS; i++) {
		free(pt->keys[i]);
		pt->keys[i] = NULL;
	}
}

void weft__keys_exit(struct weft__pthread *pt)
{
	for (int i = 0; i < PTHREAD_DESTRUCTOR_ITERATIONS; i++)
		if (!destroy_pass(pt))
			break;
	weft__keys_drop(pt);
}

bool weft__keys_inherit(struct weft__pthread *pt)
{
	for (pthread_key_t k = 0; k < PTHREAD_KEYS_MAX; k++) {
		struct weft__key_value *v;
		unsigned seq;
		void *value;

		if (!in_use(k, &seq))
			continue;
		value = REAL(pthread_getspecific)(k);
		if (!value)
			continue;
		if (!(v = cell(pt, k, true)))
			return false;
		v->seq = seq;
		v->value = value;
	}
	return true;
}

/* The names libpthread exported before glibc 2.34 (see mutex.c). */
WEFT_EXPORT int __pthread_key_create(pthread_key_t *, void (*)(void *))
	WEFT_ALIAS_OF(pthread_key_create);
WEFT_EXPORT void *__pthread_getspecific(pthread_key_t)
	WEFT_ALIAS_OF(pthread_getspecific);
WEFT_EXPORT int __pthread_setspecific(pthread_key_t, const void *)
	WEFT_ALIAS_OF(pthread_setspecific);

/* SPDX-License-Identifier: MIT */
/*
 * Stacks: mmap'd, committed lazily, guarded while the budget lasts, pooled.
 *
 * A thread's control block lives at the top of its stack, so a stack is
 * the one allocation a thread makes.  Stacks come in power-of-two size
 * classes from 16 KiB to 64 MiB and are carved from 64 MiB slabs mapped
 * MAP_NORESERVE: only the pages a thread touches are ever committed.
 *
 * Guard pages cost mappings.  A PROT_NONE page below each stack splits
 * the slab, two mappings a stack, and vm.max_map_count (65530 by default)
 * caps a process's mappings.  So the first (max_map_count - 16384) / 2
 * stacks get a guard page, about 24,500 on a default machine, leaving
 * 16,384 mappings to the program; later stacks are carved unguarded from
 * the same slabs, one mapping per slab, which is how a million threads
 * fit.  An overflow of a guarded stack faults in its guard page and the
 * SIGSEGV handler (sched.c) names the thread; an unguarded one is caught
 * by the stack pointer check at every switch.
 *
 * Freed stacks are reused most recent first, so their pages stay
 * committed: a fresh page costs a fault of 10-20 us here, a reused one
 * nothing.  Each carrier keeps a small cache per class that it alone
 * touches, filled and drained half at a time; behind it, each class has a
 * locked pool of two lists:
 *
 *   hot      committed, reused first, most recent on top
 *   cold     given back with MADV_DONTNEED, reused before carving more
 *
 * Giving pages back is slow (the madvise, the TLB shootdown it sends to
 * every carrier, the faults when the stack is used again), so it is done
 * off the carriers: hot_limit(k) stacks stay committed for good, and the
 * monitor's look every TRIM_PERIOD_NS trims, from the bottom of hot, the
 * stacks past that limit that no spawn took since its previous look (the
 * low-water mark), as allocators decay their dirty pages.  A burst of
 * threads that end and a burst that start again costs no system call,
 * nor does a burst that ends, however large: what the pool holds past
 * the limit, the ended threads held a moment before (a stack is carved
 * only when none is free), and the monitor gives it back within two
 * looks.  Trimmed by the carrier that frees them, 100,000 sleepers that
 * wake at once took 60 ms past their second to end instead of 33.
 * Without a monitor (WEFT_STUCK_MS=0) that carrier trims TRIM_BATCH of
 * them itself once that many are past the limit.  A trim
 * sorts its batch by address so that neighbours in a slab go back in one
 * madvise: a hundred thousand threads ending cost a few hundred system
 * calls, not one each.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "runtime.h"
#if WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif
#if WEFT_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif
/*
 * Under AddressSanitizer a pooled stack's control block is poisoned past
 * the words a stale handle may read (sp; magic and gen, see thread.c):
 * whoever touches a thread after its stack was freed is reported there.
 */
#define TCB_STALE_OK 16
_Static_assert(offsetof(struct weft_thread, gen) + sizeof(unsigned) <=
		       TCB_STALE_OK,
	       "a stale handle's check() reads only unpoisoned words");
#if WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#define tsan_create_fiber() __tsan_create_fiber(0)
#define tsan_destroy_fiber(f) __tsan_destroy_fiber(f)
#else
#define tsan_create_fiber() NULL
#define tsan_destroy_fiber(f) ((void)(f))
#endif

#define PAGE 4096
#define MIN_SHIFT 14		      /* 16 KiB */
#define NR_CLASSES WEFT_STACK_CLASSES /* up to 64 MiB */
#define SLAB_BYTES ((size_t)64 << 20)
#define HOT_BYTES ((size_t)256 << 20) /* committed for good */
#define TRIM_BATCH 256
#define TRIM_PERIOD_NS 100000000
#define MAP_RESERVE 16384
#define DEDICATED NR_CLASSES /* a stack too big for a class */
#define TCB_SIZE ALIGN_UP(sizeof(struct weft_thread), 64)
#define CACHE_HALF (ARRAY_SIZE(((struct weft__stack_cache *)0)->e) / 2)

/* Stacks as their lowest usable byte, | 1 if guarded; most recent last. */
struct list {
	uintptr_t *e;
	size_t n, cap;
};

/* Hot stacks: e[base..top), most recent on top; trimmed from the bottom. */
struct deque {
	uintptr_t *e;
	size_t base, top, cap;
	size_t low; /* the fewest there were since the monitor's last look */
};

struct pool {
	struct weft__lock lock;
	struct deque hot;
	struct list cold;
	char *cur, *end; /* the part of the last slab not carved yet */
	size_t carved;	 /* stacks carved so far, for weft__stack_counts */
};

struct mapping {
	void *p;
	size_t len;
};

static struct pool pools[NR_CLASSES];
static struct weft__lock maps_lock;
static struct mapping *maps; /* every slab and dedicated stack */
static size_t nr_maps, maps_cap;
static atomic_long guard_budget = -1;
static atomic_long dedicated;	  /* stacks with a mapping of their own */
static atomic_bool monitor_trims; /* the monitor runs weft__stack_trim */
static atomic_bool excess;	  /* some pool may hold more than it keeps */
static int64_t last_trim;	  /* the monitor's */
static size_t default_size;

static long read_max_map_count(void)
{
	char buf[32] = "";
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	long v = 65530;

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtol(buf, NULL, 10);
		fclose(f);
	}
	return v;
}

size_t weft__stack_default(void)
{
	return default_size ? default_size : 64 * 1024;
}

/* Called at runtime start: read the budget and WEFT_STACK_SIZE. */
int weft__stack_init(void)
{
	unsigned kib;
	int r;

	r = weft__env_uint("WEFT_STACK_SIZE_KB", 16, 1 << 20, 64, &kib);
	if (r < 0)
		return r;
	default_size = (size_t)kib * 1024;
	if (atomic_load(&guard_budget) < 0) {
		long b = (read_max_map_count() - MAP_RESERVE) / 2;

		atomic_store(&guard_budget, b > 0 ? b : 0);
	}
	return 0;
}

static int remember(void *p, size_t len)
{
	weft__lock(&maps_lock);
	if (nr_maps == maps_cap) {
		size_t cap = maps_cap ? 2 * maps_cap : 64;
		struct mapping *m = WEFT_ALLOC(alloc_stack_maps,
					       realloc(maps, cap * sizeof(*m)));

		if (!m) {
			weft__unlock(&maps_lock);
			return -ENOMEM;
		}
		maps = m;
		maps_cap = cap;
	}
	maps[nr_maps++] = (struct mapping){ p, len };
	weft__unlock(&maps_lock);
	return 0;
}

static void forget(void *p)
{
	weft__lock(&maps_lock);
	for (size_t i = 0; i < nr_maps; i++) {
		if (maps[i].p == p) {
			maps[i] = maps[--nr_maps];
			break;
		}
	}
	weft__unlock(&maps_lock);
}

static void *map(size_t len)
{
	void *p = WEFT_FAULT(stack_map) ?
			  MAP_FAILED :
			  mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
				       MAP_STACK,
			       -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (remember(p, len) < 0) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* Put a guard page below lo if the budget allows. */
static bool guard(char *lo)
{
	if (atomic_fetch_sub(&guard_budget, 1) <= 0) {
		atomic_fetch_add(&guard_budget, 1);
		return false;
	}
	if (!WEFT_FAULT(stack_guard) &&
	    mprotect(lo - PAGE, PAGE, PROT_NONE) == 0)
		return true;
	atomic_fetch_add(&guard_budget, 1);
	return false;
}

static int size_class(size_t size)
{
	int k = 0;

	while (((size_t)1 << (k + MIN_SHIFT)) < size)
		k++;
	return k < NR_CLASSES ? k : DEDICATED;
}

/* A fresh stack of class k: [guard page][1 << (k + MIN_SHIFT) bytes]. */
static uintptr_t carve(struct pool *p, int k)
{
	size_t stride = ((size_t)1 << (k + MIN_SHIFT)) + PAGE;
	char *lo;

	if ((size_t)(p->end - p->cur) < stride) {
		size_t len = stride > SLAB_BYTES ? stride :
						   SLAB_BYTES / stride * stride;
		char *s = map(len);

		if (!s)
			return 0;
		p->cur = s;
		p->end = s + len;
	}
	lo = p->cur + PAGE;
	p->cur += stride;
	p->carved++;
	return (uintptr_t)lo | guard(lo);
}

/*
 * Zero n bytes (whole cache lines) at p, in 16-byte stores.  Not memset:
 * for the block at a stack's top both gcc's inline rep stos and glibc's
 * memset take 280 cycles where these stores take 40 (measured on this
 * Xeon; a range ending at or just short of a page's end is the slow case
 * for them).  volatile keeps the compiler from making it a memset again.
 */
static void zero_lines(void *p, size_t n)
{
	typedef uint64_t v16 __attribute__((vector_size(16)));
	volatile v16 *v = p;

	/* n is a constant: straight-line stores, no loop to count */
#pragma GCC unroll 32
	for (size_t i = 0; i < n / sizeof(v16); i++)
		v[i] = (v16){ 0, 0 };
}

/*
 * Colours.  Every stack's control block and first frames sit at the same
 * offset in their page, so they fall into the same few sets of the
 * caches (the L1's index lies within the page): 64 threads spawned and
 * joined in turn missed the L1 14 times each (cachegrind, a 48 KiB
 * 12-way L1).  Moving each stack's top down by one of COLOURS steps of
 * COLOUR_STEP, after its address, spreads them over the page: 1 miss a
 * thread.  The highest colour still leaves 900 bytes of frames in the
 * top page, so a parked thread of weft's own costs one page as before.
 * Stacks of a MiB and more are taken to be a program's pthreads, with
 * deep frames and buffers on the stack, that a colour would push onto one
 * more page: they keep their top.
 */
#define COLOURS 16
#define COLOUR_STEP 192
#define COLOURED_BELOW ((size_t)1 << 20)

static size_t colour(const char *lo, size_t size)
{
	if (size >= COLOURED_BELOW)
		return 0;
	return ((uintptr_t)lo / PAGE) % COLOURS * COLOUR_STEP;
}

static struct weft_thread *setup(uintptr_t e, size_t size, int k)
{
	char *lo = (char *)(e & ~(uintptr_t)1);
	struct weft_thread *t =
		(struct weft_thread *)(lo + size - TCB_SIZE - colour(lo, size));

	/*
	 * All of it, as AddressSanitizer does for a new pthread's stack: a
	 * thread that ended left its last frames' redzones poisoned, below
	 * where its final noreturn call unpoisoned.
	 */
	ASAN_UNPOISON_MEMORY_REGION(lo, size);
	zero_lines(t, TCB_SIZE);
	t->stack_lo = lo;
	t->stack_size = size;
	t->stack_class = k;
	t->stack_guarded = e & 1;
	t->valgrind_id = VALGRIND_STACK_REGISTER(lo, lo + size);
	t->tsan_fiber = tsan_create_fiber(); /* switched to by sched.c */
	return t;
}

/* Double the array *e of *cap entries (256 at first); false if no memory. */
static bool grow(uintptr_t **e, size_t *cap)
{
	size_t c = *cap ? 2 * *cap : 256;
	uintptr_t *n =
		WEFT_ALLOC(alloc_stack_list, realloc(*e, c * sizeof(*n)));

	if (!n)
		return false;
	*e = n;
	*cap = c;
	return true;
}

static bool push(struct list *l, uintptr_t e)
{
	if (l->n == l->cap && !grow(&l->e, &l->cap))
		return false; /* loses the stack: only address space */
	l->e[l->n++] = e;
	return true;
}

static size_t hot_limit(int k)
{
	size_t n = HOT_BYTES >> (k + MIN_SHIFT);

	return n > TRIM_BATCH ? n : TRIM_BATCH;
}

static size_t hot_n(const struct deque *d)
{
	return d->top - d->base;
}

static bool hot_push(struct deque *d, uintptr_t e)
{
	if (d->top == d->cap && d->base > d->cap / 2) {
		memmove(d->e, d->e + d->base, hot_n(d) * sizeof(*d->e));
		d->top -= d->base;
		d->base = 0;
	}
	if (d->top == d->cap && !grow(&d->e, &d->cap))
		return false;
	d->e[d->top++] = e;
	return true;
}

/* A pooled stack of class k, or 0; called with the pool locked. */
static uintptr_t take(struct pool *p)
{
	struct deque *d = &p->hot;

	if (hot_n(d)) {
		uintptr_t e = d->e[--d->top];

		if (d->top < d->base + d->low)
			d->low = hot_n(d);
		return e;
	}
	if (p->cold.n)
		return p->cold.e[--p->cold.n];
	return 0;
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* Give a batch of stacks' pages back, one madvise per run of neighbours. */
static void trim(uintptr_t *e, size_t n, size_t size)
{
	size_t stride = size + PAGE;

	qsort(e, n, sizeof(*e), by_address);
	for (size_t i = 0, j; i < n; i = j) {
		char *lo = (char *)(e[i] & ~(uintptr_t)1);

		for (j = i + 1;
		     j < n && (e[j] & ~(uintptr_t)1) ==
				      (e[j - 1] & ~(uintptr_t)1) + stride;
		     j++)
			;
		/* The guard pages between are PROT_NONE: madvise skips nothing.
		 */
		madvise(lo, (j - i - 1) * stride + size, MADV_DONTNEED);
	}
}

/*
 * Trim up to n of the oldest hot stacks of class k, TRIM_BATCH at a
 * time, with the pool locked; it is let go around each madvise, since
 * nobody else can reach a batch taken out.
 */
static void trim_oldest(struct pool *p, int k, size_t n)
{
	uintptr_t batch[TRIM_BATCH];
	struct deque *d = &p->hot;

	while (n) {
		size_t b = n < TRIM_BATCH ? n : TRIM_BATCH;

		if (b > hot_n(d))
			b = hot_n(d);
		if (!b)
			return;
		memcpy(batch, d->e + d->base, b * sizeof(*batch));
		d->base += b;
		d->low = d->low > b ? d->low - b : 0;
		n -= b;
		weft__unlock(&p->lock);
		trim(batch, b, (size_t)1 << (k + MIN_SHIFT));
		weft__lock(&p->lock);
		for (size_t j = 0; j < b; j++)
			push(&p->cold, batch[j]);
	}
}

/* Give n stacks of class k back to their pool. */
static void pool_put(struct pool *p, int k, const uintptr_t *e, size_t n)
{
	bool monitor = atomic_load(&monitor_trims), wake;

	weft__lock(&p->lock);
	for (size_t i = 0; i < n; i++)
		if (!hot_push(&p->hot, e[i]))
			push(&p->cold, e[i]); /* committed: reused the same */
	if (!monitor && hot_n(&p->hot) >= hot_limit(k) + TRIM_BATCH)
		trim_oldest(p, k, hot_n(&p->hot) - hot_limit(k));
	/* The first excess wakes the monitor, which sleeps while all do. */
	wake = monitor && hot_n(&p->hot) > hot_limit(k) &&
	       !atomic_load(&excess) && !atomic_exchange(&excess, true);
	weft__unlock(&p->lock);
	if (wake)
		weft__monitor_wake();
}

/*
 * The monitor's look (monitor.c), at most every TRIM_PERIOD_NS: trim the
 * hot stacks past the limit that stayed unused since the last one.  When
 * it should look again (-1: nothing is left to trim).
 */
int64_t weft__stack_trim(int64_t now)
{
	bool more = false;

	if (!atomic_load(&excess))
		return -1;
	if (now - last_trim < TRIM_PERIOD_NS)
		return last_trim + TRIM_PERIOD_NS;
	last_trim = now;
	/* Before the pools are read: a put after this says so again. */
	atomic_store(&excess, false);
	for (int k = 0; k < NR_CLASSES; k++) {
		struct pool *p = &pools[k];
		struct deque *d = &p->hot;
		size_t keep = hot_limit(k), n;

		weft__lock(&p->lock);
		n = hot_n(d) > keep ? hot_n(d) - keep : 0;
		trim_oldest(p, k, n < d->low ? n : d->low);
		d->low = hot_n(d);
		more |= hot_n(d) > keep;
		weft__unlock(&p->lock);
	}
	if (!more)
		return -1;
	atomic_store(&excess, true);
	return now + TRIM_PERIOD_NS;
}

/* For tests: how many freed stacks of size bytes stay committed for good. */
size_t weft__stack_keep(size_t size)
{
	return hot_limit(size_class(size));
}

/* The monitor runs (or no longer runs) weft__stack_trim. */
void weft__stack_monitor_trims(bool on)
{
	atomic_store(&monitor_trims, on);
}

/*
 * A carrier's cache is its own, but weft__stack_counts reads how full it
 * is from elsewhere: the count is a relaxed atomic (a plain load or store
 * on every target weft has).
 */
static unsigned cache_n(const struct weft__stack_cache *sc)
{
	return __atomic_load_n(&sc->n, __ATOMIC_RELAXED);
}

static void set_cache_n(struct weft__stack_cache *sc, unsigned n)
{
	__atomic_store_n(&sc->n, n, __ATOMIC_RELAXED);
}

/* Up to n stacks of class k, pooled or carved; how many. */
static size_t pool_get(struct pool *p, int k, uintptr_t *e, size_t n)
{
	size_t got = 0;

	weft__lock(&p->lock);
	while (got < n && (e[got] = take(p)))
		got++;
	while (got < n && (e[got] = carve(p, k)))
		got++;
	weft__unlock(&p->lock);
	return got;
}

/*
 * A stack of at least size bytes with a zeroed control block at its top,
 * or NULL when memory or mappings ran out.
 */
struct weft_thread *weft__stack_alloc(size_t size)
{
	int k = size_class(size);
	struct weft__carrier *c;
	struct weft__stack_cache *sc;
	uintptr_t e;

	if (k == DEDICATED) {
		size = ALIGN_UP(size, PAGE);
		char *m = map(size + PAGE);

		if (!m)
			return NULL;
		atomic_fetch_add(&dedicated, 1);
		return setup((uintptr_t)(m + PAGE) | guard(m + PAGE), size, k);
	}
	c = weft__carrier_self();
	sc = c ? &c->stack_cache[k] : NULL;
	if (!sc) {
		if (!pool_get(&pools[k], k, &e, 1))
			return NULL;
	} else {
		/* Empty: fill half of it, one lock for CACHE_HALF stacks. */
		if (!cache_n(sc))
			set_cache_n(sc,
				    pool_get(&pools[k], k, sc->e, CACHE_HALF));
		if (!cache_n(sc))
			return NULL;
		set_cache_n(sc, cache_n(sc) - 1);
		e = sc->e[cache_n(sc)];
	}
	return setup(e, (size_t)1 << (k + MIN_SHIFT), k);
}

void weft__stack_free(struct weft_thread *t)
{
	uintptr_t e = (uintptr_t)t->stack_lo | t->stack_guarded;
	char *lo = t->stack_lo;
	size_t size = t->stack_size;
	int k = t->stack_class;
	struct weft__carrier *c;
	struct weft__stack_cache *sc;

	/* The handle is stale from here. */
	atomic_store_explicit(&t->magic, 0, memory_order_relaxed);
	VALGRIND_STACK_DEREGISTER(t->valgrind_id);
	tsan_destroy_fiber(t->tsan_fiber); /* nobody runs on it now */
	if (k == DEDICATED) {
		if (t->stack_guarded)
			atomic_fetch_add(&guard_budget, 1);
		forget(lo - PAGE);
		munmap(lo - PAGE, size + PAGE);
		atomic_fetch_sub(&dedicated, 1);
		return;
	}
	ASAN_POISON_MEMORY_REGION((char *)t + TCB_STALE_OK,
				  TCB_SIZE - TCB_STALE_OK);
	c = weft__carrier_self();
	sc = c ? &c->stack_cache[k] : NULL;
	if (!sc) {
		pool_put(&pools[k], k, &e, 1);
		return;
	}
	/* Full: give back the older half, one lock for CACHE_HALF stacks. */
	if (cache_n(sc) == ARRAY_SIZE(sc->e)) {
		pool_put(&pools[k], k, sc->e, CACHE_HALF);
		set_cache_n(sc, cache_n(sc) - CACHE_HALF);
		memmove(sc->e, sc->e + CACHE_HALF,
			cache_n(sc) * sizeof(*sc->e));
	}
	sc->e[cache_n(sc)] = e;
	set_cache_n(sc, cache_n(sc) + 1);
}

/*
 * For tests, at a moment when no thread is spawned or ends: the stacks
 * made so far (carved from slabs, or mapped on their own), and how many
 * of them wait in the pools and the carriers' caches.  The rest are in
 * use, one per thread not yet freed.
 */
void weft__stack_counts(size_t *ret_made, size_t *ret_pooled)
{
	size_t made = atomic_load(&dedicated), pooled = 0;

	for (int k = 0; k < NR_CLASSES; k++) {
		struct pool *p = &pools[k];

		weft__lock(&p->lock);
		made += p->carved;
		pooled += hot_n(&p->hot) + p->cold.n;
		weft__unlock(&p->lock);
	}
	/* Their owners may be using them: a count, as good as the moment. */
	for (int i = 0; i < weft__rt.nr_carriers; i++)
		for (int k = 0; k < NR_CLASSES; k++)
			pooled +=
				cache_n(&weft__rt.carriers[i]->stack_cache[k]);
	*ret_made = made;
	*ret_pooled = pooled;
}

void weft__stack_cache_flush(struct weft__carrier *c)
{
	for (int k = 0; k < NR_CLASSES; k++) {
		struct weft__stack_cache *sc = &c->stack_cache[k];

		pool_put(&pools[k], k, sc->e, sc->n);
		sc->n = 0;
	}
}

/* Did a fault at addr hit t's guard page? */
bool weft__stack_overflowed(const struct weft_thread *t, void *addr)
{
	char *a = addr, *lo = t->stack_lo;

	return t->stack_guarded && a >= lo - PAGE && a < lo;
}

/* At shutdown: unmap every slab, whatever threads were left in them. */
void weft__stack_fork_lock(void)
{
	weft__lock(&maps_lock);
	for (int k = 0; k < NR_CLASSES; k++)
		weft__lock(&pools[k].lock);
}

void weft__stack_fork_unlock(void)
{
	for (int k = NR_CLASSES - 1; k >= 0; k--)
		weft__unlock(&pools[k].lock);
	weft__unlock(&maps_lock);
}

void weft__stack_fini(void)
{
	for (size_t i = 0; i < nr_maps; i++) {
		ASAN_UNPOISON_MEMORY_REGION(maps[i].p, maps[i].len);
		munmap(maps[i].p, maps[i].len);
	}
	free(maps);
	maps = NULL;
	nr_maps = maps_cap = 0;
	for (int k = 0; k < NR_CLASSES; k++) {
		free(pools[k].hot.e);
		free(pools[k].cold.e);
		memset(&pools[k], 0, sizeof(pools[k]));
	}
	atomic_store(&guard_budget, -1);
	atomic_store(&excess, false);
	last_trim = 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * Thread-local storage of its own for every virtual thread (the shim's).
 *
 * Static __thread and thread_local variables belong to the kernel
 * thread, which under the runtime is the carrier: every virtual thread
 * on a carrier would share them.  Much code keeps a thread's identity
 * there and breaks: Rust's std keeps the current thread's handle in TLS
 * (its spawn aborts when it finds another's), and tells threads apart by
 * the address of a thread-local; libstdc++ keeps the exceptions being
 * handled there.  So once weft__impl_tls_private() is called, every
 * thread spawned afterwards gets a TLS block of its own, laid out as
 * glibc lays out a new kernel thread's (_dl_allocate_tls: the static
 * TLS of every loaded module, with its image, and a dtv for dynamic
 * TLS), and the scheduler points the thread pointer (x86-64's fs base,
 * one wrfsbase) at it while the thread runs and back at the carrier's
 * when it leaves.
 *
 * Its thread control block (the words at the thread pointer) is the
 * carrier's, copied: the stack guard, the pointer guard and the CET
 * features, which must be the same everywhere, and "self", glibc's
 * struct pthread, which stays the carrier's (with its tid, copied in
 * too, because glibc reads it at the thread pointer): to glibc the
 * virtual thread still is its carrier's kernel thread, as before, and
 * only the variables are its own.  The rseq area, which the kernel keeps
 * current only in the carrier's block, says "not registered", so
 * sched_getcpu() asks the kernel.
 *
 * Blocks are reused: an ended thread's goes back to a pool, and the next
 * spawn gets it as glibc renews a cached stack's (_dl_allocate_tls_init:
 * dynamic TLS freed, every module's static TLS reset to its image, the
 * modules dlopened since included) but for libc's block, kept.  libc's
 * keeps the caches malloc hangs there (glibc frees them when a kernel
 * thread exits, and offers nobody else a way to), so they stay with the
 * block instead of leaking, and so do errno and the like, which a new
 * thread does not look at first.  The reset is sound only if the thread
 * that ended ran its key destructors and thread_local destructors
 * first, as a kernel thread does: other allocators (jemalloc) keep
 * per-thread state in TLS, registered globally, and unregister it from
 * a key destructor.  The shim ends every thread so.  The first time a
 * block's thread runs it sets up libc's ctype tables, as glibc's
 * start_thread does.
 *
 * Unless always, TLS of its own starts with the first spawn after a
 * module with TLS is loaded (at start, or by dlopen: the JVM's libjvm.so
 * keeps the current thread in TLS); threads that ran before keep the
 * carrier's.
 *
 * x86-64 with FSGSBASE (Linux 5.9+) only; elsewhere, and before the call,
 * the TLS stays the carrier's.  Cost: a few KiB a thread (one or two
 * pages touched) and two wrfsbase a switch, only for such threads.
 *
 * Rejected: copying the program's own TLS block in and out at every
 * switch (cheap, but every thread on a carrier sees the same addresses,
 * and Rust's channels tell threads apart by them), and a struct pthread
 * of glibc's per thread (its stdio locks and its own waits would then
 * block the carrier whenever a lock's owner parked).
 */
#include <dlfcn.h>
#include <link.h>
#include <string.h>
#include <sys/auxv.h>
#include <stdlib.h>
#include <sys/rseq.h>

#include "runtime.h"
#include "weftimpl.h"

#if defined(__x86_64__)
#define HAVE_TLS_SWITCH 1
#define TCBHEAD 128 /* glibc's tcbhead_t, copied from the carrier */
#define HWCAP2_FSGSBASE_ (1 << 1)
#else
#define HAVE_TLS_SWITCH 0
#define TCBHEAD 0 /* tls.on is never set: nothing below runs */
#endif

/*
 * glibc's dtv: a length before it, then one entry a module (index 0
 * holds the generation); dynamic TLS is malloc'd, to_free its block.
 */
typedef union {
	size_t counter;
	struct {
		void *val, *to_free;
	} pointer;
} dtv_t;

static struct {
	_Atomic bool on;
	bool watch;  /* auto: turn on when a module with TLS is loaded */
	size_t adds; /* dl_iterate_phdr's count of loads, at the scan */
	void *(*allocate)(void *);
	void *(*init)(void *, bool); /* _dl_allocate_tls_init */
	void (*ctype_init)(void);
	size_t tid_off;	       /* of the tid in glibc's struct pthread */
	ptrdiff_t program_off; /* the main program's block, or 0 */
	size_t program_size;
	ptrdiff_t libc_off; /* libc's block: kept when a block is reused */
	size_t libc_size;
	unsigned nr_foreign; /* modules with TLS, not libc's or the runtime's */
} tls;

/* Blocks of ended threads, for the next spawns; the scan, after start. */
static struct weft__lock pool_lock, scan_lock;
static void **pool;
static size_t pool_len, pool_cap;

static inline void *tp_now(void)
{
	return __builtin_thread_pointer();
}

void weft__tls_set(void *tp)
{
#if HAVE_TLS_SWITCH
	__asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
#endif
}

/* Is this the module the runtime itself is in? */
static bool ours(const struct dl_phdr_info *info)
{
	uintptr_t me = (uintptr_t)&tls;

	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && me >= lo && me < lo + ph->p_memsz)
			return true;
	}
	return false;
}

struct scan {
	void *tp;
	bool first;
};

/*
 * Count the modules with TLS (a module dlopened with dynamic TLS has no
 * block in this thread yet, but has TLS all the same); note where the
 * program's block (the first module's) and libc's are.
 */
static int scan_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	bool program = s->first;

	s->first = false;
	__atomic_store_n(&tls.adds, info->dlpi_adds, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		ptrdiff_t off = (char *)info->dlpi_tls_data - (char *)s->tp;

		if (ph->p_type != PT_TLS || !ph->p_memsz)
			continue;
		if (program && info->dlpi_tls_data) {
			tls.program_off = off;
			tls.program_size = ph->p_memsz;
		}
		if (strstr(info->dlpi_name, "/libc.so")) {
			if (info->dlpi_tls_data) {
				tls.libc_off = off;
				tls.libc_size = ph->p_memsz;
			}
		} else if (!ours(info)) {
			tls.nr_foreign++;
		}
	}
	return 0;
}

static void scan(void)
{
	struct scan s = { .tp = tp_now(), .first = true };

	tls.nr_foreign = 0;
	dl_iterate_phdr(scan_module, &s);
}

int weft__impl_tls_private(bool always)
{
#if HAVE_TLS_SWITCH
	const uint32_t *tid_desc;

	if (atomic_load(&weft__rt.state))
		return -EBUSY;
	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_))
		return -EOPNOTSUPP;
	tls.allocate =
		(void *(*)(void *))dlsym(RTLD_DEFAULT, "_dl_allocate_tls");
	tls.init = (void *(*)(void *, bool))dlsym(RTLD_DEFAULT,
						  "_dl_allocate_tls_init");
	tls.ctype_init = (void (*)(void))dlsym(RTLD_DEFAULT, "__ctype_init");
	tid_desc = dlsym(RTLD_DEFAULT, "_thread_db_pthread_tid");
	if (!tls.allocate || !tls.init || !tls.ctype_init || !tid_desc ||
	    tid_desc[0] != 32)
		return -EOPNOTSUPP;
	tls.tid_off = tid_desc[2];
	scan();
	if (!tls.libc_size) /* renew() keeps libc's block: it must see it */
		return -EOPNOTSUPP;
	if (!always && !tls.nr_foreign) {
		tls.watch = true;
		return -ENOENT;
	}
	atomic_store(&tls.on, true);
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

static int count_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	*(size_t *)arg = info->dlpi_adds;
	return 1;
}

/*
 * Watching: has a module with TLS been loaded (dlopen) since the last
 * look?  Then threads spawned from now on get TLS of their own, as from
 * the start (the JVM's libjvm.so keeps the current thread in TLS).  One
 * dl_iterate_phdr callback a spawn while nothing was loaded.
 */
static bool loaded_tls(void)
{
	size_t adds = 0;

	dl_iterate_phdr(count_adds, &adds);
	if (adds == __atomic_load_n(&tls.adds, __ATOMIC_RELAXED))
		return false;
	weft__lock(&scan_lock);
	if (!atomic_load(&tls.on)) {
		scan();
		if (tls.nr_foreign)
			atomic_store(&tls.on, true);
	}
	weft__unlock(&scan_lock);
	return atomic_load(&tls.on);
}

bool weft__tls_on(void)
{
	return atomic_load_explicit(&tls.on, memory_order_relaxed);
}

bool weft__impl_tls_own(void)
{
	struct weft_thread *t = weft__self();

	return t && t->tp;
}

void *weft__impl_tls_block(size_t *ret_size)
{
	*ret_size = tls.program_size;
	if (!weft__tls_on() || !tls.program_size)
		return NULL;
	return (char *)tp_now() + tls.program_off;
}

/* A new block: glibc's own layout, with the carrier's control words. */
static void *fresh(void)
{
	void *tp = tls.allocate(NULL), *dtv;

	if (!tp)
		return NULL;
	dtv = ((void **)tp)[1];
	memcpy(tp, tp_now(), TCBHEAD); /* guards, features, self */
	((void **)tp)[0] = tp;
	((void **)tp)[1] = dtv;
	if (__rseq_size)
		*(volatile int32_t *)((char *)tp + __rseq_offset +
				      offsetof(struct rseq, cpu_id)) =
			RSEQ_CPU_ID_REGISTRATION_FAILED;
	return tp;
}

/*
 * An ended thread's block, as new: what glibc does to a cached stack's
 * (the dynamic TLS freed, every module's static TLS reset to its image,
 * those loaded since included) but libc's block, kept (see above).
 */
static void renew(void *tp)
{
	dtv_t *dtv = ((dtv_t **)tp)[1];
	char libc[tls.libc_size];
	char *at = (char *)tp + tls.libc_off;

	memcpy(libc, at, tls.libc_size);
	for (size_t i = 0; i < dtv[-1].counter; i++)
		free(dtv[1 + i].pointer.to_free);
	memset(dtv, 0, (dtv[-1].counter + 1) * sizeof(*dtv));
	tls.init(tp, true);
	memcpy(at, libc, tls.libc_size);
}

void *weft__tls_get(void)
{
	void *tp = NULL;

	if (!weft__tls_on() && !(tls.watch && loaded_tls()))
		return NULL;
	weft__lock(&pool_lock);
	if (pool_len)
		tp = pool[--pool_len];
	weft__unlock(&pool_lock);
	if (!tp)
		return fresh();
	renew(tp);
	return tp;
}

/* A block kept out of the pool (no memory to grow it) just leaks. */
void weft__tls_put(void *tp)
{
	void **grown;

	weft__lock(&pool_lock);
	if (pool_len == pool_cap) {
		grown = realloc(pool,
				(pool_cap ? 2 * pool_cap : 64) * sizeof(*pool));
		if (grown) {
			pool = grown;
			pool_cap = pool_cap ? 2 * pool_cap : 64;
		}
	}
	if (pool_len < pool_cap)
		pool[pool_len++] = tp;
	weft__unlock(&pool_lock);
}

/* On the carrier, before switching to t: its tid and self are c's. */
void weft__tls_enter(struct weft__carrier *c, struct weft_thread *t)
{
	char *h = t->tp;

	if (unlikely(!c->tp))
		c->tp = tp_now(); /* the scheduler runs on the carrier's */
	((void **)h)[2] = ((void **)c->tp)[2];
	memcpy(h + tls.tid_off, (char *)c->tp + tls.tid_off, sizeof(pid_t));
	weft__tls_set(t->tp);
}

/* The thread's first run, on its own TLS: what start_thread does. */
void weft__tls_first(void)
{
	tls.ctype_init();
}

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
 * spawn gets the static TLS of every module but libc's reset to its
 * image.  libc's keeps the caches malloc hangs there (glibc frees them
 * when a kernel thread exits, and offers nobody else a way to), so they
 * stay with the block instead of leaking, and so do errno and the like,
 * which a new thread does not look at first.  The reset is sound only
 * if the thread that ended ran its key destructors and thread_local
 * destructors first, as a kernel thread does: other allocators
 * (jemalloc) keep per-thread state in TLS, registered globally, and
 * unregister it from a key destructor.  The shim ends every thread so.
 * Dynamic TLS (modules dlopened later) stays too, and static TLS of a
 * module loaded after a block was made is not initialised in it.  The
 * first time a block's thread runs it sets up libc's ctype tables, as
 * glibc's start_thread does.
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

#define MAX_MODULES 64

/* A module's static TLS: where it is from the thread pointer, its image. */
struct module {
	ptrdiff_t off;
	const void *image;
	size_t filesz, memsz;
};

static struct {
	bool on;
	void *(*allocate)(void *);
	void (*ctype_init)(void);
	size_t tid_off;	       /* of the tid in glibc's struct pthread */
	ptrdiff_t program_off; /* the main program's block, or 0 */
	size_t program_size;
	unsigned nr_modules; /* reset on reuse: all but libc's */
	unsigned nr_foreign; /* of them, not the runtime's own module */
	struct module modules[MAX_MODULES];
} tls;

/* Blocks of ended threads, for the next spawns. */
static struct weft__lock pool_lock;
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
	bool first, failed;
};

/* Record every module with static TLS; the first one is the program. */
static int scan_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct scan *s = arg;
	bool program = s->first;

	s->first = false;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		struct module *m;

		if (ph->p_type != PT_TLS || !ph->p_memsz ||
		    !info->dlpi_tls_data)
			continue;
		if (program) {
			tls.program_off =
				(char *)info->dlpi_tls_data - (char *)s->tp;
			tls.program_size = ph->p_memsz;
		}
		if (strstr(info->dlpi_name, "/libc.so"))
			continue;
		if (!ours(info))
			tls.nr_foreign++;
		if (tls.nr_modules == MAX_MODULES) {
			s->failed = true;
			return 1;
		}
		m = &tls.modules[tls.nr_modules++];
		m->off = (char *)info->dlpi_tls_data - (char *)s->tp;
		m->image = (const void *)(info->dlpi_addr + ph->p_vaddr);
		m->filesz = ph->p_filesz;
		m->memsz = ph->p_memsz;
	}
	return 0;
}

int weft__impl_tls_private(bool always)
{
#if HAVE_TLS_SWITCH
	struct scan s = { .tp = tp_now(), .first = true };
	const uint32_t *tid_desc;

	if (atomic_load(&weft__rt.state))
		return -EBUSY;
	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_))
		return -EOPNOTSUPP;
	tls.allocate =
		(void *(*)(void *))dlsym(RTLD_DEFAULT, "_dl_allocate_tls");
	tls.ctype_init = (void (*)(void))dlsym(RTLD_DEFAULT, "__ctype_init");
	tid_desc = dlsym(RTLD_DEFAULT, "_thread_db_pthread_tid");
	if (!tls.allocate || !tls.ctype_init || !tid_desc || tid_desc[0] != 32)
		return -EOPNOTSUPP;
	tls.tid_off = tid_desc[2];
	tls.nr_modules = tls.nr_foreign = 0;
	dl_iterate_phdr(scan_module, &s);
	if (s.failed)
		return -EOPNOTSUPP;
	if (!always && !tls.nr_foreign)
		return -ENOENT;
	tls.on = true;
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

bool weft__tls_on(void)
{
	return tls.on;
}

bool weft__impl_tls_own(void)
{
	struct weft_thread *t = weft__self();

	return t && t->tp;
}

void *weft__impl_tls_block(size_t *ret_size)
{
	*ret_size = tls.program_size;
	if (!tls.on || !tls.program_size)
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

void *weft__tls_get(void)
{
	void *tp = NULL;

	if (!tls.on)
		return NULL;
	weft__lock(&pool_lock);
	if (pool_len)
		tp = pool[--pool_len];
	weft__unlock(&pool_lock);
	if (!tp)
		return fresh();
	for (unsigned i = 0; i < tls.nr_modules; i++) {
		const struct module *m = &tls.modules[i];
		char *b = (char *)tp + m->off;

		memcpy(b, m->image, m->filesz);
		memset(b + m->filesz, 0, m->memsz - m->filesz);
	}
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

/* SPDX-License-Identifier: MIT */
/*
 * pthread mutexes on weft's mutex, for every caller: a mutex must mean
 * the same bytes to whoever touches it, and weft's parks a virtual thread
 * and blocks a plain one.  Recursive and error-checking mutexes keep an
 * owner and a count around it.
 *
 * A process-shared mutex is a futex word instead (sync.h), locked as in
 * Drepper's "Futexes Are Tricky": its wait parks a virtual thread and
 * blocks a plain one (lib/futex.c), and any process may wake it.  Its
 * owner is a thread of one process: the owner's pid goes with it.
 *
 * A robust mutex is a futex word too, locked as glibc locks one, so a
 * native process may share it: the owner's id in the word (here the
 * process's pid: glibc's is the kernel thread's), FUTEX_WAITERS while
 * anyone waits, FUTEX_OWNER_DIED once the owner is gone, and the state
 * of the data it guards where glibc keeps it (__owner).  Two deaths end
 * an owner.  A virtual thread's: when it ends, the robust mutexes it
 * holds are marked here, as the kernel marks a kernel thread's.  The
 * process's: every robust mutex a thread of it holds is on one list,
 * which carrier 0 (whose thread id is the pid) gives the kernel with
 * set_robust_list(2), and the kernel marks them when the process dies.
 * The list is singly linked, through the __list.__next glibc's mutexes
 * use, and changed under a spinlock nobody parks in.  Not kept: the
 * kernel's list_op_pending (a process killed between taking the word
 * and linking the mutex leaves it taken), robust mutexes held by plain
 * threads past their end, and the held ones of the threads that did not
 * fork (in the child they stay taken, as glibc's do).
 */
#include "sync.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KIND_MASK 3 /* NORMAL, RECURSIVE, ERRORCHECK, ADAPTIVE */

static inline struct weft__mutex *of(pthread_mutex_t *pm)
{
	return (struct weft__mutex *)pm;
}

static int kind(const struct weft__mutex *m)
{
	int k = m->kind & KIND_MASK;

	return k == PTHREAD_MUTEX_ADAPTIVE_NP ? PTHREAD_MUTEX_NORMAL : k;
}

static bool robust(const struct weft__mutex *m)
{
	return m->kind & WEFT__ROBUST;
}

/* Does it keep its owner? */
static bool owned(const struct weft__mutex *m)
{
	return kind(m) != PTHREAD_MUTEX_NORMAL || robust(m);
}

/* The process's robust list, and its pid (what fork changes). */
static struct {
	struct robust_list_head head;
	atomic_flag lock;
	int pid;
} rl = {
	.head = {
		.list = { &rl.head.list },
		.futex_offset = offsetof(struct weft__mutex, sh.word) -
				offsetof(struct weft__mutex, next),
	},
	.lock = ATOMIC_FLAG_INIT,
};

static int pid(void)
{
	return rl.pid ? rl.pid : getpid();
}

/* Is the caller, self, its owner? */
static bool owns(struct weft__mutex *m, uintptr_t self)
{
	if (__atomic_load_n(&m->owner, __ATOMIC_RELAXED) != self)
		return false;
	return !weft__mutex_shared(m) || m->sh.pid == pid();
}

static void set_owner(struct weft__mutex *m, uintptr_t o)
{
	if (weft__mutex_shared(m))
		m->sh.pid = o ? pid() : 0;
	__atomic_store_n(&m->owner, o, __ATOMIC_RELAXED);
}

WEFT_EXPORT int pthread_mutex_init(pthread_mutex_t *pm,
				   const pthread_mutexattr_t *attr)
{
	struct weft__mutex *m = of(pm);
	int type = PTHREAD_MUTEX_NORMAL, pshared = PTHREAD_PROCESS_PRIVATE;

	int robustness = PTHREAD_MUTEX_STALLED;

	if (attr && (pthread_mutexattr_gettype(attr, &type) ||
		     pthread_mutexattr_getpshared(attr, &pshared) ||
		     pthread_mutexattr_getrobust(attr, &robustness)))
		return EINVAL;
	*pm = (pthread_mutex_t){ 0 };
	m->kind = type;
	if (pshared == PTHREAD_PROCESS_SHARED)
		m->kind |= WEFT__PSHARED;
	if (robustness == PTHREAD_MUTEX_ROBUST)
		m->kind |= WEFT__ROBUST;
	return 0;
}

/* Lock the futex word w, as a mutex: 0, -EBUSY (try), -ETIMEDOUT. */
static int word_trylock(uint32_t *w, uint32_t *was)
{
	*was = 0;
	return __atomic_compare_exchange_n(w, was, 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED) ?
		       0 :
		       -EBUSY;
}

static int word_lock(uint32_t *w, int64_t deadline)
{
	uint32_t c;

	if (word_trylock(w, &c) == 0)
		return 0;
	if (c != 2)
		c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	while (c) {
		/* Not a cancellation point, nor interrupted by a handler. */
		if (weft__impl_futex_wait(w, 2, ~0u, true, deadline) ==
		    -ETIMEDOUT)
			return -ETIMEDOUT;
		c = __atomic_exchange_n(w, 2, __ATOMIC_ACQUIRE);
	}
	return 0;
}

static void word_unlock(uint32_t *w)
{
	if (__atomic_fetch_sub(w, 1, __ATOMIC_RELEASE) != 1) {
		__atomic_store_n(w, 0, __ATOMIC_RELEASE);
		weft__impl_futex_wake(w, 1, ~0u, true);
	}
}

/* ---- robust mutexes ---- */

/* How to lock: trylock, wait forever, wait until a deadline. */
enum { TRY, WAIT, TIMED };

#define INCONSISTENT INT_MAX	     /* glibc's PTHREAD_MUTEX_INCONSISTENT */
#define NOTRECOVERABLE (INT_MAX - 1) /* ... _NOTRECOVERABLE */

static void list_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&rl.lock,
						 memory_order_acquire))
		__builtin_ia32_pause();
}

static void list_unlock(void)
{
	atomic_flag_clear_explicit(&rl.lock, memory_order_release);
}

static void link_in(struct weft__mutex *m)
{
	list_lock();
	m->next = rl.head.list.next;
	rl.head.list.next = (struct robust_list *)&m->next;
	list_unlock();
}

/* Off the list, if it is there (after a fork it may not be). */
static void link_out(struct weft__mutex *m)
{
	struct robust_list **p = &rl.head.list.next;

	list_lock();
	while (*p != &rl.head.list && *p != (struct robust_list *)&m->next)
		p = &(*p)->next;
	if (*p != &rl.head.list)
		*p = m->next;
	list_unlock();
	m->next = NULL;
}

/* Swap *w from *was to v, or read it into *was. */
static bool cas(uint32_t *w, uint32_t *was, uint32_t v)
{
	return __atomic_compare_exchange_n(w, was, v, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/* Free the word, and wake one if anyone waits. */
static void release(struct weft__mutex *m)
{
	uint32_t was = __atomic_exchange_n(&m->sh.word, 0, __ATOMIC_RELEASE);

	if (was & FUTEX_WAITERS)
		weft__impl_futex_wake(&m->sh.word, 1, ~0u,
				      weft__mutex_shared(m));
}

/*
 * Take m's word: 0, EOWNERDEAD (taken, the data inconsistent), or
 * ENOTRECOVERABLE, EBUSY (try), ETIMEDOUT (not taken).  After a wait it
 * takes the word with FUTEX_WAITERS, as others may wait still.
 */
static int robust_lock(struct weft__mutex *m, int how, int64_t deadline)
{
	uint32_t *w = &m->sh.word, id = pid(), was, waiters = 0;

	was = __atomic_load_n(w, __ATOMIC_RELAXED);
	for (;;) {
		if (was & FUTEX_OWNER_DIED) {
			if (!cas(w, &was, id | (was & FUTEX_WAITERS)))
				continue;
			link_in(m);
			m->sh.state = INCONSISTENT;
			return EOWNERDEAD;
		}
		if (!(was & FUTEX_TID_MASK)) {
			if (cas(w, &was, id | waiters))
				break;
			continue;
		}
		if (how == TRY)
			return EBUSY;
		if (!(was & FUTEX_WAITERS) &&
		    !cas(w, &was, was | FUTEX_WAITERS))
			continue;
		if (weft__impl_futex_wait(w, was | FUTEX_WAITERS, ~0u,
					  weft__mutex_shared(m),
					  deadline) == -ETIMEDOUT)
			return ETIMEDOUT;
		waiters = FUTEX_WAITERS;
		was = __atomic_load_n(w, __ATOMIC_RELAXED);
	}
	if (m->sh.state == NOTRECOVERABLE) {
		release(m);
		return ENOTRECOVERABLE;
	}
	link_in(m);
	return 0;
}

static void robust_unlock(struct weft__mutex *m)
{
	if (m->sh.state == INCONSISTENT) /* nobody made it consistent */
		m->sh.state = NOTRECOVERABLE;
	link_out(m);
	release(m);
}

/* As the kernel marks a dead thread's: a next locker gets EOWNERDEAD. */
static void mark_dead(struct weft__mutex *m)
{
	uint32_t was = __atomic_load_n(&m->sh.word, __ATOMIC_RELAXED);

	while (!cas(&m->sh.word, &was,
		    (was & FUTEX_WAITERS) | FUTEX_OWNER_DIED))
		;
	if (was & FUTEX_WAITERS)
		weft__impl_futex_wake(&m->sh.word, 1, ~0u,
				      weft__mutex_shared(m));
}

static struct weft__mutex *of_link(struct robust_list *l)
{
	return (struct weft__mutex *)((char *)l -
				      offsetof(struct weft__mutex, next));
}

void weft__robust_died(uintptr_t self)
{
	struct robust_list **p = &rl.head.list.next, *dead = NULL, *l;

	if (rl.head.list.next == &rl.head.list)
		return;
	list_lock();
	while ((l = *p) != &rl.head.list) {
		if (of_link(l)->owner == self) {
			*p = l->next;
			l->next = dead;
			dead = l;
		} else {
			p = &l->next;
		}
	}
	list_unlock();
	while ((l = dead)) {
		struct weft__mutex *m = of_link(l);

		dead = l->next;
		m->next = NULL;
		m->owner = 0;
		m->count = 0;
		if (weft__mutex_shared(m))
			m->sh.pid = 0;
		mark_dead(m);
	}
}

/*
 * On carrier 0, before the runtime starts and in a fork's child: an
 * empty list, the process's pid, and the list given to the kernel.
 */
void weft__robust_start(void)
{
	rl.head.list.next = &rl.head.list;
	rl.head.list_op_pending = NULL;
	atomic_flag_clear(&rl.lock);
	rl.pid = getpid();
	syscall(SYS_set_robust_list, &rl.head, sizeof(rl.head));
}

WEFT_EXPORT int pthread_mutex_consistent(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);

	if (!robust(m) || m->sh.state != INCONSISTENT ||
	    !owns(m, weft__shim_self()))
		return EINVAL;
	m->sh.state = 0;
	return 0;
}

/* Its old name, which new headers rename. */
#define OLD_NAME __asm__("pthread_mutex_consistent_np")
WEFT_EXPORT int old_consistent_np(pthread_mutex_t *pm) OLD_NAME
	WEFT_ALIAS_OF(pthread_mutex_consistent);

/* ---- futex-word mutexes ---- */

int weft__mutex_word_lock(struct weft__mutex *m)
{
	if (robust(m))
		return robust_lock(m, WAIT, -1);
	word_lock(&m->sh.word, -1);
	return 0;
}

void weft__mutex_word_unlock(struct weft__mutex *m)
{
	if (robust(m))
		robust_unlock(m);
	else
		word_unlock(&m->sh.word);
}

uint32_t weft__seq_enter(struct weft__seq *s)
{
	__atomic_fetch_add(&s->waiters, 1, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&s->seq, __ATOMIC_SEQ_CST);
}

/* 0 when woken (or the word moved on), else the wait's error. */
int weft__seq_sleep(struct weft__seq *s, uint32_t seq, bool shared,
		    int64_t deadline)
{
	int r = weft__impl_futex_wait(&s->seq, seq, ~0u, shared, deadline);

	__atomic_fetch_sub(&s->waiters, 1, __ATOMIC_SEQ_CST);
	return r == -EAGAIN ? 0 : r;
}

void weft__seq_wake(struct weft__seq *s, int n, bool shared)
{
	if (!__atomic_load_n(&s->waiters, __ATOMIC_SEQ_CST))
		return;
	__atomic_fetch_add(&s->seq, 1, __ATOMIC_SEQ_CST);
	weft__impl_futex_wake(&s->seq, n, ~0u, shared);
}

void weft__plock_lock(struct weft__plock *l)
{
	word_lock(&l->word, -1);
}

void weft__plock_unlock(struct weft__plock *l)
{
	word_unlock(&l->word);
}

int weft__plock_wait(struct weft__plock *l, int64_t deadline)
{
	uint32_t seq = weft__seq_enter(&l->seq);
	int r;

	word_unlock(&l->word);
	r = weft__seq_sleep(&l->seq, seq, true, deadline);
	word_lock(&l->word, -1);
	return r == -ETIMEDOUT ? r : 0;
}

void weft__plock_wake_all(struct weft__plock *l)
{
	weft__seq_wake(&l->seq, INT_MAX, true);
}

WEFT_EXPORT int pthread_mutex_destroy(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);

	uint32_t was;

	if (robust(m))
		return __atomic_load_n(&m->sh.word, __ATOMIC_RELAXED) &
				       FUTEX_TID_MASK ?
			       EBUSY :
			       0;
	if (weft__mutex_shared(m)) {
		if (word_trylock(&m->sh.word, &was) < 0)
			return EBUSY;
		word_unlock(&m->sh.word);
		return 0;
	}
	if (weft_mutex_trylock(&m->m) < 0)
		return EBUSY;
	weft_mutex_unlock(&m->m);
	return 0;
}

/*
 * Lock m with how, as lock() below does.  An owner checks itself first,
 * recursive or not.
 */

static int lock(struct weft__mutex *m, int how, int64_t deadline)
{
	int k = kind(m), r;
	uintptr_t self = 0;
	uint32_t was;

	if (owned(m))
		self = weft__shim_self();
	if (k != PTHREAD_MUTEX_NORMAL && owns(m, self)) {
		if (k == PTHREAD_MUTEX_ERRORCHECK)
			return how == TRY ? EBUSY : EDEADLK;
		if (m->count == UINT32_MAX)
			return EAGAIN;
		m->count++;
		return 0;
	}
	if (robust(m)) {
		r = -robust_lock(m, how, deadline);
		if (r == -ENOTRECOVERABLE || r == -EBUSY || r == -ETIMEDOUT)
			return -r;
	} else if (weft__mutex_shared(m)) {
		r = how == TRY ? word_trylock(&m->sh.word, &was) :
				 word_lock(&m->sh.word, deadline);
	} else if (how == TRY) {
		r = weft_mutex_trylock(&m->m);
	} else if (how == WAIT) {
		r = weft_mutex_lock(&m->m);
	} else {
		r = weft_mutex_timedlock(&m->m, deadline);
	}
	if (r < 0 && r != -EOWNERDEAD)
		return -r;
	if (owned(m)) {
		set_owner(m, self);
		m->count = 1;
	}
	return -r;
}

WEFT_EXPORT int pthread_mutex_lock(pthread_mutex_t *pm)
{
	return lock(of(pm), WAIT, -1);
}

WEFT_EXPORT int pthread_mutex_trylock(pthread_mutex_t *pm)
{
	return lock(of(pm), TRY, -1);
}

/* As glibc: the clock is checked first, the time only if it is taken. */
static int clocklock(pthread_mutex_t *pm, clockid_t clock,
		     const struct timespec *abs)
{
	int64_t d;
	int r;

	if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC)
		return EINVAL;
	r = lock(of(pm), TRY, -1);
	if (r != EBUSY)
		return r;
	d = weft__wait_deadline(clock, abs);
	if (d < 0)
		return EINVAL;
	return lock(of(pm), TIMED, d);
}

WEFT_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *pm,
					const struct timespec *abs)
{
	return clocklock(pm, CLOCK_REALTIME, abs);
}

WEFT_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *pm, clockid_t clock,
					const struct timespec *abs)
{
	return clocklock(pm, clock, abs);
}

bool weft__mutex_owned(struct weft__mutex *m)
{
	return !owned(m) || owns(m, weft__shim_self());
}

WEFT_EXPORT int pthread_mutex_unlock(pthread_mutex_t *pm)
{
	struct weft__mutex *m = of(pm);

	if (owned(m)) {
		if (!owns(m, weft__shim_self()))
			return EPERM;
		if (--m->count)
			return 0;
		set_owner(m, 0);
	}
	if (weft__mutex_by_word(m)) {
		weft__mutex_word_unlock(m);
		return 0;
	}
	return -weft_mutex_unlock(&m->m);
}

unsigned weft__mutex_release(struct weft__mutex *m)
{
	unsigned count = m->count;

	if (owned(m)) {
		m->count = 0;
		set_owner(m, 0);
	}
	return count;
}

void weft__mutex_reown(struct weft__mutex *m, unsigned count)
{
	if (owned(m)) {
		set_owner(m, weft__shim_self());
		m->count = count;
	}
}

/*
 * The names libpthread exported before glibc 2.34, still there for old
 * binaries (and GCC's old way of asking whether threads are linked in).
 */
#define ALIAS(ret, old, new, params) \
	WEFT_EXPORT ret old params WEFT_ALIAS_OF(new)

ALIAS(int, __pthread_mutex_init, pthread_mutex_init,
      (pthread_mutex_t *, const pthread_mutexattr_t *));
ALIAS(int, __pthread_mutex_destroy, pthread_mutex_destroy, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_lock, pthread_mutex_lock, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_trylock, pthread_mutex_trylock, (pthread_mutex_t *));
ALIAS(int, __pthread_mutex_unlock, pthread_mutex_unlock, (pthread_mutex_t *));

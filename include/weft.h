/* SPDX-License-Identifier: MIT */
/*
 * weft: virtual threads on io_uring.
 *
 * Every function returns a value >= 0 on success and a negative errno on
 * failure; errno is left alone.  Every function also works from a plain
 * kernel thread, where a blocking call blocks that thread honestly and
 * gives the same results as the system call.
 *
 * Bad arguments: NULL and out-of-range values fail with -EINVAL (the I/O
 * functions with the system call's own errno, -EBADF, -EFAULT...).  A
 * handle (thread, group, future, scope) is checked with a magic number:
 * storage never opened, and a thread handle used after its join, fail
 * with -EINVAL until the memory is reused (see weft_thread_join); in
 * the child of a fork, a handle of what stayed behind in the parent
 * fails with -ECHILD.  A freed channel cannot be checked.
 *
 * Time is one type: int64_t nanoseconds of CLOCK_MONOTONIC (weft_now()).
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_API __attribute__((visibility("default")))

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0
#define WEFT_VERSION "0.1.0"

/* The library's version, "MAJOR.MINOR.PATCH". */
WEFT_API const char *weft_version(void);

/* ---- the runtime ------------------------------------------------------ */

/*
 * Run fn(arg) as a virtual thread on a fresh runtime, the calling kernel
 * thread being its first carrier; return fn's value once fn and every
 * thread it left running have ended, with the runtime shut down.  If the
 * runtime is already running, fn runs on it and is joined.
 */
WEFT_API intptr_t weft_main(intptr_t (*fn)(void *), void *arg);

/*
 * Stop a runtime started lazily by a spawn from a plain thread: waits until
 * every virtual thread has ended, then ends the carriers and frees rings,
 * stacks and fds.  -EINVAL from a virtual thread, 0 if none is running.
 */
WEFT_API int weft_shutdown(void);

/*
 * Carriers the runtime runs on (0 when stopped): WEFT_CARRIERS of them,
 * and the extra ones the monitor runs while some are stuck.
 */
WEFT_API int weft_carrier_count(void);

/* Index of the caller's carrier, or -1 on a plain kernel thread. */
WEFT_API int weft_carrier_index(void);

/* ---- virtual threads ---------------------------------------------------- */

struct weft_thread;

#define WEFT_SPAWN_MIGRATABLE 0x1u /* may move between carriers */
#define WEFT_SPAWN_DETACHED 0x2u   /* nobody joins it */

struct weft_spawn_attr {
	size_t stack_size; /* 0: the default, 64 KiB (WEFT_STACK_SIZE_KB) */
	unsigned flags;	   /* WEFT_SPAWN_* */
	const char *name;  /* for messages; not copied */
};

/*
 * Start fn(arg) in a new virtual thread.  A thread's value is what fn
 * returns: a value in [-4095, -1] is a failure (a negative errno), any
 * other value (an integer or a pointer) is its result.  The runtime starts
 * on first use.  *ret_thread is set unless WEFT_SPAWN_DETACHED was given,
 * when ret_thread may be NULL.
 */
WEFT_API int weft_thread_spawn(struct weft_thread **ret_thread,
			       intptr_t (*fn)(void *), void *arg,
			       const struct weft_spawn_attr *attr);

/*
 * Wait for t to end, store its value in *ret_value, and free t.  -EINVAL
 * for a detached t, one being joined, or (its magic cleared) one joined
 * already, while its stack is not reused: stacks go to the next spawn
 * most recent first, and one over 64 MiB is unmapped at once, so a
 * stale handle is a bug this can catch, not an API.  -ECHILD in the
 * child of a fork for a thread that stayed behind in the parent.
 */
WEFT_API int weft_thread_join(struct weft_thread *t, intptr_t *ret_value);

/* Let t free itself when it ends; it must not be joined.  As join. */
WEFT_API int weft_thread_detach(struct weft_thread *t);

/* The calling virtual thread, or NULL on a plain kernel thread. */
WEFT_API struct weft_thread *weft_thread_self(void);

/* A number unique to t for the life of the process (1, 2, ...); 0: stale. */
WEFT_API uint64_t weft_thread_id(const struct weft_thread *t);

/* Let other runnable threads run; sched_yield() on a plain thread. */
WEFT_API int weft_yield(void);

/* ---- time ------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds. */
WEFT_API int64_t weft_now(void);

/* Sleep until weft_now() >= deadline; 0, or -EINVAL for deadline < 0. */
WEFT_API int weft_sleep_until(int64_t deadline);

/* ---- blocking operations ------------------------------------------------ */

/*
 * Each parks the calling virtual thread on an io_uring operation and
 * returns the operation's result; on a plain thread it is the system call.
 */
WEFT_API ssize_t weft_read(int fd, void *buf, size_t len);
WEFT_API ssize_t weft_write(int fd, const void *buf, size_t len);
WEFT_API ssize_t weft_readv(int fd, const struct iovec *iov, int iovcnt);
WEFT_API ssize_t weft_writev(int fd, const struct iovec *iov, int iovcnt);
WEFT_API ssize_t weft_pread(int fd, void *buf, size_t len, off_t off);
WEFT_API ssize_t weft_pwrite(int fd, const void *buf, size_t len, off_t off);
WEFT_API ssize_t weft_recv(int fd, void *buf, size_t len, int flags);
WEFT_API ssize_t weft_send(int fd, const void *buf, size_t len, int flags);
WEFT_API ssize_t weft_recvmsg(int fd, struct msghdr *msg, int flags);
WEFT_API ssize_t weft_sendmsg(int fd, const struct msghdr *msg, int flags);
WEFT_API int weft_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
			 int flags);
WEFT_API int weft_connect(int fd, const struct sockaddr *addr,
			  socklen_t addrlen);
/* Wait for events (POLLIN, ...) on fd; returns the revents. */
WEFT_API int weft_poll(int fd, short events);
WEFT_API int weft_openat(int dirfd, const char *path, int flags, mode_t mode);
WEFT_API int weft_close(int fd);
WEFT_API int weft_fsync(int fd);

/* ---- synchronisation ---------------------------------------------------- */

/*
 * Mutex, condition variable and semaphore park a virtual thread instead
 * of blocking its carrier, and work between carriers and with plain
 * threads.  The caller owns the storage; all-zero is a valid unlocked
 * mutex, an empty condition variable and a semaphore of value 0.
 */
struct weft_mutex {
	uint64_t opaque[2];
};
struct weft_cond {
	uint64_t opaque[2];
};
struct weft_sem {
	uint64_t opaque[2];
};
/* clang-format off */
#define WEFT_MUTEX_INIT { { 0 } }
#define WEFT_COND_INIT { { 0 } }
#define WEFT_SEM_INIT(n) { { (uint64_t)(n) } }
/* clang-format on */

WEFT_API int weft_mutex_init(struct weft_mutex *m);
WEFT_API int weft_mutex_lock(struct weft_mutex *m);
/* -ETIMEDOUT once weft_now() >= deadline. */
WEFT_API int weft_mutex_timedlock(struct weft_mutex *m, int64_t deadline);
/* -EBUSY if it is held. */
WEFT_API int weft_mutex_trylock(struct weft_mutex *m);
WEFT_API int weft_mutex_unlock(struct weft_mutex *m);

WEFT_API int weft_cond_init(struct weft_cond *c);
/* -EPERM if m is not locked. */
WEFT_API int weft_cond_wait(struct weft_cond *c, struct weft_mutex *m);
/* -ETIMEDOUT once weft_now() >= deadline; m is held again either way. */
WEFT_API int weft_cond_timedwait(struct weft_cond *c, struct weft_mutex *m,
				 int64_t deadline);
WEFT_API int weft_cond_signal(struct weft_cond *c);
WEFT_API int weft_cond_broadcast(struct weft_cond *c);

WEFT_API int weft_sem_init(struct weft_sem *s, unsigned value);
WEFT_API int weft_sem_wait(struct weft_sem *s);
WEFT_API int weft_sem_timedwait(struct weft_sem *s, int64_t deadline);
/* -EAGAIN if the value is 0. */
WEFT_API int weft_sem_trywait(struct weft_sem *s);
WEFT_API int weft_sem_post(struct weft_sem *s);
/* The current value. */
WEFT_API int weft_sem_value(struct weft_sem *s);

/* ---- structured concurrency: thread groups ------------------------------ */

/*
 * A group joins every thread spawned into it before its scope ends.  A
 * thread fails by returning a negative errno (-4095..-1).  Policies:
 */
#define WEFT_FAIL_FAST 0     /* the first failure cancels the rest */
#define WEFT_SUPERVISE 1     /* every thread runs to its end */
#define WEFT_FIRST_SUCCESS 2 /* the first success cancels the rest */

struct weft_group_opts {
	int policy;		  /* WEFT_FAIL_FAST by default */
	unsigned max_concurrency; /* 0: no limit; spawn waits at it */
	int64_t deadline;	  /* absolute (weft_now()); 0: none */
};

/* Caller-owned storage for a group; see weft_group() below. */
struct weft_group {
	uint64_t opaque[24];
};

struct weft_future;

/*
 * Open a group owned by the caller, whose innermost scope it becomes.
 * Only the owner joins; weft_group_join returns the first real failure,
 * -ETIMEDOUT if the deadline fired, -ECANCELED if an enclosing scope was
 * cancelled, else 0 (also when the owner cancelled it).  -EINVAL from a
 * non-owner or with an inner scope still open.  Opening a group the
 * caller has open already: -EBUSY.  The others on storage never opened:
 * -EINVAL.
 */
WEFT_API int weft_group_open(struct weft_group *g,
			     const struct weft_group_opts *opts);
WEFT_API int weft_group_join(struct weft_group *g);
/* Cancel the group, its members, and the groups they opened; any thread. */
WEFT_API int weft_group_cancel(struct weft_group *g);
/*
 * After the join: its result, the number of failures, the i-th of them
 * (-ENOMEM if there was no memory to keep it; -EINVAL for i >= 1 once
 * weft_group_fini has run).
 */
WEFT_API int weft_group_result(const struct weft_group *g);
WEFT_API int weft_group_failures(const struct weft_group *g);
WEFT_API int weft_group_failure(const struct weft_group *g, unsigned i,
				uint64_t *ret_thread_id);
/* Free what listing the failures kept; after the join. */
WEFT_API void weft_group_fini(struct weft_group *g);

/*
 * Start fn(arg) in g (NULL: detached, outside any group).  -ECANCELED,
 * creating nothing, once g is cancelled; at max_concurrency weft_spawn
 * waits (a cancellable wait) and weft_try_spawn returns -EAGAIN.
 */
WEFT_API int weft_spawn(struct weft_group *g, intptr_t (*fn)(void *),
			void *arg);
WEFT_API int weft_try_spawn(struct weft_group *g, intptr_t (*fn)(void *),
			    void *arg);
/* The same, with a future to read the thread's status and value from. */
WEFT_API int weft_spawn_future(struct weft_group *g, intptr_t (*fn)(void *),
			       void *arg, struct weft_future **ret_future);
/*
 * Wait for the thread of f to end (a cancellable wait); its status (0, its
 * failure, or -ECANCELED) and, in *ret_value, what it returned.  Readable
 * until released, the group's join notwithstanding.  A second release,
 * or a wait after the release, fails with -EINVAL while the thread runs;
 * once it has ended the release frees the future.
 */
WEFT_API int weft_future_wait(struct weft_future *f, intptr_t *ret_value);
WEFT_API int weft_future_release(struct weft_future *f);

/* For the macros only. */
WEFT_API struct weft_group *weft__group_enter(struct weft_group *g,
					      const struct weft_group_opts *o);
WEFT_API void weft__group_leave(struct weft_group **g);

/*
 * weft_group(&g, .max_concurrency = 8) { ... weft_spawn(&g, ...); ... }
 * opens g; reaching the end of the block joins it; leaving the block early
 * (return, goto, break) cancels it, then joins.  Afterwards
 * weft_group_result(&g) is the join's result.
 */
/* clang-format off */
#define weft_group(g, ...) \
	weft__group_(WEFT__CAT(weft__g_, __COUNTER__), g, __VA_ARGS__)
#define weft__group_(v, g, ...)                                              \
	for (struct weft_group *v __attribute__((cleanup(weft__group_leave))) = \
		     weft__group_enter((g),                                  \
				       &(struct weft_group_opts){ __VA_ARGS__ }); \
	     v; weft_group_join(v), v = NULL)
#define WEFT__CAT(a, b) WEFT__CAT_(a, b)
#define WEFT__CAT_(a, b) a##b
/* clang-format on */

/* ---- channels ------------------------------------------------------------ */

/*
 * A bounded channel of pointers, for producers and consumers: send waits
 * while it is full, receive while it is empty (cancellable waits).  After
 * weft_chan_close, sends fail with -EPIPE and receives drain what was
 * sent, then fail with -EPIPE.
 */
struct weft_chan;

WEFT_API int weft_chan_new(struct weft_chan **ret_chan, size_t capacity);
/* Once nobody uses it; a freed channel must not be used or freed again. */
WEFT_API void weft_chan_free(struct weft_chan *ch);
WEFT_API int weft_chan_send(struct weft_chan *ch, void *value);
WEFT_API int weft_chan_recv(struct weft_chan *ch, void **ret_value);
WEFT_API int weft_chan_close(struct weft_chan *ch);

/* ---- context values ------------------------------------------------------ */

/*
 * A value set in a thread is seen by it and by the threads it spawns
 * afterwards (a snapshot at spawn time); a child's changes never reach its
 * parent.  key is any address, such as that of a static variable.
 */
WEFT_API int weft_context_set(const void *key, void *value);
/* The value of key in the caller's context, or NULL. */
WEFT_API void *weft_context_get(const void *key);

/* ---- a mutex that encloses its value ------------------------------------- */

/*
 * WEFT_MUTEX_OF(type) declares a value with its lock, the Rust way:
 *
 *	static WEFT_MUTEX_OF(struct store) results;
 *	weft_locked(&results, store) {
 *		store->n++;	// store points at the value, the lock held
 *	}
 *
 * The lock is taken for the block and released however it is left
 * (end, break, return, goto).  If taking it fails (the caller is
 * cancelled), the block is skipped.  Zero-initialised is unlocked.
 */
#define WEFT_MUTEX_OF(type)                   \
	struct {                              \
		struct weft_mutex weft__lock; \
		type weft__value;             \
	}

struct weft__held {
	struct weft_mutex *m; /* NULL: not taken */
	int once;
};

WEFT_API struct weft__held weft__hold(struct weft_mutex *m);
WEFT_API void weft__release(struct weft__held *h);

/* clang-format off */
#define weft_locked(mv, name) \
	weft__locked_(WEFT__CAT(weft__h_, __COUNTER__), mv, name)
#define weft__locked_(h, mv, name)                                           \
	for (struct weft__held h __attribute__((cleanup(weft__release))) =   \
		     weft__hold(&(mv)->weft__lock);                          \
	     h.once; h.once = 0)                                             \
		for (__typeof__(&(mv)->weft__value) name = &(mv)->weft__value; \
		     name; name = NULL)
/* clang-format on */

/* ---- cancellation ------------------------------------------------------ */

/*
 * Level cancellation: while a scope of the caller is cancelled, every
 * blocking call fails with -ECANCELED (-ETIMEDOUT once a deadline passed)
 * until the scope is left.  A shielded scope keeps its parents'
 * cancellation out and must have a deadline of its own.
 */
struct weft_cancel_scope {
	uint64_t opaque[6];
};

WEFT_API int weft_cancel_scope_enter(struct weft_cancel_scope *s,
				     int64_t deadline, int shield);
WEFT_API int weft_cancel_scope_leave(struct weft_cancel_scope *s);
/* Cancel s, from any thread. */
WEFT_API int weft_cancel_scope_cancel(struct weft_cancel_scope *s);
/* The earliest deadline in force for the caller, or -1. */
WEFT_API int64_t weft_deadline(void);
/* Why the caller is cancelled: -ECANCELED, -ETIMEDOUT, or 0. */
WEFT_API int weft_cancelled(void);

/* Edge cancellation: fail t's current or next blocking call with -EINTR. */
WEFT_API int weft_thread_interrupt(struct weft_thread *t);

/* ---- observability ----------------------------------------------------- */

#define WEFT_DUMP_JSON 0x1u /* one line of JSON instead of text */

/*
 * Write a dump of every virtual thread to fd: its id, name, state
 * (running, runnable, parked or new), what it waits on, its carrier, its
 * group and its stack, arranged as the tree of thread groups: text for
 * people, or with WEFT_DUMP_JSON one line of JSON for tools.  While they
 * record their threads the carriers pause at the top of their loops; one
 * that does not within a second is reported as stuck, with the thread it
 * runs.  A cancellation point; not async-signal-safe (WEFT_DUMP_SIGNAL
 * names a signal that dumps to stderr).  0, -EINVAL for a bad fd or
 * flag, or the error of the write.
 */
WEFT_API int weft_dump(int fd, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
/*
 * weft: virtual threads on io_uring.
 *
 * Every function returns a value >= 0 on success and a negative errno on
 * failure; errno is left alone.  Every function also works from a plain
 * kernel thread, where a blocking call blocks that thread honestly and
 * gives the same results as the system call.
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

/* Carriers the runtime runs on (0 when stopped); WEFT_CARRIERS sets it. */
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

/* Wait for t to end, store its value in *ret_value, and free t. */
WEFT_API int weft_thread_join(struct weft_thread *t, intptr_t *ret_value);

/* Let t free itself when it ends; it must not be joined. */
WEFT_API int weft_thread_detach(struct weft_thread *t);

/* The calling virtual thread, or NULL on a plain kernel thread. */
WEFT_API struct weft_thread *weft_thread_self(void);

/* A number unique to t for the life of the process (1, 2, ...). */
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

#ifdef __cplusplus
}
#endif

#endif

/* SPDX-License-Identifier: MIT */
/* Fault injection: the runtime's own resource calls, made to fail on demand. */
#ifndef WEFT_FAULT_H
#define WEFT_FAULT_H

#include <stdbool.h>

/*
 * Every injection point, with what a failure there must lead to ("ok":
 * the runtime absorbs it and the program's results are unchanged; "err":
 * some call may fail with a negative errno, under the shim the errno the
 * native call can give) and what fails.  Either way: no crash, no hang,
 * no leak, no byte lost or duplicated.
 */
#define WEFT_FAULT_SITES                                                   \
	X(stack_map, err, "mmap of a stack slab or dedicated stack")       \
	X(stack_guard, ok, "mprotect of a guard page")                     \
	X(carrier_altstack, err, "mmap of a carrier's signal stack")       \
	X(ring_setup, err, "io_uring_queue_init_params")                   \
	X(ring_eventfd, err, "eventfd of a carrier")                       \
	X(sq_full, ok, "the SQ fills up; -EBUSY until the CQ is reaped")   \
	X(cq_overflow, ok, "the CQ fills up: completions overflow")        \
	X(enter_busy, ok, "io_uring_enter: -EBUSY until the CQ is reaped") \
	X(enter_eagain, ok, "io_uring_enter: -EAGAIN")                     \
	X(enter_eintr, ok, "io_uring_enter: -EINTR")                       \
	X(carrier_thread, err, "pthread_create of a carrier")              \
	X(pool_thread, ok, "pthread_create of a blocking-pool worker")     \
	X(alloc_carriers, err, "the carriers array")                       \
	X(alloc_stack_maps, err, "the list of stack mappings")             \
	X(alloc_stack_list, ok, "a stack pool's free list")                \
	X(alloc_timers, ok, "a carrier's timer heap")                      \
	X(alloc_group_failures, err, "a group's list of failures")         \
	X(alloc_future, err, "a future")                                   \
	X(alloc_context, err, "a context value")                           \
	X(alloc_chan, err, "a channel")                                    \
	X(alloc_iov, err, "an iovec copy of a read or write")              \
	X(alloc_poll, err, "the SQEs of a poll of many fds")               \
	X(shim_pthread, err, "the shim's pthread_t of a thread")           \
	X(shim_key, err, "a block of pthread key values")                  \
	X(shim_fdtable, err, "a chunk of the shim's fd table")             \
	X(shim_barrier, err, "a pthread barrier")                          \
	X(shim_sendfile, err, "sendfile's buffer")                         \
	X(shim_select, err, "select's pollfd array")                       \
	X(shim_poll, err, "the pollfds of a poll with a signal mask")      \
	X(shim_timeo, err, "an iovec copy of a send with a timeout")

enum weft__fault_site {
#define X(name, kind, what) WEFT_FAULT_##name,
	WEFT_FAULT_SITES
#undef X
		WEFT_FAULT_NR
};

#if WEFT_FAULT_INJECTION
/*
 * Count a call at site; true if this call is to fail.  WEFT_FAULT says
 * which: "site:N" fails the Nth call there, "site:N+" every call from the
 * Nth; several, comma-separated.  WEFT_FAULT_COUNT names a file that gets
 * "site count kind" for every site when the process exits.
 */
__attribute__((visibility("hidden"))) bool
weft__fault(enum weft__fault_site site);
#define WEFT_FAULT(site) __builtin_expect(weft__fault(WEFT_FAULT_##site), 0)
/*
 * For a fuzzer that injects failures itself, single-threaded: fail the
 * call at site after the next `after` calls (and every one after it if
 * every), instead of what WEFT_FAULT says; or, with site < 0, nothing.
 */
__attribute__((visibility("hidden"))) void
weft__fault_arm(int site, unsigned long after, bool every);
#else
#define WEFT_FAULT(site) false
#endif

/* An allocation that fails when site says so. */
#define WEFT_ALLOC(site, call) (WEFT_FAULT(site) ? NULL : (call))

#endif

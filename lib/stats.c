/* SPDX-License-Identifier: MIT */
/*
 * Statistics: what the runtime did, in one table on stderr at its end.
 *
 * WEFT_STATS=1 prints the table when the runtime stops (weft_main
 * returns, weft_shutdown) or, if it is still running then, when the
 * process exits (the shim's programs end that way).  A forked child
 * counts from the fork and prints a table of its own when it exits, with
 * its own pid: it is a process of its own, as an exec'd program under
 * weft-run is.  A process killed by a signal or ended by _exit prints
 * nothing.  The table goes to a copy of stderr taken at the start
 * (close-on-exec, fd 100 or above): cat and its kin close their stderr
 * in an atexit handler, before the process's destructors run.
 *
 * The counters cost a plain add each: every carrier owns a block of
 * them, on cache lines apart from every other carrier's and from its own
 * shared fields, which only its kernel thread writes (obs.h); the
 * printer sums the blocks.
 * The peak of live threads is a sum of the live counts (thread.c), taken
 * at each spawn only while WEFT_STATS is on.  The few things
 * counted on plain threads (spawns, cancelled waits) go to shared atomics.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <liburing.h>

#include "runtime.h"

atomic_uint weft__stats_peak;
bool weft__stats_peak_on; /* WEFT_STATS=1 at the runtime's start */
static bool enabled;	  /* and the table is still to print */
static int out_fd = -1;	  /* the copy of stderr to print on */
static int64_t since;	  /* when counting began */
static atomic_ulong plain_cancelled, plain_created;

/* io_uring's opcodes, by number (include/uapi/linux/io_uring.h). */
static const char *const op_names[WEFT__NR_OPS] = {
	"NOP",
	"READV",
	"WRITEV",
	"FSYNC",
	"READ_FIXED",
	"WRITE_FIXED",
	"POLL_ADD",
	"POLL_REMOVE",
	"SYNC_FILE_RANGE",
	"SENDMSG",
	"RECVMSG",
	"TIMEOUT",
	"TIMEOUT_REMOVE",
	"ACCEPT",
	"ASYNC_CANCEL",
	"LINK_TIMEOUT",
	"CONNECT",
	"FALLOCATE",
	"OPENAT",
	"CLOSE",
	"FILES_UPDATE",
	"STATX",
	"READ",
	"WRITE",
	"FADVISE",
	"MADVISE",
	"SEND",
	"RECV",
	"OPENAT2",
	"EPOLL_CTL",
	"SPLICE",
	"PROVIDE_BUFFERS",
	"REMOVE_BUFFERS",
	"TEE",
	"SHUTDOWN",
	"RENAMEAT",
	"UNLINKAT",
	"MKDIRAT",
	"SYMLINKAT",
	"LINKAT",
	"MSG_RING",
	"FSETXATTR",
	"SETXATTR",
	"FGETXATTR",
	"GETXATTR",
	"SOCKET",
	"URING_CMD",
	"SEND_ZC",
	"SENDMSG_ZC",
	"READ_MULTISHOT",
	"WAITID",
	"FUTEX_WAIT",
	"FUTEX_WAKE",
	"FUTEX_WAITV",
	"FIXED_FD_INSTALL",
	"FTRUNCATE",
	"BIND",
	"LISTEN",
	"RECV_ZC",
	"EPOLL_WAIT",
	"READV_FIXED",
	"WRITEV_FIXED",
	"PIPE",
};
_Static_assert(IORING_OP_READ == 22 && IORING_OP_ASYNC_CANCEL == 14,
	       "op_names follows the kernel's numbering");

/* The name of an SQE opcode, or NULL for one this table does not know. */
const char *weft__op_name(unsigned op)
{
	return op < WEFT__NR_OPS ? op_names[op] : NULL;
}

void weft__stats_peak_slow(unsigned n)
{
	unsigned p = atomic_load(&weft__stats_peak);

	while (n > p && !atomic_compare_exchange_weak(&weft__stats_peak, &p, n))
		;
}

void weft__stats_cancelled(struct weft_thread *t)
{
	if (t)
		WEFT_STAT(t->carrier, cancelled);
	else
		atomic_fetch_add_explicit(&plain_cancelled, 1,
					  memory_order_relaxed);
}

void weft__stats_created_plain(void)
{
	atomic_fetch_add_explicit(&plain_created, 1, memory_order_relaxed);
}

void weft__obs_ring(struct weft__carrier *c, struct weft__waiter *w,
		    struct io_uring_sqe **sqes, int n)
{
	for (int i = 0; i < n; i++)
		weft__obs_op(c, sqes[i]->opcode);
	w->note = (struct weft__note){ .on = WEFT__ON_RING,
				       .op = sqes[0]->opcode,
				       .n = n > UINT16_MAX ? UINT16_MAX : n,
				       .fd = sqes[0]->fd,
				       .obj = sqes[0]->addr };
}

static void reset(void)
{
	atomic_store(&plain_created, 0);
	atomic_store(&weft__stats_peak, weft__live_threads());
	atomic_store(&plain_cancelled, 0);
	since = weft__now();
}

void weft__obs_start(void)
{
	unsigned on;

	enabled = weft__env_uint("WEFT_STATS", 0, 1, 0, &on) == 0 && on;
	weft__stats_peak_on = enabled;
	/* Raw: the shim's fcntl would enter the copy in its fd table. */
	if (enabled && out_fd < 0)
		out_fd =
			syscall(SYS_fcntl, STDERR_FILENO, F_DUPFD_CLOEXEC, 100);
	reset();
	weft__dump_start();
}

static uint64_t get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

struct buf {
	char s[4096];
	size_t n;
};

static __attribute__((format(printf, 2, 3))) void put(struct buf *b,
						      const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		b->n += (size_t)k < sizeof(b->s) - b->n ?
				(size_t)k :
				sizeof(b->s) - b->n - 1;
}

static void row(struct buf *b, const char *what, uint64_t v)
{
	put(b, "  %-30s %12llu\n", what, (unsigned long long)v);
}

/* Sum every carrier's block and print the table on stderr. */
static void print_table(void)
{
	struct weft__own sum = { 0 };
	struct weft__monitor_stats mon = { 0 };
	struct buf b = { .n = 0 };
	int n = weft__rt.nr_base;
	char what[48];

	/* Every slot: an extra carrier that left keeps its counts there. */
	for (int i = 0; i < weft__rt.nr_slots; i++) {
		const struct weft__own *s = &weft__rt.carriers[i]->obs.own;

		sum.switches += get(&s->switches);
		sum.steals += get(&s->steals);
		sum.cancelled += get(&s->cancelled);
		sum.created += get(&s->created);
		for (int k = 0; k < WEFT__NR_OPS; k++)
			sum.ops[k] += get(&s->ops[k]);
	}
	sum.cancelled += atomic_load(&plain_cancelled);
	sum.created += atomic_load(&plain_created);
	put(&b, "weft stats: pid %d, %.3f s, %d carrier%s\n", (int)getpid(),
	    (weft__now() - since) / 1e9, n, n == 1 ? "" : "s");
	row(&b, "virtual threads created", sum.created);
	row(&b, "virtual threads peak live", atomic_load(&weft__stats_peak));
	row(&b, "switches", sum.switches);
	row(&b, "steals", sum.steals);
	for (int k = 0; k < WEFT__NR_OPS; k++) {
		if (!sum.ops[k] || k == IORING_OP_ASYNC_CANCEL)
			continue;
		snprintf(what, sizeof(what), "io_uring %s", op_names[k]);
		row(&b, what, sum.ops[k]);
	}
	row(&b, "cancellations: ASYNC_CANCEL", sum.ops[IORING_OP_ASYNC_CANCEL]);
	row(&b, "cancellations: waits", sum.cancelled);
	row(&b, "carriers", n);
	if (weft__monitor_stats) {
		weft__monitor_stats(&mon);
		row(&b, "compensating carriers", mon.compensating);
		row(&b, "compensating carriers at once", mon.peak);
		put(&b, "  %-30s %12.3f\n", "time carriers were stuck (s)",
		    mon.blocked_ns / 1e9);
	} else {
		put(&b, "  %-30s %12s\n", "compensating carriers", "-");
		put(&b, "  %-30s %12s\n", "time carriers were stuck (s)", "-");
	}
	/* Not write(): under the shim that may be a ring operation. */
	syscall(SYS_write, out_fd >= 0 ? out_fd : STDERR_FILENO, b.s, b.n);
}

static void forget(void)
{
	if (out_fd >= 0)
		syscall(SYS_close, out_fd);
	out_fd = -1;
	enabled = false;
}

void weft__obs_stop(bool ran)
{
	weft__dump_stop();
	if (ran && enabled)
		print_table();
	forget();
}

/* The process exits with the runtime still running: the shim's way. */
__attribute__((destructor)) static void stats_at_exit(void)
{
	if (enabled && weft_carrier_count() > 0) {
		enabled = false;
		print_table();
	}
}

void weft__obs_fork_child(struct weft__carrier *self, struct weft_thread *t)
{
	weft__dump_fork_child(self, t);
	if (!t) {
		forget(); /* no runtime in the child until its next spawn */
		return;
	}
	self->obs.own.switches = self->obs.own.steals = 0;
	self->obs.own.cancelled = self->obs.own.created = 0;
	memset(self->obs.own.ops, 0, sizeof(self->obs.own.ops));
	reset();
	atomic_store(&weft__stats_peak, 1);
}

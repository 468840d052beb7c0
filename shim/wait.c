/* SPDX-License-Identifier: MIT */
/*
 * waitpid and its kin.  A virtual thread that waits for a child parks on
 * an io_uring waitid (IORING_OP_WAITID, Linux 6.7) instead of blocking
 * its carrier, so the program's other threads go on while it waits, as
 * they do natively; the status comes from the siginfo the way the
 * kernel's wait4 makes it.  As natively, a wait is restarted after a
 * handler with SA_RESTART and fails with EINTR without one (a ring wait
 * of kind WEFT__WAIT_IO), and is a cancellation point; a child that was
 * reaped is reported, never lost, if the interruption came late (the
 * ring returns a completion that won the race).
 *
 * What the ring cannot do passes straight through to libc: WNOHANG (it
 * does not block), wait3 and wait4 with a struct rusage, Linux's __W*
 * options, and a kernel without the opcode (probed once).
 */
#include "shim.h"

#include <liburing.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define OP_WAITID 50 /* IORING_OP_WAITID; liburing 2.3 has no name for it */
#define RING_OPTIONS (WEXITED | WSTOPPED | WCONTINUED | WNOWAIT)

static atomic_int have_waitid = -1; /* unknown yet */

static bool ring_can_wait(void)
{
	int v = atomic_load_explicit(&have_waitid, memory_order_relaxed);
	struct io_uring_probe *p;

	if (v >= 0)
		return v;
	p = io_uring_get_probe();
	v = p && io_uring_opcode_supported(p, OP_WAITID);
	io_uring_free_probe(p);
	atomic_store(&have_waitid, v);
	return v;
}

/* waitid(2) on the ring: 0 with *si filled, or -errno. */
static int ring_waitid(idtype_t type, id_t id, siginfo_t *si, int options)
{
	struct io_uring_sqe *sqe = weft__impl_sqe();
	int r;

	memset(si, 0, sizeof(*si));
	io_uring_prep_rw(OP_WAITID, sqe, (int)id, NULL, (unsigned)type, 0);
	sqe->file_index = options;
	sqe->addr2 = (uintptr_t)si;
	r = weft__impl_wait(sqe, -1);
	if (r >= 0)
		weft__vg_defined(si, sizeof(*si));
	return r;
}

/* The status wait4 gives for what waitid reported. */
static int status_of(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_KILLED:
		return si->si_status & 0x7f;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	case CLD_STOPPED:
	case CLD_TRAPPED:
		return (si->si_status & 0xff) << 8 | 0x7f;
	case CLD_CONTINUED:
		return 0xffff;
	}
	return 0;
}

static bool on_ring(int options, int ring_options)
{
	return !(options & ~ring_options) && weft__on_vthread() &&
	       ring_can_wait();
}

static pid_t do_wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	idtype_t type = P_PID;
	id_t id = pid;
	siginfo_t si;
	int r;

	if (ru || !on_ring(options, WUNTRACED | WCONTINUED))
		return REAL(wait4)(pid, status, options, ru);
	if (pid < -1) {
		type = P_PGID;
		id = -pid;
	} else if (pid == -1) {
		type = P_ALL;
		id = 0;
	} else if (pid == 0) {
		type = P_PGID; /* 0: the caller's process group */
		id = 0;
	}
	r = ring_waitid(type, id, &si,
			WEXITED | (options & WUNTRACED ? WSTOPPED : 0) |
				(options & WCONTINUED));
	if (r < 0)
		return weft__posix(r);
	if (status)
		*status = status_of(&si);
	return si.si_pid;
}

WEFT_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	WEFT_POINT(pid_t, do_wait4(pid, status, options, NULL));
}

WEFT_EXPORT pid_t wait(int *status)
{
	WEFT_POINT(pid_t, do_wait4(-1, status, 0, NULL));
}

WEFT_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	WEFT_POINT(pid_t, do_wait4(pid, status, options, ru));
}

WEFT_EXPORT pid_t wait3(int *status, int options, struct rusage *ru)
{
	WEFT_POINT(pid_t, do_wait4(-1, status, options, ru));
}

static int do_waitid(idtype_t type, id_t id, siginfo_t *si, int options)
{
	if (!si || !on_ring(options, RING_OPTIONS))
		return REAL(waitid)(type, id, si, options);
	return weft__posix(ring_waitid(type, id, si, options));
}

WEFT_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *si, int options)
{
	WEFT_POINT(int, do_waitid(type, id, si, options));
}

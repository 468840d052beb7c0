/* SPDX-License-Identifier: MIT */
/*
 * poll, ppoll, select, pselect and epoll_wait park the virtual thread,
 * not the carrier.
 *
 * Each first asks the real call with no wait, so ready fds cost one
 * system call.  If nothing is ready it parks on io_uring polls of the
 * fds (of the epoll fd itself for epoll_wait) until one fires or the
 * deadline passes, then asks the real call again: the answer is always
 * the kernel's own, so revents, counts and errors are exactly native,
 * and a wake-up another thread's read made stale just waits again.
 *
 * With a signal mask (ppoll, pselect, epoll_pwait) the thread blocks the
 * mask's signals too while it waits, and a signal with a handler that
 * the mask lets in ends the wait with EINTR, as natively: either its
 * handler interrupts the park, or the wait also polls a signalfd for it
 * and then takes it (signal.c, weft__masked_begin).
 */
#include "shim.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noreturn)) extern void __chk_fail(void);

#define MS 1000000LL
#define SMALL_FDS 32

static int64_t after_ns(int64_t ns)
{
	return ns < 0 ? -1 : weft_now() + ns;
}

static bool expired(int64_t deadline)
{
	return deadline >= 0 && weft_now() >= deadline;
}

/* What is left of a deadline, as a poll(2) timeout. */
static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - weft_now();
	if (left <= 0)
		return 0;
	return left / MS >= INT32_MAX ? INT32_MAX : (int)((left + MS - 1) / MS);
}

/*
 * Park until one of fds may be ready or the deadline passes: 0, or the
 * runtime's own failure (a cancellation), which ends the call, or -EINTR
 * if a handler interrupted it or ran for a signal m let in.  If memory
 * for the SQEs ran out, the carrier blocks in the real poll instead.
 */
static int wait_ready(const struct pollfd *fds, nfds_t n, int64_t deadline,
		      struct weft__masked *m)
{
	struct pollfd small[SMALL_FDS + 1], *all = (struct pollfd *)fds;
	nfds_t k = n;
	int r;

	if (m && m->p.fd >= 0) {
		all = n < SMALL_FDS ?
			      small :
			      WEFT_ALLOC(shim_poll,
					 malloc((n + 1) * sizeof(*all)));
		if (!all)
			return -ENOMEM; /* as the kernel's ppoll may fail */
		memcpy(all, fds, n * sizeof(*fds));
		all[k++] = m->p;
	}
	r = weft__impl_poll_any(all, k, deadline);
	if (all != fds && all != small)
		free(all);
	if (m && weft__masked_take(m))
		return -EINTR;
	if (r == -ENOMEM)
		REAL(poll)((struct pollfd *)fds, n, remaining_ms(deadline));
	return r == -ETIMEDOUT || r == -ENOMEM ? 0 : r;
}

/* ---- poll ---- */

static int poll_until(struct pollfd *fds, nfds_t n, int64_t deadline,
		      struct weft__masked *m)
{
	int r;

	for (;;) {
		r = REAL(poll)(fds, n, 0);
		if (r != 0 || expired(deadline))
			return r;
		r = wait_ready(fds, n, deadline, m);
		if (r < 0)
			return weft__posix(r);
	}
}

static int do_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	if (!weft__on_vthread() || timeout_ms == 0)
		return REAL(poll)(fds, n, timeout_ms);
	return poll_until(
		fds, n, after_ns(timeout_ms < 0 ? -1 : timeout_ms * MS), NULL);
}

WEFT_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	WEFT_POINT(int, do_poll(fds, n, timeout_ms));
}

WEFT_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms,
			   size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return poll(fds, n, timeout_ms);
}

static int do_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		    const sigset_t *mask)
{
	struct weft__masked m;
	int64_t ns = -1;
	int r;

	if (!weft__on_vthread() || (ts && !ts->tv_sec && !ts->tv_nsec))
		return REAL(ppoll)(fds, n, ts, mask);
	if (ts && (ns = weft__ts_ns(ts)) < 0)
		return weft__posix(ns);
	if (!mask)
		return poll_until(fds, n, after_ns(ns), NULL);
	weft__masked_begin(&m, mask);
	r = poll_until(fds, n, after_ns(ns), &m);
	weft__masked_end(&m);
	return r;
}

WEFT_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *ts,
		      const sigset_t *mask)
{
	WEFT_POINT(int, do_ppoll(fds, n, ts, mask));
}

WEFT_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n,
			    const struct timespec *ts, const sigset_t *mask,
			    size_t fdslen)
{
	if (fdslen / sizeof(*fds) < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* ---- select ---- */

#define SEL_IN (POLLIN | POLLRDNORM | POLLRDBAND)
#define SEL_OUT (POLLOUT | POLLWRNORM | POLLWRBAND)
#define SEL_EX POLLPRI

/* The sets select was given, kept to ask again after a wake-up. */
struct sel {
	int nfds;
	fd_set *set[3]; /* read, write, except; the caller's, or NULL */
	fd_set in[3];
};

static void sel_restore(struct sel *s)
{
	for (int i = 0; i < 3; i++)
		if (s->set[i])
			memcpy(s->set[i], &s->in[i], sizeof(fd_set));
}

static short sel_events(const struct sel *s, int fd)
{
	static const short ev[3] = { SEL_IN, SEL_OUT, SEL_EX };
	short e = 0;

	for (int i = 0; i < 3; i++)
		if (s->set[i] && FD_ISSET(fd, &s->in[i]))
			e |= ev[i];
	return e;
}

/* The fds select watches, as pollfds; *ret_n of them. */
static struct pollfd *sel_pollfds(const struct sel *s, struct pollfd *small,
				  nfds_t *ret_n)
{
	struct pollfd *p = small;
	nfds_t n = 0;

	if (s->nfds > SMALL_FDS &&
	    !(p = WEFT_ALLOC(shim_select, malloc(s->nfds * sizeof(*p)))))
		return NULL;
	for (int fd = 0; fd < s->nfds; fd++) {
		short e = sel_events(s, fd);

		if (e)
			p[n++] = (struct pollfd){ .fd = fd, .events = e };
	}
	*ret_n = n;
	return p;
}

static int select_now(struct sel *s)
{
	struct timeval zero = { 0, 0 };

	sel_restore(s);
	return REAL(select)(s->nfds, s->set[0], s->set[1], s->set[2], &zero);
}

/* The real select, blocking the carrier until the deadline. */
static int select_blocking(struct sel *s, int64_t deadline)
{
	int64_t left = deadline - weft_now();
	struct timespec ts = { left / 1000000000, left % 1000000000 };

	sel_restore(s);
	return REAL(pselect)(s->nfds, s->set[0], s->set[1], s->set[2],
			     deadline < 0 ? NULL : &ts, NULL);
}

static int select_until(struct sel *s, int64_t deadline, struct weft__masked *m)
{
	struct pollfd small[SMALL_FDS], *p = NULL;
	nfds_t n = 0;
	int r, w = 0;

	while ((r = select_now(s)) == 0 && !expired(deadline)) {
		if (!p && !(p = sel_pollfds(s, small, &n)))
			break; /* out of memory: block the carrier instead */
		w = wait_ready(p, n, deadline, m);
		if (w < 0)
			break;
	}
	if (p && p != small)
		free(p);
	if (w < 0)
		return weft__posix(w); /* the runtime's failure, or EINTR */
	if (r == 0 && !expired(deadline))
		r = select_blocking(s, deadline);
	return r;
}

/* Past FD_SETSIZE the sets are the caller's own size: pass through. */
static bool sel_init(struct sel *s, int nfds, fd_set *r, fd_set *w, fd_set *e)
{
	if (nfds < 0 || nfds > FD_SETSIZE)
		return false;
	s->nfds = nfds;
	s->set[0] = r;
	s->set[1] = w;
	s->set[2] = e;
	for (int i = 0; i < 3; i++)
		if (s->set[i])
			memcpy(&s->in[i], s->set[i], sizeof(fd_set));
	return true;
}

/* As Linux's select: the timeout is left holding the time not slept. */
static int do_select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		     struct timeval *tv)
{
	int64_t ns = -1, d;
	struct sel s;
	int n;

	if (!weft__on_vthread() || (tv && !tv->tv_sec && !tv->tv_usec) ||
	    !sel_init(&s, nfds, r, w, e))
		return REAL(select)(nfds, r, w, e, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0))
		return weft__posix(-EINVAL);
	if (tv)
		ns = tv->tv_sec * 1000000000LL + tv->tv_usec * 1000LL;
	d = after_ns(ns);
	n = select_until(&s, d, NULL);
	if (tv && n >= 0) {
		ns = d - weft_now();
		ns = ns < 0 ? 0 : ns;
		tv->tv_sec = ns / 1000000000;
		tv->tv_usec = ns % 1000000000 / 1000;
	}
	return n;
}

WEFT_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e,
		       struct timeval *tv)
{
	WEFT_POINT(int, do_select(nfds, r, w, e, tv));
}

static int do_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
		      const struct timespec *ts, const sigset_t *mask)
{
	struct weft__masked m;
	int64_t ns = -1;
	struct sel s;
	int n;

	if (!weft__on_vthread() || (ts && !ts->tv_sec && !ts->tv_nsec) ||
	    !sel_init(&s, nfds, r, w, e))
		return REAL(pselect)(nfds, r, w, e, ts, mask);
	if (ts && (ns = weft__ts_ns(ts)) < 0)
		return weft__posix(ns);
	if (!mask)
		return select_until(&s, after_ns(ns), NULL);
	weft__masked_begin(&m, mask);
	n = select_until(&s, after_ns(ns), &m);
	weft__masked_end(&m);
	return n;
}

WEFT_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
			const struct timespec *ts, const sigset_t *mask)
{
	WEFT_POINT(int, do_pselect(nfds, r, w, e, ts, mask));
}

/* ---- epoll ---- */

/* The epoll fd polls readable while its ready list is not empty. */
static int epoll_until(int epfd, struct epoll_event *ev, int max,
		       int64_t deadline, struct weft__masked *m)
{
	struct pollfd p = { .fd = epfd, .events = POLLIN };
	int r;

	for (;;) {
		r = REAL(epoll_wait)(epfd, ev, max, 0);
		if (r != 0 || expired(deadline))
			return r;
		r = wait_ready(&p, 1, deadline, m);
		if (r < 0)
			return weft__posix(r);
	}
}

/* epoll_until with a mask, if mask is not NULL. */
static int epoll_masked(int epfd, struct epoll_event *ev, int max,
			int64_t deadline, const sigset_t *mask)
{
	struct weft__masked m;
	int r;

	if (!mask)
		return epoll_until(epfd, ev, max, deadline, NULL);
	weft__masked_begin(&m, mask);
	r = epoll_until(epfd, ev, max, deadline, &m);
	weft__masked_end(&m);
	return r;
}

static int do_epoll_wait(int epfd, struct epoll_event *ev, int max,
			 int timeout_ms)
{
	if (!weft__on_vthread() || timeout_ms == 0)
		return REAL(epoll_wait)(epfd, ev, max, timeout_ms);
	return epoll_until(epfd, ev, max,
			   after_ns(timeout_ms < 0 ? -1 : timeout_ms * MS),
			   NULL);
}

WEFT_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max,
			   int timeout_ms)
{
	WEFT_POINT(int, do_epoll_wait(epfd, ev, max, timeout_ms));
}

static int do_epoll_pwait(int epfd, struct epoll_event *ev, int max,
			  int timeout_ms, const sigset_t *mask)
{
	if (!weft__on_vthread() || timeout_ms == 0)
		return REAL(epoll_pwait)(epfd, ev, max, timeout_ms, mask);
	return epoll_masked(epfd, ev, max,
			    after_ns(timeout_ms < 0 ? -1 : timeout_ms * MS),
			    mask);
}

WEFT_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max,
			    int timeout_ms, const sigset_t *mask)
{
	WEFT_POINT(int, do_epoll_pwait(epfd, ev, max, timeout_ms, mask));
}

/* New in glibc 2.35: reached by its system call, not by name. */
static int do_epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			   const struct timespec *ts, const sigset_t *mask)
{
	int64_t ns = -1;

	if (!weft__on_vthread() || (ts && !ts->tv_sec && !ts->tv_nsec))
		return REAL(syscall)(SYS_epoll_pwait2, epfd, ev, max, ts, mask,
				     _NSIG / 8);
	if (ts && (ns = weft__ts_ns(ts)) < 0)
		return weft__posix(ns);
	return epoll_masked(epfd, ev, max, after_ns(ns), mask);
}

WEFT_EXPORT int epoll_pwait2(int epfd, struct epoll_event *ev, int max,
			     const struct timespec *ts, const sigset_t *mask)
{
	WEFT_POINT(int, do_epoll_pwait2(epfd, ev, max, ts, mask));
}

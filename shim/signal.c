/* SPDX-License-Identifier: MIT */
/*
 * Signals.  The carriers other than the main kernel thread block the
 * asynchronous signals, so the kernel delivers the process's signals
 * there, and a handler runs on whatever that kernel thread was running,
 * a virtual thread's stack included.  The shim puts a trampoline in front
 * of every handler the program installs, which gives back two things a
 * native program has:
 *
 * - Calls made from a handler are the native ones: while a handler runs,
 *   every interposed call passes straight through (a write to a self-pipe
 *   must not park the thread the signal interrupted).
 * - A handler interrupts a blocked thread, as the kernel interrupts the
 *   thread it picked: the target of pthread_kill, or else the main
 *   thread (the kernel's first choice for a process's signal).  Its
 *   blocking call then fails with EINTR where the native one would: I/O
 *   and sem_wait if the handler lacks SA_RESTART; sleeps, poll, select,
 *   epoll_wait and sem_timedwait whatever the flags; locks and joins
 *   never (test/shim/sigcalls.c holds each to the native).  The runtime does
 *   it from carrier 0's scheduler, just after the handler (a handler may
 *   interrupt code that holds the runtime's locks).
 *
 * sigaction() reports the program's handlers, never the trampoline.  The
 * signals of faults (SIGSEGV, SIGBUS...) are the thread's own: their
 * handlers' calls are the shim's as anywhere else (the JVM's SIGSEGV
 * handler waits for a safepoint in it), and they interrupt nothing.
 * Handlers installed before the shim loaded pass straight through.  A
 * handler left by siglongjmp lands on the thread that called sigsetjmp,
 * at once if it interrupted that thread, else as that thread's blocking
 * call fails with EINTR (jump.c).
 *
 * Masks.  Each virtual thread has its signal mask (pthread_sigmask,
 * sigprocmask; lib/sched.c gives a carrier's kernel thread the mask of
 * the thread it runs), and a handler's thread stays on its carrier until
 * the handler returns: the return sets that kernel thread's mask to the
 * one the kernel saved on entry.
 *
 * Waiting for a signal.  sigwait, sigwaitinfo and sigtimedwait park the
 * virtual thread on a poll of a signalfd for the set, and take the
 * signal with the real call and no wait: a thread that waits for the
 * signals everybody blocks (pbzip2's terminator) keeps no carrier.  A
 * signal for the process stays pending there, as no carrier's kernel
 * thread takes it, and wakes the poll.
 *
 * pause and sigsuspend park the thread until a handler interrupts it, as
 * one interrupts a blocked call (above), or until a signal with a
 * handler that the call's mask lets in is pending, which they then take,
 * running its handler on the thread; so do ppoll, pselect and epoll_pwait
 * with a mask (weft__masked_begin).
 */
#include "pt.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

__thread unsigned weft__in_handler __attribute__((tls_model("initial-exec")));
__thread struct weft__frame *weft__frames
	__attribute__((tls_model("initial-exec")));

/* The program's action for each signal, if the trampoline stands in. */
static struct sigaction slots[NSIG][2]; /* written in turn: see set() */
static const struct sigaction *_Atomic user[NSIG];
static sigset_t intr; /* siginterrupt's: signal() without SA_RESTART */
static struct weft_spin update_lock;

/* What handlers left to do: bit 0 one ran, bit 1 one lacked SA_RESTART. */
static atomic_uint pending;
static struct weft_spin targets_lock;
static struct weft__pthread *directed; /* pthread_kill's, by sig_next */
static struct weft__pthread *jumpers;  /* jump.c's, by jump_next */
static struct weft__pthread *main_pt;

static bool faults(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
	       sig == SIGILL || sig == SIGTRAP || sig == SIGSYS;
}

static bool is_handler(const struct sigaction *a)
{
	return a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

/* Carrier 0's scheduler, after a handler: interrupt the target threads. */
static void deliver(void)
{
	unsigned p = atomic_exchange(&pending, 0);
	bool restart = !(p & 2);

	weft__spin_lock(&targets_lock);
	if (!directed && main_pt)
		weft__impl_signal_interrupt(main_pt->t, restart);
	while (directed) {
		struct weft__pthread *pt = directed;

		directed = pt->sig_next;
		pt->sig_next = NULL;
		pt->sig_queued = false;
		weft__impl_signal_interrupt(pt->t, restart);
	}
	while (jumpers) { /* whatever the flags: the call is left */
		struct weft__pthread *pt = jumpers;

		jumpers = pt->jump_next;
		pt->jump_next = NULL;
		weft__impl_jump_interrupt(pt->t);
	}
	weft__spin_unlock(&targets_lock);
}

/* Under targets_lock: pt is no target of pthread_kill's any more. */
static void undirect(struct weft__pthread *pt)
{
	struct weft__pthread **p;

	if (pt->sig_queued) {
		for (p = &directed; *p != pt; p = &(*p)->sig_next)
			;
		*p = pt->sig_next;
		pt->sig_queued = false;
	}
}

/* From a handler, as pthread_kill queues its target (after a handler). */
void weft__signal_jump(struct weft__pthread *pt)
{
	weft__spin_lock(&targets_lock);
	if (!pt->jump_next && jumpers != pt) {
		pt->jump_next = jumpers;
		jumpers = pt;
	}
	weft__spin_unlock(&targets_lock);
}

static void invoke(const struct sigaction *a, int sig, siginfo_t *si, void *uc)
{
	if (a->sa_flags & SA_SIGINFO)
		a->sa_sigaction(sig, si, uc);
	else
		a->sa_handler(sig);
}

/*
 * Run the handler, as a frame on this kernel thread's list: a siglongjmp
 * from it to another thread abandons it here, as if it had returned
 * (jump.c); one on its own thread takes the frame off itself.  An
 * asynchronous signal's handler has its calls pass straight through.
 */
static void call(struct weft__frame *f, const struct sigaction *a, int sig,
		 siginfo_t *si, void *uc)
{
	f->prev = weft__frames;
	f->uc = uc;
	f->async = !faults(sig);
	weft__frames = f;
	weft__in_handler += f->async;
	if (__builtin_setjmp(f->abandon) == 0)
		invoke(a, sig, si, uc);
	weft__in_handler -= f->async;
	weft__frames = f->prev;
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *a = atomic_load(&user[sig]);

	if (!a)
		return;
	sigset_t during = a->sa_mask;
	struct weft__frame f;
	void *lent = NULL;

	if (a->sa_flags & SA_RESETHAND) /* the kernel reset it already */
		atomic_store(&user[sig], NULL);
	if (!(a->sa_flags & SA_NODEFER))
		sigaddset(&during, sig);
	/* Carrier 0's scheduler delivers after the handler, whichever way
	 * it leaves (it runs there too). */
	if (!faults(sig)) {
		atomic_fetch_or(&pending, a->sa_flags & SA_RESTART ? 1 : 3);
		weft__impl_defer(deliver);
		/* Off any thread, it runs as main's, which natively takes it.
		 */
		if (!directed && main_pt)
			lent = weft__impl_lend(main_pt->t);
	}
	f.entered = true;
	f.before = weft__impl_handler_enter(&during);
	call(&f, a, sig, si, uc);
	weft__impl_handler_exit(f.before);
	if (lent)
		weft__impl_lend_end(lent);
}

/*
 * Install act for sig: the trampoline in front of a handler, else act
 * itself.  Async-signal-safe, as sigaction is: signals are blocked while
 * the table changes, so a handler on this kernel thread cannot see it
 * half done.  Two slots a signal, used in turn, so that a handler
 * running elsewhere reads a whole action.
 */
static int set(int sig, const struct sigaction *act, struct sigaction *old)
{
	const struct sigaction *was;
	struct sigaction k, prev;
	sigset_t all, saved;
	int r = 0;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	weft__spin_lock(&update_lock);
	was = atomic_load(&user[sig]);
	if (was)
		prev = *was;
	else
		r = REAL(sigaction)(sig, NULL, &prev);
	if (!r && act && is_handler(act)) {
		struct sigaction *slot =
			&slots[sig][was == &slots[sig][0] ? 1 : 0];

		*slot = *act;
		k = *act;
		k.sa_sigaction = trampoline;
		k.sa_flags |= SA_SIGINFO;
		atomic_store(&user[sig], slot);
		r = REAL(sigaction)(sig, &k, NULL);
		if (r)
			atomic_store(&user[sig], was);
	} else if (!r && act) {
		r = REAL(sigaction)(sig, act, NULL);
		if (!r)
			atomic_store(&user[sig], NULL);
	}
	weft__spin_unlock(&update_lock);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (!r && old)
		*old = prev;
	return r;
}

WEFT_EXPORT int sigaction(int sig, const struct sigaction *act,
			  struct sigaction *old)
{
	if (sig < 1 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
		return REAL(sigaction)(sig, act, old);
	return set(sig, act, old);
}

/* A virtual thread's own mask; elsewhere, and in a handler, the kernel's. */
static int own_mask(int how, const sigset_t *set, sigset_t *old)
{
	return weft__in_handler ? -ENOSYS : weft__impl_sigmask(how, set, old);
}

WEFT_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = own_mask(how, set, old);

	return r == -ENOSYS ? REAL(pthread_sigmask)(how, set, old) : -r;
}

WEFT_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r = own_mask(how, set, old);

	if (r == -ENOSYS)
		return REAL(sigprocmask)(how, set, old);
	return weft__posix(r);
}

/*
 * The older calls on the mask, which glibc makes through its own
 * sigprocmask, past the shim's: as glibc has them, on sigprocmask.
 */
static int bsd_mask(int how, int mask)
{
	sigset_t set, old;

	sigemptyset(&set);
	set.__val[0] = (unsigned int)mask;
	if (sigprocmask(how, &set, &old) < 0)
		return -1;
	return (int)(unsigned int)old.__val[0];
}

WEFT_EXPORT int sigsetmask(int mask)
{
	return bsd_mask(SIG_SETMASK, mask);
}

WEFT_EXPORT int sigblock(int mask)
{
	return bsd_mask(SIG_BLOCK, mask);
}

WEFT_EXPORT int siggetmask(void)
{
	return bsd_mask(SIG_BLOCK, 0);
}

static int sysv_mask(int how, int sig)
{
	sigset_t set;

	sigemptyset(&set);
	if (sigaddset(&set, sig) < 0)
		return -1;
	return sigprocmask(how, &set, NULL);
}

WEFT_EXPORT int sighold(int sig)
{
	return sysv_mask(SIG_BLOCK, sig);
}

WEFT_EXPORT int sigrelse(int sig)
{
	return sysv_mask(SIG_UNBLOCK, sig);
}

/* glibc's signal(): BSD semantics, SA_RESTART unless siginterrupt said. */
WEFT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction a = { .sa_handler = handler }, old;

	if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&a.sa_mask);
	sigaddset(&a.sa_mask, sig);
	a.sa_flags = sigismember(&intr, sig) == 1 ? 0 : SA_RESTART;
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

WEFT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return signal(sig, handler);
}

/* System V's: one shot, not masked, interrupting. */
WEFT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	struct sigaction a = { .sa_handler = handler }, old;

	if (handler == SIG_ERR || sig < 1 || sig >= NSIG) {
		errno = EINVAL;
		return SIG_ERR;
	}
	sigemptyset(&a.sa_mask);
	a.sa_flags = SA_RESETHAND | SA_NODEFER;
	if (sigaction(sig, &a, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

WEFT_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t handler)
{
	return sysv_signal(sig, handler);
}

WEFT_EXPORT int siginterrupt(int sig, int flag)
{
	struct sigaction a;

	if (sig < 1 || sig >= NSIG || sigaction(sig, NULL, &a) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (flag) {
		sigaddset(&intr, sig);
		a.sa_flags &= ~SA_RESTART;
	} else {
		sigdelset(&intr, sig);
		a.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &a, NULL);
}

/*
 * A signal at the calling virtual thread runs its handler here and now,
 * as natively; its carrier may block the signal, so it is not raised.
 * Without a handler of the program's, the signal goes to the process,
 * where its default action (or a handler from before the shim) happens.
 */
static int raise_here(int sig, const union sigval *value)
{
	const struct sigaction *a = atomic_load(&user[sig]);
	siginfo_t si = { .si_signo = sig, .si_code = SI_TKILL };

	if (!a && value)
		return sigqueue(getpid(), sig, *value) ? errno : 0;
	if (!a)
		return kill(getpid(), sig) ? errno : 0;
	if (value) {
		si.si_code = SI_QUEUE;
		si.si_value = *value;
	}
	if (a->sa_flags & SA_RESETHAND) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		set(sig, &dfl, NULL);
	}
	si.si_pid = getpid();
	si.si_uid = getuid();
	call(&(struct weft__frame){ .entered = false }, a, sig, &si, NULL);
	return 0;
}

WEFT_EXPORT int raise(int sig)
{
	int r;

	if (!weft__on_vthread() || sig < 1 || sig >= NSIG)
		return REAL(raise)(sig);
	r = raise_here(sig, NULL);
	return r ? (errno = r, -1) : 0;
}

/*
 * Take a signal of set, waiting until the deadline (-1: none): its
 * number, or -1 and errno as sigtimedwait (EAGAIN when the time passed,
 * EINTR when a handler interrupted the wait).  The signal a pthread_kill
 * of this thread sent is taken: it no longer makes a handler interrupt
 * this thread rather than main.
 */
static int wait_signal(const sigset_t *set, siginfo_t *info, int64_t deadline)
{
	static const struct timespec now;
	struct pollfd p = { .fd = -1, .events = POLLIN };
	struct weft__pthread *self = weft__pt_self();
	int r;

	for (;;) {
		r = REAL(sigtimedwait)(set, info, &now);
		if (r >= 0 || errno != EAGAIN ||
		    (deadline >= 0 && weft_now() >= deadline))
			break;
		if (p.fd < 0)
			p.fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
		if (p.fd < 0) { /* out of fds: the carrier waits instead */
			r = REAL(sigtimedwait)(set, info, NULL);
			break;
		}
		r = weft__impl_poll_any(&p, 1, deadline);
		if (r < 0 && r != -ETIMEDOUT) {
			r = (int)weft__posix(r);
			break;
		}
	}
	if (p.fd >= 0)
		REAL(close)(p.fd);
	if (r >= 0 && self) {
		weft__spin_lock(&targets_lock);
		undirect(self);
		weft__spin_unlock(&targets_lock);
	}
	return r;
}

static int do_sigtimedwait(const sigset_t *set, siginfo_t *info,
			   const struct timespec *timeout)
{
	int64_t ns = -1;

	if (!weft__on_vthread())
		return REAL(sigtimedwait)(set, info, timeout);
	if (timeout && (ns = weft__ts_ns(timeout)) < 0)
		return (int)weft__posix(ns);
	return wait_signal(set, info, ns < 0 ? -1 : weft_now() + ns);
}

WEFT_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info,
			     const struct timespec *timeout)
{
	WEFT_POINT(int, do_sigtimedwait(set, info, timeout));
}

WEFT_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	WEFT_POINT(int, do_sigtimedwait(set, info, NULL));
}

/* sigwait is not interrupted: it returns an error number, never EINTR. */
WEFT_EXPORT int sigwait(const sigset_t *set, int *sig)
{
	int r;

	if (!weft__on_vthread())
		return REAL(sigwait)(set, sig);
	do /* a cancellation point each time round */
		r = sigwaitinfo(set, NULL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	*sig = r;
	return 0;
}

/*
 * A signal taken for a thread that waits with a mask: its handler runs
 * there, with the mask the kernel would give it.
 */
static void run_taken(int sig, siginfo_t *si, const sigset_t *mask)
{
	const struct sigaction *a = atomic_load(&user[sig]);
	sigset_t during, before;

	if (!a)
		return; /* the program took its handler away meanwhile */
	during = *mask;
	sigorset(&during, &during, &a->sa_mask);
	if (!(a->sa_flags & SA_NODEFER))
		sigaddset(&during, sig);
	if (a->sa_flags & SA_RESETHAND) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };

		set(sig, &dfl, NULL);
	}
	weft__impl_sigmask(SIG_SETMASK, &during, &before);
	call(&(struct weft__frame){ .entered = false }, a, sig, si, NULL);
	weft__impl_sigmask(SIG_SETMASK, &before, NULL);
}

/*
 * A wait with a mask: sigsuspend, pause, and ppoll, pselect, epoll_pwait
 * with one.  The mask's signals are blocked on top of the thread's while
 * it waits (never fewer: the kernel would deliver those to its carrier
 * at once, as if for main).  A signal with a handler that the mask lets
 * in comes one of two ways.  If main lets it in, the kernel gives it to
 * main, whose wait its handler interrupts, as natively.  If main blocks
 * it, it stays pending, as every carrier blocks it then: m->p, a poll
 * of a signalfd for such signals, wakes the wait, and the waiter takes
 * the signal and runs its handler (weft__masked_take), as the kernel
 * would pick the one thread that lets it in.  Signals without a handler
 * of the program's are left to the kernel.
 */
void weft__masked_begin(struct weft__masked *m, const sigset_t *mask)
{
	struct weft__pthread *self = weft__pt_self();

	m->mask = *mask;
	weft__impl_sigmask(SIG_BLOCK, mask, &m->old);
	sigemptyset(&m->in);
	weft__spin_lock(&targets_lock);
	for (int sig = 1; sig < NSIG; sig++)
		if (atomic_load(&user[sig]) && !faults(sig) &&
		    !sigismember(mask, sig) &&
		    (!main_pt || main_pt == self ||
		     weft__impl_blocks(main_pt->t, sig)))
			sigaddset(&m->in, sig);
	weft__spin_unlock(&targets_lock);
	m->p = (struct pollfd){ .fd = -1, .events = POLLIN };
	if (!sigisemptyset(&m->in))
		m->p.fd = signalfd(-1, &m->in, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* If a signal of m's is pending, take it and run its handler: true. */
bool weft__masked_take(struct weft__masked *m)
{
	static const struct timespec now;
	siginfo_t si;
	int sig;

	if (m->p.fd < 0)
		return false;
	sig = REAL(sigtimedwait)(&m->in, &si, &now);
	if (sig <= 0)
		return false;
	run_taken(sig, &si, &m->mask);
	return true;
}

void weft__masked_end(struct weft__masked *m)
{
	if (m->p.fd >= 0)
		REAL(close)(m->p.fd);
	weft__impl_sigmask(SIG_SETMASK, &m->old, NULL);
	weft__spin_lock(&targets_lock);
	undirect(weft__pt_self());
	weft__spin_unlock(&targets_lock);
}

/* Wait as sigsuspend(mask) does, for a handler: -1, errno EINTR. */
static int suspend(const sigset_t *mask)
{
	struct weft__masked m;
	int r;

	weft__masked_begin(&m, mask);
	for (;;) {
		if (weft__masked_take(&m)) {
			r = -EINTR;
			break;
		}
		if (m.p.fd >= 0)
			r = weft__impl_poll_any(&m.p, 1, -1);
		else /* out of fds, or none to take: main's handlers only */
			r = weft_sleep_until(INT64_MAX / 2);
		if (r < 0 && r != -ETIMEDOUT)
			break;
	}
	weft__masked_end(&m);
	return (int)weft__posix(r);
}

/* The calling virtual thread's mask, if the shim keeps its masks. */
static bool own_mask_now(sigset_t *now)
{
	return weft__on_vthread() &&
	       weft__impl_sigmask(SIG_BLOCK, NULL, now) == 0;
}

static int do_pause(void)
{
	sigset_t now;

	return own_mask_now(&now) ? suspend(&now) : REAL(pause)();
}

WEFT_EXPORT int pause(void)
{
	WEFT_POINT(int, do_pause());
}

static int do_sigsuspend(const sigset_t *mask)
{
	sigset_t now;

	return own_mask_now(&now) ? suspend(mask) : REAL(sigsuspend)(mask);
}

WEFT_EXPORT int sigsuspend(const sigset_t *mask)
{
	WEFT_POINT(int, do_sigsuspend(mask));
}

/* pthread_kill, or pthread_sigqueue with value, of a virtual thread. */
int weft__signal_thread(struct weft__pthread *pt, int sig,
			const union sigval *value)
{
	if (pt == weft__pt_self())
		return raise_here(sig, value);
	weft__spin_lock(&targets_lock);
	if (!pt->sig_queued && !pt->sig_gone) {
		pt->sig_queued = true;
		pt->sig_next = directed;
		directed = pt;
	}
	weft__spin_unlock(&targets_lock);
	if (value)
		return sigqueue(getpid(), sig, *value) ? errno : 0;
	return kill(getpid(), sig) ? errno : 0;
}

/* The thread is ending: no signal may reach it from now on. */
void weft__signal_forget(struct weft__pthread *pt)
{
	weft__spin_lock(&targets_lock);
	pt->sig_gone = true;
	undirect(pt);
	if (main_pt == pt) {
		main_pt = NULL;
		weft__impl_signals_for(NULL);
	}
	weft__spin_unlock(&targets_lock);
}

/* start.c: the main thread is the target of the process's signals. */
void weft__signal_main(struct weft__pthread *pt)
{
	weft__spin_lock(&targets_lock);
	main_pt = pt;
	weft__impl_signals_for(pt->t);
	weft__spin_unlock(&targets_lock);
}

/* SPDX-License-Identifier: MIT */
/* The real libc functions behind the shim's, found once with RTLD_NEXT. */
#ifndef WEFT_SHIM_REAL_H
#define WEFT_SHIM_REAL_H

#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <stdio.h>
#include <bits/types/idtype_t.h> /* waitid's, without all of sys/wait.h */
#include <time.h>

struct rusage;

typedef int main_fn(int, char **, char **);

/* X(name, return type, parameter list) for every function the shim wraps. */
#define WEFT_REAL_FUNCTIONS                                                    \
	X(__libc_start_main, int,                                              \
	  (main_fn *, int, char **, void (*)(void), void (*)(void),            \
	   void (*)(void), void *))                                            \
	X(pthread_create, int,                                                 \
	  (pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))    \
	X(pthread_join, int, (pthread_t, void **))                             \
	X(pthread_detach, int, (pthread_t))                                    \
	X(pthread_exit, void, (void *))                                        \
	X(pthread_self, pthread_t, (void))                                     \
	X(pthread_tryjoin_np, int, (pthread_t, void **))                       \
	X(pthread_timedjoin_np, int,                                           \
	  (pthread_t, void **, const struct timespec *))                       \
	X(pthread_clockjoin_np, int,                                           \
	  (pthread_t, void **, clockid_t, const struct timespec *))            \
	X(pthread_getattr_np, int, (pthread_t, pthread_attr_t *))              \
	X(pthread_setname_np, int, (pthread_t, const char *))                  \
	X(pthread_getname_np, int, (pthread_t, char *, size_t))                \
	X(pthread_kill, int, (pthread_t, int))                                 \
	X(pthread_sigqueue, int, (pthread_t, int, const union sigval))         \
	X(pthread_getcpuclockid, int, (pthread_t, clockid_t *))                \
	X(pthread_setaffinity_np, int, (pthread_t, size_t, const cpu_set_t *)) \
	X(pthread_getaffinity_np, int, (pthread_t, size_t, cpu_set_t *))       \
	X(pthread_setschedparam, int,                                          \
	  (pthread_t, int, const struct sched_param *))                        \
	X(pthread_getschedparam, int,                                          \
	  (pthread_t, int *, struct sched_param *))                            \
	X(pthread_setschedprio, int, (pthread_t, int))                         \
	X(pthread_cancel, int, (pthread_t))                                    \
	X(pthread_testcancel, void, (void))                                    \
	X(pthread_setcancelstate, int, (int, int *))                           \
	X(pthread_setcanceltype, int, (int, int *))                            \
	X(__pthread_register_cancel, void, (__pthread_unwind_buf_t *))         \
	X(__pthread_unregister_cancel, void, (__pthread_unwind_buf_t *))       \
	X(__pthread_register_cancel_defer, void, (__pthread_unwind_buf_t *))   \
	X(__pthread_unregister_cancel_restore, void,                           \
	  (__pthread_unwind_buf_t *))                                          \
	X(__pthread_unwind_next, void, (__pthread_unwind_buf_t *))             \
	X(_pthread_cleanup_push, void,                                         \
	  (struct _pthread_cleanup_buffer *, void (*)(void *), void *))        \
	X(_pthread_cleanup_pop, void, (struct _pthread_cleanup_buffer *, int)) \
	X(syscall, long, (long, ...))                                          \
	X(pthread_key_create, int, (pthread_key_t *, void (*)(void *)))        \
	X(pthread_key_delete, int, (pthread_key_t))                            \
	X(pthread_getspecific, void *, (pthread_key_t))                        \
	X(pthread_setspecific, int, (pthread_key_t, const void *))             \
	X(read, ssize_t, (int, void *, size_t))                                \
	X(write, ssize_t, (int, const void *, size_t))                         \
	X(readv, ssize_t, (int, const struct iovec *, int))                    \
	X(writev, ssize_t, (int, const struct iovec *, int))                   \
	X(pread64, ssize_t, (int, void *, size_t, off_t))                      \
	X(pwrite64, ssize_t, (int, const void *, size_t, off_t))               \
	X(recv, ssize_t, (int, void *, size_t, int))                           \
	X(recvfrom, ssize_t,                                                   \
	  (int, void *, size_t, int, struct sockaddr *, socklen_t *))          \
	X(send, ssize_t, (int, const void *, size_t, int))                     \
	X(recvmsg, ssize_t, (int, struct msghdr *, int))                       \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int))                 \
	X(setsockopt, int, (int, int, int, const void *, socklen_t))           \
	X(preadv64, ssize_t, (int, const struct iovec *, int, off_t))          \
	X(pwritev64, ssize_t, (int, const struct iovec *, int, off_t))         \
	X(fsync, int, (int))                                                   \
	X(fdatasync, int, (int))                                               \
	X(sendfile64, ssize_t, (int, int, off_t *, size_t))                    \
	X(sendto, ssize_t,                                                     \
	  (int, const void *, size_t, int, const struct sockaddr *,            \
	   socklen_t))                                                         \
	X(accept, int, (int, struct sockaddr *, socklen_t *))                  \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int))            \
	X(connect, int, (int, const struct sockaddr *, socklen_t))             \
	X(socket, int, (int, int, int))                                        \
	X(socketpair, int, (int, int, int, int *))                             \
	X(close, int, (int))                                                   \
	X(fclose, int, (FILE *))                                               \
	X(pclose, int, (FILE *))                                               \
	X(freopen, FILE *, (const char *, const char *, FILE *))               \
	X(freopen64, FILE *, (const char *, const char *, FILE *))             \
	X(closedir, int, (DIR *))                                              \
	X(close_range, int, (unsigned, unsigned, int))                         \
	X(closefrom, void, (int))                                              \
	X(open64, int, (const char *, int, ...))                               \
	X(openat64, int, (int, const char *, int, ...))                        \
	X(fcntl64, int, (int, int, ...))                                       \
	X(ioctl, int, (int, unsigned long, ...))                               \
	X(dup, int, (int))                                                     \
	X(dup2, int, (int, int))                                               \
	X(dup3, int, (int, int, int))                                          \
	X(pipe, int, (int *))                                                  \
	X(pipe2, int, (int *, int))                                            \
	X(nanosleep, int, (const struct timespec *, struct timespec *))        \
	X(clock_nanosleep, int,                                                \
	  (clockid_t, int, const struct timespec *, struct timespec *))        \
	X(usleep, int, (useconds_t))                                           \
	X(sleep, unsigned, (unsigned))                                         \
	X(poll, int, (struct pollfd *, nfds_t, int))                           \
	X(ppoll, int,                                                          \
	  (struct pollfd *, nfds_t, const struct timespec *,                   \
	   const sigset_t *))                                                  \
	X(select, int, (int, fd_set *, fd_set *, fd_set *, struct timeval *))  \
	X(pselect, int,                                                        \
	  (int, fd_set *, fd_set *, fd_set *, const struct timespec *,         \
	   const sigset_t *))                                                  \
	X(epoll_wait, int, (int, struct epoll_event *, int, int))              \
	X(epoll_pwait, int,                                                    \
	  (int, struct epoll_event *, int, int, const sigset_t *))             \
	X(sched_yield, int, (void))                                            \
	X(wait4, pid_t, (pid_t, int *, int, struct rusage *))                  \
	X(waitid, int, (idtype_t, id_t, siginfo_t *, int))                     \
	X(sigaction, int, (int, const struct sigaction *, struct sigaction *)) \
	X(pthread_sigmask, int, (int, const sigset_t *, sigset_t *))           \
	X(sigprocmask, int, (int, const sigset_t *, sigset_t *))               \
	X(siglongjmp, void, (struct __jmp_buf_tag *, int))                     \
	X(__longjmp_chk, void, (struct __jmp_buf_tag *, int))                  \
	X(raise, int, (int))                                                   \
	X(pause, int, (void))                                                  \
	X(sigsuspend, int, (const sigset_t *))                                 \
	X(sigwait, int, (const sigset_t *, int *))                             \
	X(sigwaitinfo, int, (const sigset_t *, siginfo_t *))                   \
	X(sigtimedwait, int,                                                   \
	  (const sigset_t *, siginfo_t *, const struct timespec *))            \
	X(getaddrinfo, int,                                                    \
	  (const char *, const char *, const struct addrinfo *,                \
	   struct addrinfo **))                                                \
	X(getnameinfo, int,                                                    \
	  (const struct sockaddr *, socklen_t, char *, socklen_t, char *,      \
	   socklen_t, int))                                                    \
	X(gethostbyname, struct hostent *, (const char *))                     \
	X(gethostbyname2, struct hostent *, (const char *, int))               \
	X(gethostbyaddr, struct hostent *, (const void *, socklen_t, int))     \
	X(gethostbyname_r, int,                                                \
	  (const char *, struct hostent *, char *, size_t, struct hostent **,  \
	   int *))                                                             \
	X(gethostbyname2_r, int,                                               \
	  (const char *, int, struct hostent *, char *, size_t,                \
	   struct hostent **, int *))                                          \
	X(gethostbyaddr_r, int,                                                \
	  (const void *, socklen_t, int, struct hostent *, char *, size_t,     \
	   struct hostent **, int *))

struct weft_real {
#define X(name, ret, params) ret(*name) params;
	WEFT_REAL_FUNCTIONS
#undef X
};

__attribute__((visibility("hidden"))) extern struct weft_real weft__real;
__attribute__((visibility("hidden"))) void weft__real_load(void);

/*
 * The real function: the table is filled by a constructor, but other
 * libraries' constructors may call into the shim before it runs.
 */
#define REAL(name)                                        \
	(*(__builtin_expect(weft__real.name != NULL, 1) ? \
		   weft__real.name :                      \
		   (weft__real_load(), weft__real.name)))

#endif

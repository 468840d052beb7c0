/* SPDX-License-Identifier: MIT */
/*
 * The blocking pool: calls that io_uring cannot make (getaddrinfo and its
 * kin, which read files and talk to resolvers inside libc) run on a few
 * kernel threads of the pool's own while the calling virtual thread
 * parks, so its carrier goes on running the others.  A plain thread just
 * makes the call.
 *
 * Workers start on demand, up to POOL_MAX, and live until the runtime
 * stops.  A carrier's scheduler starts them, right after the caller has
 * parked, never the virtual thread: in the preload, pthread_create on a
 * virtual thread makes another virtual thread.  Jobs wait in one FIFO
 * under one lock; workers sleep on a futex word bumped per job.  The call
 * is not a cancellation point: the job lives on the caller's stack until
 * the worker is done with it.
 */
#include <signal.h>
#include <stdlib.h>
#include "runtime.h"
#include "weftimpl.h"

#define POOL_MAX 4

struct job {
	void (*fn)(void *);
	void *arg;
	struct weft__waiter w;
	struct job *next;
};

static struct {
	struct weft__lock lock;
	struct job *head, *tail;
	unsigned nr;   /* workers started or being started */
	unsigned idle; /* of which waiting for a job */
	bool stopping;
	atomic_uint seq; /* bumped for each job and at stop */
	pthread_t threads[POOL_MAX];
	unsigned nr_threads; /* in threads[], to join */
} pool;

static struct job *take(void)
{
	struct job *j = pool.head;

	if (j) {
		pool.head = j->next;
		if (!pool.head)
			pool.tail = NULL;
	}
	return j;
}

static void *worker(void *arg)
{
	struct job *j;
	unsigned seq;

	weft__lock(&pool.lock);
	while (!pool.stopping) {
		if ((j = take())) {
			weft__unlock(&pool.lock);
			j->fn(j->arg);
			weft__waiter_wake(&j->w);
			weft__lock(&pool.lock);
			continue;
		}
		seq = atomic_load(&pool.seq);
		pool.idle++;
		weft__unlock(&pool.lock);
		weft__futex_wait(&pool.seq, seq, -1);
		weft__lock(&pool.lock);
		pool.idle--;
	}
	weft__unlock(&pool.lock);
	return NULL;
}

/*
 * On a carrier's scheduler: start a worker.  The pool's threads take no
 * asynchronous signals, as carriers do not.  If none can be started and
 * none runs, the scheduler runs the jobs itself, blocking its carrier:
 * slow, but never a hang.
 */
static void grow(void)
{
	sigset_t all, old;
	pthread_t th;
	struct job *j;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&th, NULL, worker, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	weft__lock(&pool.lock);
	if (!r) {
		pool.threads[pool.nr_threads++] = th;
		weft__unlock(&pool.lock);
		return;
	}
	pool.nr--;
	while (pool.nr == 0 && (j = take())) {
		weft__unlock(&pool.lock);
		j->fn(j->arg);
		weft__waiter_wake(&j->w);
		weft__lock(&pool.lock);
	}
	weft__unlock(&pool.lock);
}

void weft__impl_blocking(void (*fn)(void *), void *arg)
{
	struct weft__carrier *c = weft__carrier_self();
	struct job j = { .fn = fn, .arg = arg };
	bool start;

	if (!c || !c->current) {
		fn(arg);
		return;
	}
	weft__waiter_init(&j.w);
	j.w.note.on = WEFT__ON_POOL;
	weft__lock(&pool.lock);
	if (pool.tail)
		pool.tail->next = &j;
	else
		pool.head = &j;
	pool.tail = &j;
	start = pool.idle == 0 && pool.nr < POOL_MAX;
	if (start)
		pool.nr++;
	atomic_fetch_add(&pool.seq, 1);
	weft__unlock(&pool.lock);
	weft__futex_wake(&pool.seq, 1);
	if (start)
		c->after_park = grow;
	weft__waiter_wait(&j.w, -1);
}

/* The runtime stops: every worker leaves and is joined. */
void weft__pool_stop(void)
{
	weft__lock(&pool.lock);
	pool.stopping = true;
	atomic_fetch_add(&pool.seq, 1);
	weft__unlock(&pool.lock);
	weft__futex_wake(&pool.seq, INT32_MAX);
	for (unsigned i = 0; i < pool.nr_threads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nr = pool.idle = pool.nr_threads = 0;
	pool.head = pool.tail = NULL;
	pool.stopping = false;
}

/* A fork child: the workers, and the parent's jobs, are not in it. */
void weft__pool_fork_child(void)
{
	atomic_store(&pool.lock.v, 0);
	pool.nr = pool.idle = pool.nr_threads = 0;
	pool.head = pool.tail = NULL;
	pool.stopping = false;
}

/* SPDX-License-Identifier: MIT */
/*
 * Context switch cost: weft_yield ping-pong on one carrier, against a
 * mutex and condition variable handoff between two pthreads and the bare
 * register swap of weft__ctx_switch.
 *
 * One switch is one thread handing the CPU to the other: a weft_yield that
 * resumes the other virtual thread, a condition variable wait that lets
 * the other pthread run, one call of weft__ctx_switch.
 */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>

#include "weft.h"
#include "bench.h"

/* Hidden in libweft.a; see lib/ctx.h. */
void weft__ctx_switch(void **save, void *to);
void *weft__ctx_make(void *stack_hi, void (*entry)(void *), void *arg);

#define CO_STACK (64 * 1024)

static long yields; /* per virtual thread */

/* ---- weft_yield between two virtual threads ---- */

static intptr_t yielder(void *arg)
{
	for (long i = 0; i < yields; i++)
		weft_yield();
	return 0;
}

static intptr_t yield_main(void *arg)
{
	struct weft_thread *a, *b;
	int64_t t0, t1;

	t0 = b_now();
	if (weft_thread_spawn(&a, yielder, NULL, NULL) < 0 ||
	    weft_thread_spawn(&b, yielder, NULL, NULL) < 0)
		return -1;
	weft_thread_join(a, NULL);
	weft_thread_join(b, NULL);
	t1 = b_now();
	*(double *)arg = (double)(t1 - t0) / (2.0 * yields);
	return 0;
}

/* ---- two pthreads through a mutex and a condition variable ---- */

struct pingpong {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int turn;
	long rounds; /* handoffs each side makes */
};

struct player {
	struct pingpong *pp;
	int me;
};

static void *play(void *arg)
{
	struct player *p = arg;
	struct pingpong *pp = p->pp;

	pthread_mutex_lock(&pp->lock);
	for (long i = 0; i < pp->rounds; i++) {
		while (pp->turn != p->me)
			pthread_cond_wait(&pp->cond, &pp->lock);
		pp->turn = !p->me;
		pthread_cond_signal(&pp->cond);
	}
	pthread_mutex_unlock(&pp->lock);
	return NULL;
}

/* ns per handoff; with one_cpu, both threads are bound to one CPU. */
static double condvar_pingpong(long rounds, bool one_cpu)
{
	struct pingpong pp = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
		.rounds = rounds,
	};
	struct player pl[2] = { { &pp, 0 }, { &pp, 1 } };
	pthread_attr_t attr;
	pthread_t th[2];
	cpu_set_t cpus;
	int64_t t0, t1;

	pthread_attr_init(&attr);
	if (one_cpu) {
		CPU_ZERO(&cpus);
		sched_getaffinity(0, sizeof(cpus), &cpus);
		for (int i = 0; i < CPU_SETSIZE; i++) {
			if (CPU_ISSET(i, &cpus)) {
				CPU_ZERO(&cpus);
				CPU_SET(i, &cpus);
				break;
			}
		}
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	}
	t0 = b_now();
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], &attr, play, &pl[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	t1 = b_now();
	pthread_attr_destroy(&attr);
	return (double)(t1 - t0) / (2.0 * rounds);
}

/*
 * ---- the bare register swap ----
 *
 * Two ways round.  Symmetric: two contexts run the same loop and switch to
 * each other, so every return lands where the return stack buffer expects
 * it, as with two virtual threads in the same yield loop; this is the
 * floor under weft_yield.  Asymmetric: the main context and a coroutine
 * switch from different call sites, so every return is mispredicted.
 */

struct co {
	void *sp;
	struct co *peer;
};

static void *main_sp;
static long left; /* switches to make before going back to main */

static void co_loop(void *arg)
{
	struct co *me = arg;

	for (;;)
		weft__ctx_switch(&me->sp, --left > 0 ? me->peer->sp : main_sp);
}

static double bare_swap(long switches)
{
	char *stack[2] = { aligned_alloc(64, CO_STACK),
			   aligned_alloc(64, CO_STACK) };
	struct co a, b;
	int64_t t0, t1;

	a = (struct co){ weft__ctx_make(stack[0] + CO_STACK, co_loop, &a), &b };
	b = (struct co){ weft__ctx_make(stack[1] + CO_STACK, co_loop, &b), &a };
	/* Warm the caches and the branch predictor first. */
	left = 100000;
	weft__ctx_switch(&main_sp, a.sp);
	left = switches;
	t0 = b_now();
	weft__ctx_switch(&main_sp, a.sp);
	t1 = b_now();
	/* Both stay suspended on their stacks: never resumed again. */
	free(stack[0]);
	free(stack[1]);
	return (double)(t1 - t0) / switches;
}

static void *co_sp;

static void co_back(void *arg)
{
	for (;;)
		weft__ctx_switch(&co_sp, main_sp);
}

static double bare_swap_asym(long switches)
{
	char *stack = aligned_alloc(64, CO_STACK);
	int64_t t0, t1;

	co_sp = weft__ctx_make(stack + CO_STACK, co_back, NULL);
	for (long i = 0; i < 100000; i++)
		weft__ctx_switch(&main_sp, co_sp);
	t0 = b_now();
	for (long i = 0; i < switches / 2; i++)
		weft__ctx_switch(&main_sp, co_sp);
	t1 = b_now();
	free(stack);
	return (double)(t1 - t0) / (double)(switches / 2 * 2);
}

int main(void)
{
	long n = b_env("BENCH_SWITCHES", 10000000);
	long handoffs = b_env("BENCH_HANDOFFS", 100000);
	double ns = 0;

	b_emit("switch", "bare_swap", bare_swap(2 * n), "ns/switch");
	b_emit("switch", "bare_swap_asym", bare_swap_asym(2 * n), "ns/switch");

	/* One carrier: both threads take turns on the same kernel thread. */
	setenv("WEFT_CARRIERS", "1", 1);
	yields = 50000;
	weft_main(yield_main, &ns); /* warm-up */
	yields = n / 2;
	if (weft_main(yield_main, &ns) < 0) {
		fprintf(stderr, "switch: weft_main failed\n");
		return 1;
	}
	b_emit("switch", "weft_yield", ns, "ns/switch");

	b_emit("switch", "pthread_condvar",
	       condvar_pingpong(handoffs / 2, false), "ns/switch");
	b_emit("switch", "pthread_condvar_1cpu",
	       condvar_pingpong(handoffs / 2, true), "ns/switch");
	return 0;
}

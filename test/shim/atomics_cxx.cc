// SPDX-License-Identifier: MIT
// C++'s own waits across many std::threads: std::atomic::wait and
// notify_one/notify_all (libstdc++ waits on a futex through syscall()),
// std::mutex with std::condition_variable (wait, wait_for, notify), a
// std::counting_semaphore, std::latch and std::barrier, and
// std::this_thread::sleep_for.  On one carrier a wait that blocked the
// carrier would hang whoever must wake it.
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <mutex>
#include <queue>
#include <semaphore>
#include <thread>
#include <vector>

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, \
				    #cond);                                 \
			std::exit(1);                                       \
		}                                                           \
	} while (0)

using namespace std::chrono_literals;

// A relay: thread i waits for the atomic to reach i, then moves it on.
static void relay(int n, int laps)
{
	std::atomic<int> turn{ 0 };
	std::vector<std::thread> ts;

	for (int i = 0; i < n; i++)
		ts.emplace_back([&, i] {
			for (int lap = 0; lap < laps; lap++) {
				int want = lap * n + i;
				int v;

				while ((v = turn.load()) != want)
					turn.wait(v);
				turn.store(want + 1);
				turn.notify_all();
			}
		});
	for (auto &t : ts)
		t.join();
	std::printf("atomic relay: %d threads, %d laps, turn %d\n", n, laps,
		    turn.load());
}

// notify_one wakes one of the waiters each time.
static void one_by_one(int n)
{
	std::atomic<int> tickets{ 0 }, done{ 0 };
	std::vector<std::thread> ts;

	for (int i = 0; i < n; i++)
		ts.emplace_back([&] {
			int v;

			// Sleep only while there is none: a failed exchange
			// leaves in v a count that may still be above 0.
			for (;;) {
				v = tickets.load();
				if (v == 0)
					tickets.wait(0);
				else if (tickets.compare_exchange_weak(v,
								       v - 1))
					break;
			}
			done++;
		});
	std::this_thread::sleep_for(30ms);
	for (int i = 0; i < n; i++) {
		tickets++;
		tickets.notify_one();
	}
	for (auto &t : ts)
		t.join();
	std::printf("notify_one: %d waiters served, %d tickets left\n",
		    done.load(), tickets.load());
}

// A bounded queue on a mutex and two condition variables.
static void producers_consumers(int producers, int consumers, int items)
{
	std::mutex m;
	std::condition_variable not_full, not_empty;
	std::queue<int> q;
	long sum = 0;
	int left = producers * items;
	std::vector<std::thread> ts;

	for (int p = 0; p < producers; p++)
		ts.emplace_back([&] {
			for (int i = 1; i <= items; i++) {
				std::unique_lock<std::mutex> l(m);
				not_full.wait(l, [&] { return q.size() < 8; });
				q.push(i);
				not_empty.notify_one();
			}
		});
	for (int c = 0; c < consumers; c++)
		ts.emplace_back([&] {
			for (;;) {
				std::unique_lock<std::mutex> l(m);
				not_empty.wait(l, [&] {
					return !q.empty() || left == 0;
				});
				if (q.empty())
					return;
				sum += q.front();
				q.pop();
				if (--left == 0)
					not_empty.notify_all();
				not_full.notify_one();
			}
		});
	for (auto &t : ts)
		t.join();
	std::printf("queue: %d producers, %d consumers, sum %ld\n", producers,
		    consumers, sum);
}

static void timeouts(void)
{
	std::mutex m;
	std::condition_variable cv;
	std::unique_lock<std::mutex> l(m);
	auto t0 = std::chrono::steady_clock::now();
	bool r = cv.wait_for(l, 30ms, [] { return false; });
	auto waited = std::chrono::steady_clock::now() - t0;

	std::printf("wait_for 30 ms: %s, waited %s\n", r ? "true" : "timed out",
		    waited >= 30ms ? "enough" : "too little");
	std::atomic<int> a{ 0 };
	std::thread t([&] {
		std::this_thread::sleep_for(20ms);
		a = 1;
		a.notify_one();
	});
	a.wait(0);
	t.join();
	std::printf("atomic wait across a sleeping notifier: %d\n", a.load());
}

static void sync_objects(int n)
{
	std::counting_semaphore<64> sem(0);
	std::latch started(n);
	std::barrier<> phase(n);
	std::atomic<int> count{ 0 };
	std::vector<std::thread> ts;

	for (int i = 0; i < n; i++)
		ts.emplace_back([&] {
			started.count_down();
			sem.acquire();
			for (int k = 0; k < 3; k++) {
				count++;
				phase.arrive_and_wait();
			}
		});
	started.wait();
	sem.release(n);
	for (auto &t : ts)
		t.join();
	std::printf("semaphore, latch, barrier: %d threads, count %d\n", n,
		    count.load());
}

int main()
{
	relay(8, 200);
	one_by_one(16);
	producers_consumers(4, 4, 2000);
	timeouts();
	sync_objects(32);
	return 0;
}

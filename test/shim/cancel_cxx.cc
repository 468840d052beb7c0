// SPDX-License-Identifier: MIT
// C++ under pthread_cancel and pthread_exit: the forced unwinding runs
// destructors and catch (...) { throw; } blocks, catch
// (abi::__forced_unwind &) sees it, pthread_cleanup_push (a destructor
// in C++) runs in order with them, and key destructors run after.  The
// threads are std::threads and plain pthreads.
#include <cxxabi.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, \
				    #cond);                                 \
			std::exit(1);                                       \
		}                                                           \
	} while (0)

namespace
{

int fds[2];
pthread_key_t key;

struct Noisy {
	std::string name;
	explicit Noisy(std::string n) : name(std::move(n))
	{
	}
	~Noisy()
	{
		std::printf("  ~%s\n", name.c_str());
	}
};

void say(void *what)
{
	std::printf("  cleanup: %s\n", static_cast<const char *>(what));
}

void block_in_read()
{
	char c;
	Noisy n("innermost local");

	CHECK(read(fds[0], &c, 1) < 0); // never returns
}

void rethrower()
{
	Noisy n("local of the rethrower");

	try {
		block_in_read();
	} catch (...) {
		std::printf("  catch (...): rethrow\n");
		throw;
	}
}

void *cancelled(void *)
{
	Noisy outer("outer local");

	pthread_setspecific(key, const_cast<char *>("cancelled thread's key"));
	pthread_cleanup_push(say, const_cast<char *>("pushed handler"));
	try {
		rethrower();
	} catch (abi::__forced_unwind &) {
		std::printf("  catch (abi::__forced_unwind &): rethrow\n");
		throw;
	}
	pthread_cleanup_pop(0);
	return nullptr;
}

[[noreturn]] void exit_deep(int n)
{
	Noisy l(n == 1 ? "exit frame 1" : "exit frame 2");

	if (n < 2)
		exit_deep(n + 1);
	pthread_exit(reinterpret_cast<void *>(42));
}

void *exiter(void *)
{
	Noisy outer("exiter's outer local");

	pthread_setspecific(key, const_cast<char *>("exiter's key"));
	try {
		exit_deep(1);
	} catch (...) {
		std::printf("  catch (...) in exiter: rethrow\n");
		throw;
	}
}

void key_destructor(void *v)
{
	std::printf("  key destructor: %s\n", static_cast<const char *>(v));
}

void pause_ms(int ms)
{
	std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::mutex m;

} // namespace

int main()
{
	pthread_t t;
	void *ret;

	CHECK(pipe(fds) == 0);
	CHECK(pthread_key_create(&key, key_destructor) == 0);

	CHECK(pthread_create(&t, nullptr, cancelled, nullptr) == 0);
	pause_ms(30);
	CHECK(pthread_cancel(t) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	std::printf("cancelled pthread: %s\n",
		    ret == PTHREAD_CANCELED ? "PTHREAD_CANCELED" : "value");

	CHECK(pthread_create(&t, nullptr, exiter, nullptr) == 0);
	CHECK(pthread_join(t, &ret) == 0);
	std::printf("pthread_exit: value %ld\n", reinterpret_cast<long>(ret));

	// A std::thread cancelled while it waits on a std::mutex (not a
	// point) and then sleeps (a point): its destructors run.
	m.lock();
	std::thread s([] {
		Noisy n("std::thread's local");
		std::lock_guard<std::mutex> g(m);
		std::printf("  std::thread has the mutex\n");
		pause_ms(10000);
	});
	pthread_t native = s.native_handle();
	pause_ms(30);
	CHECK(pthread_cancel(native) == 0);
	pause_ms(30);
	m.unlock();
	s.join();
	CHECK(m.try_lock()); // the guard's destructor unlocked it
	m.unlock();
	std::printf("std::thread cancelled, its lock_guard released\n");
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * pthread spinlocks that yield: a virtual thread spinning on its carrier
 * would keep the holder, parked or queued on the same carrier, from ever
 * running, so each failed try lets the others run first.
 */
#include "shim.h"

#include <pthread.h>

WEFT_EXPORT int pthread_spin_init(pthread_spinlock_t *l, int pshared)
{
	__atomic_store_n(l, 0, __ATOMIC_RELAXED);
	return 0;
}

WEFT_EXPORT int pthread_spin_destroy(pthread_spinlock_t *l)
{
	return 0;
}

WEFT_EXPORT int pthread_spin_trylock(pthread_spinlock_t *l)
{
	int free = 0;

	return __atomic_compare_exchange_n(l, &free, 1, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED) ?
		       0 :
		       EBUSY;
}

WEFT_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
	while (pthread_spin_trylock(l))
		weft_yield();
	return 0;
}

WEFT_EXPORT int pthread_spin_unlock(pthread_spinlock_t *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
	return 0;
}

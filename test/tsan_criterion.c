/* SPDX-License-Identifier: MIT */
/*
 * ThreadSanitizer builds only: let Criterion start.
 *
 * Criterion's BoxFort maps each of its arenas with MAP_FIXED at
 * 0x200000000000 + (rand_r() & 0x3fffff) * 16 MiB, after probing the
 * place with mincore, and gives up after ten probes.  ThreadSanitizer
 * reserves nearly all of that range for its shadow and metadata, so a
 * test program almost never starts, or crashes when its second arena
 * fails (Snaipe/Criterion#274).  The one part of the range that TSan
 * leaves to the program is where it expects PIE binaries,
 * 0x550000000000 to 0x568000000000: this rand_r folds glibc's sequence
 * into that slice for calls from Criterion, and returns glibc's own
 * numbers to everyone else.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#define PIE_SLOT 0x350000 /* (0x550000000000 - 0x200000000000) >> 24 */
#define PIE_SLOTS 0x18000 /* (0x568000000000 - 0x550000000000) >> 24 */

__attribute__((visibility("default"))) int rand_r(unsigned *seed)
{
	static int (*real)(unsigned *);
	Dl_info di;
	int v;

	if (!real)
		real = (int (*)(unsigned *))dlsym(RTLD_NEXT, "rand_r");
	v = real(seed);
	if (dladdr(__builtin_return_address(0), &di) && di.dli_fname &&
	    strstr(di.dli_fname, "libcriterion"))
		v = PIE_SLOT + v % PIE_SLOTS;
	return v;
}

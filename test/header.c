/* SPDX-License-Identifier: MIT */
/* Compiled alone with -std=c11 -pedantic: weft.h needs nothing else. */
#include <weft.h>

int main(void)
{
	struct weft_mutex m = WEFT_MUTEX_INIT;

	return weft_mutex_init(&m);
}

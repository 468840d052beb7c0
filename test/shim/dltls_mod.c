/* SPDX-License-Identifier: MIT */
/*
 * A module for dltls.c to dlopen, with thread-local variables of its own:
 * built twice, with dynamic TLS (the default for a shared object, as
 * libjvm.so has) and with static TLS (initial-exec, from the surplus).
 */
static __thread int value = 7;
static __thread char text[16] = "fresh";

__attribute__((visibility("default"))) int *dltls_value(void)
{
	return &value;
}

__attribute__((visibility("default"))) char *dltls_text(void)
{
	return text;
}

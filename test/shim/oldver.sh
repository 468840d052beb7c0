#!/bin/sh
# SPDX-License-Identifier: MIT
# oldver.c's references must bind to the old symbol versions (objdump -T
# says which); then it runs natively and under the shim (compare.sh).
# usage: oldver.sh COMPARE WEFT-RUN PRELOAD PROGRAM
compare=$1 run=$2 preload=$3 prog=$4
command -v objdump >/dev/null 2>&1 || { echo "no objdump: skipped"; exit 77; }
refs=$(objdump -T "$prog") || exit 1
for want in 'GLIBC_2.2.5) pthread_create' 'GLIBC_2.2.5) pthread_cond_wait' \
	'GLIBC_2.2.5) pthread_cond_timedwait' 'GLIBC_2.2.5) sem_wait' \
	'GLIBC_2.2.5) pthread_key_create' 'GLIBC_2.2.5) __pthread_mutex_lock' \
	'GLIBC_2.2.5) _pthread_cleanup_push' 'GLIBC_2.3.3) __pthread_unwind_next' \
	'GLIBC_2.3.3) pthread_timedjoin_np'; do
	if ! printf '%s\n' "$refs" | grep -qF "($want"; then
		echo "FAIL: no reference to $want"
		exit 1
	fi
done
echo "references bind to the old versions"
exec "$compare" "$run" "$preload" "$prog"

#!/bin/sh
# SPDX-License-Identifier: MIT
# timeout and kill end a shimmed program as they end a native one: the
# same exit status, for a program asleep (sleep) and one blocked in a
# read of a pipe (cat), for SIGTERM, SIGINT and SIGKILL.
# usage: kill.sh WEFT-RUN
run=$1
fail=0
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
mkfifo "$dir/fifo"
exec 3<>"$dir/fifo" # a writer that never writes: cat blocks in read

for sig in TERM INT KILL; do
	native=$(timeout -k 2 --preserve-status -s "$sig" 0.5 sleep 30; echo $?)
	shim=$(timeout -k 2 --preserve-status -s "$sig" 0.5 \
		"$run" --carriers 2 -- sleep 30; echo $?)
	echo "sleep, SIG$sig: native $native, shim $shim"
	[ "$native" = "$shim" ] || fail=1
	native=$(timeout -k 2 --preserve-status -s "$sig" 0.5 cat <"$dir/fifo"; echo $?)
	shim=$(timeout -k 2 --preserve-status -s "$sig" 0.5 \
		"$run" --carriers 2 -- cat <"$dir/fifo"; echo $?)
	echo "cat, SIG$sig: native $native, shim $shim"
	[ "$native" = "$shim" ] || fail=1
done
exit $fail

#!/bin/sh
# SPDX-License-Identifier: MIT
# Without io_uring (a seccomp filter denies io_uring_setup) the shim says
# so in one line on stderr and the program runs natively, same output.
# usage: nouring.sh WEFT-RUN NOURING PROGRAM [ARGS...]
run=$1 nouring=$2
shift 2
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

"$@" >"$dir/native" 2>/dev/null
native=$?
"$nouring" "$run" --carriers 2 -- "$@" >"$dir/shim" 2>"$dir/shim.err"
shim=$?
echo "native: exit $native; without io_uring: exit $shim"
cat "$dir/shim.err"
if [ $native -ne $shim ] || ! cmp -s "$dir/native" "$dir/shim"; then
	diff -u "$dir/native" "$dir/shim"
	exit 1
fi
if [ "$(wc -l <"$dir/shim.err")" -ne 1 ] ||
	! grep -q '^weft: .*running natively' "$dir/shim.err"; then
	echo "FAIL: want one warning line on stderr"
	exit 1
fi

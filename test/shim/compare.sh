#!/bin/sh
# SPDX-License-Identifier: MIT
# Run a program natively and under the shim; stdout and exit status must
# be the same.
# usage: compare.sh [--bare] [--carriers N] WEFT-RUN PRELOAD PROGRAM [ARGS...]
# --bare preloads the library through LD_PRELOAD instead of weft-run;
# --carriers runs the shim with N carriers (default 2).
bare=
carriers=2
while :; do
	case $1 in
	--bare) bare=1; shift ;;
	--carriers) carriers=$2; shift 2 ;;
	*) break ;;
	esac
done
run=$1 preload=$2
shift 2
case $preload in
/*) ;;
*) preload=$PWD/$preload ;;
esac
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

# Each run is bounded, under the test's own 120 s: a shimmed run still
# going after $limit s is sent SIGURG, on which the runtime prints a
# thread dump (WEFT_DUMP_SIGNAL), and killed 5 s later.
limit=90
timeout -k 5 $limit "$@" >"$dir/native" 2>"$dir/native.err"
native=$?
if [ -n "$bare" ]; then
	timeout -s URG -k 5 $limit env WEFT_DUMP_SIGNAL=URG \
		WEFT_CARRIERS="$carriers" LD_PRELOAD="$preload" "$@" \
		>"$dir/shim" 2>"$dir/shim.err"
else
	WEFT_DUMP_SIGNAL=URG timeout -s URG -k 5 $limit \
		"$run" --carriers "$carriers" -- "$@" >"$dir/shim" 2>"$dir/shim.err"
fi
shim=$?

echo "native: exit $native; shim: exit $shim"
cat "$dir/shim.err"
if [ $native -ne $shim ] || ! cmp -s "$dir/native" "$dir/shim"; then
	echo "--- native stdout / +++ shim stdout"
	diff -u "$dir/native" "$dir/shim"
	echo "native stderr:"
	cat "$dir/native.err"
	exit 1
fi
cat "$dir/shim"

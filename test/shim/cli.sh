#!/bin/sh
# SPDX-License-Identifier: MIT
# weft-run's command line: exit status and one line naming the problem.
# usage: cli.sh WEFT-RUN
run=$1
fail=0

expect() { # expect STATUS PATTERN ARGS...: run weft-run ARGS, check both
	want=$1 pattern=$2
	shift 2
	out=$("$run" "$@" 2>&1)
	got=$?
	if [ $got -ne "$want" ] || ! printf '%s\n' "$out" | grep -q -- "$pattern"; then
		echo "FAIL: weft-run $*: exit $got, output: $out"
		fail=1
	fi
}

expect 0 'usage: weft-run' --help
expect 2 "unknown option '--bogus'" --bogus -- true
expect 2 'no program to run'
expect 2 'no program to run' --carriers 2 --
expect 2 '--carriers needs a number' --carriers
expect 2 "'0' is not a number from 1 to 1024" --carriers 0 true
expect 2 "'x' is not a number" --carriers x true
expect 2 "'2000' is not a number" --carriers=2000 true
expect 127 "cannot run 'weft-no-such-program'" -- weft-no-such-program
expect 0 '' -- true
expect 1 '' --carriers 1 -- false

# An LD_PRELOAD already set is kept, after the shim.
out=$(LD_PRELOAD=weft-keep.so "$run" -- sh -c 'echo "$LD_PRELOAD"' 2>/dev/null)
case $out in
/*/libweft-preload.so:weft-keep.so) ;;
*)
	echo "FAIL: LD_PRELOAD became '$out'"
	fail=1
	;;
esac
exit $fail

#!/bin/sh
# SPDX-License-Identifier: MIT
# The gdb extension (lib/weft-gdb.py): info weft-threads lists the parked
# virtual threads, weft-thread N shows one's stack in bt, weft-thread
# restore goes back; for a program linked with libweft.a, with libweft.so,
# and a pthread program under libweft-preload.so.
# usage: gdb.sh SCRIPT STATIC-PROG SHARED-PROG PRELOAD DUMPME
script=$1 static=$2 shared=$3 preload=$4 dumpme=$5
command -v gdb >/dev/null || { echo "no gdb: skipped"; exit 77; }
fail=0
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

bad() {
	echo "FAIL: $*"
	fail=1
}

# debug NAME ID RUNNING ENV... -- PROG ARGS: the session, in $dir/NAME
debug() {
	name=$1 id=$2 running=$3
	shift 3
	set_env=
	while [ "$1" != -- ]; do
		set_env="$set_env -ex 'set environment $1'"
		shift
	done
	shift
	eval timeout -k 5 120 gdb -batch -nx -ex "'set startup-with-shell off'" \
		$set_env -ex "'source $script'" -ex "'break stop_here'" -ex run \
		-ex "'echo ==list==\\n'" -ex "'info weft-threads'" \
		-ex "'echo ==thread==\\n'" -ex "'weft-thread $id'" -ex bt \
		-ex "'echo ==restore==\\n'" -ex "'weft-thread restore'" -ex bt \
		-ex "'echo ==running==\\n'" -ex "'weft-thread $running'" \
		-ex "'echo ==end==\\n'" -ex kill --args "$@" \
		>"$dir/$name" 2>&1
}

# part NAME FROM TO: the lines of the session between two markers
part() {
	sed -n "/^==$2==/,/^==$3==/p" "$dir/$1"
}

check() {
	name=$1 id=$2 fn=$3 wait=$4
	part "$name" list thread | grep -Eq "^ +$id +[^ ]+ +parked +[0-9]+ +$wait" ||
		bad "$name: info weft-threads has no #$id parked in '$wait':
$(cat "$dir/$name")"
	part "$name" thread restore | grep -q "^#[1-9][0-9]* .* in $fn " ||
		bad "$name: weft-thread $id; bt shows no $fn:
$(cat "$dir/$name")"
	part "$name" thread restore | grep -q "weft__ctx_start" ||
		bad "$name: the virtual thread's stack does not reach its start"
	part "$name" restore running | grep -q " in $fn " &&
		bad "$name: weft-thread restore left $fn in bt"
	part "$name" restore running | grep -q "stop_here" ||
		bad "$name: after restore, bt is not the kernel thread's own"
	part "$name" running end | grep -q "is running" ||
		bad "$name: weft-thread of the running thread: $(part "$name" running end)"
}

debug static 2 1 -- "$static"
check static 2 blocked_reader "READ fd"
debug shared 3 1 -- "$shared"
check shared 3 sleeper "sleep, deadline in"
# Under the shim: main is #2, then reader_main #3, locker_main #4.
debug shim 4 2 "LD_PRELOAD=$preload" WEFT_CARRIERS=1 -- "$dumpme" stop
check shim 4 locker_main "mutex 0x"
exit $fail

#!/bin/sh
# SPDX-License-Identifier: MIT
# WEFT_STATS: one table on stderr at the runtime's end (weft_main, weft_shutdown,
# exit, a forked child's exit), sane numbers, nothing without the variable,
# one line naming the variable for garbage; and weft-run --stats.
# usage: stats.sh STATS-PROGRAM | stats.sh --shim WEFT-RUN
prog=$1 run=$2
fail=0
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
export WEFT_CARRIERS=2
unset WEFT_STATS WEFT_DUMP_SIGNAL WEFT_DUMP_FORMAT WEFT_DUMP_FILE

bad() {
	echo "FAIL: $*"
	fail=1
}

# figure FILE ROW: the number at the end of the row named ROW
figure() {
	awk -v row="$2" 'index($0, "  " row " ") == 1 { v = $NF } END {
		print v == "" ? -1 : v }' "$1"
}

# at_least FILE ROW MIN
at_least() {
	v=$(figure "$1" "$2")
	[ "$v" -ge "$3" ] 2>/dev/null || bad "$2 is $v, not >= $3 ($1):
$(cat "$1")"
}

tables() {
	grep -c '^weft stats: pid ' "$1"
}

if [ "$prog" = --shim ]; then
	# weft-run --stats: a cat whose reads block on a pipe.
	(sleep 0.3; echo hello) | "$run" --stats -- cat >"$dir/cat.out" 2>"$dir/cat.err"
	[ "$(cat "$dir/cat.out")" = hello ] || bad "cat under the shim: $(cat "$dir/cat.out")"
	[ "$(tables "$dir/cat.err")" = 1 ] || bad "weft-run --stats: $(cat "$dir/cat.err")"
	at_least "$dir/cat.err" "io_uring READ" 1
	at_least "$dir/cat.err" "virtual threads created" 1
	exit $fail
fi

for mode in main shutdown exit; do
	err=$dir/$mode.err
	WEFT_STATS=1 "$prog" $mode 2>"$err" || bad "$mode: exit status $?"
	[ "$(tables "$err")" = 1 ] || bad "$mode: not one table: $(cat "$err")"
	at_least "$err" "virtual threads created" 1013
	at_least "$err" "virtual threads peak live" 2
	at_least "$err" "switches" 1013
	at_least "$err" "io_uring READ" 125
	at_least "$err" "cancellations: ASYNC_CANCEL" 10
	at_least "$err" "cancellations: waits" 10
	[ "$(figure "$err" carriers)" = 2 ] || bad "$mode: carriers: $(cat "$err")"
	grep -q "^  compensating carriers " "$err" || bad "$mode: no monitor row"
	peak=$(figure "$err" "virtual threads peak live")
	made=$(figure "$err" "virtual threads created")
	[ "$peak" -le "$made" ] || bad "$mode: peak $peak > created $made"
done
# weft_shutdown prints it, before the program goes on.
head -1 "$dir/shutdown.err" | grep -q '^weft stats' &&
	tail -1 "$dir/shutdown.err" | grep -q '^after weft_shutdown' ||
	bad "shutdown: the table is not printed at weft_shutdown"

# A forked child prints its own table, of its own work, with its pid.
# Not under the sanitizers, whose fork children of a threaded process
# start no thread (TSan) or hang at a malloc (ASan: 4 runs in 300 here,
# see T_SKIP_THREADED_FORK in helpers.h): the child's monitor is one.
if [ -z "${WEFT_TEST_TSAN:-}${WEFT_TEST_ASAN:-}" ]; then
WEFT_STATS=1 "$prog" fork 2>"$dir/fork.err" || bad "fork: exit status $?"
[ "$(tables "$dir/fork.err")" = 2 ] || bad "fork: not two tables: $(cat "$dir/fork.err")"
[ "$(grep '^weft stats: pid ' "$dir/fork.err" | cut -d, -f1 | sort -u | wc -l)" = 2 ] ||
	bad "fork: the two tables have the same pid"
child=$(awk '/^  virtual threads created / { print $NF; exit }' "$dir/fork.err")
[ "$child" -ge 10 ] && [ "$child" -lt 100 ] ||
	bad "fork: the child's table counts $child threads, not its 10"
fi

# Nothing without the variable, or with 0.
for v in unset 0; do
	if [ $v = unset ]; then
		"$prog" main 2>"$dir/none.err"
	else
		WEFT_STATS=$v "$prog" main 2>"$dir/none.err"
	fi
	[ -s "$dir/none.err" ] && bad "WEFT_STATS $v: $(cat "$dir/none.err")"
done

# Garbage: one line naming the variable, and the program runs.
for var in WEFT_STATS=yes WEFT_DUMP_SIGNAL=SIGBOGUS WEFT_DUMP_SIGNAL=SIGKILL \
	WEFT_DUMP_FORMAT=xml; do
	env "$var" "$prog" exit 2>"$dir/bad.err" || bad "$var: exit status $?"
	[ "$(wc -l <"$dir/bad.err")" = 1 ] && grep -q "^weft: ${var%%=*}=" "$dir/bad.err" ||
		bad "$var: not one line naming it: $(cat "$dir/bad.err")"
done
exit $fail

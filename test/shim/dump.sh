#!/bin/sh
# SPDX-License-Identifier: MIT
# WEFT_DUMP_SIGNAL under the shim: kill -USR2 a blocking pthread program
# and get its thread dump, in JSON in WEFT_DUMP_FILE and in text on
# stderr, while it goes on running.
# usage: dump.sh WEFT-RUN DUMPME CHECK-PY
run=$1 prog=$2 check=$3
fail=0
dir=$(mktemp -d) || exit 1
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$dir"' EXIT

bad() {
	echo "FAIL: $*"
	fail=1
}

# start ENV...: the program under weft-run in the background, once ready
start() {
	: >"$dir/out"
	env "$@" "$run" --carriers 2 -- "$prog" >"$dir/out" 2>"$dir/err" &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^ready' "$dir/out" && break
		sleep 0.1
	done
	fd=$(awk '/^ready/ { print $2 }' "$dir/out")
	[ -n "$fd" ] || bad "the program did not start: $(cat "$dir/err")"
}

# until FILE PATTERN: wait up to 10 s for PATTERN in FILE
until_in() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

stop() {
	kill -0 $pid 2>/dev/null || bad "the program died of the dump signal"
	kill -TERM $pid
	wait $pid 2>/dev/null
	pid=
}

start WEFT_DUMP_SIGNAL=SIGUSR2 WEFT_DUMP_FORMAT=json \
	WEFT_DUMP_FILE="$dir/dump.json"
kill -USR2 $pid
if until_in "$dir/dump.json" '}$'; then
	/usr/bin/python3 "$check" shim fd="$fd" <"$dir/dump.json" ||
		bad "the JSON dump (above)"
else
	bad "no dump in WEFT_DUMP_FILE: $(cat "$dir/err")"
fi
# A second signal appends a second dump.
kill -USR2 $pid
until_in "$dir/dump.json" '}$' && sleep 0.5
[ "$(wc -l <"$dir/dump.json")" = 2 ] || bad "not two dumps in the file"
stop

start WEFT_DUMP_SIGNAL=12
kill -USR2 $pid
until_in "$dir/err" 'at reader_main+0x' ||
	bad "no text dump on stderr: $(cat "$dir/err")"
grep -q "READ fd $fd\$" "$dir/err" || bad "no 'READ fd $fd': $(cat "$dir/err")"
grep -q '^weft thread dump: pid ' "$dir/err" || bad "no header"
stop
exit $fail

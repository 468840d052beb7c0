#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Replay a fuzzer's corpus, then fuzz for a while; print executions and
# time.  New inputs go to a scratch directory, never into the corpus.
#
#   run.sh FUZZER CORPUS [SECONDS]      (default: $WEFT_FUZZ_SECONDS or 60)
#
# By hand, longer, keeping what is found, then minimising into the corpus:
#   mkdir -p /tmp/found
#   build-fuzz/test/fuzz/fuzz_api -max_total_time=3600 -timeout=10 \
#       -max_len=256 /tmp/found test/fuzz/corpus-api
#   build-fuzz/test/fuzz/fuzz_api -merge=1 test/fuzz/corpus-api /tmp/found
# with build-fuzz made by:
#   CC=clang meson setup build-fuzz -Dfuzz=true -Dfault_injection=true \
#       -Db_sanitize=address,undefined -Db_lundef=false
#   ninja -C build-fuzz test/fuzz/fuzz_api test/fuzz/fuzz_fdtable
set -u
fuzzer=$1
corpus=$2
seconds=${3:-${WEFT_FUZZ_SECONDS:-60}}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
opts=(-timeout=10 -max_len=256 -rss_limit_mb=4096 -print_final_stats=1)

echo "== replaying $(ls "$corpus" | wc -l) inputs of $corpus"
"$fuzzer" "${opts[@]}" -runs=0 "$corpus" >"$scratch/replay.log" 2>&1 ||
	{ tail -40 "$scratch/replay.log"; echo "replay failed"; exit 1; }
echo "== fuzzing for $seconds s"
mkdir "$scratch/new"
"$fuzzer" "${opts[@]}" -max_total_time="$seconds" "$scratch/new" "$corpus" \
	>"$scratch/fuzz.log" 2>&1
status=$?
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
	"$scratch/fuzz.log"
grep -E '^Done [0-9]+ runs' "$scratch/fuzz.log"
if [ $status -ne 0 ]; then
	tail -60 "$scratch/fuzz.log"
	for f in crash-* leak-* timeout-* oom-*; do
		[ -e "$f" ] && echo "kept: $PWD/$f"
	done
	echo "fuzzing failed"
	exit 1
fi
echo "new inputs not in the corpus: $(ls "$scratch/new" | wc -l)"

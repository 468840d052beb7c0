#!/bin/bash
# SPDX-License-Identifier: MIT
# Build and run the runtime-core benchmarks with their peers, and the shim's
# echo-server and pipe benchmarks, several times each, and print a Markdown
# table of the medians and the targets.
set -euo pipefail

usage() {
	cat <<EOF
usage: bench/run.sh [-B builddir] [-S srcdir] [-r repeats] [-o outdir]
                    [bench...]

  -B builddir  meson build directory (default: SRCDIR/build-bench,
               configured with --buildtype=release if new)
  -S srcdir    source tree to build (default: the one holding this script)
  -r repeats   runs of each benchmark and its Go peer (default: 5)
  -o outdir    where results.jsonl, log.txt and summary.md go
               (default: BUILDDIR/bench-results)
  bench        any of: $ALL (default: all)

Every figure is the median of the runs.  The C programs set WEFT_CARRIERS
themselves where a figure needs one carrier; the Go peers set GOMAXPROCS.
BENCH_SWITCHES, BENCH_HANDOFFS, BENCH_THREADS, BENCH_PTHREADS,
BENCH_SLEEPERS, BENCH_PARKED, BENCH_READS, BENCH_READERS and BENCH_TASKS
scale the work down for a quick look (figures made so are not comparable with the targets).

echo runs bench/echo.sh (its -h tells the ECHO_* settings); pipe times
1 GiB through cat and dd under shim/weft-run against the same natively,
PIPE_RUNS (default 5) times each in a run, taking turns.
EOF
}

ALL="switch spawn sleepers parked read group echo pipe"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(dirname "$here")
build=
out=
repeats=5

while getopts "B:S:r:o:h" opt; do
	case $opt in
	B) build=$OPTARG ;;
	S) src=$(cd "$OPTARG" && pwd) ;;
	r) repeats=$OPTARG ;;
	o) out=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
benches=${*:-$ALL}
for b in $benches; do
	case " $ALL " in
	*" $b "*) ;;
	*) echo "run.sh: no benchmark '$b'" >&2; usage >&2; exit 2 ;;
	esac
done
case $repeats in
'' | *[!0-9]* | 0) echo "run.sh: -r wants a positive number" >&2; exit 2 ;;
esac
build=$(realpath -m "${build:-$src/build-bench}")
out=$(realpath -m "${out:-$build/bench-results}")

# ---- build ----

say() {
	echo "run.sh: $*" >&2
}

if [ ! -f "$build/build.ninja" ]; then
	meson setup --buildtype=release "$build" "$src" >&2
fi
buildtype=$(meson configure "$build" 2>/dev/null |
	awk '$1 == "buildtype" { print $2 }')
if [ "$buildtype" != release ]; then
	say "warning: $build is a '$buildtype' build, not a release build"
fi
targets=
for b in $benches; do
	case $b in
	echo)
		targets="$targets bench/bench_echo_threads"
		targets="$targets bench/bench_echo_epoll bench/bench_echo_load"
		targets="$targets shim/weft-run shim/libweft-preload.so"
		;;
	pipe) targets="$targets shim/weft-run shim/libweft-preload.so" ;;
	*) targets="$targets bench/bench_$b" ;;
	esac
done
# shellcheck disable=SC2086 # one word a target
ninja -C "$build" $targets >&2

gobin=$build/bench/go
have_go=
if command -v go >/dev/null; then
	have_go=1
	mkdir -p "$gobin"
	for b in $benches; do
		[ -f "$src/bench/go/$b.go" ] || continue
		(cd "$src/bench/go" &&
			GOCACHE=$build/go-cache GOPATH=$build/go-path \
				GOPROXY=off GOFLAGS='' GO111MODULE=on \
				go build -o "$gobin/$b" "$b.go" common.go) >&2
	done
else
	say "go not found (Debian: apt-get install golang-go): the Go peers are skipped"
fi

# ---- run ----

mkdir -p "$out"
results=$out/results.jsonl
log=$out/log.txt
: >"$results"
: >"$log"

# Defaults for every figure: the programs choose their own settings.
unset WEFT_CARRIERS WEFT_STACK_SIZE_KB GOMAXPROCS GOGC GODEBUG

run_one() { # name command...
	local name=$1 rc=0

	shift
	echo "## $name" >>"$log"
	"$@" >"$out/.stdout" 2>>"$log" || rc=$?
	grep '^{' "$out/.stdout" >>"$results" || true
	if [ $rc -ne 0 ]; then
		say "$name failed with status $rc (see $log)"
	fi
}

pipe_emit() { # metric value unit: a figure, as bench.h prints it
	printf '{"bench":"pipe","metric":"%s","value":%s,"unit":"%s"}\n' \
		"$1" "$2" "$3"
	printf '%-10s %-24s %14.2f %s\n' pipe "$1" "$2" "$3" >&2
}

median() { # of the numbers on stdin, one a line
	sort -n | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m }'
}

pipe_once() { # cat|dd native|shim: "wall-ms cpu-ms" for 1 GiB, checked
	local shim=() t0 t1 bytes cpu

	[ "$2" = native ] || shim=("$build/shim/weft-run" --)
	# The program's own CPU time: `times` in the subshell that runs it.
	t0=$EPOCHREALTIME
	case $1 in
	cat)
		dd if=/dev/zero bs=64k count=16384 status=none | {
			"${shim[@]}" cat
			r=$?
			times >"$out/.pipe-times"
			exit $r
		} | LC_ALL=C dd of=/dev/null bs=128k 2>"$out/.pipe" ||
			return 1
		;;
	dd)
		{
			"${shim[@]}" dd if=/dev/zero bs=64k count=16384 \
				iflag=fullblock status=none
			r=$?
			times >"$out/.pipe-times"
			exit $r
		} | LC_ALL=C dd of=/dev/null bs=128k 2>"$out/.pipe" ||
			return 1
		;;
	esac
	t1=$EPOCHREALTIME
	bytes=$(awk '/ bytes / { print $1 }' "$out/.pipe")
	if [ "$bytes" != $((1 << 30)) ]; then
		echo "pipe: $1 ($2) passed ${bytes:-no} bytes, not 1 GiB" >&2
		return 1
	fi
	# The second line of `times` is the children's "0m0.123s 0m0.456s".
	cpu=$(awk -F'[ms ]' 'NR == 2 {
		printf "%.1f", (($1 + $4) * 60 + $2 + $5) * 1000 }' \
		"$out/.pipe-times")
	awk -v a="$t0" -v b="$t1" -v c="$cpu" \
		'BEGIN { printf "%.1f %s\n", (b - a) * 1000, c }'
}

# cat: a pipe in, a pipe out; dd: /dev/zero in, a pipe out.  The shimmed
# and the native pipeline take turns, PIPE_RUNS times; the figures are the
# medians of the wall time of the pipeline and of the CPU time (user and
# system) of the program under test, and their ratios.  Then 64 MiB of
# random bytes go through each shimmed program and are compared with what
# went in.
#
# dd counts blocks, and a short read makes a short block: under the shim
# (whose first try is preadv2 with RWF_NOWAIT, which /dev/zero cuts short
# when the scheduler wants the CPU) 1 GiB of 64 KiB blocks can come out a
# few KiB short.  So the timed dd says iflag=fullblock, natively too, and
# dd_short_bytes counts the bytes a plain dd lost in one more run.
pipe_bench() {
	local runs=${PIPE_RUNS:-5} p m t k nat shm data=$out/.pipe-data
	local bytes

	for p in cat dd; do
		for m in native shim; do
			: >"$out/.pipe-$m"
		done
		for _ in $(seq "$runs"); do
			for m in native shim; do
				t=$(pipe_once "$p" "$m") || return 1
				echo "$t" >>"$out/.pipe-$m"
				echo "pipe: $p $m ${t% *} ms, CPU ${t#* } ms" >&2
			done
		done
		for k in 1 2; do # wall time, then CPU time
			nat=$(cut -d' ' -f$k "$out/.pipe-native" | median)
			shm=$(cut -d' ' -f$k "$out/.pipe-shim" | median)
			t=
			[ $k = 1 ] || t=cpu_
			pipe_emit "${p}_native_${t}ms" "$nat" ms
			pipe_emit "${p}_shim_${t}ms" "$shm" ms
			pipe_emit "${p}_${t}ratio" "$(awk -v a="$shm" -v b="$nat" \
				'BEGIN { printf "%.4f", a / b }')" x
		done
	done
	bytes=$("$build/shim/weft-run" -- dd if=/dev/zero bs=64k count=16384 \
		status=none | wc -c) || return 1
	pipe_emit dd_short_bytes $(((1 << 30) - bytes)) bytes
	head -c 64M /dev/urandom >"$data"
	# shellcheck disable=SC2094 # both only read it
	"$build/shim/weft-run" -- cat <"$data" | cmp - "$data" || return 1
	# shellcheck disable=SC2002 # the shimmed cat must read a pipe
	cat "$data" | "$build/shim/weft-run" -- cat | cmp - "$data" ||
		return 1
	"$build/shim/weft-run" -- dd if="$data" bs=64k status=none |
		cmp - "$data" || return 1
	rm -f "$data" "$out"/.pipe*
}

start=$(date +%s)
for b in $benches; do
	for r in $(seq "$repeats"); do
		say "$b, run $r of $repeats"
		case $b in
		echo)
			run_one "echo (run $r)" bash "$here/echo.sh" \
				-B "$build" -g "$gobin/echo"
			continue
			;;
		pipe)
			run_one "pipe (run $r)" pipe_bench
			continue
			;;
		esac
		run_one "$b (C, run $r)" "$build/bench/bench_$b"
		if [ -n "$have_go" ] && [ -x "$gobin/$b" ]; then
			run_one "$b (Go, run $r)" "$gobin/$b"
		fi
	done
done
rm -f "$out/.stdout"
say "ran in $(($(date +%s) - start)) s; figures in $results"

# ---- report ----

# "bench metric median min max runs unit", one line a figure.
medians=$out/medians.txt
awk -F'"' '/^\{/ {
	key = $4 " " $8
	v = substr($11, 2, length($11) - 2) + 0
	n[key]++
	val[key, n[key]] = v
	unit[key] = $14
	if (!(key in order)) order[key] = ++nkeys
	names[order[key]] = key
}
END {
	for (k = 1; k <= nkeys; k++) {
		key = names[k]
		c = n[key]
		for (i = 1; i <= c; i++) s[i] = val[key, i]
		for (i = 2; i <= c; i++) { # insertion sort: a handful
			x = s[i]
			for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]
			s[j + 1] = x
		}
		m = c % 2 ? s[(c + 1) / 2] : (s[c / 2] + s[c / 2 + 1]) / 2
		print key, m, s[1], s[c], c, unit[key]
	}
}' "$results" >"$medians"

# Three significant figures or so, never an exponent.
num_awk='function num(v) {
	a = v < 0 ? -v : v
	return sprintf(a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : "%.2f", v)
}'

med() { # bench metric: the median, or nothing
	awk -v b="$1" -v m="$2" "$num_awk"'
		$1 == b && $2 == m { print num($3) }' "$medians"
}

ratio() { # a b: a / b, or nothing if either is missing
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { if (b != 0) printf "%.2f", a / b }'
}

verdict() { # value limit [op]: "met" when value op limit, op <= or >=
	local op=${3:-<=}

	if [ -z "$1" ] || [ -z "$2" ]; then
		echo "no figure"
	elif awk -v v="$1" -v l="$2" -v ge="${op#<=}" \
		'BEGIN { exit !(ge ? v >= l : v <= l) }'; then
		echo "met"
	else
		echo "not met"
	fi
}

row() { # target figure... verdict: the figure may come in several words
	local target=$1 figure

	shift
	figure=${*:1:$#-1}
	echo "| $target | $figure | ${!#} |"
}

worst() { # bench metric: the largest of the runs, or nothing
	awk -v b="$1" -v m="$2" "$num_awk"'
		$1 == b && $2 == m { print num($5) }' "$medians"
}

echo_targets() {
	local c k e g n w r

	for c in 1000 10000; do
		e=$(med echo "epoll_${c}_rps")
		g=$(med echo "go_${c}_rps")
		for k in 1 2; do
			w=$(med echo "threads_shim${k}_${c}_rps")
			r=$(ratio "$w" "$e")
			row "echo, $c conns: shim ${k}c >= 1.0x epoll req/s" \
				"shim $w, epoll ${e:-?}: ${r:-?}x" \
				"$(verdict "$r" 1 '>=')"
		done
		for k in 1 2; do
			w=$(med echo "threads_shim${k}_${c}_rps")
			r=$(ratio "$w" "$g")
			row "echo, $c conns: shim ${k}c >= 1.5x Go req/s" \
				"shim $w, go ${g:-?}: ${r:-?}x" \
				"(GOMAXPROCS=1: $(med echo "go1_${c}_rps"))" \
				"$(verdict "$r" 1.5 '>=')"
		done
		n=$(med echo "threads_native_${c}_rps")
		row "(echo, $c conns: native threads ~0.45x epoll)" \
			"native $n, epoll ${e:-?}: $(ratio "$n" "$e")x" \
			"(reference)"
	done
	n=$(med echo threads_native_10000_rss_mib)
	for k in 1 2; do
		w=$(med echo "threads_shim${k}_10000_rss_mib")
		r=$(ratio "$w" "$n")
		row "echo, 10000 conns: shim ${k}c peak RSS <= 0.6x native" \
			"shim $w MiB, native ${n:-?} MiB: ${r:-?}x" \
			"$(verdict "$r" 0.6)"
	done
	n=$(med echo threads_native_4k_10000_rss_mib)
	w=$(med echo threads_shim1_4k_10000_rss_mib)
	row "(echo, 10000 conns, 4 KiB buffer: shim 1c peak RSS / native)" \
		"shim ${w:-?} MiB, native ${n:-?} MiB: $(ratio "$w" "$n")x" \
		"(reference)"
}

echo_table() {
	local c e sv w

	echo "| echo server | conns | req/s | x epoll | p50 us | p99 us |" \
		"peak RSS MiB | kernel threads |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for c in 100 1000 10000; do
		e=$(med echo "epoll_${c}_rps")
		for sv in threads_native threads_shim1 threads_shim2 epoll \
			go go1 threads_native_4k threads_shim1_4k; do
			w=$(med echo "${sv}_${c}_rps")
			[ -n "$w" ] || continue
			echo "| $sv | $c | $w | $(ratio "$w" "$e") |" \
				"$(med echo "${sv}_${c}_p50_us") |" \
				"$(med echo "${sv}_${c}_p99_us") |" \
				"$(med echo "${sv}_${c}_rss_mib") |" \
				"$(med echo "${sv}_${c}_kthreads") |"
		done
	done
}

pipe_targets() {
	local p r w

	for p in cat dd; do
		r=$(med pipe "${p}_ratio")
		row "$p 1 GiB through a pipe: shim within 5% of native" \
			"shim $(med pipe "${p}_shim_ms") ms," \
			"native $(med pipe "${p}_native_ms") ms: ${r:-?}x" \
			"$(verdict "$r" 1.05)"
		r=$(med pipe "${p}_cpu_ratio")
		row "... $p's own CPU time (user + system)" \
			"shim $(med pipe "${p}_shim_cpu_ms") ms," \
			"native $(med pipe "${p}_native_cpu_ms") ms: ${r:-?}x" \
			"$(verdict "$r" 1.05)"
	done
	w=$(worst pipe dd_short_bytes)
	row "(plain dd under the shim passes every byte)" \
		"bytes missing of 1 GiB: median $(med pipe dd_short_bytes)," \
		"most ${w:-?}" "$(verdict "$w" 0)"
}

summary=$out/summary.md
{
	echo "Machine: $(nproc) CPUs," \
		"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo |
			head -1), kernel $(uname -r)"
	echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $repeats runs of: $benches"
	echo "Source: $(git -C "$src" describe --always --dirty 2>/dev/null ||
		echo "not a git tree")"
	echo
	echo "| bench | metric | median | min | max | runs | unit |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | --- |"
	awk "$num_awk"'{ printf "| %s | %s | %s | %s | %s | %d | %s |\n",
		$1, $2, num($3), num($4), num($5), $6, $7 }' "$medians"
	echo
	echo "| target | figure | met |"
	echo "| --- | --- | --- |"

	if [ -n "$(med switch weft_yield)" ]; then
		y=$(med switch weft_yield)
		gc=$(med switch go_chan)
		row "switch <= 20 ns" "weft_yield $y ns" "$(verdict "$y" 20)"
		row "bare swap ~10 ns" \
			"bare_swap $(med switch bare_swap) ns," \
			"asymmetric $(med switch bare_swap_asym) ns" \
			"(reference)"
		row "goroutine > 100 ns" \
			"go_chan ${gc:-?} ns: $(ratio "$gc" "$y")x weft_yield" \
			"(reference)"
	fi
	if [ -n "$(med spawn weft_batch64)" ]; then
		w=$(med spawn weft_batch64)
		row "spawn+join <= 200 ns a thread" "weft_batch64 $w ns" \
			"$(verdict "$w" 200)"
		for v in batch64 batch1 batch64_1c batch1_1c; do
			w=$(med spawn "weft_$v")
			g=$(med spawn "go_$v")
			r=$(ratio "$g" "$w")
			row ">= 3x cheaper than a goroutine, $v" \
				"weft $w ns, go ${g:-?} ns: ${r:-?}x" \
				"$(verdict "$r" 3 '>=')"
		done
	fi
	if [ -n "$(med sleepers weft_wall)" ]; then
		w=$(med sleepers weft_wall)
		g=$(med sleepers go_wall)
		r=$(ratio "$w" "$g")
		row "100,000 1-s sleepers in <= 0.7x Go's wall time" \
			"weft $w ms, go ${g:-?} ms: ${r:-?}x" \
			"$(verdict "$r" 0.7)"
		w=$(med sleepers weft_over_1s)
		g=$(med sleepers go_over_1s)
		r=$(ratio "$w" "$g")
		row "... counting only the time past the 1 s" \
			"weft $w ms, go ${g:-?} ms: ${r:-?}x" \
			"$(verdict "$r" 0.7)"
		w=$(med sleepers weft_peak_rss)
		g=$(med sleepers go_peak_rss)
		row "(peak RSS)" "weft $w MiB, go ${g:-?} MiB" "(reference)"
	fi
	if [ -n "$(med parked weft_rss_per_thread)" ]; then
		w=$(med parked weft_rss_per_thread)
		g=$(med parked go_rss_per_thread)
		row "1M parked threads at <= 8 KiB RSS each" \
			"weft $w KiB, go ${g:-?} KiB" "$(verdict "$w" 8)"
	fi
	if [ -n "$(med read weft_read)" ]; then
		w=$(med read weft_read)
		raw=$(med read raw_read)
		r=$(ratio "$w" "$raw")
		row "ready weft_read <= 1.5x raw read(2)" \
			"weft $w ns, read(2) $raw ns: ${r:-?}x" \
			"$(verdict "$r" 1.5)"
		u=$(med read uring_read)
		nw=$(med read preadv2_nowait)
		row "(floors)" "io_uring read $u ns ($(ratio "$u" "$raw")x)," \
			"NOP $(med read uring_nop) ns;" \
			"preadv2 RWF_NOWAIT $nw ns ($(ratio "$nw" "$raw")x)" \
			"(reference)"
		raw=$(med read raw_read_threads)
		row "(the same with a second kernel thread, as weft always has)" \
			"weft $w ns, read(2) ${raw:-?} ns: $(ratio "$w" "$raw")x;" \
			"preadv2 RWF_NOWAIT $(med read preadv2_nowait_threads) ns" \
			"(reference)"
	fi
	if [ -n "$(med group weft_cancel)" ]; then
		w=$(med group weft_cancel)
		g=$(med group go_cancel)
		row "cancel 10,000 threads blocked in a read: <= 2 us a thread" \
			"weft $w ns ($(med group weft_cancel_total) ms)," \
			"go ctx ${g:-?} ns ($(med group go_cancel_total) ms)," \
			"go pipe deadline $(med group go_cancel_pipe) ns" \
			"$(verdict "$w" 2000)"
		r=$(med group weft_group_ratio)
		row "spawn+join in a group <= 1.3x bare, batch64" \
			"weft $(med group weft_group_batch64) ns /" \
			"$(med group weft_bare_batch64) ns: ${r}x;" \
			"go $(med group go_group_batch64) ns /" \
			"$(med group go_bare_batch64) ns:" \
			"$(med group go_group_ratio)x" \
			"$(verdict "$r" 1.3)"
		w=$(med group weft_fanout64)
		g=$(med group go_fanout64)
		r=$(ratio "$w" "$g")
		row "100,000 tasks, max_concurrency 64: faster than Go" \
			"weft $w ms, go ${g:-?} ms: ${r:-?}x" \
			"$(verdict "$r" 1 '<=')"
	fi
	if [ -n "$(med echo epoll_1000_rps)" ]; then
		echo_targets
	fi
	if [ -n "$(med pipe cat_ratio)" ]; then
		pipe_targets
	fi
	if [ -n "$(med echo epoll_1000_rps)" ]; then
		echo
		echo_table
	fi
} >"$summary"
cat "$summary"

#!/bin/sh
# SPDX-License-Identifier: MIT
# bench/report.sh -i: the report of a results.jsonl of the echo shape and
# of the micro benchmarks' (made up here, never measured), without
# running anything: a table row for every figure, and plots that parse.
# usage: report.sh SRCDIR
src=$1
command -v gnuplot >/dev/null || { echo "no gnuplot: skipped"; exit 77; }
fail=0
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT

bad() {
	echo "FAIL: $*"
	fail=1
}

fig() { # bench metric value unit, three runs
	for k in 0.98 1 1.03; do
		printf '{"bench":"%s","metric":"%s","value":%s,"unit":"%s"}\n' \
			"$1" "$2" "$(awk -v v="$3" -v k=$k 'BEGIN { print v * k }')" "$4"
	done
}
{
	fig switch weft_yield 8.6 ns/switch
	fig switch go_chan 95 ns/switch
	fig spawn weft_batch64 149 ns/thread
	fig spawn go_batch64 154 ns/thread
	fig read raw_read 312 ns/op
	fig read weft_read 436 ns/op
	fig sleepers weft_wall 1089 ms
	fig unknown some_figure 7 x
	for s in threads_shim1 epoll go; do
		for c in 100 1000 10000; do
			fig echo ${s}_${c}_rps $((90000 - c)) req/s
			fig echo ${s}_${c}_p50_us $((c / 10 + 20)) us
			fig echo ${s}_${c}_p99_us $((c / 4 + 50)) us
			fig echo ${s}_${c}_rss_mib $((c / 8)) MiB
		done
	done
	echo "not a figure: run.sh keeps only the lines that start with {"
} >"$dir/results.jsonl"

bash "$src/bench/report.sh" -i "$dir/results.jsonl" -o "$dir" ||
	bad "report.sh failed"
for f in report.md micro.svg echo-throughput.svg echo-p99.svg; do
	[ -s "$dir/$f" ] || bad "no $f"
done
for f in micro echo-throughput echo-p99; do
	/usr/bin/python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' \
		"$dir/$f.svg" || bad "$f.svg is not XML"
done
grep -q '^| a switch | weft_yield | 8.60 | 8.43 | 8.86 | 3 | ns/switch | 1.00 |$' \
	"$dir/report.md" || bad "no weft_yield row: $(cat "$dir/report.md")"
grep -q '^|  | Go, channel ping-pong | 95.0 |' "$dir/report.md" ||
	bad "no go_chan row under it"
grep -q '^| other figures | some_figure | 7.00 |' "$dir/report.md" ||
	bad "a figure without peers is missing"
grep -q '^| epoll, one thread | 1000 | 89000 | 1.00 | 120 | 300 | 125 |' \
	"$dir/report.md" || bad "no echo row for epoll at 1000"
grep -q 'go_chan\|Go, channel' "$dir/micro.svg" || bad "micro.svg lacks go_chan"
# -i with benchmarks to run is a mistake.
bash "$src/bench/report.sh" -i "$dir/results.jsonl" -o "$dir" switch \
	2>/dev/null && bad "-i with a benchmark was taken"
exit $fail

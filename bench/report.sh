#!/bin/bash
# SPDX-License-Identifier: MIT
# The benchmark report: run the suite through bench/run.sh (or take the
# results.jsonl of an earlier run), then write a Markdown table of every
# figure with its peers and SVG plots with gnuplot: the echo comparison's
# throughput and p99 latency against connection count, and the micro
# benchmarks' cost per operation.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<EOF
usage: bench/report.sh [-i results.jsonl] [-o outdir] [-p]
                       [-B builddir] [-r repeats] [bench...]

  -i results.jsonl  make the report from this file of an earlier
                    bench/run.sh; run nothing
  -o outdir         where report.md and the plots go (default: bench/)
  -p                also write PNG copies of the plots, for a quick look
  -B builddir, -r repeats, bench...
                    passed on to bench/run.sh (see bench/run.sh -h), which
                    leaves its results in BUILDDIR/bench-results/

It writes OUTDIR/report.md, OUTDIR/echo-throughput.svg, OUTDIR/echo-p99.svg
(when the results hold echo figures) and OUTDIR/micro.svg.  Needs gnuplot
(Debian: apt-get install gnuplot-nox) and python3.
EOF
}

input=
out=$here
png=
run_args=()
build=$(dirname "$here")/build-bench

while getopts "i:o:pB:r:h" opt; do
	case $opt in
	i) input=$OPTARG ;;
	o) out=$OPTARG ;;
	p) png=1 ;;
	B) build=$OPTARG; run_args+=(-B "$OPTARG") ;;
	r) run_args+=(-r "$OPTARG") ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

for tool in gnuplot python3; do
	if ! command -v $tool >/dev/null; then
		echo "report.sh: $tool is missing (Debian: apt-get install" \
			"$([ $tool = gnuplot ] && echo gnuplot-nox || echo python3))" >&2
		exit 1
	fi
done
if [ -n "$input" ] && { [ ${#run_args[@]} -gt 0 ] || [ $# -gt 0 ]; }; then
	echo "report.sh: -i makes the report from a file: no -B, -r or" \
		"benchmarks with it" >&2
	exit 2
fi

if [ -z "$input" ]; then
	bash "$here/run.sh" "${run_args[@]}" "$@" >&2
	input=$(realpath -m "$build")/bench-results/results.jsonl
	machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
		/proc/cpuinfo | head -1), kernel $(uname -r)"
else
	machine=
fi
[ -s "$input" ] || { echo "report.sh: no figures in '$input'" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$input" "$out" "$tmp" "$machine" "${png:+png}" <<'PY'
import json
import os
import re
import statistics
import subprocess
import sys
import time

src, out, tmp, machine, png = sys.argv[1:6]

# ---- the figures: medians of every run ----
runs = {}
units = {}
order = []
for n, line in enumerate(open(src), 1):
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        f = json.loads(line)
        key = (f["bench"], f["metric"])
        v = float(f["value"])
    except (ValueError, KeyError, TypeError):
        sys.exit("report.sh: %s:%d is not a figure: %.80s" % (src, n, line))
    if key not in runs:
        runs[key] = []
        order.append(key)
    runs[key].append(v)
    units[key] = f.get("unit", "")
fig = {k: statistics.median(v) for k, v in runs.items()}


def num(v):
    a = abs(v)
    return "%.0f" % v if a >= 100 else "%.1f" % v if a >= 10 else "%.2f" % v


# The micro benchmarks' figures and their peers: (bench, figure, rows),
# each row (metric, who).  The first row is weft's, which the others are
# held against.
PEERS = [
    ("switch", "a switch", [
        ("weft_yield", "weft_yield"),
        ("bare_swap", "bare register swap"),
        ("bare_swap_asym", "bare swap, asymmetric"),
        ("go_chan", "Go, channel ping-pong"),
        ("go_gosched", "Go, Gosched"),
        ("pthread_condvar", "pthreads, condvar"),
        ("pthread_condvar_1cpu", "pthreads, condvar, 1 CPU")]),
    ("spawn", "spawn+join, batches of 64", [
        ("weft_batch64", "weft"), ("go_batch64", "Go"),
        ("pthread_batch64", "pthreads")]),
    ("spawn", "spawn+join, one at a time", [
        ("weft_batch1", "weft"), ("go_batch1", "Go"),
        ("pthread_batch1", "pthreads")]),
    ("spawn", "spawn+join, batches of 64, 1 carrier", [
        ("weft_batch64_1c", "weft"), ("go_batch64_1c", "Go")]),
    ("spawn", "spawn+join, one at a time, 1 carrier", [
        ("weft_batch1_1c", "weft"), ("go_batch1_1c", "Go")]),
    ("read", "a read of ready data", [
        ("weft_read", "weft_read"), ("raw_read", "read(2)"),
        ("preadv2_nowait", "preadv2 RWF_NOWAIT"),
        ("uring_read", "io_uring read"), ("uring_nop", "io_uring NOP")]),
    ("parked", "a parked thread's memory", [
        ("weft_rss_per_thread", "weft"), ("go_rss_per_thread", "Go")]),
    ("parked", "spawn a thread that parks", [
        ("weft_spawn_park", "weft"), ("go_spawn_park", "Go")]),
    ("parked", "release and join a parked thread", [
        ("weft_release_join", "weft"), ("go_release_join", "Go")]),
    ("sleepers", "100,000 1-s sleepers, wall time", [
        ("weft_wall", "weft"), ("go_wall", "Go")]),
    ("sleepers", "... past the second", [
        ("weft_over_1s", "weft"), ("go_over_1s", "Go")]),
    ("sleepers", "... spawning them", [
        ("weft_spawn_phase", "weft"), ("go_spawn_phase", "Go")]),
    ("sleepers", "... peak RSS", [
        ("weft_peak_rss", "weft"), ("go_peak_rss", "Go")]),
    ("group", "cancel a thread blocked in a read", [
        ("weft_cancel", "weft"), ("go_cancel", "Go, context"),
        ("go_cancel_pipe", "Go, pipe deadline")]),
    ("group", "cancel 10,000 of them", [
        ("weft_cancel_total", "weft"), ("go_cancel_total", "Go, context")]),
    ("group", "spawn+join in a group, batches of 64", [
        ("weft_group_batch64", "weft, group"),
        ("weft_bare_batch64", "weft, bare"),
        ("go_group_batch64", "Go, errgroup"),
        ("go_bare_batch64", "Go, WaitGroup")]),
    ("group", "group over bare spawn+join", [
        ("weft_group_ratio", "weft"), ("go_group_ratio", "Go")]),
    ("group", "spawn+join in a group, 1 carrier", [
        ("weft_group_batch64_1c", "weft, group"),
        ("weft_bare_batch64_1c", "weft, bare"),
        ("weft_group_ratio_1c", "weft, ratio")]),
    ("group", "100,000 tasks, max_concurrency 64", [
        ("weft_fanout64", "weft"), ("go_fanout64", "Go")]),
    ("pipe", "1 GiB through cat", [
        ("cat_shim_ms", "shim"), ("cat_native_ms", "native"),
        ("cat_ratio", "shim / native")]),
    ("pipe", "... cat's CPU time", [
        ("cat_shim_cpu_ms", "shim"), ("cat_native_cpu_ms", "native"),
        ("cat_cpu_ratio", "shim / native")]),
    ("pipe", "1 GiB out of dd", [
        ("dd_shim_ms", "shim"), ("dd_native_ms", "native"),
        ("dd_ratio", "shim / native")]),
    ("pipe", "... dd's CPU time", [
        ("dd_shim_cpu_ms", "shim"), ("dd_native_cpu_ms", "native"),
        ("dd_cpu_ratio", "shim / native")]),
    ("pipe", "bytes a plain dd loses under the shim", [
        ("dd_short_bytes", "shim")]),
]

# The echo comparison: SERVER_CONNS_WHAT.
ECHO = re.compile(r"^(.*)_(\d+)_(rps|p50_us|p99_us|rss_mib|kthreads|errors)$")
SERVERS = ["threads_shim1", "threads_shim2", "threads_native", "epoll", "go",
           "go1", "threads_shim1_4k", "threads_native_4k"]
SERVER_NAMES = {
    "threads_shim1": "thread a connection, shim, 1 carrier",
    "threads_shim2": "thread a connection, shim, 2 carriers",
    "threads_native": "thread a connection, native",
    "epoll": "epoll, one thread",
    "go": "Go, a goroutine a connection",
    "go1": "Go, GOMAXPROCS=1",
    "threads_shim1_4k": "the same, 4 KiB buffer, shim, 1 carrier",
    "threads_native_4k": "the same, 4 KiB buffer, native",
}
echo = {}  # server -> conns -> what -> value
for (b, m), v in fig.items():
    e = ECHO.match(m) if b == "echo" else None
    if e:
        echo.setdefault(e[1], {}).setdefault(int(e[2]), {})[e[3]] = v
servers = [s for s in SERVERS if s in echo] + sorted(set(echo) - set(SERVERS))

# The micro figures in ns, for the cost-per-operation chart.
bars = []
for b, name, rows in PEERS:
    vals = [(who, fig[(b, m)]) for m, who in rows
            if (b, m) in fig and units[(b, m)].startswith("ns/")]
    if vals:
        bars.append(("%s: %s" % (b, name), vals))

# ---- the Markdown ----
md = ["# Benchmark report", ""]
stamp = time.strftime("%Y-%m-%d %H:%M UTC",
                      time.gmtime(os.path.getmtime(src)))
md.append("From `%s` (%s), made by `bench/report.sh`; every figure is the "
          "median of its runs." % (src, stamp))
if machine:
    md.append("Machine: %s." % machine)
md.append("")
plots = []
if bars:
    plots.append("micro")
    md += ["![cost per operation](micro.svg)", ""]


def row(cells):
    md.append("| " + " | ".join(cells) + " |")


shown = set()
bench_names = []
for b, _ in order:
    if b not in bench_names:
        bench_names.append(b)
for b in bench_names:
    if b == "echo":
        continue
    groups = [p for p in PEERS if p[0] == b]
    seen = [(m, w) for _, _, rows in groups for m, w in rows
            if (b, m) in fig]
    rest = [m for bb, m in order if bb == b and
            m not in {m for m, _ in seen}]
    md += ["## %s" % b, ""]
    row(["figure", "who", "median", "min", "max", "runs", "unit",
         "x the first"])
    row(["---", "---", "---:", "---:", "---:", "---:", "---", "---:"])
    for _, name, rows in groups + [(b, "other figures",
                                    [(m, m) for m in rest])]:
        first = None
        for m, who in rows:
            k = (b, m)
            if k not in fig:
                continue
            v = fig[k]
            first = v if first is None else first
            ratio = "%.2f" % (v / first) if first else ""
            row([name, who, num(v), num(min(runs[k])), num(max(runs[k])),
                 str(len(runs[k])), units[k], ratio])
            shown.add(k)
            name = ""
    md.append("")

if echo:
    md += ["## echo", ""]
    plots += ["echo-throughput", "echo-p99"]
    md += ["![echo throughput](echo-throughput.svg)",
           "![echo p99 latency](echo-p99.svg)", ""]
    row(["server", "conns", "req/s", "x epoll", "p50 us", "p99 us",
         "peak RSS MiB", "kernel threads", "errors"])
    row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:",
         "---:"])
    conns_all = sorted({c for s in echo.values() for c in s})
    for c in conns_all:
        base = echo.get("epoll", {}).get(c, {}).get("rps")
        for s in servers:
            d = echo[s].get(c)
            if not d:
                continue

            def g(w):
                return num(d[w]) if w in d else ""
            ratio = ("%.2f" % (d["rps"] / base)
                     if base and "rps" in d else "")
            row([SERVER_NAMES.get(s, s), str(c), g("rps"), ratio,
                 g("p50_us"), g("p99_us"), g("rss_mib"), g("kthreads"),
                 g("errors") or "0"])
    for k in fig:
        if k[0] == "echo":
            shown.add(k)
    md.append("")

missing = [k for k in order if k not in shown]
assert not missing, missing  # every figure has a row

# ---- the plots ----
def q(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def gnuplot(name, script, height=540):
    terms = [("svg size 900,%d dynamic font 'Helvetica,12' "
              "background rgb 'white'" % height, "svg")]
    if png:
        terms.append(("pngcairo size 900,%d font 'Helvetica,10'" % height,
                      "png"))
    for term, ext in terms:
        path = os.path.join(out, name + "." + ext)
        gp = os.path.join(tmp, name + ".gp")
        with open(gp, "w") as f:
            f.write("set terminal %s noenhanced\nset output %s\n%s\n"
                    "set output\n" % (term, q(path), script))
        subprocess.run(["gnuplot", gp], check=True)


if echo:
    for what, name, title, ylabel, logy in [
            ("rps", "echo-throughput", "echo: requests a second",
             "requests/s", False),
            ("p99_us", "echo-p99", "echo: p99 latency", "p99 (us)", True)]:
        lines = []
        for i, s in enumerate(servers):
            pts = sorted((c, d[what]) for c, d in echo[s].items()
                         if what in d)
            if not pts:
                continue
            data = os.path.join(tmp, "%s-%d.dat" % (name, i))
            with open(data, "w") as f:
                for c, v in pts:
                    f.write("%d %g\n" % (c, v))
            lines.append("%s using 1:2 with linespoints lw 2 pt %d "
                         "title %s" % (q(data), 5 + i,
                                       q(SERVER_NAMES.get(s, s))))
        gnuplot(name, "\n".join([
            "set title %s" % q(title),
            "set xlabel 'connections'", "set ylabel %s" % q(ylabel),
            "set logscale x", "set logscale y" if logy else "set yrange [0:*]",
            "set xrange [%g:%g]" % (conns_all[0] / 1.5, conns_all[-1] * 1.5),
            "set grid", "set key outside right top",
            "set xtics (%s)" % ", ".join(
                "%s %d" % (q(str(c)), c) for c in conns_all),
            "plot " + ", \\\n     ".join(lines)]))

# Cost per operation: every micro figure in ns, a horizontal bar each,
# weft's first in each group and in blue, its peers in grey.
if bars:
    data = os.path.join(tmp, "micro.dat")
    y = 0
    ytics = []
    with open(data, "w") as f:
        for label, vals in bars:
            ytics.append((label, y))
            y += 1
            for i, (who, v) in enumerate(vals):
                f.write("%g %g %d\n" % (y, v, 1 if i == 0 else 2))
                ytics.append(("    %s  %s" % (who, num(v)), y))
                y += 1
            y += 0.5
    gnuplot("micro", "\n".join([
        "set title 'cost per operation, ns (log scale)'",
        "set logscale x", "set xrange [1:*]",
        "set yrange [%g:-1]" % y, "set grid x", "unset key",
        "set style fill solid 0.8 noborder", "set lmargin 42",
        "set ytics scale 0 font ',10' (%s)" % ", ".join(
            "%s %g" % (q(t), v) for t, v in ytics),
        "set palette defined (1 '#1f6fb4', 2 '#b0b0b0')",
        "unset colorbox", "set cbrange [1:2]",
        "plot %s using (1):1:(1):2:($1-0.4):($1+0.4):3 "
        "with boxxyerror lc palette" % q(data)]),
        height=int(80 + 17 * y))

with open(os.path.join(out, "report.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print("report.sh: wrote %s" % ", ".join(
    os.path.join(out, p) for p in ["report.md"] +
    [x + ".svg" for x in plots]), file=sys.stderr)
PY

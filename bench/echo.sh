#!/bin/bash
# SPDX-License-Identifier: MIT
# One run of the echo-server comparison: every server at every connection
# count, against the same load generator; JSON figures on stdout, the
# servers' and the load generator's messages on stderr.
set -euo pipefail

usage() {
	cat <<EOF
usage: bench/echo.sh [-B builddir] [-g go-server]

  -B builddir   meson build directory holding bench/bench_echo_* and
                shim/weft-run (default: SRCDIR/build-bench)
  -g go-server  the built bench/go/echo.go (default: BUILDDIR/bench/go/echo;
                the Go servers are skipped if it is missing)

Servers (ECHO_SERVERS, default all of them):
  threads_native  bench_echo_threads: a thread per connection, blocking I/O
  threads_shim1   the same binary under weft-run --carriers 1
  threads_shim2   the same binary under weft-run --carriers 2
  epoll           bench_echo_epoll: one thread, epoll
  go              bench/go/echo.go: a goroutine per connection
  go1             the same with GOMAXPROCS=1
  threads_native_4k, threads_shim1_4k
                  bench_echo_threads_4k, natively and under --carriers 1:
                  a 4 KiB read buffer on each thread's stack, not 1 KiB
ECHO_CONNS (default "100 1000 10000") are the connection counts; at each
count every server runs once, in the order above.  ECHO_WARMUP_MS,
ECHO_MEASURE_MS, ECHO_LOAD_THREADS and ECHO_CONNECT_BATCH go to the load
generator (bench/echo_load.c).
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=$(dirname "$here")/build-bench
gosrv=

while getopts "B:g:h" opt; do
	case $opt in
	B) build=$OPTARG ;;
	g) gosrv=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
build=$(realpath -m "$build")
gosrv=${gosrv:-$build/bench/go/echo}
conns=${ECHO_CONNS:-100 1000 10000}
servers=${ECHO_SERVERS:-threads_native threads_shim1 threads_shim2 epoll go go1 threads_native_4k threads_shim1_4k}
warmup=${ECHO_WARMUP_MS:-1000}
measure=${ECHO_MEASURE_MS:-3000}
export ECHO_WARMUP_MS=$warmup ECHO_MEASURE_MS=$measure

say() {
	echo "echo.sh: $*" >&2
}

# Client and server each hold one fd a connection.
max=0
for c in $conns; do
	[ "$c" -gt "$max" ] && max=$c
done
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((max + 100)) ]; then
	say "ulimit -n is $(ulimit -n), too few for $max connections"
	exit 1
fi
# A native thread a connection: a stack mapping and its guard each.
if [ "$(cat /proc/sys/kernel/threads-max)" -lt $((max + 1000)) ] ||
	[ "$(cat /proc/sys/vm/max_map_count)" -lt $((2 * max + 1000)) ] ||
	[ "$(cat /proc/sys/kernel/pid_max)" -lt $((max + 1000)) ]; then
	say "warning: kernel.threads-max, kernel.pid_max or vm.max_map_count" \
		"may be too low for $max threads"
fi

tmp=$(mktemp -d)
server=
# shellcheck disable=SC2317 # the EXIT trap calls it
cleanup() {
	if [ -n "$server" ]; then
		kill -KILL "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# Running, not a zombie waiting for us.
alive() {
	local st

	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

status=0
for c in $conns; do
	for s in $servers; do
		case $s in
		threads_native) cmd=("$build/bench/bench_echo_threads") ;;
		threads_shim1 | threads_shim2)
			cmd=("$build/shim/weft-run"
				--carriers "${s#threads_shim}"
				-- "$build/bench/bench_echo_threads") ;;
		threads_native_4k) cmd=("$build/bench/bench_echo_threads_4k") ;;
		threads_shim1_4k)
			cmd=("$build/shim/weft-run" --carriers 1
				-- "$build/bench/bench_echo_threads_4k") ;;
		epoll) cmd=("$build/bench/bench_echo_epoll") ;;
		go) cmd=(env -u GOMAXPROCS "$gosrv") ;;
		go1) cmd=(env GOMAXPROCS=1 "$gosrv") ;;
		*) say "no server '$s'"; exit 2 ;;
		esac
		if [ ! -x "${cmd[-1]}" ]; then
			say "$s: ${cmd[-1]} is missing, skipped"
			continue
		fi

		# The server prints its port; weft-run and env exec, so $! is
		# the server itself.
		: >"$tmp/port"
		"${cmd[@]}" >"$tmp/port" &
		server=$!
		port=
		for _ in $(seq 200); do
			port=$(head -1 "$tmp/port")
			[ -n "$port" ] && break
			alive "$server" || break
			sleep 0.05
		done
		if [ -z "$port" ]; then
			say "$s: the server did not start"
			status=1
		else
			say "$s, $c connections, port $port, pid $server"
			rc=0
			timeout -k 5 $(((warmup + measure) / 1000 + 90)) \
				"$build/bench/bench_echo_load" -p "$port" \
				-c "$c" -s "$server" -n "$s" || rc=$?
			if [ $rc -ne 0 ]; then
				say "$s, $c connections: the load generator" \
					"failed with status $rc"
				status=1
			fi
			if ! alive "$server"; then
				say "$s, $c connections: the server died"
				status=1
			fi
		fi
		kill -KILL "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
		server=
	done
done
exit $status

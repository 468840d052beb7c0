#!/bin/sh
# SPDX-License-Identifier: MIT
# The echo soak.  A blocking thread-per-connection echo server with no
# weft in it (bench/echo_threads.c) runs under weft-run while a separate
# load process (bench/echo_load.c) holds ECHO_SOAK_CONNS (5000) connections
# for ECHO_SOAK_SECONDS (60) in a closed loop of 64-byte echoes, checking
# every byte of every echo; no connection may fail or close.  Then the
# server's fds must come back to what they were, and its kernel threads
# must have stayed within the carriers' and their io-wq workers'.
# usage: echo_soak.sh WEFT-RUN SERVER LOAD
run=$1 server=$2 load=$3
conns=${ECHO_SOAK_CONNS:-5000}
secs=${ECHO_SOAK_SECONDS:-60}
carriers=2
# The carriers and as many extra ones as the monitor may start, each with
# its io-wq workers (2 + 2), the monitor, and the blocking pool's 4.
max_threads=$((2 * carriers * 5 + 1 + 4))

fail() {
	echo "echo-soak: FAILED: $*"
	exit 1
}

# Each side holds one fd a connection, in its own process.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
[ "$(ulimit -n)" -ge $((conns + 64)) ] ||
	fail "ulimit -n is $(ulimit -n), $conns connections need more"

dir=$(mktemp -d) || exit 1
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$dir"' EXIT

fds() {
	ls /proc/$1/fd 2>/dev/null | wc -l
}

"$run" --carriers $carriers -- "$server" >"$dir/port" 2>"$dir/server.err" &
pid=$!
for i in $(seq 100); do
	[ -s "$dir/port" ] && break
	sleep 0.1
done
port=$(cat "$dir/port")
[ -n "$port" ] || fail "the server printed no port: $(cat "$dir/server.err")"
fds0=$(fds $pid)

ECHO_WARMUP_MS=1000 ECHO_MEASURE_MS=$((secs * 1000)) ECHO_LOAD_THREADS=1 \
	timeout $((secs + 120)) "$load" -p "$port" -c "$conns" -s $pid \
	-n echo_soak >"$dir/json" 2>"$dir/load.err"
rc=$?
cat "$dir/load.err"
kill -0 $pid 2>/dev/null || fail "the server died: $(cat "$dir/server.err")"
[ $rc -eq 0 ] || fail "the load generator exited with $rc"
line=$(grep "connections (" "$dir/load.err")
open=$(echo "$line" | sed -n 's/.*(\([0-9]*\) open at the end).*/\1/p')
all=$(echo "$line" | sed -n 's/.*(\([0-9]*\) in all).*/\1/p')
threads=$(sed -n 's/.*"echo_soak_[0-9]*_kthreads","value":\([0-9]*\).*/\1/p' \
	"$dir/json")
[ "$open" = "$conns" ] || fail "$open of $conns connections open at the end"
[ -n "$all" ] && [ "$all" -gt 0 ] || fail "no echo came back"
[ -n "$threads" ] && [ "$threads" -le $max_threads ] ||
	fail "the server had $threads kernel threads, at most $max_threads expected"

# The load generator's exit reset every connection: the server closes them.
for i in $(seq 200); do
	[ "$(fds $pid)" -le "$fds0" ] && break
	sleep 0.1
done
fds1=$(fds $pid)
[ "$fds1" -eq "$fds0" ] || fail "the server holds $fds1 fds, $fds0 before"
kill -TERM $pid
wait $pid 2>/dev/null
pid=
echo "echo-soak: ok: $conns connections for $secs s, $all echoes," \
	"$((all * 64)) bytes each way checked, 0 errors; the server had at" \
	"most $threads kernel threads, $fds1 fds after, $fds0 before"

#!/bin/sh
# SPDX-License-Identifier: MIT
# Real Debian programs, run natively and under weft-run --carriers 2; the
# native run is the oracle: exit status, stdout, stderr and the files the run
# leaves in its working directory must be the same, and outputs are checked
# against the input (round trips byte for byte).
#   pigz, xz   -p 4 / -T4 compression and decompression, file and pipe input,
#              in place; the shim's output decompresses natively
#   python3    1,000 threading.Threads sleeping 0.5 s: under 2 s, and no more
#              than carriers + 4 kernel threads (/proc/PID/status); then
#              multiprocessing between forked processes
#   curl       against a local HTTP server: one GET, a keep-alive sequence,
#              --parallel, a POST, a name to resolve, a 404
#   sqlite3    a file database: a transaction of 5,000 rows and aggregates,
#              WAL mode, two writer processes at once (forked by sh)
#   zstd       -T4, as pigz and xz
#   pbzip2     -p4, as pigz; its terminator thread waits in sigwait
#   lbzip2     -n4, as pigz; its main waits in sigsuspend
#   rg         ripgrep -j4 (Rust's std: threads, channels, futexes, TLS)
#   git        clone, log, grep, fsck, gc of a local repository
#   make       make -j4 of 17 C files with gcc
#   memcached  4 worker threads (libevent), checked by memccapable
#   redis      redis-server (jemalloc's threads) under redis-benchmark,
#              a fork for BGSAVE
#   sshd       OpenSSH's server, its pre-auth child in a seccomp sandbox,
#              and ssh sessions with commands and 1 MB through them
#   postgres   PostgreSQL: initdb, the server and its forked backends (which
#              wait on process-shared semaphores in shared memory), psql and
#              pgbench, run as the postgres user
#   perl       %SIG handlers (alarm timeouts out of reads, SIGUSR1 from
#              children), forks and a pipe; Perl keeps its interpreter in TLS
#   bash       a script on fds 3 to 9 (exec 3<file...), a coprocess,
#              subshells, pipelines, background jobs and here-strings
#   java       javac, and Real.java on the JVM (libjvm.so is dlopened and
#              keeps its current thread in TLS): 2,000 threads asleep on
#              no more than carriers + 4 kernel threads, sockets, monitors,
#              the fork/join pool, the collector, a child process
# A missing program fails the test: .ci/run installs them.
# usage: real.sh WEFT-RUN pigz|xz|zstd|pbzip2|lbzip2|python3|curl|sqlite3|rg|git|make|
#        memcached|redis|sshd|postgres|perl|bash|java
set -eu
run=$1 prog=$2
case $run in
/*) ;;
*) run=$PWD/$run ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3 # Debian's, not whatever python3 is first on PATH
carriers=2
limit=120 # seconds for any one run of a program
size=4194304

dir=$(mktemp -d)
server=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || :
		wait "$server" 2>/dev/null || :
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

need() {
	for p; do
		command -v "$p" >/dev/null 2>&1 ||
			{ echo "FAIL: $p is not installed (.ci/run installs it)"; exit 1; }
	done
}

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }

# in_group DIR native|shim COMMAND...: run COMMAND in DIR, bounded in time,
# natively or under the shim; timeout leads a new process group
in_group() {
	cd "$1" || exit 1
	if [ "$2" = native ]; then
		shift 2
		exec timeout -k 5 $limit "$@"
	fi
	shift 2
	exec timeout -k 5 $limit "$run" --carriers $carriers -- "$@"
}

# leftovers TAG HOW PGID: nothing of a run may outlive it (a process stuck in
# the shim may ignore timeout's SIGTERM); kill what does
leftovers() {
	i=0
	while kill -0 -- "-$3" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 20 ]; then
			bad "$1: the $2 run left processes behind:"
			ps -eo pid,pgid,ppid,stat,time,args | awk -v g="$3" '$2 == g'
			kill -KILL -- "-$3" 2>/dev/null || :
			break
		fi
		sleep 0.1
	done
}

# both TAG INPUT COMMAND...: run COMMAND natively in $dir/TAG.native and under
# the shim in $dir/TAG.shim, stdin from INPUT (from a pipe if INPUT is
# "|FILE"), stdout and stderr to $dir/TAG.{native,shim}.{out,err}; the two
# runs must agree.  Files named in $seed are first copied into both
# directories; if $keepdir is set the directories may differ.
seed='' keepdir=''
both() {
	tag=$1 input=$2
	shift 2
	for how in native shim; do
		d=$dir/$tag.$how
		mkdir "$d"
		# shellcheck disable=SC2086
		[ -z "$seed" ] || cp -p $seed "$d"/
		t0=$(now)
		case $input in
		"|"*)
			# shellcheck disable=SC2002 # stdin must be a pipe
			cat "${input#|}" | in_group "$d" $how "$@" >"$d.out" 2>"$d.err" &
			;;
		*)
			in_group "$d" $how "$@" <"$input" >"$d.out" 2>"$d.err" &
			;;
		esac
		pid=$!
		wait "$pid" && st=0 || st=$?
		took=$(ms "$t0" "$(now)")
		eval "${how}_st=$st ${how}_ms=$took"
		leftovers "$tag" $how "$pid"
	done
	# shellcheck disable=SC2154
	echo "$tag: exit native $native_st, shim $shim_st;" \
		"$native_ms ms native, $shim_ms ms under the shim"
	ok=1
	if [ "$native_st" -ne "$shim_st" ]; then
		ok=
		bad "$tag: exit status $shim_st under the shim, $native_st natively"
	fi
	for f in out err; do
		if ! cmp -s "$dir/$tag.native.$f" "$dir/$tag.shim.$f"; then
			ok=
			bad "$tag: std$f differs"
			if [ "$(head -c 65536 "$dir/$tag.native.$f" | tr -d '\000' | wc -c)" -eq \
				"$(head -c 65536 "$dir/$tag.native.$f" | wc -c)" ]; then
				diff -u "$dir/$tag.native.$f" "$dir/$tag.shim.$f" | head -40
			else
				cmp "$dir/$tag.native.$f" "$dir/$tag.shim.$f" || :
				ls -l "$dir/$tag.native.$f" "$dir/$tag.shim.$f"
			fi
		fi
	done
	if [ -z "$keepdir" ] && ! diff -r "$dir/$tag.native" "$dir/$tag.shim"; then
		ok=
		bad "$tag: the files left behind differ"
	fi
	if [ -z "$ok" ]; then
		echo "$tag: stderr under the shim:"
		head -20 "$dir/$tag.shim.err"
	fi
	case $native_st in
	124 | 137) bad "$tag: timed out natively" ;;
	esac
	seed='' keepdir=''
}

# same FILE WANT WHAT: FILE must have the bytes of WANT
same() {
	cmp "$1" "$2" >/dev/null 2>&1 || bad "$3: not the bytes of $(basename "$2")"
}

# The compressors: $1 the program, $2 its threads option, $3 its extension,
# $4 options for compressing a pipe, then options for compression only.
# shellcheck disable=SC2086 # $opt is split on purpose
compressor() {
	c=$1 opt=$2 ext=$3 pipeopt=$4
	shift 4
	in=$dir/in
	$py "$here/real.py" data $size >"$in"

	both c "$in" $c $opt "$@" -c
	$c -dc <"$dir/c.shim.out" >"$dir/c.check" || bad "c: native $c -d failed"
	same "$dir/c.check" "$in" "the shim's compressed stdin, decompressed natively"

	both cpipe "|$in" $c $opt $pipeopt "$@"
	$c -dc <"$dir/cpipe.shim.out" >"$dir/cpipe.check" || bad "cpipe: native $c -d failed"
	same "$dir/cpipe.check" "$in" "the shim's compressed pipe, decompressed natively"

	both d "$dir/c.shim.out" $c $opt -dc
	same "$dir/d.native.out" "$in" "native decompression"
	same "$dir/d.shim.out" "$in" "decompression under the shim"

	seed=$in
	both inplace /dev/null $c $opt "$@" in
	[ ! -e "$dir/inplace.shim/in" ] || bad "inplace: in left behind"
	$c -dc <"$dir/inplace.shim/in.$ext" >"$dir/inplace.check" || bad "inplace: native $c -d failed"
	same "$dir/inplace.check" "$in" "the shim's compressed file, decompressed natively"

	seed=$dir/inplace.shim/in.$ext
	both unpack /dev/null $c $opt -d "in.$ext"
	same "$dir/unpack.shim/in" "$in" "decompression in place under the shim"
}

# bounded wait for a file to appear
await() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -le 300 ] || { echo "FAIL: $1 never appeared"; exit 1; }
		sleep 0.1
	done
}

case $prog in
pigz)
	need pigz
	# -n: no time in the header (from a pipe it would be the current one)
	compressor pigz "-p 4" gz -n
	;;
xz)
	need xz
	# 512 KiB blocks, so that four threads have blocks to work on
	compressor xz -T4 xz "" -3 --block-size=512KiB
	;;
python3)
	need $py
	bound=$((carriers + 4))
	both multiprocessing /dev/null $py "$here/real.py" multiprocessing
	keepdir=1 # the stats differ
	both threads /dev/null $py "$here/real.py" threads stats
	grep -q '^1000 of 1000 threads' "$dir/threads.native.out" ||
		bad "threads: native output: $(cat "$dir/threads.native.out")"
	echo "natively: $(tr '\n' ' ' <"$dir/threads.native/stats" 2>/dev/null)"

	# Then again, counting the kernel threads from outside as well.  The
	# thread bounds hold in every run; the time bound in the best of up to
	# three, as a machine busy with other work can stall any one run (the
	# native one too) for seconds: a slow shim is slow every time, and not
	# natively.
	best='' try=0 max='' name=threads
	stats=$dir/threads.shim/stats
	while :; do
		wall=$(sed -n 's/^wall //p' "$stats")
		peak=$(sed -n 's/^peak //p' "$stats")
		echo "$name under the shim: wall ${wall:-?} s, peak ${peak:-?} kernel threads" \
			"inside${max:+, $max outside}"
		[ "${peak:-999}" -le $bound ] ||
			bad "$name: ${peak:-?} kernel threads under the shim, want <= $bound"
		[ -z "$wall" ] || best=$(printf '%s\n' "$wall" "${best:-$wall}" | sort -n | head -1)
		try=$((try + 1))
		if [ $try -ge 3 ] || awk -v w="$best" 'BEGIN { exit !(w != "" && w < 2) }'; then
			[ $try -ge 2 ] && break
		fi

		d=$dir/outside$try
		mkdir "$d"
		in_group "$d" shim $py "$here/real.py" threads stats \
			</dev/null >"$d.out" 2>"$d.err" &
		tpid=$!
		pid='' max=0 n=0
		# until timeout is over (reaped by the shell, or the bound anyway)
		while kill -0 "$tpid" 2>/dev/null && [ $n -lt $((limit * 100 + 1000)) ]; do
			n=$((n + 1))
			# its child: weft-run, then python3 once weft-run has exec'ed
			if [ -z "$pid" ] && [ -r "/proc/$tpid/task/$tpid/children" ]; then
				read -r pid rest <"/proc/$tpid/task/$tpid/children" || :
			fi
			th='' state=''
			if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
				while read -r k v rest; do
					case $k in
					State:) state=$v ;;
					Threads:) th=$v ;;
					esac
				done <"/proc/$pid/status" || :
			fi
			if [ -n "$th" ] && [ "$state" != Z ] && [ "$th" -gt "$max" ]; then
				max=$th
			fi
			sleep 0.01
		done
		wait "$tpid" && st=0 || st=$?
		leftovers outside$try shim "$tpid"
		if [ "$st" -ne 0 ] || ! cmp -s "$dir/threads.native.out" "$d.out"; then
			bad "outside$try: exit $st, stdout: $(cat "$d.out")"
			cat "$d.err"
		fi
		[ "$max" -gt 0 ] || bad "outside$try: never saw the process"
		[ "$max" -le $bound ] || bad "outside$try: $max kernel threads under" \
			"the shim seen from outside, want <= $bound"
		stats=$d/stats name=outside$try
	done
	if ! awk -v w="$best" 'BEGIN { exit !(w != "" && w < 2) }'; then
		# Too slow three times: so slow natively too?  Then the machine, not
		# the shim, is what cannot meet the bound, and that is no failure.
		mkdir "$dir/again"
		(in_group "$dir/again" native $py "$here/real.py" threads stats) \
			</dev/null >/dev/null 2>&1 || :
		native=$(cat "$dir/threads.native/stats" "$dir/again/stats" 2>/dev/null |
			sed -n 's/^wall //p' | sort -n | head -1)
		echo "natively again: $(tr '\n' ' ' <"$dir/again/stats" 2>/dev/null)"
		if awk -v w="$native" 'BEGIN { exit !(w == "" || w < 2) }'; then
			bad "threads: took ${best:-?} s at best under the shim, want < 2 s" \
				"(natively ${native:-?} s)"
		else
			echo "WARNING: the time bound is not checked: the machine is too" \
				"busy, this takes $native s at best natively too"
		fi
	fi
	;;
curl)
	need curl $py
	mkdir "$dir/www"
	$py "$here/real.py" data $size >"$dir/www/big"
	echo hello >"$dir/www/small"
	$py "$here/real.py" serve "$dir/www" "$dir/port" 2>"$dir/server.err" &
	server=$!
	await "$dir/port"
	url=http://127.0.0.1:$(cat "$dir/port")
	big=$dir/www/big

	both get /dev/null curl -sS "$url/big"
	same "$dir/get.native.out" "$big" "get"

	both seq /dev/null curl -sS -o a "$url/small" -o b "$url/big" -o c "$url/small"
	same "$dir/seq.shim/b" "$big" "seq"

	# curl 7.88 draws its --parallel meter despite -s: --no-progress-meter
	both par /dev/null curl -sS --no-progress-meter --parallel --parallel-max 4 \
		-o 1 "$url/big" -o 2 "$url/big" -o 3 "$url/small" -o 4 "$url/big"
	same "$dir/par.shim/4" "$big" "par"

	both post /dev/null curl -sS --data-binary "@$big" "$url/"
	[ "$(cat "$dir/post.native.out")" = "$(sha256sum <"$big" | cut -d' ' -f1)" ] ||
		bad "post: the server did not get the body"

	# localhost goes through the resolver (a thread, in curl)
	both name /dev/null curl -sS -w '%{http_code} %{size_download}\n' -o page \
		"http://localhost:${url##*:}/small"

	both 404 /dev/null curl -sS --fail "$url/missing"
	[ "$native_st" -eq 22 ] || bad "404: native curl exit $native_st, want 22"
	;;
sqlite3)
	need sqlite3
	cat >"$dir/create.sql" <<-'EOF'
		CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
		BEGIN;
		WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 5000)
		INSERT INTO t(k, v) SELECT (i * 7919) % 97, printf('row-%05d-%s', i, hex(i * i)) FROM c;
		COMMIT;
		CREATE INDEX tk ON t(k);
		SELECT count(*), sum(k), min(v), max(v), sum(length(v)) FROM t;
		SELECT k, count(*), sum(id) FROM t GROUP BY k ORDER BY count(*) DESC, k LIMIT 5;
		PRAGMA integrity_check;
	EOF
	both create "$dir/create.sql" sqlite3 t.db
	grep -qx '5000|240042|.*' "$dir/create.native.out" ||
		bad "create: native output: $(head -1 "$dir/create.native.out")"

	# one transaction a statement, each with its fsyncs, in WAL mode
	cat >"$dir/wal.sql" <<-'EOF'
		PRAGMA journal_mode = WAL;
		UPDATE t SET k = k + 1 WHERE id % 10 = 0;
		DELETE FROM t WHERE id % 7 = 0;
		INSERT INTO t(k, v) SELECT k, v || '-again' FROM t WHERE id < 100;
		SELECT count(*), sum(k), max(id) FROM t;
		PRAGMA integrity_check;
	EOF
	seed=$dir/create.shim/t.db
	both wal "$dir/wal.sql" sqlite3 t.db

	# two writer processes at once, each 100 transactions; ids interleave
	# differently from run to run, so only what does not depend on the order
	# is printed, and the database files are not compared
	for w in 1 2; do
		{
			echo ".timeout 30000"
			echo "PRAGMA synchronous = NORMAL;"
			i=1
			while [ $i -le 100 ]; do
				echo "INSERT INTO t(k, v) VALUES ($w, 'writer-$w-$i');"
				i=$((i + 1))
			done
		} >"$dir/writer$w.sql"
	done
	seed=$dir/wal.shim/t.db keepdir=1
	both writers /dev/null sh -c "
		sqlite3 t.db <'$dir/writer1.sql' & w1=\$!
		sqlite3 t.db <'$dir/writer2.sql' || exit 1
		wait \$w1 || exit 1
		sqlite3 t.db \"SELECT k, count(*), count(DISTINCT v) FROM t
			WHERE v LIKE 'writer-%' GROUP BY k; PRAGMA integrity_check;\""
	grep -qx '2|100|100' "$dir/writers.native.out" ||
		bad "writers: native output: $(cat "$dir/writers.native.out")"
	;;
zstd)
	need zstd
	compressor zstd -T4 zst "" -q --rm
	;;
pbzip2)
	need pbzip2
	compressor pbzip2 -p4 bz2 ""
	;;
lbzip2)
	need lbzip2
	compressor lbzip2 -n4 bz2 ""
	;;
rg)
	# ripgrep: Rust's std threads, channels and futexes, a thread-local
	# per thread; the walk's order varies with -j4 unless sorted
	need rg
	mkdir "$dir/corpus"
	cp -r "$here/../../lib" "$here/../../shim" "$here" "$dir/corpus/"
	both search /dev/null rg -j4 --sort path -n 'weft__[a-z]+_wait' "$dir/corpus"
	both count /dev/null rg -j4 --sort path -c static "$dir/corpus"
	both parallel /dev/null sh -c "rg -j4 -n -i 'futex|carrier' '$dir/corpus' | sort"
	both none /dev/null rg -j4 'no[ ]such[ ]text' "$dir/corpus"
	[ "$native_st" -eq 1 ] || bad "none: native rg exit $native_st, want 1"
	;;
git)
	need git
	export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org \
		GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org \
		GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
		GIT_COMMITTER_DATE='2026-01-01T00:00:00Z'
	git init -q "$dir/repo"
	cp -r "$here/../../lib" "$here/../../shim" "$dir/repo/"
	git -C "$dir/repo" add -A
	git -C "$dir/repo" commit -qm first
	for i in 1 2 3; do
		echo "/* change $i */" >>"$dir/repo/lib/sys.c"
		git -C "$dir/repo" commit -qam "change $i"
	done
	keepdir=1 # the clones' indexes hold inode numbers
	both clone /dev/null sh -c "git clone -q '$dir/repo' c &&
		git -C c log --format='%H %s' && git -C c grep -c weft__ -- lib &&
		git -C c fsck --no-progress && git -C c gc -q &&
		git -C c log -p --stat | sha256sum"
	;;
make)
	need make gcc
	mkdir "$dir/proj"
	for i in $(seq 1 16); do
		printf '#include <stdio.h>\nint f%d(void) { return %d; }\n' $i $i \
			>"$dir/proj/f$i.c"
	done
	printf 'int main(void) { return 0; }\n' >"$dir/proj/main.c"
	printf '%s\n' 'OBJS = $(patsubst %.c,%.o,$(wildcard *.c))' \
		'prog: $(OBJS)' '	gcc -o $@ $^' \
		'%.o: %.c' '	gcc -O2 -c $< -o $@' >"$dir/proj/Makefile"
	both make /dev/null sh -c "cp -r '$dir/proj' p && make -s -j4 -C p &&
		./p/prog && ls p"
	;;
memcached)
	# a memcached with 4 worker threads and its protocol checker, both
	# under the shim in the shim's run
	need memcached memccapable memcstat
	port=$((20000 + $$ % 20000))
	both memcached /dev/null sh -c "
		memcached -l 127.0.0.1 -p $port -t 4 -U 0 -u root & m=\$!
		i=0
		until memcstat --servers=127.0.0.1:$port >/dev/null 2>&1; do
			i=\$((i + 1)); [ \$i -lt 100 ] || exit 9; sleep 0.1
		done
		memccapable -h 127.0.0.1 -p $port | tail -1
		kill \$m; wait \$m"
	;;
sshd)
	# sshd, its children and the ssh clients all under the shim in the
	# shim's run; keys made once, for both runs
	need /usr/sbin/sshd ssh ssh-keygen
	port=$((20000 + ($$ + 7) % 20000))
	k=$dir/ssh
	mkdir -p "$k" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$k/host" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$k/user" </dev/null
	cp "$k/user.pub" "$k/authorized_keys"
	cat >"$k/config" <<-EOF
		Port $port
		ListenAddress 127.0.0.1
		HostKey $k/host
		PidFile none
		AuthorizedKeysFile $k/authorized_keys
		StrictModes no
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
	EOF
	both sshd /dev/null sh -c "
		/usr/sbin/sshd -D -e -f $k/config 2>>$k/log & s=\$!
		c='ssh -F /dev/null -i $k/user -o IdentitiesOnly=yes -o BatchMode=yes
			-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
			-o LogLevel=ERROR -p $port root@127.0.0.1'
		i=0
		until \$c true 2>/dev/null; do
			i=\$((i + 1)); [ \$i -lt 100 ] || exit 9; sleep 0.1
		done
		for n in 1 2 3; do \$c \"echo session \$n\"; done
		\$c 'echo \$((6 * 7)) from \$(basename \$SHELL)'
		head -c 1000000 /dev/zero | \$c 'wc -c'
		kill \$s; wait \$s; echo sshd: \$?"
	sed 's/^/  /' "$dir/sshd.shim.out"
	;;
postgres)
	# everything under the shim in the shim's run, as the postgres user
	# (runuser keeps the environment, and so the shim); each run its own
	# cluster, named after the run's directory
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1)
	need "$bin/postgres" "$bin/initdb" "$bin/pgbench" runuser
	port=$((20000 + ($$ + 11) % 20000))
	k=$dir/pg
	mkdir "$k"
	chown postgres "$k"
	chmod 755 "$dir"
	q="$bin/psql -X -q -At -h $k -p $port -d postgres"
	both postgres /dev/null runuser -u postgres -- sh -c "
		data=$k/\$(basename \$PWD)
		$bin/initdb -D \$data -A trust --locale=C -E UTF8 \
			>/dev/null 2>>$k/log || exit 8
		$bin/postgres -D \$data -p $port -k $k -c listen_addresses= \
			2>>$k/log & s=\$!
		i=0
		until $q -c 'select 1' >/dev/null 2>&1; do
			i=\$((i + 1))
			[ \$i -lt 300 ] || { tail -5 $k/log; exit 9; }
			sleep 0.1
		done
		$q -c 'create table t (i int)' \
			-c 'insert into t select generate_series(1, 100000)' \
			-c 'select count(*), sum(i) from t'
		$bin/pgbench -h $k -p $port -i -s 2 -q postgres >/dev/null 2>&1
		$bin/pgbench -h $k -p $port -c 8 -j 2 -t 200 postgres 2>>$k/log |
			grep -E 'processed|failed'
		$q -c 'select count(*) from pgbench_history'
		kill \$s; wait \$s; echo postgres: \$?"
	sed 's/^/  /' "$dir/postgres.shim.out"
	;;
redis)
	need redis-server redis-cli redis-benchmark
	port=$((20000 + $$ % 20000))
	keepdir=1 # the dump holds a timestamp
	both redis /dev/null sh -c "
		redis-server --port $port --bind 127.0.0.1 --dir . --save '' \
			--daemonize no >log 2>&1 & r=\$!
		i=0
		until redis-cli -p $port ping >/dev/null 2>&1; do
			i=\$((i + 1)); [ \$i -lt 100 ] || exit 9; sleep 0.1
		done
		redis-benchmark -p $port -q -n 5000 -c 20 -t set,get,incr,lpush |
			tr '\\r' '\\n' | grep -c 'requests per second'
		redis-cli -p $port set a 1 && redis-cli -p $port incrby a 41 &&
		redis-cli -p $port bgsave >/dev/null && sleep 1 && ls dump.rdb &&
		redis-cli -p $port shutdown nosave; wait \$r"
	;;
java)
	# javac, then the JVM with Real.java's platform threads: 2,000 asleep
	# at once on no more than carriers + 4 kernel threads, a thread per
	# connection echo server, a bounded queue, monitors, the fork/join
	# pool, the collector, a child process
	need java javac
	seed=$here/Real.java
	both javac /dev/null javac -d . Real.java
	[ -s "$dir/javac.shim/Real.class" ] || bad "javac: no Real.class"
	keepdir=1 # the kernel threads each run saw
	both java /dev/null java -cp "$dir/javac.native" Real threads
	bound=$((carriers + 4))
	seen=$(cat "$dir/java.shim/threads" 2>/dev/null || echo none)
	echo "java: 2,000 sleeping threads on $seen kernel threads under" \
		"the shim, $(cat "$dir/java.native/threads") natively"
	case $seen in
	'' | *[!0-9]*) bad "java: no count of kernel threads" ;;
	*) [ "$seen" -le $bound ] || bad "java: $seen kernel threads, more than $bound" ;;
	esac
	;;
perl)
	need perl
	both perl /dev/null perl "$here/real.pl"
	sed 's/^/  /' "$dir/perl.shim.out"
	;;
bash)
	# shellcheck disable=SC2016 # the script's expansions are bash's
	printf '%s\n' \
		'exec 3<"$1" 4>out.txt 5<&0 6>&1 7>/dev/null 8<>rw.txt 9<"$1"' \
		'read -r first <&3; echo "first: $first"' \
		'echo written >&4; exec 4>&-; cat out.txt' \
		'n=0; while read -r -u 9 line; do n=$((n + 1)); done' \
		'echo "lines: $n"; exec 3<&- 9<&-' \
		'echo rw >&8; exec 8>&-; cat rw.txt; echo quiet >&7' \
		'coproc { while read -r l; do echo "got $l"; done; }' \
		'echo one >&"${COPROC[1]}"; read -r r <&"${COPROC[0]}"; echo "$r"' \
		'exec {COPROC[1]}>&-; wait' \
		'(sleep 0.1; echo sub) | cat; echo "$(echo subst)"' \
		'for i in 1 2 3; do sleep 0.05 & done; wait; echo waited' \
		'cat <<<herestring; seq 1 2000 | while read -r x; do :; done' \
		'echo "x: $x"; echo to6 >&6' >"$dir/script.bash"
	both bash /dev/null bash "$dir/script.bash" "$here/real.sh"
	grep -q '^got one$' "$dir/bash.native.out" || bad "bash: no coprocess"
	;;
*)
	echo "usage: real.sh WEFT-RUN pigz|xz|zstd|python3|curl|sqlite3|rg|git|make|memcached|redis|sshd|postgres|perl|bash|java" >&2
	exit 2
	;;
esac

[ $fail -eq 0 ] && echo "$prog: ok"
exit $fail

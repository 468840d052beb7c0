#!/bin/sh
# SPDX-License-Identifier: MIT
# meson install into a DESTDIR, then use that tree as a user would: build
# a program with pkg-config (shared and --static) and run it, and run a
# blocking pthread program under the installed weft-run.
# usage: install.sh MESON BUILD-DIR SRC-DIR CC VERSION PREFIX BINDIR LIBDIR
#        INCLUDEDIR MANDIR   (the directories absolute, as meson has them)
meson=$1 build=$2 src=$3 cc=$4 version=$5 prefix=$6 bindir=$7 libdir=$8
includedir=$9 mandir=${10}
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
"$meson" install -C "$build" --destdir "$dest" --no-rebuild --quiet ||
	{ echo "FAIL: meson install"; exit 1; }
lib=$dest$libdir bin=$dest$bindir

for f in "$lib/libweft.so" "$lib/libweft.so.0" "$lib/libweft.so.$version" \
	"$lib/libweft.a" "$lib/pkgconfig/weft.pc" "$lib/libweft-preload.so" \
	"$dest$includedir/weft.h" "$bin/weft-run" \
	"$dest$mandir/man7/weft.7" "$dest$mandir/man1/weft-run.1" \
	"$dest$mandir/man3/weft_main.3"; do
	[ -e "$f" ] || bad "not installed: ${f#$dest}"
done
[ -x "$bin/weft-run" ] || bad "weft-run is not executable"
readelf -d "$lib/libweft.so.$version" | grep -q 'SONAME.*\[libweft\.so\.0\]' ||
	bad "the soname of libweft.so.$version is not libweft.so.0"

# pkg-config, pointed into the DESTDIR.
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
v=$(pkg-config --modversion weft) || bad "pkg-config does not find weft"
[ "$v" = "$version" ] || bad "pkg-config says version '$v', not $version"
flags=$(pkg-config --cflags --libs weft) || bad "pkg-config --cflags --libs"
static=$(pkg-config --static --cflags --libs weft) || bad "pkg-config --static"
echo "pkg-config --cflags --libs weft: $flags"
echo "pkg-config --static --cflags --libs weft: $static"

want="weft $version (header $version): 10 threads, sum of squares 285, 2 carriers"
# shellcheck disable=SC2086 # the flags are words
if "$cc" -Wall -Wextra -Werror -o "$tmp/api" "$src/test/install/api.c" \
	$flags; then
	readelf -d "$tmp/api" | grep -q 'NEEDED.*\[libweft\.so\.0\]' ||
		bad "the program does not need libweft.so.0"
	out=$(LD_LIBRARY_PATH="$lib" WEFT_CARRIERS=2 "$tmp/api" --where)
	[ $? -eq 0 ] || bad "the program failed: $out"
	where=$(printf '%s\n' "$out" | head -n 1)
	got=$(printf '%s\n' "$out" | tail -n 1)
	[ "$(realpath "$where")" = "$(realpath "$lib/libweft.so.$version")" ] ||
		bad "the program ran with $where, not the installed library"
	[ "$got" = "$want" ] || bad "the program printed '$got', not '$want'"
	echo "shared: $got"
else
	bad "cannot build against the installed tree with $flags"
fi
# shellcheck disable=SC2086
if "$cc" -static -o "$tmp/api-static" "$src/test/install/api.c" $static; then
	readelf -d "$tmp/api-static" 2>/dev/null | grep -q NEEDED &&
		bad "the --static program is not static"
	got=$(WEFT_CARRIERS=2 "$tmp/api-static")
	[ "$got" = "$want" ] || bad "the static program printed '$got'"
	echo "static: $got"
else
	bad "cannot link statically with $static"
fi

# weft-run from the DESTDIR finds the DESTDIR's preload library: through
# a symlink too, as /proc/self/exe has it resolved.
preload=$(realpath "$lib/libweft-preload.so")
mkdir "$tmp/link"
ln -s "$bin/weft-run" "$tmp/link/weft-run"
for run in "$bin/weft-run" "$tmp/link/weft-run"; do
	got=$("$run" -- printenv LD_PRELOAD)
	[ "$got" = "$preload" ] ||
		bad "$run set LD_PRELOAD to '$got', not $preload"
done
"$bin/weft-run" --help | grep -q '^usage: weft-run' || bad "weft-run --help"

# A blocking pthread program: natively a kernel thread per thread, under
# the installed weft-run at most the carriers and io_uring's few workers.
n=64
"$cc" -o "$tmp/blocking" "$src/test/install/blocking.c" -pthread ||
	{ echo "FAIL: cannot build blocking.c"; exit 1; }
native=$("$tmp/blocking" $n) || bad "blocking failed natively"
shim=$("$bin/weft-run" --carriers 2 -- "$tmp/blocking" $n) ||
	bad "blocking failed under weft-run"
echo "native: $native" | tr '\n' ' '
echo
echo "weft-run: $shim" | tr '\n' ' '
echo
[ "$(echo "$native" | head -n 1)" = "$n threads read $n bytes" ] ||
	bad "native output: $native"
[ "$(echo "$shim" | head -n 1)" = "$n threads read $n bytes" ] ||
	bad "output under weft-run: $shim"
k_native=$(echo "$native" | sed -n 's/^kernel threads while blocked: //p')
k_shim=$(echo "$shim" | sed -n 's/^kernel threads while blocked: //p')
[ "${k_native:-0}" -gt $n ] ||
	bad "natively $n blocked threads made ${k_native:-no} kernel threads"
[ -n "$k_shim" ] && [ "$k_shim" -le 6 ] ||
	bad "under weft-run $n blocked threads made ${k_shim:-no} kernel threads"

# Without its preload library the DESTDIR's weft-run says so, unless weft
# is installed for real, where it falls back on that copy.
mv "$lib/libweft-preload.so" "$tmp/away.so"
err=$("$bin/weft-run" -- true 2>&1)
st=$?
if [ -e "$libdir/libweft-preload.so" ]; then
	got=$("$bin/weft-run" -- printenv LD_PRELOAD)
	[ "$got" = "$libdir/libweft-preload.so" ] ||
		bad "weft-run fell back on '$got', not $libdir/libweft-preload.so"
elif [ $st -ne 2 ] || ! echo "$err" | grep -q 'cannot find libweft-preload.so'; then
	bad "weft-run without its library: exit $st, '$err'"
fi
exit $fail

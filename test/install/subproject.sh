#!/bin/sh
# SPDX-License-Identifier: MIT
# weft as a meson subproject: a project with subprojects/weft (a link to
# this source tree) gets weft from dependency('weft') and runs with it.
# usage: subproject.sh MESON SRC-DIR VERSION
meson=$1 src=$2 version=$3

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/proj/subprojects"
ln -s "$src" "$tmp/proj/subprojects/weft"
cp "$src/test/install/api.c" "$tmp/proj/user.c"
cat >"$tmp/proj/meson.build" <<'MESON'
project('user', 'c')
executable('user', 'user.c', dependencies: dependency('weft', version: '>=0.1'))
MESON

# --force-fallback-for: the subproject even if weft is installed.
if ! "$meson" setup "$tmp/build" "$tmp/proj" --wrap-mode=nodownload \
	--force-fallback-for=weft >"$tmp/setup.log" 2>&1; then
	cat "$tmp/setup.log"
	echo "FAIL: meson setup of a project with weft as a subproject"
	exit 1
fi
grep 'Dependency weft' "$tmp/setup.log"
if ! "$meson" compile -C "$tmp/build" user >"$tmp/build.log" 2>&1; then
	tail -30 "$tmp/build.log"
	echo "FAIL: building the project"
	exit 1
fi
got=$(WEFT_CARRIERS=2 "$tmp/build/user")
want="weft $version (header $version): 10 threads, sum of squares 285, 2 carriers"
echo "$got"
if [ "$got" != "$want" ]; then
	echo "FAIL: want '$want'"
	exit 1
fi

#!/bin/sh
# SPDX-License-Identifier: MIT
# The installed man pages: every WEFT_API function and public macro of
# weft.h has a page (a file or a .so link whose page names it), every
# page renders without a groff warning, weft(7) documents every WEFT_*
# variable the code reads, and weft-run(1) every option of weft-run.
# usage: man.sh MESON BUILD-DIR SRC-DIR VERSION BINDIR MANDIR
meson=$1 build=$2 src=$3 version=$4 bindir=$5 mandir=$6
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
command -v groff >/dev/null ||
	{ echo "FAIL: no groff (apt-get install groff-base)"; exit 1; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
"$meson" install -C "$build" --destdir "$tmp/dest" --no-rebuild --quiet ||
	{ echo "FAIL: meson install"; exit 1; }
man=$tmp/dest$mandir
cd "$man" || exit 1

# The names: WEFT_API declarations, and function-like macros that are
# not internal (weft__*, WEFT__*).
header=$src/include/weft.h
names=$({
	sed -n 's/^WEFT_API[^(]*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' \
		"$header"
	sed -n 's/^#define \([A-Za-z][A-Za-z0-9_]*\)(.*/\1/p' "$header" |
		grep -v '__'
} | sort -u)
count=$(echo "$names" | wc -w)
for must in weft_main weft_mutex_lock weft_thread_interrupt weft_group \
	weft_locked WEFT_MUTEX_OF weft__hold; do
	echo "$names" | grep -qx "$must" || bad "weft.h parsed wrong: no $must"
done
echo "weft.h: $count public names"

# The text of the NAME section of page $1.
name_section() {
	sed -n '/^\.SH NAME/,/^\.SH /p' "$1" | sed '1d;$d'
}

for n in $names; do
	page=man3/$n.3
	if [ ! -f "$page" ]; then
		bad "$n has no man page ($page)"
		continue
	fi
	target=$(sed -n '1s/^\.so //p' "$page")
	if [ -n "$target" ]; then
		[ "$(wc -l <"$page")" -eq 1 ] || bad "$page: a .so link of more than one line"
		[ -f "$target" ] || { bad "$page links to a missing $target"; continue; }
		page=$target
	fi
	name_section "$page" | tr -c 'A-Za-z0-9_\n' ' ' | tr ' ' '\n' |
		grep -qx "$n" || bad "$page does not name $n in its NAME section"
done

pages=$(ls man1/*.1 man3/*.3 man7/*.7)
for p in $pages; do
	if grep -q '@[A-Z_]*@' "$p"; then
		bad "$p: a configure token is left: $(grep -o '@[A-Z_]*@' "$p" | head -n 1)"
	fi
	# From the top of the tree, where .so links are relative to.
	err=$(groff -man -Tutf8 -ww -z "$p" 2>&1)
	[ -z "$err" ] || bad "$p: $err"
	head -n 5 "$p" | grep -q "^\.TH .* \"weft $version\"" ||
		[ -n "$(sed -n '1s/^\.so //p' "$p")" ] || bad "$p: .TH does not say weft $version"
done
echo "$(echo "$pages" | wc -w) pages rendered"

# Every WEFT_* variable the code reads, in weft(7)'s ENVIRONMENT.
env=$(sed -n '/^\.SH ENVIRONMENT/,/^\.SH /p' man7/weft.7)
vars=$(cat "$src"/lib/*.c "$src"/shim/*.c |
	grep -o -e 'env_uint("WEFT_[A-Z0-9_]*"' -e 'getenv("WEFT_[A-Z0-9_]*"' |
	sed 's/.*"\(WEFT_[A-Z0-9_]*\)"/\1/' | sort -u)
[ -n "$vars" ] || bad "found no WEFT_* variable in the code"
for v in $vars; do
	echo "$env" | grep -q "^\.B $v\$" || bad "weft(7) ENVIRONMENT lacks $v"
done
echo "variables: " $vars

# Every option weft-run --help lists, in weft-run(1)'s OPTIONS.
opts=$("$tmp/dest$bindir/weft-run" --help | grep -o -e '--[a-z][a-z-]*' | sort -u)
[ -n "$opts" ] || bad "weft-run --help lists no option"
optsec=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' man1/weft-run.1 | sed 's/\\-/-/g')
for o in $opts; do
	echo "$optsec" | grep -q -- "$o" || bad "weft-run(1) OPTIONS lacks $o"
done
echo "weft-run options: " $opts
exit $fail

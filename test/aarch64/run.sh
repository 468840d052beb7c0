#!/bin/sh
# SPDX-License-Identifier: MIT
# Cross-compile ctx_test.c with the aarch64 context switch and run it under
# qemu-user.  Usage: run.sh SOURCE_ROOT OUTPUT_DIR.  Exits 77 (skipped) when
# the cross toolchain or qemu is missing.
set -eu

src=$1
out=$2
cc=${AARCH64_CC:-aarch64-linux-gnu-gcc}
exe=$out/ctx_test_aarch64

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "skip: no $cc (install gcc-aarch64-linux-gnu)"
	exit 77
fi

# On an aarch64 host the program runs as it is; elsewhere it needs qemu.
run=
if [ "$(uname -m)" != aarch64 ]; then
	for q in qemu-aarch64-static qemu-aarch64; do
		if command -v "$q" >/dev/null 2>&1; then
			run=$q
			break
		fi
	done
	if [ -z "$run" ]; then
		echo "skip: no qemu-aarch64 (install qemu-user)"
		exit 77
	fi
fi

# A compiler without its C library is a missing toolchain, not a failure.
mkdir -p "$out"
if ! echo 'int main(void) { return 0; }' |
	"$cc" -static -x c - -o "$exe" 2>/dev/null; then
	echo "skip: $cc cannot link static programs" \
		"(install libc6-dev-arm64-cross)"
	exit 77
fi

"$cc" -std=gnu11 -O2 -static -frounding-math \
	-Wall -Wextra -Werror -Wno-unused-parameter \
	-I "$src/lib" \
	-o "$exe" "$src/test/aarch64/ctx_test.c" \
	"$src/lib/ctx.c" "$src/lib/ctx_aarch64.S" -lm

exec $run "$exe"

#!/bin/sh
# SPDX-License-Identifier: MIT
# Build a Rust program with rustc -O and compare it natively and under the
# shim (compare.sh), on one carrier and on two; skip (77) without rustc.
# usage: rust.sh COMPARE WEFT-RUN PRELOAD SOURCE.rs
compare=$1 run=$2 preload=$3 src=$4
command -v rustc >/dev/null 2>&1 || { echo "no rustc: skipped"; exit 77; }
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
rustc -O --edition 2021 -o "$dir/prog" "$src" || exit 1
for carriers in 1 2; do
	echo "== $carriers carrier(s)"
	"$compare" --carriers $carriers "$run" "$preload" "$dir/prog" || exit 1
done

// SPDX-License-Identifier: MIT
// The Go peers of the benchmarks: standard library only.
module weftbench

go 1.19

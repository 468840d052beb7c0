#!/bin/sh
# SPDX-License-Identifier: MIT
# The shim's demo with 1000 connections on 2 carriers: it must end with
# status 0, no failures, and at most 2 carriers + 6 kernel threads.
# usage: demo.sh WEFT-RUN SHIM_DEMO
run=$1 demo=$2
bound=8

out=$("$run" --carriers 2 -- "$demo" 1000 20 2>&1)
status=$?
printf '%s\n' "$out"
threads=$(printf '%s\n' "$out" | sed -n 's/.*peak kernel threads: \([0-9]*\).*/\1/p')
fail=0
if [ $status -ne 0 ]; then
	echo "FAIL: exit status $status"
	fail=1
fi
if ! printf '%s\n' "$out" | grep -q ', 0 failures$'; then
	echo "FAIL: no '0 failures' line"
	fail=1
fi
if [ -z "$threads" ] || [ "$threads" -gt $bound ]; then
	echo "FAIL: peak kernel threads '$threads', bound $bound"
	fail=1
else
	echo "peak kernel threads $threads, bound $bound"
fi
exit $fail

#!/bin/sh
# Runs every benchmark program; each writes $BUILD/bench/NAME.json and
# prints its rows. Usage: run-bench.sh BUILD_DIR BENCH_BINARY...
set -u
build=$1
shift
export PARAPET_BENCH_DIR="$build/bench"
export PARAPET_BUILD="$build"
mkdir -p "$PARAPET_BENCH_DIR"
rc=0
for b in "$@"; do
	echo "== bench $(basename "$b")"
	"$b" || { echo "bench $(basename "$b") failed" >&2; rc=1; }
done
[ $# -eq 0 ] && echo "no benchmarks built"
exit $rc

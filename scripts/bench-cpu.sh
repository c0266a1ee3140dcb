#!/bin/sh
# Builds tptt-run and the naive baseline, then runs the CPU benchmark
# (bench/run_cpu.py; record the figures in bench/RESULTS.md).
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-run tptt-bench-naive
/usr/bin/python3 "$TPTT_ROOT/bench/run_cpu.py" --build "$TPTT_BUILD" "$@"

#!/bin/sh
# Builds tptt and runs the GPU benchmark (bench/run_gpu.py; needs an NVIDIA
# GPU; record the figures in bench/RESULTS.md).
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-run tptt-compile
/usr/bin/python3 "$TPTT_ROOT/bench/run_gpu.py" --build "$TPTT_BUILD" "$@"

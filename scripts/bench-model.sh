#!/bin/sh
# Builds tptt-compile, then times a compiled model against the same model in
# PyTorch eager (bench/run_model.py; record the figures in bench/RESULTS.md).
set -eu
TPTT_EXTRA_PACKAGES="python3-torch time"
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-compile
/usr/bin/python3 "$TPTT_ROOT/bench/run_model.py" --build "$TPTT_BUILD" "$@"

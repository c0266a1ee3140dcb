#!/bin/sh
# Builds tptt-compile, then times the compiled LoRA training step against the
# same model and adapters in PyTorch eager (bench/run_train.py; record the
# figures in bench/RESULTS.md).
set -eu
TPTT_EXTRA_PACKAGES="python3-torch"
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-compile
/usr/bin/python3 "$TPTT_ROOT/bench/run_train.py" --build "$TPTT_BUILD" "$@"

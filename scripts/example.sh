#!/bin/sh
# The main job on the bundled example: builds the tools, shows the example
# LiZA layer (examples/liza_layer.mlir) decomposed into its parts, then
# compiles it for the CPU and runs it on deterministic inputs.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-opt tptt-run
echo "tptt: examples/liza_layer.mlir after tptt-decompose-liza-attention:"
"$TPTT_BUILD/bin/tptt-opt" "$TPTT_ROOT/examples/liza_layer.mlir" \
  --tptt-decompose-liza-attention --canonicalize --cse
echo "tptt: compiling it for the CPU and running it (2 sequences of 12 tokens):"
/usr/bin/python3 "$TPTT_ROOT/examples/liza_layer_inputs.py" \
  "$TPTT_BUILD/example-inputs.safetensors"
"$TPTT_BUILD/bin/tptt-run" "$TPTT_ROOT/examples/liza_layer.mlir" \
  --inputs "$TPTT_BUILD/example-inputs.safetensors"

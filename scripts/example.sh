#!/bin/sh
# The main job on the bundled example: builds tptt-opt and lowers the example
# LiZA layer (examples/liza_layer.mlir) from the composite op to its parts.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-opt
echo "tptt: examples/liza_layer.mlir after tptt-decompose-liza-attention:"
"$TPTT_BUILD/bin/tptt-opt" "$TPTT_ROOT/examples/liza_layer.mlir" \
  --tptt-decompose-liza-attention --canonicalize --cse

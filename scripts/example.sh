#!/bin/sh
# The main job on the bundled example model: builds tptt-compile, compiles
# examples/tiny-llama (a Llama-family TPTT model directory: config.json with
# a `tptt` section, BF16 safetensors weights, tokenizer.json) into one
# self-contained executable, shows what it is, and generates from a prompt.
# The example's weights are seeded random (examples/make_tiny_llama.py), so
# its text is noise; the pipeline is the real one.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-compile
model="$TPTT_ROOT/examples/tiny-llama"
exe="$TPTT_BUILD/examples/tiny-llama"
mkdir -p "$TPTT_BUILD/examples"
echo "tptt: tptt-compile $model -o $exe"
"$TPTT_BUILD/bin/tptt-compile" "$model" -o "$exe"
"$exe" info
echo "tptt: $exe generate --prompt 'Once upon a time' --max-new-tokens 48"
"$exe" generate --prompt "Once upon a time" --max-new-tokens 48 --seed 0

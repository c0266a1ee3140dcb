#!/bin/sh
# Reproduces examples/tiny-llama: pre-trains the small Llama base model
# (examples/make_tiny_llama.py init: LiZA on no layer) on Moby-Dick
# (scripts/fetch-text.sh) with the compiled full training step
# (`tptt-compile --train=full`, `EXE train`), then injects LiZA on every
# layer into the trained weights (make_tiny_llama.py inject). About ten
# minutes on two cores; the run directory (metrics.csv, loss.png,
# checkpoints) stays in $TPTT_BUILD/pretrain.
set -eu
. "$(dirname "$0")/../scripts/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-compile
data=$("$TPTT_ROOT/scripts/fetch-text.sh")
work="$TPTT_BUILD/pretrain"
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 "$TPTT_ROOT/examples/make_tiny_llama.py" init "$work/base"
"$TPTT_BUILD/bin/tptt-compile" "$work/base" --train=full -o "$work/base-train"
"$work/base-train" train --data "$data/moby-dick-train.jsonl" \
  --eval-data "$data/moby-dick-eval.jsonl" --epochs 3 --batch 16 --seq-len 128 \
  --lr 3e-3 --warmup 50 --schedule cosine --weight-decay 0.01 \
  --eval-every 100 --save "$work/run" --seed 2026
/usr/bin/python3 "$TPTT_ROOT/examples/make_tiny_llama.py" inject \
  "$work/run/best" "$TPTT_ROOT/examples/tiny-llama"

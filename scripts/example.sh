#!/bin/sh
# The main job on the bundled example: examples/tiny-llama is a small Llama
# pre-trained on Moby-Dick with tptt's own compiled training step
# (examples/pretrain-tiny-llama.sh), with LiZA injected on every layer. This
# compiles it with its LoRA training step, fine-tunes the adapters on the
# text with the gradual Memory-as-Gate schedule (μ 0.01 → 0.5, as the seeds
# recommend), merges the trained adapter into a fresh executable and
# generates from a prompt.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" tptt-compile
data=$("$TPTT_ROOT/scripts/fetch-text.sh")
model="$TPTT_ROOT/examples/tiny-llama"
work="$TPTT_BUILD/example"
rm -rf "$work"
mkdir -p "$work"

echo "tptt: tptt-compile $model --train=lora -o $work/tiny-llama-train"
"$TPTT_BUILD/bin/tptt-compile" "$model" --train=lora -o "$work/tiny-llama-train"
"$work/tiny-llama-train" info
echo "tptt: LoRA fine-tuning with the gradual MaG schedule"
"$work/tiny-llama-train" train --data "$data/moby-dick-train.jsonl" \
  --eval-data "$data/moby-dick-eval.jsonl" --steps 40 --batch 8 --seq-len 128 \
  --lr 2e-3 --warmup 4 --mag-schedule gradual:0.01:0.5:30 --eval-every 20 \
  --save "$work/run"

echo "tptt: tptt-compile $model --adapter $work/run/checkpoint -o $work/tiny-llama"
"$TPTT_BUILD/bin/tptt-compile" "$model" --adapter "$work/run/checkpoint" \
  -o "$work/tiny-llama"
echo "tptt: $work/tiny-llama generate --prompt 'Call me Ishmael. Some years ago' --max-new-tokens 160"
"$work/tiny-llama" generate --prompt "Call me Ishmael. Some years ago" \
  --max-new-tokens 160 --temperature 0.7 --top-k 40 --seed 0

#!/bin/sh
# The runtime under AddressSanitizer and UndefinedBehaviorSanitizer, leaks
# included: builds test/sanitize with clang into BUILD_DIR/sanitize, runs the
# runtime's unit tests there, then compiles a tiny LiZA model with its LoRA
# training step with BUILD_DIR's tptt-compile, links the same object with the
# sanitized runtime, and checks that its logits, a sampled generation, a
# batched one and a saved then resumed training run are those of the
# executable tptt-compile links. Any sanitizer report fails the run.
# Usage: scripts/sanitize.sh [BUILD_DIR [CLANGXX]] (default: build/, and
# clang++-22 else clang++, which needs libclang-rt-dev); BUILD_DIR's
# tptt-compile must be built. ctest runs it as the `sanitizers` test.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
cxx=${2:-$(command -v clang++-22 || command -v clang++ || true)}
if [ -z "$cxx" ]; then
  echo "sanitize: no clang++ found (apt-get install clang libclang-rt-dev)" >&2
  exit 1
fi
llvm=/usr/lib/llvm-22
san=$build/sanitize
# Configured on every run: another compiler rebuilds everything.
cmake -G Ninja -S "$root/test/sanitize" -B "$san" -DCMAKE_CXX_COMPILER="$cxx" \
  > /dev/null
ninja -C "$san"

export ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:\
check_initialization_order=1:strict_init_order=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_SYMBOLIZER_PATH=$llvm/bin/llvm-symbolizer

# The huge-header test's time bound does not hold at ASan's speed.
"$san/tptt-runtime-unittests" \
  --gtest_filter=-SafetensorsTest.HugeHeadersParseInLinearithmicTime

work=$san/model
rm -rf "$work"
mkdir -p "$work"
PYTHONPATH=$root/python /usr/bin/python3 \
  "$root/test/tptt-compile/Inputs/make_train_model.py" "$work"
"$build/bin/tptt-compile" "$work/model" --train=lora --external-weights \
  -o "$work/plain"
# The object tptt-compile makes for this machine (-O3, the host's CPU), linked
# as lib/Target/EmitExecutable.cpp links it, with the sanitized archives.
"$build/bin/tptt-compile" "$work/model" --train=lora --emit=llvm-ir \
  -o "$work/model.ll"
"$llvm/bin/llc" -O3 -mcpu=native -relocation-model=pic -filetype=obj \
  "$work/model.ll" -o "$work/model.o"
runtime=$san/runtime
"$cxx" -fsanitize=address,undefined -o "$work/sanitized" "$work/model.o" \
  "$runtime/libTpttLauncher.a" "$runtime/libTpttModelRunner.a" \
  "$san/interface/libTpttInterface.a" "$runtime/libTpttRuntime.a" "$runtime/libTpttHostAbi.a" -lpcre2-8 -lpng16 \
  -L"$llvm/lib" -Wl,-rpath,"$llvm/lib" -lomp -lm -lpthread -ldl

weights=$work/plain.weights.safetensors
# Two prompts of different lengths: one left-padded batch.
printf 'the whale\nthe ship sails after the whale and\n' > "$work/prompts.txt"
# train EXE FLAGS...: a few steps on the model's text.
train() {
  exe=$1
  shift
  "$exe" train --data "$work/train.txt" --eval-data "$work/eval.jsonl" \
    --batch 2 --seq-len 16 --eval-every 2 --schedule constant \
    --weights "$weights" "$@"
}
for name in plain sanitized; do
  out=$work/$name.out
  mkdir -p "$out"
  "$work/$name" logits --prompt "the whale swims in the sea" \
    --weights "$weights" --out "$out/logits.safetensors"
  "$work/$name" generate --prompt "the whale" --max-new-tokens 12 --top-k 8 \
    --seed 3 --weights "$weights" --logits-out "$out/generate.safetensors" \
    > "$out/generate.txt"
  "$work/$name" generate --prompts "$work/prompts.txt" --max-new-tokens 6 \
    --weights "$weights" > "$out/batch.txt"
  train "$work/$name" --steps 2 --save "$out/run"
  train "$work/$name" --steps 4 --resume "$out/run"
done
for file in logits.safetensors generate.safetensors generate.txt batch.txt \
  run/checkpoint/adapter_model.safetensors \
  run/checkpoint/optimizer.safetensors; do
  cmp "$work/plain.out/$file" "$work/sanitized.out/$file"
done
echo "sanitize: no reports; the sanitized executable computes what tptt-compile's does"

#!/bin/sh
# Builds the device kit: a folder of at most 48 MiB that runs the CUDA
# target's checks and benchmarks on a bare GPU machine (NVIDIA driver, CUDA
# toolkit and python3 with numpy and torch; no LLVM/MLIR, no registry).
#
#   ./scripts/gpu-kit.sh OUT_DIR       # here, after ./scripts/test.sh
#   sh OUT_DIR/run.sh REPORT_DIR       # there (docs/gpu-kit.md)
#
# It compiles ahead of time, with --target cuda: every golden case of both
# semantics in f32 and f64 (module libraries with their inputs and expected
# outputs), every golden model, random Qwen3, Gemma 3 and Phi-3 models (f32
# and bf16 weights, and the recurrent semantics; with its config.json and
# model.safetensors, for transformers' own model on the device),
# examples/tiny-llama with its LoRA training step,
# the operator and LiZA linear-branch benchmark modules, and a 1B-shaped
# Llama with external weights (the executable alone: run.py writes random
# weights there); these go into payload.tar.xz (the libraries' PTX and the
# executables' shared runtime compress 20-fold), which run.py unpacks on the
# device. Beside it: tptt-run-module with the shared libraries a bare
# machine lacks (lib/), the anchors (fla, tptt 0.12.1) and the kit's driver
# (scripts/gpu-kit/). No binary of the kit links libMLIR or libLLVM. The
# tools come from $TPTT_BUILD (default build/); about 30 minutes on two
# cores.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${TPTT_BUILD:-$root/build}
shared=$root/../shared
source=$root/scripts/gpu-kit
budget_mib=48

say() { echo "gpu-kit: $*" >&2; }
fail() {
  echo "gpu-kit: error: $*" >&2
  exit 1
}

[ $# -eq 1 ] || fail "usage: ./scripts/gpu-kit.sh OUT_DIR"
out=$1

for tool in tptt-compile tptt-run tptt-run-module; do
  [ -x "$build/bin/$tool" ] || fail "$build/bin/$tool is not built; run ./scripts/test.sh (or ninja -C $build) first"
done
"$build/bin/tptt-compile" --help 2>&1 | grep -q "MODULE.mlir" ||
  fail "$build/bin/tptt-compile cannot compile modules (MODULE.mlir); rebuild it: ninja -C $build"
for dir in "$shared/goldens/recurrent" "$shared/goldens/tptt-0.12" "$shared/goldens/models" "$shared/anchors"; do
  [ -d "$dir" ] || fail "$dir is missing (the kit carries the shared goldens and anchors)"
done

if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
  [ -f "$out/kit.json" ] || fail "$out exists and is not a kit; give a new or empty directory"
  rm -rf "$out"
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Marks the folder as a kit, so that a later run may replace it; rewritten at
# the end.
echo '{"status": "incomplete"}' > "$out/kit.json"
payload=$out/payload
log=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$log" "$scratch"' EXIT

say "the driver (run.sh, run.py, anchors.py, hf_logits.py, tptt_safetensors.py) and tptt-run-module"
cp "$source/run.sh" "$source/run.py" "$source/anchors.py" "$source/hf_logits.py" "$out/"
cp "$root/python/tptt/safetensors.py" "$out/tptt_safetensors.py"
chmod +x "$out/run.sh"
mkdir -p "$out/bin" "$out/lib" "$payload"
cp "$build/bin/tptt-run-module" "$out/bin/"

for semantics in recurrent tptt-0.12; do
  for precision in f32 f64; do
    say "golden cases: $semantics $precision (tptt-run --goldens --aot --target cuda; minutes)"
    "$build/bin/tptt-run" --goldens "$shared/goldens/$semantics" --dtype "$precision" \
      --aot --aot-dir "$payload/goldens/$semantics-$precision" --compile-only --target cuda > "$log" 2>&1 ||
      fail "tptt-run --goldens $shared/goldens/$semantics --dtype $precision --aot --compile-only --target cuda failed: $(tail -n 3 "$log")"
  done
done

compile() { # INPUT OUTPUT FLAGS...: tptt-compile INPUT --target cuda FLAGS -o OUTPUT
  input=$1
  output=$2
  shift 2
  flags="--target cuda${1:+ $*}"
  say "tptt-compile $(basename "$input") $flags -o ${output#"$payload"/}"
  "$build/bin/tptt-compile" "$input" --target cuda "$@" -o "$output" 2> "$log" ||
    fail "tptt-compile $input $flags -o $output failed: $(tail -n 3 "$log")"
}
# Besides the golden models, random-weight ones of the backbones those lack
# (Qwen3, Gemma 3, Phi-3), with their expected logits from python/tptt/reference_model.py.
PYTHONPATH=$root/python /usr/bin/python3 "$source/random_models.py" "$scratch/models" ||
  fail "scripts/gpu-kit/random_models.py failed"
for model_dir in "$shared"/goldens/models/*/ "$scratch"/models/*/; do
  model_dir=${model_dir%/}
  models=$payload/models/$(basename "$model_dir")
  mkdir -p "$models"
  cp "$model_dir/tokens.json" "$model_dir/expected.safetensors" "$model_dir/config.json" \
    "$model_dir/model.safetensors" "$models/"
  compile "$model_dir" "$models/model-f32" --weight-type f32
  compile "$model_dir" "$models/model-bf16" --weight-type bf16
  compile "$model_dir" "$models/model-recurrent-f32" --weight-type f32 --semantics recurrent
done

mkdir -p "$payload/train"
compile "$root/examples/tiny-llama" "$payload/train/tiny-llama-train" --train=lora
# The text of the main job (scripts/fetch-text.sh) when it was fetched here,
# else the project's own documentation: the check compares the GPU's losses
# with the CPU's on the same text, whichever it is.
text=${TPTT_DATA_DIR:-$HOME/.cache/tptt/data}/moby-dick-train.jsonl
if [ -f "$text" ]; then
  say "training text: the first 40 chapters of $text"
  head -n 40 "$text" > "$payload/train/text.jsonl"
else
  say "training text: no $text (scripts/fetch-text.sh); the project's README.md and docs/*.md"
  cat "$root/README.md" "$root"/docs/*.md > "$payload/train/text.txt"
fi

say "benchmark modules: the recurrent operator at B=8, H=16, S=4096, d=128, chunk 64; the LiZA linear branch at B=1, S=4096, hidden 2048"
/usr/bin/python3 "$source/bench_modules.py" "$payload/bench"
for module in "$payload"/bench/*.mlir; do
  compile "$module" "${module%.mlir}.so"
done

# The 1B-shaped Llama: a model directory whose weights are a sparse file (a
# header and a hole), compiled with --external-weights; the executable
# travels without its weights file (3 GB of zeros): run.py writes random
# weights in the executable's layout on the device. About 3 minutes and
# 10 GB of memory.
say "the 1B-shaped Llama (sparse weights; a few minutes)"
/usr/bin/python3 "$source/llama1b.py" "$scratch/llama1b"
mkdir -p "$payload/llama1b"
compile "$scratch/llama1b" "$payload/llama1b/llama1b" --external-weights
rm -f "$payload/llama1b/llama1b.weights.safetensors"
rm -rf "$scratch/llama1b"
"$payload/llama1b/llama1b" info > "$log" 2>&1 ||
  fail "$payload/llama1b/llama1b info failed: $(tail -n 3 "$log")"

say "anchors: fla-src.tar.gz, tptt-0.12.1-py3-none-any.whl"
mkdir -p "$out/anchors"
cp "$shared/anchors/fla-src.tar.gz" "$shared/anchors/tptt-0.12.1-py3-none-any.whl" "$out/anchors/"

# The shared libraries that ldd resolves for the kit's ELF files go to lib/,
# except the C and C++ runtimes (the GPU machine's python3 needs its own) and
# the driver; none may be MLIR's or LLVM's.
elf_files() { # DIR: the ELF files under DIR, one a line
  find "$1" -type f -exec sh -c \
    'for f; do [ "$(head -c 4 "$f" | od -An -c | tr -d " ")" = "177ELF" ] && echo "$f"; done; true' sh {} +
}
elf_files "$out" | while IFS= read -r binary; do
  ldd "$binary" | awk '/=> \// { print $1, $3 }'
done | sort -u | while read -r soname path; do
  case $soname in
    libMLIR* | libLLVM*) fail "a kit binary links $soname ($path); the kit must not need MLIR or LLVM" ;;
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | ld-linux* | \
      libstdc++.so.* | libgcc_s.so.* | libcuda.so.*) ;;
    *) cp -L "$path" "$out/lib/$soname" ;;
  esac
done
for required in libomp.so.5 libpcre2-8.so.0; do
  [ -f "$out/lib/$required" ] || fail "no kit binary needs $required (ldd); the executables and module libraries should"
done
elf_files "$out" | while IFS= read -r binary; do
  if LD_LIBRARY_PATH="$out/lib" ldd "$binary" | grep -E "libMLIR|libLLVM|not found" >&2; then
    fail "$binary links MLIR or LLVM, or misses a library (above)"
  fi
done

say "composition before packing (bytes):"
(cd "$out" && du -sb bin lib anchors payload/goldens/* payload/models payload/train payload/bench payload/llama1b) |
  sed 's/^/gpu-kit:   /' >&2
say "packing payload/ into payload.tar.xz (xz -9e; a minute or two)"
tar -C "$out" -cf - payload | xz -9e -T1 > "$out/payload.tar.xz"
rm -rf "$payload"

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
changed=$(git -C "$root" status --porcelain 2>/dev/null | wc -l)
printf '{"built": "%s", "commit": "%s", "changed_files": %s, "chip": "sm_90"}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$changed" > "$out/kit.json"

bytes=$(du -sb "$out" | cut -f1)
say "payload.tar.xz: $(du -sb "$out/payload.tar.xz" | cut -f1) bytes"
say "total: $bytes bytes ($(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MiB; budget $budget_mib MiB)"
[ "$bytes" -le $((budget_mib * 1048576)) ] ||
  fail "the kit is over $budget_mib MiB; see the composition above"
echo "$out"

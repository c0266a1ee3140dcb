#!/bin/sh
# Runs the tptt device kit on this GPU machine and writes REPORT_DIR/report.md
# and REPORT_DIR/report.json (docs/gpu-kit.md): the golden cases, models
# (also against transformers' own) and LoRA training steps on the GPU against
# their references, compute-sanitizer, the operator, LiZA linear-branch and
# 1B-Llama benchmarks and the anchors (fla, tptt 0.12.1) side by side, in at
# most 8 minutes. Without a GPU it exits at once with one line.
#
#   sh KIT/run.sh REPORT_DIR
set -eu

kit=$(cd "$(dirname "$0")" && pwd)
no_gpu() {
  echo "run.sh: no NVIDIA GPU on this machine ($1); the kit runs only on a GPU machine" >&2
  exit 1
}

if [ $# -ne 1 ]; then
  echo "run.sh: usage: sh run.sh REPORT_DIR" >&2
  exit 2
fi
command -v nvidia-smi > /dev/null 2>&1 || no_gpu "no nvidia-smi"
nvidia-smi -L 2> /dev/null | grep -q "^GPU " || no_gpu "nvidia-smi found no device"
if ! command -v python3 > /dev/null 2>&1; then
  echo "run.sh: no python3 on this machine; the kit needs python3 with numpy" >&2
  exit 1
fi
python3 -c 'import ctypes; ctypes.CDLL("libcuda.so.1")' 2> /dev/null ||
  no_gpu "the driver's libcuda.so.1 does not load"

mkdir -p "$1"
LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PYTHONUNBUFFERED=1
export LD_LIBRARY_PATH PYTHONUNBUFFERED
# run.py keeps to 460 s and rewrites the report after every step; the
# timeout only stops a hang past that.
exec timeout -k 5 475 python3 "$kit/run.py" --kit "$kit" --out "$1"

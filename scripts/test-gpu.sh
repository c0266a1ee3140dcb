#!/bin/sh
# The GPU test suite (needs an NVIDIA GPU and driver): every golden case of
# both semantics through the CUDA kernels in f64 (1e-10) and f32 (1e-5),
# and the lit tests, whose CUDA ones then also compare a compiled model's
# logits on the GPU with the CPU's.
set -eu
. "$(dirname "$0")/bootstrap.sh"
if ! nvidia-smi -L > /dev/null 2>&1; then
  echo "tptt: no NVIDIA GPU here (nvidia-smi failed); the GPU tests need one" >&2
  exit 1
fi
ninja -C "$TPTT_BUILD" tptt-run tptt-compile tptt-opt
status=0
for semantics in tptt-0.12 recurrent; do
  for dtype in f64 f32; do
    echo "tptt: goldens $semantics $dtype on the GPU"
    log="$TPTT_BUILD/goldens-$semantics-$dtype-cuda.log"
    if ! "$TPTT_BUILD/bin/tptt-run" --goldens "$TPTT_ROOT/../shared/goldens/$semantics" \
      --dtype "$dtype" --target cuda > "$log"; then
      status=1
      grep FAIL "$log" || true
    fi
    tail -1 "$log"
  done
done
ninja -C "$TPTT_BUILD" check-tptt-lit || status=1
exit $status

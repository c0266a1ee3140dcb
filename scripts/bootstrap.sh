#!/bin/sh
# Installs what tptt needs on Debian 12 (only the packages that are missing,
# and says which), then configures the build directory once. Sourced by
# scripts/example.sh and scripts/test.sh; re-runs reuse build/ and are fast.
set -eu

TPTT_ROOT=$(cd "$(dirname "$0")/.." && pwd)
TPTT_BUILD=${TPTT_BUILD:-$TPTT_ROOT/build}

# LLVM/MLIR 22 from Debian (and its OpenMP runtime for the parallel loops),
# the build tools, GoogleTest, clang-format 22 for the format check,
# Debian's numpy/pytest for the Python reference, and clang with its
# libFuzzer and sanitizer runtimes for the parser fuzzers and the sanitizer
# build (scripts/sanitize.sh), libpng for the loss curve, and
# strace for the test that kills a training run at each rename and fsync.
# Callers may add packages in TPTT_EXTRA_PACKAGES (the benchmarks add
# PyTorch).
TPTT_PACKAGES="cmake ninja-build g++ git llvm-22-dev libmlir-22-dev mlir-22-tools
llvm-22-tools libomp-22-dev clang-format-22 nlohmann-json3-dev libgtest-dev
python3-numpy python3-pytest python3-jsonschema clang libclang-rt-14-dev libpcre2-dev
libpng-dev strace ${TPTT_EXTRA_PACKAGES:-}"

missing=""
for pkg in $TPTT_PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $pkg"
  fi
done
if [ -n "$missing" ]; then
  echo "tptt: installing missing Debian packages:$missing"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

if [ ! -f "$TPTT_BUILD/build.ninja" ]; then
  echo "tptt: configuring $TPTT_BUILD"
  cmake -G Ninja -S "$TPTT_ROOT" -B "$TPTT_BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit
fi

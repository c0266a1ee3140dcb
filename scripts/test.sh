#!/bin/sh
# Builds tptt and runs every test: lit (FileCheck), the GoogleTest unit tests,
# the generated-docs and clang-format checks, the Python tests, and every
# golden case through tptt-run in f64 and f32.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" check-tptt

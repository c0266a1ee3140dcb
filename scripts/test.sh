#!/bin/sh
# Builds tptt and runs every test: lit (FileCheck), the GoogleTest unit tests,
# the generated-docs and clang-format checks, and the Python reference tests.
set -eu
. "$(dirname "$0")/bootstrap.sh"
ninja -C "$TPTT_BUILD" check-tptt

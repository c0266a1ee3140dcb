#!/bin/sh
# Formats every C++ source of tptt in place with the repository's .clang-format.
set -eu
cd "$(dirname "$0")/.."
format=$(command -v clang-format-22 || echo /usr/lib/llvm-22/bin/clang-format)
git ls-files '*.cpp' '*.h' '*.c' | xargs "$format" --style=file -i

#!/bin/sh
# Fails (and shows the diff) when a C++ source of tptt is not clang-format
# clean under the repository's .clang-format (LLVM style).
set -eu
cd "$(dirname "$0")/.."
format=$(command -v clang-format-22 || command -v /usr/lib/llvm-22/bin/clang-format || true)
if [ -z "$format" ]; then
  echo "check-format: clang-format-22 not found (apt-get install clang-format-22)" >&2
  exit 1
fi
files=$(git ls-files '*.cpp' '*.h' '*.c' 2>/dev/null || find include lib tools unittests -name '*.cpp' -o -name '*.h')
status=0
for f in $files; do
  if ! "$format" --style=file "$f" | diff -u "$f" - ; then
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  echo "check-format: run scripts/format.sh to fix the files above" >&2
fi
exit "$status"

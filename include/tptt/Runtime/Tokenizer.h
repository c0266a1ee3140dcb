//===- Tokenizer.h - Hugging Face tokenizer.json BPE tokenizers -*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Encodes and decodes text with the BPE tokenizers of Hugging Face
// `tokenizer.json` files: byte-level BPE (GPT-2, Llama 3, Qwen2, Mistral
// Nemo) and SentencePiece-style BPE with byte fallback (Llama 2, Mistral,
// Gemma), with their added/special tokens and BOS template, following the
// `tokenizers` library. Pre-tokenizer regexes run on PCRE2 (UTF, UCP).
//
// Supported components (anything else is an error naming the field):
// - model: BPE (merges as "a b" strings or ["a", "b"] pairs, ignore_merges,
//   byte_fallback, unk_token, fuse_unk, continuing_subword_prefix,
//   end_of_word_suffix);
// - normalizers: Sequence, Prepend, Replace (string or regex), NFC (taken
//   as the identity: text already in NFC, as most is, encodes exactly;
//   decomposed text may encode differently from Hugging Face's);
// - pre-tokenizers: Sequence, Split (every behavior, invert), ByteLevel,
//   Metaspace, Digits, Whitespace, WhitespaceSplit;
// - post-processors: TemplateProcessing, RobertaProcessing, BertProcessing,
//   ByteLevel, Sequence;
// - decoders: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip,
//   Metaspace;
// - added tokens: special, lstrip, rstrip, single_word, normalized.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TOKENIZER_H
#define TPTT_RUNTIME_TOKENIZER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace runtime {

/// A tokenizer loaded from a tokenizer.json. Immutable once loaded: encode,
/// decode and the queries may run on several threads at once.
class Tokenizer {
public:
  /// Reads `path` (a tokenizer.json); on failure returns null and sets
  /// `error` to one message naming the file and the field.
  static std::unique_ptr<Tokenizer> load(const std::string &path,
                                         std::string &error);
  /// The same for the contents `text` of a tokenizer.json; errors start
  /// with `name`.
  static std::unique_ptr<Tokenizer>
  parse(std::string_view text, const std::string &name, std::string &error);
  ~Tokenizer();

  /// The ids of `text`, with the post-processor's special tokens (e.g. BOS)
  /// when `addSpecialTokens`. Added tokens in the text are matched as whole
  /// strings (the longest at the leftmost position) before normalization and
  /// pre-tokenization. Text that is not valid UTF-8 gives nothing and an
  /// `error` naming the byte offset.
  std::optional<std::vector<int64_t>> encode(std::string_view text,
                                             bool addSpecialTokens,
                                             std::string &error) const;

  /// The text of `ids` through the decoder (special tokens left out when
  /// `skipSpecial`; ids outside the vocabulary are skipped). Bytes that do
  /// not form valid UTF-8 become U+FFFD, so the result is always valid UTF-8.
  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial) const;

  /// For streaming generation: the text of `ids` (without special tokens)
  /// after the first `printedBytes` bytes already returned, up to the last
  /// complete UTF-8 character (an incomplete one at the end waits for the
  /// next tokens); advances `printedBytes`. Start with `printedBytes` = 0
  /// and pass the whole growing list of generated ids each time.
  std::string decodeIncrement(const std::vector<int64_t> &ids,
                              size_t &printedBytes) const;

  /// One more than the largest token id (vocabulary and added tokens).
  int64_t vocabSize() const;

  /// Restricts the ids encode() may give to the `modelVocab` rows of the
  /// model's embedding: a text that encodes to a larger id is then an error
  /// naming the token. Only added tokens may lie past them (Gemma 3's
  /// tokenizer has <image_soft_token> at 262144, past the rows of its text
  /// models); a vocabulary token past them fails here, with `error` set.
  bool limitVocabulary(int64_t modelVocab, std::string &error);
  /// The id of the token spelled `token` (added token or vocabulary).
  std::optional<int64_t> tokenId(std::string_view token) const;
  /// The spelling of token `id` (as in the vocabulary, e.g. "Ġthe" or
  /// "<0x0A>"); std::nullopt for an id outside the vocabulary.
  std::optional<std::string> tokenText(int64_t id) const;

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TOKENIZER_H

//===- Tokenizer.h - Hugging Face tokenizer.json BPE tokenizers -*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Encodes and decodes text with the BPE tokenizers of Hugging Face
// `tokenizer.json` files: byte-level BPE (GPT-2, Llama 3, Qwen2) and
// SentencePiece-style BPE with byte fallback (Llama 2, Mistral), with their
// added/special tokens and BOS template. Pre-tokenizer regexes run on PCRE2.
// Supported components: normalizers Sequence, Prepend, Replace and NFC
// (taken as the identity: texts already in NFC, as most are, encode
// exactly); pre-tokenizers Sequence, Split (Isolated, Removed), ByteLevel,
// Metaspace, Digits; decoders Sequence, ByteLevel, Replace, ByteFallback,
// Fuse, Strip, Metaspace; post-processors TemplateProcessing, ByteLevel,
// Sequence. Anything else is an error naming it.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TOKENIZER_H
#define TPTT_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace runtime {

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

  /// The ids of `text`, with the template's special tokens (e.g. BOS) when
  /// `addSpecialTokens`. Text that is not valid UTF-8 gives nothing and an
  /// `error` naming the byte offset.
  std::optional<std::vector<int64_t>> encode(std::string_view text,
                                             bool addSpecialTokens,
                                             std::string &error) const;

  /// The text of `ids` (special tokens left out when `skipSpecial`). Byte
  /// tokens that do not form whole UTF-8 characters stay raw bytes.
  std::string decode(const std::vector<int64_t> &ids, bool skipSpecial) const;

  /// For streaming: the text of `ids` after the first `printed` bytes
  /// already shown, up to the last complete UTF-8 character; advances
  /// `printed`.
  std::string decodeIncrement(const std::vector<int64_t> &ids,
                              size_t &printed) const;

  /// One more than the largest token id.
  int64_t vocabSize() const;
  /// The id of the token spelled `token` (vocabulary or added token).
  std::optional<int64_t> tokenId(std::string_view token) const;

  struct Impl;

private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TOKENIZER_H

//===- TokenizerFuzzer.cpp - libFuzzer target for tokenizer.json ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The input is a tokenizer.json, a NUL byte, and a text. A file that is not a
// tokenizer this runtime implements gives one error, never a crash; a loaded
// one encodes the text into ids of its vocabulary (or names the bad UTF-8
// byte), and decodes them, whole and incrementally, into valid UTF-8.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Tokenizer.h"

#include <string>
#include <string_view>

namespace {

bool isValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    size_t length = byte < 0x80           ? 1
                    : (byte >> 5) == 0x6  ? 2
                    : (byte >> 4) == 0xE  ? 3
                    : (byte >> 3) == 0x1E ? 4
                                          : 0;
    if (length == 0 || i + length > text.size())
      return false;
    for (size_t k = 1; k < length; ++k)
      if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2)
        return false;
    i += length;
  }
  return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view input(reinterpret_cast<const char *>(data), size);
  size_t split = input.find('\0');
  std::string_view json = input.substr(0, split);
  std::string_view text =
      split == std::string_view::npos ? "" : input.substr(split + 1);
  std::string error;
  std::unique_ptr<tptt::runtime::Tokenizer> tokenizer =
      tptt::runtime::Tokenizer::parse(json, "tokenizer.json", error);
  if (!tokenizer) {
    if (error.rfind("tokenizer.json", 0) != 0)
      __builtin_trap();
    return 0;
  }
  for (bool special : {false, true}) {
    error.clear();
    std::optional<std::vector<int64_t>> ids =
        tokenizer->encode(text, special, error);
    if (!ids) {
      if (error.empty())
        __builtin_trap();
      continue;
    }
    for (int64_t id : *ids)
      if (id < 0 || id >= tokenizer->vocabSize())
        __builtin_trap();
    if (!isValidUtf8(tokenizer->decode(*ids, !special)))
      __builtin_trap();
    size_t printed = 0;
    std::vector<int64_t> growing;
    for (int64_t id : *ids) {
      growing.push_back(id);
      if (!isValidUtf8(tokenizer->decodeIncrement(growing, printed)))
        __builtin_trap();
    }
  }
  return 0;
}

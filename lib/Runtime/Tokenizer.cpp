//===- Tokenizer.cpp - Hugging Face tokenizer.json BPE tokenizers ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

using json = nlohmann::json;
using namespace tptt::runtime;

namespace {

//===----------------------------------------------------------------------===//
// UTF-8 and the byte-level alphabet
//===----------------------------------------------------------------------===//

/// The length of the UTF-8 sequence starting with `lead`, 0 if invalid.
size_t sequenceLength(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if ((lead & 0xe0) == 0xc0 && lead >= 0xc2)
    return 2;
  if ((lead & 0xf0) == 0xe0)
    return 3;
  if ((lead & 0xf8) == 0xf0 && lead <= 0xf4)
    return 4;
  return 0;
}

/// The offset of the first byte that is not valid UTF-8, if any.
std::optional<size_t> invalidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = sequenceLength(static_cast<unsigned char>(text[i]));
    if (n == 0 || i + n > text.size())
      return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80)
        return i;
    i += n;
  }
  return std::nullopt;
}

/// The characters of `text` (valid UTF-8), each as its bytes.
std::vector<std::string> characters(std::string_view text) {
  std::vector<std::string> out;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::max<size_t>(
        sequenceLength(static_cast<unsigned char>(text[i])), 1);
    out.emplace_back(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string encodeCodePoint(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return out;
}

/// GPT-2's reversible map from bytes to printable characters: printable
/// Latin-1 bytes stand for themselves, the others for U+0100 onwards.
struct ByteAlphabet {
  std::string ofByte[256];
  std::unordered_map<std::string, unsigned char> toByte;

  ByteAlphabet() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                       (b >= 174 && b <= 255);
      ofByte[b] = encodeCodePoint(printable ? b : next++);
      toByte[ofByte[b]] = static_cast<unsigned char>(b);
    }
  }
};

const ByteAlphabet &byteAlphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

std::string replaceAll(std::string text, const std::string &from,
                       const std::string &to) {
  if (from.empty())
    return text;
  for (size_t at = 0; (at = text.find(from, at)) != std::string::npos;
       at += to.size())
    text.replace(at, from.size(), to);
  return text;
}

//===----------------------------------------------------------------------===//
// Regexes (PCRE2)
//===----------------------------------------------------------------------===//

class Regex {
public:
  static std::unique_ptr<Regex> compile(const std::string &pattern,
                                        std::string &error) {
    int code;
    PCRE2_SIZE offset;
    pcre2_code *compiled = pcre2_compile(
        reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
        PCRE2_UTF | PCRE2_UCP, &code, &offset, nullptr);
    if (!compiled) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(code, message, sizeof(message));
      error = "regex error at offset " + std::to_string(offset) + ": " +
              reinterpret_cast<char *>(message);
      return nullptr;
    }
    pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE);
    return std::unique_ptr<Regex>(new Regex(compiled));
  }
  ~Regex() {
    pcre2_match_data_free(data);
    pcre2_code_free(code);
  }

  /// The [begin, end) byte ranges of the successive matches in `text`.
  std::vector<std::pair<size_t, size_t>> matches(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    size_t start = 0;
    while (start <= text.size()) {
      int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                           text.size(), start, 0, data, nullptr);
      if (rc < 0)
        break;
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(data);
      size_t begin = ovector[0], end = ovector[1];
      if (end == begin) {
        // An empty match: step over one character.
        if (begin >= text.size())
          break;
        start = begin +
                std::max<size_t>(
                    sequenceLength(static_cast<unsigned char>(text[begin])), 1);
        continue;
      }
      out.emplace_back(begin, end);
      start = end;
    }
    return out;
  }

private:
  explicit Regex(pcre2_code *code)
      : code(code), data(pcre2_match_data_create_from_pattern(code, nullptr)) {}
  pcre2_code *code;
  pcre2_match_data *data;
};

/// GPT-2's pre-tokenization pattern (ByteLevel with use_regex).
const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

} // namespace

//===----------------------------------------------------------------------===//
// The tokenizer
//===----------------------------------------------------------------------===//

struct Tokenizer::Impl {
  /// One step of normalization or pre-tokenization.
  struct Step {
    enum Kind { Prepend, Replace, Split, ByteLevel, Metaspace, Digits } kind;
    std::string text, content;
    std::unique_ptr<Regex> regex;
    bool removeMatches = false;
    bool addPrefixSpace = false;
    bool prependFirstOnly = false;
    bool prepend = true;
  };
  /// One step of decoding.
  struct DecodeStep {
    enum Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
    std::string pattern, content;
    int64_t start = 0, stop = 0;
    bool prepend = true;
  };
  struct AddedToken {
    std::string content;
    int64_t id;
    bool special;
  };

  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> pieces;
  std::unordered_map<std::string, int64_t> mergeRank;
  std::vector<AddedToken> added;
  std::vector<Step> normalizers, preTokenizers;
  std::vector<DecodeStep> decoders;
  std::vector<int64_t> prefixTokens, suffixTokens;
  std::optional<int64_t> unknown;
  bool byteFallback = false, ignoreMerges = false, byteLevel = false;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;

  std::vector<std::string> preTokenize(const std::string &text) const;
  bool bpe(const std::string &word, std::vector<int64_t> &ids,
           std::string &error) const;
  std::string decodeRun(const std::vector<int64_t> &ids) const;
};

namespace {

/// Reads the normalizer or pre-tokenizer `node` into `steps`.
bool readSteps(const json &node, std::vector<Tokenizer::Impl::Step> &steps,
               const std::string &where, std::string &error) {
  using Step = Tokenizer::Impl::Step;
  if (node.is_null())
    return true;
  if (!node.is_object() || !node.contains("type") ||
      !node["type"].is_string()) {
    error = "field '" + where + "' needs a string 'type'";
    return false;
  }
  std::string type = node["type"].get<std::string>();
  auto text = [&](const json &object, const char *key) -> std::string {
    auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
  };
  auto flag = [&](const char *key, bool fallback) {
    auto it = node.find(key);
    return it != node.end() && it->is_boolean() ? it->get<bool>() : fallback;
  };
  if (type == "Sequence") {
    const char *key =
        node.contains("normalizers") ? "normalizers" : "pretokenizers";
    if (!node.contains(key) || !node[key].is_array()) {
      error = "field '" + where + "' (Sequence) needs an array '" + key + "'";
      return false;
    }
    for (size_t i = 0; i < node[key].size(); ++i)
      if (!readSteps(node[key][i], steps,
                     where + "." + key + "[" + std::to_string(i) + "]", error))
        return false;
    return true;
  }
  if (type == "NFC")
    return true;
  Step step;
  if (type == "Prepend") {
    step.kind = Step::Prepend;
    step.text = text(node, "prepend");
  } else if (type == "Replace" || type == "Split") {
    const json &pattern = node.value("pattern", json());
    std::string literal = pattern.is_object() ? text(pattern, "String") : "";
    std::string regex = pattern.is_object() ? text(pattern, "Regex") : "";
    if (literal.empty() && regex.empty()) {
      error = "field '" + where + ".pattern' needs a String or a Regex";
      return false;
    }
    if (!regex.empty()) {
      std::string why;
      step.regex = Regex::compile(regex, why);
      if (!step.regex) {
        error = "field '" + where + ".pattern': " + why;
        return false;
      }
    }
    step.text = literal;
    step.content = text(node, "content");
    step.kind = type == "Replace" ? Step::Replace : Step::Split;
    if (type == "Split") {
      std::string behavior = text(node, "behavior");
      if ((behavior != "Isolated" && behavior != "Removed") ||
          flag("invert", false)) {
        error = "field '" + where + "': Split with behavior '" + behavior +
                "'" + (flag("invert", false) ? " and invert" : "") +
                " is not supported (Isolated or Removed)";
        return false;
      }
      step.removeMatches = behavior == "Removed";
    }
  } else if (type == "ByteLevel") {
    step.kind = Step::ByteLevel;
    step.addPrefixSpace = flag("add_prefix_space", false);
    if (flag("use_regex", true)) {
      std::string why;
      step.regex = Regex::compile(kGpt2Pattern, why);
    }
  } else if (type == "Metaspace") {
    step.kind = Step::Metaspace;
    step.text = text(node, "replacement");
    std::string scheme = text(node, "prepend_scheme");
    step.prepend = scheme != "never" && flag("add_prefix_space", true);
    step.prependFirstOnly = scheme == "first";
  } else if (type == "Digits") {
    step.kind = Step::Digits;
    std::string why;
    step.regex = Regex::compile(
        flag("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)", why);
  } else {
    error = "field '" + where + "': unsupported type '" + type + "'";
    return false;
  }
  steps.push_back(std::move(step));
  return true;
}

bool readDecoder(const json &node,
                 std::vector<Tokenizer::Impl::DecodeStep> &steps,
                 const std::string &where, std::string &error) {
  using Step = Tokenizer::Impl::DecodeStep;
  if (node.is_null())
    return true;
  if (!node.is_object() || !node.contains("type") ||
      !node["type"].is_string()) {
    error = "field '" + where + "' needs a string 'type'";
    return false;
  }
  std::string type = node["type"].get<std::string>();
  if (type == "Sequence") {
    if (!node.contains("decoders") || !node["decoders"].is_array()) {
      error = "field '" + where + "' (Sequence) needs an array 'decoders'";
      return false;
    }
    for (size_t i = 0; i < node["decoders"].size(); ++i)
      if (!readDecoder(node["decoders"][i], steps,
                       where + ".decoders[" + std::to_string(i) + "]", error))
        return false;
    return true;
  }
  Step step;
  if (type == "ByteLevel") {
    step.kind = Step::ByteLevel;
  } else if (type == "Replace") {
    step.kind = Step::Replace;
    const json &pattern = node.value("pattern", json());
    if (!pattern.is_object() || !pattern.contains("String") ||
        !pattern["String"].is_string() || !node.contains("content") ||
        !node["content"].is_string()) {
      error = "field '" + where +
              "': Replace needs a String pattern and a "
              "content";
      return false;
    }
    step.pattern = pattern["String"].get<std::string>();
    step.content = node["content"].get<std::string>();
  } else if (type == "ByteFallback") {
    step.kind = Step::ByteFallback;
  } else if (type == "Fuse") {
    step.kind = Step::Fuse;
  } else if (type == "Strip") {
    step.kind = Step::Strip;
    step.content = node.value("content", std::string(" "));
    auto count = [&](const char *key) {
      auto it = node.find(key);
      return it != node.end() && it->is_number_integer() ? it->get<int64_t>()
                                                         : int64_t(0);
    };
    step.start = count("start");
    step.stop = count("stop");
  } else if (type == "Metaspace") {
    step.kind = Step::Metaspace;
    step.pattern = node.value("replacement", std::string("▁"));
    step.prepend =
        node.value("prepend_scheme", std::string("always")) != "never";
  } else {
    error = "field '" + where + "': unsupported decoder '" + type + "'";
    return false;
  }
  steps.push_back(std::move(step));
  return true;
}

/// Appends the special token ids of a TemplateProcessing `single` template
/// around the sequence "A".
bool readPostProcessor(const json &node, Tokenizer::Impl &impl,
                       const std::string &where, std::string &error) {
  if (node.is_null())
    return true;
  std::string type = node.is_object() ? node.value("type", std::string()) : "";
  if (type == "Sequence") {
    const json &list = node.value("processors", json::array());
    for (size_t i = 0; i < list.size(); ++i)
      if (!readPostProcessor(list[i], impl,
                             where + ".processors[" + std::to_string(i) + "]",
                             error))
        return false;
    return true;
  }
  if (type == "ByteLevel")
    return true;
  if (type != "TemplateProcessing") {
    error = "field '" + where + "': unsupported post-processor '" + type + "'";
    return false;
  }
  const json &single = node.value("single", json::array());
  const json &specials = node.value("special_tokens", json::object());
  bool afterSequence = false;
  for (const json &item : single) {
    if (item.contains("Sequence")) {
      afterSequence = true;
      continue;
    }
    const json &special = item.value("SpecialToken", json());
    std::string name =
        special.is_object() ? special.value("id", std::string()) : "";
    const json &entry = specials.value(name, json());
    if (!entry.is_object() || !entry.contains("ids") ||
        !entry["ids"].is_array()) {
      error =
          "field '" + where + ".single': unknown special token '" + name + "'";
      return false;
    }
    for (const json &id : entry["ids"])
      if (id.is_number_integer())
        (afterSequence ? impl.suffixTokens : impl.prefixTokens)
            .push_back(id.get<int64_t>());
  }
  return true;
}

} // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &path,
                                           std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return nullptr;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, error);
}

std::unique_ptr<Tokenizer> Tokenizer::parse(std::string_view text,
                                            const std::string &name,
                                            std::string &error) {
  auto fail = [&](const std::string &message) -> std::unique_ptr<Tokenizer> {
    error = name + ": " + message;
    return nullptr;
  };
  json root = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    return fail("not a JSON object");
  const json &model = root.value("model", json());
  if (!model.is_object() || model.value("type", std::string()) != "BPE")
    return fail("field 'model.type' must be \"BPE\" (the only tokenizer "
                "model supported)");
  auto impl = std::make_unique<Impl>();
  const json &vocab = model.value("vocab", json());
  if (!vocab.is_object())
    return fail("field 'model.vocab' must be an object");
  int64_t size = 0;
  for (const auto &[piece, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0)
      return fail("field 'model.vocab': the id of '" + piece +
                  "' is not a non-negative integer");
    impl->vocab[piece] = id.get<int64_t>();
    size = std::max(size, id.get<int64_t>() + 1);
  }
  const json &merges = model.value("merges", json::array());
  if (!merges.is_array())
    return fail("field 'model.merges' must be an array");
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json &merge = merges[rank];
    std::string left, right;
    if (merge.is_string()) {
      std::string pair = merge.get<std::string>();
      size_t space = pair.find(' ', 1);
      if (space == std::string::npos)
        return fail("field 'model.merges[" + std::to_string(rank) +
                    "]' is not two tokens");
      left = pair.substr(0, space);
      right = pair.substr(space + 1);
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
               merge[1].is_string()) {
      left = merge[0].get<std::string>();
      right = merge[1].get<std::string>();
    } else {
      return fail("field 'model.merges[" + std::to_string(rank) +
                  "]' is not two tokens");
    }
    impl->mergeRank.emplace(left + '\0' + right, rank);
  }
  impl->byteFallback = model.value("byte_fallback", false) == true;
  impl->ignoreMerges = model.value("ignore_merges", false) == true;
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    auto it = impl->vocab.find(model["unk_token"].get<std::string>());
    if (it != impl->vocab.end())
      impl->unknown = it->second;
  }
  const json &added = root.value("added_tokens", json::array());
  for (const json &token : added) {
    if (!token.is_object() || !token.contains("id") ||
        !token["id"].is_number_integer() || !token.contains("content") ||
        !token["content"].is_string() ||
        token["content"].get<std::string>().empty())
      return fail("field 'added_tokens': every token needs an integer 'id' "
                  "and a non-empty 'content'");
    int64_t id = token["id"].get<int64_t>();
    impl->added.push_back({token["content"].get<std::string>(), id,
                           token.value("special", false) == true});
    size = std::max(size, id + 1);
  }
  // Longest first, so that the scan prefers the longest added token.
  std::stable_sort(impl->added.begin(), impl->added.end(),
                   [](const Impl::AddedToken &a, const Impl::AddedToken &b) {
                     return a.content.size() > b.content.size();
                   });
  impl->pieces.assign(size, "");
  for (const auto &[piece, id] : impl->vocab)
    impl->pieces[id] = piece;
  for (const Impl::AddedToken &token : impl->added)
    impl->pieces[token.id] = token.content;

  std::string why;
  if (!readSteps(root.value("normalizer", json()), impl->normalizers,
                 "normalizer", why) ||
      !readSteps(root.value("pre_tokenizer", json()), impl->preTokenizers,
                 "pre_tokenizer", why) ||
      !readDecoder(root.value("decoder", json()), impl->decoders, "decoder",
                   why) ||
      !readPostProcessor(root.value("post_processor", json()), *impl,
                         "post_processor", why))
    return fail(why);
  for (const Impl::Step &step : impl->preTokenizers)
    impl->byteLevel = impl->byteLevel || step.kind == Impl::Step::ByteLevel;
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

std::vector<std::string>
Tokenizer::Impl::preTokenize(const std::string &text) const {
  std::vector<std::string> words = {text};
  bool first = true;
  for (const Step &step : preTokenizers) {
    std::vector<std::string> next;
    for (const std::string &word : words) {
      switch (step.kind) {
      case Step::Split:
      case Step::Digits:
      case Step::ByteLevel: {
        std::string piece = word;
        if (step.kind == Step::ByteLevel && step.addPrefixSpace && first &&
            !piece.empty() && piece[0] != ' ')
          piece = " " + piece;
        std::vector<std::string> parts;
        if (step.regex) {
          size_t last = 0;
          for (auto [begin, end] : step.regex->matches(piece)) {
            if (begin > last)
              parts.push_back(piece.substr(last, begin - last));
            if (!step.removeMatches)
              parts.push_back(piece.substr(begin, end - begin));
            last = end;
          }
          if (last < piece.size())
            parts.push_back(piece.substr(last));
        } else if (step.kind == Step::Split && !step.text.empty()) {
          size_t last = 0;
          for (size_t at;
               (at = piece.find(step.text, last)) != std::string::npos;
               last = at + step.text.size()) {
            if (at > last)
              parts.push_back(piece.substr(last, at - last));
            if (!step.removeMatches)
              parts.push_back(step.text);
          }
          if (last < piece.size())
            parts.push_back(piece.substr(last));
        } else {
          parts.push_back(piece);
        }
        if (step.kind == Step::ByteLevel)
          for (std::string &part : parts) {
            std::string mapped;
            for (unsigned char c : part)
              mapped += byteAlphabet().ofByte[c];
            part = mapped;
          }
        next.insert(next.end(), parts.begin(), parts.end());
        break;
      }
      case Step::Metaspace: {
        std::string piece = replaceAll(word, " ", step.text);
        if (step.prepend && (first || !step.prependFirstOnly) &&
            piece.rfind(step.text, 0) != 0)
          piece = step.text + piece;
        // Split before every replacement character, keeping it.
        size_t last = 0;
        for (size_t at = piece.find(step.text, 1); at != std::string::npos;
             at = piece.find(step.text, at + 1)) {
          next.push_back(piece.substr(last, at - last));
          last = at;
        }
        next.push_back(piece.substr(last));
        break;
      }
      case Step::Prepend:
      case Step::Replace:
        next.push_back(word);
        break;
      }
      first = false;
    }
    words = std::move(next);
    first = true;
  }
  return words;
}

bool Tokenizer::Impl::bpe(const std::string &word, std::vector<int64_t> &ids,
                          std::string &error) const {
  if (auto it = cache.find(word); it != cache.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
    return true;
  }
  std::vector<int64_t> out;
  auto whole = vocab.find(word);
  if (ignoreMerges && whole != vocab.end()) {
    out.push_back(whole->second);
  } else {
    // Merge the adjacent pair of lowest rank until none is left.
    std::vector<std::string> symbols = characters(word);
    while (symbols.size() > 1) {
      int64_t best = std::numeric_limits<int64_t>::max();
      size_t at = 0;
      for (size_t i = 0; i + 1 < symbols.size(); ++i) {
        auto it = mergeRank.find(symbols[i] + '\0' + symbols[i + 1]);
        if (it != mergeRank.end() && it->second < best) {
          best = it->second;
          at = i;
        }
      }
      if (best == std::numeric_limits<int64_t>::max())
        break;
      symbols[at] += symbols[at + 1];
      symbols.erase(symbols.begin() + at + 1);
    }
    for (const std::string &symbol : symbols) {
      if (auto it = vocab.find(symbol); it != vocab.end()) {
        out.push_back(it->second);
        continue;
      }
      if (byteFallback) {
        bool all = true;
        for (unsigned char c : symbol) {
          char name[8];
          std::snprintf(name, sizeof(name), "<0x%02X>", c);
          auto it = vocab.find(name);
          all = all && it != vocab.end();
          if (it != vocab.end())
            out.push_back(it->second);
        }
        if (all)
          continue;
      }
      if (!unknown) {
        error = "the text has a character the vocabulary cannot spell ('" +
                symbol + "') and the tokenizer has no unk_token";
        return false;
      }
      // Consecutive unknowns fuse into one, as fuse_unk does.
      if (out.empty() || out.back() != *unknown)
        out.push_back(*unknown);
    }
  }
  ids.insert(ids.end(), out.begin(), out.end());
  if (cache.size() < 100000)
    cache.emplace(word, std::move(out));
  return true;
}

std::optional<std::vector<int64_t>>
Tokenizer::encode(std::string_view text, bool addSpecialTokens,
                  std::string &error) const {
  if (std::optional<size_t> bad = invalidUtf8(text)) {
    error = "the text is not valid UTF-8 (byte " + std::to_string(*bad) + ")";
    return std::nullopt;
  }
  std::vector<int64_t> ids;
  if (addSpecialTokens)
    ids = impl->prefixTokens;
  // Added tokens split the text; the pieces between them are normalized,
  // pre-tokenized and run through BPE.
  auto encodePiece = [&](std::string piece) {
    for (const Impl::Step &step : impl->normalizers) {
      if (step.kind == Impl::Step::Prepend)
        piece = step.text + piece;
      else if (step.kind == Impl::Step::Replace && !step.regex)
        piece = replaceAll(piece, step.text, step.content);
      else if (step.kind == Impl::Step::Replace) {
        std::string replaced;
        size_t last = 0;
        for (auto [begin, end] : step.regex->matches(piece)) {
          replaced += piece.substr(last, begin - last) + step.content;
          last = end;
        }
        piece = replaced + piece.substr(last);
      }
    }
    for (const std::string &word : impl->preTokenize(piece))
      if (!word.empty() && !impl->bpe(word, ids, error))
        return false;
    return true;
  };
  size_t start = 0, at = 0;
  while (at < text.size()) {
    const Impl::AddedToken *match = nullptr;
    for (const Impl::AddedToken &token : impl->added)
      if (text.compare(at, token.content.size(), token.content) == 0) {
        match = &token;
        break;
      }
    if (!match) {
      ++at;
      continue;
    }
    if (at > start && !encodePiece(std::string(text.substr(start, at - start))))
      return std::nullopt;
    ids.push_back(match->id);
    at += match->content.size();
    start = at;
  }
  if (start < text.size() && !encodePiece(std::string(text.substr(start))))
    return std::nullopt;
  if (addSpecialTokens)
    ids.insert(ids.end(), impl->suffixTokens.begin(), impl->suffixTokens.end());
  return ids;
}

std::string Tokenizer::Impl::decodeRun(const std::vector<int64_t> &ids) const {
  using Step = DecodeStep;
  std::vector<std::string> tokens;
  for (int64_t id : ids)
    tokens.push_back(
        id >= 0 && id < static_cast<int64_t>(pieces.size()) ? pieces[id] : "");
  for (const Step &step : decoders) {
    switch (step.kind) {
    case Step::ByteLevel:
      for (std::string &token : tokens) {
        std::string bytes;
        for (const std::string &c : characters(token)) {
          auto it = byteAlphabet().toByte.find(c);
          bytes += it != byteAlphabet().toByte.end()
                       ? std::string(1, static_cast<char>(it->second))
                       : c;
        }
        token = bytes;
      }
      break;
    case Step::Replace:
      for (std::string &token : tokens)
        token = replaceAll(token, step.pattern, step.content);
      break;
    case Step::ByteFallback:
      for (std::string &token : tokens)
        if (token.size() == 6 && token.rfind("<0x", 0) == 0 &&
            token.back() == '>')
          token = std::string(1, static_cast<char>(std::strtol(
                                     token.substr(3, 2).c_str(), nullptr, 16)));
      break;
    case Step::Fuse: {
      std::string all;
      for (const std::string &token : tokens)
        all += token;
      tokens = {all};
      break;
    }
    case Step::Strip:
      for (std::string &token : tokens) {
        for (int64_t i = 0; i < step.start && token.rfind(step.content, 0) == 0;
             ++i)
          token.erase(0, step.content.size());
        for (int64_t i = 0;
             i < step.stop && token.size() >= step.content.size() &&
             token.compare(token.size() - step.content.size(),
                           step.content.size(), step.content) == 0;
             ++i)
          token.erase(token.size() - step.content.size());
      }
      break;
    case Step::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replaceAll(tokens[i], step.pattern, " ");
        if (i == 0 && step.prepend && !tokens[i].empty() && tokens[i][0] == ' ')
          tokens[i].erase(0, 1);
      }
      break;
    }
  }
  std::string out;
  for (const std::string &token : tokens)
    out += token;
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t> &ids,
                              bool skipSpecial) const {
  // Added tokens are their own text; runs of vocabulary tokens go through
  // the decoder.
  std::map<int64_t, const Impl::AddedToken *> addedById;
  for (const Impl::AddedToken &token : impl->added)
    addedById[token.id] = &token;
  std::string out;
  std::vector<int64_t> run;
  for (int64_t id : ids) {
    auto it = addedById.find(id);
    if (it == addedById.end()) {
      run.push_back(id);
      continue;
    }
    out += impl->decodeRun(run);
    run.clear();
    if (!(skipSpecial && it->second->special))
      out += it->second->content;
  }
  return out + impl->decodeRun(run);
}

std::string Tokenizer::decodeIncrement(const std::vector<int64_t> &ids,
                                       size_t &printed) const {
  std::string text = decode(ids, /*skipSpecial=*/true);
  // Hold back an incomplete UTF-8 character at the end.
  size_t end = text.size();
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    unsigned char c = text[text.size() - back];
    if ((c & 0xc0) == 0x80)
      continue;
    size_t need = sequenceLength(c);
    if (need > back)
      end = text.size() - back;
    break;
  }
  if (end <= printed)
    return "";
  std::string fresh = text.substr(printed, end - printed);
  printed = end;
  return fresh;
}

int64_t Tokenizer::vocabSize() const { return impl->pieces.size(); }

std::optional<int64_t> Tokenizer::tokenId(std::string_view token) const {
  for (const Impl::AddedToken &added : impl->added)
    if (added.content == token)
      return added.id;
  auto it = impl->vocab.find(std::string(token));
  if (it == impl->vocab.end())
    return std::nullopt;
  return it->second;
}

//===- Tokenizer.cpp - Hugging Face tokenizer.json BPE tokenizers ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The pipeline of Hugging Face's `tokenizers`: added tokens split the text;
// the pieces between them are normalized, pre-tokenized into words, and each
// word goes through BPE (a linked list of symbols and a priority queue of the
// adjacent pairs by merge rank). Decoding maps ids back to token strings and
// runs the decoder chain on them.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Tokenizer.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Json.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <queue>
#include <sstream>
#include <unordered_map>

using json = nlohmann::json;
using namespace tptt::runtime;

namespace {

/// Token ids above this are refused: the id → token table is dense.
constexpr int64_t kMaxTokenId = (int64_t(1) << 22) - 1;
/// Words up to this many bytes are cached with their ids.
constexpr size_t kMaxCachedWordBytes = 256;
/// The cache stops growing at this many words.
constexpr size_t kMaxCachedWords = 65536;

//===----------------------------------------------------------------------===//
// UTF-8
//===----------------------------------------------------------------------===//

/// What starts at one byte of a text.
struct CharScan {
  /// The length of the valid UTF-8 character there; 0 if there is none.
  size_t length;
  /// How many bytes there begin a valid character: `length` when one is
  /// complete, fewer when it is cut short or broken, 0 for a bad lead byte.
  size_t prefix;
};

/// Scans the character at `text[at]` (strictly: no overlong forms,
/// surrogates or code points beyond U+10FFFF).
CharScan scanChar(std::string_view text, size_t at) {
  auto lead = static_cast<unsigned char>(text[at]);
  if (lead < 0x80)
    return {1, 1};
  size_t need;
  unsigned char low = 0x80, high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    need = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    need = 3;
    low = lead == 0xe0 ? 0xa0 : 0x80;
    high = lead == 0xed ? 0x9f : 0xbf;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 4;
    low = lead == 0xf0 ? 0x90 : 0x80;
    high = lead == 0xf4 ? 0x8f : 0xbf;
  } else {
    return {0, 0};
  }
  size_t got = 1;
  for (; got < need && at + got < text.size(); ++got) {
    auto c = static_cast<unsigned char>(text[at + got]);
    if (got == 1 ? (c < low || c > high) : (c & 0xc0) != 0x80)
      break;
  }
  return {got == need ? need : 0, got};
}

/// The offset of the first byte that does not begin valid UTF-8, if any.
std::optional<size_t> invalidUtf8(std::string_view text) {
  for (size_t at = 0; at < text.size();) {
    size_t length = scanChar(text, at).length;
    if (length == 0)
      return at;
    at += length;
  }
  return std::nullopt;
}

/// `text` with every maximal invalid subsequence replaced by U+FFFD, as
/// Rust's String::from_utf8_lossy and the WHATWG decoder do.
std::string lossyUtf8(std::string_view text) {
  if (!invalidUtf8(text))
    return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (size_t at = 0; at < text.size();) {
    CharScan scan = scanChar(text, at);
    if (scan.length) {
      out.append(text.substr(at, scan.length));
      at += scan.length;
    } else {
      out += "\xEF\xBF\xBD";
      at += std::max<size_t>(scan.prefix, 1);
    }
  }
  return out;
}

/// The length of `text` without a character cut short at its end.
size_t completeLength(std::string_view text) {
  for (size_t back = 1; back <= 3 && back <= text.size(); ++back) {
    size_t at = text.size() - back;
    if ((static_cast<unsigned char>(text[at]) & 0xc0) == 0x80)
      continue;
    CharScan scan = scanChar(text, at);
    return scan.length == 0 && scan.prefix == back ? at : text.size();
  }
  return text.size();
}

/// The code point of the valid character of `length` bytes at `text[at]`.
uint32_t codePoint(std::string_view text, size_t at, size_t length) {
  auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(text[at + i]));
  };
  switch (length) {
  case 1:
    return byte(0);
  case 2:
    return (byte(0) & 0x1f) << 6 | (byte(1) & 0x3f);
  case 3:
    return (byte(0) & 0x0f) << 12 | (byte(1) & 0x3f) << 6 | (byte(2) & 0x3f);
  default:
    return (byte(0) & 0x07) << 18 | (byte(1) & 0x3f) << 12 |
           (byte(2) & 0x3f) << 6 | (byte(3) & 0x3f);
  }
}

/// The UTF-8 spelling of a code point below U+0800.
std::string smallCodePoint(uint32_t cp) {
  if (cp < 0x80)
    return std::string(1, static_cast<char>(cp));
  return {static_cast<char>(0xc0 | (cp >> 6)),
          static_cast<char>(0x80 | (cp & 0x3f))};
}

/// GPT-2's reversible map from bytes to printable characters: printable
/// Latin-1 bytes stand for themselves, the others for U+0100 onwards.
struct ByteAlphabet {
  std::array<std::string, 256> ofByte;
  /// The byte of each code point of the alphabet (below 0x144), or -1.
  std::array<int16_t, 0x144> toByte;

  ByteAlphabet() {
    toByte.fill(-1);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                       (b >= 174 && b <= 255);
      uint32_t cp = printable ? b : next++;
      ofByte[b] = smallCodePoint(cp);
      toByte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet &byteAlphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

/// The value of the hexadecimal digit `c`, or -1.
int hexDigit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// `text` with every occurrence of `from` (not empty) replaced by `to`.
std::string replaceAll(std::string_view text, std::string_view from,
                       std::string_view to) {
  std::string out;
  size_t last = 0;
  for (size_t at; (at = text.find(from, last)) != std::string_view::npos;
       last = at + from.size()) {
    out.append(text.substr(last, at - last));
    out.append(to);
  }
  out.append(text.substr(last));
  return out;
}

//===----------------------------------------------------------------------===//
// Regexes (PCRE2)
//===----------------------------------------------------------------------===//

std::string pcre2Message(int code) {
  PCRE2_UCHAR message[256];
  pcre2_get_error_message(code, message, sizeof(message));
  return reinterpret_cast<const char *>(message);
}

/// A compiled PCRE2 pattern (UTF, UCP). Matching allocates its scratch
/// space per call, so one Regex serves several threads.
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
      error = "regex error at offset " + std::to_string(offset) + ": " +
              pcre2Message(code);
      return nullptr;
    }
    pcre2_jit_compile(compiled, PCRE2_JIT_COMPLETE);
    return std::unique_ptr<Regex>(new Regex(compiled));
  }
  ~Regex() { pcre2_code_free(code); }
  Regex(const Regex &) = delete;
  Regex &operator=(const Regex &) = delete;

  /// Appends the [begin, end) byte ranges of the successive non-empty
  /// matches in `text` (valid UTF-8) to `out`; false with `error` set when
  /// PCRE2 fails.
  bool matches(std::string_view text,
               std::vector<std::pair<size_t, size_t>> &out,
               std::string &error) const {
    Scratch scratch(code);
    if (!scratch.data || !scratch.context) {
      error = "out of memory for a regex match";
      return false;
    }
    size_t start = 0;
    while (start <= text.size()) {
      // The text was checked once, at the first call.
      uint32_t options = start ? PCRE2_NO_UTF_CHECK : 0;
      int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                           text.size(), start, options, scratch.data,
                           scratch.context);
      if (rc == PCRE2_ERROR_NOMATCH)
        return true;
      if (rc < 0) {
        error = "regex match failed: " + pcre2Message(rc);
        return false;
      }
      PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(scratch.data);
      size_t begin = ovector[0], end = ovector[1];
      if (end <= begin) {
        // An empty match: step over one character.
        if (begin >= text.size())
          return true;
        start = begin + std::max<size_t>(scanChar(text, begin).length, 1);
        continue;
      }
      out.emplace_back(begin, end);
      start = end;
    }
    return true;
  }

  /// Whether the pattern matches the whole of `text` (valid UTF-8).
  bool matchesWhole(std::string_view text) const {
    Scratch scratch(code);
    if (!scratch.data || !scratch.context)
      return false;
    return pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                       text.size(), 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED,
                       scratch.data, scratch.context) >= 0;
  }

private:
  explicit Regex(pcre2_code *code) : code(code) {}

  /// The match data and a JIT stack larger than PCRE2's 32 KiB default, so
  /// that long runs (e.g. of spaces) do not exhaust it.
  struct Scratch {
    explicit Scratch(const pcre2_code *code)
        : data(pcre2_match_data_create_from_pattern(code, nullptr)),
          context(pcre2_match_context_create(nullptr)),
          stack(pcre2_jit_stack_create(32 * 1024, 16 << 20, nullptr)) {
      if (context && stack)
        pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~Scratch() {
      pcre2_jit_stack_free(stack);
      pcre2_match_context_free(context);
      pcre2_match_data_free(data);
    }
    Scratch(const Scratch &) = delete;
    Scratch &operator=(const Scratch &) = delete;
    pcre2_match_data *data;
    pcre2_match_context *context;
    pcre2_jit_stack *stack;
  };

  pcre2_code *code;
};

/// A pattern built into the tokenizer; compiling it cannot fail.
std::unique_ptr<Regex> builtinRegex(const char *pattern) {
  std::string unused;
  return Regex::compile(pattern, unused);
}

/// GPT-2's pre-tokenization pattern (ByteLevel with use_regex).
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

/// The character classes that added tokens' lstrip, rstrip and single_word
/// look at.
struct CharClasses {
  std::unique_ptr<Regex> space = builtinRegex(R"(\s)");
  std::unique_ptr<Regex> word = builtinRegex(R"(\w)");
};

const CharClasses &charClasses() {
  static const CharClasses classes;
  return classes;
}

/// The bytes of the whitespace characters at the start of `text`.
size_t leadingSpace(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t length = std::max<size_t>(scanChar(text, at).length, 1);
    if (!charClasses().space->matchesWhole(text.substr(at, length)))
      break;
    at += length;
  }
  return at;
}

/// The start of the last character of `text` (not empty, valid UTF-8).
size_t lastCharStart(std::string_view text) {
  size_t at = text.size() - 1;
  while (at > 0 && (static_cast<unsigned char>(text[at]) & 0xc0) == 0x80)
    --at;
  return at;
}

/// The bytes of the whitespace characters at the end of `text`.
size_t trailingSpace(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t at = lastCharStart(text.substr(0, end));
    if (!charClasses().space->matchesWhole(text.substr(at, end - at)))
      break;
    end = at;
  }
  return text.size() - end;
}

bool startsWithWordChar(std::string_view text) {
  size_t length = std::max<size_t>(scanChar(text, 0).length, 1);
  return charClasses().word->matchesWhole(text.substr(0, length));
}

bool endsWithWordChar(std::string_view text) {
  return charClasses().word->matchesWhole(text.substr(lastCharStart(text)));
}

//===----------------------------------------------------------------------===//
// Reading JSON without exceptions
//===----------------------------------------------------------------------===//

/// The member `key` of `node`, or null when `node` is not an object or has
/// no such member.
const json *member(const json &node, const char *key) {
  if (!node.is_object())
    return nullptr;
  auto it = node.find(key);
  return it == node.end() ? nullptr : &*it;
}

/// The member `key` of `node`, or null (JSON's) when there is none.
const json &memberOrNull(const json &node, const char *key) {
  static const json null;
  const json *value = member(node, key);
  return value ? *value : null;
}

/// The string member `key` of `node`, if it is one.
std::optional<std::string> stringMember(const json &node, const char *key) {
  const json *value = member(node, key);
  if (!value || !value->is_string())
    return std::nullopt;
  return value->get<std::string>();
}

/// The boolean member `key` of `node`; `fallback` when absent or null.
bool boolMember(const json &node, const char *key, bool fallback) {
  const json *value = member(node, key);
  return value && value->is_boolean() ? value->get<bool>() : fallback;
}

/// The integer member `key` of `node`; `fallback` when absent.
int64_t intMember(const json &node, const char *key, int64_t fallback) {
  const json *value = member(node, key);
  return value && value->is_number_integer() ? value->get<int64_t>() : fallback;
}

/// Finds where a text stops being valid JSON (nlohmann's DOM parser without
/// exceptions only says that it is not).
class JsonErrorFinder : public nlohmann::json_sax<json> {
public:
  std::string message = "not valid JSON";

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t &) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &ex) override {
    // "[json.exception.parse_error.101] parse error at line 1, ...".
    std::string what = ex.what();
    size_t bracket = what.find("] ");
    message = "not valid JSON: " +
              (bracket == std::string::npos ? what : what.substr(bracket + 2));
    return false;
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// The tokenizer's parts
//===----------------------------------------------------------------------===//

struct Tokenizer::Impl {
  /// One step of normalization.
  struct Normalizer {
    enum Kind { Prepend, Replace } kind;
    /// The text prepended, or the literal pattern replaced.
    std::string text;
    /// The replacement.
    std::string content;
    /// The pattern replaced, when a regex.
    std::unique_ptr<Regex> regex;
  };

  /// How a Split keeps the matches of its pattern (SplitDelimiterBehavior).
  enum class Behavior {
    Isolated,
    Removed,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous
  };

  /// One step of pre-tokenization.
  struct PreTokenizer {
    enum Kind { Split, ByteLevel, Metaspace } kind;
    /// Split: the pattern (regex, or else the literal `literal`); ByteLevel:
    /// GPT-2's pattern when use_regex.
    std::unique_ptr<Regex> regex;
    std::string literal;
    Behavior behavior = Behavior::Isolated;
    bool invert = false;
    /// ByteLevel: prepend a space to pieces that do not start with one.
    bool addPrefixSpace = false;
    /// Metaspace: the replacement of spaces, whether it is prepended (to
    /// every piece, or only to the one at the start of the text), and
    /// whether the piece is split before each replacement.
    std::string replacement;
    bool prepend = true, prependFirstOnly = false, split = true;
  };

  /// One step of decoding.
  struct Decoder {
    enum Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
    /// Replace: the literal pattern (or `regex`) and its replacement; Strip:
    /// the character stripped; Metaspace: the replacement of spaces.
    std::string pattern, content;
    std::unique_ptr<Regex> regex;
    int64_t start = 0, stop = 0;
    bool prepend = true;
  };

  struct AddedToken {
    std::string content;
    int64_t id;
    bool special, lstrip, rstrip, singleWord, normalized;
  };

  /// Finds added tokens in a text, the longest at the leftmost position
  /// (Aho-Corasick's leftmost-longest semantics).
  struct AddedMatcher {
    struct Entry {
      std::string pattern;
      const AddedToken *token;
    };
    /// By first byte, longest first.
    std::array<std::vector<Entry>, 256> byFirstByte;
    bool empty = true;

    void add(std::string pattern, const AddedToken *token) {
      if (pattern.empty())
        return;
      byFirstByte[static_cast<unsigned char>(pattern[0])].push_back(
          {std::move(pattern), token});
      empty = false;
    }
    void sort() {
      for (std::vector<Entry> &entries : byFirstByte)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const Entry &a, const Entry &b) {
                           return a.pattern.size() > b.pattern.size();
                         });
    }
  };

  /// A part of a text: an added token, or the text between them.
  struct Segment {
    size_t begin, end;
    const AddedToken *token;
  };

  /// A piece of text during pre-tokenization; `atStart` when it begins the
  /// whole input (Metaspace's prepend_scheme "first").
  struct Piece {
    std::string text;
    bool atStart;
  };

  /// A BPE merge: its rank (lower merges first) and the merged token.
  struct Merge {
    int32_t rank;
    int32_t id;
  };

  // The model.
  std::unordered_map<std::string, int64_t> vocab;
  std::unordered_map<uint64_t, Merge> merges;
  std::optional<int64_t> unknown;
  std::array<int64_t, 256> byteTokens;
  bool byteFallback = false, fuseUnknown = false, ignoreMerges = false;
  std::string subwordPrefix, wordSuffix;

  // Ids to tokens.
  std::vector<std::string> pieces;
  std::vector<int32_t> addedIndex;
  /// The ids encode() may give are below it (limitVocabulary).
  int64_t idLimit = std::numeric_limits<int64_t>::max();

  // Added tokens, matched on the raw text or (normalized ones) on the
  // normalized pieces between the others.
  std::vector<AddedToken> added;
  std::unordered_map<std::string, int64_t> addedIds;
  AddedMatcher rawMatcher, normalizedMatcher;

  std::vector<Normalizer> normalizers;
  std::vector<PreTokenizer> preTokenizers;
  std::vector<Decoder> decoders;
  bool hasDecoder = false;
  std::vector<int64_t> prefixTokens, suffixTokens;

  mutable std::mutex cacheMutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;

  std::vector<Segment> splitAdded(const AddedMatcher &matcher,
                                  std::string_view text) const;
  bool normalize(std::string_view text, std::string &out,
                 std::string &error) const;
  bool preTokenize(std::string text, bool atStart, std::vector<Piece> &words,
                   std::string &error) const;
  bool bpe(const std::string &word, std::vector<int64_t> &ids,
           std::string &error) const;
  std::string decodeBytes(const std::vector<int64_t> &ids,
                          bool skipSpecial) const;
};

namespace {

using Impl = Tokenizer::Impl;

/// Where a text's pattern matches, as HF's Pattern::find_matches: parts
/// covering the text, each a match or not.
struct Part {
  size_t begin, end;
  bool isMatch;
};

/// Splits `piece` at the matches of the Split step `step`, keeping or
/// removing them as its behavior says.
bool splitPiece(const Impl::Piece &piece, const Impl::PreTokenizer &step,
                std::vector<Impl::Piece> &out, std::string &error) {
  const std::string &text = piece.text;
  std::vector<std::pair<size_t, size_t>> found;
  if (step.regex) {
    if (!step.regex->matches(text, found, error))
      return false;
  } else {
    for (size_t at = text.find(step.literal); at != std::string::npos;
         at = text.find(step.literal, at + step.literal.size()))
      found.emplace_back(at, at + step.literal.size());
  }
  std::vector<Part> parts;
  size_t previous = 0;
  for (auto [begin, end] : found) {
    if (previous < begin)
      parts.push_back({previous, begin, false});
    parts.push_back({begin, end, true});
    previous = end;
  }
  if (previous < text.size())
    parts.push_back({previous, text.size(), false});
  if (step.invert)
    for (Part &part : parts)
      part.isMatch = !part.isMatch;

  std::vector<Part> kept;
  bool previousMatch = false;
  switch (step.behavior) {
  case Impl::Behavior::Isolated:
    kept = parts;
    break;
  case Impl::Behavior::Removed:
    for (const Part &part : parts)
      if (!part.isMatch)
        kept.push_back(part);
    break;
  case Impl::Behavior::Contiguous:
    for (const Part &part : parts) {
      if (part.isMatch == previousMatch && !kept.empty())
        kept.back().end = part.end;
      else
        kept.push_back(part);
      previousMatch = part.isMatch;
    }
    break;
  case Impl::Behavior::MergedWithPrevious:
    for (const Part &part : parts) {
      if (part.isMatch && !previousMatch && !kept.empty())
        kept.back().end = part.end;
      else
        kept.push_back(part);
      previousMatch = part.isMatch;
    }
    break;
  case Impl::Behavior::MergedWithNext:
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (it->isMatch && !previousMatch && !kept.empty())
        kept.back().begin = it->begin;
      else
        kept.push_back(*it);
      previousMatch = it->isMatch;
    }
    std::reverse(kept.begin(), kept.end());
    break;
  }
  for (const Part &part : kept)
    if (part.end > part.begin)
      out.push_back({text.substr(part.begin, part.end - part.begin),
                     piece.atStart && part.begin == 0});
  return true;
}

/// Reads a pattern {"String": s} or {"Regex": r} of `node` into `literal` or
/// `regex`.
bool readPattern(const json &node, const std::string &where,
                 std::string &literal, std::unique_ptr<Regex> &regex,
                 std::string &error) {
  const json *pattern = member(node, "pattern");
  std::optional<std::string> string =
      pattern ? stringMember(*pattern, "String") : std::nullopt;
  std::optional<std::string> source =
      pattern ? stringMember(*pattern, "Regex") : std::nullopt;
  if (string && !string->empty()) {
    literal = *string;
    return true;
  }
  if (!source || source->empty()) {
    error = "field '" + where +
            ".pattern' needs a non-empty \"String\" or \"Regex\"";
    return false;
  }
  std::string why;
  regex = Regex::compile(*source, why);
  if (!regex) {
    error = "field '" + where + ".pattern': " + why;
    return false;
  }
  return true;
}

/// The string `type` of the component `node`, or an error naming `where`.
std::optional<std::string>
componentType(const json &node, const std::string &where, std::string &error) {
  std::optional<std::string> type = stringMember(node, "type");
  if (!type)
    error = "field '" + where + "' needs a string 'type'";
  return type;
}

/// Reads every member of the Sequence component `node` (its array `key`)
/// with `readItem(item, whereItem)`; false (with `error` set) on the first
/// failure.
bool readSequence(
    const json &node, const char *key, const std::string &where,
    std::string &error,
    const std::function<bool(const json &, const std::string &)> &readItem) {
  const json *items = member(node, key);
  if (!items || !items->is_array()) {
    error = "field '" + where + "' (Sequence) needs an array '" + key + "'";
    return false;
  }
  for (size_t i = 0; i < items->size(); ++i)
    if (!readItem((*items)[i],
                  where + "." + key + "[" + std::to_string(i) + "]"))
      return false;
  return true;
}

bool readNormalizer(const json &node, const std::string &where,
                    std::vector<Impl::Normalizer> &steps, std::string &error) {
  if (node.is_null())
    return true;
  std::optional<std::string> type = componentType(node, where, error);
  if (!type)
    return false;
  if (*type == "Sequence")
    return readSequence(node, "normalizers", where, error,
                        [&](const json &item, const std::string &at) {
                          return readNormalizer(item, at, steps, error);
                        });
  if (*type == "NFC")
    return true;
  Impl::Normalizer step;
  if (*type == "Prepend") {
    step.kind = Impl::Normalizer::Prepend;
    std::optional<std::string> text = stringMember(node, "prepend");
    if (!text) {
      error = "field '" + where + "' (Prepend) needs a string 'prepend'";
      return false;
    }
    step.text = *text;
  } else if (*type == "Replace") {
    step.kind = Impl::Normalizer::Replace;
    std::optional<std::string> content = stringMember(node, "content");
    if (!content) {
      error = "field '" + where + "' (Replace) needs a string 'content'";
      return false;
    }
    step.content = *content;
    if (!readPattern(node, where, step.text, step.regex, error))
      return false;
  } else {
    error = "field '" + where + "': unsupported normalizer '" + *type +
            "' (supported: Sequence, Prepend, Replace, NFC)";
    return false;
  }
  steps.push_back(std::move(step));
  return true;
}

std::optional<Impl::Behavior> parseBehavior(const std::string &name) {
  if (name == "Isolated")
    return Impl::Behavior::Isolated;
  if (name == "Removed")
    return Impl::Behavior::Removed;
  if (name == "MergedWithPrevious")
    return Impl::Behavior::MergedWithPrevious;
  if (name == "MergedWithNext")
    return Impl::Behavior::MergedWithNext;
  if (name == "Contiguous")
    return Impl::Behavior::Contiguous;
  return std::nullopt;
}

bool readPreTokenizer(const json &node, const std::string &where,
                      std::vector<Impl::PreTokenizer> &steps,
                      std::string &error) {
  using Step = Impl::PreTokenizer;
  if (node.is_null())
    return true;
  std::optional<std::string> type = componentType(node, where, error);
  if (!type)
    return false;
  if (*type == "Sequence")
    return readSequence(node, "pretokenizers", where, error,
                        [&](const json &item, const std::string &at) {
                          return readPreTokenizer(item, at, steps, error);
                        });
  Step step;
  step.kind = Step::Split;
  if (*type == "Split") {
    if (!readPattern(node, where, step.literal, step.regex, error))
      return false;
    std::string name = stringMember(node, "behavior").value_or("");
    std::optional<Impl::Behavior> behavior = parseBehavior(name);
    if (!behavior) {
      error = "field '" + where + ".behavior': unsupported '" + name + "'";
      return false;
    }
    step.behavior = *behavior;
    step.invert = boolMember(node, "invert", false);
  } else if (*type == "ByteLevel") {
    step.kind = Step::ByteLevel;
    step.addPrefixSpace = boolMember(node, "add_prefix_space", false);
    if (boolMember(node, "use_regex", true))
      step.regex = builtinRegex(kGpt2Pattern);
  } else if (*type == "Metaspace") {
    step.kind = Step::Metaspace;
    step.replacement = stringMember(node, "replacement").value_or("\u2581");
    if (step.replacement.empty()) {
      error = "field '" + where + ".replacement' must not be empty";
      return false;
    }
    std::string scheme = stringMember(node, "prepend_scheme").value_or("");
    if (!scheme.empty() && scheme != "always" && scheme != "first" &&
        scheme != "never") {
      error = "field '" + where + ".prepend_scheme': unsupported '" + scheme +
              "' (always, first or never)";
      return false;
    }
    step.prepend = scheme.empty() ? boolMember(node, "add_prefix_space", true)
                                  : scheme != "never";
    step.prependFirstOnly = scheme == "first";
    step.split = boolMember(node, "split", true);
  } else if (*type == "Digits") {
    bool individual = boolMember(node, "individual_digits", false);
    step.regex = builtinRegex(R"(\p{N})");
    step.behavior =
        individual ? Impl::Behavior::Isolated : Impl::Behavior::Contiguous;
  } else if (*type == "Whitespace") {
    step.regex = builtinRegex(R"(\w+|[^\w\s]+)");
    step.behavior = Impl::Behavior::Removed;
    step.invert = true;
  } else if (*type == "WhitespaceSplit") {
    step.regex = builtinRegex(R"(\s+)");
    step.behavior = Impl::Behavior::Removed;
  } else {
    error = "field '" + where + "': unsupported pre-tokenizer '" + *type +
            "' (supported: Sequence, Split, ByteLevel, Metaspace, Digits, "
            "Whitespace, WhitespaceSplit)";
    return false;
  }
  steps.push_back(std::move(step));
  return true;
}

bool readDecoder(const json &node, const std::string &where,
                 std::vector<Impl::Decoder> &steps, std::string &error) {
  using Step = Impl::Decoder;
  if (node.is_null())
    return true;
  std::optional<std::string> type = componentType(node, where, error);
  if (!type)
    return false;
  if (*type == "Sequence")
    return readSequence(node, "decoders", where, error,
                        [&](const json &item, const std::string &at) {
                          return readDecoder(item, at, steps, error);
                        });
  Step step;
  if (*type == "ByteLevel") {
    step.kind = Step::ByteLevel;
  } else if (*type == "Replace") {
    step.kind = Step::Replace;
    std::optional<std::string> content = stringMember(node, "content");
    if (!content) {
      error = "field '" + where + "' (Replace) needs a string 'content'";
      return false;
    }
    step.content = *content;
    if (!readPattern(node, where, step.pattern, step.regex, error))
      return false;
  } else if (*type == "ByteFallback") {
    step.kind = Step::ByteFallback;
  } else if (*type == "Fuse") {
    step.kind = Step::Fuse;
  } else if (*type == "Strip") {
    step.kind = Step::Strip;
    step.content = stringMember(node, "content").value_or(" ");
    step.start = std::max<int64_t>(intMember(node, "start", 0), 0);
    step.stop = std::max<int64_t>(intMember(node, "stop", 0), 0);
    if (step.content.empty()) {
      error = "field '" + where + ".content' must not be empty";
      return false;
    }
  } else if (*type == "Metaspace") {
    step.kind = Step::Metaspace;
    step.pattern = stringMember(node, "replacement").value_or("\u2581");
    std::optional<std::string> scheme = stringMember(node, "prepend_scheme");
    step.prepend = scheme ? *scheme != "never"
                          : boolMember(node, "add_prefix_space", true);
    if (step.pattern.empty()) {
      error = "field '" + where + ".replacement' must not be empty";
      return false;
    }
  } else {
    error = "field '" + where + "': unsupported decoder '" + *type +
            "' (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, "
            "Strip, Metaspace)";
    return false;
  }
  steps.push_back(std::move(step));
  return true;
}

/// The id of a post-processor's [token, id] pair `key` (RobertaProcessing,
/// BertProcessing).
std::optional<int64_t> pairId(const json &node, const char *key) {
  const json *pair = member(node, key);
  if (!pair || !pair->is_array() || pair->size() != 2 ||
      !(*pair)[1].is_number_integer())
    return std::nullopt;
  return (*pair)[1].get<int64_t>();
}

/// Reads the special tokens that the post-processor puts around a single
/// sequence into `impl.prefixTokens` and `impl.suffixTokens`.
bool readPostProcessor(const json &node, const std::string &where, Impl &impl,
                       std::string &error) {
  if (node.is_null())
    return true;
  std::optional<std::string> type = componentType(node, where, error);
  if (!type)
    return false;
  if (*type == "Sequence")
    return readSequence(node, "processors", where, error,
                        [&](const json &item, const std::string &at) {
                          return readPostProcessor(item, at, impl, error);
                        });
  if (*type == "ByteLevel")
    return true;
  if (*type == "RobertaProcessing" || *type == "BertProcessing") {
    std::optional<int64_t> cls = pairId(node, "cls"), sep = pairId(node, "sep");
    if (!cls || !sep) {
      error = "field '" + where + "' (" + *type +
              ") needs 'cls' and 'sep' as [token, id]";
      return false;
    }
    impl.prefixTokens.push_back(*cls);
    impl.suffixTokens.insert(impl.suffixTokens.begin(), *sep);
    return true;
  }
  if (*type != "TemplateProcessing") {
    error = "field '" + where + "': unsupported post-processor '" + *type +
            "' (supported: TemplateProcessing, RobertaProcessing, "
            "BertProcessing, ByteLevel, Sequence)";
    return false;
  }
  const json *single = member(node, "single");
  const json *specials = member(node, "special_tokens");
  if (!single || !single->is_array()) {
    error = "field '" + where + ".single' must be an array";
    return false;
  }
  std::vector<int64_t> prefix, suffix;
  bool afterSequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const json &item = (*single)[i];
    std::string at = where + ".single[" + std::to_string(i) + "]";
    if (member(item, "Sequence")) {
      afterSequence = true;
      continue;
    }
    const json *special = member(item, "SpecialToken");
    std::optional<std::string> name =
        special ? stringMember(*special, "id") : std::nullopt;
    if (!name) {
      error = "field '" + at + "' must be a Sequence or a SpecialToken";
      return false;
    }
    const json *entry = specials ? member(*specials, name->c_str()) : nullptr;
    const json *ids = entry ? member(*entry, "ids") : nullptr;
    if (!ids || !ids->is_array()) {
      error = "field '" + at + "': special token '" + *name +
              "' has no ids in '" + where + ".special_tokens'";
      return false;
    }
    for (const json &id : *ids) {
      if (!id.is_number_integer()) {
        error = "field '" + where + ".special_tokens': the ids of '" + *name +
                "' must be integers";
        return false;
      }
      (afterSequence ? suffix : prefix).push_back(id.get<int64_t>());
    }
  }
  impl.prefixTokens.insert(impl.prefixTokens.end(), prefix.begin(),
                           prefix.end());
  impl.suffixTokens.insert(impl.suffixTokens.begin(), suffix.begin(),
                           suffix.end());
  return true;
}

/// Splits a merge "a b" or ["a", "b"] into its two tokens.
bool mergePair(const json &merge, std::string &left, std::string &right) {
  if (merge.is_string()) {
    const std::string &pair = merge.get_ref<const std::string &>();
    size_t space = pair.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == pair.size() ||
        pair.find(' ', space + 1) != std::string::npos)
      return false;
    left = pair.substr(0, space);
    right = pair.substr(space + 1);
    return true;
  }
  if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
      merge[1].is_string()) {
    left = merge[0].get<std::string>();
    right = merge[1].get<std::string>();
    return !left.empty() && !right.empty();
  }
  return false;
}

uint64_t pairKey(int64_t left, int64_t right) {
  return static_cast<uint64_t>(left) << 32 | static_cast<uint64_t>(right);
}

/// Reads the BPE model: vocabulary, merges and options.
bool readModel(const json &root, Impl &impl, int64_t &size,
               std::string &error) {
  const json *model = member(root, "model");
  std::optional<std::string> type =
      model ? stringMember(*model, "type") : std::nullopt;
  // Files from before the 'type' tag have a BPE model with merges.
  bool untaggedBpe =
      model && !member(*model, "type") && member(*model, "merges");
  if (!untaggedBpe && type != "BPE") {
    error = "field 'model.type' must be \"BPE\" (the only tokenizer model "
            "supported)";
    return false;
  }
  const json *vocab = member(*model, "vocab");
  if (!vocab || !vocab->is_object()) {
    error = "field 'model.vocab' must be an object";
    return false;
  }
  impl.vocab.reserve(vocab->size());
  for (const auto &[piece, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > kMaxTokenId) {
      error = "field 'model.vocab': the id of '" + piece +
              "' is not an integer from 0 to " + std::to_string(kMaxTokenId);
      return false;
    }
    impl.vocab[piece] = id.get<int64_t>();
    size = std::max(size, id.get<int64_t>() + 1);
  }
  impl.subwordPrefix =
      stringMember(*model, "continuing_subword_prefix").value_or("");
  impl.wordSuffix = stringMember(*model, "end_of_word_suffix").value_or("");

  const json *merges = member(*model, "merges");
  if (merges && !merges->is_null() && !merges->is_array()) {
    error = "field 'model.merges' must be an array";
    return false;
  }
  size_t count = merges && merges->is_array() ? merges->size() : 0;
  impl.merges.reserve(count);
  for (size_t rank = 0; rank < count; ++rank) {
    std::string where = "field 'model.merges[" + std::to_string(rank) + "]'";
    std::string left, right;
    if (!mergePair((*merges)[rank], left, right)) {
      error = where + " is not two tokens (\"a b\" or [\"a\", \"b\"])";
      return false;
    }
    std::string merged = left;
    merged.append(right, std::min(impl.subwordPrefix.size(), right.size()));
    auto l = impl.vocab.find(left), r = impl.vocab.find(right),
         m = impl.vocab.find(merged);
    for (auto [it, token] :
         {std::pair{l, &left}, std::pair{r, &right}, std::pair{m, &merged}})
      if (it == impl.vocab.end()) {
        error = where + ": token '" + *token + "' is not in the vocabulary";
        return false;
      }
    impl.merges.emplace(pairKey(l->second, r->second),
                        Impl::Merge{static_cast<int32_t>(rank),
                                    static_cast<int32_t>(m->second)});
  }

  impl.byteFallback = boolMember(*model, "byte_fallback", false);
  impl.fuseUnknown = boolMember(*model, "fuse_unk", false);
  impl.ignoreMerges = boolMember(*model, "ignore_merges", false);
  if (std::optional<std::string> unk = stringMember(*model, "unk_token")) {
    auto it = impl.vocab.find(*unk);
    if (it != impl.vocab.end())
      impl.unknown = it->second;
  }
  impl.byteTokens.fill(-1);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    auto it = impl.vocab.find(name);
    if (it != impl.vocab.end())
      impl.byteTokens[b] = it->second;
  }
  return true;
}

/// Reads `added_tokens`.
bool readAddedTokens(const json &root, Impl &impl, int64_t &size,
                     std::string &error) {
  const json *tokens = member(root, "added_tokens");
  if (!tokens || tokens->is_null())
    return true;
  if (!tokens->is_array()) {
    error = "field 'added_tokens' must be an array";
    return false;
  }
  for (size_t i = 0; i < tokens->size(); ++i) {
    const json &token = (*tokens)[i];
    std::optional<std::string> content = stringMember(token, "content");
    int64_t id = intMember(token, "id", -1);
    if (!content || content->empty() || id < 0 || id > kMaxTokenId) {
      error = "field 'added_tokens[" + std::to_string(i) +
              "]' needs a non-empty string 'content' and an integer 'id' "
              "from 0 to " +
              std::to_string(kMaxTokenId);
      return false;
    }
    bool special = boolMember(token, "special", false);
    impl.added.push_back({*content, id, special,
                          boolMember(token, "lstrip", false),
                          boolMember(token, "rstrip", false),
                          boolMember(token, "single_word", false),
                          boolMember(token, "normalized", !special)});
    size = std::max(size, id + 1);
  }
  return true;
}

} // namespace

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &path,
                                           std::string &error) {
  std::optional<std::string> text =
      readRegularFile(path, kMaxTokenizerBytes, error);
  if (!text)
    return nullptr;
  return parse(*text, path, error);
}

std::unique_ptr<Tokenizer> Tokenizer::parse(std::string_view text,
                                            const std::string &name,
                                            std::string &error) {
  auto fail = [&](const std::string &message) -> std::unique_ptr<Tokenizer> {
    error = name + ": " + message;
    return nullptr;
  };
  std::string jsonError;
  std::optional<json> document = tptt::runtime::parseJson(text, jsonError);
  if (!document) {
    if (jsonError != "not valid JSON")
      return fail(jsonError);
    JsonErrorFinder finder;
    json::sax_parse(text, &finder);
    return fail(finder.message);
  }
  json &root = *document;
  if (!root.is_object())
    return fail("the top level is not a JSON object");

  auto impl = std::make_unique<Impl>();
  std::string why;
  int64_t size = 0;
  if (!readModel(root, *impl, size, why) ||
      !readAddedTokens(root, *impl, size, why) ||
      !readNormalizer(memberOrNull(root, "normalizer"), "normalizer",
                      impl->normalizers, why) ||
      !readPreTokenizer(memberOrNull(root, "pre_tokenizer"), "pre_tokenizer",
                        impl->preTokenizers, why) ||
      !readDecoder(memberOrNull(root, "decoder"), "decoder", impl->decoders,
                   why) ||
      !readPostProcessor(memberOrNull(root, "post_processor"), "post_processor",
                         *impl, why))
    return fail(why);
  const json *decoder = member(root, "decoder");
  impl->hasDecoder = decoder && !decoder->is_null();
  for (int64_t id : impl->prefixTokens)
    if (id < 0 || id >= size)
      return fail("field 'post_processor': token id " + std::to_string(id) +
                  " is outside the vocabulary");
  for (int64_t id : impl->suffixTokens)
    if (id < 0 || id >= size)
      return fail("field 'post_processor': token id " + std::to_string(id) +
                  " is outside the vocabulary");

  impl->pieces.assign(size, "");
  impl->addedIndex.assign(size, -1);
  for (const auto &[piece, id] : impl->vocab)
    impl->pieces[id] = piece;
  for (size_t i = 0; i < impl->added.size(); ++i) {
    const Impl::AddedToken &token = impl->added[i];
    impl->pieces[token.id] = token.content;
    impl->addedIndex[token.id] = static_cast<int32_t>(i);
    impl->addedIds[token.content] = token.id;
    if (!token.normalized) {
      impl->rawMatcher.add(token.content, &token);
      continue;
    }
    std::string pattern;
    if (!impl->normalize(token.content, pattern, why))
      return fail("field 'added_tokens[" + std::to_string(i) + "]': " + why);
    impl->normalizedMatcher.add(pattern, &token);
  }
  impl->rawMatcher.sort();
  impl->normalizedMatcher.sort();
  return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

std::vector<Impl::Segment> Impl::splitAdded(const AddedMatcher &matcher,
                                            std::string_view text) const {
  std::vector<Segment> out;
  size_t taken = 0;
  for (size_t at = 0; !matcher.empty && at < text.size();) {
    const AddedMatcher::Entry *match = nullptr;
    for (const AddedMatcher::Entry &entry :
         matcher.byFirstByte[static_cast<unsigned char>(text[at])])
      if (text.compare(at, entry.pattern.size(), entry.pattern) == 0) {
        match = &entry;
        break;
      }
    if (!match) {
      ++at;
      continue;
    }
    size_t start = at, stop = at + match->pattern.size();
    at = stop;
    const AddedToken &token = *match->token;
    if (token.singleWord &&
        ((start > 0 && endsWithWordChar(text.substr(0, start))) ||
         (stop < text.size() && startsWithWordChar(text.substr(stop)))))
      continue;
    if (token.lstrip)
      start = std::max(taken, start - trailingSpace(text.substr(0, start)));
    if (token.rstrip) {
      stop += leadingSpace(text.substr(stop));
      at = stop;
    }
    if (taken < start)
      out.push_back({taken, start, nullptr});
    out.push_back({start, stop, &token});
    taken = stop;
  }
  if (taken < text.size())
    out.push_back({taken, text.size(), nullptr});
  return out;
}

bool Impl::normalize(std::string_view text, std::string &out,
                     std::string &error) const {
  out = std::string(text);
  for (const Normalizer &step : normalizers) {
    if (step.kind == Normalizer::Prepend) {
      if (!out.empty())
        out.insert(0, step.text);
      continue;
    }
    if (!step.regex) {
      out = replaceAll(out, step.text, step.content);
      continue;
    }
    std::vector<std::pair<size_t, size_t>> found;
    if (!step.regex->matches(out, found, error))
      return false;
    std::string replaced;
    size_t last = 0;
    for (auto [begin, end] : found) {
      replaced.append(out, last, begin - last);
      replaced += step.content;
      last = end;
    }
    replaced.append(out, last);
    out = std::move(replaced);
  }
  return true;
}

bool Impl::preTokenize(std::string text, bool atStart,
                       std::vector<Piece> &words, std::string &error) const {
  words.clear();
  words.push_back({std::move(text), atStart});
  std::vector<Piece> next;
  for (const PreTokenizer &step : preTokenizers) {
    next.clear();
    for (Piece &piece : words) {
      switch (step.kind) {
      case PreTokenizer::Split:
        if (!splitPiece(piece, step, next, error))
          return false;
        break;
      case PreTokenizer::ByteLevel: {
        if (step.addPrefixSpace && piece.text.rfind(' ', 0) != 0)
          piece.text.insert(0, " ");
        size_t first = next.size();
        if (step.regex) {
          if (!splitPiece(piece, step, next, error))
            return false;
        } else {
          next.push_back(std::move(piece));
        }
        for (size_t i = first; i < next.size(); ++i) {
          std::string mapped;
          mapped.reserve(next[i].text.size() * 2);
          for (unsigned char c : next[i].text)
            mapped += byteAlphabet().ofByte[c];
          next[i].text = std::move(mapped);
        }
        break;
      }
      case PreTokenizer::Metaspace: {
        piece.text = replaceAll(piece.text, " ", step.replacement);
        if (step.prepend && (piece.atStart || !step.prependFirstOnly) &&
            piece.text.rfind(step.replacement, 0) != 0)
          piece.text.insert(0, step.replacement);
        if (step.split) {
          PreTokenizer around;
          around.kind = PreTokenizer::Split;
          around.literal = step.replacement;
          around.behavior = Behavior::MergedWithNext;
          if (!splitPiece(piece, around, next, error))
            return false;
        } else if (!piece.text.empty()) {
          next.push_back(std::move(piece));
        }
        break;
      }
      }
    }
    words.swap(next);
  }
  return true;
}

bool Impl::bpe(const std::string &word, std::vector<int64_t> &ids,
               std::string &error) const {
  if (ignoreMerges) {
    auto whole = vocab.find(word);
    if (whole != vocab.end()) {
      ids.push_back(whole->second);
      return true;
    }
  }
  bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = cache.find(word);
    if (it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return true;
    }
  }

  // The word's characters as tokens (bytes or the unknown token for those
  // outside the vocabulary), in a doubly linked list.
  struct Symbol {
    int64_t id;
    int prev, next;
  };
  std::vector<Symbol> symbols;
  auto append = [&](int64_t id) {
    int index = static_cast<int>(symbols.size());
    symbols.push_back({id, index - 1, -1});
    if (index > 0)
      symbols[index - 1].next = index;
  };
  // The unknown token waiting to be appended (fuse_unk joins a run), or -1.
  int64_t pendingUnknown = -1;
  for (size_t at = 0; at < word.size();) {
    size_t length = std::max<size_t>(scanChar(word, at).length, 1);
    std::string piece = word.substr(at, length);
    if (at > 0)
      piece.insert(0, subwordPrefix);
    at += length;
    if (at == word.size())
      piece += wordSuffix;
    auto it = vocab.find(piece);
    if (it != vocab.end()) {
      if (pendingUnknown >= 0)
        append(pendingUnknown);
      pendingUnknown = -1;
      append(it->second);
      continue;
    }
    if (byteFallback && std::all_of(piece.begin(), piece.end(), [&](char c) {
          return byteTokens[static_cast<unsigned char>(c)] >= 0;
        })) {
      if (pendingUnknown >= 0)
        append(pendingUnknown);
      pendingUnknown = -1;
      for (unsigned char c : piece)
        append(byteTokens[c]);
      continue;
    }
    if (!unknown) {
      error = "the text has a character the vocabulary cannot spell ('" +
              piece + "') and the tokenizer has no unk_token";
      return false;
    }
    if (pendingUnknown >= 0 && !fuseUnknown)
      append(pendingUnknown);
    pendingUnknown = *unknown;
  }
  if (pendingUnknown >= 0)
    append(pendingUnknown);

  // Merge the adjacent pair of lowest rank (the leftmost among equals) until
  // none is left; queue entries that no longer match their pair are stale.
  struct Candidate {
    int32_t rank;
    int pos;
    int32_t id;
    bool operator>(const Candidate &other) const {
      return rank != other.rank ? rank > other.rank : pos > other.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>,
                      std::greater<Candidate>>
      queue;
  auto consider = [&](int left) {
    int right = left < 0 ? -1 : symbols[left].next;
    if (right < 0)
      return;
    auto it = merges.find(pairKey(symbols[left].id, symbols[right].id));
    if (it != merges.end())
      queue.push({it->second.rank, left, it->second.id});
  };
  for (int i = 0; i + 1 < static_cast<int>(symbols.size()); ++i)
    consider(i);
  std::vector<bool> gone(symbols.size(), false);
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    if (gone[top.pos])
      continue;
    int right = symbols[top.pos].next;
    if (right < 0)
      continue;
    auto it = merges.find(pairKey(symbols[top.pos].id, symbols[right].id));
    if (it == merges.end() || it->second.id != top.id ||
        it->second.rank != top.rank)
      continue;
    symbols[top.pos].id = top.id;
    symbols[top.pos].next = symbols[right].next;
    if (symbols[right].next >= 0)
      symbols[symbols[right].next].prev = top.pos;
    gone[right] = true;
    if (symbols[top.pos].prev >= 0)
      consider(symbols[top.pos].prev);
    consider(top.pos);
  }

  std::vector<int64_t> out;
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next)
    out.push_back(symbols[i].id);
  ids.insert(ids.end(), out.begin(), out.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() < kMaxCachedWords)
      cache.emplace(word, std::move(out));
  }
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
  std::string normalized;
  std::vector<Impl::Piece> words;
  for (const Impl::Segment &segment :
       impl->splitAdded(impl->rawMatcher, text)) {
    if (segment.token) {
      ids.push_back(segment.token->id);
      continue;
    }
    if (!impl->normalize(
            text.substr(segment.begin, segment.end - segment.begin), normalized,
            error))
      return std::nullopt;
    for (const Impl::Segment &inner :
         impl->splitAdded(impl->normalizedMatcher, normalized)) {
      if (inner.token) {
        ids.push_back(inner.token->id);
        continue;
      }
      if (!impl->preTokenize(
              normalized.substr(inner.begin, inner.end - inner.begin),
              segment.begin == 0 && inner.begin == 0, words, error))
        return std::nullopt;
      for (const Impl::Piece &word : words)
        if (!word.text.empty() && !impl->bpe(word.text, ids, error))
          return std::nullopt;
    }
  }
  if (addSpecialTokens)
    ids.insert(ids.end(), impl->suffixTokens.begin(), impl->suffixTokens.end());
  for (int64_t id : ids)
    if (id >= impl->idLimit) {
      error = "the text holds the token '" + impl->pieces[id] + "' (id " +
              std::to_string(id) + "), past the model's vocabulary of " +
              std::to_string(impl->idLimit) + " tokens";
      return std::nullopt;
    }
  return ids;
}

bool Tokenizer::limitVocabulary(int64_t modelVocab, std::string &error) {
  for (int64_t id = modelVocab; id < vocabSize(); ++id)
    if (impl->addedIndex[id] < 0 && !impl->pieces[id].empty()) {
      error = "the vocabulary's token '" + impl->pieces[id] + "' has id " +
              std::to_string(id) + ", past the model's vocab_size " +
              std::to_string(modelVocab);
      return false;
    }
  impl->idLimit = modelVocab;
  return true;
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

std::string Impl::decodeBytes(const std::vector<int64_t> &ids,
                              bool skipSpecial) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int64_t id : ids) {
    if (id < 0 || id >= static_cast<int64_t>(pieces.size()))
      continue;
    int32_t index = addedIndex[id];
    if (index >= 0 && skipSpecial && added[index].special)
      continue;
    if (index < 0 && pieces[id].empty())
      continue;
    tokens.push_back(pieces[id]);
  }
  if (!hasDecoder) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i)
      out += (i ? " " : "") + tokens[i];
    return out;
  }
  for (const Decoder &step : decoders) {
    switch (step.kind) {
    case Decoder::ByteLevel: {
      // A token whose characters are all in the byte alphabet stands for
      // those bytes; any other (an added token) for its own text.
      std::string bytes;
      for (const std::string &token : tokens) {
        std::string mapped;
        bool all = true;
        for (size_t at = 0; all && at < token.size();) {
          size_t length = std::max<size_t>(scanChar(token, at).length, 1);
          uint32_t cp = codePoint(token, at, length);
          int16_t byte = cp < byteAlphabet().toByte.size()
                             ? byteAlphabet().toByte[cp]
                             : -1;
          all = byte >= 0;
          mapped += static_cast<char>(byte);
          at += length;
        }
        bytes += all ? mapped : token;
      }
      tokens = {bytes};
      break;
    }
    case Decoder::Replace:
      for (std::string &token : tokens) {
        if (!step.regex) {
          token = replaceAll(token, step.pattern, step.content);
          continue;
        }
        std::string text = lossyUtf8(token), replaced, unused;
        std::vector<std::pair<size_t, size_t>> found;
        if (!step.regex->matches(text, found, unused))
          continue;
        size_t last = 0;
        for (auto [begin, end] : found) {
          replaced.append(text, last, begin - last);
          replaced += step.content;
          last = end;
        }
        token = replaced + text.substr(last);
      }
      break;
    case Decoder::ByteFallback: {
      // Runs of byte tokens <0xXX> become the bytes they stand for.
      std::vector<std::string> out;
      bool inRun = false;
      for (std::string &token : tokens) {
        int high = token.size() == 6 ? hexDigit(token[3]) : -1;
        int low = token.size() == 6 ? hexDigit(token[4]) : -1;
        bool isByte = high >= 0 && low >= 0 &&
                      token.compare(0, 3, "<0x") == 0 && token[5] == '>';
        if (!isByte) {
          out.push_back(std::move(token));
          inRun = false;
          continue;
        }
        if (!inRun)
          out.emplace_back();
        out.back() += static_cast<char>(high << 4 | low);
        inRun = true;
      }
      tokens = std::move(out);
      break;
    }
    case Decoder::Fuse: {
      std::string all;
      for (const std::string &token : tokens)
        all += token;
      tokens = {all};
      break;
    }
    case Decoder::Strip:
      for (std::string &token : tokens) {
        const std::string &c = step.content;
        size_t begin = 0, end = token.size();
        for (int64_t i = 0;
             i < step.start && token.compare(begin, c.size(), c) == 0; ++i)
          begin += c.size();
        for (int64_t i = 0; i < step.stop && end >= begin + c.size() &&
                            token.compare(end - c.size(), c.size(), c) == 0;
             ++i)
          end -= c.size();
        token = token.substr(begin, end - begin);
      }
      break;
    case Decoder::Metaspace:
      for (size_t i = 0; i < tokens.size(); ++i) {
        tokens[i] = replaceAll(tokens[i], step.pattern, " ");
        if (i == 0 && step.prepend && tokens[i].rfind(' ', 0) == 0)
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
  return lossyUtf8(impl->decodeBytes(ids, skipSpecial));
}

std::string Tokenizer::decodeIncrement(const std::vector<int64_t> &ids,
                                       size_t &printedBytes) const {
  std::string bytes = impl->decodeBytes(ids, /*skipSpecial=*/true);
  size_t end = completeLength(bytes);
  if (end <= printedBytes)
    return "";
  std::string fresh = lossyUtf8(
      std::string_view(bytes).substr(printedBytes, end - printedBytes));
  printedBytes = end;
  return fresh;
}

int64_t Tokenizer::vocabSize() const {
  return static_cast<int64_t>(impl->pieces.size());
}

std::optional<int64_t> Tokenizer::tokenId(std::string_view token) const {
  std::string key(token);
  if (auto it = impl->addedIds.find(key); it != impl->addedIds.end())
    return it->second;
  if (auto it = impl->vocab.find(key); it != impl->vocab.end())
    return it->second;
  return std::nullopt;
}

std::optional<std::string> Tokenizer::tokenText(int64_t id) const {
  if (id < 0 || id >= vocabSize() ||
      (impl->addedIndex[id] < 0 && impl->pieces[id].empty()))
    return std::nullopt;
  return impl->pieces[id];
}

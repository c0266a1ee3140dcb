//===- Json.h - Parsing and quoting untrusted JSON --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Every JSON document a user gives (config.json, safetensors headers,
// adapter and tokenizer files, trainer_state.json, jsonl records) is parsed
// through here. nlohmann's parser keeps its own stack, but printing or
// destroying a value recurses: a header of 300 000 nested `[` overflows the
// stack as soon as a message quotes it. Nesting is therefore bounded while
// parsing, and messages quote values through `quoteJson`, which is short.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_JSON_H
#define TPTT_RUNTIME_JSON_H

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace runtime {

/// The deepest nesting accepted: far beyond any real file, far below what
/// recursion over a value can take.
constexpr int kMaxJsonDepth = 64;

/// Parses `text` in linear time. On failure returns nothing and sets
/// `error` ("not valid JSON", or "JSON nested deeper than 64 levels"). With
/// `topLevelKeys`, also lists the keys of a top-level object in the order
/// they appear, duplicates included (nlohmann::json keeps them sorted, and
/// ordered_json inserts in linear time: quadratic for a header of a million
/// tensors).
std::optional<nlohmann::json>
parseJson(std::string_view text, std::string &error,
          std::vector<std::string> *topLevelKeys = nullptr);

/// `value` for a message: scalars as JSON text cut to about 60 characters,
/// arrays and objects by their size.
std::string quoteJson(const nlohmann::json &value);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_JSON_H

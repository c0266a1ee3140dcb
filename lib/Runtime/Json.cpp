//===- Json.cpp - Parsing and quoting untrusted JSON ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Json.h"

using json = nlohmann::json;

namespace {

/// A first pass over the text that builds nothing: it stops at the first
/// value nested too deep, and lists the top-level object's keys in order.
/// (A parser callback could do both while building the value, but
/// nlohmann's callback parser rescans an object's members at the end of
/// each nested value: quadratic for a header of many tensors.)
struct Outline {
  int depth = 0;
  bool tooDeep = false;
  std::vector<std::string> *keys = nullptr;

  bool open() {
    tooDeep = ++depth > tptt::runtime::kMaxJsonDepth;
    return !tooDeep;
  }
  bool close() {
    --depth;
    return true;
  }
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const std::string &) { return true; }
  bool string(std::string &) { return true; }
  bool binary(json::binary_t &) { return true; }
  bool start_object(std::size_t) { return open(); }
  bool key(std::string &name) {
    if (depth == 1 && keys)
      keys->push_back(name);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &) {
    return false;
  }
};

} // namespace

std::optional<json>
tptt::runtime::parseJson(std::string_view text, std::string &error,
                         std::vector<std::string> *topLevelKeys) {
  if (topLevelKeys)
    topLevelKeys->clear();
  Outline outline;
  outline.keys = topLevelKeys;
  if (!json::sax_parse(text, &outline)) {
    error = outline.tooDeep ? "JSON nested deeper than " +
                                  std::to_string(kMaxJsonDepth) + " levels"
                            : "not valid JSON";
    return std::nullopt;
  }
  return json::parse(text);
}

std::string tptt::runtime::quoteJson(const json &value) {
  if (value.is_array())
    return "an array of " + std::to_string(value.size()) + " item(s)";
  if (value.is_object())
    return "an object of " + std::to_string(value.size()) + " field(s)";
  if (value.is_string() && value.get_ref<const std::string &>().size() > 60)
    return json(value.get_ref<const std::string &>().substr(0, 57))
               .dump(-1, ' ', false, json::error_handler_t::replace) +
           "...";
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

//===- Text.cpp - Numbers and fields in text ------------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

std::optional<double> tptt::runtime::parseNumber(const std::string &text) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::vector<std::string> tptt::runtime::splitText(const std::string &text,
                                                  char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);)
    parts.push_back(part);
  if (!text.empty() && text.back() == separator)
    parts.push_back("");
  return parts;
}

std::string tptt::runtime::formatNumber(const char *pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

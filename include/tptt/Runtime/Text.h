//===- Text.h - Numbers and fields in text ----------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The few text helpers the schedules and metrics.csv share.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TEXT_H
#define TPTT_RUNTIME_TEXT_H

#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// `text` as a finite number; nothing when it is empty, has trailing
/// characters, or is infinite or NaN.
std::optional<double> parseNumber(const std::string &text);

/// `text` cut at each `separator`; a trailing separator gives an empty last
/// field.
std::vector<std::string> splitText(const std::string &text, char separator);

/// `value` through a printf pattern such as "%.6g".
std::string formatNumber(const char *pattern, double value);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TEXT_H

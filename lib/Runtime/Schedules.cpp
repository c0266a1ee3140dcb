//===- Schedules.cpp - Learning-rate and μ schedules ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Schedules.h"
#include "tptt/Runtime/Text.h"

#include <algorithm>
#include <cmath>

namespace tptt {
namespace runtime {

std::optional<LrSchedule> LrSchedule::create(const std::string &kind,
                                             double peak, int64_t warmup,
                                             int64_t total,
                                             std::string &error) {
  if (kind != "constant" && kind != "linear" && kind != "cosine") {
    error = "unknown learning-rate schedule '" + kind +
            "' (constant, linear, cosine)";
    return std::nullopt;
  }
  LrSchedule schedule;
  schedule.kind = kind;
  schedule.peak = peak;
  schedule.warmup = warmup;
  schedule.total = std::max<int64_t>(total, 1);
  return schedule;
}

double LrSchedule::at(int64_t step) const {
  if (step <= warmup)
    return peak * static_cast<double>(step) / static_cast<double>(warmup);
  if (kind == "constant" || total <= warmup)
    return peak;
  double progress =
      static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  progress = std::min(progress, 1.0);
  if (kind == "linear")
    return peak * (1.0 - progress);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::string LrSchedule::describe() const {
  return kind + " " + formatNumber("%g", peak) +
         (warmup ? " (warm-up " + std::to_string(warmup) + ")" : "");
}

std::optional<MagSchedule> MagSchedule::parse(const std::string &text,
                                              double configWeight,
                                              std::string &error) {
  MagSchedule schedule;
  schedule.text = text;
  size_t colon = text.find(':');
  schedule.kind = text.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  auto fail = [&](const std::string &why) -> std::optional<MagSchedule> {
    error = "--mag-schedule '" + text + "': " + why;
    return std::nullopt;
  };
  auto weights = [&](const std::string &list, char separator) {
    std::vector<double> values;
    for (const std::string &part : splitText(list, separator)) {
      std::optional<double> value = parseNumber(part);
      if (!value)
        return std::vector<double>();
      values.push_back(*value);
    }
    return values;
  };
  if (schedule.kind == "constant") {
    schedule.values = weights(rest, ',');
    if (schedule.values.size() != 1)
      return fail("'constant' needs one weight, constant:W");
  } else if (schedule.kind == "gradual") {
    std::vector<std::string> parts = splitText(rest, ':');
    double steps = parts.size() == 3 ? parseNumber(parts[2]).value_or(0) : 0;
    schedule.values = weights(
        parts.size() == 3 ? parts[0] + "," + parts[1] : std::string(), ',');
    if (schedule.values.size() != 2 || steps < 1 || steps != std::floor(steps))
      return fail("'gradual' needs W0:W1:STEPS with STEPS >= 1");
    schedule.steps = static_cast<int64_t>(steps);
  } else if (schedule.kind == "cyclic") {
    schedule.values = weights(rest, ',');
    if (schedule.values.empty())
      return fail("'cyclic' needs a list of weights, cyclic:W0,W1,...");
  } else if (schedule.kind == "switch") {
    double period = rest.empty() ? 1.0 : parseNumber(rest).value_or(0);
    if (period < 1 || period != std::floor(period))
      return fail("'switch' needs a period >= 1, switch:PERIOD");
    schedule.steps = static_cast<int64_t>(period);
    schedule.values = {configWeight};
  } else {
    return fail("unknown schedule (constant:W, gradual:W0:W1:STEPS, "
                "cyclic:W0,W1,..., switch:PERIOD)");
  }
  // μ weighs the two branches: anything outside [0, 1] extrapolates them.
  for (double value : schedule.values)
    if (!std::isfinite(value) || value < 0 || value > 1)
      return fail("every weight must be a number in [0, 1], not " +
                  formatNumber("%g", value));
  return schedule;
}

double MagSchedule::at(int64_t step) const {
  if (kind == "constant")
    return values[0];
  if (kind == "gradual")
    return step >= steps ? values[1]
                         : values[0] + (values[1] - values[0]) *
                                           static_cast<double>(step) /
                                           static_cast<double>(steps);
  if (kind == "cyclic")
    return values[step % static_cast<int64_t>(values.size())];
  return (step / steps) % 2 == 0 ? 0.0 : values[0];
}

} // namespace runtime
} // namespace tptt

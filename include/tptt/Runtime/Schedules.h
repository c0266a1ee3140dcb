//===- Schedules.h - Learning-rate and μ schedules --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The learning rate and the Memory-as-Gate weight μ of each training step
// (1-based), as the seeds' trainer and LiZACallback set them.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_SCHEDULES_H
#define TPTT_RUNTIME_SCHEDULES_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// Linear warm-up to the peak, then constant, linear decay to 0 at the last
/// step, or cosine decay to 0 (Hugging Face's schedules).
class LrSchedule {
public:
  static std::optional<LrSchedule> create(const std::string &kind, double peak,
                                          int64_t warmup, int64_t total,
                                          std::string &error);
  double at(int64_t step) const;
  std::string describe() const;

private:
  std::string kind;
  double peak = 0;
  int64_t warmup = 0, total = 1;
};

/// μ per step, as the seeds' LiZACallback sets it: constant:W,
/// gradual:W0:W1:T (W0 + (W1 − W0)·s/T up to T, then W1), cyclic:W0,W1,...
/// (list[s mod len]) or switch:P (0, the linear branch off, during even
/// periods (s / P) % 2 == 0; the configured μ otherwise).
class MagSchedule {
public:
  static std::optional<MagSchedule>
  parse(const std::string &text, double configWeight, std::string &error);
  double at(int64_t step) const;
  std::string describe() const { return text; }

private:
  std::string text, kind;
  std::vector<double> values;
  int64_t steps = 1;
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_SCHEDULES_H

//===- Metrics.h - metrics.csv, the loss curve, the progress line *- C++
//-*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// What a training run reports: metrics.csv (resumable), the loss curve as a
// PNG (libpng), and the progress line on the terminal.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_METRICS_H
#define TPTT_RUNTIME_METRICS_H

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// One row of metrics.csv.
struct MetricsRow {
  int64_t step = 0, epoch = 0;
  double loss = 0;
  std::optional<double> evalLoss;
  double lr = 0, magWeight = 0, gradNorm = 0, tokensPerSecond = 0,
         elapsedSeconds = 0;
};

/// metrics.csv of a run directory. Opening keeps the rows of the steps up
/// to `resumeStep` (a resumed run) and drops later ones.
class MetricsLog {
public:
  static std::optional<MetricsLog> open(const std::string &path,
                                        int64_t resumeStep, std::string &error);
  bool append(const MetricsRow &row, std::string &error);
  const std::vector<MetricsRow> &rows() const { return all; }

private:
  bool write(std::string &error) const;

  std::string path;
  std::vector<MetricsRow> all;
};

/// The training loss (and the evaluation loss, with markers) against the
/// step, with axes and tick labels, as a PNG written atomically.
bool writeLossCurvePng(const std::string &path,
                       const std::vector<MetricsRow> &rows, std::string &error);

/// `step 12/100 [=====>    ] loss 3.214 eval 3.402 μ 0.124 lr 4.8e-04
/// 1234 tok/s ETA 0:42` on one updating line of a terminal; a plain line
/// every total/20 steps otherwise.
class ProgressBar {
public:
  ProgressBar(int64_t total, int64_t start);
  void update(const MetricsRow &row);
  void finish();

private:
  int64_t total, start;
  bool terminal;
  std::chrono::steady_clock::time_point began;
  std::optional<double> lastEval;
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_METRICS_H

//===- Training.h - What a training run needs besides the model -*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The pieces of `EXE train` that do not call the model: learning-rate and
// Memory-as-Gate schedules, token windows cut from text, a deterministic
// resumable batch sampler, atomic checkpoint directories, the metrics file,
// the loss-curve PNG and the progress line. Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TRAINING_H
#define TPTT_RUNTIME_TRAINING_H

#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace tptt {
namespace runtime {

/// A batch of next-token examples: row-major [batch, length].
struct TrainBatch {
  int64_t batch = 0, length = 0;
  std::vector<int64_t> tokens;
  /// The token to predict after each position; −100 where none is.
  std::vector<int64_t> labels;
  /// 1 for real tokens, 0 for padding.
  std::vector<uint8_t> mask;
};

//===----------------------------------------------------------------------===//
// Schedules (1-based steps)
//===----------------------------------------------------------------------===//

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

//===----------------------------------------------------------------------===//
// Data
//===----------------------------------------------------------------------===//

/// Training text as windows of L + 1 tokens: the documents (one per line of
/// a .jsonl file, its "text" field; a whole file otherwise), each encoded
/// with BOS before and EOS after when given (−1: none), packed into one
/// stream and cut into consecutive windows.
class TokenWindows {
public:
  static std::optional<TokenWindows> load(const std::vector<std::string> &files,
                                          const Tokenizer &tokenizer,
                                          int64_t bos, int64_t eos,
                                          int64_t length, std::string &error);

  int64_t size() const { return static_cast<int64_t>(starts.size()); }
  int64_t length() const { return windowLength; }
  /// Windows `indices` as a batch (tokens and the labels after them).
  TrainBatch batch(const std::vector<int64_t> &indices) const;
  /// Every window in order, in batches of at most `batchSize`.
  std::vector<TrainBatch> batches(int64_t batchSize) const;

private:
  std::vector<int64_t> stream;
  std::vector<int64_t> starts;
  int64_t windowLength = 0;
};

/// Shuffled batches of windows, epoch after epoch (the last partial batch of
/// an epoch is dropped), reproducible from the seed and resumable.
class BatchSampler {
public:
  static std::optional<BatchSampler> create(const TokenWindows &windows,
                                            int64_t batchSize, uint64_t seed,
                                            std::string &error);
  TrainBatch next();
  int64_t epoch() const { return epochIndex; }
  int64_t batchesPerEpoch() const;
  /// Where the sampler stands (epoch, position) and `restore` from it.
  nlohmann::json state() const;
  bool restore(const nlohmann::json &state, std::string &error);

private:
  void shuffle();

  const TokenWindows *windows = nullptr;
  int64_t batchSize = 1;
  uint64_t seed = 0;
  int64_t epochIndex = 0, position = 0;
  std::vector<int64_t> order;
};

//===----------------------------------------------------------------------===//
// Checkpoints, metrics, plots, progress
//===----------------------------------------------------------------------===//

/// One file of a checkpoint directory.
struct TrainingFile {
  std::string name;
  std::string bytes;
};

/// Writes `files` (the last one marks the copy complete) into a fresh
/// sibling `dir`.tmp-PID, syncs them, renames `dir` to `dir`.old-PID, the
/// new copy to `dir`, and removes the old one: a kill at any point leaves a
/// complete `dir`, or complete siblings that `recoverSavedDirectory` puts
/// back.
bool saveDirectoryAtomically(const std::string &dir,
                             const std::vector<TrainingFile> &files,
                             std::string &error);

/// Repairs `dir` after a save into it was killed. Where `dir` is missing,
/// the newest complete sibling copy (`stepOf` gives a copy's step, nothing
/// for an incomplete one) becomes `dir`; the other `.tmp-`/`.old-` siblings
/// are removed. Returns what it did, for the user ("" when nothing).
std::string recoverSavedDirectory(
    const std::string &dir,
    const std::function<std::optional<int64_t>(const std::string &)> &stepOf);

/// A PEFT LoRA adapter_config.json.
std::string peftAdapterConfig(int64_t rank, double alpha, double dropout,
                              const std::vector<std::string> &targets,
                              const std::string &baseModel);

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

#endif // TPTT_RUNTIME_TRAINING_H

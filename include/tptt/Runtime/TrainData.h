//===- TrainData.h - Training text as batches -------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Training text as token windows, and the deterministic, resumable sampler
// of their batches.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TRAINDATA_H
#define TPTT_RUNTIME_TRAINDATA_H

#include "tptt/Runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
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

/// Calls `add(text, "NAME:LINE")` with the "text" field of each record of
/// JSON Lines `in` (blank lines skipped) until it returns false. False with
/// `error` naming the line of a record that is not an object with a string
/// "text", or when `add` fails (its error).
bool forEachJsonLinesText(
    std::istream &in, const std::string &name,
    const std::function<bool(const std::string &, const std::string &)> &add,
    std::string &error);

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

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TRAINDATA_H

//===- Sampler.h - Pick the next token from logits --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_SAMPLER_H
#define TPTT_RUNTIME_SAMPLER_H

#include <cstdint>
#include <random>

namespace tptt {
namespace runtime {

struct SamplingOptions {
  /// Always the most likely token (ties: the lowest id).
  bool greedy = false;
  /// Softmax temperature; 0 means greedy.
  double temperature = 1.0;
  /// Keep the k most likely tokens (0: all).
  int64_t topK = 0;
  /// Keep the smallest set of tokens whose probability reaches p (1: all).
  double topP = 1.0;
  uint64_t seed = 0;
};

/// Samples token ids from rows of logits, deterministically for a seed.
class Sampler {
public:
  explicit Sampler(const SamplingOptions &options)
      : options(options), generator(options.seed) {}

  /// The next token given the `vocab` logits at `logits`.
  int64_t sample(const float *logits, int64_t vocab);

private:
  SamplingOptions options;
  std::mt19937_64 generator;
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_SAMPLER_H

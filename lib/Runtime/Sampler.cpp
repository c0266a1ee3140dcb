//===- Sampler.cpp - Pick the next token from logits ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

using namespace tptt::runtime;

int64_t Sampler::sample(const float *logits, int64_t vocab) {
  if (options.greedy || options.temperature <= 0.0)
    return std::max_element(logits, logits + vocab) - logits;

  // Candidates by decreasing logit (ties: lower id first).
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  int64_t keep = options.topK > 0 ? std::min(options.topK, vocab) : vocab;
  auto byLogit = [&](int64_t a, int64_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), byLogit);
  order.resize(keep);

  // Softmax at the temperature, in double, shifted by the maximum.
  std::vector<double> probabilities(keep);
  double top = logits[order[0]], total = 0.0;
  for (int64_t i = 0; i < keep; ++i)
    total += probabilities[i] =
        std::exp((logits[order[i]] - top) / options.temperature);
  for (double &p : probabilities)
    p /= total;

  // Nucleus: the shortest prefix reaching top_p.
  if (options.topP < 1.0) {
    double mass = 0.0;
    int64_t cut = 0;
    while (cut < keep && mass < options.topP)
      mass += probabilities[cut++];
    probabilities.resize(std::max<int64_t>(cut, 1));
  }
  std::discrete_distribution<int64_t> pick(probabilities.begin(),
                                           probabilities.end());
  return order[pick(generator)];
}

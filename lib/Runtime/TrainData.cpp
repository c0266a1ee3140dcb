//===- TrainData.cpp - Training text as batches ---------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/TrainData.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Json.h"

#include <algorithm>
#include <fstream>
#include <istream>
#include <random>
#include <sstream>

using json = nlohmann::json;

namespace tptt {
namespace runtime {

bool forEachJsonLinesText(
    std::istream &in, const std::string &name,
    const std::function<bool(const std::string &, const std::string &)> &add,
    std::string &error) {
  int64_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    std::string where = name + ":" + std::to_string(number);
    std::optional<json> record = parseJson(line, error);
    if (!record || !record->is_object()) {
      error = where + ": " + (record ? "not a JSON object" : error);
      return false;
    }
    auto text = record->find("text");
    if (text == record->end() || !text->is_string()) {
      error = where + ": no string field \"text\"";
      return false;
    }
    if (!add(text->get<std::string>(), where))
      return false;
  }
  if (in.bad()) {
    error = name + ": read error";
    return false;
  }
  return true;
}

std::optional<TokenWindows>
TokenWindows::load(const std::vector<std::string> &files,
                   const Tokenizer &tokenizer, int64_t bos, int64_t eos,
                   int64_t length, std::string &error) {
  TokenWindows windows;
  windows.windowLength = length;
  auto add = [&](const std::string &text, const std::string &where) {
    std::optional<std::vector<int64_t>> ids =
        tokenizer.encode(text, /*addSpecialTokens=*/false, error);
    if (!ids) {
      error = where + ": " + error;
      return false;
    }
    if (bos >= 0)
      windows.stream.push_back(bos);
    windows.stream.insert(windows.stream.end(), ids->begin(), ids->end());
    if (eos >= 0)
      windows.stream.push_back(eos);
    return true;
  };
  if (files.empty()) {
    error = "no files";
    return std::nullopt;
  }
  for (const std::string &path : files) {
    if (!isRegularFile(path, error))
      return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    bool jsonLines =
        path.size() > 6 && path.substr(path.size() - 6) == ".jsonl";
    if (!jsonLines) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      if (!add(buffer.str(), path))
        return std::nullopt;
      continue;
    }
    if (!forEachJsonLinesText(in, path, add, error))
      return std::nullopt;
  }
  for (int64_t start = 0;
       start + length + 1 <= static_cast<int64_t>(windows.stream.size());
       start += length + 1)
    windows.starts.push_back(start);
  if (windows.starts.empty()) {
    error = "the text has " + std::to_string(windows.stream.size()) +
            " tokens, fewer than one window of " + std::to_string(length + 1) +
            " (--seq-len + 1)";
    return std::nullopt;
  }
  return windows;
}

TrainBatch TokenWindows::batch(const std::vector<int64_t> &indices) const {
  TrainBatch b;
  b.batch = static_cast<int64_t>(indices.size());
  b.length = windowLength;
  for (int64_t index : indices) {
    const int64_t *window = stream.data() + starts[index];
    b.tokens.insert(b.tokens.end(), window, window + windowLength);
    b.labels.insert(b.labels.end(), window + 1, window + windowLength + 1);
  }
  b.mask.assign(b.tokens.size(), 1);
  return b;
}

std::vector<TrainBatch> TokenWindows::batches(int64_t batchSize) const {
  std::vector<TrainBatch> all;
  for (int64_t first = 0; first < size(); first += batchSize) {
    std::vector<int64_t> indices;
    for (int64_t i = first; i < std::min(size(), first + batchSize); ++i)
      indices.push_back(i);
    all.push_back(batch(indices));
  }
  return all;
}

std::optional<BatchSampler> BatchSampler::create(const TokenWindows &windows,
                                                 int64_t batchSize,
                                                 uint64_t seed,
                                                 std::string &error) {
  if (windows.size() < batchSize) {
    error = "the data has " + std::to_string(windows.size()) +
            " windows, fewer than one batch of " + std::to_string(batchSize) +
            " (lower --batch or --seq-len)";
    return std::nullopt;
  }
  BatchSampler sampler;
  sampler.windows = &windows;
  sampler.batchSize = batchSize;
  sampler.seed = seed;
  sampler.shuffle();
  return sampler;
}

void BatchSampler::shuffle() {
  // Fisher–Yates with a uniform index drawn from the raw 64-bit output, so
  // that the order depends on the seed only, not on the standard library.
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + epochIndex);
  order.resize(windows->size());
  for (int64_t i = 0; i < windows->size(); ++i)
    order[i] = i;
  for (int64_t i = windows->size() - 1; i > 0; --i) {
    uint64_t bound = static_cast<uint64_t>(i) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, draw;
    do
      draw = rng();
    while (draw >= limit);
    std::swap(order[i], order[draw % bound]);
  }
}

int64_t BatchSampler::batchesPerEpoch() const {
  return windows->size() / batchSize;
}

TrainBatch BatchSampler::next() {
  if (position + batchSize > windows->size()) {
    ++epochIndex;
    position = 0;
    shuffle();
  }
  std::vector<int64_t> indices(order.begin() + position,
                               order.begin() + position + batchSize);
  position += batchSize;
  return windows->batch(indices);
}

json BatchSampler::state() const {
  return {{"epoch", epochIndex}, {"position", position}, {"seed", seed}};
}

bool BatchSampler::restore(const json &state, std::string &error) {
  // The position is read back from disk: past the windows it would index
  // outside the order (or overflow with the batch added).
  json at = state.is_object() ? state.value("position", json()) : json();
  if (!state.is_object() || !state.value("epoch", json()).is_number_integer() ||
      state["epoch"].get<int64_t>() < 0 || !at.is_number_integer() ||
      at.get<int64_t>() < 0 || at.get<int64_t>() > windows->size() ||
      state.value("seed", json()) != seed) {
    error = "the checkpoint's data position does not fit this run (same "
            "--seed, --data, --batch and --seq-len are needed)";
    return false;
  }
  epochIndex = state["epoch"].get<int64_t>();
  position = state["position"].get<int64_t>();
  shuffle();
  return true;
}

//===----------------------------------------------------------------------===//

} // namespace runtime
} // namespace tptt

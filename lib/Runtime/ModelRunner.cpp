//===- ModelRunner.cpp - Run the entry points of a compiled model ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/ModelRunner.h"
#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/Executable.h"
#include "tptt/Runtime/Text.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>

using json = nlohmann::json;
namespace st = tptt::safetensors;
namespace value = tptt::interface::value;
using namespace tptt::runtime;
using tptt::interface::CacheKind;
using tptt::interface::Entry;
using tptt::interface::EntryPoint;
using tptt::interface::EntryValue;
using tptt::interface::Role;

using PackedFunction = void (*)(void **);

namespace {

/// The offset of weights embedded in `path`, if it has any.
std::optional<uint64_t> embeddedWeightsOffset(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  auto size = static_cast<uint64_t>(in.tellg());
  if (!in || size < kWeightsTrailerBytes)
    return std::nullopt;
  char trailer[kWeightsTrailerBytes];
  in.seekg(size - kWeightsTrailerBytes);
  in.read(trailer, sizeof(trailer));
  if (!in || std::memcmp(trailer + 8, kWeightsMagic, 8) != 0)
    return std::nullopt;
  uint64_t offset;
  std::memcpy(&offset, trailer, 8);
  return offset;
}

/// The compiled entry point `entry` for `device` (null when the binary has
/// none).
PackedFunction packedEntry(Entry entry, Device device) {
  bool gpu = device == Device::CUDA;
  switch (entry) {
  case Entry::Logits:
    return gpu ? tptt_logits_cuda_packed : tptt_logits_packed;
  case Entry::Prefill:
    return gpu ? tptt_prefill_cuda_packed : tptt_prefill_packed;
  case Entry::DecodeStep:
    return gpu ? tptt_decode_step_cuda_packed : tptt_decode_step_packed;
  case Entry::Loss:
    return gpu ? tptt_loss_cuda_packed : tptt_loss_packed;
  case Entry::TrainStep:
    return gpu ? tptt_train_step_cuda_packed : tptt_train_step_packed;
  }
  return nullptr;
}

/// Whether the cache `name` holds softmax keys or values ([B, Hkv, T, d]).
bool isKeyValueCache(const std::string &name) {
  std::optional<CacheKind> kind = tptt::interface::cacheKindOf(name);
  return kind == CacheKind::Keys || kind == CacheKind::Values;
}

/// The decode state of a batch of sequences for @tptt_decode_step: the
/// caches of every layer, and per sequence its real-token count and which
/// cache rows are real.
class DecodeState {
public:
  DecodeState(ModelRunner &model, int64_t batch) : model(model), batch(batch) {
    const tptt::interface::ModelInterface &m = model.manifest();
    window = m.windowRows;
    cacheRows = m.cacheRows;
    for (const EntryValue &argument :
         m.entryPoint(Entry::DecodeStep)->arguments) {
      if (argument.role != Role::Cache)
        continue;
      std::vector<int64_t> shape = argument.shape;
      shape[0] = batch;
      for (int64_t &size : shape)
        if (size < 0)
          size = 0;
      caches[argument.name] = Tensor::zeros(shape, argument.dtype);
    }
    counts.assign(batch, 0);
  }

  /// Runs the prompts (left-padded: row b starts at column pad[b]) through
  /// the full-sequence prefill and keeps its caches; returns the logits
  /// [B, vocab] after each prompt.
  std::vector<float> prefill(const std::vector<std::vector<int64_t>> &prompts,
                             const std::vector<int64_t> &pad, float mu) {
    int64_t length = 0;
    for (const auto &prompt : prompts)
      length = std::max<int64_t>(length, prompt.size());
    std::vector<int64_t> tokens(batch * length, 0);
    keyMask.assign(batch * length, 0);
    for (int64_t b = 0; b < batch; ++b) {
      for (size_t s = 0; s < prompts[b].size(); ++s) {
        tokens[b * length + pad[b] + s] = prompts[b][s];
        keyMask[b * length + pad[b] + s] = 1;
      }
      counts[b] = prompts[b].size();
    }
    TensorMap out = model.forward(Entry::Prefill, tokens, keyMask, batch,
                                  length, mu, cacheNames());
    for (auto &[name, cache] : caches)
      cache = std::move(out.at(name));
    cropCaches();
    int64_t vocab = model.vocabSize();
    const float *all = out.at(value::kLogits).as<float>();
    std::vector<float> last(batch * vocab);
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(last.data() + b * vocab, all + ((b + 1) * length - 1) * vocab,
                  vocab * sizeof(float));
    return last;
  }

  /// Feeds one token per sequence (after prefill); returns the logits
  /// [B, vocab].
  std::vector<float> step(const std::vector<int64_t> &tokens, float mu) {
    int64_t keys = keyMask.size() / std::max<int64_t>(batch, 1) + 1;
    TensorMap given;
    Tensor &t = given[value::kTokens] = Tensor::zeros({batch, 1}, "i64");
    Tensor &p = given[value::kPositions] = Tensor::zeros({batch, 1}, "i64");
    Tensor &k = given[value::kKeyMask] = Tensor::zeros({batch, keys}, "i1");
    Tensor &w = given[value::kWindowMask] =
        Tensor::zeros({batch, window}, "i1");
    given[value::kMagWeight] = Tensor::scalar(mu);
    std::vector<uint8_t> nextMask(batch * keys);
    for (int64_t b = 0; b < batch; ++b) {
      t.as<int64_t>()[b] = tokens[b];
      p.as<int64_t>()[b] = counts[b];
      for (int64_t j = 0; j + 1 < keys; ++j)
        nextMask[b * keys + j] = keyMask[b * (keys - 1) + j];
      nextMask[b * keys + keys - 1] = 1;
      for (int64_t i = 0; i < window; ++i)
        w.as<uint8_t>()[b * window + i] =
            i == window - 1 ? 1 : counts[b] >= window - 1 - i;
    }
    std::memcpy(k.bytes.data(), nextMask.data(), nextMask.size());
    TensorMap out =
        model.call(Entry::DecodeStep, {&given, &caches}, cacheNames());
    for (auto &[name, cache] : caches)
      cache = std::move(out.at(name));
    keyMask = std::move(nextMask);
    for (int64_t b = 0; b < batch; ++b)
      ++counts[b];
    cropCaches();
    Tensor &logits = out.at(value::kLogits);
    return std::vector<float>(logits.as<float>(),
                              logits.as<float>() + logits.count());
  }

  /// Bytes held by the caches (constant once the ring is full).
  size_t cacheBytes() const {
    size_t total = keyMask.size();
    for (const auto &[name, cache] : caches)
      total += cache.byteSize();
    return total;
  }

private:
  /// The caches, which stay where the entry points leave them (on the GPU)
  /// from one call to the next.
  std::set<std::string> cacheNames() const {
    std::set<std::string> names;
    for (const auto &[name, cache] : caches)
      names.insert(name);
    return names;
  }

  /// With every layer windowed, keys older than the widest window are never
  /// seen again: keep the last cacheRows − 1 (the next token joins them).
  void cropCaches() {
    int64_t keys = keyMask.size() / std::max<int64_t>(batch, 1);
    if (cacheRows < 0 || keys < cacheRows)
      return;
    int64_t drop = keys - (cacheRows - 1);
    for (auto &[name, cache] : caches) {
      if (!isKeyValueCache(name))
        continue;
      std::vector<int64_t> shape = cache.shape;
      shape[2] = keys - drop;
      Tensor cropped = Tensor::zeros(shape, cache.dtype);
      size_t rowBytes = cache.shape[3] * Tensor::width(cache.dtype);
      for (int64_t outer = 0; outer < cache.shape[0] * cache.shape[1]; ++outer)
        std::memcpy(cropped.data() + outer * (keys - drop) * rowBytes,
                    cache.data() + (outer * keys + drop) * rowBytes,
                    (keys - drop) * rowBytes);
      cache = std::move(cropped);
    }
    std::vector<uint8_t> mask(batch * (keys - drop));
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(mask.data() + b * (keys - drop),
                  keyMask.data() + b * keys + drop, keys - drop);
    keyMask = std::move(mask);
  }

  ModelRunner &model;
  int64_t batch;
  int64_t window = 3;
  int64_t cacheRows = -1;
  TensorMap caches;
  std::vector<uint8_t> keyMask;
  std::vector<int64_t> counts;
};

/// Whether OMP_NUM_THREADS, which the OpenMP runtime reads at the first
/// parallel region, is absent or a list of thread counts it can honour:
/// libomp aborts (after reserving gigabytes) on 99999999999.
bool checkThreadEnvironment(std::string &error) {
  const char *value = std::getenv("OMP_NUM_THREADS");
  if (!value)
    return true;
  for (const std::string &field : splitText(value, ',')) {
    std::optional<double> count = parseNumber(field);
    if (!count || *count != std::floor(*count) || *count < 1 ||
        *count > kMaxThreads) {
      error = "OMP_NUM_THREADS must be a thread count from 1 to " +
              std::to_string(kMaxThreads) +
              " (or a comma-separated list of them), not '" +
              std::string(value).substr(0, 64) + "'";
      return false;
    }
  }
  return true;
}

} // namespace

std::unique_ptr<ModelRunner> ModelRunner::open(std::string &error) {
  if (!checkThreadEnvironment(error))
    return nullptr;
  json parsed = json::parse(tptt_manifest, nullptr, false);
  std::optional<tptt::interface::ModelInterface> model =
      parsed.is_discarded()
          ? std::nullopt
          : tptt::interface::ModelInterface::fromJson(parsed, error);
  if (!model) {
    error = "the embedded manifest is corrupt" +
            (error.empty() ? std::string() : ": " + error);
    return nullptr;
  }
  std::unique_ptr<ModelRunner> runner(new ModelRunner());
  runner->model = std::move(*model);
  return runner;
}

ModelRunner::~ModelRunner() {
  for (const auto &[name, buffer] : deviceWeights)
    _mlir_memref_to_llvm_free(buffer);
}

bool ModelRunner::hasDecodeStep() const {
  return packedEntry(Entry::DecodeStep, current) &&
         packedEntry(Entry::Prefill, current) &&
         model.entryPoint(Entry::DecodeStep) &&
         model.entryPoint(Entry::Prefill);
}

bool ModelRunner::hasTraining() const {
  return packedEntry(Entry::Loss, current) &&
         packedEntry(Entry::TrainStep, current) &&
         model.entryPoint(Entry::Loss) && model.entryPoint(Entry::TrainStep);
}

bool ModelRunner::hasCuda() const { return tptt_logits_cuda_packed; }

bool ModelRunner::setDevice(const std::string &name, std::string &error) {
  std::string chosen = name.empty() ? (hasCuda() ? "cuda" : "cpu") : name;
  if (chosen != "cpu" && chosen != "cuda") {
    error = "flag '--device': '" + chosen + "' is not cpu or cuda";
    return false;
  }
  Device device = chosen == "cuda" ? Device::CUDA : Device::CPU;
  if (device == Device::CUDA) {
    if (!hasCuda()) {
      error = "--device cuda: this model was compiled for the CPU only "
              "(compile it with tptt-compile --target cuda)";
      return false;
    }
    std::string why;
    if (!cuda::deviceInfo(0, why)) {
      error = "--device cuda: " + why + " (run with --device cpu)";
      return false;
    }
  }
  current = device;
  return true;
}

const void *ModelRunner::deviceWeight(const std::string &name) {
  auto [it, added] = deviceWeights.try_emplace(name, nullptr);
  if (added) {
    const LoadedWeight &loaded = weightData.at(name);
    size_t bytes = Tensor::width(loaded.dtype);
    for (int64_t dim : loaded.shape)
      bytes *= dim;
    it->second = cuda::copyToManaged(loaded.data, bytes);
  }
  return it->second;
}

std::optional<Tensor> ModelRunner::weight(const std::string &name) const {
  auto it = weightData.find(name);
  if (it == weightData.end())
    return std::nullopt;
  const LoadedWeight &loaded = it->second;
  Tensor tensor = Tensor::zeros(loaded.shape, loaded.dtype);
  std::memcpy(tensor.bytes.data(), loaded.data, tensor.bytes.size());
  return tensor;
}

const Tokenizer *ModelRunner::tokenizer(std::string &error) {
  if (!tokenizerLoaded && tptt_tokenizer_json[0]) {
    tokenizerInstance =
        Tokenizer::parse(tptt_tokenizer_json, "the embedded tokenizer", error);
    // The compiler checked that only added tokens lie past the embedding.
    if (tokenizerInstance &&
        !tokenizerInstance->limitVocabulary(vocabSize(), error))
      tokenizerInstance.reset();
  }
  tokenizerLoaded = true;
  return tokenizerInstance.get();
}

bool ModelRunner::loadWeights(const std::string &path,
                              const std::string &binary, std::string &error) {
  if (!path.empty()) {
    file = st::File::open(path, error);
  } else if (std::optional<uint64_t> offset = embeddedWeightsOffset(binary)) {
    file = st::File::open(binary, error, *offset);
  } else {
    file = st::File::open(binary + ".weights.safetensors", error);
    if (!file)
      error += " (the model has no embedded weights: give a weights "
               "file, --weights FILE)";
  }
  if (!file)
    return false;
  auto fail = [&](const std::string &message) {
    error = file->path() + ": " + message;
    return false;
  };
  // The weights tptt-compile writes are in the entry points' layout;
  // any other file holds the model's own tensors (Hugging Face layout).
  bool entryLayout = file->metadata().count(kWeightsLayoutKey) &&
                     file->metadata().at(kWeightsLayoutKey) == kEntryLayout;
  for (const EntryValue &weight : model.weights) {
    const std::string &name = weight.name, &source = weight.source;
    bool transposed = weight.transposed && !entryLayout;
    const std::vector<int64_t> &shape = weight.shape;
    std::vector<int64_t> stored = shape;
    if (transposed)
      std::swap(stored[0], stored[1]);
    std::string lookup = entryLayout ? name : source;
    const st::TensorView *view = file->find(lookup);
    if (!view)
      return fail("missing weight '" + lookup + "'");
    if (view->shape != stored)
      return fail("weight '" + lookup + "' has shape " +
                  json(view->shape).dump() + ", the model needs " +
                  json(stored).dump());
    const std::string &dtype = weight.dtype;
    bool bf16 = dtype == "bf16";
    st::DType wanted = bf16 ? st::DType::BF16 : st::DType::F32;
    size_t width = Tensor::width(dtype);
    const void *data = view->data;
    bool aligned = reinterpret_cast<uintptr_t>(data) % width == 0;
    if (view->dtype != wanted || !aligned || transposed) {
      if (view->dtype != st::DType::F32 && view->dtype != st::DType::BF16 &&
          view->dtype != st::DType::F16 && view->dtype != st::DType::F64)
        return fail("weight '" + lookup + "' has dtype " +
                    std::string(st::dtypeName(view->dtype)) +
                    "; weights must be F32, BF16, F16 or F64");
      std::vector<uint8_t> &copy =
          converted.emplace_back(view->numElements() * width);
      auto *asFloat = reinterpret_cast<float *>(copy.data());
      auto *asBf16 = reinterpret_cast<uint16_t *>(copy.data());
      int64_t rows = stored[0], cols = stored.size() > 1 ? stored[1] : 1;
      for (int64_t i = 0; i < view->numElements(); ++i) {
        int64_t at = transposed ? (i % cols) * rows + i / cols : i;
        auto value = static_cast<float>(view->elementAsDouble(i));
        if (bf16)
          asBf16[at] = st::floatToBf16(value);
        else
          asFloat[at] = value;
      }
      data = copy.data();
    }
    weightData[name] = {data, shape, dtype};
  }
  return true;
}

TensorMap ModelRunner::call(Entry entry,
                            std::initializer_list<const TensorMap *> givenMaps,
                            const std::set<std::string> &keep) {
  PackedFunction function = packedEntry(entry, current);
  const EntryPoint &signature = *model.entryPoint(entry);
  std::vector<std::vector<int64_t>> descriptors;
  // The buffers passed in, which a result may alias (and then does not
  // own), with the owner of each resident one; on the GPU the other given
  // tensors travel in managed buffers, freed after the call.
  std::set<int64_t> inputs;
  std::map<int64_t, std::shared_ptr<uint8_t>> residentInputs;
  std::vector<void *> staged;
  bool gpu = current == Device::CUDA;
  for (const EntryValue &argument : signature.arguments) {
    const std::string &name = argument.name;
    // A given tensor overrides a weight of the same name (the trainer's
    // current values of the weights it trains).
    const Tensor *value = nullptr;
    for (const TensorMap *given : givenMaps)
      if (auto it = given->find(name); it != given->end())
        value = &it->second;
    if (!value && argument.role == Role::Weight) {
      const LoadedWeight &loaded = weightData.at(name);
      const void *buffer = gpu ? deviceWeight(name) : loaded.data;
      descriptors.push_back(rowMajorDescriptor(buffer, loaded.shape));
      inputs.insert(reinterpret_cast<int64_t>(buffer));
      continue;
    }
    if (!value) {
      // The callers pass every input the manifest lists: a bug otherwise.
      std::fprintf(stderr, "internal error: no value for argument '%s' of %s\n",
                   name.c_str(), tptt::interface::entryName(entry));
      std::abort();
    }
    const void *buffer = value->data();
    if (value->resident)
      residentInputs[reinterpret_cast<int64_t>(buffer)] = value->resident;
    else if (gpu)
      buffer = staged.emplace_back(
          cuda::copyToManaged(value->bytes.data(), value->bytes.size()));
    descriptors.push_back(rowMajorDescriptor(buffer, value->shape));
    inputs.insert(reinterpret_cast<int64_t>(buffer));
  }
  size_t resultWords = 0;
  for (const EntryValue &result : signature.results)
    resultWords += 3 + 2 * result.shape.size();
  std::vector<int64_t> results(resultWords, 0);
  std::vector<void *> args = {results.data()};
  for (auto &d : descriptors)
    args.push_back(d.data());
  function(args.data());

  // The owners of the allocations that kept results hold: the resident
  // inputs', and one per allocation of the call's own, which frees it with
  // the last result that holds it.
  std::map<int64_t, std::shared_ptr<uint8_t>> owners = residentInputs;
  auto ownerOf = [&](int64_t allocation) {
    std::shared_ptr<uint8_t> &owner = owners[allocation];
    if (!owner)
      owner = std::shared_ptr<uint8_t>(
          reinterpret_cast<uint8_t *>(allocation), [gpu](uint8_t *pointer) {
            gpu ? _mlir_memref_to_llvm_free(pointer) : std::free(pointer);
          });
    return owner;
  };
  TensorMap out;
  std::set<int64_t> owned;
  size_t at = 0;
  for (const EntryValue &result : signature.results) {
    size_t rank = result.shape.size();
    const int64_t *words = results.data() + at;
    at += 3 + 2 * rank;
    const std::string &name = result.name;
    Tensor t{std::vector<int64_t>(words + 3, words + 3 + rank),
             result.dtype,
             {},
             nullptr};
    size_t width = Tensor::width(t.dtype);
    bool contiguous = true;
    for (int64_t d = rank, stride = 1; d-- > 0; stride *= t.shape[d])
      contiguous &= t.shape[d] == 1 || words[3 + rank + d] == stride;
    bool input = inputs.count(words[0]);
    // A result in a staged or mapped input buffer is copied: those do not
    // outlive the call.
    if (keep.count(name) && contiguous &&
        (!input || residentInputs.count(words[0]))) {
      auto *base = reinterpret_cast<uint8_t *>(words[1]);
      t.resident =
          std::shared_ptr<uint8_t>(ownerOf(words[0]), base + words[2] * width);
      out[name] = std::move(t);
      continue;
    }
    t.bytes.resize(t.byteSize());
    copyFromDescriptor(words, rank, width, t.bytes.data());
    if (!input)
      owned.insert(words[0]);
    out[name] = std::move(t);
  }
  // Results may share an allocation: free each once, after all copies, unless
  // a kept result holds it.
  for (int64_t allocation : owned) {
    if (owners.count(allocation))
      continue;
    auto *pointer = reinterpret_cast<void *>(allocation);
    gpu ? _mlir_memref_to_llvm_free(pointer) : std::free(pointer);
  }
  for (void *buffer : staged)
    _mlir_memref_to_llvm_free(buffer);
  return out;
}

/// Logits [B, S, vocab] of a left-padded batch: `tokens` and `mask`
/// [B, S] row-major.
std::vector<float> ModelRunner::logits(const std::vector<int64_t> &tokens,
                                       const std::vector<uint8_t> &mask,
                                       int64_t batch, int64_t length,
                                       float mu) {
  Tensor out = std::move(forward(Entry::Logits, tokens, mask, batch, length, mu)
                             .at(value::kLogits));
  return std::vector<float>(out.as<float>(), out.as<float>() + out.count());
}

/// Calls the full-sequence entry `entry` (Logits or Prefill) on a
/// left-padded batch and returns its results.
TensorMap ModelRunner::forward(Entry entry, const std::vector<int64_t> &tokens,
                               const std::vector<uint8_t> &mask, int64_t batch,
                               int64_t length, float mu,
                               const std::set<std::string> &keep) {
  TensorMap given;
  Tensor &t = given[value::kTokens] = Tensor::zeros({batch, length}, "i64");
  Tensor &p = given[value::kPositions] = Tensor::zeros({batch, length}, "i64");
  Tensor &m = given[value::kMask] = Tensor::zeros({batch, length}, "i1");
  given[value::kMagWeight] = Tensor::scalar(mu);
  // Positions count real tokens only, so a left-padded row sees the same
  // RoPE angles as when it is alone.
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0, seen = 0; s < length; ++s) {
      int64_t i = b * length + s;
      t.as<int64_t>()[i] = tokens[i];
      m.as<uint8_t>()[i] = mask[i];
      p.as<int64_t>()[i] = std::max<int64_t>(seen - 1 + mask[i], 0);
      seen += mask[i];
    }
  return call(entry, {&given}, keep);
}

GenerateResult tptt::runtime::generate(
    ModelRunner &model, const std::vector<std::vector<int64_t>> &prompts,
    const GenerateOptions &options,
    const std::function<void(int64_t, const GenerateResult &)> &onToken) {
  int64_t vocab = model.vocabSize();
  int64_t maxPositions = model.manifest().maxPositions;
  const std::vector<int64_t> &eos = model.manifest().eosTokenIds;
  auto batch = static_cast<int64_t>(prompts.size());
  GenerateResult result;
  result.tokens.resize(batch);
  int64_t longest = 0;
  for (const auto &prompt : prompts) {
    longest = std::max<int64_t>(longest, prompt.size());
    result.promptTokens += prompt.size();
  }
  int64_t newTokens = std::min(options.maxNewTokens,
                               std::max<int64_t>(maxPositions - longest, 0));
  float mu = options.magWeight;

  // Left-padded sequences: row b starts at column pad[b].
  std::vector<int64_t> pad(batch);
  for (int64_t b = 0; b < batch; ++b)
    pad[b] = longest - prompts[b].size();
  std::vector<Sampler> samplers;
  for (int64_t b = 0; b < batch; ++b) {
    SamplingOptions perSequence = options.sampling;
    perSequence.seed = options.sampling.seed + b;
    samplers.emplace_back(perSequence);
  }
  std::vector<uint8_t> finished(batch, 0);

  // The next-token logits [B, vocab] after the sequences so far: prefill
  // and decode steps on the caches when the model has them, else the full
  // forward over the prompts and what was generated.
  std::optional<DecodeState> state;
  if (model.hasDecodeStep())
    state.emplace(model, batch);
  auto nextLogits = [&](int64_t generated) -> std::vector<float> {
    if (state && generated == 0)
      return state->prefill(prompts, pad, mu);
    if (state) {
      std::vector<int64_t> tokens(batch);
      for (int64_t b = 0; b < batch; ++b)
        tokens[b] = result.tokens[b].back();
      return state->step(tokens, mu);
    }
    int64_t length = longest + generated;
    std::vector<int64_t> tokens(batch * length, 0);
    std::vector<uint8_t> mask(batch * length, 0);
    for (int64_t b = 0; b < batch; ++b) {
      std::vector<int64_t> sequence = prompts[b];
      sequence.insert(sequence.end(), result.tokens[b].begin(),
                      result.tokens[b].end());
      for (size_t s = 0; s < sequence.size(); ++s) {
        tokens[b * length + pad[b] + s] = sequence[s];
        mask[b * length + pad[b] + s] = 1;
      }
    }
    std::vector<float> all = model.logits(tokens, mask, batch, length, mu);
    std::vector<float> last(batch * vocab);
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(last.data() + b * vocab,
                  all.data() + ((b + 1) * length - 1) * vocab,
                  vocab * sizeof(float));
    return last;
  };

  std::vector<float> drawn;
  int64_t generated = 0;
  for (; generated < newTokens; ++generated) {
    auto start = std::chrono::steady_clock::now();
    std::vector<float> logits = nextLogits(generated);
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    (generated == 0 ? result.prefillSeconds : result.decodeSeconds) += elapsed;
    if (generated > 0)
      result.decodedTokens += batch;
    for (int64_t b = 0; b < batch && result.error.empty(); ++b)
      if (!std::all_of(logits.begin() + b * vocab,
                       logits.begin() + (b + 1) * vocab,
                       [](float value) { return std::isfinite(value); }))
        result.error = "the logits of sequence " + std::to_string(b) +
                       " for new token " + std::to_string(generated) +
                       " are not finite (NaN or infinity): the weights are "
                       "broken; nothing was sampled from them";
    if (!result.error.empty())
      break;
    if (options.keepLogits)
      drawn.insert(drawn.end(), logits.begin(), logits.end());
    for (int64_t b = 0; b < batch; ++b) {
      int64_t next = samplers[b].sample(logits.data() + b * vocab, vocab);
      result.tokens[b].push_back(next);
      if (std::find(eos.begin(), eos.end(), next) != eos.end())
        finished[b] = 1;
    }
    if (state)
      result.cacheBytes = state->cacheBytes();
    onToken(generated, result);
    if (std::count(finished.begin(), finished.end(), 1) == batch) {
      ++generated;
      break;
    }
  }
  // Drawn [N, B, V]; kept [B, N, V].
  if (options.keepLogits) {
    result.logits.resize(drawn.size());
    for (int64_t n = 0; n < generated; ++n)
      for (int64_t b = 0; b < batch; ++b)
        std::memcpy(result.logits.data() + (b * generated + n) * vocab,
                    drawn.data() + (n * batch + b) * vocab,
                    vocab * sizeof(float));
  }
  return result;
}

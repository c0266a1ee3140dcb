//===- ModelRunner.h - Run the entry points of a compiled model -*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// What the executables and shared libraries tptt-compile makes share: the
// manifest compiled into them, their weights (embedded after the binary's
// own bytes, beside it, or any safetensors file), the calls of the compiled
// entry points on host tensors, and the decode state of a batch. Errors are
// returned as messages, never by exiting, so that a library can report them.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_MODELRUNNER_H
#define TPTT_RUNTIME_MODELRUNNER_H

#include "tptt/Interface/ModelInterface.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Sampler.h"
#include "tptt/Runtime/Tensor.h"
#include "tptt/Runtime/Tokenizer.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

class ModelRunner {
public:
  /// The model compiled into this binary (its manifest); null and `error`
  /// when the manifest is corrupt.
  static std::unique_ptr<ModelRunner> open(std::string &error);

  ~ModelRunner();

  /// What the model is and the signatures of its entry points.
  const interface::ModelInterface &manifest() const { return model; }
  /// Whether the binary has the entry points compiled for the GPU
  /// (tptt-compile --target cuda).
  bool hasCuda() const;
  /// Runs the entry points on the device `name` from now on: cpu, cuda, or
  /// "" (cuda when the binary has CUDA code, else cpu); false with `error`
  /// for another name, or when the binary has no code for the device or
  /// there is no usable GPU.
  bool setDevice(const std::string &name, std::string &error);
  int64_t vocabSize() const { return model.vocabSize; }
  /// Whether the model has the prefill and decode-step entry points
  /// (`recurrent` semantics).
  bool hasDecodeStep() const;
  /// Whether the model has the training entry points (`tptt-compile
  /// --train`): tptt_loss and tptt_train_step.
  bool hasTraining() const;
  /// A copy of the loaded weight argument `name` (entry layout).
  std::optional<Tensor> weight(const std::string &name) const;

  /// Maps the weights: `path` when given, else those embedded in `binary`
  /// (the executable or library), else `<binary>.weights.safetensors`.
  bool loadWeights(const std::string &path, const std::string &binary,
                   std::string &error);

  /// The tokenizer compiled in; null when the model has none (`error`
  /// empty) or it is corrupt (`error` set).
  const Tokenizer *tokenizer(std::string &error);

  /// Calls the entry point `entry` with the inputs, caches and trained
  /// tensors found in `given` (by name, shapes as the manifest says; a
  /// given tensor takes the place of a weight of the same name), the
  /// loaded weights for the rest; returns its results by name. The results
  /// named in `keep` stay where the entry point wrote them (Tensor::
  /// resident), so that passing them to the next call copies nothing: the
  /// decode caches stay on the GPU between tokens.
  TensorMap call(interface::Entry entry,
                 std::initializer_list<const TensorMap *> given,
                 const std::set<std::string> &keep = {});

  /// Calls a full-sequence entry (Logits or Prefill) on a left-padded
  /// batch: `tokens` and `mask` [B, S] row-major; keeps the results named
  /// in `keep` (see call).
  TensorMap forward(interface::Entry entry, const std::vector<int64_t> &tokens,
                    const std::vector<uint8_t> &mask, int64_t batch,
                    int64_t length, float mu,
                    const std::set<std::string> &keep = {});

  /// Logits [B, S, vocab] of a left-padded batch.
  std::vector<float> logits(const std::vector<int64_t> &tokens,
                            const std::vector<uint8_t> &mask, int64_t batch,
                            int64_t length, float mu);

private:
  ModelRunner() = default;
  /// The weight `name` in managed memory, uploaded at its first use.
  const void *deviceWeight(const std::string &name);

  Device current = Device::CPU;
  std::map<std::string, void *> deviceWeights;
  interface::ModelInterface model;
  bool tokenizerLoaded = false;
  std::unique_ptr<Tokenizer> tokenizerInstance;
  std::unique_ptr<safetensors::File> file;
  /// A weight argument's values: mapped from the file where it holds them
  /// in the argument's layout and dtype, else converted into `converted`.
  struct LoadedWeight {
    const void *data;
    std::vector<int64_t> shape;
    std::string dtype;
  };
  std::vector<std::vector<uint8_t>> converted;
  std::map<std::string, LoadedWeight> weightData;
};

/// What to generate and how.
struct GenerateOptions {
  SamplingOptions sampling;
  int64_t maxNewTokens = 32;
  float magWeight = 0.5f;
  /// Keep the logits every new token was drawn from.
  bool keepLogits = false;
};

/// What generate() produced.
struct GenerateResult {
  /// Per sequence, the new tokens (the prompt not included).
  std::vector<std::vector<int64_t>> tokens;
  /// With keepLogits: [B, N, vocab] row-major, N = tokens per sequence.
  std::vector<float> logits;
  int64_t promptTokens = 0, decodedTokens = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
  /// Bytes of the decode caches at the end (0 without a decode step).
  size_t cacheBytes = 0;
  /// Why generation stopped before its end, when it failed: logits that are
  /// not finite (broken weights) are never sampled from. Empty otherwise.
  std::string error;
};

/// Continues `prompts` as one left-padded batch: the prefill and decode
/// steps of a recurrent model, else the full forward over the growing
/// sequences. Stops after maxNewTokens or when every sequence drew an EOS
/// token. `onToken(step, result)` is called after every step (for
/// streaming).
GenerateResult
generate(ModelRunner &model, const std::vector<std::vector<int64_t>> &prompts,
         const GenerateOptions &options,
         const std::function<void(int64_t, const GenerateResult &)> &onToken);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_MODELRUNNER_H

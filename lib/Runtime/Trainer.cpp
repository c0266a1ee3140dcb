//===- Trainer.cpp - Calls of the compiled training step ------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Trainer.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>

namespace value = tptt::interface::value;
using tptt::interface::Entry;
using tptt::interface::EntryValue;
using tptt::interface::firstMomentName;
using tptt::interface::Role;
using tptt::interface::secondMomentName;

namespace tptt {
namespace runtime {

Tensor transposed(const Tensor &value) {
  int64_t rows = value.shape[0], cols = value.shape[1];
  Tensor out = Tensor::zeros({cols, rows}, value.dtype);
  size_t width = Tensor::width(value.dtype);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(out.bytes.data() + (c * rows + r) * width,
                  value.bytes.data() + (r * cols + c) * width, width);
  return out;
}

std::unique_ptr<Trainer> Trainer::create(ModelRunner &model,
                                         const OptimizerOptions &options,
                                         uint64_t seed, std::string &error) {
  if (!model.hasTraining()) {
    error = "this model was compiled without training entry points; "
            "compile it with tptt-compile --train=lora|lora-minus|full";
    return nullptr;
  }
  std::unique_ptr<Trainer> trainer(new Trainer(model, options, seed));
  std::mt19937_64 rng(seed);
  // A uniform double in [0, 1) from the raw 64-bit output, so that the draw
  // does not depend on the standard library's distributions.
  auto uniform = [&] { return (rng() >> 11) * 0x1.0p-53; };
  const tptt::interface::ModelInterface &manifest = model.manifest();
  for (const EntryValue &argument :
       manifest.entryPoint(Entry::TrainStep)->arguments) {
    if (argument.name == value::kDropoutRate && manifest.training &&
        manifest.training->lora)
      trainer->dropoutRate = manifest.training->lora->dropout;
    if (!argument.trainable)
      continue;
    TrainedTensor tensor;
    tensor.name = argument.name;
    tensor.role = argument.role;
    const std::vector<int64_t> &shape = argument.shape;
    if (tensor.role == Role::Adapter) {
      tensor.source = argument.source;
      tensor.transposed = argument.transposed;
      tensor.value = Tensor::zeros(shape, "f32");
      // lora_A is stored transposed, [in, r]: fan_in is its first size.
      if (tensor.name.find(".lora_A.") != std::string::npos) {
        double bound = 1.0 / std::sqrt(static_cast<double>(shape[0]));
        float *data = tensor.value.as<float>();
        for (int64_t i = 0; i < tensor.value.count(); ++i)
          data[i] = static_cast<float>((2.0 * uniform() - 1.0) * bound);
      }
    } else {
      std::optional<Tensor> value = model.weight(tensor.name);
      if (!value) {
        error = "the weights have no tensor '" + tensor.name + "' to train";
        return nullptr;
      }
      tensor.value = std::move(*value);
      if (const EntryValue *weight = manifest.weight(tensor.name)) {
        tensor.source = weight->source;
        tensor.transposed = weight->transposed;
      }
    }
    tensor.m = Tensor::zeros(shape, "f32");
    tensor.v = Tensor::zeros(shape, "f32");
    trainer->trained.push_back(std::move(tensor));
  }
  return trainer;
}

TensorMap Trainer::inputs(const TrainBatch &batch, float mu,
                          bool training) const {
  TensorMap given;
  std::vector<int64_t> shape = {batch.batch, batch.length};
  Tensor &tokens = given[value::kTokens] = Tensor::zeros(shape, "i64");
  Tensor &positions = given[value::kPositions] = Tensor::zeros(shape, "i64");
  Tensor &mask = given[value::kMask] = Tensor::zeros(shape, "i1");
  Tensor &labels = given[value::kLabels] = Tensor::zeros(shape, "i64");
  std::memcpy(tokens.bytes.data(), batch.tokens.data(), tokens.bytes.size());
  std::memcpy(labels.bytes.data(), batch.labels.data(), labels.bytes.size());
  std::memcpy(mask.bytes.data(), batch.mask.data(), mask.bytes.size());
  // Positions count the real tokens of each row (left padding).
  for (int64_t b = 0; b < batch.batch; ++b) {
    int64_t next = 0;
    for (int64_t s = 0; s < batch.length; ++s) {
      int64_t at = b * batch.length + s;
      positions.as<int64_t>()[at] = batch.mask[at] ? next++ : 0;
    }
  }
  given[value::kMagWeight] = Tensor::scalar(mu);
  for (const TrainedTensor &tensor : trained)
    given[tensor.name] = tensor.value;
  if (dropoutRate) {
    // The masks of step t are a function of (seed, t), so that a resumed
    // run draws the ones an uninterrupted run would; evaluation has none.
    given[value::kDropoutRate] =
        Tensor::scalar(training ? static_cast<float>(*dropoutRate) : 0.0f);
    given[value::kDropoutSeed] = Tensor::scalar(
        static_cast<int64_t>(std::mt19937_64(seed ^ (stepCount + 1))()));
  }
  return given;
}

Trainer::StepResult Trainer::step(const TrainBatch &batch, double lr,
                                  float mu) {
  TensorMap given = inputs(batch, mu, /*training=*/true);
  int64_t t = stepCount + 1;
  Tensor &hyper = given[value::kOptimizerHyper] = Tensor::zeros({7}, "f32");
  float *h = hyper.as<float>();
  h[0] = static_cast<float>(lr);
  h[1] = static_cast<float>(options.beta1);
  h[2] = static_cast<float>(options.beta2);
  h[3] = static_cast<float>(options.eps);
  h[4] = static_cast<float>(options.weightDecay);
  h[5] = static_cast<float>(1.0 - std::pow(options.beta1, t));
  h[6] = static_cast<float>(1.0 - std::pow(options.beta2, t));
  given[value::kMaxGradNorm] = Tensor::scalar(
      options.maxGradNorm > 0 ? static_cast<float>(options.maxGradNorm)
                              : std::numeric_limits<float>::infinity());
  for (TrainedTensor &tensor : trained) {
    given[firstMomentName(tensor.name)] = std::move(tensor.m);
    given[secondMomentName(tensor.name)] = std::move(tensor.v);
  }
  TensorMap out = model.call(Entry::TrainStep, {&given});
  for (TrainedTensor &tensor : trained) {
    tensor.value = std::move(out[tensor.name]);
    tensor.m = std::move(out[firstMomentName(tensor.name)]);
    tensor.v = std::move(out[secondMomentName(tensor.name)]);
  }
  stepCount = t;
  return {*out[value::kLoss].as<float>(), *out[value::kGradNorm].as<float>()};
}

double Trainer::loss(const TrainBatch &batch, float mu) {
  TensorMap given = inputs(batch, mu, /*training=*/false);
  TensorMap out = model.call(Entry::Loss, {&given});
  return *out[value::kLoss].as<float>();
}

std::vector<std::pair<std::string, Tensor>>
Trainer::savedTensors(Role role) const {
  std::vector<std::pair<std::string, Tensor>> saved;
  for (const TrainedTensor &tensor : trained)
    if (tensor.role == role)
      saved.emplace_back(tensor.source, tensor.transposed
                                            ? transposed(tensor.value)
                                            : tensor.value);
  return saved;
}

std::vector<std::pair<std::string, Tensor>> Trainer::optimizerState() const {
  std::vector<std::pair<std::string, Tensor>> state;
  for (const TrainedTensor &tensor : trained) {
    state.emplace_back(firstMomentName(tensor.name), tensor.m);
    state.emplace_back(secondMomentName(tensor.name), tensor.v);
  }
  return state;
}

bool Trainer::restore(
    const std::vector<std::pair<std::string, Tensor>> &saved,
    const std::vector<std::pair<std::string, Tensor>> &optimizer, int64_t steps,
    std::string &error) {
  std::map<std::string, const Tensor *> savedByName, optimizerByName;
  for (const auto &[name, tensor] : saved)
    savedByName[name] = &tensor;
  for (const auto &[name, tensor] : optimizer)
    optimizerByName[name] = &tensor;
  auto take = [&](std::map<std::string, const Tensor *> &from,
                  const std::string &name, const std::vector<int64_t> &shape,
                  bool transpose, Tensor &into) {
    auto it = from.find(name);
    if (it == from.end()) {
      error = "the checkpoint has no tensor '" + name + "'";
      return false;
    }
    Tensor value = transpose ? transposed(*it->second) : *it->second;
    if (value.shape != shape || value.dtype != "f32") {
      error = "the checkpoint's tensor '" + name +
              "' does not have the shape this model trains";
      return false;
    }
    into = std::move(value);
    return true;
  };
  for (TrainedTensor &tensor : trained) {
    std::vector<int64_t> shape = tensor.value.shape;
    if (!take(savedByName, tensor.source, shape, tensor.transposed,
              tensor.value) ||
        !take(optimizerByName, firstMomentName(tensor.name), shape, false,
              tensor.m) ||
        !take(optimizerByName, secondMomentName(tensor.name), shape, false,
              tensor.v))
      return false;
  }
  stepCount = steps;
  return true;
}

} // namespace runtime
} // namespace tptt

//===- Trainer.h - Calls of the compiled training step ----------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The state of a fine-tuning run on top of a model compiled with
// `tptt-compile --train`: the tensors the compiled `tptt_train_step`
// updates (LoRA adapters, or the model's own weights), their AdamW moments
// and the step count. Each step is one call of the compiled step (forward,
// backward, clipping and AdamW all happen there). Plain C++, no MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TRAINER_H
#define TPTT_RUNTIME_TRAINER_H

#include "tptt/Runtime/ModelRunner.h"
#include "tptt/Runtime/TrainData.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tptt {
namespace runtime {

/// AdamW and clipping (PyTorch's defaults, clipping at 1.0 as the seeds).
struct OptimizerOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0.0;
  /// Global gradient norm to clip to; 0 disables clipping.
  double maxGradNorm = 1.0;
};

/// One tensor the training step updates, in the entry point's layout.
struct TrainedTensor {
  /// The entry argument (a PEFT name for adapters, else the weight's).
  std::string name;
  /// Adapter or Weight.
  interface::Role role = interface::Role::Adapter;
  /// The name it is saved under (PEFT or Hugging Face).
  std::string source;
  /// Whether the saved layout is the transpose of `value`'s.
  bool transposed = false;
  Tensor value, m, v;
};

class Trainer {
public:
  /// Starts a run: LoRA A matrices drawn as PEFT draws them (Kaiming
  /// uniform, bound 1/√fan_in) from `seed`, B matrices zero, trained weights
  /// copied from the model, moments zero. Null with `error` when the model
  /// has no training entry points.
  static std::unique_ptr<Trainer> create(ModelRunner &model,
                                         const OptimizerOptions &options,
                                         uint64_t seed, std::string &error);

  struct StepResult {
    double loss = 0, gradNorm = 0;
  };
  /// One optimisation step at learning rate `lr` and MaG weight `mu`.
  StepResult step(const TrainBatch &batch, double lr, float mu);
  /// The mean loss of `batch` (no update).
  double loss(const TrainBatch &batch, float mu);

  /// Steps taken so far.
  int64_t steps() const { return stepCount; }
  const std::vector<TrainedTensor> &tensors() const { return trained; }
  /// Trained tensors of `role` by saved name, in the saved layout.
  std::vector<std::pair<std::string, Tensor>>
  savedTensors(interface::Role role) const;
  /// The AdamW moments by entry name (interface::firstMomentName, …).
  std::vector<std::pair<std::string, Tensor>> optimizerState() const;
  /// Continues a run: trained tensors from `saved` (by saved name and
  /// layout, as savedTensors() wrote them), moments from `optimizer`.
  bool restore(const std::vector<std::pair<std::string, Tensor>> &saved,
               const std::vector<std::pair<std::string, Tensor>> &optimizer,
               int64_t steps, std::string &error);

private:
  Trainer(ModelRunner &model, const OptimizerOptions &options, uint64_t seed)
      : model(model), options(options), seed(seed) {}
  /// The inputs of the loss for `batch`; `training` turns the LoRA dropout
  /// on, with masks drawn for the next step.
  TensorMap inputs(const TrainBatch &batch, float mu, bool training) const;

  ModelRunner &model;
  OptimizerOptions options;
  uint64_t seed;
  /// The LoRA dropout rate, when the compiled loss applies one.
  std::optional<double> dropoutRate;
  std::vector<TrainedTensor> trained;
  int64_t stepCount = 0;
};

/// `value` [rows, cols] (any dtype) transposed.
Tensor transposed(const Tensor &value);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TRAINER_H

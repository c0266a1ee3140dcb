//===- ModelImporter.h - A model description becomes tptt IR ----*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_MODEL_MODELIMPORTER_H
#define TPTT_MODEL_MODELIMPORTER_H

#include "tptt/Model/ModelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace model {

/// The full-sequence forward and the one-token decode step.
constexpr const char *kLogitsEntry = "tptt_logits";
constexpr const char *kPrefillEntry = "tptt_prefill";
constexpr const char *kDecodeStepEntry = "tptt_decode_step";
constexpr const char *kLossEntry = "tptt_loss";
constexpr const char *kTrainStepEntry = "tptt_train_step";

/// What a compiled training step updates.
enum class Trainable {
  /// LoRA adapters on the configured target projections (the seeds' setup).
  Lora,
  /// The attention projections (q, k, v, o) of the LiZA layers themselves.
  LoraMinus,
  /// Every parameter (pre-training a small base model).
  Full,
};

/// The element type of the model's weights in the entry points. Trained
/// weights (and the LoRA adapters) are f32 whatever it says: the optimizer
/// updates them in f32.
enum class WeightType { F32, BF16 };

struct TrainingOptions {
  Trainable trainable = Trainable::Lora;
  /// The adapters of Trainable::Lora.
  LoraSpec lora;
};

/// One argument or result of an entry point, as the runtime binds it.
struct EntryValue {
  std::string name;
  /// "input" (given per call), "cache" (decode state carried between
  /// calls), "weight" (a model tensor), "adapter" (a LoRA matrix, PEFT
  /// name, created by the trainer), "optimizer" (an AdamW moment of the
  /// trainable tensor `source`) or "result".
  std::string kind;
  /// -1 for a symbolic size (batch, sequence, cache length).
  std::vector<int64_t> shape;
  /// "f32", "bf16", "f64", "i64" or "i1".
  std::string dtype;
  /// Weights: the model tensor it holds (its Hugging Face name) and whether
  /// it is stored transposed ([in, out] for an [out, in] projection).
  std::string source;
  bool transposed = false;
  /// Whether the training step updates it (and returns its new value).
  bool trainable = false;
};

/// The signature of one entry point.
struct EntryPoint {
  std::string name;
  std::vector<EntryValue> arguments;
  std::vector<EntryValue> results;
};

/// The shape of the weight called `name` in the model's files, or nothing
/// when there is no such tensor.
using WeightShapeLookup =
    std::function<std::optional<std::vector<int64_t>>(const std::string &)>;

/// Builds the graph-level module of `spec` (every argument named by a
/// `tptt.name` attribute, batch and sequence length symbolic):
///
///   @tptt_logits(tokens [B,S] i64, positions [B,S] i64, mask [B,S] i1,
///                mag_weight f32, weights...) -> logits [B,S,V] f32
///
/// and, under the `recurrent` semantics, the prefill (the same forward that
/// also returns the caches below, for the prompt) and the decode step
///
///   @tptt_decode_step(tokens [B,1], positions [B,1], key_mask [B,T+1],
///                     window_mask [B,W], mag_weight, caches..., weights...)
///       -> (logits [B,1,V], caches after the token...)
///
/// whose caches per layer are the softmax keys (after RoPE) and values
/// [B,Hkv,T,d] and, on LiZA layers, the linear state [B,H,d,d] and the raw
/// k/v rows of the last W−1 tokens [B,W−1,Hkv·d] (W: linearStepWindow).
/// Projection weights are arguments in the transposed layout [in, out]
/// (EntryValue::transposed). Every weight is looked up with `lookup` and
/// its shape checked; on a
/// missing or mis-shaped weight returns null and sets `error` naming the
/// tensor. `entries` receives the signatures. Weights are `weights`
/// tensors, each widened to f32 where it is used (inside the contraction
/// that reads it, once lowered) except by tptt.embedding, which reads its
/// table in any float type.
/// The entry points of `spec` in graph-level tptt IR: @tptt_logits, and
/// under `recurrent` @tptt_prefill and @tptt_decode_step; with `training`
/// also @tptt_loss (mean next-token cross-entropy) and @tptt_train_step
/// (its value and gradient, global-norm clipping and AdamW).
mlir::OwningOpRef<mlir::ModuleOp>
importModel(mlir::MLIRContext &context, const ModelSpec &spec,
            const WeightShapeLookup &lookup, std::vector<EntryPoint> &entries,
            std::string &error, const TrainingOptions *training = nullptr,
            WeightType weights = WeightType::F32);

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_MODELIMPORTER_H

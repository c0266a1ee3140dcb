//===- ModelImporter.h - A model description becomes tptt IR ----*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_MODEL_MODELIMPORTER_H
#define TPTT_MODEL_MODELIMPORTER_H

#include "tptt/Interface/ModelInterface.h"
#include "tptt/Model/ModelSpec.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace model {

using ::tptt::interface::EntryPoint;
using ::tptt::interface::EntryValue;
using ::tptt::interface::Trainable;
using ::tptt::interface::WeightType;

struct TrainingOptions {
  Trainable trainable = Trainable::Lora;
  /// The adapters of Trainable::Lora.
  LoraSpec lora;
};

/// The shape of the weight called `name` in the model's files, or nothing
/// when there is no such tensor.
using WeightShapeLookup =
    std::function<std::optional<std::vector<int64_t>>(const std::string &)>;

/// Builds the graph-level module of `spec`: the entry points
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
/// k/v rows of the last W−1 tokens [B,W−1,Hkv·d] (W: linearStepWindow);
/// with `training` also @tptt_loss (mean next-token cross-entropy) and
/// @tptt_train_step (its value and gradient, global-norm clipping and
/// AdamW). Batch and sequence length are symbolic.
///
/// Every argument and result states its part of the interface
/// (interface::EntryValue) in attributes: `tptt.name`, and on arguments
/// `tptt.role` (input, cache, weight, adapter, optimizer), `tptt.source`
/// (the tensor it holds, when that is not its name), `tptt.transposed`
/// (a projection in the layout [in, out]) and `tptt.trainable`; see
/// entryPoints. Every weight is looked up with `lookup` and its shape
/// checked; on a missing or mis-shaped weight returns null and sets `error`
/// naming the tensor. Weights are `weights` tensors, each widened to f32
/// where it is used (inside the contraction that reads it, once lowered)
/// except by tptt.embedding, which reads its table in any float type.
mlir::OwningOpRef<mlir::ModuleOp>
importModel(mlir::MLIRContext &context, const ModelSpec &spec,
            const WeightShapeLookup &lookup, std::string &error,
            const TrainingOptions *training = nullptr,
            WeightType weights = WeightType::F32);

/// The signatures of the entry points of an imported `module`, read from
/// their functions' types and attributes, in declaration order.
std::vector<EntryPoint> entryPoints(mlir::ModuleOp module);

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_MODELIMPORTER_H

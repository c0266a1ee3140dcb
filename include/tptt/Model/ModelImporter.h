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

/// The name of the full-sequence forward entry point.
constexpr const char *kLogitsEntry = "tptt_logits";

/// One weight argument of the entry points: its Hugging Face name and
/// shape (all weights are f32 at the ABI).
struct WeightArgument {
  std::string name;
  std::vector<int64_t> shape;
};

/// The shape of the weight called `name` in the model's files, or nothing
/// when there is no such tensor.
using WeightShapeLookup =
    std::function<std::optional<std::vector<int64_t>>(const std::string &)>;

/// Builds the graph-level module of `spec`:
///
///   func.func @tptt_logits(%tokens: tensor<?x?xi64>,
///                          %positions: tensor<?x?xi64>,
///                          %mask: tensor<?x?xi1>, %mag_weight: tensor<f32>,
///                          %<weight>: tensor<...xf32>...)
///       -> tensor<?x?xVxf32>
///
/// (every argument named by a `tptt.name` attribute, batch and sequence
/// length symbolic). Every weight the model needs is looked up with
/// `lookup` and its shape checked; on a missing or mis-shaped weight
/// returns null and sets `error` naming the tensor. `weights` receives the
/// weight arguments in order.
mlir::OwningOpRef<mlir::ModuleOp>
importModel(mlir::MLIRContext &context, const ModelSpec &spec,
            const WeightShapeLookup &lookup,
            std::vector<WeightArgument> &weights, std::string &error);

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_MODELIMPORTER_H

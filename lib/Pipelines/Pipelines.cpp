//===- Pipelines.cpp - The tptt compilation pipeline
//------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Pipelines/Pipelines.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::tptt;

static constexpr llvm::StringLiteral kStageNames[] = {
#define TPTT_STAGE(id, name, help) name,
#include "tptt/Pipelines/Stages.def"
};

llvm::ArrayRef<llvm::StringLiteral> mlir::tptt::getTpttStageNames() {
  return kStageNames;
}

std::optional<TpttStage> mlir::tptt::parseTpttStage(llvm::StringRef name) {
  for (auto [index, stage] : llvm::enumerate(kStageNames))
    if (stage == name)
      return static_cast<TpttStage>(index);
  return std::nullopt;
}

void mlir::tptt::buildTpttPipeline(OpPassManager &pm,
                                   const TpttPipelineOptions &options) {
  // The CUDA target's kernels are the same whether they run on a GPU or are
  // emulated on the CPU; only their last stages differ.
  if (options.target == TpttTarget::CPU)
    addCPUPipeline(pm, options);
  else
    addCUDAPipeline(pm, options);
}

void mlir::tptt::registerTpttPipelines() {
  PassPipelineRegistration<TpttPipelineOptions>(
      "tptt-pipeline",
      "The tptt compilation pipeline from graph-level tptt ops to LLVM, "
      "for the CPU or (target=cuda) NVIDIA GPUs (stop early with to=<stage>)",
      buildTpttPipeline);
}

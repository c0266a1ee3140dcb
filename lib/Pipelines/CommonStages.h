//===- CommonStages.h - Stages both targets' pipelines share ----*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The pieces of the pipeline that do not depend on the target, for the
// target builders (CPUPipeline.cpp, CUDAPipeline.cpp). Each adds its
// stage's passes when the stage lies in [options.from, options.to].
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_LIB_PIPELINES_COMMONSTAGES_H
#define TPTT_LIB_PIPELINES_COMMONSTAGES_H

#include "tptt/Pipelines/Pipelines.h"

namespace mlir {
class OpPassManager;
namespace tptt {

/// Whether `stage` lies in [options.from, options.to].
inline bool runsStage(const TpttPipelineOptions &options, TpttStage stage) {
  return options.from <= stage && stage <= options.to;
}

/// Canonicalize and CSE: run between stages so that every stage starts from
/// (and every dump shows) cleaned-up IR.
void addCleanup(OpPassManager &pm);

/// The schedule choices a target makes for the graph-level stages.
struct GraphSchedule {
  /// Invert the operator's chunk matrices by 16x16 blocks (a kernel pays a
  /// barrier for each dependent step of the row recursion).
  bool blockedTrilInverse = false;
};

/// The stages tptt, autodiff and linalg: graph-level cleanup, reverse-mode
/// differentiation, and the lowering of every tptt op to linalg on tensors.
void addGraphStages(OpPassManager &pm, const TpttPipelineOptions &options,
                    const GraphSchedule &schedule);

/// The stage bufferized: one-shot bufferization with identity layouts at
/// function boundaries, scratch buffers hoisted out of loops.
void addBufferizedStage(OpPassManager &pm, const TpttPipelineOptions &options);

/// The start of the stage loops on both targets: deallocation of what
/// bufferization allocated.
void addDeallocation(OpPassManager &pm);

/// The CPU's LLVM lowering (CPUPipeline.cpp), which the host code of the
/// emulated CUDA target takes too.
void addCPULLVMLowering(OpPassManager &pm);

} // namespace tptt
} // namespace mlir

#endif // TPTT_LIB_PIPELINES_COMMONSTAGES_H

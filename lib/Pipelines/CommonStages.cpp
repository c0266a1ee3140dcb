//===- CommonStages.cpp - Stages both targets share
//-------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "CommonStages.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "tptt/Codegen/Passes.h"
#include "tptt/Conversion/Passes.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"

using namespace mlir;
using namespace mlir::tptt;

void mlir::tptt::addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void mlir::tptt::addGraphStages(OpPassManager &pm,
                                const TpttPipelineOptions &options,
                                const GraphSchedule &schedule) {
  // Stage tptt: graph-level cleanup (folds such as μ = 0, order-1 expansion).
  if (runsStage(options, TpttStage::Tptt))
    addCleanup(pm);

  // Stage autodiff: every tptt.value_and_grad becomes a forward and a
  // reverse sweep of tptt ops (the training step's backward).
  if (runsStage(options, TpttStage::Autodiff)) {
    pm.addPass(createTpttDifferentiatePass());
    addCleanup(pm);
  }

  // Stage linalg: the composite layer into its parts, then every tptt op into
  // loop-level IR on tensors (residual additions, arith on whole tensors,
  // too). Elementwise fusion merges the producer chains (feature map, gates,
  // casts) into single linalg.generic ops, but keeps masks out of
  // contractions (they stay vectorizable). Every destination is its own
  // allocation: tensor.empty would be merged by CSE, and several ops writing
  // into one merged buffer cost copies.
  if (runsStage(options, TpttStage::Linalg)) {
    pm.addPass(createTpttDecomposeLizaAttentionPass());
    ConvertTpttToLinalgPassOptions lowering;
    lowering.chunkSize = options.chunkSize;
    lowering.blockedTrilInverse = schedule.blockedTrilInverse;
    pm.addPass(createConvertTpttToLinalgPass(lowering));
    pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
    pm.addPass(createTpttFuseElementwiseOpsPass());
    pm.addPass(bufferization::createEmptyTensorToAllocTensorPass());
    addCleanup(pm);
  }
}

void mlir::tptt::addBufferizedStage(OpPassManager &pm,
                                    const TpttPipelineOptions &options) {
  // Stage bufferized: one-shot bufferization across function boundaries with
  // identity layouts at the boundary, so that entry points take and return
  // plain strided memrefs (the C interface the runtime calls). Loops may
  // yield new buffers: the chunk scans carry freshly computed states. The
  // scratch buffers of a loop body (a chunk's products) are then allocated
  // once, before the loop, instead of once per iteration.
  if (runsStage(options, TpttStage::Bufferized)) {
    bufferization::OneShotBufferizePassOptions bufferize;
    bufferize.bufferizeFunctionBoundaries = true;
    bufferize.allowReturnAllocsFromLoops = true;
    bufferize.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
    pm.addNestedPass<func::FuncOp>(
        bufferization::createBufferLoopHoistingPass());
    addCleanup(pm);
  }
}

void mlir::tptt::addDeallocation(OpPassManager &pm) {
  // Loop-carried buffers may be cloned by the deallocation; clones become
  // plain allocations and copies.
  bufferization::buildBufferDeallocationPipeline(pm);
  pm.addPass(createConvertBufferizationToMemRefPass());
}

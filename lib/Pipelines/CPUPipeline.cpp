//===- CPUPipeline.cpp - The CPU target's pipeline
//--------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "CommonStages.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "tptt/Codegen/Passes.h"

using namespace mlir;
using namespace mlir::tptt;

/// The CPU's LLVM lowering. The register blocks' vector transfers become
/// one-dimensional loads and stores, their reductions elementwise vector
/// arithmetic, and (in the vector conversion) each vector.contract a sequence
/// of outer products: broadcasts and fused multiply-adds. Memrefs go first:
/// the OpenMP conversion wraps parallel bodies in memref.alloca_scope, a
/// single-block region that must be inlined before the loops inside it become
/// control flow.
void mlir::tptt::addCPULLVMLowering(OpPassManager &pm) {
  // bf16 conversions as integer arithmetic (round to nearest even): LLVM
  // would call __truncsfbf2, which libgcc lacks, on a CPU without bf16
  // instructions.
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  VectorTransferToSCFOptions transfers;
  transfers.enableFullUnroll(true);
  pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass(transfers));
  pm.addNestedPass<func::FuncOp>(vector::createLowerVectorMultiReductionPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectors;
  vectors.vectorContractLowering = vector::VectorContractLowering::OuterProduct;
  pm.addPass(createConvertVectorToLLVMPass(vectors));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void mlir::tptt::addCPUPipeline(OpPassManager &pm,
                                const TpttPipelineOptions &options) {
  // The CPU keeps the row recursion of the triangular solve.
  addGraphStages(pm, options, GraphSchedule());

  // Stage tiled: on the CPU, the contractions outside the operator's own
  // parallel loop (projections, attention) become scf.forall loops over
  // their rows, one row per core at a time; then the contractions with
  // static shapes and several rows (the operator's per-chunk products) are
  // cut into register blocks, each a vector.contract.
  if (runsStage(options, TpttStage::Tiled)) {
    pm.addNestedPass<func::FuncOp>(createTpttTileParallelContractionsPass());
    pm.addNestedPass<func::FuncOp>(createTpttVectorizeContractionsPass());
    addCleanup(pm);
  }

  addBufferizedStage(pm, options);

  // Stage loops: free what bufferization allocated, then turn linalg into
  // loops: sequential ones, and the explicit parallel loops (scf.forall
  // over batch x heads, emitted by the lowering) as OpenMP parallel regions.
  if (runsStage(options, TpttStage::Loops)) {
    addDeallocation(pm);
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
    pm.addPass(createForallToParallelLoopPass());
    ConvertSCFToOpenMPPassOptions openmp;
    openmp.numThreads = options.numThreads;
    pm.addPass(createConvertSCFToOpenMPPass(openmp));
    addCleanup(pm);
  }

  // Stage llvm: C wrappers for the public entry points (`_mlir_ciface_*`),
  // then everything to LLVM.
  if (runsStage(options, TpttStage::LLVM)) {
    pm.addPass(createTpttExportEntryPointsPass());
    addCPULLVMLowering(pm);
  }
}

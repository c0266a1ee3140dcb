//===- EmulateGpuLaunches.cpp - gpu.launch as a parallel loop on the host -===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/DialectConversion.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTEMULATEGPULAUNCHESPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

LogicalResult emulate(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  if (!body.hasOneBlock())
    return launch.emitOpError("has more than one block: cannot emulate it");
  if (!launch.getWorkgroupAttributions().empty() ||
      !launch.getPrivateAttributions().empty() ||
      launch.getDynamicSharedMemorySize() || launch.getAsyncToken())
    return launch.emitOpError("has memory attributions or shared memory, or "
                              "is asynchronous: cannot emulate it");
  // With one thread per block, a barrier has nothing to wait for.
  bool oneThread =
      llvm::all_of(ValueRange{launch.getBlockSizeX(), launch.getBlockSizeY(),
                              launch.getBlockSizeZ()},
                   [](Value size) { return getConstantIntValue(size) == 1; });
  SmallVector<gpu::BarrierOp> barriers;
  launch.walk([&](gpu::BarrierOp barrier) { barriers.push_back(barrier); });
  if (!barriers.empty() && !oneThread)
    return barriers.front().emitOpError(
        "synchronizes the threads of a block: cannot emulate its launch "
        "unless blocks have one thread");
  for (gpu::BarrierOp barrier : barriers)
    barrier.erase();

  OpBuilder b(launch);
  Location loc = launch.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> upper = {launch.getGridSizeX(),  launch.getGridSizeY(),
                              launch.getGridSizeZ(),  launch.getBlockSizeX(),
                              launch.getBlockSizeY(), launch.getBlockSizeZ()};
  auto loop = scf::ParallelOp::create(b, loc, SmallVector<Value>(6, zero),
                                      upper, SmallVector<Value>(6, one));
  IRMapping mapping;
  gpu::KernelDim3 ids[] = {launch.getBlockIds(), launch.getThreadIds()};
  gpu::KernelDim3 sizes[] = {launch.getGridSize(), launch.getBlockSize()};
  for (int level = 0; level < 2; ++level) {
    mapping.map(ids[level].x, loop.getInductionVars()[3 * level]);
    mapping.map(ids[level].y, loop.getInductionVars()[3 * level + 1]);
    mapping.map(ids[level].z, loop.getInductionVars()[3 * level + 2]);
    mapping.map(sizes[level].x, upper[3 * level]);
    mapping.map(sizes[level].y, upper[3 * level + 1]);
    mapping.map(sizes[level].z, upper[3 * level + 2]);
  }
  b.setInsertionPoint(loop.getBody()->getTerminator());
  for (Operation &op : body.front().without_terminator())
    b.clone(op, mapping);
  launch.erase();
  return success();
}

//===----------------------------------------------------------------------===//
// A warp's matrix operations, run by the one thread of an emulated block
//===----------------------------------------------------------------------===//

/// The vector holding a !gpu.mma_matrix's elements in row-major order.
VectorType matrixVector(gpu::MMAMatrixType type) {
  return VectorType::get(type.getShape(), type.getElementType());
}

/// Whether `memref`'s rows lie `lead` elements apart and its elements are
/// contiguous in them: what a fragment load or store with this leading
/// dimension reads or writes.
bool hasLeadDimension(Value memref, int64_t lead) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  return type.getRank() == 2 &&
         succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides[0] == lead && strides[1] == 1;
}

/// Fails with an error on each matrix op of `func` that the emulation does
/// not run: a transposed one, or one whose memref's rows do not lie its
/// leading dimension apart.
LogicalResult checkMatrixOps(func::FuncOp func) {
  auto check = [](Operation *op, bool transposed, Value memref = {},
                  int64_t lead = 0) -> LogicalResult {
    if (transposed)
      return op->emitOpError("transposes: cannot emulate it");
    if (memref && !hasLeadDimension(memref, lead))
      return op->emitOpError("reads or writes a matrix whose rows are not ")
             << lead << " contiguous elements apart: cannot emulate it";
    return success();
  };
  WalkResult result = func.walk([&](Operation *op) {
    LogicalResult checked = success();
    if (auto load = dyn_cast<gpu::SubgroupMmaLoadMatrixOp>(op))
      checked = check(op, load.getTranspose().has_value(), load.getSrcMemref(),
                      load.getLeadDimension().getSExtValue());
    else if (auto store = dyn_cast<gpu::SubgroupMmaStoreMatrixOp>(op))
      checked =
          check(op, store.getTranspose().has_value(), store.getDstMemref(),
                store.getLeadDimension().getSExtValue());
    else if (auto compute = dyn_cast<gpu::SubgroupMmaComputeOp>(op))
      checked = check(op, compute.getATranspose() || compute.getBTranspose());
    return failed(checked) ? WalkResult::interrupt() : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

struct EmulateLoadMatrix
    : public OpConversionPattern<gpu::SubgroupMmaLoadMatrixOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(gpu::SubgroupMmaLoadMatrixOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = matrixVector(cast<gpu::MMAMatrixType>(op.getType()));
    SmallVector<bool> inBounds(type.getRank(), true);
    rewriter.replaceOpWithNewOp<vector::TransferReadOp>(
        op, type, adaptor.getSrcMemref(), adaptor.getIndices(),
        /*padding=*/std::nullopt, inBounds);
    return success();
  }
};

struct EmulateStoreMatrix
    : public OpConversionPattern<gpu::SubgroupMmaStoreMatrixOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(gpu::SubgroupMmaStoreMatrixOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    SmallVector<bool> inBounds(2, true);
    rewriter.replaceOpWithNewOp<vector::TransferWriteOp>(
        op, adaptor.getSrc(), adaptor.getDstMemref(), adaptor.getIndices(),
        inBounds);
    return success();
  }
};

/// C + A · B: A is M×K, B is K×N (rows first, as loaded), C is M×N.
struct EmulateCompute : public OpConversionPattern<gpu::SubgroupMmaComputeOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(gpu::SubgroupMmaComputeOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    AffineExpr m, n, k;
    bindDims(rewriter.getContext(), m, n, k);
    rewriter.replaceOpWithNewOp<vector::ContractionOp>(
        op, adaptor.getOpA(), adaptor.getOpB(), adaptor.getOpC(),
        ArrayRef<ArrayRef<AffineExpr>>{{m, k}, {k, n}, {m, n}},
        ArrayRef<vector::IteratorType>{vector::IteratorType::parallel,
                                       vector::IteratorType::parallel,
                                       vector::IteratorType::reduction});
    return success();
  }
};

struct EmulateConstantMatrix
    : public OpConversionPattern<gpu::SubgroupMmaConstantMatrixOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(gpu::SubgroupMmaConstantMatrixOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    rewriter.replaceOpWithNewOp<vector::BroadcastOp>(
        op, matrixVector(op.getType()), adaptor.getValue());
    return success();
  }
};

/// Replaces the load, store, compute and constant !gpu.mma_matrix ops of
/// `func` (and the loops that carry matrices) by vector ops on the whole
/// matrix.
LogicalResult emulateMatrixOps(func::FuncOp func) {
  // Most functions hold no matrix: every one comes from a constant or a
  // load.
  WalkResult matrices = func.walk([](Operation *op) {
    return isa<gpu::SubgroupMmaConstantMatrixOp, gpu::SubgroupMmaLoadMatrixOp>(
               op)
               ? WalkResult::interrupt()
               : WalkResult::advance();
  });
  if (!matrices.wasInterrupted())
    return success();
  if (failed(checkMatrixOps(func)))
    return failure();
  MLIRContext *context = func.getContext();
  TypeConverter converter;
  converter.addConversion([](Type type) { return type; });
  converter.addConversion(
      [](gpu::MMAMatrixType type) -> Type { return matrixVector(type); });
  ConversionTarget target(*context);
  target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
  target.addIllegalOp<gpu::SubgroupMmaLoadMatrixOp,
                      gpu::SubgroupMmaStoreMatrixOp, gpu::SubgroupMmaComputeOp,
                      gpu::SubgroupMmaConstantMatrixOp>();
  RewritePatternSet patterns(context);
  patterns.add<EmulateLoadMatrix, EmulateStoreMatrix, EmulateCompute,
               EmulateConstantMatrix>(converter, context);
  scf::populateSCFStructuralTypeConversionsAndLegality(converter, patterns,
                                                       target);
  return applyPartialConversion(func, target, std::move(patterns));
}

struct TpttEmulateGpuLaunchesPass
    : public tptt::impl::TpttEmulateGpuLaunchesPassBase<
          TpttEmulateGpuLaunchesPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk(
        [&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches)
      if (failed(emulate(launch)))
        return signalPassFailure();
    if (failed(emulateMatrixOps(getOperation())))
      signalPassFailure();
  }
};

} // namespace

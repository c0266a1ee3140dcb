//===- MapParallelLoopsToGpu.cpp - Outermost parallel loops to kernels ----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTMAPPARALLELLOOPSTOGPUPASS
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// Rewrites `copy` as a nest of loops of loads and stores: sequential ones
/// inside a kernel, one parallel loop (which becomes a kernel) on the host.
/// A copy of a buffer onto itself is dropped.
void expandCopy(memref::CopyOp copy, bool inKernel) {
  if (copy.getSource() == copy.getTarget()) {
    copy.erase();
    return;
  }
  OpBuilder b(copy);
  Location loc = copy.getLoc();
  auto type = cast<MemRefType>(copy.getSource().getType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> sizes;
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    sizes.push_back(memref::DimOp::create(b, loc, copy.getSource(), dim));
  SmallVector<Value> indices;
  if (inKernel) {
    for (Value size : sizes) {
      auto loop = scf::ForOp::create(b, loc, zero, size, one);
      indices.push_back(loop.getInductionVar());
      b.setInsertionPointToStart(loop.getBody());
    }
  } else if (type.getRank() > 0) {
    SmallVector<Value> zeros(type.getRank(), zero), ones(type.getRank(), one);
    auto loop = scf::ParallelOp::create(b, loc, zeros, sizes, ones);
    indices = llvm::to_vector(loop.getInductionVars());
    b.setInsertionPointToStart(loop.getBody());
  }
  Value element = memref::LoadOp::create(b, loc, copy.getSource(), indices);
  memref::StoreOp::create(b, loc, element, copy.getTarget(), indices);
  copy.erase();
}

/// Replaces `loop` by a launch of ceil(iterations / blockSize) blocks of
/// blockSize threads, one iteration per thread.
void mapToKernel(scf::ParallelOp loop, int64_t blockSize) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  // Iterations per dimension (none when the upper bound lies below the
  // lower one), and in all.
  SmallVector<Value> counts;
  Value total = one;
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value span = arith::SubIOp::create(b, loc, upper, lower);
    Value count = arith::MaxSIOp::create(
        b, loc, arith::CeilDivSIOp::create(b, loc, span, step), zero);
    counts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  // A grid of no blocks is an invalid launch: an empty loop launches one
  // block whose threads all skip.
  Value blocks = arith::MaxSIOp::create(
      b, loc, arith::CeilDivSIOp::create(b, loc, total, threads), one);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value id = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, threads),
      launch.getThreadIds().x);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, id, total);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  gpu::TerminatorOp::create(b, loc);

  // Row-major: the last dimension varies fastest.
  b.setInsertionPointToStart(guard.thenBlock());
  IRMapping mapping;
  Value rest = id;
  for (int64_t dim = loop.getNumLoops() - 1; dim >= 0; --dim) {
    Value index =
        dim == 0 ? rest : arith::RemUIOp::create(b, loc, rest, counts[dim]);
    if (dim > 0)
      rest = arith::DivUIOp::create(b, loc, rest, counts[dim]);
    Value iv = arith::AddIOp::create(
        b, loc, loop.getLowerBound()[dim],
        arith::MulIOp::create(b, loc, index, loop.getStep()[dim]));
    mapping.map(loop.getInductionVars()[dim], iv);
  }
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();

  SmallVector<memref::CopyOp> copies;
  launch.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies)
    expandCopy(copy, /*inKernel=*/true);
}

struct TpttMapParallelLoopsToGpuPass
    : public tptt::impl::TpttMapParallelLoopsToGpuPassBase<
          TpttMapParallelLoopsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (blockSize <= 0) {
      getOperation()->emitError("block-size must be positive, not ")
          << blockSize;
      return signalPassFailure();
    }
    // Copies outside parallel loops become parallel loops themselves.
    SmallVector<memref::CopyOp> hostCopies;
    getOperation().walk([&](memref::CopyOp copy) {
      if (!copy->getParentOfType<scf::ParallelOp>())
        hostCopies.push_back(copy);
    });
    for (memref::CopyOp copy : hostCopies)
      expandCopy(copy, /*inKernel=*/false);
    SmallVector<scf::ParallelOp> outermost;
    getOperation().walk([&](scf::ParallelOp loop) {
      if (loop.getNumReductions() == 0 &&
          !loop->getParentOfType<scf::ParallelOp>() &&
          !loop->getParentOfType<gpu::LaunchOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost)
      mapToKernel(loop, blockSize);
  }
};

} // namespace

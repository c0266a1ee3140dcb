//===- LoopUtils.cpp - Loops of the CUDA tail -----------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/CUDA/LoopUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

Value mlir::tptt::buildTripCount(OpBuilder &b, Location loc, Value lower,
                                 Value upper, Value step) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value span = arith::SubIOp::create(b, loc, upper, lower);
  return arith::MaxSIOp::create(
      b, loc, arith::CeilDivSIOp::create(b, loc, span, step), zero);
}

std::pair<SmallVector<Value>, Value>
mlir::tptt::buildIterationCounts(OpBuilder &b, Location loc,
                                 scf::ParallelOp loop) {
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> counts;
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value count = buildTripCount(b, loc, lower, upper, step);
    counts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  return {counts, total};
}

Value mlir::tptt::buildAlignmentPadding(OpBuilder &b, Location loc, Value bytes,
                                        int64_t alignment) {
  Value address = memref::ExtractAlignedPointerAsIndexOp::create(b, loc, bytes);
  Value boundary = arith::ConstantIndexOp::create(b, loc, alignment);
  Value misalignment = arith::RemUIOp::create(b, loc, address, boundary);
  Value gap = arith::SubIOp::create(b, loc, boundary, misalignment);
  return arith::RemUIOp::create(b, loc, gap, boundary);
}

/// Whether `op` is parallel work: a loop whose iterations the block's
/// threads share.
static bool isParallelWork(Operation *op) {
  return isa<scf::ParallelOp, linalg::LinalgOp>(op);
}

void mlir::tptt::walkBlockLevel(Region &region,
                                function_ref<void(Operation *)> fn) {
  for (Block &block : region)
    for (Operation &op : block) {
      fn(&op);
      if (!isParallelWork(&op))
        for (Region &nested : op.getRegions())
          walkBlockLevel(nested, fn);
    }
}

/// Whether `op` or an op nested in it has a memory effect `Effect`, or
/// effects MLIR cannot tell.
template <typename Effect> static bool hasEffectWithin(Operation *op) {
  WalkResult result = op->walk([](Operation *nested) {
    if (auto effects = dyn_cast<MemoryEffectOpInterface>(nested))
      return effects.hasEffect<Effect>() ? WalkResult::interrupt()
                                         : WalkResult::advance();
    return nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>()
               ? WalkResult::advance()
               : WalkResult::interrupt();
  });
  return result.wasInterrupted();
}

bool mlir::tptt::readsMemory(Operation *op) {
  return hasEffectWithin<MemoryEffects::Read>(op);
}

bool mlir::tptt::writesMemory(Operation *op) {
  return hasEffectWithin<MemoryEffects::Write>(op) ||
         hasEffectWithin<MemoryEffects::Free>(op);
}

bool mlir::tptt::holdsParallelWork(Operation *op) {
  return op
      ->walk([](Operation *nested) {
        return isParallelWork(nested) ? WalkResult::interrupt()
                                      : WalkResult::advance();
      })
      .wasInterrupted();
}

std::optional<int64_t> mlir::tptt::elementBytes(Type type) {
  if (type.isIndex())
    return 8;
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return std::nullopt;
}

bool mlir::tptt::canRunCooperatively(Operation *loop) {
  bool nested = false, ok = true;
  walkBlockLevel(loop->getRegion(0), [&](Operation *op) {
    if (!ok)
      return;
    if (isParallelWork(op)) {
      nested = true;
      if (auto inner = dyn_cast<scf::ParallelOp>(op))
        ok = inner.getNumReductions() == 0;
      return;
    }
    if (isa<memref::AllocOp, memref::AllocaOp>(op)) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      ok = type.getLayout().isIdentity() &&
           elementBytes(type.getElementType()) &&
           llvm::all_of(op->getOperands(), [&](Value size) {
             return !loop->isAncestor(size.getParentBlock()->getParentOp());
           });
      return;
    }
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      Operation *allocation = dealloc.getMemref().getDefiningOp();
      ok = isa_and_present<memref::AllocOp>(allocation) &&
           allocation->getBlock() == dealloc->getBlock();
      return;
    }
    // A buffer carried from one iteration of a loop to the next would be
    // one slice for all of them.
    auto isMemRef = [](Type type) { return isa<BaseMemRefType>(type); };
    if (isa<scf::ForOp, scf::IfOp, scf::WhileOp>(op) &&
        llvm::any_of(op->getResultTypes(), isMemRef)) {
      ok = false;
      return;
    }
    if (isa<memref::CopyOp>(op))
      return;
    if (op->getNumRegions() > 0 && holdsParallelWork(op)) {
      ok = isa<scf::ForOp, scf::IfOp>(op);
      return;
    }
    if (op->getNumResults() > 0 && writesMemory(op))
      ok = false;
  });
  return nested && ok;
}

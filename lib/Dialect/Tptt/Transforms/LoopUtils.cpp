//===- LoopUtils.cpp - Iteration counts of scf loops ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/Transforms/LoopUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

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

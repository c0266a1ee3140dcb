//===- SplitAccumulations.cpp - Reductions in registers, split over threads
//===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/CUDA/LoopUtils.h"
#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTSPLITACCUMULATIONSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// An accumulation: `loop` loads an element (`load`), adds a term to it
/// (`sum`) and stores it back (`store`) each step, at indices it does not
/// change.
struct Accumulation {
  scf::ForOp loop;
  memref::LoadOp load;
  arith::AddFOp sum;
  memref::StoreOp store;
};

/// The accumulation that is the body of `parallel`, if it is one: besides
/// pure ops, the body holds one scf.for without results whose only write is
/// the store of the sum, and which reads the element only there.
std::optional<Accumulation> matchAccumulation(scf::ParallelOp parallel) {
  scf::ForOp loop;
  for (Operation &op : parallel.getBody()->without_terminator()) {
    if (auto inner = dyn_cast<scf::ForOp>(op); inner && !loop) {
      loop = inner;
      continue;
    }
    if (!isPure(&op))
      return std::nullopt;
  }
  if (!loop || loop.getNumResults() != 0)
    return std::nullopt;
  // The reduction's bounds move out of the body: they must come from
  // outside it.
  for (Value bound :
       {loop.getLowerBound(), loop.getUpperBound(), loop.getStep()})
    if (parallel->isAncestor(bound.getParentBlock()->getParentOp()))
      return std::nullopt;
  auto store =
      dyn_cast<memref::StoreOp>(loop.getBody()->getTerminator()->getPrevNode());
  if (!store)
    return std::nullopt;
  auto sum = store.getValueToStore().getDefiningOp<arith::AddFOp>();
  if (!sum || sum->getBlock() != loop.getBody())
    return std::nullopt;
  Value buffer = store.getMemRef();
  for (Value index : store.getIndices())
    if (loop->isAncestor(index.getParentBlock()->getParentOp()))
      return std::nullopt;
  memref::LoadOp load;
  for (Value operand : {sum.getLhs(), sum.getRhs()}) {
    auto candidate = operand.getDefiningOp<memref::LoadOp>();
    if (candidate && candidate.getMemRef() == buffer &&
        llvm::equal(candidate.getIndices(), store.getIndices()) &&
        candidate->hasOneUse())
      load = candidate;
  }
  if (!load || sum.getLhs() == sum.getRhs())
    return std::nullopt;
  // No other access to the buffer, and no other write, in the loop.
  WalkResult other = loop.getBody()->walk([&](Operation *op) {
    if (op == load || op == store)
      return WalkResult::advance();
    if (llvm::is_contained(op->getOperands(), buffer))
      return WalkResult::interrupt();
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (effects ? effects.hasEffect<MemoryEffects::Write>()
                : !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (other.wasInterrupted())
    return std::nullopt;
  return Accumulation{loop, load, sum, store};
}

/// Rewrites the accumulation of `parallel` (see the pass description).
void split(scf::ParallelOp parallel, Accumulation acc, int64_t minThreads,
           int64_t minSteps) {
  OpBuilder b(parallel);
  Location loc = parallel.getLoc();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  // Iterations of the parallel loop and steps of the reduction.
  Value iterations = tptt::buildIterationCounts(b, loc, parallel).second;
  scf::ForOp loop = acc.loop;
  Value steps = tptt::buildTripCount(b, loc, loop.getLowerBound(),
                                     loop.getUpperBound(), loop.getStep());
  Value threads = arith::ConstantIndexOp::create(b, loc, minThreads);
  Value wanted = arith::CeilDivSIOp::create(
      b, loc, threads, arith::MaxSIOp::create(b, loc, iterations, one));
  Value most = arith::MaxSIOp::create(
      b, loc,
      arith::CeilDivSIOp::create(
          b, loc, steps, arith::ConstantIndexOp::create(b, loc, minSteps)),
      one);
  Value parts = arith::MinSIOp::create(b, loc, wanted, most);
  Value chunk = arith::CeilDivSIOp::create(b, loc, steps, parts);

  // The parallel loop with the part as its first dimension.
  SmallVector<Value> lowers = {zero}, uppers = {parts}, stepsPer = {one};
  llvm::append_range(lowers, parallel.getLowerBound());
  llvm::append_range(uppers, parallel.getUpperBound());
  llvm::append_range(stepsPer, parallel.getStep());
  auto splitLoop = scf::ParallelOp::create(b, loc, lowers, uppers, stepsPer);
  OpBuilder body = OpBuilder::atBlockBegin(splitLoop.getBody());
  IRMapping mapping;
  SmallVector<Value> ivs = splitLoop.getInductionVars();
  for (auto [from, to] :
       llvm::zip(parallel.getInductionVars(), ArrayRef(ivs).drop_front()))
    mapping.map(from, to);
  Value part = ivs.front();
  for (Operation &op : parallel.getBody()->without_terminator()) {
    if (&op != loop.getOperation()) {
      body.clone(op, mapping);
      continue;
    }
    // Steps [part * chunk, min((part + 1) * chunk, steps)) of the reduction.
    Value first = arith::MulIOp::create(body, loc, part, chunk);
    Value last = arith::MinSIOp::create(
        body, loc, arith::AddIOp::create(body, loc, first, chunk), steps);
    Value lower = arith::AddIOp::create(
        body, loc, loop.getLowerBound(),
        arith::MulIOp::create(body, loc, first, loop.getStep()));
    Value upper = arith::AddIOp::create(
        body, loc, loop.getLowerBound(),
        arith::MulIOp::create(body, loc, last, loop.getStep()));
    Type type = acc.sum.getType();
    Value init = arith::ConstantOp::create(body, loc, type,
                                           body.getFloatAttr(type, 0.0));
    auto partial = scf::ForOp::create(
        body, loc, lower, upper, loop.getStep(), ValueRange{init},
        [&](OpBuilder &lb, Location lloc, Value iv, ValueRange carried) {
          mapping.map(loop.getInductionVar(), iv);
          mapping.map(acc.load.getResult(), carried.front());
          for (Operation &inner : loop.getBody()->without_terminator())
            if (&inner != acc.load.getOperation() &&
                &inner != acc.store.getOperation())
              lb.clone(inner, mapping);
          scf::YieldOp::create(lb, lloc, mapping.lookup(acc.sum.getResult()));
        });
    SmallVector<Value> indices;
    for (Value index : acc.store.getIndices())
      indices.push_back(mapping.lookupOrDefault(index));
    memref::AtomicRMWOp::create(
        body, loc, arith::AtomicRMWKind::addf, partial.getResult(0),
        mapping.lookupOrDefault(acc.store.getMemRef()), indices);
  }
  parallel.erase();
}

struct TpttSplitAccumulationsPass
    : public tptt::impl::TpttSplitAccumulationsPassBase<
          TpttSplitAccumulationsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (minThreads <= 0 || minSteps <= 0) {
      getOperation()->emitError("min-threads and min-steps must be positive");
      return signalPassFailure();
    }
    SmallVector<std::pair<scf::ParallelOp, Accumulation>> found;
    getOperation().walk([&](scf::ParallelOp parallel) {
      if (parallel.getNumReductions() != 0 ||
          parallel->getParentOfType<scf::ParallelOp>())
        return;
      if (std::optional<Accumulation> acc = matchAccumulation(parallel))
        found.emplace_back(parallel, *acc);
    });
    for (auto &[parallel, acc] : found)
      split(parallel, acc, minThreads, minSteps);
  }
};

} // namespace

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

/// The iteration counts of `loop` per dimension (none when the upper bound
/// lies below the lower one) and in all, computed at `b`.
std::pair<SmallVector<Value>, Value> iterationCounts(OpBuilder &b, Location loc,
                                                     scf::ParallelOp loop) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> counts;
  for (auto [lower, upper, step] :
       llvm::zip(loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
    Value span = arith::SubIOp::create(b, loc, upper, lower);
    Value count = arith::MaxSIOp::create(
        b, loc, arith::CeilDivSIOp::create(b, loc, span, step), zero);
    counts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  return {counts, total};
}

/// Maps the induction variables of `loop` to those of its iteration number
/// `id`, numbered row-major (the last dimension varies fastest).
void mapIteration(OpBuilder &b, Location loc, scf::ParallelOp loop,
                  ArrayRef<Value> counts, Value id, IRMapping &mapping) {
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
}

/// A launch of `blocks` blocks of `threads` threads whose body (at `b`)
/// runs when `id` (built by `makeId` from the launch) lies below `total`.
gpu::LaunchOp createGuardedLaunch(
    OpBuilder &b, Location loc, Value blocks, Value threads, Value total,
    function_ref<Value(OpBuilder &, gpu::LaunchOp)> makeId, Value &id) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  b.setInsertionPointToStart(&launch.getBody().front());
  id = makeId(b, launch);
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, id, total);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(guard.thenBlock());
  return launch;
}

/// Replaces `loop` by a launch of ceil(iterations / blockSize) blocks of
/// blockSize threads, one iteration per thread.
void mapToKernel(scf::ParallelOp loop, int64_t blockSize) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  auto [counts, total] = iterationCounts(b, loc, loop);
  // A grid of no blocks is an invalid launch: an empty loop launches one
  // block whose threads all skip.
  Value blocks = arith::MaxSIOp::create(
      b, loc, arith::CeilDivSIOp::create(b, loc, total, threads), one);
  Value id;
  gpu::LaunchOp launch = createGuardedLaunch(
      b, loc, blocks, threads, total,
      [&](OpBuilder &nb, gpu::LaunchOp l) -> Value {
        return arith::AddIOp::create(
            nb, loc, arith::MulIOp::create(nb, loc, l.getBlockIds().x, threads),
            l.getThreadIds().x);
      },
      id);
  IRMapping mapping;
  mapIteration(b, loc, loop, counts, id, mapping);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();

  SmallVector<memref::CopyOp> copies;
  launch.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies)
    expandCopy(copy, /*inKernel=*/true);
}

//===----------------------------------------------------------------------===//
// Cooperative kernels: one block per iteration
//===----------------------------------------------------------------------===//

/// Calls `fn` on the ops of `region` that its block runs in a cooperative
/// kernel: all but those inside nested parallel loops (which `fn` sees).
void walkBlockLevel(Region &region, function_ref<void(Operation *)> fn) {
  for (Block &block : region)
    for (Operation &op : block) {
      fn(&op);
      if (!isa<scf::ParallelOp>(op))
        for (Region &nested : op.getRegions())
          walkBlockLevel(nested, fn);
    }
}

/// Whether `op` or an op nested in it has a memory effect `Effect`, or
/// effects MLIR cannot tell.
template <typename Effect> bool hasEffectWithin(Operation *op) {
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

/// The bytes an element of `type` takes in a buffer (index: 64 bits, i1: one
/// byte), or nothing for a type a shared buffer does not hold.
std::optional<int64_t> elementBytes(Type type) {
  if (type.isIndex())
    return 8;
  if (type.isIntOrFloat())
    return (type.getIntOrFloatBitWidth() + 7) / 8;
  return std::nullopt;
}

/// Whether `op` or an op nested in it writes or frees memory.
bool writesMemory(Operation *op) {
  return hasEffectWithin<MemoryEffects::Write>(op) ||
         hasEffectWithin<MemoryEffects::Free>(op);
}

/// Whether `op` holds a parallel loop.
bool holdsParallelLoop(Operation *op) {
  return op->walk([](scf::ParallelOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

/// Whether `loop` can run as a cooperative kernel: it holds parallel loops
/// (without reductions); the allocations at its block level are made once
/// per iteration (in its body, not in a loop or branch of it), sized outside
/// it, and freed only there (not through a buffer a loop carries: the
/// ownership-based deallocation of a loop that yields fresh buffers each
/// time); and every op at block level that writes memory either holds
/// parallel loops itself (scf.for, scf.if, whose bodies are checked the same
/// way) or returns nothing (so that one thread can run it alone).
bool canRunCooperatively(scf::ParallelOp loop) {
  bool nested = false, ok = true;
  walkBlockLevel(loop.getRegion(), [&](Operation *op) {
    if (!ok)
      return;
    if (auto inner = dyn_cast<scf::ParallelOp>(op)) {
      nested = true;
      ok = inner.getNumReductions() == 0;
      return;
    }
    if (isa<memref::AllocOp, memref::AllocaOp>(op)) {
      auto type = cast<MemRefType>(op->getResult(0).getType());
      ok = op->getBlock() == loop.getBody() && type.getLayout().isIdentity() &&
           elementBytes(type.getElementType()) &&
           llvm::all_of(op->getOperands(), [&](Value size) {
             return !loop->isAncestor(size.getParentBlock()->getParentOp());
           });
      return;
    }
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
      Operation *allocation = dealloc.getMemref().getDefiningOp();
      ok = isa_and_present<memref::AllocOp>(allocation) &&
           allocation->getBlock() == loop.getBody();
      return;
    }
    if (isa<memref::CopyOp>(op))
      return;
    if (op->getNumRegions() > 0 && holdsParallelLoop(op)) {
      ok = isa<scf::ForOp, scf::IfOp>(op);
      return;
    }
    if (op->getNumResults() > 0 && writesMemory(op))
      ok = false;
  });
  return nested && ok;
}

/// Rounds `bytes` up to a multiple of `alignment`.
Value alignUp(OpBuilder &b, Location loc, Value bytes, int64_t alignment) {
  Value align = arith::ConstantIndexOp::create(b, loc, alignment);
  return arith::MulIOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, bytes, align), align);
}

/// Gives every block-level allocation of `loop`'s iterations a slice of one
/// buffer allocated before it (`total` iterations), so that a block's
/// threads share their iteration's scratch buffers and no kernel allocates:
/// each allocation becomes a memref.view of the buffer (same type) at its
/// iteration's offset. Returns the buffer (null when there is nothing to
/// share).
Value shareAllocations(OpBuilder &b, Location loc, scf::ParallelOp loop,
                       ArrayRef<Value> counts, Value total) {
  SmallVector<Operation *> allocations;
  walkBlockLevel(loop.getRegion(), [&](Operation *op) {
    if (isa<memref::AllocOp, memref::AllocaOp>(op))
      allocations.push_back(op);
  });
  if (allocations.empty())
    return Value();
  constexpr int64_t kAlignment = 64;
  // Byte offsets within an iteration's slice, computed before the loop.
  SmallVector<Value> offsets;
  Value perIteration = arith::ConstantIndexOp::create(b, loc, 0);
  for (Operation *allocation : allocations) {
    auto type = cast<MemRefType>(allocation->getResult(0).getType());
    offsets.push_back(perIteration);
    Value bytes = arith::ConstantIndexOp::create(
        b, loc, *elementBytes(type.getElementType()));
    unsigned dynamic = 0;
    for (int64_t size : type.getShape())
      bytes = arith::MulIOp::create(
          b, loc, bytes,
          ShapedType::isDynamic(size)
              ? allocation->getOperand(dynamic++)
              : arith::ConstantIndexOp::create(b, loc, size).getResult());
    perIteration = alignUp(
        b, loc, arith::AddIOp::create(b, loc, perIteration, bytes), kAlignment);
  }
  auto bufferType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
  Value buffer = memref::AllocOp::create(
      b, loc, bufferType,
      ValueRange{arith::MulIOp::create(b, loc, total, perIteration)},
      b.getI64IntegerAttr(kAlignment));

  OpBuilder inner = OpBuilder::atBlockBegin(loop.getBody());
  Value iteration = arith::ConstantIndexOp::create(inner, loc, 0);
  for (auto [dim, iv] : llvm::enumerate(loop.getInductionVars())) {
    Value index = arith::DivUIOp::create(
        inner, loc,
        arith::SubIOp::create(inner, loc, iv, loop.getLowerBound()[dim]),
        loop.getStep()[dim]);
    iteration = arith::AddIOp::create(
        inner, loc, arith::MulIOp::create(inner, loc, iteration, counts[dim]),
        index);
  }
  Value base = arith::MulIOp::create(inner, loc, iteration, perIteration);
  for (auto [allocation, offset] : llvm::zip(allocations, offsets)) {
    OpBuilder at(allocation);
    Value shift = arith::AddIOp::create(at, loc, base, offset);
    Value view =
        memref::ViewOp::create(at, loc, allocation->getResult(0).getType(),
                               buffer, shift, allocation->getOperands());
    for (Operation *user :
         llvm::make_early_inc_range(allocation->getResult(0).getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    allocation->getResult(0).replaceAllUsesWith(view);
    allocation->erase();
  }
  return buffer;
}

/// Runs the block-level parallel loops and writes of a cooperative kernel's
/// block across its threads: each parallel loop becomes a loop of the
/// thread over the iterations numbered threadIdx.x, + blockDim.x, …; every
/// other op that writes memory runs in thread 0 alone; a barrier follows
/// each, and precedes each when the block read memory since the last one.
class BlockSchedule {
public:
  BlockSchedule(Value thread, Value threads)
      : thread(thread), threads(threads) {}

  void run(Block &block) {
    bool readSince = false;
    run(block, readSince);
  }

private:
  void run(Block &block, bool &readSince) {
    for (Operation &op : llvm::make_early_inc_range(block)) {
      if (op.hasTrait<OpTrait::IsTerminator>())
        continue;
      if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
        barrierIf(loop, readSince);
        distribute(loop);
        continue;
      }
      if (op.getNumRegions() > 0 && holdsParallelLoop(&op)) {
        // scf.for / scf.if, uniform across the block: their bodies are
        // scheduled the same way. A loop body also follows its own end.
        for (Region &region : op.getRegions())
          for (Block &nested : region) {
            bool nestedRead =
                readSince || (isa<scf::ForOp>(op) && readsAtBlockLevel(nested));
            run(nested, nestedRead);
          }
        readSince = true;
        continue;
      }
      if (writesMemory(&op)) {
        barrierIf(&op, readSince);
        runInThreadZero(&op);
        continue;
      }
      readSince |= hasEffectWithin<MemoryEffects::Read>(&op);
    }
  }

  /// Whether the block-level ops of `block` (outside its parallel loops)
  /// read memory.
  static bool readsAtBlockLevel(Block &block) {
    for (Operation &op : block)
      if (!isa<scf::ParallelOp>(op) && !holdsParallelLoop(&op) &&
          hasEffectWithin<MemoryEffects::Read>(&op))
        return true;
    return false;
  }

  void barrierIf(Operation *before, bool &readSince) {
    if (!readSince)
      return;
    OpBuilder b(before);
    gpu::BarrierOp::create(b, before->getLoc());
    readSince = false;
  }

  void barrierAfter(Operation *op) {
    OpBuilder b(op->getContext());
    b.setInsertionPointAfter(op);
    gpu::BarrierOp::create(b, op->getLoc());
  }

  void distribute(scf::ParallelOp loop) {
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    auto [counts, total] = iterationCounts(b, loc, loop);
    auto strided = scf::ForOp::create(b, loc, thread, total, threads);
    b.setInsertionPointToStart(strided.getBody());
    IRMapping mapping;
    mapIteration(b, loc, loop, counts, strided.getInductionVar(), mapping);
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, mapping);
    barrierAfter(strided);
    loop.erase();
  }

  void runInThreadZero(Operation *op) {
    OpBuilder b(op);
    Location loc = op->getLoc();
    Value first =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, thread,
                              arith::ConstantIndexOp::create(b, loc, 0));
    auto guard = scf::IfOp::create(b, loc, first, /*withElseRegion=*/false);
    op->moveBefore(guard.thenBlock()->getTerminator());
    barrierAfter(guard);
  }

  Value thread, threads;
};

/// Replaces `loop` by a launch of one block of `blockSize` threads per
/// iteration, which share the iteration's work (see BlockSchedule) and its
/// allocations (see shareAllocations).
void mapToCooperativeKernel(scf::ParallelOp loop, int64_t blockSize) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  // Block-level copies are parallel loops too.
  SmallVector<memref::CopyOp> copies;
  walkBlockLevel(loop.getRegion(), [&](Operation *op) {
    if (auto copy = dyn_cast<memref::CopyOp>(op))
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies)
    expandCopy(copy, /*inKernel=*/false);

  auto [counts, total] = iterationCounts(b, loc, loop);
  Value buffer = shareAllocations(b, loc, loop, counts, total);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  Value blocks = arith::MaxSIOp::create(b, loc, total, one);
  Value id;
  gpu::LaunchOp launch = createGuardedLaunch(
      b, loc, blocks, threads, total,
      [](OpBuilder &, gpu::LaunchOp l) -> Value { return l.getBlockIds().x; },
      id);
  Block *body = b.getInsertionBlock();
  IRMapping mapping;
  mapIteration(b, loc, loop, counts, id, mapping);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();
  BlockSchedule(launch.getThreadIds().x, launch.getBlockSizeX()).run(*body);
  if (buffer) {
    b.setInsertionPointAfter(launch);
    memref::DeallocOp::create(b, loc, buffer);
  }

  SmallVector<memref::CopyOp> inner;
  launch.walk([&](memref::CopyOp copy) { inner.push_back(copy); });
  for (memref::CopyOp copy : inner)
    expandCopy(copy, /*inKernel=*/true);
}

struct TpttMapParallelLoopsToGpuPass
    : public tptt::impl::TpttMapParallelLoopsToGpuPassBase<
          TpttMapParallelLoopsToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    for (auto [name, size] :
         {std::pair<StringRef, int64_t>{"block-size", blockSize},
          {"cooperative-block-size", cooperativeBlockSize}}) {
      if (size <= 0) {
        getOperation()->emitError()
            << name << " must be positive, not " << size;
        return signalPassFailure();
      }
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
    for (scf::ParallelOp loop : outermost) {
      if (canRunCooperatively(loop))
        mapToCooperativeKernel(loop, cooperativeBlockSize);
      else
        mapToKernel(loop, blockSize);
    }
  }
};

} // namespace

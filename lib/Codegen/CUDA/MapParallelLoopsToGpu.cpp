//===- MapParallelLoopsToGpu.cpp - Outermost parallel loops to kernels ----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/CUDA/LoopUtils.h"
#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTMAPPARALLELLOOPSTOGPUPASS
#include "tptt/Codegen/Passes.h.inc"
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

/// Ends the launch body that `b` is at the start of with `if (id < total)`
/// and a terminator; returns the branch, at whose start `b` then stands.
Block *guardIteration(OpBuilder &b, Location loc, Value id, Value total) {
  Value inRange =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, id, total);
  auto guard = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
  gpu::TerminatorOp::create(b, loc);
  b.setInsertionPointToStart(guard.thenBlock());
  return guard.thenBlock();
}

/// Turns the copies in the kernel `launch` into sequential loops (a kernel
/// cannot call the host's memrefCopy).
void expandKernelCopies(gpu::LaunchOp launch) {
  SmallVector<memref::CopyOp> copies;
  launch.walk([&](memref::CopyOp copy) { copies.push_back(copy); });
  for (memref::CopyOp copy : copies)
    expandCopy(copy, /*inKernel=*/true);
}

/// Replaces `loop` by a launch of ceil(iterations / blockSize) blocks of
/// blockSize threads, one iteration per thread.
void mapToKernel(scf::ParallelOp loop, int64_t blockSize) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  auto [counts, total] = tptt::buildIterationCounts(b, loc, loop);
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
  guardIteration(b, loc, id, total);
  IRMapping mapping;
  mapIteration(b, loc, loop, counts, id, mapping);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  loop.erase();
  expandKernelCopies(launch);
}

//===----------------------------------------------------------------------===//
// Cooperative kernels: one block per iteration
//===----------------------------------------------------------------------===//

/// Where a cooperative kernel's block keeps the allocations of its
/// iteration: the first ones of static size in the block's shared memory
/// (while `sharedBytes` stays within the budget: the chunk scan's state
/// first), the others in slices of one buffer in global memory allocated
/// before the launch (`globalBytes` per iteration). Offsets are in bytes,
/// each a multiple of kAlignment.
struct BlockBuffers {
  static constexpr int64_t kAlignment = 64;
  SmallVector<Operation *> allocations;
  /// Per allocation: in shared memory, and its offset there (constant) or
  /// in its iteration's global slice (computed before the launch).
  SmallVector<bool> shared;
  SmallVector<int64_t> sharedOffsets;
  SmallVector<Value> globalOffsets;
  int64_t sharedBytes = 0;
  Value globalBytes;
};

/// Rounds `bytes` up to a multiple of BlockBuffers::kAlignment.
int64_t alignUp(int64_t bytes) {
  int64_t align = BlockBuffers::kAlignment;
  return (bytes + align - 1) / align * align;
}
Value alignUp(OpBuilder &b, Location loc, Value bytes) {
  Value align =
      arith::ConstantIndexOp::create(b, loc, BlockBuffers::kAlignment);
  return arith::MulIOp::create(
      b, loc, arith::CeilDivUIOp::create(b, loc, bytes, align), align);
}

/// Places the block-level allocations of `loop` (see BlockBuffers) with at
/// most `sharedBudget` bytes of shared memory; the global sizes are
/// computed at `b`, before the loop.
BlockBuffers placeAllocations(OpBuilder &b, Location loc, scf::ParallelOp loop,
                              int64_t sharedBudget) {
  BlockBuffers buffers;
  tptt::walkBlockLevel(loop.getRegion(), [&](Operation *op) {
    if (isa<memref::AllocOp, memref::AllocaOp>(op))
      buffers.allocations.push_back(op);
  });
  buffers.globalBytes = arith::ConstantIndexOp::create(b, loc, 0);
  for (Operation *allocation : buffers.allocations) {
    auto type = cast<MemRefType>(allocation->getResult(0).getType());
    int64_t element = *tptt::elementBytes(type.getElementType());
    if (type.hasStaticShape()) {
      int64_t bytes = alignUp(type.getNumElements() * element);
      if (buffers.sharedBytes + bytes <= sharedBudget) {
        buffers.shared.push_back(true);
        buffers.sharedOffsets.push_back(buffers.sharedBytes);
        buffers.globalOffsets.push_back(Value());
        buffers.sharedBytes += bytes;
        continue;
      }
    }
    Value bytes = arith::ConstantIndexOp::create(b, loc, element);
    unsigned dynamic = 0;
    for (int64_t size : type.getShape())
      bytes = arith::MulIOp::create(
          b, loc, bytes,
          ShapedType::isDynamic(size)
              ? allocation->getOperand(dynamic++)
              : arith::ConstantIndexOp::create(b, loc, size).getResult());
    buffers.shared.push_back(false);
    buffers.sharedOffsets.push_back(0);
    buffers.globalOffsets.push_back(buffers.globalBytes);
    buffers.globalBytes = alignUp(
        b, loc, arith::AddIOp::create(b, loc, buffers.globalBytes, bytes));
  }
  return buffers;
}

/// Where a cooperative kernel's buffers lie: its shared memory, as a
/// generic pointer (so that the views keep the allocations' types; loads and
/// stores through it stay on chip), with the offset of its first byte
/// aligned to BlockBuffers::kAlignment (the launch gives that much more: a
/// kernel's dynamic shared memory is only sure to be 16-byte aligned, and
/// warp matrix loads need 32), and the byte offset of the iteration's global
/// slice.
struct BufferBases {
  Value shared, sharedStart, global;
};

/// The BufferBases of iteration `iteration`, built at `b` (the start of the
/// block's work).
BufferBases bufferBases(OpBuilder &b, Location loc, const BlockBuffers &buffers,
                        Value iteration, Value global) {
  BufferBases bases;
  if (buffers.sharedBytes > 0) {
    auto workgroup = gpu::AddressSpaceAttr::get(
        b.getContext(), gpu::GPUDialect::getWorkgroupAddressSpace());
    Value memory = gpu::DynamicSharedMemoryOp::create(
        b, loc,
        MemRefType::get({ShapedType::kDynamic}, b.getI8Type(),
                        MemRefLayoutAttrInterface(), workgroup));
    bases.shared = memref::MemorySpaceCastOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()), memory);
    bases.sharedStart = tptt::buildAlignmentPadding(b, loc, bases.shared,
                                                    BlockBuffers::kAlignment);
  }
  if (global)
    bases.global =
        arith::MulIOp::create(b, loc, iteration, buffers.globalBytes);
  return bases;
}

/// Replaces the clones (`mapping`) of the allocations of `buffers` in a
/// cooperative kernel by views, of the same types, of the block's shared
/// memory or of its iteration's slice of `global` (see `bases`), and drops
/// their deallocations.
void replaceAllocations(const BlockBuffers &buffers, const IRMapping &mapping,
                        const BufferBases &bases, Value global) {
  for (auto [index, original] : llvm::enumerate(buffers.allocations)) {
    Operation *allocation =
        mapping.lookup(original->getResult(0)).getDefiningOp();
    OpBuilder at(allocation);
    Location loc = allocation->getLoc();
    bool shared = buffers.shared[index];
    Value offset = shared ? arith::ConstantIndexOp::create(
                                at, loc, buffers.sharedOffsets[index])
                                .getResult()
                          : buffers.globalOffsets[index];
    Value shift = arith::AddIOp::create(
        at, loc, shared ? bases.sharedStart : bases.global, offset);
    Value view = memref::ViewOp::create(
        at, loc, allocation->getResult(0).getType(),
        shared ? bases.shared : global, shift, allocation->getOperands());
    for (Operation *user :
         llvm::make_early_inc_range(allocation->getResult(0).getUsers()))
      if (isa<memref::DeallocOp>(user))
        user->erase();
    allocation->getResult(0).replaceAllUsesWith(view);
    allocation->erase();
  }
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
      if (op.getNumRegions() > 0 && tptt::holdsParallelWork(&op)) {
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
      if (tptt::writesMemory(&op)) {
        barrierIf(&op, readSince);
        runInThreadZero(&op);
        continue;
      }
      readSince |= tptt::readsMemory(&op);
    }
  }

  /// Whether the block-level ops of `block` (outside its parallel loops)
  /// read memory.
  static bool readsAtBlockLevel(Block &block) {
    for (Operation &op : block)
      if (!isa<scf::ParallelOp>(op) && !tptt::holdsParallelWork(&op) &&
          tptt::readsMemory(&op))
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
    auto [counts, total] = tptt::buildIterationCounts(b, loc, loop);
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
/// allocations (see BlockBuffers; at most `sharedBudget` bytes of shared
/// memory).
void mapToCooperativeKernel(scf::ParallelOp loop, int64_t blockSize,
                            int64_t sharedBudget) {
  OpBuilder b(loop);
  Location loc = loop.getLoc();
  // Block-level copies are parallel loops too.
  SmallVector<memref::CopyOp> copies;
  tptt::walkBlockLevel(loop.getRegion(), [&](Operation *op) {
    if (auto copy = dyn_cast<memref::CopyOp>(op))
      copies.push_back(copy);
  });
  for (memref::CopyOp copy : copies)
    expandCopy(copy, /*inKernel=*/false);

  auto [counts, total] = tptt::buildIterationCounts(b, loc, loop);
  // The room to align the shared buffers comes out of the budget.
  BlockBuffers buffers = placeAllocations(
      b, loc, loop,
      std::max<int64_t>(sharedBudget - BlockBuffers::kAlignment, 0));
  Value global;
  if (llvm::is_contained(buffers.shared, false))
    global = memref::AllocOp::create(
        b, loc, MemRefType::get({ShapedType::kDynamic}, b.getI8Type()),
        ValueRange{arith::MulIOp::create(b, loc, total, buffers.globalBytes)},
        b.getI64IntegerAttr(BlockBuffers::kAlignment));
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, blockSize);
  Value blocks = arith::MaxSIOp::create(b, loc, total, one);
  Value sharedBytes =
      buffers.sharedBytes > 0
          ? arith::ConstantIntOp::create(
                b, loc, buffers.sharedBytes + BlockBuffers::kAlignment, 32)
                .getResult()
          : Value();
  auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one,
                                      one, sharedBytes);
  b.setInsertionPointToStart(&launch.getBody().front());
  Value id = launch.getBlockIds().x;
  Block *work = guardIteration(b, loc, id, total);
  IRMapping mapping;
  mapIteration(b, loc, loop, counts, id, mapping);
  BufferBases bases = bufferBases(b, loc, buffers, id, global);
  for (Operation &op : loop.getBody()->without_terminator())
    b.clone(op, mapping);
  replaceAllocations(buffers, mapping, bases, global);
  loop.erase();
  BlockSchedule(launch.getThreadIds().x, launch.getBlockSizeX()).run(*work);
  if (global) {
    b.setInsertionPointAfter(launch);
    memref::DeallocOp::create(b, loc, global);
  }
  expandKernelCopies(launch);
}

struct TpttMapParallelLoopsToGpuPass
    : public tptt::impl::TpttMapParallelLoopsToGpuPassBase<
          TpttMapParallelLoopsToGpuPass> {
  using Base::Base;

  /// Warp matrix operations (from tptt-map-contractions-to-tensor-cores)
  /// in `loop` need all the threads of a warp: a cooperative kernel whose
  /// blocks are whole warps (or, emulated, one thread).
  LogicalResult checkWarpMatrixOps(scf::ParallelOp loop, bool cooperative) {
    WalkResult found = loop.walk([](Operation *op) {
      return isa<gpu::SubgroupMmaComputeOp>(op) ? WalkResult::interrupt()
                                                : WalkResult::advance();
    });
    if (!found.wasInterrupted())
      return success();
    if (!cooperative)
      return loop.emitError("holds warp matrix operations but cannot run as a "
                            "cooperative kernel, one block per iteration");
    if (cooperativeBlockSize != 1 && cooperativeBlockSize % 32 != 0)
      return loop.emitError("holds warp matrix operations: "
                            "cooperative-block-size must be a multiple of 32 "
                            "(whole warps), not ")
             << cooperativeBlockSize.getValue();
    return success();
  }

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
      // Sizes computed in the body but invariant (memref.dim of a buffer
      // from outside) move out, where a shared buffer can be sized.
      moveLoopInvariantCode(cast<LoopLikeOpInterface>(loop.getOperation()));
      bool cooperative = tptt::canRunCooperatively(loop);
      if (failed(checkWarpMatrixOps(loop, cooperative)))
        return signalPassFailure();
      if (cooperative)
        mapToCooperativeKernel(loop, cooperativeBlockSize, sharedMemoryBytes);
      else
        mapToKernel(loop, blockSize);
    }
  }
};

} // namespace

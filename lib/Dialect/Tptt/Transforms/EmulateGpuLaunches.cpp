//===- EmulateGpuLaunches.cpp - gpu.launch as a parallel loop on the host -===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTEMULATEGPULAUNCHESPASS
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"
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
  }
};

} // namespace

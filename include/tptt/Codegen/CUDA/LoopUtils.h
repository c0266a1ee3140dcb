//===- LoopUtils.h - Loops of the CUDA tail ---------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// What the CUDA tail's passes (tptt-map-contractions-to-tensor-cores,
// tptt-map-parallel-loops-to-gpu, tptt-split-accumulations) ask of loops:
// their run-time iteration counts, and whether a loop can become a
// cooperative kernel, one block per iteration; and where a kernel's byte
// buffer reaches an alignment.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CODEGEN_CUDA_LOOPUTILS_H
#define TPTT_CODEGEN_CUDA_LOOPUTILS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

#include <optional>

namespace mlir {
namespace tptt {

/// The steps of a loop from `lower` to `upper` by `step`: ceil((upper -
/// lower) / step), none when the upper bound lies below the lower one.
Value buildTripCount(OpBuilder &b, Location loc, Value lower, Value upper,
                     Value step);

/// The iteration counts of `loop` per dimension (as buildTripCount) and in
/// all.
std::pair<SmallVector<Value>, Value>
buildIterationCounts(OpBuilder &b, Location loc, scf::ParallelOp loop);

/// The bytes from the start of the byte buffer `bytes` to its first
/// `alignment`-byte boundary, at run time (0 when it starts on one).
Value buildAlignmentPadding(OpBuilder &b, Location loc, Value bytes,
                            int64_t alignment);

/// Calls `fn` on the ops of `region` that its block runs in a cooperative
/// kernel: all but those inside nested parallel work (scf.parallel loops,
/// and the linalg ops that become such loops), which `fn` sees.
void walkBlockLevel(Region &region, function_ref<void(Operation *)> fn);

/// Whether `op` or an op nested in it reads memory, or has effects MLIR
/// cannot tell.
bool readsMemory(Operation *op);

/// Whether `op` or an op nested in it writes or frees memory, or has
/// effects MLIR cannot tell.
bool writesMemory(Operation *op);

/// Whether `op` holds parallel work (see walkBlockLevel).
bool holdsParallelWork(Operation *op);

/// The bytes an element of `type` takes in a buffer (index: 64 bits, i1: one
/// byte), or nothing for a type a shared buffer does not hold.
std::optional<int64_t> elementBytes(Type type);

/// Whether `loop` (an scf.parallel, or the scf.forall it comes from while
/// its body is still linalg) can run as a cooperative kernel: it holds
/// parallel work (loops without reductions); the allocations at its block
/// level are sized outside it and freed only directly, in their own block
/// (not through a buffer a loop carries, as the ownership-based
/// deallocation of a loop that yields fresh buffers does), and no
/// block-level loop or branch yields a buffer (a loop's iterations would
/// share one slice); and every op at block level that writes memory either
/// holds parallel work itself (scf.for, scf.if, whose bodies are checked
/// the same way) or returns nothing (so that one thread can run it alone).
bool canRunCooperatively(Operation *loop);

} // namespace tptt
} // namespace mlir

#endif // TPTT_CODEGEN_CUDA_LOOPUTILS_H

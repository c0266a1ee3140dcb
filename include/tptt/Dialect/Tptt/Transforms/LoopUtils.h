//===- LoopUtils.h - Iteration counts of scf loops --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The run-time iteration counts of scf loops, shared by the CUDA tail's
// passes (tptt-map-parallel-loops-to-gpu, tptt-split-accumulations).
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_TRANSFORMS_LOOPUTILS_H
#define TPTT_DIALECT_TPTT_TRANSFORMS_LOOPUTILS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"

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

} // namespace tptt
} // namespace mlir

#endif // TPTT_DIALECT_TPTT_TRANSFORMS_LOOPUTILS_H

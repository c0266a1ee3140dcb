//===- Passes.h - tptt conversion passes -------------------------*- C++
//-*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CONVERSION_PASSES_H
#define TPTT_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace tptt {

#define GEN_PASS_DECL
#include "tptt/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tptt/Conversion/Passes.h.inc"

} // namespace tptt
} // namespace mlir

#endif // TPTT_CONVERSION_PASSES_H

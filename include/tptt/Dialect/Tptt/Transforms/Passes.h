//===- Passes.h - tptt dialect passes ---------------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_H
#define TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
class RewritePatternSet;
namespace tptt {

#define GEN_PASS_DECL
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"

/// Adds the pattern that rewrites tptt.liza_attention into its branches.
void populateDecomposeLizaAttentionPatterns(RewritePatternSet &patterns);

#define GEN_PASS_REGISTRATION
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"

} // namespace tptt
} // namespace mlir

#endif // TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_H

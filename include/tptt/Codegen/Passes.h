//===- Passes.h - tptt code-generation passes -------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The passes of lib/Codegen/{Common,CPU,CUDA}: linalg/scf/gpu code
// generation for the pipeline's targets (Codegen/Passes.td).
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CODEGEN_PASSES_H
#define TPTT_CODEGEN_PASSES_H

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
namespace tptt {

#define GEN_PASS_DECL
#include "tptt/Codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "tptt/Codegen/Passes.h.inc"

} // namespace tptt
} // namespace mlir

#endif // TPTT_CODEGEN_PASSES_H

//===- TpttOps.h - tptt operations ------------------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTOPS_H
#define TPTT_DIALECT_TPTT_IR_TPTTOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "tptt/Dialect/Tptt/IR/TpttAttrs.h"
#include "tptt/Dialect/Tptt/IR/TpttDialect.h"
#include "tptt/Dialect/Tptt/IR/TpttInterfaces.h.inc"

#define GET_OP_CLASSES
#include "tptt/Dialect/Tptt/IR/TpttOps.h.inc"

namespace mlir {
namespace tptt {

/// A zero tensor with the type and (dynamic) sizes of `like`: the cotangent
/// of a value that does not reach the differentiated output.
Value createZerosLike(OpBuilder &builder, Location loc, Value like);

} // namespace tptt
} // namespace mlir

#endif // TPTT_DIALECT_TPTT_IR_TPTTOPS_H

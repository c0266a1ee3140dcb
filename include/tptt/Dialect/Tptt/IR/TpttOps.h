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
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "tptt/Dialect/Tptt/IR/TpttAttrs.h"
#include "tptt/Dialect/Tptt/IR/TpttDialect.h"

#define GET_OP_CLASSES
#include "tptt/Dialect/Tptt/IR/TpttOps.h.inc"

#endif // TPTT_DIALECT_TPTT_IR_TPTTOPS_H

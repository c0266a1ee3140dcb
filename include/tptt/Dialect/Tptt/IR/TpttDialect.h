//===- TpttDialect.h - tptt dialect -----------------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTDIALECT_H
#define TPTT_DIALECT_TPTT_IR_TPTTDIALECT_H

#include "mlir/IR/Dialect.h"

#include "tptt/Dialect/Tptt/IR/TpttOpsDialect.h.inc"

#endif // TPTT_DIALECT_TPTT_IR_TPTTDIALECT_H

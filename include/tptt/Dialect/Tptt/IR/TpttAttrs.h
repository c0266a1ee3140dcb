//===- TpttAttrs.h - tptt enums and attributes ------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTATTRS_H
#define TPTT_DIALECT_TPTT_IR_TPTTATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"

#include "tptt/Dialect/Tptt/IR/TpttEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "tptt/Dialect/Tptt/IR/TpttAttrs.h.inc"

#endif // TPTT_DIALECT_TPTT_IR_TPTTATTRS_H

//===- TpttDialect.cpp - tptt dialect registration ------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttDialect.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tptt;

#include "tptt/Dialect/Tptt/IR/TpttOpsDialect.cpp.inc"

#include "tptt/Dialect/Tptt/IR/TpttEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "tptt/Dialect/Tptt/IR/TpttAttrs.cpp.inc"

void TpttDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "tptt/Dialect/Tptt/IR/TpttAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "tptt/Dialect/Tptt/IR/TpttOps.cpp.inc"
      >();
}

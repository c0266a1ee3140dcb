//===- GradLiza.cpp -------------------------------------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"

#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::tptt;

void mlir::tptt::populateLizaGradLoweringPatterns(RewritePatternSet &patterns) {
}

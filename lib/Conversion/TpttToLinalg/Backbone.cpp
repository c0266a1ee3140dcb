#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "mlir/IR/PatternMatch.h"
void mlir::tptt::populateBackboneLoweringPatterns(RewritePatternSet &) {}

//===- FuseElementwiseOps.cpp - Elementwise fusion that keeps contractions ===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTFUSEELEMENTWISEOPSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// Whether the body of `op` only converts its one input's element type.
bool isElementTypeConversion(linalg::GenericOp op) {
  Block &body = *op.getBody();
  if (op.getNumDpsInputs() != 1 || body.getOperations().size() != 2)
    return false;
  Operation &only = body.front();
  return isa<CastOpInterface>(only) &&
         only.getOperand(0) == body.getArgument(0);
}

/// Gives every linalg op that reads a type conversion of a function
/// argument (a widened bf16 weight) a copy of its own, which fusion then
/// moves into it.
void copySharedArgumentConversions(Operation *root) {
  root->walk([](linalg::GenericOp op) {
    if (!isElementTypeConversion(op) ||
        !isa<BlockArgument>(op.getDpsInputs().front()) || op->hasOneUse())
      return;
    Value converted = op->getResult(0);
    for (OpOperand &use :
         llvm::make_early_inc_range(llvm::drop_begin(converted.getUses()))) {
      if (!isa<linalg::LinalgOp>(use.getOwner()))
        continue;
      OpBuilder b(use.getOwner());
      use.set(b.clone(*op)->getResult(0));
    }
  });
}

/// Upstream's rule for every folding: the producer is used once.
bool hasSingleUseProducer(OpOperand *fusedOperand) {
  Operation *producer = fusedOperand->get().getDefiningOp();
  return producer && producer->hasOneUse();
}

/// The elementwise fusions: upstream's rule and, into a contraction, only
/// type conversions.
bool shouldFuse(OpOperand *fusedOperand) {
  if (!hasSingleUseProducer(fusedOperand))
    return false;
  auto producer = fusedOperand->get().getDefiningOp<linalg::GenericOp>();
  auto consumer = dyn_cast<linalg::LinalgOp>(fusedOperand->getOwner());
  if (producer && consumer && linalg::isaContractionOpInterface(consumer))
    return isElementTypeConversion(producer);
  return true;
}

struct TpttFuseElementwiseOpsPass
    : public tptt::impl::TpttFuseElementwiseOpsPassBase<
          TpttFuseElementwiseOpsPass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    copySharedArgumentConversions(getOperation());
    RewritePatternSet patterns(context);
    linalg::populateElementwiseOpsFusionPatterns(patterns, shouldFuse);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns,
                                                      hasSingleUseProducer);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, context);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, context);
    context->getLoadedDialect<linalg::LinalgDialect>()
        ->getCanonicalizationPatterns(patterns);
    linalg::populateConstantFoldLinalgOperations(patterns,
                                                 hasSingleUseProducer);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal())))
      return signalPassFailure();
  }
};

} // namespace

//===- TpttToLinalg.cpp - The convert-tptt-to-linalg pass ----------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"
#include "tptt/Conversion/Passes.h"
#include "tptt/Dialect/Tptt/IR/TpttDialect.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_CONVERTTPTTTOLINALGPASS
#include "tptt/Conversion/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;
using namespace mlir::tptt;

void mlir::tptt::populateTpttToLinalgPatterns(
    RewritePatternSet &patterns, const TpttToLinalgOptions &options) {
  populateDecomposeLizaAttentionPatterns(patterns);
  populateGatesLoweringPatterns(patterns);
  populateFeatureMapLoweringPatterns(patterns);
  populateVirtualTokenLoweringPatterns(patterns);
  populateDeltaProductLoweringPatterns(patterns, options);
  populateMagMixLoweringPatterns(patterns);
  populateBackboneLoweringPatterns(patterns);
  populateBackboneGradLoweringPatterns(patterns);
  populateLizaGradLoweringPatterns(patterns);
  populateDeltaProductGradLoweringPatterns(patterns, options);
}

namespace {
struct ConvertTpttToLinalgPass
    : public tptt::impl::ConvertTpttToLinalgPassBase<ConvertTpttToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    target.addIllegalDialect<TpttDialect>();
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });

    TpttToLinalgOptions options;
    options.chunkSize = chunkSize;
    options.blockedTrilInverse = blockedTrilInverse;
    RewritePatternSet patterns(ctx);
    populateTpttToLinalgPatterns(patterns, options);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

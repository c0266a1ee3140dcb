//===- MagMix.cpp - Lower tptt.mag_mix to linalg --------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"
#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

struct LowerMagMix : public OpRewritePattern<MagMixOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MagMixOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    Type elementType = type.getElementType();
    int64_t width = type.getDimSize(2);
    Value mu = castFloat(
        rewriter, loc,
        tensor::ExtractOp::create(rewriter, loc, op.getMu(), ValueRange{}),
        elementType);

    SmallVector<Value> inputs = {op.getSoft(), op.getLin()};
    SmallVector<AffineMap> maps(2, identityMap(ctx, 3));
    if (op.getBaseScaleAttn()) {
      // Σ_D soft² per token; the scale √(mean + eps) is taken in the body.
      SmallVector<OpFoldResult> rowSizes = {
          tensor::getMixedSize(rewriter, loc, op.getSoft(), 0),
          tensor::getMixedSize(rewriter, loc, op.getSoft(), 1)};
      inputs.push_back(buildGeneric(
          rewriter, loc, {op.getSoft()},
          createFilled(rewriter, loc, rowSizes, elementType, 0.0),
          {identityMap(ctx, 3), projectionMap(ctx, 3, {0, 1})},
          {utils::IteratorType::parallel, utils::IteratorType::parallel,
           utils::IteratorType::reduction},
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value square = arith::MulFOp::create(nb, nloc, args[0], args[0]);
            return arith::AddFOp::create(nb, nloc, args[1], square).getResult();
          }));
      maps.push_back(projectionMap(ctx, 3, {0, 1}));
    }
    double eps = op.getEps().convertToDouble();
    bool cross = op.getCrossGate();
    Value init = createEmpty(
        rewriter, loc, getSizes(rewriter, loc, op.getSoft()), elementType);
    Value mixed = buildParallelGeneric(
        rewriter, loc, inputs, maps, init,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto c = [&](double v) {
            return floatConstant(nb, nloc, elementType, v);
          };
          Value lin = args[1];
          if (args.size() == 4) {
            Value mean = arith::DivFOp::create(nb, nloc, args[2],
                                               c(static_cast<double>(width)));
            Value scale = math::SqrtOp::create(
                nb, nloc, arith::AddFOp::create(nb, nloc, mean, c(eps)));
            lin = arith::MulFOp::create(nb, nloc, lin, scale);
          }
          Value s = arith::MulFOp::create(
              nb, nloc, arith::SubFOp::create(nb, nloc, c(1.0), mu), args[0]);
          Value l = arith::MulFOp::create(nb, nloc, mu, lin);
          Value sum = arith::AddFOp::create(nb, nloc, s, l);
          if (!cross)
            return sum;
          return arith::AddFOp::create(nb, nloc, sum,
                                       arith::MulFOp::create(nb, nloc, s, l))
              .getResult();
        });
    rewriter.replaceOp(op, mixed);
    return success();
  }
};

} // namespace

void mlir::tptt::populateMagMixLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMagMix>(patterns.getContext());
}

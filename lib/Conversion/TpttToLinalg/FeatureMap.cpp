//===- FeatureMap.cpp - Lower tptt.feature_map and tptt.merge_heads -------===//
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

#include <cmath>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

/// [B, S, G·d] → [B, S, G, d].
Value splitFeatures(OpBuilder &b, Location loc, Value x, int64_t groups) {
  auto type = cast<RankedTensorType>(x.getType());
  auto split = RankedTensorType::get({type.getDimSize(0), type.getDimSize(1),
                                      groups, type.getDimSize(2) / groups},
                                     type.getElementType());
  return tensor::ExpandShapeOp::create(
      b, loc, split, x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// silu(x) per element of `x` [B, S, G, d], in `elementType`, and the squared
/// L2 norm of every [d] row.
std::pair<Value, Value> siluAndSquaredNorms(OpBuilder &b, Location loc, Value x,
                                            Type elementType) {
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  Value silu = buildParallelGeneric(
      b, loc, {x}, {identityMap(ctx, 4)},
      createEmpty(b, loc, sizes, elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = castFloat(nb, nloc, args[0], elementType);
        return arith::MulFOp::create(nb, nloc, v, sigmoid(nb, nloc, v))
            .getResult();
      });
  SmallVector<OpFoldResult> rowSizes(sizes.begin(), sizes.end() - 1);
  Value norms = buildGeneric(
      b, loc, {silu}, createFilled(b, loc, rowSizes, elementType, 0.0),
      {identityMap(ctx, 4), projectionMap(ctx, 4, {0, 1, 2})},
      {utils::IteratorType::parallel, utils::IteratorType::parallel,
       utils::IteratorType::parallel, utils::IteratorType::reduction},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value square = arith::MulFOp::create(nb, nloc, args[0], args[0]);
        return arith::AddFOp::create(nb, nloc, args[1], square).getResult();
      });
  return {silu, norms};
}

/// silu(x) / max(‖silu(x)‖₂, 1e-6), iterated as [B, Gs, r, S, d] where the
/// source [B, S, Gs, d] head g serves the r result heads g·r .. g·r + r − 1;
/// collapsed to [B, Gs·r, S, d].
Value normalizedHeads(OpBuilder &b, Location loc, Value x, int64_t sourceHeads,
                      int64_t repeat, RankedTensorType resultType) {
  MLIRContext *ctx = b.getContext();
  Type elementType = resultType.getElementType();
  Value split = splitFeatures(b, loc, x, sourceHeads);
  auto [silu, norms] = siluAndSquaredNorms(b, loc, split, elementType);
  int64_t headDim = resultType.getDimSize(3);
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(b, loc, x, 0), b.getIndexAttr(sourceHeads),
      b.getIndexAttr(repeat), tensor::getMixedSize(b, loc, x, 1),
      b.getIndexAttr(headDim)};
  Value heads = buildParallelGeneric(
      b, loc, {silu, norms},
      {projectionMap(ctx, 5, {0, 3, 1, 4}), projectionMap(ctx, 5, {0, 3, 1})},
      createEmpty(b, loc, sizes, elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value norm = math::SqrtOp::create(nb, nloc, args[1]);
        Value clamped = arith::MaximumFOp::create(
            nb, nloc, norm, floatConstant(nb, nloc, elementType, 1e-6));
        return arith::DivFOp::create(nb, nloc, args[0], clamped).getResult();
      });
  return tensor::CollapseShapeOp::create(
      b, loc, resultType, heads,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
}

struct LowerFeatureMap : public OpRewritePattern<FeatureMapOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(FeatureMapOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto resultType = cast<RankedTensorType>(op.getQHat().getType());
    Type elementType = resultType.getElementType();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    int64_t groups = heads / kvHeads, headDim = resultType.getDimSize(3);

    Value q = normalizedHeads(rewriter, loc, op.getQ(), heads, 1, resultType);
    Value k =
        normalizedHeads(rewriter, loc, op.getK(), kvHeads, groups, resultType);
    // v̂ = v · d^{-1/2}, repeated for the query heads of each KV head.
    Value v = splitFeatures(rewriter, loc, op.getV(), kvHeads);
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, op.getV(), 0),
        rewriter.getIndexAttr(kvHeads), rewriter.getIndexAttr(groups),
        tensor::getMixedSize(rewriter, loc, op.getV(), 1),
        rewriter.getIndexAttr(headDim)};
    Value vHeads = buildParallelGeneric(
        rewriter, loc, {v}, {projectionMap(ctx, 5, {0, 3, 1, 4})},
        createEmpty(rewriter, loc, sizes, elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value scale = floatConstant(nb, nloc, elementType,
                                      1.0 / std::sqrt(double(headDim)));
          return arith::MulFOp::create(
                     nb, nloc, castFloat(nb, nloc, args[0], elementType), scale)
              .getResult();
        });
    Value vHat = tensor::CollapseShapeOp::create(
        rewriter, loc, resultType, vHeads,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    rewriter.replaceOp(op, {q, k, vHat});
    return success();
  }
};

struct LowerMergeHeads : public OpRewritePattern<MergeHeadsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MergeHeadsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    Type inType = inputType.getElementType();
    Type outType = resultType.getElementType();
    int64_t heads = inputType.getDimSize(1), headDim = inputType.getDimSize(3);
    // Iterate [B, S, H, d], reading the input [B, H, S, d] transposed.
    AffineMap readInput = projectionMap(ctx, 4, {0, 2, 1, 3});
    SmallVector<OpFoldResult> rowSizes = {
        tensor::getMixedSize(rewriter, loc, op.getInput(), 0),
        tensor::getMixedSize(rewriter, loc, op.getInput(), 2)};
    Value squares = buildGeneric(
        rewriter, loc, {op.getInput()},
        createFilled(rewriter, loc, rowSizes, inType, 0.0),
        {readInput, projectionMap(ctx, 4, {0, 1})},
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction, utils::IteratorType::reduction},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value square = arith::MulFOp::create(nb, nloc, args[0], args[0]);
          return arith::AddFOp::create(nb, nloc, args[1], square).getResult();
        });
    SmallVector<OpFoldResult> sizes = {rowSizes[0], rowSizes[1],
                                       rewriter.getIndexAttr(heads),
                                       rewriter.getIndexAttr(headDim)};
    double eps = op.getEps().convertToDouble();
    Value normalized = buildParallelGeneric(
        rewriter, loc, {op.getInput(), squares},
        {readInput, projectionMap(ctx, 4, {0, 1})},
        createEmpty(rewriter, loc, sizes, outType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value count =
              floatConstant(nb, nloc, inType, double(heads * headDim));
          Value mean = arith::DivFOp::create(nb, nloc, args[1], count);
          Value shifted = arith::AddFOp::create(
              nb, nloc, mean, floatConstant(nb, nloc, inType, eps));
          Value rms = math::SqrtOp::create(nb, nloc, shifted);
          Value y = arith::DivFOp::create(nb, nloc, args[0], rms);
          return castFloat(nb, nloc, y, outType);
        });
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, resultType, normalized,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    return success();
  }
};

} // namespace

void mlir::tptt::populateFeatureMapLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerFeatureMap, LowerMergeHeads>(patterns.getContext());
}

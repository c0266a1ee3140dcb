//===- GradBackbone.cpp - Lower the backbone's backward ops ---------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The loss, the VJPs of the transformer backbone (embedding, projections,
// RMSNorm, SwiGLU, softmax attention) and the AdamW update, as linalg on
// tensors. Reductions over a row keep the row's other dimensions parallel,
// so the tiling stage spreads them over the cores like the forward ops.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"
#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

/// Iterators for `rank` loops: parallel except the listed reductions.
SmallVector<utils::IteratorType> iteratorsWith(unsigned rank,
                                               ArrayRef<unsigned> reductions) {
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  for (unsigned d : reductions)
    iterators[d] = utils::IteratorType::reduction;
  return iterators;
}

/// The dimensions 0 .. rank − 2 (the rows of a [..., F] tensor).
SmallVector<unsigned> leading(unsigned rank) {
  SmallVector<unsigned> dims;
  for (unsigned d = 0; d + 1 < rank; ++d)
    dims.push_back(d);
  return dims;
}

/// Σ over the last dimension of f(inputs) for each row: inputs share the
/// shape of `like` [..., F] (maps: identity) unless `maps` says otherwise.
Value rowSum(OpBuilder &b, Location loc, Value like, ValueRange inputs,
             ArrayRef<AffineMap> maps, GenericBody term) {
  auto type = cast<RankedTensorType>(like.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> rows = getSizes(b, loc, like);
  rows.pop_back();
  SmallVector<AffineMap> all(maps);
  all.push_back(projectionMap(ctx, rank, leading(rank)));
  return buildGeneric(
      b, loc, inputs, createFilled(b, loc, rows, type.getElementType(), 0.0),
      all, iteratorsWith(rank, {rank - 1}),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value = term(nb, nloc, args.drop_back());
        return arith::AddFOp::create(nb, nloc, args.back(), value).getResult();
      });
}

/// A 0-d tensor holding Σ f(inputs) over every element of `like`.
Value totalSum(OpBuilder &b, Location loc, Value like, ValueRange inputs,
               ArrayRef<AffineMap> maps, Type elementType, GenericBody term) {
  unsigned rank = cast<RankedTensorType>(like.getType()).getRank();
  SmallVector<AffineMap> all(maps);
  all.push_back(AffineMap::get(rank, 0, {}, b.getContext()));
  SmallVector<unsigned> dims;
  for (unsigned d = 0; d < rank; ++d)
    dims.push_back(d);
  return buildGeneric(
      b, loc, inputs, createFilled(b, loc, {}, elementType, 0.0), all,
      iteratorsWith(rank, dims),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value = term(nb, nloc, args.drop_back());
        return arith::AddFOp::create(nb, nloc, args.back(), value).getResult();
      });
}

/// An i64 id as an index clamped to [0, size).
Value clampedIndex(OpBuilder &b, Location loc, Value id, int64_t size) {
  Value index = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
  index = arith::MaxSIOp::create(b, loc, index,
                                 arith::ConstantIndexOp::create(b, loc, 0));
  return arith::MinSIOp::create(
      b, loc, index, arith::ConstantIndexOp::create(b, loc, size - 1));
}

/// Whether a label counts (≠ ignore_index), and its clamped row index.
std::pair<Value, Value> labelIndex(OpBuilder &b, Location loc, Value label,
                                   int64_t ignoreIndex, int64_t vocab) {
  Value valid = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ne, label,
      arith::ConstantIntOp::create(b, loc, b.getI64Type(), ignoreIndex));
  return {valid, clampedIndex(b, loc, label, vocab)};
}

/// The per-position statistics of a softmax over the last axis of logits
/// [B, S, V]: the row maximum and Σ exp(l − max).
std::pair<Value, Value> softmaxStatistics(OpBuilder &b, Location loc,
                                          Value logits) {
  auto type = cast<RankedTensorType>(logits.getType());
  Type elementType = type.getElementType();
  MLIRContext *ctx = b.getContext();
  SmallVector<OpFoldResult> rows = getSizes(b, loc, logits);
  rows.pop_back();
  AffineMap id = identityMap(ctx, 3), row = projectionMap(ctx, 3, {0, 1});
  Value maxima = buildGeneric(
      b, loc, {logits},
      createFilled(b, loc, rows, elementType,
                   -std::numeric_limits<double>::infinity()),
      {id, row}, iteratorsWith(3, {2}),
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::MaximumFOp::create(nb, nloc, args[1], args[0])
            .getResult();
      });
  Value sums =
      rowSum(b, loc, logits, {logits, maxima}, {id, row},
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               Value shifted =
                   arith::SubFOp::create(nb, nloc, args[0], args[1]);
               return math::ExpOp::create(nb, nloc, shifted).getResult();
             });
  return {maxima, sums};
}

/// N, the number of counted labels, as a 0-d tensor of `elementType`.
Value countLabels(OpBuilder &b, Location loc, Value labels, Type elementType,
                  int64_t ignoreIndex) {
  return totalSum(b, loc, labels, {labels}, {identityMap(b.getContext(), 2)},
                  elementType,
                  [&](OpBuilder &nb, Location nloc, ValueRange args) {
                    Value valid = arith::CmpIOp::create(
                        nb, nloc, arith::CmpIPredicate::ne, args[0],
                        arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(),
                                                     ignoreIndex));
                    return arith::UIToFPOp::create(nb, nloc, elementType, valid)
                        .getResult();
                  });
}

/// loss = Σ_counted (log Σ exp(l) − l[label]) / max(N, 1).
struct LowerCrossEntropy : public OpRewritePattern<CrossEntropyOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value logits = op.getLogits();
    auto type = cast<RankedTensorType>(logits.getType());
    Type elementType = type.getElementType();
    int64_t vocab = type.getDimSize(2), ignore = op.getIgnoreIndex();
    auto [maxima, sums] = softmaxStatistics(rewriter, loc, logits);
    AffineMap id2 = identityMap(ctx, 2);
    Value total = totalSum(
        rewriter, loc, op.getLabels(), {op.getLabels(), maxima, sums},
        {id2, id2, id2}, elementType,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto [valid, index] = labelIndex(nb, nloc, args[0], ignore, vocab);
          Value picked = tensor::ExtractOp::create(
              nb, nloc, logits,
              ValueRange{linalg::IndexOp::create(nb, nloc, 0),
                         linalg::IndexOp::create(nb, nloc, 1), index});
          Value logSum = arith::AddFOp::create(
              nb, nloc, args[1], math::LogOp::create(nb, nloc, args[2]));
          Value term = arith::SubFOp::create(nb, nloc, logSum, picked);
          return arith::SelectOp::create(
                     nb, nloc, valid, term,
                     floatConstant(nb, nloc, elementType, 0.0))
              .getResult();
        });
    Value count =
        countLabels(rewriter, loc, op.getLabels(), elementType, ignore);
    AffineMap scalar = AffineMap::get(0, 0, {}, ctx);
    Value loss = buildParallelGeneric(
        rewriter, loc, {total, count}, {scalar, scalar},
        createEmpty(rewriter, loc, {}, elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value n = arith::MaximumFOp::create(
              nb, nloc, args[1], floatConstant(nb, nloc, elementType, 1.0));
          return arith::DivFOp::create(nb, nloc, args[0], n).getResult();
        });
    rewriter.replaceOp(op, loss);
    return success();
  }
};

/// dlogits = dloss · (softmax(l) − onehot(label)) / max(N, 1) where counted.
struct LowerCrossEntropyGrad : public OpRewritePattern<CrossEntropyGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CrossEntropyGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value logits = op.getLogits();
    auto type = cast<RankedTensorType>(logits.getType());
    Type elementType = type.getElementType();
    int64_t vocab = type.getDimSize(2), ignore = op.getIgnoreIndex();
    auto [maxima, sums] = softmaxStatistics(rewriter, loc, logits);
    Value count =
        countLabels(rewriter, loc, op.getLabels(), elementType, ignore);
    AffineMap id = identityMap(ctx, 3), row = projectionMap(ctx, 3, {0, 1});
    AffineMap scalar = AffineMap::get(3, 0, {}, ctx);
    Value grad = buildParallelGeneric(
        rewriter, loc,
        {logits, maxima, sums, op.getLabels(), count, op.getDloss()},
        {id, row, row, row, scalar, scalar},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, logits),
                    elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto [valid, index] = labelIndex(nb, nloc, args[3], ignore, vocab);
          Value shifted = arith::SubFOp::create(nb, nloc, args[0], args[1]);
          Value p = arith::DivFOp::create(
              nb, nloc, math::ExpOp::create(nb, nloc, shifted), args[2]);
          Value hit = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq,
              linalg::IndexOp::create(nb, nloc, 2), index);
          Value one = floatConstant(nb, nloc, elementType, 1.0);
          Value target = arith::SelectOp::create(
              nb, nloc, hit, one, floatConstant(nb, nloc, elementType, 0.0));
          Value n = arith::MaximumFOp::create(nb, nloc, args[4], one);
          Value factor = arith::DivFOp::create(nb, nloc, args[5], n);
          Value g = arith::MulFOp::create(
              nb, nloc, arith::SubFOp::create(nb, nloc, p, target), factor);
          return arith::SelectOp::create(
                     nb, nloc, valid, g,
                     floatConstant(nb, nloc, elementType, 0.0))
              .getResult();
        });
    rewriter.replaceOp(op, grad);
    return success();
  }
};

/// dtable[clamp(ids[b, s])] += scale · dy[b, s]: a loop over the tokens,
/// each adding its row into the zero-initialized table.
struct LowerEmbeddingGrad : public OpRewritePattern<EmbeddingGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(EmbeddingGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Type elementType = type.getElementType();
    int64_t vocab = type.getDimSize(0), width = type.getDimSize(1);
    Value ids = op.getIds(), dy = op.getDresult();
    double scale = op.getScale().convertToDouble();
    Value table = createFilled(rewriter, loc, getSizes(rewriter, loc, op),
                               elementType, 0.0);
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value batch = tensor::DimOp::create(rewriter, loc, ids, 0);
    Value seq = tensor::DimOp::create(rewriter, loc, ids, 1);
    auto rowType = RankedTensorType::get({1, width}, elementType);
    auto outer = scf::ForOp::create(
        rewriter, loc, zero, batch, one, ValueRange{table},
        [&](OpBuilder &ob, Location oloc, Value bi, ValueRange outerArgs) {
          auto inner = scf::ForOp::create(
              ob, oloc, zero, seq, one, outerArgs,
              [&](OpBuilder &nb, Location nloc, Value si, ValueRange args) {
                Value id = tensor::ExtractOp::create(nb, nloc, ids,
                                                     ValueRange{bi, si});
                Value row = clampedIndex(nb, nloc, id, vocab);
                SmallVector<OpFoldResult> ones(2, nb.getIndexAttr(1));
                SmallVector<OpFoldResult> rowSizes = {nb.getIndexAttr(1),
                                                      nb.getIndexAttr(width)};
                Value current = tensor::ExtractSliceOp::create(
                    nb, nloc, rowType, args[0],
                    SmallVector<OpFoldResult>{row, nb.getIndexAttr(0)},
                    rowSizes, ones);
                Value add = tensor::ExtractSliceOp::create(
                    nb, nloc, RankedTensorType::get({1, 1, width}, elementType),
                    dy, SmallVector<OpFoldResult>{bi, si, nb.getIndexAttr(0)},
                    SmallVector<OpFoldResult>{nb.getIndexAttr(1),
                                              nb.getIndexAttr(1),
                                              nb.getIndexAttr(width)},
                    SmallVector<OpFoldResult>(3, nb.getIndexAttr(1)));
                MLIRContext *ctx = nb.getContext();
                Value sum = buildParallelGeneric(
                    nb, nloc, {current, add},
                    {identityMap(ctx, 2),
                     AffineMap::get(2, 0,
                                    {getAffineDimExpr(0, ctx),
                                     getAffineDimExpr(0, ctx),
                                     getAffineDimExpr(1, ctx)},
                                    ctx)},
                    createEmpty(nb, nloc, rowSizes, elementType),
                    [&](OpBuilder &gb, Location gloc, ValueRange values) {
                      Value row = values[1];
                      if (scale != 1.0)
                        row = arith::MulFOp::create(
                            gb, gloc, row,
                            floatConstant(gb, gloc, elementType, scale));
                      return arith::AddFOp::create(gb, gloc, values[0], row)
                          .getResult();
                    });
                Value updated = tensor::InsertSliceOp::create(
                    nb, nloc, sum, args[0],
                    SmallVector<OpFoldResult>{row, nb.getIndexAttr(0)},
                    rowSizes, ones);
                scf::YieldOp::create(nb, nloc, updated);
              });
          scf::YieldOp::create(ob, oloc, inner.getResults());
        });
    rewriter.replaceOp(op, outer.getResult(0));
    return success();
  }
};

/// dW = scale · Σ_rows xᵀ dy (as [I, O] with transposed_weight, else
/// [O, I]): one contraction over every leading dimension.
struct LowerLinearWeightGrad : public OpRewritePattern<LinearWeightGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearWeightGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    unsigned rank = cast<RankedTensorType>(op.getInput().getType()).getRank();
    std::string lead = std::string("abcdefgh").substr(0, rank - 1);
    Value grad = op.getTransposedWeight()
                     ? einsum(rewriter, loc, lead + "i," + lead + "o->io",
                              op.getInput(), op.getDresult())
                     : einsum(rewriter, loc, lead + "o," + lead + "i->oi",
                              op.getDresult(), op.getInput());
    double scale = op.getScale().convertToDouble();
    if (scale != 1.0) {
      Type elementType = op.getType().getElementType();
      grad = buildParallelGeneric(
          rewriter, loc, {grad}, {identityMap(rewriter.getContext(), 2)},
          createEmpty(rewriter, loc, getSizes(rewriter, loc, grad),
                      elementType),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            return arith::MulFOp::create(
                       nb, nloc, args[0],
                       floatConstant(nb, nloc, elementType, scale))
                .getResult();
          });
    }
    rewriter.replaceOpWithNewOp<tensor::CastOp>(op, op.getType(), grad);
    return success();
  }
};

/// result[f] = Σ over the leading dimensions of input[..., f].
struct LowerSumToLast : public OpRewritePattern<SumToLastOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SumToLastOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    unsigned rank = type.getRank();
    Value sum = buildGeneric(
        rewriter, loc, {op.getInput()},
        createFilled(rewriter, loc, getSizes(rewriter, loc, op),
                     type.getElementType(), 0.0),
        {identityMap(ctx, rank), projectionMap(ctx, rank, {rank - 1})},
        iteratorsWith(rank, leading(rank)),
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::AddFOp::create(nb, nloc, args[1], args[0]).getResult();
        });
    rewriter.replaceOp(op, sum);
    return success();
  }
};

/// With r = 1/√(mean(x²) + eps) and g = dy ⊙ w per row (w: the weight plus
/// weight_offset):
/// dx = r g − x r³ Σ(g ⊙ x) / D, dw = Σ_rows dy ⊙ x r.
struct LowerRmsNormGrad : public OpRewritePattern<RmsNormGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RmsNormGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput(), w = op.getWeight(), dy = op.getDresult();
    auto type = cast<RankedTensorType>(x.getType());
    Type elementType = type.getElementType();
    unsigned rank = type.getRank();
    double width = type.getDimSize(rank - 1),
           eps = op.getEps().convertToDouble(),
           offset = op.getWeightOffset().convertToDouble();
    AffineMap id = identityMap(ctx, rank);
    AffineMap row = projectionMap(ctx, rank, leading(rank));
    AffineMap channel = projectionMap(ctx, rank, {rank - 1});
    if (offset != 0.0)
      w = buildElementwise(
          rewriter, loc, {w},
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            return arith::AddFOp::create(
                       nb, nloc, floatConstant(nb, nloc, elementType, offset),
                       args[0])
                .getResult();
          });
    // r per row.
    Value squares = rowSum(
        rewriter, loc, x, {x}, {id},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::MulFOp::create(nb, nloc, args[0], args[0]).getResult();
        });
    SmallVector<OpFoldResult> rows = getSizes(rewriter, loc, x);
    rows.pop_back();
    AffineMap rowId = identityMap(ctx, rank - 1);
    Value inverse = buildParallelGeneric(
        rewriter, loc, {squares}, {rowId},
        createEmpty(rewriter, loc, rows, elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value mean = arith::DivFOp::create(
              nb, nloc, args[0], floatConstant(nb, nloc, elementType, width));
          Value shifted = arith::AddFOp::create(
              nb, nloc, mean, floatConstant(nb, nloc, elementType, eps));
          return math::RsqrtOp::create(nb, nloc, shifted).getResult();
        });
    Value dots =
        rowSum(rewriter, loc, x, {dy, w, x}, {id, channel, id},
               [](OpBuilder &nb, Location nloc, ValueRange args) {
                 Value g = arith::MulFOp::create(nb, nloc, args[0], args[1]);
                 return arith::MulFOp::create(nb, nloc, g, args[2]).getResult();
               });
    Value dx = buildParallelGeneric(
        rewriter, loc, {x, dy, w, inverse, dots}, {id, id, channel, row, row},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, x), elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value r = args[3];
          Value g = arith::MulFOp::create(nb, nloc, args[1], args[2]);
          Value first = arith::MulFOp::create(nb, nloc, r, g);
          Value r3 = arith::MulFOp::create(
              nb, nloc, r, arith::MulFOp::create(nb, nloc, r, r));
          Value coefficient = arith::DivFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, r3, args[4]),
              floatConstant(nb, nloc, elementType, width));
          Value second = arith::MulFOp::create(nb, nloc, args[0], coefficient);
          return arith::SubFOp::create(nb, nloc, first, second).getResult();
        });
    Value dw = buildGeneric(
        rewriter, loc, {dy, x, inverse},
        createFilled(rewriter, loc, getSizes(rewriter, loc, w), elementType,
                     0.0),
        {id, id, row, channel}, iteratorsWith(rank, leading(rank)),
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value product = arith::MulFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, args[0], args[1]),
              args[2]);
          return arith::AddFOp::create(nb, nloc, args[3], product).getResult();
        });
    rewriter.replaceOp(op, {dx, dw});
    return success();
  }
};

/// dx = dy ⊙ (1 − tanh²(x / c)), elementwise.
struct LowerSoftCapGrad : public OpRewritePattern<SoftCapGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftCapGradOp op,
                                PatternRewriter &rewriter) const override {
    double cap = op.getCap().convertToDouble();
    Value result = buildElementwise(
        rewriter, op.getLoc(), {op.getInput(), op.getDresult()},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value slope =
              softCap(nb, nloc, args[0], cap, /*withSlope=*/true).slope;
          return arith::MulFOp::create(nb, nloc, args[1], slope).getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// dg = dy u a'(g), du = dy a(g); for silu a(g) = g σ and
/// a'(g) = σ (1 + g (1 − σ)).
struct LowerGluGrad : public OpRewritePattern<GluGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GluGradOp op,
                                PatternRewriter &rewriter) const override {
    auto elementwise = [&](GenericBody body) {
      return buildElementwise(rewriter, op.getLoc(),
                              {op.getGate(), op.getUp(), op.getDresult()},
                              body);
    };
    Activation activation = op.getActivation();
    Value dgate =
        elementwise([&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value slope =
              gluActivation(nb, nloc, activation, args[0], /*withSlope=*/true)
                  .slope;
          Value d = arith::MulFOp::create(nb, nloc, args[2], args[1]);
          return arith::MulFOp::create(nb, nloc, d, slope).getResult();
        });
    Value dup = elementwise([&](OpBuilder &nb, Location nloc, ValueRange args) {
      Value activated =
          gluActivation(nb, nloc, activation, args[0], /*withSlope=*/false)
              .value;
      return arith::MulFOp::create(nb, nloc, args[2], activated).getResult();
    });
    rewriter.replaceOp(op, {dgate, dup});
    return success();
  }
};

/// The attention backward, recomputing P by blocks of query rows (each
/// against the keys it sees): dP = dO Vᵀ, dS = scale · P ⊙ (dP −
/// rowsum(dP ⊙ P)), dq = dS K, dk = Σ_g dSᵀ Q, dv = Σ_g Pᵀ dO (g: the query
/// heads of a KV head), dk and dv summed over the blocks.
struct LowerAttentionGrad : public OpRewritePattern<AttentionGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto qType = cast<RankedTensorType>(op.getQ().getType());
    Type elementType = qType.getElementType();
    int64_t kvHeads = cast<RankedTensorType>(op.getK().getType()).getDimSize(1);
    double scale = op.getScale() ? op.getScale()->convertToDouble()
                                 : 1.0 / std::sqrt(double(qType.getDimSize(3)));
    Value q = groupQueryHeads(rewriter, loc, op.getQ(), kvHeads);
    Value dout = groupQueryHeads(rewriter, loc, op.getDout(), kvHeads);
    auto window = op.getWindow();
    AffineMap id = identityMap(ctx, 5);
    AffineMap row = projectionMap(ctx, 5, {0, 1, 2, 3});
    auto zeros = [&](Value like) {
      return createFilled(rewriter, loc, getSizes(rewriter, loc, like),
                          elementType, 0.0);
    };
    SmallVector<Value> grads = forEachAttentionBlock(
        rewriter, loc, q, op.getK(), op.getV(), op.getMask(), window,
        {zeros(q), zeros(op.getK()), zeros(op.getV())},
        [&](OpBuilder &bb, Location bl, const AttentionBlock &block,
            ValueRange iters) -> SmallVector<Value> {
          Value dob = sliceDim(bb, bl, dout, 3, block.rowStart, block.rows);
          Value p = attentionProbabilities(bb, bl, block.q, block.k, block.mask,
                                           window, scale);
          Value dp = einsum(bb, bl, "xkgsc,xkct->xkgst", dob,
                            transposeLast2(bb, bl, block.v));
          Value dots =
              rowSum(bb, bl, p, {p, dp}, {id, id},
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       return arith::MulFOp::create(nb, nloc, args[0], args[1])
                           .getResult();
                     });
          Value ds = buildParallelGeneric(
              bb, bl, {p, dp, dots}, {id, id, row},
              createEmpty(bb, bl, getSizes(bb, bl, p), elementType),
              [&](OpBuilder &nb, Location nloc, ValueRange args) {
                Value centered =
                    arith::SubFOp::create(nb, nloc, args[1], args[2]);
                Value weighted =
                    arith::MulFOp::create(nb, nloc, args[0], centered);
                return arith::MulFOp::create(
                           nb, nloc, weighted,
                           floatConstant(nb, nloc, elementType, scale))
                    .getResult();
              });
          // The block's rows of dq; its keys' share of dk and dv.
          auto accumulate = [&](Value part, Value total) {
            Value sum = addTensors(
                bb, bl, sliceDim(bb, bl, total, 2, block.keyStart, block.keys),
                part);
            return insertDim(bb, bl, sum, total, 2, block.keyStart);
          };
          return {insertDim(bb, bl,
                            einsum(bb, bl, "xkgst,xktc->xkgsc", ds, block.k),
                            iters[0], 3, block.rowStart),
                  accumulate(einsum(bb, bl, "xkgst,xkgsc->xktc", ds, block.q),
                             iters[1]),
                  accumulate(einsum(bb, bl, "xkgst,xkgsc->xktc", p, dob),
                             iters[2])};
        });
    Value dq = tensor::CollapseShapeOp::create(
        rewriter, loc, op.getDq().getType(), grads[0],
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    replaceOpWithCasts(rewriter, op, {dq, grads[1], grads[2]});
    return success();
  }
};

/// Σ x² over the whole tensor.
struct LowerSumSquares : public OpRewritePattern<SumSquaresOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SumSquaresOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Value sum = totalSum(
        rewriter, loc, op.getInput(), {op.getInput()},
        {identityMap(rewriter.getContext(), type.getRank())},
        type.getElementType(),
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::MulFOp::create(nb, nloc, args[0], args[0]).getResult();
        });
    rewriter.replaceOp(op, sum);
    return success();
  }
};

/// PyTorch's AdamW, elementwise, in one generic with three results.
struct LowerAdamW : public OpRewritePattern<AdamWOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AdamWOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getParam().getType());
    Type elementType = type.getElementType();
    auto hyper = [&](int64_t i) {
      Value index = arith::ConstantIndexOp::create(rewriter, loc, i);
      return castFloat(rewriter, loc,
                       tensor::ExtractOp::create(rewriter, loc, op.getHyper(),
                                                 ValueRange{index}),
                       elementType);
    };
    Value lr = hyper(0), beta1 = hyper(1), beta2 = hyper(2), eps = hyper(3),
          decay = hyper(4), c1 = hyper(5), c2 = hyper(6);
    Value scale = castFloat(rewriter, loc,
                            tensor::ExtractOp::create(
                                rewriter, loc, op.getGradScale(), ValueRange{}),
                            elementType);
    AffineMap id = identityMap(rewriter.getContext(), type.getRank());
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getParam());
    SmallVector<Value> inits(3, Value());
    for (Value &init : inits)
      init = createEmpty(rewriter, loc, sizes, elementType);
    SmallVector<utils::IteratorType> iterators(type.getRank(),
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{type, type, type},
        ValueRange{op.getParam(), op.getGrad(), op.getM(), op.getV()}, inits,
        SmallVector<AffineMap>(7, id), iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value one = floatConstant(nb, nloc, elementType, 1.0);
          Value g = arith::MulFOp::create(nb, nloc, args[1], scale);
          auto blend = [&](Value beta, Value old, Value fresh) {
            return arith::AddFOp::create(
                nb, nloc, arith::MulFOp::create(nb, nloc, beta, old),
                arith::MulFOp::create(
                    nb, nloc, arith::SubFOp::create(nb, nloc, one, beta),
                    fresh));
          };
          Value m = blend(beta1, args[2], g);
          Value v =
              blend(beta2, args[3], arith::MulFOp::create(nb, nloc, g, g));
          Value decayed = arith::SubFOp::create(
              nb, nloc, args[0],
              arith::MulFOp::create(nb, nloc,
                                    arith::MulFOp::create(nb, nloc, lr, decay),
                                    args[0]));
          Value denominator = arith::AddFOp::create(
              nb, nloc,
              math::SqrtOp::create(nb, nloc,
                                   arith::DivFOp::create(nb, nloc, v, c2)),
              eps);
          Value step = arith::DivFOp::create(
              nb, nloc, arith::DivFOp::create(nb, nloc, m, c1), denominator);
          Value p = arith::SubFOp::create(
              nb, nloc, decayed, arith::MulFOp::create(nb, nloc, lr, step));
          linalg::YieldOp::create(nb, nloc, ValueRange{p, m, v});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void mlir::tptt::populateBackboneGradLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerCrossEntropy, LowerCrossEntropyGrad, LowerEmbeddingGrad,
               LowerLinearWeightGrad, LowerSumToLast, LowerRmsNormGrad,
               LowerGluGrad, LowerSoftCapGrad, LowerAttentionGrad,
               LowerSumSquares, LowerAdamW>(patterns.getContext());
}

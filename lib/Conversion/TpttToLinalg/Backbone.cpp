//===- Backbone.cpp - Lower the backbone ops of a transformer -------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"
#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

/// y = x Wᵀ + b: one contraction over the input features with the leading
/// dimensions of x kept as parallel loops (no reshapes: expanding a
/// collapsed dynamic row count back into several dynamic dimensions is not
/// supported by expand-strided-metadata), reading Wᵀ [I, O] so that the
/// contraction streams contiguous output rows: as given with
/// `transposed_weight`, else transposed once.
struct LowerLinear : public OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto resultType = cast<RankedTensorType>(op.getType());
    int64_t rank = resultType.getRank();
    std::string lead = std::string("abcdefgh").substr(0, rank - 1);
    Value weight = op.getTransposedWeight()
                       ? op.getWeight()
                       : transposeLast2(rewriter, loc, op.getWeight());
    Value product = einsum(rewriter, loc, lead + "i,io->" + lead + "o",
                           op.getInput(), weight);
    double scale = op.getScale().convertToDouble();
    if (scale != 1.0)
      product = buildParallelGeneric(
          rewriter, loc, {product}, {identityMap(ctx, rank)},
          createEmpty(rewriter, loc, getSizes(rewriter, loc, product),
                      resultType.getElementType()),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value factor = floatConstant(nb, nloc, args[0].getType(), scale);
            return arith::MulFOp::create(nb, nloc, args[0], factor).getResult();
          });
    if (Value bias = op.getBias())
      product = buildParallelGeneric(
          rewriter, loc, {product, bias},
          {identityMap(ctx, rank),
           projectionMap(ctx, rank, {unsigned(rank - 1)})},
          createEmpty(rewriter, loc, getSizes(rewriter, loc, product),
                      resultType.getElementType()),
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            return arith::AddFOp::create(nb, nloc, args[0], args[1])
                .getResult();
          });
    rewriter.replaceOpWithNewOp<tensor::CastOp>(op, resultType, product);
    return success();
  }
};

/// y = x ⊙ cos + rotate_half(x) ⊙ sin, rotate_half(x)_c = −x_{c+d/2} for
/// c < d/2 and x_{c−d/2} otherwise.
struct LowerRope : public OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    int64_t half = type.getDimSize(3) / 2;
    Value x = op.getInput();
    AffineMap table = projectionMap(ctx, 4, {0, 2, 3});
    Value rotated = buildParallelGeneric(
        rewriter, loc, {x, op.getCos(), op.getSin()},
        {identityMap(ctx, 4), table, table},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, x),
                    type.getElementType()),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          SmallVector<Value> indices;
          for (int64_t d = 0; d < 4; ++d)
            indices.push_back(linalg::IndexOp::create(nb, nloc, d));
          Value halfIndex = arith::ConstantIndexOp::create(nb, nloc, half);
          Value first = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::ult, indices[3], halfIndex);
          indices[3] = arith::SelectOp::create(
              nb, nloc, first,
              arith::AddIOp::create(nb, nloc, indices[3], halfIndex),
              arith::SubIOp::create(nb, nloc, indices[3], halfIndex));
          Value partner = tensor::ExtractOp::create(nb, nloc, x, indices);
          Value signedPartner = arith::SelectOp::create(
              nb, nloc, first, arith::NegFOp::create(nb, nloc, partner),
              partner);
          Value direct = arith::MulFOp::create(nb, nloc, args[0], args[1]);
          Value turned =
              arith::MulFOp::create(nb, nloc, signedPartner, args[2]);
          return arith::AddFOp::create(nb, nloc, direct, turned).getResult();
        });
    rewriter.replaceOp(op, rotated);
    return success();
  }
};

/// Causal softmax attention, iterated as [B, Hkv, g, S, T] so that every
/// query head reads its KV head through a projection: scores q·k·scale over
/// the visible keys p − L < t ≤ p (p = T − S + s, L the window) that the
/// mask keeps, a max-subtracted softmax (a row without visible keys gives
/// 0), and the weighted sum of values; by blocks of query rows, each
/// against the keys it can see.
struct LowerAttention : public OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto qType = cast<RankedTensorType>(op.getQ().getType());
    int64_t kvHeads = cast<RankedTensorType>(op.getK().getType()).getDimSize(1);
    double scale = op.getScale() ? op.getScale()->convertToDouble()
                                 : 1.0 / std::sqrt(double(qType.getDimSize(3)));
    Value q = groupQueryHeads(rewriter, loc, op.getQ(), kvHeads);
    auto window = op.getWindow();
    Value init = createEmpty(rewriter, loc, getSizes(rewriter, loc, q),
                             qType.getElementType());
    Value out = forEachAttentionBlock(
        rewriter, loc, q, op.getK(), op.getV(), op.getMask(), window, init,
        [&](OpBuilder &bb, Location bl, const AttentionBlock &block,
            ValueRange iters) -> SmallVector<Value> {
          Value probabilities = attentionProbabilities(
              bb, bl, block.q, block.k, block.mask, window, scale);
          Value rows =
              einsum(bb, bl, "xkgst,xktc->xkgsc", probabilities, block.v);
          return {insertDim(bb, bl, rows, iters[0], 3, block.rowStart)};
        })[0];
    rewriter.replaceOpWithNewOp<tensor::CollapseShapeOp>(
        op, op.getType(), out,
        SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    return success();
  }
};

/// result[b, s, :] = scale · table[clamp(ids[b, s], 0, V − 1), :].
struct LowerEmbedding : public OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    Value table = op.getTable();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getIds());
    sizes.push_back(rewriter.getIndexAttr(type.getDimSize(2)));
    Value rows = tensor::DimOp::create(rewriter, loc, table, 0);
    double scale = op.getScale().convertToDouble();
    Value result = buildParallelGeneric(
        rewriter, loc, {op.getIds()}, {projectionMap(ctx, 3, {0, 1})},
        createEmpty(rewriter, loc, sizes, type.getElementType()),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value id =
              arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), args[0]);
          Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
          Value last = arith::SubIOp::create(
              nb, nloc, rows, arith::ConstantIndexOp::create(nb, nloc, 1));
          Value row = arith::MinSIOp::create(
              nb, nloc, arith::MaxSIOp::create(nb, nloc, id, zero), last);
          Value column = linalg::IndexOp::create(nb, nloc, 2);
          Value element = tensor::ExtractOp::create(nb, nloc, table,
                                                    ValueRange{row, column});
          element = castFloat(nb, nloc, element, type.getElementType());
          if (scale == 1.0)
            return element;
          return arith::MulFOp::create(
                     nb, nloc, element,
                     floatConstant(nb, nloc, type.getElementType(), scale))
              .getResult();
        });
    rewriter.replaceOpWithNewOp<tensor::CastOp>(op, type, result);
    return success();
  }
};

/// y = x / √(mean_D(x²) + eps) ⊙ (c + w): a sum-of-squares reduction over
/// the last dimension, then one elementwise pass.
struct LowerRmsNorm : public OpRewritePattern<RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RmsNormOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getType());
    Type elementType = type.getElementType();
    unsigned rank = type.getRank();
    Value x = op.getInput();
    SmallVector<unsigned> lead;
    for (unsigned d = 0; d + 1 < rank; ++d)
      lead.push_back(d);
    SmallVector<OpFoldResult> rowSizes = getSizes(rewriter, loc, x);
    rowSizes.pop_back();
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    AffineMap row = projectionMap(ctx, rank, lead);
    Value squares = buildGeneric(
        rewriter, loc, {x},
        createFilled(rewriter, loc, rowSizes, elementType, 0.0),
        {identityMap(ctx, rank), row}, iterators,
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          Value square = arith::MulFOp::create(nb, nloc, args[0], args[0]);
          return arith::AddFOp::create(nb, nloc, args[1], square).getResult();
        });
    double width = type.getDimSize(rank - 1),
           eps = op.getEps().convertToDouble(),
           offset = op.getWeightOffset().convertToDouble();
    Value result = buildParallelGeneric(
        rewriter, loc, {x, squares, op.getWeight()},
        {identityMap(ctx, rank), row, projectionMap(ctx, rank, {rank - 1})},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, x), elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value mean = arith::DivFOp::create(
              nb, nloc, args[1], floatConstant(nb, nloc, elementType, width));
          Value shifted = arith::AddFOp::create(
              nb, nloc, mean, floatConstant(nb, nloc, elementType, eps));
          Value inverse = math::RsqrtOp::create(nb, nloc, shifted);
          Value normalized = arith::MulFOp::create(nb, nloc, args[0], inverse);
          Value w = args[2];
          if (offset != 0.0)
            w = arith::AddFOp::create(
                nb, nloc, floatConstant(nb, nloc, elementType, offset), w);
          return arith::MulFOp::create(nb, nloc, normalized, w).getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// y = a(gate) ⊙ up, a = silu (gate · σ(gate)) or the tanh GELU.
struct LowerGlu : public OpRewritePattern<GluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GluOp op,
                                PatternRewriter &rewriter) const override {
    Value result = buildElementwise(
        rewriter, op.getLoc(), {op.getGate(), op.getUp()},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value activated = gluActivation(nb, nloc, op.getActivation(), args[0],
                                          /*withSlope=*/false)
                                .value;
          return arith::MulFOp::create(nb, nloc, activated, args[1])
              .getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// y = c · tanh(x / c), elementwise.
struct LowerSoftCap : public OpRewritePattern<SoftCapOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftCapOp op,
                                PatternRewriter &rewriter) const override {
    double cap = op.getCap().convertToDouble();
    Value result = buildElementwise(
        rewriter, op.getLoc(), {op.getInput()},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          return softCap(nb, nloc, args[0], cap, /*withSlope=*/false).value;
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// The splitmix64 finalizer on i64 values (wrapping arithmetic).
Value splitmix64(OpBuilder &b, Location loc, Value z) {
  auto constant = [&](uint64_t value) {
    return arith::ConstantIntOp::create(b, loc, b.getI64Type(),
                                        static_cast<int64_t>(value));
  };
  auto xorShift = [&](Value x, int64_t shift) {
    return arith::XOrIOp::create(
        b, loc, x, arith::ShRUIOp::create(b, loc, x, constant(shift)));
  };
  z = arith::MulIOp::create(b, loc, xorShift(z, 30),
                            constant(0xBF58476D1CE4E5B9ull));
  z = arith::MulIOp::create(b, loc, xorShift(z, 27),
                            constant(0x94D049BB133111EBull));
  return xorShift(z, 31);
}

/// y = x · [u ≥ rate] / (1 − rate), u drawn from (seed, stream, index).
struct LowerDropout : public OpRewritePattern<DropoutOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DropoutOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto type = cast<RankedTensorType>(op.getType());
    Type elementType = type.getElementType();
    unsigned rank = type.getRank();
    Value golden = arith::ConstantIntOp::create(
        rewriter, loc, rewriter.getI64Type(),
        static_cast<int64_t>(0x9E3779B97F4A7C15ull));
    Value seed =
        tensor::ExtractOp::create(rewriter, loc, op.getSeed(), ValueRange{});
    Value key = splitmix64(
        rewriter, loc,
        arith::AddIOp::create(
            rewriter, loc, arith::MulIOp::create(rewriter, loc, seed, golden),
            arith::ConstantIntOp::create(rewriter, loc, rewriter.getI64Type(),
                                         op.getStream())));
    // The draw is compared in f32, the scale computed in the element type.
    Value rawRate =
        tensor::ExtractOp::create(rewriter, loc, op.getRate(), ValueRange{});
    Value rate = castFloat(rewriter, loc, rawRate, rewriter.getF32Type());
    Value one = floatConstant(rewriter, loc, elementType, 1.0);
    Value scale = arith::DivFOp::create(
        rewriter, loc, one,
        arith::SubFOp::create(rewriter, loc, one,
                              castFloat(rewriter, loc, rawRate, elementType)));
    SmallVector<OpFoldResult> shape = getSizes(rewriter, loc, op.getInput());
    SmallVector<Value> sizes =
        getValueOrCreateConstantIndexOp(rewriter, loc, shape);
    AffineMap id = identityMap(rewriter.getContext(), rank);
    Value result = buildParallelGeneric(
        rewriter, loc, {op.getInput()}, {id},
        createEmpty(rewriter, loc, shape, elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          // The row-major linear index of the element.
          Value linear = arith::ConstantIndexOp::create(nb, nloc, 0);
          for (unsigned d = 0; d < rank; ++d)
            linear = arith::AddIOp::create(
                nb, nloc, arith::MulIOp::create(nb, nloc, linear, sizes[d]),
                linalg::IndexOp::create(nb, nloc, d));
          Value index =
              arith::IndexCastOp::create(nb, nloc, nb.getI64Type(), linear);
          Value bits =
              splitmix64(nb, nloc,
                         arith::AddIOp::create(
                             nb, nloc, key,
                             arith::MulIOp::create(nb, nloc, index, golden)));
          Value top = arith::ShRUIOp::create(
              nb, nloc, bits,
              arith::ConstantIntOp::create(nb, nloc, nb.getI64Type(), 40));
          Value u = arith::MulFOp::create(
              nb, nloc, arith::UIToFPOp::create(nb, nloc, nb.getF32Type(), top),
              floatConstant(nb, nloc, nb.getF32Type(), 0x1.0p-24));
          Value keep = arith::CmpFOp::create(
              nb, nloc, arith::CmpFPredicate::OGE, u, rate);
          Value zero = floatConstant(nb, nloc, elementType, 0.0);
          Value scaled = arith::MulFOp::create(nb, nloc, args[0], scale);
          return arith::SelectOp::create(nb, nloc, keep, scaled, zero)
              .getResult();
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// s · cos/sin of positions[b, s] · inv_freq[c mod d/2], in f64, rounded
/// once; with long_inv_freq, those frequencies instead when the largest
/// position + 1 exceeds long_after.
struct LowerRopeTables : public OpRewritePattern<RopeTablesOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeTablesOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto type = cast<RankedTensorType>(op.getCos().getType());
    Type elementType = type.getElementType();
    int64_t headDim = type.getDimSize(2);
    // The frequencies repeated for both halves of the head, as a constant
    // read per channel.
    auto tableOf = [&](ArrayRef<double> half) -> Value {
      SmallVector<double> frequencies(half);
      frequencies.append(half.begin(), half.end());
      auto tableType = RankedTensorType::get({headDim}, rewriter.getF64Type());
      return arith::ConstantOp::create(
          rewriter, loc,
          DenseElementsAttr::get(tableType, ArrayRef<double>(frequencies)));
    };
    double scaling = op.getAttentionScaling().convertToDouble();
    Value positions = op.getPositions();
    SmallVector<Value> inputs = {positions, tableOf(op.getInvFreq())};
    SmallVector<AffineMap> maps = {projectionMap(ctx, 3, {0, 1}),
                                   projectionMap(ctx, 3, {2})};
    // longrope: whether the call reaches past long_after, from the largest
    // position of the whole batch.
    Value useLong;
    if (std::optional<ArrayRef<double>> longFrequencies = op.getLongInvFreq()) {
      Type i64 = rewriter.getI64Type();
      Value lowest = arith::ConstantOp::create(
          rewriter, loc,
          rewriter.getI64IntegerAttr(std::numeric_limits<int64_t>::min()));
      Value init = linalg::FillOp::create(
                       rewriter, loc, ValueRange{lowest},
                       ValueRange{createEmpty(rewriter, loc, {}, i64)})
                       .getResult(0);
      Value largest = buildGeneric(
          rewriter, loc, positions, init,
          {identityMap(ctx, 2), AffineMap::get(2, 0, ctx)},
          {utils::IteratorType::reduction, utils::IteratorType::reduction},
          [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
            return arith::MaxSIOp::create(nb, nloc, args[0], args[1]);
          });
      Value bound = arith::ConstantOp::create(
          rewriter, loc,
          rewriter.getIntegerAttr(
              i64, static_cast<int64_t>(*op.getLongAfter()) - 1));
      useLong = arith::CmpIOp::create(
          rewriter, loc, arith::CmpIPredicate::sgt,
          tensor::ExtractOp::create(rewriter, loc, largest, ValueRange{}),
          bound);
      inputs.push_back(tableOf(*longFrequencies));
      maps.push_back(projectionMap(ctx, 3, {2}));
    }
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, positions);
    sizes.push_back(rewriter.getIndexAttr(headDim));
    Value cosInit = createEmpty(rewriter, loc, sizes, elementType);
    Value sinInit = createEmpty(rewriter, loc, sizes, elementType);
    maps.append({identityMap(ctx, 3), identityMap(ctx, 3)});
    SmallVector<utils::IteratorType> iterators(3,
                                               utils::IteratorType::parallel);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{cosInit.getType(), sinInit.getType()}, inputs,
        ValueRange{cosInit, sinInit}, maps, iterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value position =
              arith::SIToFPOp::create(nb, nloc, nb.getF64Type(), args[0]);
          Value frequency = args[1];
          if (useLong)
            frequency =
                arith::SelectOp::create(nb, nloc, useLong, args[2], args[1]);
          Value angle = arith::MulFOp::create(nb, nloc, position, frequency);
          Value c = math::CosOp::create(nb, nloc, angle);
          Value s = math::SinOp::create(nb, nloc, angle);
          if (scaling != 1.0) {
            Value factor = arith::ConstantOp::create(
                nb, nloc, nb.getF64FloatAttr(scaling));
            c = arith::MulFOp::create(nb, nloc, c, factor);
            s = arith::MulFOp::create(nb, nloc, s, factor);
          }
          c = castFloat(nb, nloc, c, elementType);
          s = castFloat(nb, nloc, s, elementType);
          linalg::YieldOp::create(nb, nloc, ValueRange{c, s});
        });
    SmallVector<Value> results;
    for (auto [result, wanted] :
         llvm::zip(generic.getResults(), op.getResultTypes()))
      results.push_back(
          tensor::CastOp::create(rewriter, loc, wanted, result).getResult());
    rewriter.replaceOp(op, results);
    return success();
  }
};

} // namespace

Value mlir::tptt::lowering::groupQueryHeads(OpBuilder &b, Location loc, Value q,
                                            int64_t kvHeads) {
  auto qType = cast<RankedTensorType>(q.getType());
  int64_t groups = qType.getDimSize(1) / kvHeads;
  auto grouped =
      RankedTensorType::get({qType.getDimSize(0), kvHeads, groups,
                             qType.getDimSize(2), qType.getDimSize(3)},
                            qType.getElementType());
  return tensor::ExpandShapeOp::create(
      b, loc, grouped, q,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
}

Value mlir::tptt::lowering::attentionProbabilities(
    OpBuilder &b, Location loc, Value q, Value k, Value mask,
    std::optional<uint64_t> window, double scale) {
  MLIRContext *ctx = b.getContext();
  Type elementType = cast<RankedTensorType>(q.getType()).getElementType();
  Value scores =
      einsum(b, loc, "xkgsc,xkct->xkgst", q, transposeLast2(b, loc, k));
  Value seq = tensor::DimOp::create(b, loc, q, 3);
  Value keys = tensor::DimOp::create(b, loc, k, 2);

  // visible(s, t) = t <= p && (no window || t > p − L) && mask[b, t].
  auto visible = [&](OpBuilder &nb, Location nloc) -> Value {
    Value batch = linalg::IndexOp::create(nb, nloc, 0);
    Value s = linalg::IndexOp::create(nb, nloc, 3);
    Value t = linalg::IndexOp::create(nb, nloc, 4);
    Value p = arith::AddIOp::create(
        nb, nloc, arith::SubIOp::create(nb, nloc, keys, seq), s);
    Value ok = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ule, t, p);
    if (window) {
      // t > p − L  ⇔  t + L > p.
      Value reach =
          arith::AddIOp::create(nb, nloc, t,
                                arith::ConstantIndexOp::create(
                                    nb, nloc, static_cast<int64_t>(*window)));
      ok = arith::AndIOp::create(
          nb, nloc, ok,
          arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ugt, reach, p));
    }
    if (mask)
      ok = arith::AndIOp::create(
          nb, nloc, ok,
          tensor::ExtractOp::create(nb, nloc, mask, ValueRange{batch, t}));
    return ok;
  };

  SmallVector<OpFoldResult> rowSizes = getSizes(b, loc, scores);
  rowSizes.pop_back();
  SmallVector<utils::IteratorType> reduceLast(5, utils::IteratorType::parallel);
  reduceLast.back() = utils::IteratorType::reduction;
  AffineMap id = identityMap(ctx, 5);
  AffineMap row = projectionMap(ctx, 5, {0, 1, 2, 3});
  double lowest = -std::numeric_limits<double>::infinity();
  Value maxima = buildGeneric(
      b, loc, {scores}, createFilled(b, loc, rowSizes, elementType, lowest),
      {id, row}, reduceLast,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value scaled = arith::MulFOp::create(
            nb, nloc, args[0], floatConstant(nb, nloc, elementType, scale));
        Value candidate = arith::SelectOp::create(
            nb, nloc, visible(nb, nloc), scaled,
            floatConstant(nb, nloc, elementType, lowest));
        return arith::MaximumFOp::create(nb, nloc, args[1], candidate)
            .getResult();
      });
  Value weights = buildParallelGeneric(
      b, loc, {scores, maxima}, {id, row},
      createEmpty(b, loc, getSizes(b, loc, scores), elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value scaled = arith::MulFOp::create(
            nb, nloc, args[0], floatConstant(nb, nloc, elementType, scale));
        Value shifted = arith::SubFOp::create(nb, nloc, scaled, args[1]);
        Value e = math::ExpOp::create(nb, nloc, shifted);
        return arith::SelectOp::create(
                   nb, nloc, visible(nb, nloc), e,
                   floatConstant(nb, nloc, elementType, 0.0))
            .getResult();
      });
  Value sums = buildGeneric(
      b, loc, {weights}, createFilled(b, loc, rowSizes, elementType, 0.0),
      {id, row}, reduceLast, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::AddFOp::create(nb, nloc, args[1], args[0]).getResult();
      });
  Value probabilities = buildParallelGeneric(
      b, loc, {weights, sums}, {id, row},
      createEmpty(b, loc, getSizes(b, loc, scores), elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value zero = floatConstant(nb, nloc, elementType, 0.0);
        Value any = arith::CmpFOp::create(nb, nloc, arith::CmpFPredicate::OGT,
                                          args[1], zero);
        Value p = arith::DivFOp::create(nb, nloc, args[0], args[1]);
        return arith::SelectOp::create(nb, nloc, any, p, zero).getResult();
      });
  return probabilities;
}

Value mlir::tptt::lowering::sliceDim(OpBuilder &b, Location loc, Value x,
                                     unsigned dim, Value start, Value count) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  offsets[dim] = start;
  sizes[dim] = count;
  SmallVector<int64_t> shape(type.getShape());
  shape[dim] = ShapedType::kDynamic;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sizes, SmallVector<OpFoldResult>(type.getRank(), b.getIndexAttr(1)));
}

Value mlir::tptt::lowering::insertDim(OpBuilder &b, Location loc, Value part,
                                      Value dest, unsigned dim, Value start) {
  unsigned rank = cast<RankedTensorType>(dest.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  offsets[dim] = start;
  return tensor::InsertSliceOp::create(
      b, loc, part, dest, offsets, getSizes(b, loc, part),
      SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
}

SmallVector<Value> mlir::tptt::lowering::forEachAttentionBlock(
    OpBuilder &b, Location loc, Value q, Value k, Value v, Value mask,
    std::optional<uint64_t> window, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location,
                                    const AttentionBlock &, ValueRange)>
        body) {
  Value seq = tensor::DimOp::create(b, loc, q, 3);
  Value keys = tensor::DimOp::create(b, loc, k, 2);
  Value block = arith::ConstantIndexOp::create(b, loc, kAttentionBlock);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  // Position of query row s among the keys: T − S + s.
  Value offset = arith::SubIOp::create(b, loc, keys, seq);
  auto loop = scf::ForOp::create(
      b, loc, zero, seq, block, inits,
      [&](OpBuilder &lb, Location ll, Value rowStart, ValueRange iters) {
        AttentionBlock blk;
        blk.rowStart = rowStart;
        blk.rows = arith::MinUIOp::create(
            lb, ll, block, arith::SubIOp::create(lb, ll, seq, rowStart));
        Value first = arith::AddIOp::create(lb, ll, offset, rowStart);
        Value keyEnd = arith::AddIOp::create(lb, ll, first, blk.rows);
        blk.keyStart = zero;
        if (window) {
          // The first row sees keys t > first − L.
          Value reach = arith::ConstantIndexOp::create(
              lb, ll, static_cast<int64_t>(*window) - 1);
          Value past = arith::CmpIOp::create(lb, ll, arith::CmpIPredicate::ugt,
                                             first, reach);
          blk.keyStart = arith::SelectOp::create(
              lb, ll, past, arith::SubIOp::create(lb, ll, first, reach), zero);
        }
        blk.keys = arith::SubIOp::create(lb, ll, keyEnd, blk.keyStart);
        blk.q = sliceDim(lb, ll, q, 3, rowStart, blk.rows);
        blk.k = sliceDim(lb, ll, k, 2, blk.keyStart, blk.keys);
        blk.v = sliceDim(lb, ll, v, 2, blk.keyStart, blk.keys);
        blk.mask =
            mask ? sliceDim(lb, ll, mask, 1, blk.keyStart, blk.keys) : Value();
        scf::YieldOp::create(lb, ll, body(lb, ll, blk, iters));
      });
  return SmallVector<Value>(loop.getResults());
}

void mlir::tptt::populateBackboneLoweringPatterns(RewritePatternSet &patterns) {
  patterns
      .add<LowerLinear, LowerRope, LowerAttention, LowerEmbedding, LowerRmsNorm,
           LowerGlu, LowerSoftCap, LowerRopeTables, LowerDropout>(
          patterns.getContext());
}

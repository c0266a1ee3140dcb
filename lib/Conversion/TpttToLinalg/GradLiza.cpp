//===- GradLiza.cpp - Lower the backward ops of the LiZA branch -----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The VJPs of the linear branch's elementwise and per-row pieces: the head
// merge with its RMS step, the Memory-as-Gate mix, the feature map, the
// gates (through the transpose of the causal mean) and the virtual-token
// expansion (its adjoint). Each mirrors the forward lowering it inverts,
// including the padding rules of the `recurrent` semantics: with a mask the
// forward packs real tokens to the front, so the backward unpacks, runs the
// adjoint on the packed sequences, and packs back.
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

SmallVector<utils::IteratorType> iterators(unsigned rank,
                                           ArrayRef<unsigned> reductions) {
  SmallVector<utils::IteratorType> kinds(rank, utils::IteratorType::parallel);
  for (unsigned d : reductions)
    kinds[d] = utils::IteratorType::reduction;
  return kinds;
}

/// Σ of `term(inputs)` over the loop dimensions `reduced` of the loop space
/// of `maps`, into a zero tensor of `sizes` read through `outMap`.
Value reduce(OpBuilder &b, Location loc, ValueRange inputs,
             ArrayRef<AffineMap> maps, AffineMap outMap,
             ArrayRef<OpFoldResult> sizes, Type elementType,
             ArrayRef<unsigned> reduced, GenericBody term) {
  SmallVector<AffineMap> all(maps);
  all.push_back(outMap);
  return buildGeneric(
      b, loc, inputs, createFilled(b, loc, sizes, elementType, 0.0), all,
      iterators(outMap.getNumDims(), reduced),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value value = term(nb, nloc, args.drop_back());
        return arith::AddFOp::create(nb, nloc, args.back(), value).getResult();
      });
}

/// Zeroes the packed positions i ≥ length[b] of `x` along `seqDim`: what a
/// packed sequence holds past its real tokens.
Value zeroPastLength(OpBuilder &b, Location loc, Value x, unsigned seqDim,
                     Value length) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  MLIRContext *ctx = b.getContext();
  return buildParallelGeneric(
      b, loc, {x, length},
      {identityMap(ctx, rank), projectionMap(ctx, rank, {0})},
      createEmpty(b, loc, getSizes(b, loc, x), type.getElementType()),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value inside = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ult,
            linalg::IndexOp::create(nb, nloc, seqDim), args[1]);
        return arith::SelectOp::create(
                   nb, nloc, inside, args[0],
                   floatConstant(nb, nloc, type.getElementType(), 0.0))
            .getResult();
      });
}

/// Runs the adjoint `adjoint` of a map that the forward applied to packed
/// sequences (real tokens first): with a mask, the cotangent `dy` is packed
/// (positions past each length zeroed), the adjoint runs, and its result is
/// unpacked with padded positions zero. `seqDim` is the sequence dimension
/// of both `dy` and the result.
Value packedAdjoint(OpBuilder &b, Location loc, Value dy, Value mask,
                    unsigned seqDim, Value seqSource, unsigned sourceSeqDim,
                    llvm::function_ref<Value(Value)> adjoint) {
  if (!mask)
    return adjoint(dy);
  Value batch = tensor::DimOp::create(b, loc, seqSource, 0);
  Value seq = tensor::DimOp::create(b, loc, seqSource, sourceSeqDim);
  SequencePacking packing =
      buildSequencePacking(b, loc, mask, batch, seq, /*reverse=*/false);
  Value masked = zeroPadded(b, loc, dy, seqDim, mask);
  Value packed = zeroPastLength(
      b, loc, gatherSequence(b, loc, masked, seqDim, packing.gather), seqDim,
      packing.length);
  Value result = adjoint(packed);
  Value unpacked = gatherSequence(b, loc, result, seqDim, packing.scatter);
  return zeroPadded(b, loc, unpacked, seqDim, mask);
}

/// [B, S, G·d] → [B, S, G, d].
Value splitGroups(OpBuilder &b, Location loc, Value x, int64_t groups) {
  auto type = cast<RankedTensorType>(x.getType());
  auto split = RankedTensorType::get({type.getDimSize(0), type.getDimSize(1),
                                      groups, type.getDimSize(2) / groups},
                                     type.getElementType());
  return tensor::ExpandShapeOp::create(
      b, loc, split, x, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// [B, H, S, d] (H = G·g) summed over the g query heads of each group, as
/// [B, S, G, d] (the cotangent of a GQA repeat).
Value sumGroups(OpBuilder &b, Location loc, Value x, int64_t groups,
                Type elementType) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = b.getContext();
  int64_t repeat = type.getDimSize(1) / groups, headDim = type.getDimSize(3);
  auto grouped = RankedTensorType::get(
      {type.getDimSize(0), groups, repeat, type.getDimSize(2), headDim},
      type.getElementType());
  Value expanded = tensor::ExpandShapeOp::create(
      b, loc, grouped, x,
      SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
  SmallVector<OpFoldResult> sizes = {
      tensor::getMixedSize(b, loc, x, 0), tensor::getMixedSize(b, loc, x, 2),
      b.getIndexAttr(groups), b.getIndexAttr(headDim)};
  return reduce(b, loc, {expanded}, {identityMap(ctx, 5)},
                projectionMap(ctx, 5, {0, 3, 1, 4}), sizes, elementType, {2},
                [&](OpBuilder &nb, Location nloc, ValueRange args) {
                  return castFloat(nb, nloc, args[0], elementType);
                });
}

/// dY = r dy − Y r³ Σ(dy ⊙ Y) / D per token, r = 1/√(mean(Y²) + eps), with
/// Y the heads of `input` merged.
struct LowerMergeHeadsGrad : public OpRewritePattern<MergeHeadsGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MergeHeadsGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value x = op.getInput();
    auto type = cast<RankedTensorType>(x.getType());
    Type elementType = type.getElementType();
    int64_t heads = type.getDimSize(1), headDim = type.getDimSize(3);
    double width = static_cast<double>(heads * headDim),
           eps = op.getEps().convertToDouble();
    Value dy = splitGroups(rewriter, loc, op.getDresult(), heads);
    // Loops [B, H, S, d]; dy is [B, S, H, d], rows are [B, S].
    AffineMap id = identityMap(ctx, 4);
    AffineMap dyMap = projectionMap(ctx, 4, {0, 2, 1, 3});
    AffineMap row = projectionMap(ctx, 4, {0, 2});
    SmallVector<OpFoldResult> rows = {
        tensor::getMixedSize(rewriter, loc, x, 0),
        tensor::getMixedSize(rewriter, loc, x, 2)};
    Value squares = reduce(
        rewriter, loc, {x}, {id}, row, rows, elementType, {1, 3},
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::MulFOp::create(nb, nloc, args[0], args[0]).getResult();
        });
    Value dots =
        reduce(rewriter, loc, {x, dy}, {id, dyMap}, row, rows, elementType,
               {1, 3}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                 return arith::MulFOp::create(
                            nb, nloc, args[0],
                            castFloat(nb, nloc, args[1], elementType))
                     .getResult();
               });
    Value dx = buildParallelGeneric(
        rewriter, loc, {x, dy, squares, dots}, {id, dyMap, row, row},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, x), elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto c = [&](double v) {
            return floatConstant(nb, nloc, elementType, v);
          };
          Value mean = arith::DivFOp::create(nb, nloc, args[2], c(width));
          Value r = math::RsqrtOp::create(
              nb, nloc, arith::AddFOp::create(nb, nloc, mean, c(eps)));
          Value g = castFloat(nb, nloc, args[1], elementType);
          Value r3 = arith::MulFOp::create(
              nb, nloc, r, arith::MulFOp::create(nb, nloc, r, r));
          Value correction = arith::MulFOp::create(
              nb, nloc, args[0],
              arith::DivFOp::create(
                  nb, nloc, arith::MulFOp::create(nb, nloc, r3, args[3]),
                  c(width)));
          return arith::SubFOp::create(nb, nloc,
                                       arith::MulFOp::create(nb, nloc, r, g),
                                       correction)
              .getResult();
        });
    replaceOpWithCasts(rewriter, op, dx);
    return success();
  }
};

/// The Memory-as-Gate VJP (see the op description): with c the per-token
/// scale (1 without base_scale_attn), ds = dy (1 + l), dl = dy (1 + s) with
/// cross_gate (else dy), dsoft = (1 − μ) ds + μ Σ(dl ⊙ lin) soft / (D c),
/// dlin = μ c dl.
struct LowerMagMixGrad : public OpRewritePattern<MagMixGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MagMixGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value soft = op.getSoft(), lin = op.getLin(), dy = op.getDresult();
    auto type = cast<RankedTensorType>(soft.getType());
    Type elementType = type.getElementType();
    double width = static_cast<double>(type.getDimSize(2)),
           eps = op.getEps().convertToDouble();
    bool cross = op.getCrossGate(), scaled = op.getBaseScaleAttn();
    Value mu = castFloat(
        rewriter, loc,
        tensor::ExtractOp::create(rewriter, loc, op.getMu(), ValueRange{}),
        elementType);
    AffineMap id = identityMap(ctx, 3), row = projectionMap(ctx, 3, {0, 1});
    SmallVector<OpFoldResult> rows = {
        tensor::getMixedSize(rewriter, loc, soft, 0),
        tensor::getMixedSize(rewriter, loc, soft, 1)};

    // The per-token scale c (a constant 1 without base_scale_attn).
    Value squares =
        scaled
            ? reduce(rewriter, loc, {soft}, {id}, row, rows, elementType, {2},
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       return arith::MulFOp::create(nb, nloc, args[0], args[0])
                           .getResult();
                     })
            : createFilled(rewriter, loc, rows, elementType, 0.0);
    auto scaleOf = [&](OpBuilder &nb, Location nloc, Value sum) -> Value {
      if (!scaled)
        return floatConstant(nb, nloc, elementType, 1.0);
      Value mean = arith::DivFOp::create(
          nb, nloc, sum, floatConstant(nb, nloc, elementType, width));
      return math::SqrtOp::create(
          nb, nloc,
          arith::AddFOp::create(nb, nloc, mean,
                                floatConstant(nb, nloc, elementType, eps)));
    };
    // s, l and the branch cotangents ds, dl at one element.
    auto branches = [&](OpBuilder &nb, Location nloc, Value softValue,
                        Value linValue, Value dyValue, Value sum) {
      Value one = floatConstant(nb, nloc, elementType, 1.0);
      Value c = scaleOf(nb, nloc, sum);
      Value s = arith::MulFOp::create(
          nb, nloc, arith::SubFOp::create(nb, nloc, one, mu), softValue);
      Value l = arith::MulFOp::create(
          nb, nloc, mu, arith::MulFOp::create(nb, nloc, c, linValue));
      Value ds = dyValue, dl = dyValue;
      if (cross) {
        ds = arith::MulFOp::create(nb, nloc, dyValue,
                                   arith::AddFOp::create(nb, nloc, one, l));
        dl = arith::MulFOp::create(nb, nloc, dyValue,
                                   arith::AddFOp::create(nb, nloc, one, s));
      }
      return std::make_tuple(c, ds, dl);
    };
    Value dots =
        scaled ? reduce(rewriter, loc, {soft, lin, dy, squares},
                        {id, id, id, row}, row, rows, elementType, {2},
                        [&](OpBuilder &nb, Location nloc, ValueRange args) {
                          auto [c, ds, dl] = branches(
                              nb, nloc, args[0], args[1], args[2], args[3]);
                          return arith::MulFOp::create(nb, nloc, dl, args[1])
                              .getResult();
                        })
               : squares;
    Value init =
        createEmpty(rewriter, loc, getSizes(rewriter, loc, soft), elementType);
    Value dsoft = buildParallelGeneric(
        rewriter, loc, {soft, lin, dy, squares, dots}, {id, id, id, row, row},
        init, [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto [c, ds, dl] =
              branches(nb, nloc, args[0], args[1], args[2], args[3]);
          Value one = floatConstant(nb, nloc, elementType, 1.0);
          Value result = arith::MulFOp::create(
              nb, nloc, arith::SubFOp::create(nb, nloc, one, mu), ds);
          if (!scaled)
            return result;
          // μ Σ(dl ⊙ lin) soft / (D c).
          Value factor = arith::DivFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, mu, args[4]),
              arith::MulFOp::create(
                  nb, nloc, floatConstant(nb, nloc, elementType, width), c));
          return arith::AddFOp::create(
                     nb, nloc, result,
                     arith::MulFOp::create(nb, nloc, factor, args[0]))
              .getResult();
        });
    Value dlin = buildParallelGeneric(
        rewriter, loc, {soft, lin, dy, squares}, {id, id, id, row},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, soft), elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          auto [c, ds, dl] =
              branches(nb, nloc, args[0], args[1], args[2], args[3]);
          return arith::MulFOp::create(
                     nb, nloc, arith::MulFOp::create(nb, nloc, mu, c), dl)
              .getResult();
        });
    replaceOpWithCasts(rewriter, op, {dsoft, dlin});
    return success();
  }
};

/// The VJP of x̂ = silu(x) / max(‖silu(x)‖, 1e-6) per head row, from the
/// cotangent `dhat` [B, H, S, d] of the repeated heads: summed over the
/// query heads of each of the `groups` heads of x [B, S, G·d], then
/// ds = (dx̂ − x̂ ⟨dx̂, x̂⟩) / ‖s‖ (or dx̂ / 1e-6 when the norm is clamped),
/// dx = ds ⊙ σ(x) (1 + x (1 − σ(x))).
Value normalizedHeadsGrad(OpBuilder &b, Location loc, Value x, Value dhat,
                          int64_t groups, Type linearType) {
  MLIRContext *ctx = b.getContext();
  auto xType = cast<RankedTensorType>(x.getType());
  Value split = splitGroups(b, loc, x, groups);
  Value gsum = sumGroups(b, loc, dhat, groups, linearType);
  AffineMap id = identityMap(ctx, 4), row = projectionMap(ctx, 4, {0, 1, 2});
  SmallVector<OpFoldResult> rows = getSizes(b, loc, split);
  rows.pop_back();
  auto silu = [&](OpBuilder &nb, Location nloc, Value raw) {
    Value v = castFloat(nb, nloc, raw, linearType);
    return arith::MulFOp::create(nb, nloc, v, sigmoid(nb, nloc, v)).getResult();
  };
  Value norms =
      reduce(b, loc, {split}, {id}, row, rows, linearType, {3},
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value s = silu(nb, nloc, args[0]);
               return arith::MulFOp::create(nb, nloc, s, s).getResult();
             });
  Value dots = reduce(b, loc, {split, gsum}, {id, id}, row, rows, linearType,
                      {3}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        return arith::MulFOp::create(
                                   nb, nloc, silu(nb, nloc, args[0]), args[1])
                            .getResult();
                      });
  Value dx = buildParallelGeneric(
      b, loc, {split, gsum, norms, dots}, {id, id, row, row},
      createEmpty(b, loc, getSizes(b, loc, split), xType.getElementType()),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        auto c = [&](double v) {
          return floatConstant(nb, nloc, linearType, v);
        };
        Value v = castFloat(nb, nloc, args[0], linearType);
        Value sig = sigmoid(nb, nloc, v);
        Value s = arith::MulFOp::create(nb, nloc, v, sig);
        Value norm = math::SqrtOp::create(nb, nloc, args[2]);
        Value clamped = arith::CmpFOp::create(
            nb, nloc, arith::CmpFPredicate::OLE, norm, c(1e-6));
        // ⟨dx̂, x̂⟩ = ⟨dx̂, s⟩ / ‖s‖.
        Value projection = arith::DivFOp::create(
            nb, nloc,
            arith::MulFOp::create(
                nb, nloc, s, arith::DivFOp::create(nb, nloc, args[3], norm)),
            norm);
        Value unclamped = arith::DivFOp::create(
            nb, nloc, arith::SubFOp::create(nb, nloc, args[1], projection),
            norm);
        Value ds = arith::SelectOp::create(
            nb, nloc, clamped,
            arith::DivFOp::create(nb, nloc, args[1], c(1e-6)), unclamped);
        Value slope = arith::MulFOp::create(
            nb, nloc, sig,
            arith::AddFOp::create(
                nb, nloc, c(1.0),
                arith::MulFOp::create(
                    nb, nloc, v,
                    arith::SubFOp::create(nb, nloc, c(1.0), sig))));
        return castFloat(nb, nloc, arith::MulFOp::create(nb, nloc, ds, slope),
                         xType.getElementType());
      });
  return tensor::CollapseShapeOp::create(
      b, loc, xType, dx, SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

struct LowerFeatureMapGrad : public OpRewritePattern<FeatureMapGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(FeatureMapGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type linearType =
        cast<RankedTensorType>(op.getDqHat().getType()).getElementType();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    Value dq = normalizedHeadsGrad(rewriter, loc, op.getQ(), op.getDqHat(),
                                   heads, linearType);
    Value dk = normalizedHeadsGrad(rewriter, loc, op.getK(), op.getDkHat(),
                                   kvHeads, linearType);
    // v̂ = v / √d repeated: dv = Σ_g dv̂ / √d.
    auto vType = cast<RankedTensorType>(op.getV().getType());
    int64_t headDim = vType.getDimSize(2) / kvHeads;
    Value vsum = sumGroups(rewriter, loc, op.getDvHat(), kvHeads, linearType);
    Value dv = buildParallelGeneric(
        rewriter, loc, {vsum}, {identityMap(ctx, 4)},
        createEmpty(rewriter, loc, getSizes(rewriter, loc, vsum),
                    vType.getElementType()),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value scale = floatConstant(nb, nloc, linearType,
                                      1.0 / std::sqrt(double(headDim)));
          return castFloat(nb, nloc,
                           arith::MulFOp::create(nb, nloc, args[0], scale),
                           vType.getElementType());
        });
    dv = tensor::CollapseShapeOp::create(
        rewriter, loc, vType, dv,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    replaceOpWithCasts(rewriter, op, {dq, dk, dv});
    return success();
  }
};

/// The transpose of the width-3 causal mean with left replicate padding
/// over [B, S, F]: dx_j = Σ_{i=0..2} dp_{j+i} / 3 (terms past S dropped),
/// and x_0, which stands in for the missing rows, also takes
/// (2 dp_0 + dp_1) / 3.
Value causalMeanTranspose(OpBuilder &b, Location loc, Value dp) {
  auto type = cast<RankedTensorType>(dp.getType());
  Type elementType = type.getElementType();
  Value seq = tensor::DimOp::create(b, loc, dp, 1);
  return buildParallelGeneric(
      b, loc, {}, {}, createEmpty(b, loc, getSizes(b, loc, dp), elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        Value batch = linalg::IndexOp::create(nb, nloc, 0);
        Value j = linalg::IndexOp::create(nb, nloc, 1);
        Value feature = linalg::IndexOp::create(nb, nloc, 2);
        Value zero = floatConstant(nb, nloc, elementType, 0.0);
        Value third = floatConstant(nb, nloc, elementType, 1.0 / 3.0);
        auto at = [&](Value t) -> Value {
          Value inside = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::ult, t, seq);
          Value safe = arith::SelectOp::create(
              nb, nloc, inside, t, arith::ConstantIndexOp::create(nb, nloc, 0));
          Value value = tensor::ExtractOp::create(
              nb, nloc, dp, ValueRange{batch, safe, feature});
          return arith::SelectOp::create(nb, nloc, inside, value, zero);
        };
        Value sum = zero;
        for (int64_t i = 0; i < 3; ++i)
          sum = arith::AddFOp::create(
              nb, nloc, sum,
              at(arith::AddIOp::create(
                  nb, nloc, j, arith::ConstantIndexOp::create(nb, nloc, i))));
        Value c0 = arith::ConstantIndexOp::create(nb, nloc, 0);
        Value c1 = arith::ConstantIndexOp::create(nb, nloc, 1);
        Value extra = arith::AddFOp::create(
            nb, nloc, arith::AddFOp::create(nb, nloc, at(c0), at(c0)), at(c1));
        Value first =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, j, c0);
        sum = arith::SelectOp::create(
            nb, nloc, first, arith::AddFOp::create(nb, nloc, sum, extra), sum);
        return arith::MulFOp::create(nb, nloc, sum, third).getResult();
      });
}

/// The gates' VJP: the cotangents of α and β summed over each KV head's
/// query heads, through the gate codes and σ' at the pooled values, then the
/// transpose of the (masked) causal mean.
struct LowerGatesGrad : public OpRewritePattern<GatesGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatesGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type gateType =
        cast<RankedTensorType>(op.getDbeta().getType()).getElementType();
    int64_t kvHeads = op.getNumKvHeads();
    Value mask = op.getMask();
    // The pooled raw projections [B, S, Hkv, d], recomputed as the forward
    // computes them.
    auto pooled = [&](Value x) {
      Value cast = castTensor(rewriter, loc, x, gateType);
      Value pool =
          CausalMeanOp::create(rewriter, loc, cast.getType(), cast, Value(),
                               mask, rewriter.getI64IntegerAttr(3));
      return splitGroups(rewriter, loc, pool, kvHeads);
    };
    GateKind alphaCode = op.getAlphaGate(), betaCode = op.getBetaGate();
    auto uses = [&](GateKind a, GateKind b) {
      return alphaCode == a || alphaCode == b || betaCode == a || betaCode == b;
    };
    Value pk = uses(GateKind::K, GateKind::KV) ? pooled(op.getK()) : Value();
    Value pv = uses(GateKind::V, GateKind::KV) ? pooled(op.getV()) : Value();
    Value dalpha = op.getDalpha() ? sumGroups(rewriter, loc, op.getDalpha(),
                                              kvHeads, gateType)
                                  : Value();
    Value dbeta = sumGroups(rewriter, loc, op.getDbeta(), kvHeads, gateType);

    // d pool of k (which = 0) or v (which = 1) at one element.
    AffineMap id = identityMap(ctx, 4);
    auto poolGrad = [&](Value pooledValue, bool isK) -> Value {
      SmallVector<Value> inputs = {pooledValue};
      int64_t other = -1, alphaAt = -1, betaAt = -1;
      if (Value partner = isK ? pv : pk) {
        other = inputs.size();
        inputs.push_back(partner);
      }
      if (dalpha) {
        alphaAt = inputs.size();
        inputs.push_back(dalpha);
      }
      betaAt = inputs.size();
      inputs.push_back(dbeta);
      SmallVector<AffineMap> maps(inputs.size(), id);
      Value grad = buildParallelGeneric(
          rewriter, loc, inputs, maps,
          createEmpty(rewriter, loc, getSizes(rewriter, loc, pooledValue),
                      gateType),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Value self = sigmoid(nb, nloc, args[0]);
            Value partner =
                other >= 0 ? sigmoid(nb, nloc, args[other]) : Value();
            Value zero = floatConstant(nb, nloc, gateType, 0.0);
            // ∂gate/∂(own σ) for each code.
            auto slope = [&](GateKind code) -> Value {
              if (code == (isK ? GateKind::K : GateKind::V))
                return floatConstant(nb, nloc, gateType, 1.0);
              if (code == GateKind::KV)
                return partner;
              return Value();
            };
            Value sum = zero;
            for (auto [code, at] :
                 {std::pair<GateKind, int64_t>{alphaCode, alphaAt},
                  {betaCode, betaAt}}) {
              Value s = slope(code);
              if (!s || at < 0)
                continue;
              sum = arith::AddFOp::create(
                  nb, nloc, sum, arith::MulFOp::create(nb, nloc, args[at], s));
            }
            Value one = floatConstant(nb, nloc, gateType, 1.0);
            Value derivative = arith::MulFOp::create(
                nb, nloc, self, arith::SubFOp::create(nb, nloc, one, self));
            return arith::MulFOp::create(nb, nloc, sum, derivative).getResult();
          });
      auto type = cast<RankedTensorType>(grad.getType());
      auto flat =
          RankedTensorType::get({type.getDimSize(0), type.getDimSize(1),
                                 type.getDimSize(2) * type.getDimSize(3)},
                                gateType);
      return tensor::CollapseShapeOp::create(
          rewriter, loc, flat, grad,
          SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    };
    auto inputGrad = [&](Value pooledValue, bool isK, Value x) -> Value {
      auto xType = cast<RankedTensorType>(x.getType());
      if (!pooledValue)
        return createFilled(rewriter, loc, getSizes(rewriter, loc, x),
                            xType.getElementType(), 0.0);
      Value dp = poolGrad(pooledValue, isK);
      Value dx =
          packedAdjoint(rewriter, loc, dp, mask, 1, x, 1, [&](Value packed) {
            return causalMeanTranspose(rewriter, loc, packed);
          });
      return tensor::CastOp::create(
          rewriter, loc, xType,
          castTensor(rewriter, loc, dx, xType.getElementType()));
    };
    rewriter.replaceOp(
        op, {inputGrad(pk, true, op.getK()), inputGrad(pv, false, op.getV())});
    return success();
  }
};

/// The adjoint of the virtual-token expansion of [B, H, S, d] (no mask):
/// dt dx_s = Σ_j c_{n−1−j} de_{s+j, j}; rot dx_s = Σ_j R(θ_j)ᵀ de_{s,j} on
/// channel pairs (an unpaired last channel passes through); rdt the half
/// sum; cte Σ_j de_{s,j}.
Value expansionAdjoint(OpBuilder &b, Location loc, Value de, int64_t order,
                       Trick trick) {
  auto type = cast<RankedTensorType>(de.getType());
  Type elementType = type.getElementType();
  int64_t headDim = type.getDimSize(4);
  SmallVector<double> dt = dtCoefficients(order);
  auto [cosines, sines] = rotationTable(order);
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, de);
  sizes.erase(sizes.begin() + 3);
  Value seq = tensor::DimOp::create(b, loc, de, 2);
  return buildParallelGeneric(
      b, loc, {}, {}, createEmpty(b, loc, sizes, elementType),
      [&](OpBuilder &nb, Location nloc, ValueRange) -> Value {
        Value batch = linalg::IndexOp::create(nb, nloc, 0);
        Value head = linalg::IndexOp::create(nb, nloc, 1);
        Value s = linalg::IndexOp::create(nb, nloc, 2);
        Value channel = linalg::IndexOp::create(nb, nloc, 3);
        auto c = [&](double v) {
          return floatConstant(nb, nloc, elementType, v);
        };
        auto idx = [&](int64_t v) {
          return arith::ConstantIndexOp::create(nb, nloc, v);
        };
        auto read = [&](Value t, int64_t j, Value ch) -> Value {
          return tensor::ExtractOp::create(
              nb, nloc, de, ValueRange{batch, head, t, idx(j), ch});
        };
        auto lagged = [&]() -> Value {
          Value sum = c(0.0);
          for (int64_t j = 0; j < order; ++j) {
            Value t = arith::AddIOp::create(nb, nloc, s, idx(j));
            Value inside = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::ult, t, seq);
            Value safe = arith::SelectOp::create(nb, nloc, inside, t, s);
            Value term = arith::MulFOp::create(nb, nloc, c(dt[order - 1 - j]),
                                               read(safe, j, channel));
            sum = arith::AddFOp::create(
                nb, nloc, sum,
                arith::SelectOp::create(nb, nloc, inside, term, c(0.0)));
          }
          return sum;
        };
        auto rotated = [&]() -> Value {
          Value parity = arith::RemUIOp::create(nb, nloc, channel, idx(2));
          Value isEven = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq, parity, idx(0));
          Value even = arith::SelectOp::create(
              nb, nloc, isEven, channel,
              arith::SubIOp::create(nb, nloc, channel, idx(1)));
          Value odd = arith::MinUIOp::create(
              nb, nloc, arith::AddIOp::create(nb, nloc, even, idx(1)),
              idx(headDim - 1));
          Value sum = c(0.0);
          for (int64_t j = 0; j < order; ++j) {
            Value de0 = read(s, j, even), de1 = read(s, j, odd);
            // Rᵀ: x_even = cos e_even + sin e_odd, x_odd = −sin e_even + cos
            // e_odd.
            Value first = arith::AddFOp::create(
                nb, nloc, arith::MulFOp::create(nb, nloc, c(cosines[j]), de0),
                arith::MulFOp::create(nb, nloc, c(sines[j]), de1));
            Value second = arith::SubFOp::create(
                nb, nloc, arith::MulFOp::create(nb, nloc, c(cosines[j]), de1),
                arith::MulFOp::create(nb, nloc, c(sines[j]), de0));
            Value term =
                arith::SelectOp::create(nb, nloc, isEven, first, second);
            if (headDim % 2 != 0) {
              Value unpaired =
                  arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq,
                                        channel, idx(headDim - 1));
              term = arith::SelectOp::create(nb, nloc, unpaired,
                                             read(s, j, channel), term);
            }
            sum = arith::AddFOp::create(nb, nloc, sum, term);
          }
          return sum;
        };
        switch (trick) {
        case Trick::DT:
          return lagged();
        case Trick::Rot:
          return rotated();
        case Trick::RDT:
          return arith::MulFOp::create(
              nb, nloc, c(0.5),
              arith::AddFOp::create(nb, nloc, lagged(), rotated()));
        case Trick::Cte: {
          Value sum = c(0.0);
          for (int64_t j = 0; j < order; ++j)
            sum = arith::AddFOp::create(nb, nloc, sum, read(s, j, channel));
          return sum;
        }
        }
        llvm_unreachable("unknown trick");
      });
}

struct LowerVirtualTokenExpandGrad
    : public OpRewritePattern<VirtualTokenExpandGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(VirtualTokenExpandGradOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t order = op.getOrder();
    Trick trick = op.getTrick();
    Value de = op.getDresult();
    Value dx = packedAdjoint(
        rewriter, loc, de, op.getMask(), 2, de, 2, [&](Value packed) {
          return expansionAdjoint(rewriter, loc, packed, order, trick);
        });
    rewriter.replaceOpWithNewOp<tensor::CastOp>(op, op.getType(), dx);
    return success();
  }
};

} // namespace

void mlir::tptt::populateLizaGradLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerMergeHeadsGrad, LowerMagMixGrad, LowerFeatureMapGrad,
               LowerGatesGrad, LowerVirtualTokenExpandGrad>(
      patterns.getContext());
}

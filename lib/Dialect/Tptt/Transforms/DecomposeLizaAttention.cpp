//===- DecomposeLizaAttention.cpp - Split tptt.liza_attention -------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Rewrites the composite LiZA layer into the graph-level ops it is made of,
// following the reference dataflow (tptt-0.12-reference.md §2) and the
// padding rules of both semantics (SEMANTICS.md).
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTDECOMPOSELIZAATTENTIONPASS
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;
using namespace mlir::tptt;

namespace {

/// A tensor type with the given shape and element type.
RankedTensorType tensorOf(ArrayRef<int64_t> shape, Type elementType) {
  return RankedTensorType::get(shape, elementType);
}

/// An empty tensor whose dimensions are those of `source`, permuted by
/// `permutation` (result dim i = source dim permutation[i]).
Value emptyPermuted(OpBuilder &b, Location loc, Value source,
                    ArrayRef<int64_t> permutation, Type elementType) {
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, source);
  SmallVector<OpFoldResult> permuted;
  for (int64_t dim : permutation)
    permuted.push_back(sizes[dim]);
  return tensor::EmptyOp::create(b, loc, permuted, elementType);
}

/// [B, S, G·d] → [B, G, S, d].
Value splitHeads(OpBuilder &b, Location loc, Value x, int64_t groups,
                 int64_t headDim) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  auto expandedType = tensorOf(
      {type.getDimSize(0), type.getDimSize(1), groups, headDim}, elementType);
  Value expanded = tensor::ExpandShapeOp::create(
      b, loc, expandedType, x,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  SmallVector<int64_t> perm = {0, 2, 1, 3};
  Value init = emptyPermuted(b, loc, expanded, perm, elementType);
  return linalg::TransposeOp::create(b, loc, expanded, init, perm)
      .getResult()[0];
}

/// [B, G, S, d] → [B, S, G·d].
Value mergeHeads(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> perm = {0, 2, 1, 3};
  Value init = emptyPermuted(b, loc, x, perm, type.getElementType());
  Value transposed =
      linalg::TransposeOp::create(b, loc, x, init, perm).getResult()[0];
  int64_t groups = type.getDimSize(1), headDim = type.getDimSize(3);
  auto collapsedType =
      tensorOf({type.getDimSize(0), type.getDimSize(2), groups * headDim},
               type.getElementType());
  return tensor::CollapseShapeOp::create(
      b, loc, collapsedType, transposed,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
}

/// v ⊙ m with the [B, S] mask broadcast over features, as the reference does
/// under tptt-0.12 (a multiplication, so that -0.0 and NaN behave alike).
Value maskValues(OpBuilder &b, Location loc, Value v, Value mask) {
  auto type = cast<RankedTensorType>(v.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap batchSeq = AffineMap::get(
      3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  Value init = emptyPermuted(b, loc, v, {0, 1, 2}, type.getElementType());
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{v, mask}, ValueRange{init},
             ArrayRef<AffineMap>{identity, batchSeq, identity}, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value m = arith::UIToFPOp::create(
                   nb, nloc, type.getElementType(), args[1]);
               Value product = arith::MulFOp::create(nb, nloc, args[0], m);
               linalg::YieldOp::create(nb, nloc, product);
             })
      .getResult(0);
}

/// ½ (a + b), elementwise.
Value average(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto type = cast<RankedTensorType>(lhs.getType());
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext());
  SmallVector<int64_t> perm =
      llvm::to_vector(llvm::seq<int64_t>(0, type.getRank()));
  Value init = emptyPermuted(b, loc, lhs, perm, type.getElementType());
  SmallVector<utils::IteratorType> iterators(type.getRank(),
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{lhs, rhs}, ValueRange{init},
             ArrayRef<AffineMap>{identity, identity, identity}, iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               Value sum = arith::AddFOp::create(nb, nloc, args[0], args[1]);
               Value half = arith::ConstantOp::create(
                   nb, nloc, nb.getFloatAttr(type.getElementType(), 0.5));
               linalg::YieldOp::create(
                   nb, nloc,
                   arith::MulFOp::create(nb, nloc, sum, half).getResult());
             })
      .getResult(0);
}

struct DecomposeLizaAttention : public OpRewritePattern<LizaAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LizaAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto qType = cast<RankedTensorType>(op.getQ().getType());
    auto kType = cast<RankedTensorType>(op.getK().getType());
    Type modelType = qType.getElementType();
    Type linType = op.getLinearElementType();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    int64_t headDim = kType.getDimSize(2) / kvHeads;
    int64_t order = op.getOrder();
    int64_t batch = qType.getDimSize(0), seq = qType.getDimSize(1);
    bool recurrent = op.getSemantics() == Semantics::Recurrent;
    Value mask = op.getMask();

    // Linear branch. Under tptt-0.12 the only effect of padding is v ⊙ m
    // before the gates; under recurrent the ops skip padded positions.
    Value v = op.getV();
    if (mask && !recurrent)
      v = maskValues(rewriter, loc, v, mask);
    Value opMask = recurrent ? mask : Value();

    auto headsType = tensorOf({batch, heads, seq, headDim}, linType);
    auto expandedType = tensorOf({batch, heads, seq, order, headDim}, linType);
    auto stateType = tensorOf({batch, heads, headDim, headDim}, linType);

    auto gates = GatesOp::create(rewriter, loc, headsType, headsType, op.getK(),
                                 v, Value(), Value(), opMask,
                                 op.getAlphaGateAttr(), op.getBetaGateAttr(),
                                 op.getNumHeadsAttr(), op.getNumKvHeadsAttr());
    auto features = FeatureMapOp::create(
        rewriter, loc, headsType, headsType, headsType, op.getQ(), op.getK(), v,
        op.getNumHeadsAttr(), op.getNumKvHeadsAttr());

    auto expand = [&](Value x, Trick trick) -> Value {
      return VirtualTokenExpandOp::create(
          rewriter, loc, expandedType, x, Value(), opMask,
          rewriter.getI64IntegerAttr(order),
          TrickAttr::get(rewriter.getContext(), trick));
    };
    // A constant decay (code c) is α = 1: no alpha operand at all.
    Value q = features.getQHat(), beta = gates.getBeta();
    Value alpha = op.getAlphaGate() == GateKind::C ? Value() : gates.getAlpha();
    Value k = expand(features.getKHat(), op.getTrick());
    Value vHat = expand(features.getVHat(), op.getTrick());
    if (!recurrent) {
      q = expand(q, op.getTrick());
      if (alpha)
        alpha = expand(alpha, op.getTrick());
      // A constant β (code c) is repeated, never transformed by the trick.
      beta = expand(beta, op.getBetaGate() == GateKind::C ? Trick::Cte
                                                          : op.getTrick());
    }

    auto runOperator = [&](bool reverse) -> Value {
      return DeltaProductOp::create(
                 rewriter, loc, headsType, stateType, q, k, vHat, beta, alpha,
                 /*initial_state=*/Value(), opMask, op.getSemanticsAttr(),
                 op.getChunkSizeAttr(), op.getNonlinearAttr(),
                 reverse ? rewriter.getUnitAttr() : UnitAttr())
          .getOutput();
    };
    Value y = runOperator(/*reverse=*/false);
    if (op.getBidirectional())
      y = average(rewriter, loc, y, runOperator(/*reverse=*/true));

    auto mergedType = tensorOf({batch, seq, heads * headDim}, modelType);
    Value merged = MergeHeadsOp::create(rewriter, loc, mergedType, y,
                                        rewriter.getF64FloatAttr(1e-6));
    Value lin = LinearOp::create(rewriter, loc, op.getType(), merged,
                                 op.getOWeight(), op.getOBias());

    // Softmax branch: the base model's causal attention with RoPE and GQA.
    Value qHeads = splitHeads(rewriter, loc, op.getQ(), heads, headDim);
    Value kHeads = splitHeads(rewriter, loc, op.getK(), kvHeads, headDim);
    Value vHeads = splitHeads(rewriter, loc, op.getV(), kvHeads, headDim);
    Value qRot = RopeOp::create(rewriter, loc, qHeads.getType(), qHeads,
                                op.getCos(), op.getSin());
    Value kRot = RopeOp::create(rewriter, loc, kHeads.getType(), kHeads,
                                op.getCos(), op.getSin());
    Value attn =
        AttentionOp::create(rewriter, loc, qHeads.getType(), qRot, kRot, vHeads,
                            mask, op.getWindowAttr(), FloatAttr());
    Value soft = LinearOp::create(rewriter, loc, op.getType(),
                                  mergeHeads(rewriter, loc, attn),
                                  op.getOWeight(), op.getOBias());

    rewriter.replaceOpWithNewOp<MagMixOp>(
        op, op.getType(), soft, lin, op.getMu(), op.getCrossGateAttr(),
        op.getBaseScaleAttnAttr(), rewriter.getF64FloatAttr(1e-5));
    return success();
  }
};

struct TpttDecomposeLizaAttentionPass
    : public tptt::impl::TpttDecomposeLizaAttentionPassBase<
          TpttDecomposeLizaAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    populateDecomposeLizaAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace

void mlir::tptt::populateDecomposeLizaAttentionPatterns(
    RewritePatternSet &patterns) {
  patterns.add<DecomposeLizaAttention>(patterns.getContext());
}

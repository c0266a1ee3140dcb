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
#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"
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

struct DecomposeLizaAttention : public OpRewritePattern<LizaAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LizaAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto kType = cast<RankedTensorType>(op.getK().getType());
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    int64_t headDim = kType.getDimSize(2) / kvHeads;
    Value mask = op.getMask();

    LinearBranchOptions branch;
    branch.numHeads = heads;
    branch.numKvHeads = kvHeads;
    branch.order = op.getOrder();
    branch.trick = op.getTrick();
    branch.alphaGate = op.getAlphaGate();
    branch.betaGate = op.getBetaGate();
    branch.nonlinear = op.getNonlinear();
    branch.chunkSize = op.getChunkSize();
    branch.semantics = op.getSemantics();
    branch.bidirectional = op.getBidirectional();
    branch.linearType = op.getLinearElementType();
    Value merged = buildLinearBranch(rewriter, loc, branch, op.getQ(),
                                     op.getK(), op.getV(), mask);
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

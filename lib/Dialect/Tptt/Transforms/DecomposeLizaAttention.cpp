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

struct DecomposeLizaAttention : public OpRewritePattern<LizaAttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LizaAttentionOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    Value mask = op.getMask();

    LinearBranchOptions branch = LinearBranchOptions::of(op);
    Value merged = buildLinearBranch(rewriter, loc, branch, op.getQ(),
                                     op.getK(), op.getV(), mask);
    UnitAttr transposed = op.getTransposedOWeightAttr();
    Value lin = LinearOp::create(rewriter, loc, op.getType(), merged,
                                 op.getOWeight(), op.getOBias(), transposed);

    // Softmax branch: the base model's causal attention with RoPE and GQA.
    Value attn = buildSoftmaxBranch(
        rewriter, loc, op.getQ(), op.getK(), op.getV(), op.getCos(),
        op.getSin(), heads, kvHeads, mask, op.getWindowAttr(), FloatAttr());
    Value soft = LinearOp::create(rewriter, loc, op.getType(), attn,
                                  op.getOWeight(), op.getOBias(), transposed);

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

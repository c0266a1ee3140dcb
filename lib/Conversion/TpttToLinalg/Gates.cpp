//===- Gates.cpp - Lower tptt.causal_mean and tptt.gates to linalg --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"
#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

/// The causal mean of `x` [B, S, F] over the sequence, without padding mask:
/// p_t = Σ_{i=W−1..0} (1/W) · x'[t + offset − i], oldest row first, where x'
/// is `history` [B, W−1, F] followed by `x` (offset W−1), or `x` with its
/// first row replicated to the left (offset 0, index clamped at 0).
Value buildCausalMean(OpBuilder &b, Location loc, Value x, Value history,
                      int64_t width) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  Value source = x;
  int64_t offset = 0;
  if (history) {
    source =
        tensor::ConcatOp::create(b, loc, /*dim=*/1, ValueRange{history, x});
    offset = width - 1;
  }
  Value init = createEmpty(b, loc, getSizes(b, loc, x), elementType);
  return buildParallelGeneric(
      b, loc, {}, {}, init, [&](OpBuilder &nb, Location nloc, ValueRange) {
        Value batch = linalg::IndexOp::create(nb, nloc, 0);
        Value t = linalg::IndexOp::create(nb, nloc, 1);
        Value feature = linalg::IndexOp::create(nb, nloc, 2);
        Value zero = arith::ConstantIndexOp::create(nb, nloc, 0);
        Value weight = floatConstant(nb, nloc, elementType, 1.0 / width);
        Value sum;
        for (int64_t i = width - 1; i >= 0; --i) {
          Value shift = arith::ConstantIndexOp::create(nb, nloc, offset - i);
          Value position = arith::AddIOp::create(nb, nloc, t, shift);
          position = arith::MaxSIOp::create(nb, nloc, position, zero);
          Value row = tensor::ExtractOp::create(
              nb, nloc, source, ValueRange{batch, position, feature});
          Value term = arith::MulFOp::create(nb, nloc, weight, row);
          sum = sum ? arith::AddFOp::create(nb, nloc, sum, term).getResult()
                    : term;
        }
        return sum;
      });
}

/// Packs every sequence's real tokens to the front (for a padding mask).
std::optional<SequencePacking> packByMask(OpBuilder &b, Location loc, Value x,
                                          Value mask) {
  if (!mask)
    return std::nullopt;
  Value batch = tensor::DimOp::create(b, loc, x, 0);
  Value seq = tensor::DimOp::create(b, loc, x, 1);
  return buildSequencePacking(b, loc, mask, batch, seq, /*reverse=*/false);
}

/// The causal mean with the full operand set of tptt.causal_mean: with a
/// padding mask, the sequences are packed (see packByMask) so that the window
/// runs over real tokens only, and the result is scattered back.
Value buildMaskedCausalMean(OpBuilder &b, Location loc, Value x, Value history,
                            Value mask,
                            const std::optional<SequencePacking> &packing,
                            int64_t width) {
  if (!packing)
    return buildCausalMean(b, loc, x, history, width);
  Value packed = gatherSequence(b, loc, x, 1, packing->gather);
  Value mean = buildCausalMean(b, loc, packed, history, width);
  Value unpacked = gatherSequence(b, loc, mean, 1, packing->scatter);
  return zeroPadded(b, loc, unpacked, 1, mask);
}

struct LowerCausalMean : public OpRewritePattern<CausalMeanOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CausalMeanOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    std::optional<SequencePacking> packing =
        packByMask(rewriter, loc, op.getInput(), op.getMask());
    rewriter.replaceOp(op, buildMaskedCausalMean(rewriter, loc, op.getInput(),
                                                 op.getHistory(), op.getMask(),
                                                 packing, op.getWidth()));
    return success();
  }
};

struct LowerGates : public OpRewritePattern<GatesOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatesOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    auto resultType = cast<RankedTensorType>(op.getAlpha().getType());
    Type elementType = resultType.getElementType();
    int64_t heads = op.getNumHeads(), kvHeads = op.getNumKvHeads();
    int64_t groups = heads / kvHeads;
    int64_t headDim = resultType.getDimSize(3);
    GateKind codes[] = {op.getAlphaGate(), op.getBetaGate()};
    auto uses = [&](GateKind a, GateKind b) {
      return llvm::is_contained(codes, a) || llvm::is_contained(codes, b);
    };

    // f = σ(pool(k)) and w = σ(pool(v)), pooled in the gate precision, as
    // [B, S, Hkv, d] so that heads can be read with a projected map. k and v
    // share one packing of the sequences.
    std::optional<SequencePacking> packing =
        packByMask(rewriter, loc, op.getK(), op.getMask());
    auto sigmoidPool = [&](Value x, Value history) {
      Value pooled = buildMaskedCausalMean(
          rewriter, loc, castTensor(rewriter, loc, x, elementType),
          history ? castTensor(rewriter, loc, history, elementType) : Value(),
          op.getMask(), packing, /*width=*/3);
      auto type = cast<RankedTensorType>(pooled.getType());
      auto split = RankedTensorType::get(
          {type.getDimSize(0), type.getDimSize(1), kvHeads, headDim},
          elementType);
      return tensor::ExpandShapeOp::create(
                 rewriter, loc, split, pooled,
                 SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}})
          .getResult();
    };
    Value f = uses(GateKind::K, GateKind::KV)
                  ? sigmoidPool(op.getK(), op.getKHistory())
                  : Value();
    Value w = uses(GateKind::V, GateKind::KV)
                  ? sigmoidPool(op.getV(), op.getVHistory())
                  : Value();

    // Iterate the result as [B, Hkv, g, S, d]: query head kh·g + gi reads KV
    // head kh, a projected permutation of the pooled [B, S, Hkv, d].
    SmallVector<OpFoldResult> sizes = {
        tensor::getMixedSize(rewriter, loc, op.getK(), 0),
        rewriter.getIndexAttr(kvHeads), rewriter.getIndexAttr(groups),
        tensor::getMixedSize(rewriter, loc, op.getK(), 1),
        rewriter.getIndexAttr(headDim)};
    AffineMap readHeads = projectionMap(ctx, 5, {0, 3, 1, 4});
    auto buildGate = [&](GateKind code, double constant) -> Value {
      Value init = createEmpty(rewriter, loc, sizes, elementType);
      SmallVector<Value> inputs;
      if (code == GateKind::K || code == GateKind::KV)
        inputs.push_back(f);
      if (code == GateKind::V || code == GateKind::KV)
        inputs.push_back(w);
      SmallVector<AffineMap> maps(inputs.size(), readHeads);
      Value gate = buildParallelGeneric(
          rewriter, loc, inputs, maps, init,
          [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
            switch (code) {
            case GateKind::C:
              return floatConstant(nb, nloc, elementType, constant);
            case GateKind::K:
            case GateKind::V:
              return sigmoid(nb, nloc, args[0]);
            case GateKind::KV:
              return arith::MulFOp::create(nb, nloc, sigmoid(nb, nloc, args[0]),
                                           sigmoid(nb, nloc, args[1]));
            }
            llvm_unreachable("unknown gate code");
          });
      return tensor::CollapseShapeOp::create(
          rewriter, loc, resultType, gate,
          SmallVector<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    };
    Value alpha = buildGate(op.getAlphaGate(), /*constant=*/1.0);
    Value beta = buildGate(op.getBetaGate(), /*constant=*/0.5);
    rewriter.replaceOp(op, {alpha, beta});
    return success();
  }
};

} // namespace

void mlir::tptt::populateGatesLoweringPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerCausalMean, LowerGates>(patterns.getContext());
}

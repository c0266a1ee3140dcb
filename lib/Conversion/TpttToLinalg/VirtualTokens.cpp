//===- VirtualTokens.cpp - Lower tptt.virtual_token_expand to linalg ------===//
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

#include <cmath>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

/// The expansion of `x` [B, H, S, d] without padding mask. `history`
/// [B, H, n−1, d] (or zeros, for `dt`) precedes the sequence.
Value buildExpansion(OpBuilder &b, Location loc, VirtualTokenExpandOp op,
                     Value x, Value history) {
  auto type = cast<RankedTensorType>(op.getType());
  Type elementType = type.getElementType();
  int64_t order = op.getOrder(), headDim = type.getDimSize(4);
  Trick trick = op.getTrick();
  Value source = x;
  int64_t offset = 0;
  if (history) {
    source =
        tensor::ConcatOp::create(b, loc, /*dim=*/2, ValueRange{history, x});
    offset = order - 1;
  }
  SmallVector<double> dt = dtCoefficients(order);
  auto [cosines, sines] = rotationTable(order);
  Value dtTable = constantTable(b, loc, SmallVector<double>(llvm::reverse(dt)),
                                elementType);
  Value cosTable = constantTable(b, loc, cosines, elementType);
  Value sinTable = constantTable(b, loc, sines, elementType);

  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  sizes.insert(sizes.begin() + 3, b.getIndexAttr(order));
  Value init = createEmpty(b, loc, sizes, elementType);
  return buildParallelGeneric(
      b, loc, {}, {}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange) -> Value {
        Value batch = linalg::IndexOp::create(nb, nloc, 0);
        Value head = linalg::IndexOp::create(nb, nloc, 1);
        Value t = linalg::IndexOp::create(nb, nloc, 2);
        Value j = linalg::IndexOp::create(nb, nloc, 3);
        Value channel = linalg::IndexOp::create(nb, nloc, 4);
        Value zeroIndex = arith::ConstantIndexOp::create(nb, nloc, 0);
        Value oneIndex = arith::ConstantIndexOp::create(nb, nloc, 1);
        Value now = arith::AddIOp::create(
            nb, nloc, t, arith::ConstantIndexOp::create(nb, nloc, offset));
        auto read = [&](Value position, Value c) -> Value {
          return tensor::ExtractOp::create(
              nb, nloc, source, ValueRange{batch, head, position, c});
        };

        // e_{t,j} = c_{n−1−j} · x_{t−j}, zero before the sequence.
        auto lagged = [&]() -> Value {
          Value position = arith::SubIOp::create(nb, nloc, now, j);
          Value inside = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::sge, position, zeroIndex);
          Value clamped = arith::MaxSIOp::create(nb, nloc, position, zeroIndex);
          Value coefficient =
              tensor::ExtractOp::create(nb, nloc, dtTable, ValueRange{j});
          Value scaled = arith::MulFOp::create(nb, nloc, coefficient,
                                               read(clamped, channel));
          Value zero = floatConstant(nb, nloc, elementType, 0.0);
          return arith::SelectOp::create(nb, nloc, inside, scaled, zero);
        };
        // R(θ_j) on the channel pair of `channel`; an odd last channel
        // passes through.
        auto rotated = [&]() -> Value {
          Value cosine =
              tensor::ExtractOp::create(nb, nloc, cosTable, ValueRange{j});
          Value sine =
              tensor::ExtractOp::create(nb, nloc, sinTable, ValueRange{j});
          Value parity = arith::RemUIOp::create(
              nb, nloc, channel, arith::ConstantIndexOp::create(nb, nloc, 2));
          Value isEven = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq, parity, zeroIndex);
          Value self = read(now, channel);
          Value even = arith::SelectOp::create(
              nb, nloc, isEven, channel,
              arith::SubIOp::create(nb, nloc, channel, oneIndex));
          Value oddChannel = arith::AddIOp::create(nb, nloc, even, oneIndex);
          Value last = arith::ConstantIndexOp::create(nb, nloc, headDim - 1);
          // The partner of an unpaired last channel is itself (clamped read).
          Value odd =
              read(now, arith::MinUIOp::create(nb, nloc, oddChannel, last));
          Value evenValue = read(now, even);
          Value first = arith::SubFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, evenValue, cosine),
              arith::MulFOp::create(nb, nloc, odd, sine));
          Value second = arith::AddFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, evenValue, sine),
              arith::MulFOp::create(nb, nloc, odd, cosine));
          Value pairValue =
              arith::SelectOp::create(nb, nloc, isEven, first, second);
          if (headDim % 2 == 0)
            return pairValue;
          Value unpaired = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq, channel, last);
          return arith::SelectOp::create(nb, nloc, unpaired, self, pairValue);
        };

        switch (trick) {
        case Trick::DT:
          return lagged();
        case Trick::Rot:
          return rotated();
        case Trick::RDT: {
          Value half = floatConstant(nb, nloc, elementType, 0.5);
          Value sum = arith::AddFOp::create(nb, nloc, lagged(), rotated());
          return arith::MulFOp::create(nb, nloc, half, sum);
        }
        case Trick::Cte:
          return read(now, channel);
        }
        llvm_unreachable("unknown trick");
      });
}

struct LowerVirtualTokenExpand : public OpRewritePattern<VirtualTokenExpandOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(VirtualTokenExpandOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Value x = op.getInput(), mask = op.getMask();
    if (!mask) {
      rewriter.replaceOp(op,
                         buildExpansion(rewriter, loc, op, x, op.getHistory()));
      return success();
    }
    // Lags run over real tokens only: pack each sequence's real tokens to
    // the front, expand, and scatter back.
    Value batch = tensor::DimOp::create(rewriter, loc, x, 0);
    Value seq = tensor::DimOp::create(rewriter, loc, x, 2);
    SequencePacking packing = buildSequencePacking(rewriter, loc, mask, batch,
                                                   seq, /*reverse=*/false);
    Value packed = gatherSequence(rewriter, loc, x, 2, packing.gather);
    Value expanded = buildExpansion(rewriter, loc, op, packed, op.getHistory());
    Value unpacked =
        gatherSequence(rewriter, loc, expanded, 2, packing.scatter);
    rewriter.replaceOp(op, zeroPadded(rewriter, loc, unpacked, 2, mask));
    return success();
  }
};

} // namespace

void mlir::tptt::populateVirtualTokenLoweringPatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerVirtualTokenExpand>(patterns.getContext());
}

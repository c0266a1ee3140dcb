//===- LizaBuilders.cpp - Build LiZA pieces from tptt ops -----------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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

/// An empty tensor with the dimensions of `source`.
Value emptyLike(OpBuilder &b, Location loc, Value source) {
  return tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, source),
      cast<RankedTensorType>(source.getType()).getElementType());
}

/// v ⊙ m with the [B, S] mask broadcast over features, as the reference does
/// under tptt-0.12 (a multiplication, so that -0.0 and NaN behave alike). The
/// broadcast mask depends on the mask alone and the product is an arith.mulf
/// on tensors, so that tptt-differentiate sees a product with a constant.
Value maskValues(OpBuilder &b, Location loc, Value v, Value mask) {
  auto type = cast<RankedTensorType>(v.getType());
  MLIRContext *ctx = b.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(3, ctx);
  AffineMap batchSeq = AffineMap::get(
      3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  SmallVector<utils::IteratorType> iterators(3, utils::IteratorType::parallel);
  Value weights = linalg::GenericOp::create(
                      b, loc, TypeRange{type}, ValueRange{mask},
                      ValueRange{emptyLike(b, loc, v)},
                      ArrayRef<AffineMap>{batchSeq, identity}, iterators,
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        linalg::YieldOp::create(
                            nb, nloc,
                            arith::UIToFPOp::create(
                                nb, nloc, type.getElementType(), args[0])
                                .getResult());
                      })
                      .getResult(0);
  return arith::MulFOp::create(b, loc, v, weights);
}

/// `x` rounded to linear_precision when that is a storage type narrower than
/// the type the branch computes in (bf16: round to nearest even, as a cast
/// in PyTorch), else `x` itself.
Value roundToStorage(OpBuilder &b, Location loc,
                     const LinearBranchOptions &options, Value x) {
  if (!x || options.linearType == options.computeType())
    return x;
  auto type = cast<RankedTensorType>(x.getType());
  Value narrow =
      arith::TruncFOp::create(b, loc, type.clone(options.linearType), x);
  return arith::ExtFOp::create(b, loc, type, narrow);
}

/// ½ (a + b), elementwise.
Value average(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  auto type = cast<RankedTensorType>(lhs.getType());
  AffineMap identity =
      AffineMap::getMultiDimIdentityMap(type.getRank(), b.getContext());
  Value init = emptyLike(b, loc, lhs);
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

} // namespace

LinearBranchOptions LinearBranchOptions::of(LizaAttentionOp op) {
  LinearBranchOptions options;
  options.numHeads = op.getNumHeads();
  options.numKvHeads = op.getNumKvHeads();
  options.order = op.getOrder();
  options.trick = op.getTrick();
  options.alphaGate = op.getAlphaGate();
  options.betaGate = op.getBetaGate();
  options.nonlinear = op.getNonlinear();
  options.chunkSize = op.getChunkSize();
  options.semantics = op.getSemantics();
  options.bidirectional = op.getBidirectional();
  options.linearType = op.getLinearElementType();
  return options;
}

FloatType LinearBranchOptions::computeType() const {
  FloatType type = linearType;
  if (type.getWidth() >= 32)
    return type;
  return Float32Type::get(type.getContext());
}

LizaAttentionOp mlir::tptt::buildLizaAttention(
    OpBuilder &b, Location loc, Type type, const LinearBranchOptions &options,
    Value q, Value k, Value v, Value cos, Value sin, Value mu, Value oWeight,
    Value oBias, Value mask, bool crossGate, bool baseScaleAttn,
    IntegerAttr window, bool transposedOWeight) {
  return LizaAttentionOp::create(
      b, loc, type, q, k, v, cos, sin, mu, oWeight, oBias, mask,
      options.numHeads, options.numKvHeads, options.order, options.trick,
      options.alphaGate, options.betaGate, options.nonlinear, options.chunkSize,
      options.semantics, crossGate, baseScaleAttn, options.bidirectional,
      window, TypeAttr::get(options.linearType), transposedOWeight);
}

Value mlir::tptt::buildLinearBranch(OpBuilder &b, Location loc,
                                    const LinearBranchOptions &options, Value q,
                                    Value k, Value v, Value mask,
                                    Value *finalState) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto kType = cast<RankedTensorType>(k.getType());
  MLIRContext *ctx = b.getContext();
  Type linType = options.computeType();
  int64_t heads = options.numHeads, order = options.order;
  int64_t headDim = kType.getDimSize(2) / options.numKvHeads;
  int64_t batch = qType.getDimSize(0), seq = qType.getDimSize(1);
  bool recurrent = options.semantics == Semantics::Recurrent;

  // Under tptt-0.12 the only effect of padding is v ⊙ m before the gates;
  // under recurrent the ops skip padded positions.
  if (mask && !recurrent)
    v = maskValues(b, loc, v, mask);
  Value opMask = recurrent ? mask : Value();

  auto headsType = RankedTensorType::get({batch, heads, seq, headDim}, linType);
  auto expandedType =
      RankedTensorType::get({batch, heads, seq, order, headDim}, linType);
  auto stateType =
      RankedTensorType::get({batch, heads, headDim, headDim}, linType);
  IntegerAttr headsAttr = b.getI64IntegerAttr(heads);
  IntegerAttr kvHeadsAttr = b.getI64IntegerAttr(options.numKvHeads);

  auto gates = GatesOp::create(
      b, loc, headsType, headsType, k, v, Value(), Value(), opMask,
      GateKindAttr::get(ctx, options.alphaGate),
      GateKindAttr::get(ctx, options.betaGate), headsAttr, kvHeadsAttr);
  auto features = FeatureMapOp::create(b, loc, headsType, headsType, headsType,
                                       q, k, v, headsAttr, kvHeadsAttr);

  auto expand = [&](Value x, Trick trick) -> Value {
    return VirtualTokenExpandOp::create(b, loc, expandedType, x, Value(),
                                        opMask, b.getI64IntegerAttr(order),
                                        TrickAttr::get(ctx, trick));
  };
  auto round = [&](Value x) { return roundToStorage(b, loc, options, x); };
  // A constant decay (code c) is α = 1: no alpha operand at all.
  Value qHat = round(features.getQHat()), beta = round(gates.getBeta());
  Value alpha =
      options.alphaGate == GateKind::C ? Value() : round(gates.getAlpha());
  Value kHat = expand(round(features.getKHat()), options.trick);
  Value vHat = expand(round(features.getVHat()), options.trick);
  if (!recurrent) {
    qHat = expand(qHat, options.trick);
    if (alpha)
      alpha = expand(alpha, options.trick);
    // A constant β (code c) is repeated, never transformed by the trick.
    beta = expand(beta,
                  options.betaGate == GateKind::C ? Trick::Cte : options.trick);
  }

  auto runOperator = [&](bool reverse) {
    return DeltaProductOp::create(
        b, loc, headsType, stateType, qHat, kHat, vHat, beta, alpha,
        /*initial_state=*/Value(), opMask,
        SemanticsAttr::get(ctx, options.semantics),
        b.getI64IntegerAttr(options.chunkSize),
        options.nonlinear ? b.getUnitAttr() : UnitAttr(),
        reverse ? b.getUnitAttr() : UnitAttr());
  };
  auto forward = runOperator(/*reverse=*/false);
  Value y = forward.getOutput();
  if (finalState)
    *finalState = forward.getFinalState();
  if (options.bidirectional)
    y = average(b, loc, y, runOperator(/*reverse=*/true).getOutput());
  y = round(y);

  auto mergedType = RankedTensorType::get({batch, seq, heads * headDim},
                                          qType.getElementType());
  return MergeHeadsOp::create(b, loc, mergedType, y, b.getF64FloatAttr(1e-6));
}

Value mlir::tptt::buildSoftmaxBranch(OpBuilder &b, Location loc, Value q,
                                     Value k, Value v, Value cos, Value sin,
                                     int64_t numHeads, int64_t numKvHeads,
                                     Value mask, IntegerAttr window,
                                     FloatAttr scale, Value *keyCache,
                                     Value *valueCache) {
  int64_t headDim =
      cast<RankedTensorType>(k.getType()).getDimSize(2) / numKvHeads;
  Value qHeads = splitHeads(b, loc, q, numHeads, headDim);
  Value kHeads = splitHeads(b, loc, k, numKvHeads, headDim);
  Value vHeads = splitHeads(b, loc, v, numKvHeads, headDim);
  Value qRot = RopeOp::create(b, loc, qHeads.getType(), qHeads, cos, sin);
  Value kRot = RopeOp::create(b, loc, kHeads.getType(), kHeads, cos, sin);
  Value attn = AttentionOp::create(b, loc, qHeads.getType(), qRot, kRot, vHeads,
                                   mask, window, scale);
  if (keyCache)
    *keyCache = kRot;
  if (valueCache)
    *valueCache = vHeads;
  return mergeHeads(b, loc, attn);
}

int64_t mlir::tptt::linearStepWindow(int64_t order) {
  return std::max<int64_t>(3, order);
}

LinearStep mlir::tptt::buildLinearStep(OpBuilder &b, Location loc,
                                       const LinearBranchOptions &options,
                                       Value q, Value kWindow, Value vWindow,
                                       Value windowMask, Value state,
                                       Value position) {
  auto qType = cast<RankedTensorType>(q.getType());
  auto kType = cast<RankedTensorType>(kWindow.getType());
  MLIRContext *ctx = b.getContext();
  Type linType = options.computeType();
  int64_t heads = options.numHeads, order = options.order;
  int64_t headDim = kType.getDimSize(2) / options.numKvHeads;
  int64_t batch = qType.getDimSize(0), window = kType.getDimSize(1);
  auto windowHeads =
      RankedTensorType::get({batch, heads, window, headDim}, linType);
  IntegerAttr headsAttr = b.getI64IntegerAttr(heads);
  IntegerAttr kvHeadsAttr = b.getI64IntegerAttr(options.numKvHeads);

  // Gates and features over the window; only its last row is the new token.
  // q exists for the new token only: the other rows of its window are zero
  // (their features are never read).
  auto gates = GatesOp::create(
      b, loc, windowHeads, windowHeads, kWindow, vWindow, Value(), Value(),
      windowMask, GateKindAttr::get(ctx, options.alphaGate),
      GateKindAttr::get(ctx, options.betaGate), headsAttr, kvHeadsAttr);
  SmallVector<OpFoldResult> qWindowSizes = tensor::getMixedSizes(b, loc, q);
  qWindowSizes[1] = b.getIndexAttr(window);
  Value zeros = linalg::FillOp::create(
                    b, loc,
                    ValueRange{arith::ConstantOp::create(
                        b, loc, b.getFloatAttr(qType.getElementType(), 0.0))},
                    ValueRange{tensor::EmptyOp::create(b, loc, qWindowSizes,
                                                       qType.getElementType())})
                    .getResult(0);
  SmallVector<OpFoldResult> qSizes = tensor::getMixedSizes(b, loc, q);
  SmallVector<OpFoldResult> lastRow = {
      b.getIndexAttr(0), b.getIndexAttr(window - 1), b.getIndexAttr(0)};
  SmallVector<OpFoldResult> unitStrides(3, b.getIndexAttr(1));
  Value qWindow = tensor::InsertSliceOp::create(b, loc, q, zeros, lastRow,
                                                qSizes, unitStrides);
  auto features =
      FeatureMapOp::create(b, loc, windowHeads, windowHeads, windowHeads,
                           qWindow, kWindow, vWindow, headsAttr, kvHeadsAttr);
  auto expandedType =
      RankedTensorType::get({batch, heads, window, order, headDim}, linType);
  auto expand = [&](Value x) -> Value {
    return VirtualTokenExpandOp::create(b, loc, expandedType, x, Value(),
                                        windowMask, b.getI64IntegerAttr(order),
                                        TrickAttr::get(ctx, options.trick));
  };

  // The last window row, with the window dimension dropped.
  auto lastOf = [&](Value x) -> Value {
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[2] = b.getIndexAttr(window - 1);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    sizes[2] = b.getIndexAttr(1);
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    SmallVector<int64_t> shape(type.getShape());
    shape.erase(shape.begin() + 2);
    auto reduced = RankedTensorType::get(shape, type.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, reduced, x, offsets, sizes,
                                          strides);
  };
  auto round = [&](Value x) { return roundToStorage(b, loc, options, x); };
  Value alpha = options.alphaGate == GateKind::C
                    ? Value()
                    : round(lastOf(gates.getAlpha()));
  auto stateType =
      RankedTensorType::get({batch, heads, headDim, headDim}, linType);
  auto outputType = RankedTensorType::get({batch, heads, headDim}, linType);
  auto step = DeltaProductStepOp::create(
      b, loc, outputType, stateType, round(lastOf(features.getQHat())),
      lastOf(expand(round(features.getKHat()))),
      lastOf(expand(round(features.getVHat()))), round(lastOf(gates.getBeta())),
      state, alpha, options.nonlinear ? position : Value(),
      b.getI64IntegerAttr(options.chunkSize),
      options.nonlinear ? b.getUnitAttr() : UnitAttr());

  // [B, H, d] → [B, H, 1, d] for the head merge.
  auto oneToken = RankedTensorType::get({batch, heads, 1, headDim}, linType);
  Value y = tensor::ExpandShapeOp::create(
      b, loc, oneToken, round(step.getOutput()),
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  auto mergedType = RankedTensorType::get({batch, 1, heads * headDim},
                                          qType.getElementType());
  Value merged =
      MergeHeadsOp::create(b, loc, mergedType, y, b.getF64FloatAttr(1e-6));
  return {merged, step.getNewState()};
}

//===- DeltaProduct.cpp - Lower the DeltaProduct operator to linalg -------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// tptt.delta_product (both semantics), tptt.delta_product_step and the two
// chunk building blocks tptt.tril_inverse and tptt.phi.
//
// The recurrent operator is computed chunk by chunk (C real tokens, N = C·n
// virtual tokens) inside an scf.forall over batch x heads. Per chunk, with
// W = β ⊙ K and B = β ⊙ V (one row per virtual token) and S₀ the incoming
// state, the recurrence u_m = b_m − S'ᵀ w_m, S ← S' + k_m u_mᵀ unrolls to
//
//   (I + stril(W Kᵀ)) U = B − W S₀            (a unit lower triangular system)
//   o_c = S₀ᵀ q_c + Σ_{m' ≤ last(c)} (q_c · k_m') u_m'
//   S_end = S₀ + Kᵀ U
//
// Without decay (no alpha) this is the UT transform: per chunk
// T = (I + stril(W Kᵀ))⁻¹ and U = T (B − W S₀), then the outputs and the
// state update, both accumulated in place.
//
// With a per-channel decay (alpha), the decays act on the value channels
// (columns), so the triangular system differs per channel; the lowering
// solves it by forward substitution over the N rows of the chunk, keeping
// every earlier row decayed to the current position (D_m' = (Γ_m/Γ_m') u_m',
// updated multiplicatively), which is exact and never divides by a product
// of decays.
//
// A padding mask (and `reverse`) is applied by packing every sequence's real
// tokens to the front. Positions past a sequence's real tokens are turned
// into no-ops (β = 0, α = 1), so chunk boundaries fall on real-token counts
// and φ (nonlinear mode) is applied after exactly the right tokens.
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

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Small tensor helpers
//===----------------------------------------------------------------------===//

Type elementTypeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

int64_t rankOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getRank();
}

/// out = fn(inputs) elementwise; every input has the shape of the first.
Value mapElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                     GenericBody fn) {
  unsigned rank = rankOf(inputs[0]);
  SmallVector<AffineMap> maps(inputs.size(), identityMap(b.getContext(), rank));
  Value init = createEmpty(b, loc, getSizes(b, loc, inputs[0]),
                           elementTypeOf(inputs[0]));
  return buildParallelGeneric(b, loc, inputs, maps, init, fn);
}

/// The offsets, sizes and strides of x[indices..., :, ...]: unit sizes at
/// the fixed leading indices, whole dimensions after them.
struct PrefixSlice {
  SmallVector<OpFoldResult> offsets, sizes, strides;
};
PrefixSlice prefixSlice(OpBuilder &b, Location loc, Value x,
                        ValueRange indices) {
  PrefixSlice slice;
  SmallVector<OpFoldResult> dims = getSizes(b, loc, x);
  for (auto [d, size] : llvm::enumerate(dims)) {
    bool fixed = d < indices.size();
    slice.offsets.push_back(fixed ? OpFoldResult(indices[d])
                                  : b.getIndexAttr(0));
    slice.sizes.push_back(fixed ? b.getIndexAttr(1) : size);
    slice.strides.push_back(b.getIndexAttr(1));
  }
  return slice;
}

} // namespace

Value lowering::slicePrefix(OpBuilder &b, Location loc, Value x,
                            ValueRange indices) {
  auto type = cast<RankedTensorType>(x.getType());
  PrefixSlice slice = prefixSlice(b, loc, x, indices);
  auto resultType = RankedTensorType::get(
      type.getShape().drop_front(indices.size()), type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, resultType, x, slice.offsets,
                                        slice.sizes, slice.strides);
}

namespace {

/// Inserts `part` at dest[indices..., :, ...] (the inverse of slicePrefix).
Value insertPrefix(OpBuilder &b, Location loc, Value part, Value dest,
                   ValueRange indices) {
  PrefixSlice slice = prefixSlice(b, loc, dest, indices);
  return tensor::InsertSliceOp::create(b, loc, part, dest, slice.offsets,
                                       slice.sizes, slice.strides);
}

/// The parallel_insert_slice counterpart of insertPrefix, for scf.forall;
/// `partSizes` are the sizes of `part`, computed before the terminator
/// (whose body admits only the insertions).
void parallelInsertPrefix(OpBuilder &b, Location loc, Value part, Value dest,
                          ValueRange indices,
                          ArrayRef<OpFoldResult> partSizes) {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  for (Value index : indices) {
    offsets.push_back(index);
    sizes.push_back(b.getIndexAttr(1));
  }
  for (OpFoldResult size : partSizes) {
    offsets.push_back(b.getIndexAttr(0));
    sizes.push_back(size);
  }
  strides.assign(sizes.size(), b.getIndexAttr(1));
  tensor::ParallelInsertSliceOp::create(b, loc, part, dest, offsets, sizes,
                                        strides);
}

} // namespace

Value lowering::collapsePair(OpBuilder &b, Location loc, Value x,
                             unsigned first) {
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0, e = rankOf(x); d < e; ++d) {
    if (d == first + 1)
      continue;
    groups.push_back(d == first ? ReassociationIndices{d, d + 1}
                                : ReassociationIndices{d});
  }
  return tensor::CollapseShapeOp::create(b, loc, x, groups);
}

Value lowering::splitDim(OpBuilder &b, Location loc, Value x, unsigned dim,
                         int64_t inner) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<int64_t> shape(type.getShape());
  int64_t outer = ShapedType::isDynamic(shape[dim]) ? ShapedType::kDynamic
                                                    : shape[dim] / inner;
  shape[dim] = inner;
  shape.insert(shape.begin() + dim, outer);
  SmallVector<ReassociationIndices> groups;
  for (unsigned d = 0, e = type.getRank(); d < e; ++d) {
    unsigned base = d <= dim ? d : d + 1;
    groups.push_back(d == dim ? ReassociationIndices{base, base + 1}
                              : ReassociationIndices{base});
  }
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, groups);
}

namespace {

/// Letters for the batch dimensions of an einsum spec.
std::string batchLetters(unsigned count) {
  return std::string("xyzuvw").substr(0, count);
}

//===----------------------------------------------------------------------===//
// tptt.tril_inverse and tptt.phi
//===----------------------------------------------------------------------===//

} // namespace

Value lowering::buildTrilInverse(OpBuilder &b, Location loc, Value l) {
  auto type = cast<RankedTensorType>(l.getType());
  Type elementType = type.getElementType();
  unsigned rank = type.getRank();
  std::string batch = batchLetters(rank - 2);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value n = tensor::DimOp::create(b, loc, l, rank - 1);
  Value x0 = createFilled(b, loc, getSizes(b, loc, l), elementType, 0.0);
  auto loop = scf::ForOp::create(
      b, loc, zero, n, one, ValueRange{x0},
      [&](OpBuilder &lb, Location lloc, Value i, ValueRange iters) {
        Value x = iters[0];
        // a_i = −L[..., i, :] on the columns before i.
        auto rowType = RankedTensorType::get(type.getShape().drop_back(2).vec(),
                                             elementType);
        SmallVector<int64_t> rowShape(rowType.getShape());
        rowShape.push_back(type.getShape().back());
        SmallVector<OpFoldResult> offsets(rank, lb.getIndexAttr(0));
        offsets[rank - 2] = i;
        SmallVector<OpFoldResult> sizes = getSizes(lb, lloc, l);
        sizes[rank - 2] = lb.getIndexAttr(1);
        SmallVector<OpFoldResult> strides(rank, lb.getIndexAttr(1));
        Value row = tensor::ExtractSliceOp::create(
            lb, lloc, RankedTensorType::get(rowShape, elementType), l, offsets,
            sizes, strides);
        Value a = mapElementwise(
            lb, lloc, {row},
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value column = linalg::IndexOp::create(nb, nloc, rank - 2);
              Value before = arith::CmpIOp::create(
                  nb, nloc, arith::CmpIPredicate::ult, column, i);
              Value negated = arith::NegFOp::create(nb, nloc, args[0]);
              Value zeroF = floatConstant(nb, nloc, elementType, 0.0);
              return arith::SelectOp::create(nb, nloc, before, negated, zeroF)
                  .getResult();
            });
        Value product =
            einsum(lb, lloc, batch + "m," + batch + "mc->" + batch + "c", a, x);
        Value newRow = addTensors(lb, lloc, a, product);
        Value updated = tensor::InsertSliceOp::create(lb, lloc, newRow, x,
                                                      offsets, sizes, strides);
        scf::YieldOp::create(lb, lloc, updated);
      });
  return mapElementwise(
      b, loc, {loop.getResult(0)},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value r = linalg::IndexOp::create(nb, nloc, rank - 2);
        Value c = linalg::IndexOp::create(nb, nloc, rank - 1);
        Value diagonal =
            arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::eq, r, c);
        Value oneF = floatConstant(nb, nloc, elementType, 1.0);
        return arith::SelectOp::create(nb, nloc, diagonal, oneF, args[0])
            .getResult();
      });
}

namespace {

/// The diagonal blocks of buildBlockedTrilInverse: 16 rows, the height of a
/// tensor-core fragment.
constexpr int64_t kTrilBlock = 16;

/// x[row, col] of a 2-D tensor, `rows` × `cols` of it.
Value sliceBlock(OpBuilder &b, Location loc, Value x, int64_t row, int64_t col,
                 int64_t rows, int64_t cols) {
  auto type = cast<RankedTensorType>(x.getType());
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({rows, cols}, type.getElementType()), x,
      SmallVector<OpFoldResult>{b.getIndexAttr(row), b.getIndexAttr(col)},
      SmallVector<OpFoldResult>{b.getIndexAttr(rows), b.getIndexAttr(cols)},
      SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
}

/// Inserts `part` into `dest` at [row, col].
Value insertBlock(OpBuilder &b, Location loc, Value part, Value dest,
                  int64_t row, int64_t col) {
  auto type = cast<RankedTensorType>(part.getType());
  return tensor::InsertSliceOp::create(
      b, loc, part, dest,
      SmallVector<OpFoldResult>{b.getIndexAttr(row), b.getIndexAttr(col)},
      SmallVector<OpFoldResult>{b.getIndexAttr(type.getDimSize(0)),
                                b.getIndexAttr(type.getDimSize(1))},
      SmallVector<OpFoldResult>(2, b.getIndexAttr(1)));
}

} // namespace

Value lowering::buildBlockedTrilInverse(OpBuilder &b, Location loc, Value l) {
  auto type = cast<RankedTensorType>(l.getType());
  if (type.getRank() != 2 || !type.hasStaticShape() ||
      type.getDimSize(1) % kTrilBlock != 0 || type.getDimSize(1) <= kTrilBlock)
    return buildTrilInverse(b, loc, l);
  int64_t n = type.getDimSize(1);
  MLIRContext *ctx = b.getContext();
  Type elementType = type.getElementType();
  int64_t blocks = n / kTrilBlock;
  // The diagonal blocks L_ii, all inverted by one row recursion of 16 steps.
  Value split =
      splitDim(b, loc, splitDim(b, loc, l, 1, kTrilBlock), 0, kTrilBlock);
  Value diagonal = buildParallelGeneric(
      b, loc, {split}, {projectionMap(ctx, 3, {0, 1, 0, 2})},
      createEmpty(b, loc,
                  {b.getIndexAttr(blocks), b.getIndexAttr(kTrilBlock),
                   b.getIndexAttr(kTrilBlock)},
                  elementType),
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  Value inverses = buildTrilInverse(b, loc, diagonal);
  // Block row i below the diagonal: T_i,<i = −T_ii (L_i,<i T_<i,<i), from
  // the rows above it.
  Value t = createFilled(b, loc, {b.getIndexAttr(n), b.getIndexAttr(n)},
                         elementType, 0.0);
  for (int64_t i = 0; i < blocks; ++i) {
    int64_t row = i * kTrilBlock;
    Value index = arith::ConstantIndexOp::create(b, loc, i);
    Value inverse = slicePrefix(b, loc, inverses, index);
    if (i > 0) {
      Value left = sliceBlock(b, loc, l, row, 0, kTrilBlock, row);
      Value above = sliceBlock(b, loc, t, 0, 0, row, row);
      Value product = einsum(b, loc, "mk,kn->mn", left, above);
      Value block = mapElementwise(
          b, loc, {einsum(b, loc, "mk,kn->mn", inverse, product)},
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            return arith::NegFOp::create(nb, nloc, args[0]).getResult();
          });
      t = insertBlock(b, loc, block, t, row, 0);
    }
    t = insertBlock(b, loc, inverse, t, row, row);
  }
  return t;
}

Value lowering::buildPhi(OpBuilder &b, Location loc, Value h) {
  MLIRContext *ctx = b.getContext();
  Type elementType = elementTypeOf(h);
  unsigned rank = rankOf(h);
  SmallVector<unsigned> rowDims;
  for (unsigned d = 0; d + 1 < rank; ++d)
    rowDims.push_back(d);
  SmallVector<OpFoldResult> rowSizes = getSizes(b, loc, h);
  rowSizes.pop_back();
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  iterators.back() = utils::IteratorType::reduction;
  Value squares = buildGeneric(
      b, loc, {h}, createFilled(b, loc, rowSizes, elementType, 0.0),
      {identityMap(ctx, rank), projectionMap(ctx, rank, rowDims)}, iterators,
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value square = arith::MulFOp::create(nb, nloc, args[0], args[0]);
        return arith::AddFOp::create(nb, nloc, args[1], square).getResult();
      });
  Value init = createEmpty(b, loc, getSizes(b, loc, h), elementType);
  return buildParallelGeneric(
      b, loc, {h, squares},
      {identityMap(ctx, rank), projectionMap(ctx, rank, rowDims)}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        auto c = [&](double v) {
          return floatConstant(nb, nloc, elementType, v);
        };
        Value norm = math::SqrtOp::create(nb, nloc, args[1]);
        Value rho = arith::AddFOp::create(nb, nloc, norm, c(1e-6));
        Value twice = arith::MulFOp::create(nb, nloc, c(2.0), args[0]);
        Value z = arith::DivFOp::create(nb, nloc, twice, rho);
        Value gelu = geluTanh(nb, nloc, z, /*withSlope=*/false).value;
        Value half = arith::DivFOp::create(nb, nloc, args[0], c(2.0));
        return arith::MulFOp::create(nb, nloc, half, gelu).getResult();
      });
}

namespace {

struct LowerTrilInverse : public OpRewritePattern<TrilInverseOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TrilInverseOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op,
                       buildTrilInverse(rewriter, op.getLoc(), op.getInput()));
    return success();
  }
};

struct LowerPhi : public OpRewritePattern<PhiOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(PhiOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(op, buildPhi(rewriter, op.getLoc(), op.getInput()));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Recurrent semantics
//===----------------------------------------------------------------------===//

} // namespace

Value lowering::layOutSequence(OpBuilder &b, Location loc, Value x,
                               const std::optional<SequencePacking> &packing,
                               Value lengths, Value paddedSeq,
                               double padValue) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elementType = type.getElementType();
  if (!packing) {
    // Every token is real and in place. When the chunks cover the sequence
    // exactly, the sequence is its own layout.
    if (std::optional<int64_t> length = getConstantIntValue(paddedSeq);
        length && *length == type.getDimSize(2))
      return x;
    // Otherwise copy the sequence into the front of the padded layout with
    // linalg.copy (contiguous rows that the loop vectorizer handles, unlike a
    // strided memref.copy) and fill only the padding rows after it.
    SmallVector<OpFoldResult> padded = getSizes(b, loc, x);
    padded[2] = paddedSeq;
    Value layout = createEmpty(b, loc, padded, elementType);
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
    SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
    Value front =
        tensor::ExtractSliceOp::create(b, loc, layout, offsets, sizes, strides);
    Value copied = linalg::CopyOp::create(b, loc, x, front).getResult(0);
    layout = tensor::InsertSliceOp::create(b, loc, copied, layout, offsets,
                                           sizes, strides);
    SmallVector<OpFoldResult> tailOffsets = offsets, tailSizes = padded;
    Value seq = tensor::DimOp::create(b, loc, x, 2);
    tailOffsets[2] = seq;
    tailSizes[2] = arith::SubIOp::create(b, loc, paddedSeq, seq).getResult();
    Value tail = tensor::ExtractSliceOp::create(b, loc, layout, tailOffsets,
                                                tailSizes, strides);
    Value filled =
        linalg::FillOp::create(
            b, loc, floatConstant(b, loc, elementType, padValue), tail)
            .getResult(0);
    return tensor::InsertSliceOp::create(b, loc, filled, layout, tailOffsets,
                                         tailSizes, strides);
  }
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  sizes[2] = paddedSeq;
  Value init = createEmpty(b, loc, sizes, elementType);
  Value seq = tensor::DimOp::create(b, loc, x, 2);
  return buildParallelGeneric(
      b, loc, {}, {}, init, [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> indices;
        for (int64_t d = 0; d < type.getRank(); ++d)
          indices.push_back(linalg::IndexOp::create(nb, nloc, d));
        Value t = indices[2];
        Value length = tensor::ExtractOp::create(nb, nloc, lengths,
                                                 ValueRange{indices[0]});
        Value valid = arith::CmpIOp::create(nb, nloc, arith::CmpIPredicate::ult,
                                            t, length);
        Value last = arith::SubIOp::create(
            nb, nloc, seq, arith::ConstantIndexOp::create(nb, nloc, 1));
        Value clamped = arith::MinUIOp::create(nb, nloc, t, last);
        indices[2] =
            packing ? tensor::ExtractOp::create(nb, nloc, packing->gather,
                                                ValueRange{indices[0], clamped})
                          .getResult()
                    : clamped;
        Value value = tensor::ExtractOp::create(nb, nloc, x, indices);
        Value pad = floatConstant(nb, nloc, elementType, padValue);
        return arith::SelectOp::create(nb, nloc, valid, value, pad).getResult();
      });
}

namespace {

/// The operands of one (batch, head) of the recurrent operator, in chunks:
/// q, beta [NC, C, d]; k, v [NC, N, d] (one row per virtual token); decay
/// [NC, N, d] (α at the first virtual token of a real token, 1 elsewhere;
/// null when the operator has no decay).
struct RecurrentChunks {
  Value q, k, v, beta, decay;
  int64_t chunk, order;
};

/// The rows of chunk `nc`, one per virtual token [N, d]: k, W = β ⊙ k and
/// B = β ⊙ v. The β scaling happens here, on rows that are in cache, rather
/// than in a pass over the whole sequence.
struct ChunkRows {
  Value k, w, bv;
};

ChunkRows sliceChunkRows(OpBuilder &b, Location loc, const RecurrentChunks &in,
                         Value nc) {
  MLIRContext *ctx = b.getContext();
  Value beta = slicePrefix(b, loc, in.beta, nc);
  // Virtual token m belongs to real token m floordiv n.
  AffineMap perToken = AffineMap::get(
      2, 0, {b.getAffineDimExpr(0).floorDiv(in.order), b.getAffineDimExpr(1)},
      ctx);
  auto scaleRows = [&](Value x) {
    Value init = createEmpty(b, loc, getSizes(b, loc, x), elementTypeOf(x));
    return buildParallelGeneric(
        b, loc, {x, beta}, {identityMap(ctx, 2), perToken}, init,
        [](OpBuilder &nb, Location nloc, ValueRange args) {
          return arith::MulFOp::create(nb, nloc, args[1], args[0]).getResult();
        });
  };
  Value k = slicePrefix(b, loc, in.k, nc);
  return {k, scaleRows(k), scaleRows(slicePrefix(b, loc, in.v, nc))};
}

/// Keeps the scores of token c on the virtual tokens m' < (c + 1)·n of its
/// chunk (the read-out happens after the token's last virtual token).
Value causalScores(OpBuilder &b, Location loc, Value scores, int64_t order) {
  Type elementType = elementTypeOf(scores);
  return mapElementwise(
      b, loc, {scores}, [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value c = linalg::IndexOp::create(nb, nloc, 0);
        Value p = linalg::IndexOp::create(nb, nloc, 1);
        Value limit = arith::MulIOp::create(
            nb, nloc,
            arith::AddIOp::create(nb, nloc, c,
                                  arith::ConstantIndexOp::create(nb, nloc, 1)),
            arith::ConstantIndexOp::create(nb, nloc, order));
        Value visible = arith::CmpIOp::create(
            nb, nloc, arith::CmpIPredicate::ult, p, limit);
        Value zero = floatConstant(nb, nloc, elementType, 0.0);
        return arith::SelectOp::create(nb, nloc, visible, args[0], zero)
            .getResult();
      });
}

/// φ on `state` when the chunk `nc` ends at or before the sequence's last
/// real token (nonlinear mode: φ after every C real tokens).
Value applyPhiAtChunkEnd(OpBuilder &b, Location loc, Value state, Value nc,
                         int64_t chunk, Value length) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value end =
      arith::MulIOp::create(b, loc, arith::AddIOp::create(b, loc, nc, one),
                            arith::ConstantIndexOp::create(b, loc, chunk));
  Value full =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule, end, length);
  return scf::IfOp::create(
             b, loc, full,
             [&](OpBuilder &tb, Location tloc) {
               scf::YieldOp::create(tb, tloc, buildPhi(tb, tloc, state));
             },
             [&](OpBuilder &eb, Location eloc) {
               scf::YieldOp::create(eb, eloc, state);
             })
      .getResult(0);
}

/// The ungated scan. Per chunk (all operands small enough to stay in cache):
/// the UT transform T = (I + stril(W Kᵀ))⁻¹ (blocked, see
/// buildBlockedTrilInverse, when `blockedInverse`), then U = T (B − W S),
/// O = Q S + causal(Q Kᵀ) U and S ← S + Kᵀ U.
Value scanUngated(OpBuilder &b, Location loc, const RecurrentChunks &in,
                  Value state0, Value outInit, Value numChunks, Value length,
                  bool nonlinear, bool blockedInverse, Value &finalState) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto loop = scf::ForOp::create(
      b, loc, zero, numChunks, one, ValueRange{state0, outInit},
      [&](OpBuilder &lb, Location lloc, Value nc, ValueRange iters) {
        Value s = iters[0];
        auto [k, w, bv] = sliceChunkRows(lb, lloc, in, nc);
        Value q = slicePrefix(lb, lloc, in.q, nc);
        Value kT = transposeLast2(lb, lloc, k);
        Value l = einsum(lb, lloc, "md,dp->mp", w, kT);
        Value t = blockedInverse ? buildBlockedTrilInverse(lb, lloc, l)
                                 : buildTrilInverse(lb, lloc, l);
        Value residual =
            subTensors(lb, lloc, bv, einsum(lb, lloc, "md,de->me", w, s));
        Value u = einsum(lb, lloc, "mp,pd->md", t, residual);
        Value a = causalScores(lb, lloc, einsum(lb, lloc, "cd,dp->cp", q, kT),
                               in.order);
        // Accumulated in the chunk's rows of the output, and in the state
        // itself (read by nothing after the update).
        Value out =
            linalg::FillOp::create(
                lb, lloc, floatConstant(lb, lloc, elementTypeOf(q), 0.0),
                slicePrefix(lb, lloc, iters[1], nc))
                .getResult(0);
        out = einsumInto(lb, lloc, "cd,de->ce", q, s, out);
        out = einsumInto(lb, lloc, "cm,me->ce", a, u, out);
        Value next = einsumInto(lb, lloc, "md,me->de", k, u, s);
        if (nonlinear)
          next = applyPhiAtChunkEnd(lb, lloc, next, nc, in.chunk, length);
        Value outs = insertPrefix(lb, lloc, out, iters[1], nc);
        scf::YieldOp::create(lb, lloc, ValueRange{next, outs});
      });
  finalState = loop.getResult(0);
  return loop.getResult(1);
}

/// The gated scan: per chunk, forward substitution over its N virtual
/// tokens with per-channel decays (see the file comment).
Value scanGated(OpBuilder &b, Location loc, const RecurrentChunks &in,
                Value state0, Value outInit, Value numChunks, Value length,
                bool nonlinear, Value &finalState) {
  Type elementType = elementTypeOf(in.q);
  int64_t n = in.order, chunk = in.chunk, rows = chunk * n;
  int64_t headDim = cast<RankedTensorType>(in.q.getType()).getDimSize(2);

  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value orderIndex = arith::ConstantIndexOp::create(b, loc, n);
  Value rowsIndex = arith::ConstantIndexOp::create(b, loc, rows);
  auto loop = scf::ForOp::create(
      b, loc, zero, numChunks, one, ValueRange{state0, outInit},
      [&](OpBuilder &lb, Location lloc, Value nc, ValueRange iters) {
        Value s = iters[0];
        auto [k, w, bc] = sliceChunkRows(lb, lloc, in, nc);
        Value kT = transposeLast2(lb, lloc, k);
        Value gc = einsum(lb, lloc, "md,dp->mp", w, kT);
        Value ac =
            einsum(lb, lloc, "cd,dp->cp", slicePrefix(lb, lloc, in.q, nc), kT);
        Value decay = slicePrefix(lb, lloc, in.decay, nc);
        Value ws = einsum(lb, lloc, "md,de->me", w, s);
        Value qs =
            einsum(lb, lloc, "cd,de->ce", slicePrefix(lb, lloc, in.q, nc), s);
        SmallVector<OpFoldResult> rowSizes = {lb.getIndexAttr(rows),
                                              lb.getIndexAttr(headDim)};
        Value d0 = createFilled(lb, lloc, rowSizes, elementType, 0.0);
        Value gamma0 = createFilled(lb, lloc, {lb.getIndexAttr(headDim)},
                                    elementType, 1.0);
        // Every row of the chunk's output is written once, in place.
        Value out0 = slicePrefix(lb, lloc, iters[1], nc);
        auto inner = scf::ForOp::create(
            lb, lloc, zero, rowsIndex, one, ValueRange{d0, gamma0, out0},
            [&](OpBuilder &ib, Location iloc, Value m, ValueRange it) {
              MLIRContext *ctx = ib.getContext();
              Value a = slicePrefix(ib, iloc, decay, m);
              // Decay every earlier row and the running product Γ_m, in
              // place (the loop carries the same buffers throughout).
              auto decayBy = [](OpBuilder &nb, Location nloc, ValueRange args) {
                return arith::MulFOp::create(nb, nloc, args[1], args[0])
                    .getResult();
              };
              Value d = buildParallelGeneric(
                  ib, iloc, {a}, {projectionMap(ctx, 2, {1})}, it[0], decayBy);
              Value gamma = buildParallelGeneric(
                  ib, iloc, {a}, {identityMap(ctx, 1)}, it[1], decayBy);
              // u_m = b_m − Γ_m ⊙ (S₀ᵀ w_m) − Σ_m' G[m, m'] D_m'.
              Value correction =
                  einsum(ib, iloc, "p,pe->e", slicePrefix(ib, iloc, gc, m), d);
              Value u = subTensors(
                  ib, iloc,
                  subTensors(ib, iloc, slicePrefix(ib, iloc, bc, m),
                             mulTensors(ib, iloc, gamma,
                                        slicePrefix(ib, iloc, ws, m))),
                  correction);
              d = insertPrefix(ib, iloc, u, d, m);
              // After the last virtual token of real token c = m / n: o_c.
              Value j = arith::RemUIOp::create(ib, iloc, m, orderIndex);
              Value lastVirtual = arith::CmpIOp::create(
                  ib, iloc, arith::CmpIPredicate::eq, j,
                  arith::ConstantIndexOp::create(ib, iloc, n - 1));
              Value c = arith::DivUIOp::create(ib, iloc, m, orderIndex);
              Value outs =
                  scf::IfOp::create(
                      ib, iloc, lastVirtual,
                      [&](OpBuilder &tb, Location tloc) {
                        Value read =
                            addTensors(tb, tloc,
                                       mulTensors(tb, tloc, gamma,
                                                  slicePrefix(tb, tloc, qs, c)),
                                       einsum(tb, tloc, "p,pe->e",
                                              slicePrefix(tb, tloc, ac, c), d));
                        scf::YieldOp::create(
                            tb, tloc, insertPrefix(tb, tloc, read, it[2], c));
                      },
                      [&](OpBuilder &eb, Location eloc) {
                        scf::YieldOp::create(eb, eloc, it[2]);
                      })
                      .getResult(0);
              scf::YieldOp::create(ib, iloc, ValueRange{d, gamma, outs});
            });
        // S_end = S₀ diag(Γ_N) + Kᵀ D, accumulated in the state itself.
        Value decayed = buildParallelGeneric(
            lb, lloc, {inner.getResult(1)},
            {projectionMap(lb.getContext(), 2, {1})}, s,
            [](OpBuilder &nb, Location nloc, ValueRange args) {
              return arith::MulFOp::create(nb, nloc, args[1], args[0])
                  .getResult();
            });
        Value next =
            einsumInto(lb, lloc, "pd,pe->de", k, inner.getResult(0), decayed);
        if (nonlinear)
          next = applyPhiAtChunkEnd(lb, lloc, next, nc, chunk, length);
        Value outs = insertPrefix(lb, lloc, inner.getResult(2), iters[1], nc);
        scf::YieldOp::create(lb, lloc, ValueRange{next, outs});
      });
  finalState = loop.getResult(0);
  return loop.getResult(1);
}

/// The chunked operands of one (batch, head), with the decay rows built:
/// k, v [NC, C, n, d], beta, alpha [NC, C, d].
RecurrentChunks chunkOperands(OpBuilder &b, Location loc, Value q, Value k,
                              Value v, Value beta, Value alpha, int64_t chunk,
                              int64_t order) {
  RecurrentChunks chunks{q,
                         collapsePair(b, loc, k, 1),
                         collapsePair(b, loc, v, 1),
                         beta,
                         Value(),
                         chunk,
                         order};
  if (alpha) {
    Type elementType = elementTypeOf(q);
    Value init = createEmpty(b, loc, getSizes(b, loc, k), elementType);
    Value decay = buildParallelGeneric(
        b, loc, {alpha}, {projectionMap(b.getContext(), 4, {0, 1, 3})}, init,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value j = linalg::IndexOp::create(nb, nloc, 2);
          Value first = arith::CmpIOp::create(
              nb, nloc, arith::CmpIPredicate::eq, j,
              arith::ConstantIndexOp::create(nb, nloc, 0));
          return arith::SelectOp::create(
                     nb, nloc, first, args[0],
                     floatConstant(nb, nloc, elementType, 1.0))
              .getResult();
        });
    chunks.decay = collapsePair(b, loc, decay, 1);
  }
  return chunks;
}

struct LowerRecurrentDeltaProduct : public OpRewritePattern<DeltaProductOp> {
  LowerRecurrentDeltaProduct(MLIRContext *ctx,
                             const TpttToLinalgOptions &options)
      : OpRewritePattern(ctx), options(options) {}

  LogicalResult matchAndRewrite(DeltaProductOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getSemantics() != Semantics::Recurrent)
      return failure();
    Location loc = op.getLoc();
    auto outType = cast<RankedTensorType>(op.getOutput().getType());
    Type elementType = outType.getElementType();
    int64_t order = op.getOrder(), headDim = op.getHeadDim();
    // φ fixes the chunk in nonlinear mode; a linear schedule may choose.
    int64_t chunk = op.getNonlinear() || options.chunkSize <= 0
                        ? op.getChunkSize()
                        : options.chunkSize;
    Value mask = op.getMask();

    Value batch = tensor::DimOp::create(rewriter, loc, op.getQ(), 0);
    Value heads = tensor::DimOp::create(rewriter, loc, op.getQ(), 1);
    // Folded where the sequence length is static, so that the layout sees a
    // constant padded length.
    Value seq =
        rewriter.createOrFold<tensor::DimOp>(loc, op.getQ(), int64_t(2));
    std::optional<SequencePacking> packing;
    Value lengths;
    if (mask || op.getReverse()) {
      packing = buildSequencePacking(rewriter, loc, mask, batch, seq,
                                     op.getReverse());
      lengths = packing->length;
    } else {
      Value empty = createEmpty(rewriter, loc, {OpFoldResult(batch)},
                                rewriter.getIndexType());
      lengths = linalg::FillOp::create(rewriter, loc, seq, empty).getResult(0);
    }
    Value chunkIndex = arith::ConstantIndexOp::create(rewriter, loc, chunk);
    Value numChunks =
        rewriter.createOrFold<arith::CeilDivUIOp>(loc, seq, chunkIndex);
    Value paddedSeq =
        rewriter.createOrFold<arith::MulIOp>(loc, numChunks, chunkIndex);
    auto layOut = [&](Value x, double pad) {
      return splitDim(
          rewriter, loc,
          layOutSequence(rewriter, loc, x, packing, lengths, paddedSeq, pad), 2,
          chunk);
    };
    Value q = layOut(op.getQ(), 0.0);
    Value k = layOut(op.getK(), 0.0);
    Value v = layOut(op.getV(), 0.0);
    Value beta = layOut(op.getBeta(), 0.0);
    Value alpha = op.getAlpha() ? layOut(op.getAlpha(), 1.0) : Value();

    // One (batch, head) per iteration of an scf.forall; the chunk scan is
    // sequential inside.
    Value outInit =
        createEmpty(rewriter, loc, getSizes(rewriter, loc, q), elementType);
    SmallVector<OpFoldResult> stateSizes = {batch, heads,
                                            rewriter.getIndexAttr(headDim),
                                            rewriter.getIndexAttr(headDim)};
    Value stateInit = createEmpty(rewriter, loc, stateSizes, elementType);
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{batch, heads},
        ValueRange{outInit, stateInit}, std::nullopt,
        [&](OpBuilder &fb, Location floc, ValueRange args) {
          Value bi = args[0], hi = args[1];
          ValueRange bh = args.take_front(2);
          Value state0 = op.getInitialState()
                             ? slicePrefix(fb, floc, op.getInitialState(), bh)
                             : createFilled(fb, floc,
                                            {fb.getIndexAttr(headDim),
                                             fb.getIndexAttr(headDim)},
                                            elementType, 0.0);
          RecurrentChunks chunks = chunkOperands(
              fb, floc, slicePrefix(fb, floc, q, bh),
              slicePrefix(fb, floc, k, bh), slicePrefix(fb, floc, v, bh),
              slicePrefix(fb, floc, beta, bh),
              alpha ? slicePrefix(fb, floc, alpha, bh) : Value(), chunk, order);
          Value length =
              tensor::ExtractOp::create(fb, floc, lengths, ValueRange{bi});
          // The scan writes its chunks into this head's rows of the result.
          Value headOut = slicePrefix(fb, floc, args[2], bh);
          Value finalState;
          Value outs =
              alpha ? scanGated(fb, floc, chunks, state0, headOut, numChunks,
                                length, op.getNonlinear(), finalState)
                    : scanUngated(fb, floc, chunks, state0, headOut, numChunks,
                                  length, op.getNonlinear(),
                                  options.blockedTrilInverse, finalState);
          SmallVector<OpFoldResult> outSizes = getSizes(fb, floc, outs);
          SmallVector<OpFoldResult> stateSizes = getSizes(fb, floc, finalState);
          auto inParallel = scf::InParallelOp::create(fb, floc);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(inParallel.getBody());
          parallelInsertPrefix(fb, floc, outs, args[2], ValueRange{bi, hi},
                               outSizes);
          parallelInsertPrefix(fb, floc, finalState, args[3],
                               ValueRange{bi, hi}, stateSizes);
        });

    // Back to [B, H, S, d]: the real tokens return to their positions.
    Value padded = collapsePair(rewriter, loc, forall.getResult(0), 2);
    SmallVector<OpFoldResult> outSizes = getSizes(rewriter, loc, op.getQ());
    Value output =
        packing ? createEmpty(rewriter, loc, outSizes, elementType)
                : tensor::ExtractSliceOp::create(
                      rewriter, loc, padded,
                      SmallVector<OpFoldResult>(4, rewriter.getIndexAttr(0)),
                      outSizes,
                      SmallVector<OpFoldResult>(4, rewriter.getIndexAttr(1)))
                      .getResult();
    if (packing)
      output = buildParallelGeneric(
          rewriter, loc, {}, {}, output,
          [&](OpBuilder &nb, Location nloc, ValueRange) {
            SmallVector<Value> indices;
            for (int64_t d = 0; d < 4; ++d)
              indices.push_back(linalg::IndexOp::create(nb, nloc, d));
            if (packing)
              indices[2] =
                  tensor::ExtractOp::create(nb, nloc, packing->scatter,
                                            ValueRange{indices[0], indices[2]});
            return tensor::ExtractOp::create(nb, nloc, padded, indices)
                .getResult();
          });
    if (mask)
      output = zeroPadded(rewriter, loc, output, 2, mask);
    Value finalState = tensor::CastOp::create(
        rewriter, loc, op.getFinalState().getType(), forall.getResult(1));
    rewriter.replaceOp(
        op, {tensor::CastOp::create(rewriter, loc, outType, output).getResult(),
             finalState});
    return success();
  }

  TpttToLinalgOptions options;
};

//===----------------------------------------------------------------------===//
// tptt-0.12 semantics
//===----------------------------------------------------------------------===//

} // namespace

Value lowering::referenceChunk(OpBuilder &b, Location loc, Value seq,
                               int64_t maxChunk) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value limit = arith::MinUIOp::create(
      b, loc, seq, arith::ConstantIndexOp::create(b, loc, maxChunk));
  Value upper = arith::AddIOp::create(b, loc, limit, one);
  auto loop = scf::ForOp::create(
      b, loc, one, upper, one, ValueRange{one},
      [&](OpBuilder &lb, Location lloc, Value c, ValueRange iters) {
        Value rem = arith::RemUIOp::create(lb, lloc, seq, c);
        Value divides = arith::CmpIOp::create(
            lb, lloc, arith::CmpIPredicate::eq, rem, zero);
        Value best = arith::SelectOp::create(lb, lloc, divides, c, iters[0]);
        scf::YieldOp::create(lb, lloc, best);
      });
  return loop.getResult(0);
}

namespace {

/// Slices the rows [start, start + count) of dimension 0 of `x`.
Value sliceRows(OpBuilder &b, Location loc, Value x, Value start, Value count) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  SmallVector<OpFoldResult> strides(type.getRank(), b.getIndexAttr(1));
  offsets[0] = start;
  sizes[0] = count;
  SmallVector<int64_t> shape(type.getShape());
  shape[0] = ShapedType::kDynamic;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sizes, strides);
}

/// Slices x[:, j, :] of a [C, n, d] tensor.
Value sliceVirtual(OpBuilder &b, Location loc, Value x, int64_t j) {
  auto type = cast<RankedTensorType>(x.getType());
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  sizes[1] = b.getIndexAttr(1);
  auto resultType = RankedTensorType::get(
      {type.getDimSize(0), type.getDimSize(2)}, type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, resultType, x,
      SmallVector<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(j),
                                b.getIndexAttr(0)},
      sizes, SmallVector<OpFoldResult>(3, b.getIndexAttr(1)));
}

/// One chunk of the reference arithmetic (§4.3 of the reference note) for one
/// (batch, head): q, k, v, beta, alpha [C, n, d] and the incoming state h
/// [d, d]. Returns the chunk outputs [C, d] and sets `next` to the state of
/// the chunk's last position.
Value referenceChunkStep(OpBuilder &b, Location loc, Value q, Value k, Value v,
                         Value beta, Value alpha, Value h, int64_t order,
                         Value &next) {
  MLIRContext *ctx = b.getContext();
  Type elementType = elementTypeOf(q);
  Value kFlat = collapsePair(b, loc, k, 0);
  Value kBeta = collapsePair(b, loc, mulTensors(b, loc, k, beta), 0);
  Value vBeta = collapsePair(b, loc, mulTensors(b, loc, v, beta), 0);
  Value t = buildTrilInverse(
      b, loc,
      einsum(b, loc, "md,dp->mp", kBeta, transposeLast2(b, loc, kFlat)));
  int64_t headDim = cast<RankedTensorType>(q.getType()).getDimSize(2);
  Value w = splitDim(b, loc, einsum(b, loc, "mp,pd->md", t, kBeta), 0, order);
  Value u = splitDim(b, loc, einsum(b, loc, "mp,pd->md", t, vBeta), 0, order);

  // Every position c restarts from h: P [C, d, d].
  SmallVector<OpFoldResult> pSizes = {tensor::getMixedSize(b, loc, q, 0),
                                      b.getIndexAttr(headDim),
                                      b.getIndexAttr(headDim)};
  Value p = buildParallelGeneric(
      b, loc, {h}, {projectionMap(ctx, 3, {1, 2})},
      createEmpty(b, loc, pSizes, elementType),
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  Value y;
  for (int64_t j = 0; j < order; ++j) {
    Value wj = sliceVirtual(b, loc, w, j), uj = sliceVirtual(b, loc, u, j);
    Value qj = sliceVirtual(b, loc, q, j);
    // r = U_m − Pᵀ W_m, with the undecayed P.
    Value r = subTensors(b, loc, uj, einsum(b, loc, "cae,ca->ce", p, wj));
    if (j == order - 1)
      y = addTensors(b, loc, einsum(b, loc, "cae,ca->ce", p, qj),
                     mulTensors(b, loc, qj, r));
    // P ← P diag(A_m) + W_m r_mᵀ.
    Value aj = alpha ? sliceVirtual(b, loc, alpha, j) : Value();
    SmallVector<Value> inputs = {p, wj, r};
    SmallVector<AffineMap> maps = {identityMap(ctx, 3),
                                   projectionMap(ctx, 3, {0, 1}),
                                   projectionMap(ctx, 3, {0, 2})};
    if (aj) {
      inputs.push_back(aj);
      maps.push_back(projectionMap(ctx, 3, {0, 2}));
    }
    p = buildParallelGeneric(
        b, loc, inputs, maps, createEmpty(b, loc, pSizes, elementType),
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value decayed =
              aj ? arith::MulFOp::create(nb, nloc, args[0], args[3]).getResult()
                 : args[0];
          Value write = arith::MulFOp::create(nb, nloc, args[1], args[2]);
          return arith::AddFOp::create(nb, nloc, decayed, write).getResult();
        });
  }
  Value lastPosition =
      arith::SubIOp::create(b, loc, tensor::DimOp::create(b, loc, q, 0),
                            arith::ConstantIndexOp::create(b, loc, 1));
  next = slicePrefix(b, loc, p, lastPosition);
  return y;
}

struct LowerReferenceDeltaProduct : public OpRewritePattern<DeltaProductOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DeltaProductOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getSemantics() != Semantics::Tptt012)
      return failure();
    Location loc = op.getLoc();
    auto outType = cast<RankedTensorType>(op.getOutput().getType());
    Type elementType = outType.getElementType();
    int64_t order = op.getOrder(), headDim = op.getHeadDim();
    Value batch = tensor::DimOp::create(rewriter, loc, op.getQ(), 0);
    Value heads = tensor::DimOp::create(rewriter, loc, op.getQ(), 1);
    Value seq = tensor::DimOp::create(rewriter, loc, op.getQ(), 2);

    // The reversed run flips the whole token axis (padding included).
    std::optional<SequencePacking> reversal;
    auto orient = [&](Value x) {
      return reversal ? gatherSequence(rewriter, loc, x, 2, reversal->gather)
                      : x;
    };
    if (op.getReverse())
      reversal = buildSequencePacking(rewriter, loc, Value(), batch, seq,
                                      /*reverse=*/true);
    Value q = orient(op.getQ()), k = orient(op.getK()), v = orient(op.getV());
    Value beta = orient(op.getBeta());
    Value alpha = op.getAlpha() ? orient(op.getAlpha()) : Value();
    Value chunk = referenceChunk(rewriter, loc, seq, op.getChunkSize());
    Value numChunks = arith::DivUIOp::create(rewriter, loc, seq, chunk);

    Value outInit =
        createEmpty(rewriter, loc,
                    {OpFoldResult(batch), OpFoldResult(heads),
                     OpFoldResult(seq), rewriter.getIndexAttr(headDim)},
                    elementType);
    SmallVector<OpFoldResult> stateSizes = {batch, heads,
                                            rewriter.getIndexAttr(headDim),
                                            rewriter.getIndexAttr(headDim)};
    Value stateInit = createEmpty(rewriter, loc, stateSizes, elementType);
    auto forall = scf::ForallOp::create(
        rewriter, loc, ArrayRef<OpFoldResult>{batch, heads},
        ValueRange{outInit, stateInit}, std::nullopt,
        [&](OpBuilder &fb, Location floc, ValueRange args) {
          ValueRange bh = args.take_front(2);
          Value qb = slicePrefix(fb, floc, q, bh);
          Value kb = slicePrefix(fb, floc, k, bh);
          Value vb = slicePrefix(fb, floc, v, bh);
          Value betab = slicePrefix(fb, floc, beta, bh);
          Value alphab = alpha ? slicePrefix(fb, floc, alpha, bh) : Value();
          // Without an initial state the reference starts from 1e-6 everywhere.
          Value h0 = op.getInitialState()
                         ? slicePrefix(fb, floc, op.getInitialState(), bh)
                         : createFilled(fb, floc,
                                        {fb.getIndexAttr(headDim),
                                         fb.getIndexAttr(headDim)},
                                        elementType, 1e-6);
          Value outs0 = createEmpty(
              fb, floc, {OpFoldResult(seq), fb.getIndexAttr(headDim)},
              elementType);
          Value zero = arith::ConstantIndexOp::create(fb, floc, 0);
          Value one = arith::ConstantIndexOp::create(fb, floc, 1);
          auto loop = scf::ForOp::create(
              fb, floc, zero, numChunks, one, ValueRange{h0, outs0},
              [&](OpBuilder &lb, Location lloc, Value nc, ValueRange iters) {
                Value start = arith::MulIOp::create(lb, lloc, nc, chunk);
                auto rows = [&](Value x) {
                  return x ? sliceRows(lb, lloc, x, start, chunk) : Value();
                };
                Value next;
                Value y = referenceChunkStep(
                    lb, lloc, rows(qb), rows(kb), rows(vb), rows(betab),
                    rows(alphab), iters[0], order, next);
                if (op.getNonlinear())
                  next = buildPhi(lb, lloc, next);
                Value outs = tensor::InsertSliceOp::create(
                    lb, lloc, y, iters[1],
                    SmallVector<OpFoldResult>{start, lb.getIndexAttr(0)},
                    SmallVector<OpFoldResult>{chunk, lb.getIndexAttr(headDim)},
                    SmallVector<OpFoldResult>(2, lb.getIndexAttr(1)));
                scf::YieldOp::create(lb, lloc, ValueRange{next, outs});
              });
          Value outs = loop.getResult(1), state = loop.getResult(0);
          SmallVector<OpFoldResult> outSizes = getSizes(fb, floc, outs);
          SmallVector<OpFoldResult> finalSizes = getSizes(fb, floc, state);
          auto inParallel = scf::InParallelOp::create(fb, floc);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(inParallel.getBody());
          parallelInsertPrefix(fb, floc, outs, args[2], bh, outSizes);
          parallelInsertPrefix(fb, floc, state, args[3], bh, finalSizes);
        });
    Value output = orient(forall.getResult(0));
    rewriter.replaceOp(
        op, {tensor::CastOp::create(rewriter, loc, outType, output).getResult(),
             tensor::CastOp::create(rewriter, loc, op.getFinalState().getType(),
                                    forall.getResult(1))
                 .getResult()});
    return success();
  }
};

//===----------------------------------------------------------------------===//
// tptt.delta_product_step
//===----------------------------------------------------------------------===//

struct LowerDeltaProductStep : public OpRewritePattern<DeltaProductStepOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DeltaProductStepOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type elementType = elementTypeOf(op.getQ());
    int64_t order = cast<RankedTensorType>(op.getK().getType()).getDimSize(2);
    AffineMap id4 = identityMap(ctx, 4);
    AffineMap keyRows = projectionMap(ctx, 4, {0, 1, 2});
    AffineMap valueColumns = projectionMap(ctx, 4, {0, 1, 3});
    Value state = op.getState();
    auto stateInit = [&] {
      return createEmpty(rewriter, loc, getSizes(rewriter, loc, state),
                         elementType);
    };
    for (int64_t j = 0; j < order; ++j) {
      // S' = S diag(α) at the first virtual token.
      if (j == 0 && op.getAlpha())
        state = buildParallelGeneric(
            rewriter, loc, {state, op.getAlpha()}, {id4, valueColumns},
            stateInit(), [](OpBuilder &nb, Location nloc, ValueRange args) {
              return arith::MulFOp::create(nb, nloc, args[0], args[1])
                  .getResult();
            });
      Value kj = sliceVirtualStep(rewriter, loc, op.getK(), j);
      Value vj = sliceVirtualStep(rewriter, loc, op.getV(), j);
      // u = β ⊙ v − S'ᵀ (β ⊙ k);  S = S' + k uᵀ.
      Value w = mulTensors(rewriter, loc, op.getBeta(), kj);
      Value u =
          subTensors(rewriter, loc, mulTensors(rewriter, loc, op.getBeta(), vj),
                     einsum(rewriter, loc, "xyae,xya->xye", state, w));
      state = buildParallelGeneric(
          rewriter, loc, {state, kj, u}, {id4, keyRows, valueColumns},
          stateInit(), [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value write = arith::MulFOp::create(nb, nloc, args[1], args[2]);
            return arith::AddFOp::create(nb, nloc, args[0], write).getResult();
          });
    }
    Value output = einsum(rewriter, loc, "xyae,xya->xye", state, op.getQ());
    if (op.getNonlinear()) {
      // φ where (position + 1) mod C = 0, per sequence.
      Value phi = buildPhi(rewriter, loc, state);
      int64_t chunk = op.getChunkSize();
      state = buildParallelGeneric(
          rewriter, loc, {state, phi, op.getPosition()},
          {id4, id4, projectionMap(ctx, 4, {0})}, stateInit(),
          [&](OpBuilder &nb, Location nloc, ValueRange args) {
            Type i64 = nb.getI64Type();
            Value next = arith::AddIOp::create(
                nb, nloc, args[2],
                arith::ConstantIntOp::create(nb, nloc, i64, 1));
            Value rem = arith::RemSIOp::create(
                nb, nloc, next,
                arith::ConstantIntOp::create(nb, nloc, i64, chunk));
            Value boundary = arith::CmpIOp::create(
                nb, nloc, arith::CmpIPredicate::eq, rem,
                arith::ConstantIntOp::create(nb, nloc, i64, 0));
            return arith::SelectOp::create(nb, nloc, boundary, args[1], args[0])
                .getResult();
          });
    }
    rewriter.replaceOp(op, {output, state});
    return success();
  }

  /// x[:, :, j, :] of a [B, H, n, d] tensor.
  static Value sliceVirtualStep(OpBuilder &b, Location loc, Value x,
                                int64_t j) {
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
    sizes[2] = b.getIndexAttr(1);
    SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0));
    offsets[2] = b.getIndexAttr(j);
    auto resultType = RankedTensorType::get(
        {type.getDimSize(0), type.getDimSize(1), type.getDimSize(3)},
        type.getElementType());
    return tensor::ExtractSliceOp::create(
        b, loc, resultType, x, offsets, sizes,
        SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
  }
};

} // namespace

void mlir::tptt::populateDeltaProductLoweringPatterns(
    RewritePatternSet &patterns, const TpttToLinalgOptions &options) {
  MLIRContext *ctx = patterns.getContext();
  patterns.add<LowerTrilInverse, LowerPhi>(ctx);
  patterns.add<LowerRecurrentDeltaProduct>(ctx, options);
  patterns.add<LowerReferenceDeltaProduct, LowerDeltaProductStep>(ctx);
}

//===- DeltaProductGrad.cpp - Lower the operator's backward ---------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The VJP of the `recurrent` DeltaProduct operator, batched over batch and
// heads and sequential over tokens, with gradient checkpointing per chunk:
//
// 1. A forward sweep over the chunks keeps only the state at each chunk
//    start ([NC, B, H, d, d]; φ at full chunk ends in nonlinear mode).
// 2. The chunks are walked last to first with the state cotangent dS: the
//    chunk's per-virtual-token states are recomputed from its start state
//    (a chunk-local buffer), dS goes back through φ where the forward applied
//    it, then through the tokens in reverse (see the op description for
//    the formulas of one virtual step).
//
// Sequences are laid out as the forward lowering lays them out (real tokens
// first when padded or reversed; k, v, q, β zero and α one past each
// sequence's end), so a step past the end leaves the state as it is and
// contributes nothing; the cotangents return to the original positions.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"
#include "tptt/Conversion/TpttToLinalg/TpttToLinalg.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

namespace {

Type elementOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getElementType();
}

/// fn(inputs) elementwise over the shape of the first input; the others are
/// read through `maps` (identity when not given).
Value elementwise(OpBuilder &b, Location loc, ValueRange inputs, GenericBody fn,
                  ArrayRef<AffineMap> maps = {}) {
  unsigned rank = cast<RankedTensorType>(inputs[0].getType()).getRank();
  SmallVector<AffineMap> all(maps);
  if (all.empty())
    all.assign(inputs.size(), identityMap(b.getContext(), rank));
  return buildParallelGeneric(
      b, loc, inputs, all,
      createEmpty(b, loc, getSizes(b, loc, inputs[0]), elementOf(inputs[0])),
      fn);
}

/// M x over the last index: y[b,h,a] = Σ_c M[b,h,a,c] x[b,h,c].
Value matVec(OpBuilder &b, Location loc, Value m, Value x) {
  return einsum(b, loc, "xyac,xyc->xya", m, x);
}

/// Mᵀ x: y[b,h,c] = Σ_a M[b,h,a,c] x[b,h,a].
Value matTVec(OpBuilder &b, Location loc, Value m, Value x) {
  return einsum(b, loc, "xyac,xya->xyc", m, x);
}

/// M + scale · x yᵀ per (batch, head).
Value addOuter(OpBuilder &b, Location loc, Value m, Value x, Value y,
               double scale) {
  MLIRContext *ctx = b.getContext();
  Type type = elementOf(m);
  return elementwise(
      b, loc, {m, x, y},
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value product = arith::MulFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, a[1], a[2]),
            floatConstant(nb, nl, type, scale));
        return arith::AddFOp::create(nb, nl, a[0], product).getResult();
      },
      {identityMap(ctx, 4), projectionMap(ctx, 4, {0, 1, 2}),
       projectionMap(ctx, 4, {0, 1, 3})});
}

/// M diag(a): the columns (value channels) scaled by a.
Value scaleColumns(OpBuilder &b, Location loc, Value m, Value a) {
  MLIRContext *ctx = b.getContext();
  return elementwise(
      b, loc, {m, a},
      [](OpBuilder &nb, Location nl, ValueRange v) {
        return arith::MulFOp::create(nb, nl, v[0], v[1]).getResult();
      },
      {identityMap(ctx, 4), projectionMap(ctx, 4, {0, 1, 3})});
}

/// Per batch row b: `ifTrue` where cond[b], else `ifFalse` ([B, H, d, d]).
Value selectRows(OpBuilder &b, Location loc, Value cond, Value ifTrue,
                 Value ifFalse) {
  MLIRContext *ctx = b.getContext();
  AffineMap id = identityMap(ctx, 4);
  return elementwise(
      b, loc, {ifTrue, ifFalse, cond},
      [](OpBuilder &nb, Location nl, ValueRange v) {
        return arith::SelectOp::create(nb, nl, v[2], v[0], v[1]).getResult();
      },
      {id, id, projectionMap(ctx, 4, {0})});
}

/// x[:, :, t, ...] (and [..., j, :] for rank 5) as [B, H, d].
Value tokenSlice(OpBuilder &b, Location loc, Value x, Value t,
                 std::optional<int64_t> j = std::nullopt) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  offsets[2] = t;
  sizes[2] = b.getIndexAttr(1);
  if (j) {
    offsets[3] = b.getIndexAttr(*j);
    sizes[3] = b.getIndexAttr(1);
  }
  auto sliceType = RankedTensorType::get(
      {type.getDimSize(0), type.getDimSize(1), type.getDimSize(rank - 1)},
      type.getElementType());
  return tensor::ExtractSliceOp::create(
      b, loc, sliceType, x, offsets, sizes,
      SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
}

/// Inserts `part` [B, H, d] at dest[:, :, t, ...] (tokenSlice's inverse).
Value tokenInsert(OpBuilder &b, Location loc, Value part, Value dest, Value t,
                  std::optional<int64_t> j = std::nullopt) {
  auto type = cast<RankedTensorType>(dest.getType());
  unsigned rank = type.getRank();
  part = tensor::CastOp::create(
      b, loc,
      RankedTensorType::get(
          {type.getDimSize(0), type.getDimSize(1), type.getDimSize(rank - 1)},
          type.getElementType()),
      part);
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, dest);
  offsets[2] = t;
  sizes[2] = b.getIndexAttr(1);
  if (j) {
    offsets[3] = b.getIndexAttr(*j);
    sizes[3] = b.getIndexAttr(1);
  }
  return tensor::InsertSliceOp::create(
      b, loc, part, dest, offsets, sizes,
      SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
}

/// Inserts `state` [B, H, d, d] as element `index` of `states` [M, B, H, d, d].
Value stateInsert(OpBuilder &b, Location loc, Value state, Value states,
                  Value index) {
  SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, states);
  offsets[0] = index;
  sizes[0] = b.getIndexAttr(1);
  return tensor::InsertSliceOp::create(
      b, loc, state, states, offsets, sizes,
      SmallVector<OpFoldResult>(5, b.getIndexAttr(1)));
}

Value index(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

/// The laid-out operands of the backward ([B, H, S_pad, ...]).
struct Operands {
  Value q, k, v, beta, alpha, dout;
  int64_t order = 1;
};

/// One virtual step (token t, virtual token j) from `state`:
/// S' = S diag(α_t) at j = 0, u = β ⊙ v − S'ᵀ (β ⊙ k), S ← S' + k uᵀ.
Value forwardStep(OpBuilder &b, Location loc, const Operands &in, Value state,
                  Value t, int64_t j) {
  Value decayed = state;
  if (in.alpha && j == 0)
    decayed = scaleColumns(b, loc, state, tokenSlice(b, loc, in.alpha, t));
  Value beta = tokenSlice(b, loc, in.beta, t);
  Value k = tokenSlice(b, loc, in.k, t, j), v = tokenSlice(b, loc, in.v, t, j);
  Value read = matTVec(b, loc, decayed, mulTensors(b, loc, beta, k));
  Value u = elementwise(
      b, loc, {beta, v, read}, [](OpBuilder &nb, Location nl, ValueRange a) {
        Value bv = arith::MulFOp::create(nb, nl, a[0], a[1]);
        return arith::SubFOp::create(nb, nl, bv, a[2]).getResult();
      });
  return addOuter(b, loc, decayed, k, u, 1.0);
}

/// The VJP of φ at H: dH from dφ (both [B, H, d, d]; see the file's math in
/// the op description). With r_a = ‖H_a‖ + 1e-6, z = 2H/r_a and G the tanh
/// GELU: dH_ac = dφ_ac (G(z_ac)/2 + H_ac G'(z_ac)/r_a)
///             − H_ac / (‖H_a‖ r_a²) · Σ_b dφ_ab H_ab² G'(z_ab).
Value phiVjp(OpBuilder &b, Location loc, Value h, Value dphi) {
  MLIRContext *ctx = b.getContext();
  Type type = elementOf(h);
  AffineMap id = identityMap(ctx, 4), row = projectionMap(ctx, 4, {0, 1, 2});
  SmallVector<OpFoldResult> rows = getSizes(b, loc, h);
  rows.pop_back();
  SmallVector<utils::IteratorType> reduceLast(4, utils::IteratorType::parallel);
  reduceLast.back() = utils::IteratorType::reduction;
  auto rowSum = [&](ValueRange inputs, GenericBody term) {
    SmallVector<AffineMap> maps(inputs.size(), id);
    maps.push_back(row);
    return buildGeneric(
        b, loc, inputs, createFilled(b, loc, rows, type, 0.0), maps, reduceLast,
        [&](OpBuilder &nb, Location nl, ValueRange a) {
          Value value = term(nb, nl, a.drop_back());
          return arith::AddFOp::create(nb, nl, a.back(), value).getResult();
        });
  };
  Value squares = rowSum({h}, [](OpBuilder &nb, Location nl, ValueRange a) {
    return arith::MulFOp::create(nb, nl, a[0], a[0]).getResult();
  });
  // G(z) and G'(z) at one element, from H_ab and ‖H_a‖².
  auto gelu = [&](OpBuilder &nb, Location nl, Value x, Value sumSquares) {
    auto c = [&](double v) { return floatConstant(nb, nl, type, v); };
    Value norm = math::SqrtOp::create(nb, nl, sumSquares);
    Value r = arith::AddFOp::create(nb, nl, norm, c(1e-6));
    Value z = arith::DivFOp::create(
        nb, nl, arith::MulFOp::create(nb, nl, c(2.0), x), r);
    Activated at = geluTanh(nb, nl, z, /*withSlope=*/true);
    return std::make_tuple(norm, r, at.value, at.slope);
  };
  Value weighted = buildGeneric(
      b, loc, {h, dphi, squares}, createFilled(b, loc, rows, type, 0.0),
      {id, id, row, row}, reduceLast,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        auto [norm, r, g, dg] = gelu(nb, nl, a[0], a[2]);
        Value h2 = arith::MulFOp::create(nb, nl, a[0], a[0]);
        Value term = arith::MulFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, a[1], h2), dg);
        return arith::AddFOp::create(nb, nl, a[3], term).getResult();
      });
  return elementwise(
      b, loc, {h, dphi, squares, weighted},
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        auto c = [&](double v) { return floatConstant(nb, nl, type, v); };
        auto [norm, r, g, dg] = gelu(nb, nl, a[0], a[2]);
        Value local = arith::AddFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, c(0.5), g),
            arith::DivFOp::create(nb, nl,
                                  arith::MulFOp::create(nb, nl, a[0], dg), r));
        Value direct = arith::MulFOp::create(nb, nl, a[1], local);
        // A zero row has no norm term (its H_ac are zero).
        Value safeNorm = arith::MaximumFOp::create(nb, nl, norm, c(1e-30));
        Value coupling = arith::DivFOp::create(
            nb, nl, arith::MulFOp::create(nb, nl, a[0], a[3]),
            arith::MulFOp::create(nb, nl, safeNorm,
                                  arith::MulFOp::create(nb, nl, r, r)));
        return arith::SubFOp::create(nb, nl, direct, coupling).getResult();
      },
      {id, id, row, row});
}

/// From the laid-out [B, H, S_pad, ...] back to the operand's positions:
/// the real tokens to where they came from, padding zero.
Value unlayOut(OpBuilder &b, Location loc, Value padded, Value like,
               const std::optional<SequencePacking> &packing, Value mask) {
  auto type = cast<RankedTensorType>(like.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, like);
  Value out;
  if (!packing) {
    out = tensor::ExtractSliceOp::create(
        b, loc, padded, SmallVector<OpFoldResult>(rank, b.getIndexAttr(0)),
        sizes, SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
  } else {
    out = buildParallelGeneric(
        b, loc, {}, {}, createEmpty(b, loc, sizes, type.getElementType()),
        [&](OpBuilder &nb, Location nl, ValueRange) {
          SmallVector<Value> indices;
          for (unsigned d = 0; d < rank; ++d)
            indices.push_back(linalg::IndexOp::create(nb, nl, d));
          indices[2] = tensor::ExtractOp::create(
              nb, nl, packing->scatter, ValueRange{indices[0], indices[2]});
          return tensor::ExtractOp::create(nb, nl, padded, indices).getResult();
        });
  }
  if (mask)
    out = zeroPadded(b, loc, out, 2, mask);
  return tensor::CastOp::create(b, loc, type, out);
}

struct LowerDeltaProductGrad : public OpRewritePattern<DeltaProductGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DeltaProductGradOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getSemantics() != Semantics::Recurrent)
      return failure();
    Location loc = op.getLoc();
    auto qType = cast<RankedTensorType>(op.getQ().getType());
    Type type = qType.getElementType();
    int64_t order = cast<RankedTensorType>(op.getK().getType()).getDimSize(3);
    int64_t headDim = qType.getDimSize(3), chunk = op.getChunkSize();
    bool nonlinear = op.getNonlinear();
    Value mask = op.getMask();
    OpBuilder &b = rewriter;

    Value batch = tensor::DimOp::create(b, loc, op.getQ(), 0);
    Value heads = tensor::DimOp::create(b, loc, op.getQ(), 1);
    // Folded where static (see the forward lowering).
    Value seq = b.createOrFold<tensor::DimOp>(loc, op.getQ(), int64_t(2));
    std::optional<SequencePacking> packing;
    Value lengths;
    if (mask || op.getReverse()) {
      packing = buildSequencePacking(b, loc, mask, batch, seq, op.getReverse());
      lengths = packing->length;
    } else {
      lengths =
          linalg::FillOp::create(
              b, loc, seq,
              createEmpty(b, loc, {OpFoldResult(batch)}, b.getIndexType()))
              .getResult(0);
    }
    Value chunkSize = index(b, loc, chunk);
    Value numChunks = b.createOrFold<arith::CeilDivUIOp>(loc, seq, chunkSize);
    Value paddedSeq = b.createOrFold<arith::MulIOp>(loc, numChunks, chunkSize);
    auto layOut = [&](Value x, double pad) {
      return layOutSequence(b, loc, x, packing, lengths, paddedSeq, pad);
    };
    Operands in;
    in.order = order;
    in.q = layOut(op.getQ(), 0.0);
    in.k = layOut(op.getK(), 0.0);
    in.v = layOut(op.getV(), 0.0);
    in.beta = layOut(op.getBeta(), 0.0);
    in.alpha = op.getAlpha() ? layOut(op.getAlpha(), 1.0) : Value();
    in.dout = layOut(op.getDoutput(), 0.0);

    SmallVector<OpFoldResult> stateSizes = {
        batch, heads, b.getIndexAttr(headDim), b.getIndexAttr(headDim)};
    Value zeroState = createFilled(b, loc, stateSizes, type, 0.0);
    Value zero = index(b, loc, 0), one = index(b, loc, 1);
    // Whether chunk `c` ends at or before each sequence's last real token
    // (φ is applied after it), as a [B] i1 tensor.
    auto fullChunk = [&](OpBuilder &nb, Location nl, Value c) {
      Value end = arith::MulIOp::create(
          nb, nl, arith::AddIOp::create(nb, nl, c, index(nb, nl, 1)),
          index(nb, nl, chunk));
      Value init = createEmpty(nb, nl, {OpFoldResult(batch)}, nb.getI1Type());
      return buildParallelGeneric(
          nb, nl, {lengths}, {identityMap(nb.getContext(), 1)}, init,
          [&](OpBuilder &gb, Location gl, ValueRange a) {
            return arith::CmpIOp::create(gb, gl, arith::CmpIPredicate::ule, end,
                                         a[0])
                .getResult();
          });
    };

    // 1. The state at every chunk start.
    SmallVector<OpFoldResult> startSizes = {numChunks, batch, heads,
                                            b.getIndexAttr(headDim),
                                            b.getIndexAttr(headDim)};
    Value startsInit = createEmpty(b, loc, startSizes, type);
    auto sweep = scf::ForOp::create(
        b, loc, zero, numChunks, one, ValueRange{zeroState, startsInit},
        [&](OpBuilder &cb, Location cl, Value c, ValueRange iters) {
          Value starts = stateInsert(cb, cl, iters[0], iters[1], c);
          Value first = arith::MulIOp::create(cb, cl, c, index(cb, cl, chunk));
          auto tokens = scf::ForOp::create(
              cb, cl, zero, index(cb, cl, chunk), one, ValueRange{iters[0]},
              [&](OpBuilder &tb, Location tl, Value i, ValueRange state) {
                Value t = arith::AddIOp::create(tb, tl, first, i);
                Value s = state[0];
                for (int64_t j = 0; j < order; ++j)
                  s = forwardStep(tb, tl, in, s, t, j);
                scf::YieldOp::create(tb, tl, s);
              });
          Value state = tokens.getResult(0);
          if (nonlinear)
            state = selectRows(cb, cl, fullChunk(cb, cl, c),
                               buildPhi(cb, cl, state), state);
          scf::YieldOp::create(cb, cl, ValueRange{state, starts});
        });
    Value starts = sweep.getResult(1);

    // 2. Chunks in reverse, recomputing each chunk's states.
    Value dq = createFilled(b, loc, getSizes(b, loc, in.q), type, 0.0);
    Value dk = createFilled(b, loc, getSizes(b, loc, in.k), type, 0.0);
    Value dv = createFilled(b, loc, getSizes(b, loc, in.v), type, 0.0);
    Value dbeta = createFilled(b, loc, getSizes(b, loc, in.beta), type, 0.0);
    Value dalpha =
        in.alpha ? createFilled(b, loc, getSizes(b, loc, in.alpha), type, 0.0)
                 : Value();
    SmallVector<Value> inits = {zeroState, dq, dk, dv, dbeta};
    if (dalpha)
      inits.push_back(dalpha);
    SmallVector<OpFoldResult> bufferSizes = {
        b.getIndexAttr(chunk * order + 1), batch, heads,
        b.getIndexAttr(headDim), b.getIndexAttr(headDim)};
    auto backward = scf::ForOp::create(
        b, loc, zero, numChunks, one, inits,
        [&](OpBuilder &cb, Location cl, Value reversed, ValueRange iters) {
          Value c = arith::SubIOp::create(
              cb, cl, arith::SubIOp::create(cb, cl, numChunks, reversed),
              index(cb, cl, 1));
          Value first = arith::MulIOp::create(cb, cl, c, index(cb, cl, chunk));
          // The states before each virtual step of the chunk, and after its
          // last one.
          Value buffer = stateInsert(cb, cl, slicePrefix(cb, cl, starts, c),
                                     createEmpty(cb, cl, bufferSizes, type),
                                     index(cb, cl, 0));
          auto replay = scf::ForOp::create(
              cb, cl, zero, index(cb, cl, chunk), one,
              ValueRange{slicePrefix(cb, cl, starts, c), buffer},
              [&](OpBuilder &tb, Location tl, Value i, ValueRange it) {
                Value t = arith::AddIOp::create(tb, tl, first, i);
                Value s = it[0], states = it[1];
                for (int64_t j = 0; j < order; ++j) {
                  s = forwardStep(tb, tl, in, s, t, j);
                  Value at = arith::AddIOp::create(
                      tb, tl,
                      arith::MulIOp::create(tb, tl, i, index(tb, tl, order)),
                      index(tb, tl, j + 1));
                  states = stateInsert(tb, tl, s, states, at);
                }
                scf::YieldOp::create(tb, tl, ValueRange{s, states});
              });
          Value states = replay.getResult(1);
          Value dS = iters[0];
          if (nonlinear)
            dS = selectRows(cb, cl, fullChunk(cb, cl, c),
                            phiVjp(cb, cl, replay.getResult(0), dS), dS);

          SmallVector<Value> tokenInits = {dS};
          tokenInits.append(iters.begin() + 1, iters.end());
          auto tokens = scf::ForOp::create(
              cb, cl, zero, index(cb, cl, chunk), one, tokenInits,
              [&](OpBuilder &tb, Location tl, Value ri, ValueRange acc) {
                Value i =
                    arith::SubIOp::create(tb, tl, index(tb, tl, chunk - 1), ri);
                Value t = arith::AddIOp::create(tb, tl, first, i);
                Value base =
                    arith::MulIOp::create(tb, tl, i, index(tb, tl, order));
                auto stateAt = [&](int64_t offset) {
                  return slicePrefix(
                      tb, tl, states,
                      arith::AddIOp::create(tb, tl, base, index(tb, tl, offset))
                          .getResult());
                };
                Value dS = acc[0], dqAcc = acc[1], dkAcc = acc[2],
                      dvAcc = acc[3], dbetaAcc = acc[4];
                Value dalphaAcc = dalpha ? acc[5] : Value();
                // o_t = S_(t,n−1)ᵀ q_t.
                Value dOut = tokenSlice(tb, tl, in.dout, t);
                Value qt = tokenSlice(tb, tl, in.q, t);
                dqAcc = tokenInsert(
                    tb, tl, matVec(tb, tl, stateAt(order), dOut), dqAcc, t);
                dS = addOuter(tb, tl, dS, qt, dOut, 1.0);
                Value beta = tokenSlice(tb, tl, in.beta, t);
                Value dbetaToken =
                    createFilled(tb, tl, getSizes(tb, tl, beta), type, 0.0);
                for (int64_t j = order - 1; j >= 0; --j) {
                  Value previous = stateAt(j);
                  Value alpha = in.alpha && j == 0
                                    ? tokenSlice(tb, tl, in.alpha, t)
                                    : Value();
                  Value decayed =
                      alpha ? scaleColumns(tb, tl, previous, alpha) : previous;
                  Value k = tokenSlice(tb, tl, in.k, t, j);
                  Value v = tokenSlice(tb, tl, in.v, t, j);
                  Value kb = mulTensors(tb, tl, beta, k);
                  Value u = elementwise(
                      tb, tl, {beta, v, matTVec(tb, tl, decayed, kb)},
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        Value bv = arith::MulFOp::create(nb, nl, a[0], a[1]);
                        return arith::SubFOp::create(nb, nl, bv, a[2])
                            .getResult();
                      });
                  Value du = matTVec(tb, tl, dS, k);
                  Value w = matVec(tb, tl, decayed, du);
                  // dk = dS u − β ⊙ (S' du); dv = β ⊙ du;
                  // dβ += v ⊙ du − k ⊙ (S' du).
                  Value dkToken = elementwise(
                      tb, tl, {matVec(tb, tl, dS, u), beta, w},
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        return arith::SubFOp::create(
                                   nb, nl, a[0],
                                   arith::MulFOp::create(nb, nl, a[1], a[2]))
                            .getResult();
                      });
                  dkAcc = tokenInsert(tb, tl, dkToken, dkAcc, t, j);
                  dvAcc = tokenInsert(tb, tl, mulTensors(tb, tl, beta, du),
                                      dvAcc, t, j);
                  dbetaToken = elementwise(
                      tb, tl, {dbetaToken, v, du, k, w},
                      [](OpBuilder &nb, Location nl, ValueRange a) {
                        Value plus = arith::MulFOp::create(nb, nl, a[1], a[2]);
                        Value minus = arith::MulFOp::create(nb, nl, a[3], a[4]);
                        return arith::AddFOp::create(
                                   nb, nl, a[0],
                                   arith::SubFOp::create(nb, nl, plus, minus))
                            .getResult();
                      });
                  // dS' = dS − (β ⊙ k) duᵀ, then back through the decay.
                  Value dDecayed = addOuter(tb, tl, dS, kb, du, -1.0);
                  if (alpha) {
                    Value da =
                        einsum(tb, tl, "xyac,xyac->xyc", previous, dDecayed);
                    dalphaAcc = tokenInsert(tb, tl, da, dalphaAcc, t);
                    dS = scaleColumns(tb, tl, dDecayed, alpha);
                  } else {
                    dS = dDecayed;
                  }
                }
                dbetaAcc = tokenInsert(tb, tl, dbetaToken, dbetaAcc, t);
                SmallVector<Value> yields = {dS, dqAcc, dkAcc, dvAcc, dbetaAcc};
                if (dalphaAcc)
                  yields.push_back(dalphaAcc);
                scf::YieldOp::create(tb, tl, yields);
              });
          scf::YieldOp::create(cb, cl, tokens.getResults());
        });

    SmallVector<Value> results = {
        unlayOut(b, loc, backward.getResult(1), op.getQ(), packing, mask),
        unlayOut(b, loc, backward.getResult(2), op.getK(), packing, mask),
        unlayOut(b, loc, backward.getResult(3), op.getV(), packing, mask),
        unlayOut(b, loc, backward.getResult(4), op.getBeta(), packing, mask)};
    if (dalpha)
      results.push_back(unlayOut(b, loc, backward.getResult(5), op.getAlpha(),
                                 packing, mask));
    rewriter.replaceOp(op, results);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// tptt-0.12 semantics
//===----------------------------------------------------------------------===//

/// The offsets and sizes of x[i, j, ...] kept as unit dimensions.
std::pair<SmallVector<OpFoldResult>, SmallVector<OpFoldResult>>
unitPrefix(OpBuilder &b, Location loc, Value x, ValueRange indices) {
  unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  for (auto [dim, value] : llvm::enumerate(indices)) {
    offsets[dim] = value;
    sizes[dim] = b.getIndexAttr(1);
  }
  return {offsets, sizes};
}

/// x[i:i+1, j:j+1, ...]: one (batch, head) with its unit dimensions kept, so
/// that the batched code below runs on it unchanged.
Value unitSlice(OpBuilder &b, Location loc, Value x, ValueRange indices) {
  auto type = cast<RankedTensorType>(x.getType());
  auto [offsets, sizes] = unitPrefix(b, loc, x, indices);
  SmallVector<int64_t> shape(type.getShape());
  for (unsigned d = 0; d < indices.size(); ++d)
    shape[d] = 1;
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sizes, SmallVector<OpFoldResult>(type.getRank(), b.getIndexAttr(1)));
}

/// x with dimension `dim` fixed at `at` and dropped (a rank-reduced slice).
Value sliceAt(OpBuilder &b, Location loc, Value x, unsigned dim,
              OpFoldResult at) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  offsets[dim] = at;
  sizes[dim] = b.getIndexAttr(1);
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + dim);
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), x, offsets,
      sizes, SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
}

/// x[:, :, :, j, :] of [B, H, C, n, d] as [B, H, C, d].
Value virtualSlice(OpBuilder &b, Location loc, Value x, int64_t j) {
  return sliceAt(b, loc, x, 3, b.getIndexAttr(j));
}

/// Inserts `part` [B, H, C, d] at dest[:, :, :, j, :] (virtualSlice's
/// inverse).
Value virtualInsert(OpBuilder &b, Location loc, Value part, Value dest,
                    int64_t j) {
  SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, dest);
  offsets[3] = b.getIndexAttr(j);
  sizes[3] = b.getIndexAttr(1);
  return tensor::InsertSliceOp::create(
      b, loc, part, dest, offsets, sizes,
      SmallVector<OpFoldResult>(5, b.getIndexAttr(1)));
}

/// P [B, H, C, d, d] plus sign · x ⊗ y per position (x, y [B, H, C, d]),
/// with P's columns first scaled by `scale` [B, H, C, d] when given.
Value scaledPlusOuter(OpBuilder &b, Location loc, Value p, Value scale, Value x,
                      Value y, double sign) {
  MLIRContext *ctx = b.getContext();
  SmallVector<Value> inputs = {p, x, y};
  SmallVector<AffineMap> maps = {identityMap(ctx, 5),
                                 projectionMap(ctx, 5, {0, 1, 2, 3}),
                                 projectionMap(ctx, 5, {0, 1, 2, 4})};
  if (scale) {
    inputs.push_back(scale);
    maps.push_back(projectionMap(ctx, 5, {0, 1, 2, 4}));
  }
  return elementwise(
      b, loc, inputs,
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value base = scale
                         ? arith::MulFOp::create(nb, nl, a[0], a[3]).getResult()
                         : a[0];
        Value outer = arith::MulFOp::create(nb, nl, a[1], a[2]);
        if (sign < 0)
          return arith::SubFOp::create(nb, nl, base, outer).getResult();
        return arith::AddFOp::create(nb, nl, base, outer).getResult();
      },
      maps);
}

/// One chunk of the reference arithmetic (§4.3 of the reference note),
/// recomputed for its backward: k, v, beta, alpha [B, H, C, n, d], the
/// incoming state h [B, H, d, d].
struct ReferenceChunk {
  Value kFlat, kBeta, vBeta; // [B, H, N, d]
  Value t;                   // (I + stril(kBeta kᵀ))⁻¹ [B, H, N, N]
  Value w, u;                // T kBeta, T vBeta as [B, H, C, n, d]
  SmallVector<Value> p;      // P before virtual step j (p[n]: after the last)
  SmallVector<Value> r;      // r_j = U_j − Pᵀ W_j [B, H, C, d]
};

ReferenceChunk recomputeReferenceChunk(OpBuilder &b, Location loc, Value k,
                                       Value v, Value beta, Value alpha,
                                       Value h, int64_t order) {
  MLIRContext *ctx = b.getContext();
  ReferenceChunk chunk;
  chunk.kFlat = collapsePair(b, loc, k, 2);
  chunk.kBeta = collapsePair(b, loc, mulTensors(b, loc, k, beta), 2);
  chunk.vBeta = collapsePair(b, loc, mulTensors(b, loc, v, beta), 2);
  chunk.t = buildTrilInverse(
      b, loc, einsum(b, loc, "xymd,xypd->xymp", chunk.kBeta, chunk.kFlat));
  chunk.w =
      splitDim(b, loc, einsum(b, loc, "xymp,xypd->xymd", chunk.t, chunk.kBeta),
               2, order);
  chunk.u =
      splitDim(b, loc, einsum(b, loc, "xymp,xypd->xymd", chunk.t, chunk.vBeta),
               2, order);
  // Every position c restarts from h.
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, h);
  sizes.insert(sizes.begin() + 2, tensor::getMixedSize(b, loc, k, 2));
  Value p = buildParallelGeneric(
      b, loc, {h}, {projectionMap(ctx, 5, {0, 1, 3, 4})},
      createEmpty(b, loc, sizes, elementOf(h)),
      [](OpBuilder &, Location, ValueRange args) { return args[0]; });
  for (int64_t j = 0; j < order; ++j) {
    Value wj = virtualSlice(b, loc, chunk.w, j);
    Value r = subTensors(b, loc, virtualSlice(b, loc, chunk.u, j),
                         einsum(b, loc, "xycae,xyca->xyce", p, wj));
    chunk.p.push_back(p);
    chunk.r.push_back(r);
    Value aj = alpha ? virtualSlice(b, loc, alpha, j) : Value();
    p = scaledPlusOuter(b, loc, p, aj, wj, r, 1.0);
  }
  chunk.p.push_back(p);
  return chunk;
}

/// The cotangents of one chunk's operands and of its incoming state, from
/// the cotangents of its outputs `dout` [B, H, C, d] and of the state it
/// hands on `dnext` [B, H, d, d] (the state of its last position).
struct ReferenceChunkGrads {
  Value dq, dk, dv, dbeta, dalpha; // [B, H, C, n, d]
  Value dh;                        // [B, H, d, d]
};

ReferenceChunkGrads referenceChunkBackward(OpBuilder &b, Location loc,
                                           const ReferenceChunk &chunk, Value q,
                                           Value k, Value v, Value beta,
                                           Value alpha, Value dout, Value dnext,
                                           int64_t order) {
  MLIRContext *ctx = b.getContext();
  Type type = elementOf(q);
  SmallVector<OpFoldResult> expanded = getSizes(b, loc, k);
  Value positions = tensor::DimOp::create(b, loc, k, 2);
  Value last = arith::SubIOp::create(b, loc, positions, index(b, loc, 1));
  // Only the last position's state goes on: dP is dnext there, 0 elsewhere.
  Value dp = createFilled(b, loc, getSizes(b, loc, chunk.p[0]), type, 0.0);
  {
    SmallVector<OpFoldResult> offsets(5, b.getIndexAttr(0));
    SmallVector<OpFoldResult> sizes = getSizes(b, loc, dp);
    offsets[2] = last;
    sizes[2] = b.getIndexAttr(1);
    dp = tensor::InsertSliceOp::create(
        b, loc, dnext, dp, offsets, sizes,
        SmallVector<OpFoldResult>(5, b.getIndexAttr(1)));
  }
  Value dq = createFilled(b, loc, expanded, type, 0.0);
  Value dw = createFilled(b, loc, expanded, type, 0.0);
  Value du = createFilled(b, loc, expanded, type, 0.0);
  Value dalpha = alpha ? createFilled(b, loc, expanded, type, 0.0) : Value();
  for (int64_t j = order - 1; j >= 0; --j) {
    Value pj = chunk.p[j], rj = chunk.r[j];
    Value wj = virtualSlice(b, loc, chunk.w, j);
    // P_{j+1} = P_j diag(α_j) + w_j r_jᵀ.
    Value dr = einsum(b, loc, "xycae,xyca->xyce", dp, wj);
    Value dwj = einsum(b, loc, "xycae,xyce->xyca", dp, rj);
    Value aj = alpha ? virtualSlice(b, loc, alpha, j) : Value();
    if (alpha) {
      dalpha = virtualInsert(
          b, loc, einsum(b, loc, "xycae,xycae->xyce", pj, dp), dalpha, j);
      dp = elementwise(
          b, loc, {dp, aj},
          [](OpBuilder &nb, Location nl, ValueRange a) {
            return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
          },
          {identityMap(ctx, 5), projectionMap(ctx, 5, {0, 1, 2, 4})});
    }
    // y = P_jᵀ q + q ⊙ r_j is read at the last virtual token only.
    if (j == order - 1) {
      Value qj = virtualSlice(b, loc, q, j);
      dq = virtualInsert(
          b, loc,
          addTensors(b, loc, einsum(b, loc, "xycae,xyce->xyca", pj, dout),
                     mulTensors(b, loc, dout, rj)),
          dq, j);
      dr = addTensors(b, loc, dr, mulTensors(b, loc, dout, qj));
      dp = scaledPlusOuter(b, loc, dp, Value(), qj, dout, 1.0);
    }
    // r_j = U_j − P_jᵀ w_j.
    du = virtualInsert(b, loc, dr, du, j);
    dp = scaledPlusOuter(b, loc, dp, Value(), wj, dr, -1.0);
    dwj = subTensors(b, loc, dwj, einsum(b, loc, "xycae,xyce->xyca", pj, dr));
    dw = virtualInsert(b, loc, dwj, dw, j);
  }
  ReferenceChunkGrads grads;
  grads.dq = dq;
  grads.dalpha = dalpha;
  // Every position started from h.
  SmallVector<OpFoldResult> stateSizes = getSizes(b, loc, dnext);
  SmallVector<utils::IteratorType> sumPositions(5,
                                                utils::IteratorType::parallel);
  sumPositions[2] = utils::IteratorType::reduction;
  grads.dh = buildGeneric(
      b, loc, {dp}, createFilled(b, loc, stateSizes, type, 0.0),
      {identityMap(ctx, 5), projectionMap(ctx, 5, {0, 1, 3, 4})}, sumPositions,
      [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::AddFOp::create(nb, nl, a[1], a[0]).getResult();
      });

  // W = T kβ, U = T vβ, T = (I + stril(kβ kᵀ))⁻¹.
  Value dwFlat = collapsePair(b, loc, dw, 2);
  Value duFlat = collapsePair(b, loc, du, 2);
  Value dt =
      addTensors(b, loc, einsum(b, loc, "xymd,xypd->xymp", dwFlat, chunk.kBeta),
                 einsum(b, loc, "xymd,xypd->xymp", duFlat, chunk.vBeta));
  Value dkBeta = einsum(b, loc, "xypm,xypd->xymd", chunk.t, dwFlat);
  Value dvBeta = einsum(b, loc, "xypm,xypd->xymd", chunk.t, duFlat);
  // d stril(M) = −stril(Tᵀ dT Tᵀ).
  Value tdt = einsum(b, loc, "xyzm,xyzp->xymp", chunk.t, dt);
  Value full = einsum(b, loc, "xymz,xypz->xymp", tdt, chunk.t);
  Value dm = buildParallelGeneric(
      b, loc, {full}, {identityMap(ctx, 4)},
      createEmpty(b, loc, getSizes(b, loc, full), type),
      [&](OpBuilder &nb, Location nl, ValueRange a) {
        Value row = linalg::IndexOp::create(nb, nl, 2);
        Value column = linalg::IndexOp::create(nb, nl, 3);
        Value below = arith::CmpIOp::create(nb, nl, arith::CmpIPredicate::ugt,
                                            row, column);
        return arith::SelectOp::create(nb, nl, below,
                                       arith::NegFOp::create(nb, nl, a[0]),
                                       floatConstant(nb, nl, type, 0.0))
            .getResult();
      });
  dkBeta = addTensors(b, loc, dkBeta,
                      einsum(b, loc, "xymp,xypd->xymd", dm, chunk.kFlat));
  Value dkFlat = einsum(b, loc, "xymp,xymd->xypd", dm, chunk.kBeta);
  Value dkb = splitDim(b, loc, dkBeta, 2, order);
  Value dvb = splitDim(b, loc, dvBeta, 2, order);
  // kβ = k ⊙ β, vβ = v ⊙ β.
  grads.dk = addTensors(b, loc, splitDim(b, loc, dkFlat, 2, order),
                        mulTensors(b, loc, dkb, beta));
  grads.dv = mulTensors(b, loc, dvb, beta);
  grads.dbeta = addTensors(b, loc, mulTensors(b, loc, dkb, k),
                           mulTensors(b, loc, dvb, v));
  return grads;
}

/// The VJP of the tptt-0.12 operator: per (batch, head) in parallel, a
/// forward sweep over the reference's chunks keeps the state entering each
/// (from the 1e-6 fill), then the chunks are walked last to first with the
/// cotangent of the state handed on, each chunk recomputed from its
/// incoming state (its per-position restarts make its states transient).
struct LowerReferenceDeltaProductGrad
    : public OpRewritePattern<DeltaProductGradOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DeltaProductGradOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getSemantics() != Semantics::Tptt012)
      return failure();
    Location loc = op.getLoc();
    OpBuilder &b = rewriter;
    auto kType = cast<RankedTensorType>(op.getK().getType());
    Type type = kType.getElementType();
    int64_t order = kType.getDimSize(3), headDim = kType.getDimSize(4);
    Value batch = tensor::DimOp::create(b, loc, op.getK(), 0);
    Value heads = tensor::DimOp::create(b, loc, op.getK(), 1);
    Value seq = tensor::DimOp::create(b, loc, op.getK(), 2);

    // The reversed run flips the whole token axis, an involution.
    std::optional<SequencePacking> reversal;
    if (op.getReverse())
      reversal = buildSequencePacking(b, loc, Value(), batch, seq,
                                      /*reverse=*/true);
    auto orient = [&](Value x) {
      return reversal ? gatherSequence(b, loc, x, 2, reversal->gather) : x;
    };
    SmallVector<Value> operands = {orient(op.getQ()), orient(op.getK()),
                                   orient(op.getV()), orient(op.getBeta()),
                                   orient(op.getDoutput())};
    if (op.getAlpha())
      operands.push_back(orient(op.getAlpha()));
    bool hasAlpha = static_cast<bool>(op.getAlpha());
    Value chunk = referenceChunk(b, loc, seq, op.getChunkSize());
    Value numChunks = arith::DivUIOp::create(b, loc, seq, chunk);

    SmallVector<Value> inits;
    for (Value x : {operands[0], operands[1], operands[2], operands[3]})
      inits.push_back(createEmpty(b, loc, getSizes(b, loc, x), type));
    if (hasAlpha)
      inits.push_back(createEmpty(b, loc, getSizes(b, loc, operands[5]), type));

    auto forall = scf::ForallOp::create(
        b, loc, ArrayRef<OpFoldResult>{batch, heads}, inits, std::nullopt,
        [&](OpBuilder &fb, Location fl, ValueRange args) {
          ValueRange bh = args.take_front(2);
          SmallVector<Value> own;
          for (Value x : operands)
            own.push_back(unitSlice(fb, fl, x, bh));
          Value q = own[0], k = own[1], v = own[2], beta = own[3];
          Value dout = own[4], alpha = hasAlpha ? own[5] : Value();
          SmallVector<OpFoldResult> stateSizes = {
              fb.getIndexAttr(1), fb.getIndexAttr(1), fb.getIndexAttr(headDim),
              fb.getIndexAttr(headDim)};
          Value zero = index(fb, fl, 0), one = index(fb, fl, 1);
          auto rows = [&](OpBuilder &rb, Location rl, Value x, Value nc) {
            if (!x)
              return Value();
            Value start = arith::MulIOp::create(rb, rl, nc, chunk);
            return sliceDim(rb, rl, x, 2, start, chunk);
          };
          auto recompute = [&](OpBuilder &rb, Location rl, Value nc, Value h) {
            return recomputeReferenceChunk(
                rb, rl, rows(rb, rl, k, nc), rows(rb, rl, v, nc),
                rows(rb, rl, beta, nc), rows(rb, rl, alpha, nc), h, order);
          };
          auto handedOn = [&](OpBuilder &rb, Location rl,
                              const ReferenceChunk &c) {
            Value positions = tensor::DimOp::create(rb, rl, c.p.back(), 2);
            return sliceAt(
                rb, rl, c.p.back(), 2,
                arith::SubIOp::create(rb, rl, positions, index(rb, rl, 1))
                    .getResult());
          };

          // 1. The state entering every chunk.
          SmallVector<OpFoldResult> allStates = {numChunks};
          allStates.append(stateSizes);
          Value h0 = createFilled(fb, fl, stateSizes, type, 1e-6);
          auto sweep = scf::ForOp::create(
              fb, fl, zero, numChunks, one,
              ValueRange{h0, createEmpty(fb, fl, allStates, type)},
              [&](OpBuilder &lb, Location ll, Value nc, ValueRange iters) {
                Value states = stateInsert(lb, ll, iters[0], iters[1], nc);
                Value next = handedOn(lb, ll, recompute(lb, ll, nc, iters[0]));
                if (op.getNonlinear())
                  next = buildPhi(lb, ll, next);
                scf::YieldOp::create(lb, ll, ValueRange{next, states});
              });
          Value states = sweep.getResult(1);

          // 2. The chunks last to first.
          SmallVector<Value> accumulators = {
              createFilled(fb, fl, stateSizes, type, 0.0)};
          for (Value x : {q, k, v, beta})
            accumulators.push_back(
                createEmpty(fb, fl, getSizes(fb, fl, x), type));
          if (alpha)
            accumulators.push_back(
                createEmpty(fb, fl, getSizes(fb, fl, alpha), type));
          auto backward = scf::ForOp::create(
              fb, fl, zero, numChunks, one, accumulators,
              [&](OpBuilder &lb, Location ll, Value i, ValueRange iters) {
                Value nc = arith::SubIOp::create(
                    lb, ll, arith::SubIOp::create(lb, ll, numChunks, i),
                    index(lb, ll, 1));
                Value h = slicePrefix(lb, ll, states, nc);
                ReferenceChunk c = recompute(lb, ll, nc, h);
                Value dnext = iters[0];
                if (op.getNonlinear())
                  dnext = phiVjp(lb, ll, handedOn(lb, ll, c), dnext);
                ReferenceChunkGrads g = referenceChunkBackward(
                    lb, ll, c, rows(lb, ll, q, nc), rows(lb, ll, k, nc),
                    rows(lb, ll, v, nc), rows(lb, ll, beta, nc),
                    rows(lb, ll, alpha, nc), rows(lb, ll, dout, nc), dnext,
                    order);
                Value start = arith::MulIOp::create(lb, ll, nc, chunk);
                SmallVector<Value> yields = {g.dh};
                SmallVector<Value> parts = {g.dq, g.dk, g.dv, g.dbeta};
                if (alpha)
                  parts.push_back(g.dalpha);
                for (auto [part, acc] :
                     llvm::zip_equal(parts, iters.drop_front()))
                  yields.push_back(insertDim(lb, ll, part, acc, 2, start));
                scf::YieldOp::create(lb, ll, yields);
              });

          SmallVector<Value> results(backward.getResults().drop_front());
          SmallVector<
              std::pair<SmallVector<OpFoldResult>, SmallVector<OpFoldResult>>>
              places;
          for (auto [result, dest] :
               llvm::zip_equal(results, args.drop_front(2)))
            places.push_back(unitPrefix(fb, fl, dest, bh));
          auto inParallel = scf::InParallelOp::create(fb, fl);
          OpBuilder::InsertionGuard guard(fb);
          fb.setInsertionPointToStart(inParallel.getBody());
          for (auto [result, dest, place] :
               llvm::zip_equal(results, args.drop_front(2), places))
            tensor::ParallelInsertSliceOp::create(
                fb, fl, result, dest, place.first, place.second,
                SmallVector<OpFoldResult>(
                    cast<RankedTensorType>(dest.getType()).getRank(),
                    fb.getIndexAttr(1)));
        });
    SmallVector<Value> grads;
    for (Value grad : forall.getResults())
      grads.push_back(orient(grad));
    replaceOpWithCasts(rewriter, op, grads);
    return success();
  }
};

} // namespace

void mlir::tptt::populateDeltaProductGradLoweringPatterns(
    RewritePatternSet &patterns, const TpttToLinalgOptions &) {
  patterns.add<LowerDeltaProductGrad, LowerReferenceDeltaProductGrad>(
      patterns.getContext());
}

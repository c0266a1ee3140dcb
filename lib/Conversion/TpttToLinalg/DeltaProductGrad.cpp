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

Value mulT(OpBuilder &b, Location loc, Value x, Value y) {
  return elementwise(
      b, loc, {x, y}, [](OpBuilder &nb, Location nl, ValueRange a) {
        return arith::MulFOp::create(nb, nl, a[0], a[1]).getResult();
      });
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
  Value read = matTVec(b, loc, decayed, mulT(b, loc, beta, k));
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
    Value z2 = arith::MulFOp::create(nb, nl, z, z);
    Value inner = arith::MulFOp::create(
        nb, nl, c(std::sqrt(2.0 / M_PI)),
        arith::AddFOp::create(
            nb, nl, z,
            arith::MulFOp::create(nb, nl, c(0.044715),
                                  arith::MulFOp::create(nb, nl, z2, z))));
    Value th = math::TanhOp::create(nb, nl, inner);
    Value onePlus = arith::AddFOp::create(nb, nl, c(1.0), th);
    Value g = arith::MulFOp::create(
        nb, nl, arith::MulFOp::create(nb, nl, c(0.5), z), onePlus);
    Value sech2 = arith::SubFOp::create(nb, nl, c(1.0),
                                        arith::MulFOp::create(nb, nl, th, th));
    Value dinner = arith::MulFOp::create(
        nb, nl, c(std::sqrt(2.0 / M_PI)),
        arith::AddFOp::create(
            nb, nl, c(1.0),
            arith::MulFOp::create(nb, nl, c(3.0 * 0.044715), z2)));
    Value dg = arith::AddFOp::create(
        nb, nl, arith::MulFOp::create(nb, nl, c(0.5), onePlus),
        arith::MulFOp::create(nb, nl, arith::MulFOp::create(nb, nl, c(0.5), z),
                              arith::MulFOp::create(nb, nl, sech2, dinner)));
    return std::make_tuple(norm, r, g, dg);
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
    Value seq = tensor::DimOp::create(b, loc, op.getQ(), 2);
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
    Value numChunks = arith::CeilDivUIOp::create(b, loc, seq, chunkSize);
    Value paddedSeq = arith::MulIOp::create(b, loc, numChunks, chunkSize);
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
                  Value kb = mulT(tb, tl, beta, k);
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
                  dvAcc =
                      tokenInsert(tb, tl, mulT(tb, tl, beta, du), dvAcc, t, j);
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

} // namespace

void mlir::tptt::populateDeltaProductGradLoweringPatterns(
    RewritePatternSet &patterns, const TpttToLinalgOptions &) {
  patterns.add<LowerDeltaProductGrad>(patterns.getContext());
}

//===- Utils.h - Helpers shared by the tptt-to-linalg patterns --*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_LIB_CONVERSION_TPTTTOLINALG_UTILS_H
#define TPTT_LIB_CONVERSION_TPTTTOLINALG_UTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Utils/StructuredOpsUtils.h"
#include "mlir/IR/Builders.h"
#include "tptt/Dialect/Tptt/IR/TpttAttrs.h"

#include <optional>

namespace mlir {
namespace tptt {
namespace lowering {

/// Body of a linalg.generic: receives the block arguments (inputs, then the
/// output's current value) and returns the value to yield.
using GenericBody =
    llvm::function_ref<Value(OpBuilder &, Location, ValueRange)>;

/// The sizes of `value` (a ranked tensor) as index values or attributes.
SmallVector<OpFoldResult> getSizes(OpBuilder &b, Location loc, Value value);

/// A tensor.empty of `sizes` and `elementType`.
Value createEmpty(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

/// A tensor of `sizes` filled with `value` (of `elementType`).
Value createFilled(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Type elementType, double value);

/// A constant of float type `type`.
Value floatConstant(OpBuilder &b, Location loc, Type type, double value);

/// A linalg.generic with all-parallel iterators over the dimensions of
/// `init`: input i is read through `inputMaps[i]`, the output through the
/// identity. Returns the result tensor.
Value buildParallelGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                           ArrayRef<AffineMap> inputMaps, Value init,
                           GenericBody body);

/// An elementwise linalg.generic over `inputs` (all of one shape, read
/// through the identity) into a new tensor of that shape and the element
/// type of the first input. Returns the result tensor.
Value buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                       GenericBody body);

/// A linalg.generic with arbitrary iterators; `maps` lists the input maps
/// then the output map.
Value buildGeneric(OpBuilder &b, Location loc, ValueRange inputs, Value init,
                   ArrayRef<AffineMap> maps,
                   ArrayRef<utils::IteratorType> iterators, GenericBody body);

/// The identity map of `rank` dimensions.
AffineMap identityMap(MLIRContext *ctx, unsigned rank);

/// The projection of `rank` loop dimensions onto `dims` (in that order).
AffineMap projectionMap(MLIRContext *ctx, unsigned rank,
                        ArrayRef<unsigned> dims);

/// Converts a scalar float `value` to `type` (extension or truncation).
Value castFloat(OpBuilder &b, Location loc, Value value, Type type);

/// σ(x) = 1 / (1 + exp(−x)).
Value sigmoid(OpBuilder &b, Location loc, Value x);

/// An activation at a scalar, and its derivative (built only when asked
/// for).
struct Activated {
  Value value;
  Value slope;
};

/// The tanh approximation of GELU at a scalar z, and its derivative:
/// G(z) = ½ z (1 + t), t = tanh(√(2/π) (z + 0.044715 z³)),
/// G'(z) = ½ (1 + t) + ½ z (1 − t²) √(2/π) (1 + 3 · 0.044715 z²).
Activated geluTanh(OpBuilder &b, Location loc, Value z, bool withSlope);

/// A gated MLP's `activation` at a scalar x: silu(x) = x σ(x), with
/// silu'(x) = σ (1 + x (1 − σ)), or the tanh GELU.
Activated gluActivation(OpBuilder &b, Location loc, Activation activation,
                        Value x, bool withSlope);

/// Soft-capping at a scalar x with the cap c: c · tanh(x / c), and its
/// derivative 1 − tanh²(x / c).
Activated softCap(OpBuilder &b, Location loc, Value x, double cap,
                  bool withSlope);

/// Swaps the last two dimensions of `x` (so that a product with xᵀ streams
/// contiguous rows, see einsum).
Value transposeLast2(OpBuilder &b, Location loc, Value x);

/// A contraction in einsum notation, e.g. "mk,kn->mn" (A B): the output
/// letters are parallel loops, the others reductions; the result (zero
/// initialized, in the element type of `lhs`) accumulates lhs · rhs. The
/// last output letter is the innermost loop: give operands whose last
/// dimension it is (transpose first) for contiguous, vectorizable loops.
Value einsum(OpBuilder &b, Location loc, StringRef spec, Value lhs, Value rhs);

/// acc + lhs · rhs for the contraction `spec` (as einsum), accumulated into
/// `acc` itself, so that it bufferizes in place and needs no zero fill.
Value einsumInto(OpBuilder &b, Location loc, StringRef spec, Value lhs,
                 Value rhs, Value acc);

/// The `dt` coefficients c_k = (−1)^k C(n−1, k) / 2^{n−1}, k = 0..n−1 (exact
/// in binary floating point, as the reference's float32 buffer).
SmallVector<double> dtCoefficients(int64_t order);

/// cos θ_j and sin θ_j for θ_j = j · fl32(2π/n), as the reference computes
/// them: the angle in float32 and its cosine and sine rounded to float32.
std::pair<SmallVector<double>, SmallVector<double>>
rotationTable(int64_t order);

/// A constant 1-D tensor of `values` in `elementType`, read by index.
Value constantTable(OpBuilder &b, Location loc, ArrayRef<double> values,
                    Type elementType);

/// Collapses dimensions [first, first + 1] of `x` into one.
Value collapsePair(OpBuilder &b, Location loc, Value x, unsigned first);

/// Splits dimension `dim` of `x` into [size / inner, inner] (inner static).
Value splitDim(OpBuilder &b, Location loc, Value x, unsigned dim,
               int64_t inner);

/// T = (I + L)⁻¹ from the strictly lower part of L [..., N, N], by the
/// reference's row recursion: X_{i,:} = a_i + a_i X with a_i = −stril(L)_{i,:}
/// (rows of X at and after i are still zero), then T = I + X.
Value buildTrilInverse(OpBuilder &b, Location loc, Value l);

/// The same T for a static 2-D L whose size N is a multiple of 16 above 16
/// (else as buildTrilInverse), in fewer dependent steps: the 16 × 16
/// diagonal blocks are inverted together (16 steps of the row recursion,
/// batched over the blocks), then each block row below them follows from
/// those above it, T_i,<i = −T_ii (L_i,<i T_<i,<i) (N/16 − 1 steps of two
/// matrix products, which the CUDA target runs on tensor cores). Exact in
/// exact arithmetic; in floating point it sums in another order.
Value buildBlockedTrilInverse(OpBuilder &b, Location loc, Value l);

/// The tptt-0.12 chunk length: the largest C <= min(maxChunk, S) dividing
/// S, or 1 when there is none.
Value referenceChunk(OpBuilder &b, Location loc, Value seq, int64_t maxChunk);

/// lhs + rhs, lhs − rhs and lhs ⊙ rhs elementwise (operands of one shape).
Value addTensors(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value subTensors(OpBuilder &b, Location loc, Value lhs, Value rhs);
Value mulTensors(OpBuilder &b, Location loc, Value lhs, Value rhs);

/// Casts every element of `x` to `elementType` (x itself when it has it).
Value castTensor(OpBuilder &b, Location loc, Value x, Type elementType);

/// Replaces `op` by `values`, each cast (tensor.cast) to the static shape of
/// the result it replaces where the two types differ.
void replaceOpWithCasts(RewriterBase &rewriter, Operation *op,
                        ValueRange values);

/// q [B, H, S, d] → [B, Hkv, g, S, d]: the query heads grouped by the KV head
/// that serves them (g = H / Hkv).
Value groupQueryHeads(OpBuilder &b, Location loc, Value q, int64_t kvHeads);

/// The probabilities P [B, Hkv, g, S, T] of tptt.attention for grouped
/// queries `q` (groupQueryHeads) and keys `k` [B, Hkv, T, d]: softmax over
/// the visible keys of scale · q·k (causal with the queries the last S of
/// T positions, the optional `window`, the optional key `mask` [B, T]);
/// zero where a key is not visible.
Value attentionProbabilities(OpBuilder &b, Location loc, Value q, Value k,
                             Value mask, std::optional<uint64_t> window,
                             double scale);

/// The query rows per block of the attention lowerings: a block's
/// probabilities are [B, Hkv, g, 64, keys], so memory grows linearly in the
/// sequence.
constexpr int64_t kAttentionBlock = 64;

/// One block of query rows [rowStart, rowStart + rows) of an attention and
/// the keys [keyStart, keyStart + keys) it can see (causal, and inside the
/// window when there is one), sliced: q [B, Hkv, g, rows, c], k and v
/// [B, Hkv, keys, c], mask [B, keys] (null without one). The block's
/// queries are the last `rows` positions of its keys, as
/// attentionProbabilities expects.
struct AttentionBlock {
  Value rowStart, rows, keyStart, keys;
  Value q, k, v, mask;
};

/// Loops over the blocks of kAttentionBlock query rows of grouped queries
/// `q` [B, Hkv, g, S, c] against `k`, `v` [B, Hkv, T, c] (the queries the
/// last S of T positions), carrying `inits`: `body` returns the next values
/// of the carried tensors. Returns their final values.
SmallVector<Value> forEachAttentionBlock(
    OpBuilder &b, Location loc, Value q, Value k, Value v, Value mask,
    std::optional<uint64_t> window, ValueRange inits,
    function_ref<SmallVector<Value>(OpBuilder &, Location,
                                    const AttentionBlock &, ValueRange)>
        body);

/// x with the rows [start, start + count) of dimension `dim` (a slice of
/// the same rank).
Value sliceDim(OpBuilder &b, Location loc, Value x, unsigned dim, Value start,
               Value count);

/// dest with `part` written at `start` along dimension `dim` (the inverse of
/// sliceDim).
Value insertDim(OpBuilder &b, Location loc, Value part, Value dest,
                unsigned dim, Value start);

/// How the sequences of a batch are packed: for a [B, S] padding mask (and/or
/// a reversal of the real tokens), `gather[b, i]` is the original position of
/// packed position i, `scatter[b, t]` the packed position of original
/// position t, and `length[b]` the number of real tokens. Packed positions
/// i >= length[b] hold padding (gather = 0).
struct SequencePacking {
  Value gather;  // tensor<BxSxindex>
  Value scatter; // tensor<BxSxindex>
  Value length;  // tensor<Bxindex>
};

/// Computes the packing of the real tokens of `mask` ([B, S] i1; null means
/// every token is real), reversed when `reverse` is set.
SequencePacking buildSequencePacking(OpBuilder &b, Location loc, Value mask,
                                     Value batch, Value seq, bool reverse);

/// Reorders dimension `seqDim` of `x` (batch on dimension 0) with an index
/// table [B, S]: result[..., i, ...] = x[..., table[b, i], ...].
Value gatherSequence(OpBuilder &b, Location loc, Value x, unsigned seqDim,
                     Value table);

/// Zeroes the positions of `x` (batch 0, sequence `seqDim`) whose mask is 0.
Value zeroPadded(OpBuilder &b, Location loc, Value x, unsigned seqDim,
                 Value mask);

/// Extracts x[indices..., :, ...] dropping the leading `indices.size()` unit
/// dimensions (a rank-reduced slice).
Value slicePrefix(OpBuilder &b, Location loc, Value x, ValueRange indices);

/// φ(H)_ab = (H_ab/2) · GELU_tanh(2 H_ab / (‖H_a,:‖₂ + 1e-6)), row-wise over
/// the last axis.
Value buildPhi(OpBuilder &b, Location loc, Value h);

/// Lays out x [B, H, S, ...] for the operator's chunk loop: [B, H, S_pad,
/// ...] where position t holds the t-th real token of its sequence
/// (`packing`, or position t itself without one) while t < length[b], and
/// `padValue` elsewhere (including the padding up to `paddedSeq`); x itself
/// when there is no packing and `paddedSeq` is x's static length.
Value layOutSequence(OpBuilder &b, Location loc, Value x,
                     const std::optional<SequencePacking> &packing,
                     Value lengths, Value paddedSeq, double padValue);

} // namespace lowering
} // namespace tptt
} // namespace mlir

#endif // TPTT_LIB_CONVERSION_TPTTTOLINALG_UTILS_H

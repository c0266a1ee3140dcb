//===- LizaBuilders.h - Build LiZA pieces from tptt ops ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The linear and softmax branches of a LiZA layer as sequences of tptt ops.
// Shared by tptt-decompose-liza-attention, the golden mode of tptt-run and
// the model importer, so that all of them build exactly the same IR.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_TRANSFORMS_LIZABUILDERS_H
#define TPTT_DIALECT_TPTT_TRANSFORMS_LIZABUILDERS_H

#include "mlir/IR/Builders.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"

namespace mlir {
namespace tptt {

/// The configuration of a LiZA linear branch (TpttConfig's recurrent_config
/// plus the head geometry).
struct LinearBranchOptions {
  int64_t numHeads = 1;
  int64_t numKvHeads = 1;
  int64_t order = 1;
  Trick trick = Trick::DT;
  GateKind alphaGate = GateKind::C;
  GateKind betaGate = GateKind::K;
  bool nonlinear = false;
  int64_t chunkSize = 64;
  Semantics semantics = Semantics::Recurrent;
  bool bidirectional = false;
  /// linear_precision: the type of gates, features, state and output before
  /// the RMS step. A type narrower than f32 (bf16, f16) is a storage type:
  /// q̂, k̂, v̂, the gates and the operator's output are rounded to it, while
  /// the state and every sum stay f32 (recurrent semantics only).
  FloatType linearType;

  /// The type the branch computes in: linearType, or f32 when it is
  /// narrower.
  FloatType computeType() const;

  /// The linear branch of a tptt.liza_attention.
  static LinearBranchOptions of(LizaAttentionOp op);
};

/// A tptt.liza_attention whose linear branch is `options`, on the
/// projected q/k/v with the layer's RoPE tables, μ, o_proj (`oWeight`
/// [out, in], or [in, out] with `transposedOWeight`; `oBias` and `mask` may
/// be null) and softmax `window` (may be null): the op that
/// LinearBranchOptions::of reads back.
LizaAttentionOp buildLizaAttention(OpBuilder &b, Location loc, Type type,
                                   const LinearBranchOptions &options, Value q,
                                   Value k, Value v, Value cos, Value sin,
                                   Value mu, Value oWeight, Value oBias,
                                   Value mask, bool crossGate,
                                   bool baseScaleAttn, IntegerAttr window,
                                   bool transposedOWeight);

/// Builds the linear branch on the projected `q` [B, S, H·d], `k`, `v`
/// [B, S, Hkv·d]: gates, feature map, virtual tokens, the operator (both
/// directions when bidirectional), and the head merge with RMS
/// normalisation. Returns [B, S, H·d] in the element type of `q` (o_proj is
/// not applied). `mask` ([B, S] i1, may be null) follows the semantics:
/// v ⊙ m before the gates under tptt-0.12, packed sequences under recurrent.
/// When `finalState` is given (forward only), it receives the operator's
/// state after each sequence's last real token [B, H, d, d].
Value buildLinearBranch(OpBuilder &b, Location loc,
                        const LinearBranchOptions &options, Value q, Value k,
                        Value v, Value mask, Value *finalState = nullptr);

/// The rows of raw k/v a decode step of the linear branch looks at: the new
/// token and the ones before it that the gate pool (3 taps) and the
/// virtual-token lags (n − 1) reach.
int64_t linearStepWindow(int64_t order);

/// The result of one decode step of the linear branch.
struct LinearStep {
  /// [B, 1, H·d] in the element type of `q`, before o_proj.
  Value merged;
  /// [B, H, d, d] in the linear precision.
  Value state;
};

/// Builds one recurrent decode step of the linear branch for the new token
/// q [B, 1, H·d], from the raw key/value rows `kWindow`, `vWindow`
/// [B, W, Hkv·d] (W = linearStepWindow(order), the new token last) and
/// `windowMask` [B, W] (i1: which rows are real tokens of the sequence, so
/// that short prefixes pool and lag exactly as the full sequence does), the
/// state before the token [B, H, d, d] and the token's index `position` [B]
/// (i64) among its sequence's real tokens. Only the `recurrent` semantics
/// has steps.
LinearStep buildLinearStep(OpBuilder &b, Location loc,
                           const LinearBranchOptions &options, Value q,
                           Value kWindow, Value vWindow, Value windowMask,
                           Value state, Value position);

/// Builds the softmax branch on the projected `q` [B, S, H·d], `k`, `v`
/// [B, S, Hkv·d]: heads split, RoPE with `cos`, `sin` [B, S, d] on q and k,
/// causal attention with GQA (`mask` [B, S] i1, `window` and `scale` — 1/√d
/// when null — may be null), heads merged back. Returns [B, S, H·d] (o_proj
/// is not applied).
/// When `keyCache` / `valueCache` are given they receive the keys after
/// RoPE and the values, [B, Hkv, S, d] (what a decode step's KV cache holds).
Value buildSoftmaxBranch(OpBuilder &b, Location loc, Value q, Value k, Value v,
                         Value cos, Value sin, int64_t numHeads,
                         int64_t numKvHeads, Value mask, IntegerAttr window,
                         FloatAttr scale, Value *keyCache = nullptr,
                         Value *valueCache = nullptr);

} // namespace tptt
} // namespace mlir

#endif // TPTT_DIALECT_TPTT_TRANSFORMS_LIZABUILDERS_H

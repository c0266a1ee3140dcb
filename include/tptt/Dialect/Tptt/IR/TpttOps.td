//===- TpttOps.td - tptt operations ------------------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTOPS_TD
#define TPTT_DIALECT_TPTT_IR_TPTTOPS_TD

include "tptt/Dialect/Tptt/IR/TpttBase.td"
include "tptt/Dialect/Tptt/IR/TpttAttrs.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/SymbolInterfaces.td"
include "tptt/Dialect/Tptt/IR/TpttInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def Tptt_FloatTensor : RankedTensorOf<[AnyFloat]>;
def Tptt_MaskTensor : 2DTensorOf<[I1]>;
def Tptt_PositionTensor : 1DTensorOf<[I64]>;
def Tptt_ScalarTensor : 0DTensorOf<[AnyFloat]>;

//===----------------------------------------------------------------------===//
// Gates
//===----------------------------------------------------------------------===//

def Tptt_CausalMeanOp : Tptt_Op<"causal_mean",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "causal mean over the sequence axis with left replicate padding";
  let description = [{
    The fixed pooling that feeds the LiZA gates: a depthwise causal mean of
    `width` taps over the sequence axis (axis 1) of `input` [B, S, F],
    left-padded by replicating the first token:

        p_t = (1/width) · Σ_{i=0}^{width−1} x_{max(t−i, 0)}

    For the default width 3: p₀ = x₀, p₁ = (2x₀ + x₁)/3 and
    p_t = (x_{t−2} + x_{t−1} + x_t)/3.

    `history` [B, width−1, F], when present, holds the raw rows that precede
    the sequence (oldest first) and replaces the replicate padding; a decode
    step passes the last `width−1` rows of the prefix here. A prefix shorter
    than `width−1` tokens is stored replicate-padded, so both forms agree.

    `mask` [B, S] (1 = real token), when present, gives the `recurrent`
    semantics of padding: each sequence is pooled as if alone and unpadded
    (the window runs over real tokens only; the result at padded positions
    is unspecified).

    ```mlir
    %p = tptt.causal_mean %x : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
    %q = tptt.causal_mean %x history %h mask %m
        : (tensor<?x?x16xf32>, tensor<?x2x16xf32>, tensor<?x?xi1>) -> tensor<?x?x16xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input,
                       Optional<Tptt_FloatTensor>:$history,
                       Optional<Tptt_MaskTensor>:$mask,
                       DefaultValuedAttr<I64Attr, "3">:$width);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`history` $history^)? (`mask` $mask^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_GatesOp : Tptt_Op<"gates", [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "LiZA decay (α) and write-strength (β) gates";
  let description = [{
    Computes the per-channel gates of the linear branch from the raw
    (pre-feature-map) key and value projections `k`, `v` [B, S, Hkv·d]:

        f = σ(causal_mean(k)),   w = σ(causal_mean(v))     (width 3)

    then maps each gate code to a d-vector per token and head:

    | code | gate |
    |---|---|
    | `k`  | f |
    | `v`  | w |
    | `kv` | f ⊙ w |
    | `c`  | α = 1, β = 0.5 (constants) |

    The results `alpha`, `beta` [B, H, S, d] split the heads and repeat each
    KV head for its `g = H/Hkv` query heads (KV head ⌊h/g⌋ serves query head
    h). Their element type is the linear-branch precision.

    `k_history`, `v_history` [B, 2, Hkv·d] carry the two raw rows before the
    sequence for decode (see `tptt.causal_mean`); `mask` [B, S] selects the
    `recurrent` padding semantics of the pool. Under `tptt-0.12` the caller
    multiplies `v` by the mask instead and passes no mask.

    ```mlir
    %alpha, %beta = tptt.gates %k, %v alpha = c beta = k heads = 4 kv_heads = 2
        : (tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$k, Tptt_FloatTensor:$v,
                       Optional<Tptt_FloatTensor>:$k_history,
                       Optional<Tptt_FloatTensor>:$v_history,
                       Optional<Tptt_MaskTensor>:$mask,
                       Tptt_GateKindAttr:$alpha_gate,
                       Tptt_GateKindAttr:$beta_gate,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads);
  let results = (outs Tptt_FloatTensor:$alpha, Tptt_FloatTensor:$beta);
  let assemblyFormat = [{
    $k `,` $v (`history` `(` $k_history^ `,` $v_history `)`)? (`mask` $mask^)?
    `alpha` `=` custom<EnumKeyword>($alpha_gate) `beta` `=` custom<EnumKeyword>($beta_gate)
    `heads` `=` $num_heads `kv_heads` `=` $num_kv_heads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Feature map and virtual tokens
//===----------------------------------------------------------------------===//

def Tptt_FeatureMapOp : Tptt_Op<"feature_map", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "linear-branch feature map of q, k, v with GQA repeat";
  let description = [{
    Splits the projected `q` [B, S, H·d], `k`, `v` [B, S, Hkv·d] into heads,
    repeats each KV head for its g = H/Hkv query heads, and applies the
    LiZA feature map per head (L2 norm over the d channels):

        q̂ = silu(q) / max(‖silu(q)‖₂, 1e-6)
        k̂ = silu(k) / max(‖silu(k)‖₂, 1e-6)
        v̂ = v / √d

    Results are [B, H, S, d] in the linear-branch precision (their element
    type, which may differ from the inputs'). No RoPE and no q/k norm apply
    in the linear branch.

    ```mlir
    %qh, %kh, %vh = tptt.feature_map %q, %k, %v heads = 4 kv_heads = 2
        : (tensor<?x?x32xbf16>, tensor<?x?x16xbf16>, tensor<?x?x16xbf16>)
        -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads);
  let results = (outs Tptt_FloatTensor:$q_hat, Tptt_FloatTensor:$k_hat,
                      Tptt_FloatTensor:$v_hat);
  let assemblyFormat = [{
    $q `,` $k `,` $v `heads` `=` $num_heads `kv_heads` `=` $num_kv_heads
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_VirtualTokenExpandOp : Tptt_Op<"virtual_token_expand",
    [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "expand each real token into `order` virtual tokens";
  let description = [{
    DeltaProduct's virtual tokens: `input` [B, H, S, d] becomes
    [B, H, S, n, d] with n = `order`; e_{t,j} for j = 0..n−1 is

    | trick | e_{t,j} |
    |---|---|
    | `dt`  | c_{n−1−j} · x_{t−j}, c_k = (−1)^k C(n−1,k) / 2^{n−1}, x_{<0} = 0 |
    | `rot` | R(θ_j) on channel pairs (x_{2i}, x_{2i+1}), θ_j = j · fl32(2π/n) (cos/sin rounded to f32); an odd last channel passes through |
    | `rdt` | ½ (dt + rot) |
    | `cte` | x_t |

    For n = 2, `dt` gives e_{t,0} = −½ x_t and e_{t,1} = ½ x_{t−1}: one
    scaled lagged copy per virtual token, not a finite difference. For
    n = 1 the expansion is a reshape and `trick` is irrelevant.

    `history` [B, H, n−1, d] holds the n−1 rows before the sequence (oldest
    first) for decode and replaces the zero padding of `dt`. `mask` [B, S]
    selects the `recurrent` padding semantics: lags run over real tokens
    only.

    ```mlir
    %e = tptt.virtual_token_expand %k order = 2 trick = dt
        : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input,
                       Optional<Tptt_FloatTensor>:$history,
                       Optional<Tptt_MaskTensor>:$mask,
                       I64Attr:$order, Tptt_TrickAttr:$trick);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`history` $history^)? (`mask` $mask^)?
    `order` `=` $order `trick` `=` custom<EnumKeyword>($trick) attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// The linear operator
//===----------------------------------------------------------------------===//

def Tptt_DeltaProductOp : Tptt_Op<"delta_product",
    [Pure, AttrSizedOperandSegments,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "gated DeltaProduct linear-attention operator over a sequence";
  let description = [{
    The LiZA memory over a whole sequence, per batch and head; n is the
    order (dimension 3 of `k`), d the head dimension. Results: `output`
    [B, H, S, d] and `final_state` [B, H, d, d].

    **`recurrent` semantics** (default). Operands: `q` [B, H, S, d]; `k`,
    `v` [B, H, S, n, d] (expanded); `beta` and the optional `alpha`
    [B, H, S, d] (one gate per real token; no `alpha` means α = 1, the
    ungated DeltaNet / DeltaProduct). From S₀ = `initial_state` (or 0), over
    the virtual tokens m = (t, j) in order:

        A_m = diag(α_t) if j = 0 else I      (decay once per real token)
        S'  = S_{m−1} · A_m
        u_m = β_t ⊙ v_{t,j} − S'ᵀ (β_t ⊙ k_{t,j})
        S_m = S' + k_{t,j} u_mᵀ
        o_t = S_{(t,n−1)}ᵀ q_t

    With `nonlinear`, after the last virtual step of every real token t with
    (t+1) mod C = 0 (C = `chunk_size`, counted from the first real token)
    the state becomes φ(S), φ(H)_ab = (H_ab/2) · GELU_tanh(2H_ab / (‖H_a,:‖₂
    + 1e-6)); o_t is read before φ. Without `nonlinear` the result does not
    depend on `chunk_size`, which is then only the default schedule of the
    chunked (WY/UT) lowering. `mask` [B, S]: a padded position leaves the
    state untouched and is not counted for φ; its output is unspecified.

    **`tptt-0.12` semantics**. All of `q`, `k`, `v`, `beta` and `alpha`
    are [B, H, S, n, d] (gates expanded with the trick; no `alpha` means
    A = 1). With C the largest
    divisor of S not above `chunk_size` and N = C·n, per chunk: K_β = K ⊙ B,
    V_β = V ⊙ B, T = (I + stril(K_β Kᵀ))⁻¹, W = T K_β, U = T V_β; every
    real position c restarts from the incoming state P = H_in and runs,
    for j = 0..n−1 and m = cn + j,

        r_m = U_m − Pᵀ W_m,  y_m = Pᵀ Q_m + Q_m ⊙ r_m,  P ← P diag(A_m) + W_m r_mᵀ

    with o_c = y_{cn+n−1}; the state of the last position is carried (φ
    applied after every chunk when `nonlinear`). Without `initial_state`
    the state starts filled with 1e-6. No `mask` (the reference masks v).

    `reverse` runs the operator on the real-token-reversed sequence (the
    order of virtual tokens inside a token is kept; with a `mask` only the
    real tokens are reversed; φ positions count from the first token of the
    reversed run) and returns the outputs in the original order. The inputs
    are the causal ones (gates, q̂ and the expansion are not recomputed on
    the reversed sequence); bidirectional layers average both directions.

    ```mlir
    %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha init %s0
        semantics = recurrent chunk_size = 64
        : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>,
           tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
        -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Tptt_FloatTensor:$beta,
                       Optional<Tptt_FloatTensor>:$alpha,
                       Optional<Tptt_FloatTensor>:$initial_state,
                       Optional<Tptt_MaskTensor>:$mask,
                       Tptt_SemanticsAttr:$semantics,
                       I64Attr:$chunk_size,
                       UnitAttr:$nonlinear, UnitAttr:$reverse);
  let results = (outs Tptt_FloatTensor:$output, Tptt_FloatTensor:$final_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $beta (`alpha` $alpha^)? (`init` $initial_state^)?
    (`mask` $mask^)? `semantics` `=` custom<EnumKeyword>($semantics) `chunk_size` `=` $chunk_size
    (`nonlinear` $nonlinear^)? (`reverse` $reverse^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let extraClassDeclaration = [{
    /// The order n: virtual tokens per real token (dimension 3 of `k`).
    int64_t getOrder();
    /// The head dimension d.
    int64_t getHeadDim();
  }];
}

def Tptt_DeltaProductStepOp : Tptt_Op<"delta_product_step",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "one-token decode step of the recurrent DeltaProduct operator";
  let description = [{
    Advances the `recurrent` semantics of `tptt.delta_product` by one real
    token: `q` [B, H, d], `k`, `v` [B, H, n, d], `beta` and the optional
    `alpha` [B, H, d] (none: α = 1), `state` [B, H, d, d] → `output`
    [B, H, d], `new_state` [B, H, d, d],
    with exactly the n virtual steps of the recurrence (decay by α at j = 0,
    then the delta updates) and o = S_{n−1}ᵀ q.

    With `nonlinear`, `position` [B] (i64) is the index of this token among
    the real tokens of its sequence; φ is applied to the new state when
    (position + 1) mod `chunk_size` = 0, after reading o. The lag rows the
    step needs (the two raw k/v rows of the gate pool and the n−1 rows of
    the virtual-token expansion) travel through the `history` operands of
    `tptt.gates` and `tptt.virtual_token_expand`, so a sequence of steps
    reproduces the full-sequence forward token by token.

    The `tptt-0.12` semantics has no decode step: its chunking depends on the
    sequence length, so generation recomputes the prefix with
    `tptt.delta_product`.

    ```mlir
    %o, %s1 = tptt.delta_product_step %q, %k, %v, %beta, %s0 alpha %alpha chunk_size = 64
        : (tensor<?x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>,
           tensor<?x4x8xf32>, tensor<?x4x8x8xf32>, tensor<?x4x8xf32>)
        -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Tptt_FloatTensor:$beta,
                       Tptt_FloatTensor:$state,
                       Optional<Tptt_FloatTensor>:$alpha,
                       Optional<Tptt_PositionTensor>:$position,
                       I64Attr:$chunk_size, UnitAttr:$nonlinear);
  let results = (outs Tptt_FloatTensor:$output, Tptt_FloatTensor:$new_state);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $beta `,` $state (`alpha` $alpha^)?
    (`position` $position^)? `chunk_size` `=` $chunk_size
    (`nonlinear` $nonlinear^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_TrilInverseOp : Tptt_Op<"tril_inverse",
    [Pure, SameOperandsAndResultType]> {
  let summary = "T = (I + L)⁻¹ for a strictly lower-triangular L";
  let description = [{
    The UT transform of a chunk of the DeltaProduct operator is
    T = (I + stril(K_β Kᵀ))⁻¹. `input` [..., N, N] holds L; only its strictly
    lower part is read. The result is unit lower triangular, computed by the
    forward substitution of the tptt-0.12 reference: with A = −stril(L) and
    X the strictly lower part of T,

        X_{i,:i} = A_{i,:i} + A_{i,:i} · X_{:i,:i}      for i = 1 .. N−1
        T = I + X

    ```mlir
    %t = tptt.tril_inverse %l : tensor<?x4x64x64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Tptt_PhiOp : Tptt_Op<"phi", [Pure, SameOperandsAndResultType]> {
  let summary = "the state nonlinearity φ of the nonlinear operator modes";
  let description = [{
    Applied to the state between chunks by `delta_rule_gelu`-style modes,
    row-wise over the last axis of `input` [..., d]:

        φ(H)_ab = (H_ab / 2) · GELU_tanh(2 H_ab / (‖H_a,:‖₂ + 1e-6))
        GELU_tanh(z) = z/2 · (1 + tanh(√(2/π) (z + 0.044715 z³)))

    A zero row stays zero.

    ```mlir
    %h = tptt.phi %state : tensor<?x4x8x8xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Head merge and Memory-as-Gate
//===----------------------------------------------------------------------===//

def Tptt_MergeHeadsOp : Tptt_Op<"merge_heads", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "merge heads and RMS-normalise over all heads (no weight)";
  let description = [{
    `input` [B, H, S, d] → `result` [B, S, H·d] (head-major channels), then a
    parameter-free RMS normalisation over all H·d channels jointly:

        Y ← Y / √(mean_{H·d}(Y²) + eps)        (eps = 1e-6 by default)

    The result element type may differ from the input's (the cast back to
    the model dtype happens after the normalisation).

    ```mlir
    %y = tptt.merge_heads %o : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xbf16>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input,
                       DefaultValuedAttr<F64Attr, "1e-6">:$eps);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_MagMixOp : Tptt_Op<"mag_mix", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "Memory-as-Gate mixing of the softmax and linear branches";
  let description = [{
    Mixes the softmax-branch output `soft` and the linear-branch output
    `lin` (both [B, S, D], after `o_proj`) with the scalar weight `mu`:

        l = lin · √(mean_D(soft²) + eps)   if `base_scale_attn` (per token)
        l = lin                            otherwise
        s = (1 − μ) · soft,  l ← μ · l
        out = s + l            (or s + l + s ⊙ l with `cross_gate`)

    μ is a run-time operand because training schedules it; μ = 0 returns
    exactly `soft` (the base model). eps defaults to 1e-5.

    ```mlir
    %o = tptt.mag_mix %soft, %lin, %mu cross_gate
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$soft, Tptt_FloatTensor:$lin,
                       Tptt_ScalarTensor:$mu,
                       UnitAttr:$cross_gate, UnitAttr:$base_scale_attn,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $soft `,` $lin `,` $mu (`cross_gate` $cross_gate^)?
    (`base_scale_attn` $base_scale_attn^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Backbone ops used by the LiZA layer
//===----------------------------------------------------------------------===//

def Tptt_LinearOp : Tptt_Op<"linear", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "affine projection y = scale · x Wᵀ + b";
  let description = [{
    `input` [..., I], `weight` [O, I] (Hugging Face `nn.Linear` layout),
    optional `bias` [O] → `result` [..., O]:

        y = scale · x Wᵀ + b

    `scale` (default 1) is the LoRA factor lora_alpha / r on the up
    projection of an adapter.

    With `transposed_weight` the operand holds Wᵀ [I, O] instead: compiled
    models store their projections that way, so that the contraction streams
    contiguous weight rows without transposing them at run time.

    ```mlir
    %y = tptt.linear %x, %w bias %b
        : (tensor<?x?x32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$weight,
                       Optional<Tptt_FloatTensor>:$bias,
                       UnitAttr:$transposed_weight,
                       DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs Tptt_FloatTensor:$result);
  let builders = [
    OpBuilder<(ins "::mlir::Type":$result, "::mlir::Value":$input,
                   "::mlir::Value":$weight, "::mlir::Value":$bias,
                   CArg<"::mlir::UnitAttr", "{}">:$transposed_weight), [{
      build($_builder, $_state, result, input, weight, bias, transposed_weight,
            $_builder.getF64FloatAttr(1.0));
    }]>
  ];
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? (`transposed_weight` $transposed_weight^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_RopeOp : Tptt_Op<"rope", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "rotary position embedding (rotate-half convention)";
  let description = [{
    Applies RoPE to `input` [B, H, S, d] with the tables `cos`, `sin`
    [B, S, d] (per position, already scaled, e.g. llama3 scaling), in the
    Hugging Face rotate-half convention:

        y = x ⊙ cos + rotate_half(x) ⊙ sin,
        rotate_half(x) = concat(−x[d/2:], x[:d/2])

    ```mlir
    %y = tptt.rope %q, %cos, %sin
        : (tensor<?x4x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x4x?x16xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$cos,
                       Tptt_FloatTensor:$sin);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_AttentionOp : Tptt_Op<"attention", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "causal softmax attention with GQA and an optional window";
  let description = [{
    The softmax branch: `q` [B, H, S, d] attends to `k`, `v` [B, Hkv, T, d]
    (T ≥ S; the queries are the last S of the T positions, so a decode step
    passes its KV cache), KV head ⌊h/g⌋ serving query head h:

        o_i = Σ_j softmax_j(scale · q_i · k_j) v_j
        over keys j with p_i − L < j ≤ p_i,   p_i = T − S + i

    L = `window` (sliding-window attention, `max_self_attn_length`) or
    unbounded. `scale` defaults to 1/√d. `mask` [B, T] (1 = real token)
    removes padded keys. Result [B, H, S, d].

    ```mlir
    %o = tptt.attention %q, %k, %v window = 128
        : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Optional<Tptt_MaskTensor>:$mask,
                       OptionalAttr<I64Attr>:$window,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v (`mask` $mask^)? (`window` `=` $window^)?
    (`scale` `=` $scale^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_TokenTensor : RankedTensorOf<[I64]>;

def Tptt_EmbeddingOp : Tptt_Op<"embedding", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "token embedding lookup";
  let description = [{
    Gathers the rows of `table` [V, D] named by the token ids `ids`
    [B, S] (i64): `result`[b, s, :] = `table`[ids[b, s], :], result
    [B, S, D]. An id outside [0, V) reads row 0 or V − 1 (clamped), so a
    bad id can never read outside the table; callers validate ids. The
    table may hold another float type than the result (a bf16 table of an
    f32 model): each row read is converted, never the whole table. `scale`
    multiplies every element read (Gemma's √hidden_size; 1 otherwise).

    ```mlir
    %x = tptt.embedding %ids, %table
        : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
    %y = tptt.embedding %ids, %table {scale = 8.0 : f64}
        : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Tptt_TokenTensor:$ids, Tptt_FloatTensor:$table,
                       DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_RmsNormOp : Tptt_Op<"rms_norm", [Pure,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "RMS normalisation over the last dimension, with a weight";
  let description = [{
    Llama's RMSNorm of `input` [..., D] with the learned `weight` [D],
    whose stored values are offset by `weight_offset` c (0 for Llama; 1 for
    Gemma, which stores w − 1 and computes with 1 + w):

        y = x / √(mean_D(x²) + eps) ⊙ (c + w)

    ```mlir
    %y = tptt.rms_norm %x, %w {eps = 1.0e-06 : f64}
        : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %z = tptt.rms_norm %x, %w {eps = 1.0e-06 : f64, weight_offset = 1.0 : f64}
        : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$weight,
                       DefaultValuedAttr<F64Attr, "1e-6">:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_offset);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_GluOp : Tptt_Op<"glu", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "the gated activation of a GLU MLP (SwiGLU, GeGLU)";
  let description = [{
    Elementwise on `gate` and `up` (the two input projections of a gated
    MLP, same shape), with the `activation` a (silu unless given):

        y = a(gate) ⊙ up
        silu(x) = x · σ(x)                                   (SwiGLU)
        gelu_tanh(x) = ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))   (GeGLU)

    ```mlir
    %h = tptt.glu %g, %u : tensor<?x?x128xf32>
    %e = tptt.glu %g, %u activation = gelu_tanh : tensor<?x?x128xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$gate, Tptt_FloatTensor:$up,
      DefaultValuedAttr<Tptt_ActivationAttr,
                        "::mlir::tptt::Activation::Silu">:$activation);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $gate `,` $up (`activation` `=` custom<EnumKeyword>($activation)^)? attr-dict
    `:` type($result)
  }];
}

def Tptt_SoftCapOp : Tptt_Op<"soft_cap", [Pure, SameOperandsAndResultType,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "logit soft-capping";
  let description = [{
    Elementwise, with the `cap` c > 0 (Gemma's `final_logit_softcapping`,
    applied to the logits):

        y = c · tanh(x / c)

    ```mlir
    %y = tptt.soft_cap %logits cap = 3.000000e+01 : tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, F64Attr:$cap);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = "$input `cap` `=` $cap attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Tptt_DropoutOp : Tptt_Op<"dropout", [Pure,
    AllTypesMatch<["input", "result"]>,
    DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "inverted dropout with a counter-based mask";
  let description = [{
    Zeroes each element of `input` with probability `rate` (a 0-d tensor,
    in [0, 1); 0 leaves the input unchanged) and scales the others by
    1 / (1 − rate), so that the expectation is the input:

        y[i] = x[i] · m[i] / (1 − rate),   m[i] = (u[i] ≥ rate)

    The mask is a pure function of `seed` (a 0-d i64 tensor), the `stream`
    attribute (one per dropout site of a graph, so that sites draw
    independent masks) and the row-major linear index i of the element,
    through the splitmix64 finalizer f:

        key  = f(seed · 0x9E3779B97F4A7C15 + stream)
        u[i] = (f(key + i · 0x9E3779B97F4A7C15) >> 40) / 2²⁴

    The same seed gives the same mask on every target, which makes a
    training step reproducible. The VJP is the same op on the cotangent.

    ```mlir
    %y = tptt.dropout %x, %seed, %rate {stream = 3 : i64}
        : tensor<?x?x128xf32>, tensor<i64>, tensor<f32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, 0DTensorOf<[I64]>:$seed,
                       Tptt_ScalarTensor:$rate, I64Attr:$stream);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $seed `,` $rate attr-dict `:` type($input) `,` type($seed) `,`
    type($rate)
  }];
}

def Tptt_RopeTablesOp : Tptt_Op<"rope_tables", [Pure]> {
  let summary = "RoPE cos/sin tables for given positions";
  let description = [{
    The rotate-half RoPE tables for the token `positions` [B, S] (i64),
    from the d/2 inverse frequencies `inv_freq` (θ-derived, with any
    frequency scaling such as llama3's or yarn's already applied by the
    importer) and the `attention_scaling` s (yarn's attention factor, 1
    otherwise):

        angle[b, s, c] = positions[b, s] · inv_freq[c mod d/2]
        cos = s · cos(angle),  sin = s · sin(angle)        (each [B, S, d])

    The tables are computed in f64 and rounded once to the result type.

    With `long_inv_freq` and `long_after` (longrope), the frequencies of
    the whole call depend on its positions, as transformers' dynamic
    update makes them: `long_inv_freq` when max(positions) + 1 > long_after
    (the pretraining context), `inv_freq` otherwise.

    ```mlir
    %cos, %sin = tptt.rope_tables %pos {inv_freq = array<f64: 1.0, 0.1>}
        : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
    ```
  }];
  let arguments = (ins Tptt_TokenTensor:$positions,
                       DenseF64ArrayAttr:$inv_freq,
                       DefaultValuedAttr<F64Attr, "1.0">:$attention_scaling,
                       OptionalAttr<DenseF64ArrayAttr>:$long_inv_freq,
                       OptionalAttr<I64Attr>:$long_after);
  let results = (outs Tptt_FloatTensor:$cos, Tptt_FloatTensor:$sin);
  let assemblyFormat = [{
    $positions attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// The composite LiZA attention layer
//===----------------------------------------------------------------------===//

def Tptt_LizaAttentionOp : Tptt_Op<"liza_attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "a whole LiZA attention layer: linear memory + softmax, mixed by μ";
  let description = [{
    One TPTT attention layer on the projected `q` [B, S, H·d], `k`, `v`
    [B, S, Hkv·d] (the base model's own projections, LoRA included):

    - linear branch: `tptt.gates` (`alpha_gate`, `beta_gate`) and
      `tptt.feature_map`; `tptt.virtual_token_expand` (`order`, `trick`;
      gates with code `c` use `cte`; under `recurrent` only k̂, v̂ expand,
      under `tptt-0.12` also q̂, α, β); `tptt.delta_product` (`semantics`,
      `chunk_size`, `nonlinear`; with `bidirectional`, ½ (forward +
      reverse)); `tptt.merge_heads` in `linear_precision`; `o_proj`.
      A `linear_precision` narrower than f32 (bf16, f16; `recurrent`
      semantics only) is a storage type: the branch computes in f32 and
      rounds q̂, k̂, v̂, α, β and the operator's output to it (`arith.truncf`
      then `arith.extf`), the state and every sum staying f32;
    - softmax branch: `tptt.rope` with `cos`, `sin` [B, S, d] on the query
      and key heads, `tptt.attention` (`window` = `max_self_attn_length`);
      `o_proj`;
    - `tptt.mag_mix` with `mu` (`cross_gate`, `base_scale_attn`).

    `o_weight` [D, H·d] ([H·d, D] with `transposed_o_weight`) and the
    optional `o_bias` [D] are the shared output projection; `mask` [B, S] marks real tokens. Result [B, S, D].
    `tptt-decompose-liza-attention` rewrites the op into the pieces above.

    ```mlir
    %y = tptt.liza_attention %q, %k, %v rope(%cos, %sin) mu(%mu) out_proj(%wo)
        {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64}
        : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>,
           tensor<?x?x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    ```
  }];
  let arguments = (ins
      Tptt_FloatTensor:$q, Tptt_FloatTensor:$k, Tptt_FloatTensor:$v,
      Tptt_FloatTensor:$cos, Tptt_FloatTensor:$sin,
      Tptt_ScalarTensor:$mu,
      Tptt_FloatTensor:$o_weight, Optional<Tptt_FloatTensor>:$o_bias,
      Optional<Tptt_MaskTensor>:$mask,
      I64Attr:$num_heads, I64Attr:$num_kv_heads,
      DefaultValuedAttr<I64Attr, "1">:$order,
      DefaultValuedAttr<Tptt_TrickAttr, "::mlir::tptt::Trick::DT">:$trick,
      DefaultValuedAttr<Tptt_GateKindAttr, "::mlir::tptt::GateKind::C">:$alpha_gate,
      DefaultValuedAttr<Tptt_GateKindAttr, "::mlir::tptt::GateKind::K">:$beta_gate,
      UnitAttr:$nonlinear,
      DefaultValuedAttr<I64Attr, "64">:$chunk_size,
      DefaultValuedAttr<Tptt_SemanticsAttr,
                        "::mlir::tptt::Semantics::Recurrent">:$semantics,
      UnitAttr:$cross_gate, UnitAttr:$base_scale_attn, UnitAttr:$bidirectional,
      OptionalAttr<I64Attr>:$window,
      OptionalAttr<TypeAttrOf<AnyFloat>>:$linear_precision,
      UnitAttr:$transposed_o_weight);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v `rope` `(` $cos `,` $sin `)` `mu` `(` $mu `)`
    `out_proj` `(` $o_weight (`,` $o_bias^)? `)` (`mask` $mask^)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The element type of the linear branch: `linear_precision` if set,
    /// otherwise the element type of `q`.
    ::mlir::FloatType getLinearElementType();
  }];
}

include "tptt/Dialect/Tptt/IR/TpttGradOps.td"

#endif // TPTT_DIALECT_TPTT_IR_TPTTOPS_TD

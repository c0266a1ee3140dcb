//===- TpttGradOps.td - tptt backward and training ops -----*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The building blocks of reverse-mode differentiation: one op per VJP that
// is not a composition of forward ops, the loss, and the optimizer update.
// `tptt-differentiate` emits them; `convert-tptt-to-linalg` lowers them like
// every other tptt op. Cotangents are named d<operand>.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTGRADOPS_TD
#define TPTT_DIALECT_TPTT_IR_TPTTGRADOPS_TD

//===----------------------------------------------------------------------===//
// Differentiation request
//===----------------------------------------------------------------------===//

def Tptt_ValueAndGradOp : Tptt_Op<"value_and_grad",
    [DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "the value of a scalar function and its gradient";
  let description = [{
    Calls `callee`, a `func.func` returning one 0-d float tensor (a loss),
    on `operands`, and also returns the gradient of that value with respect
    to the operands listed in `wrt` (their cotangents, in `wrt` order), like
    `jax.value_and_grad`. `tptt-differentiate` replaces the op by a call of
    a generated function that runs the forward and then the reverse sweep.

    ```mlir
    %loss, %dw = tptt.value_and_grad @loss(%x, %w) wrt [1]
        : (tensor<?x8xf32>, tensor<8x4xf32>) -> (tensor<f32>, tensor<8x4xf32>)
    ```
  }];
  let arguments = (ins FlatSymbolRefAttr:$callee,
                       Variadic<AnyType>:$operands,
                       DenseI64ArrayAttr:$wrt);
  let results = (outs Variadic<AnyType>:$results);
  let assemblyFormat = [{
    $callee `(` $operands `)` `wrt` $wrt attr-dict `:`
    functional-type($operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Loss
//===----------------------------------------------------------------------===//

def Tptt_CrossEntropyOp : Tptt_Op<"cross_entropy",
    [Pure, DeclareOpInterfaceMethods<Tptt_VjpOpInterface>]> {
  let summary = "mean next-token cross-entropy, ignoring marked labels";
  let description = [{
    `logits` [B, S, V] and `labels` [B, S] (i64) → the scalar

        loss = (1/N) Σ_{(b,s): labels[b,s] ≠ ignore_index}
                 (logsumexp(logits[b,s,:]) − logits[b,s,labels[b,s]])

    with N the number of counted positions (loss = 0 when N = 0). The caller
    shifts the labels (labels[b,s] is the token after position s) and marks
    padding and the last position with `ignore_index` (default −100, as in
    PyTorch). A label outside [0, V) other than `ignore_index` is clamped.

    ```mlir
    %loss = tptt.cross_entropy %logits, %labels
        : (tensor<?x?x96xf32>, tensor<?x?xi64>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$logits, Tptt_TokenTensor:$labels,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Tptt_ScalarTensor:$loss);
  let assemblyFormat = [{
    $logits `,` $labels attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_CrossEntropyGradOp : Tptt_Op<"cross_entropy_grad", [Pure]> {
  let summary = "VJP of tptt.cross_entropy with respect to the logits";
  let description = [{
    With p = softmax(logits[b,s,:]) and N, `ignore_index` as in
    `tptt.cross_entropy`:

        dlogits[b,s,:] = dloss · (p − onehot(labels[b,s])) / N   (counted positions)
        dlogits[b,s,:] = 0                                      (ignored positions)

    ```mlir
    %d = tptt.cross_entropy_grad %logits, %labels, %dloss
        : (tensor<?x?x96xf32>, tensor<?x?xi64>, tensor<f32>) -> tensor<?x?x96xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$logits, Tptt_TokenTensor:$labels,
                       Tptt_ScalarTensor:$dloss,
                       DefaultValuedAttr<I64Attr, "-100">:$ignore_index);
  let results = (outs Tptt_FloatTensor:$dlogits);
  let assemblyFormat = [{
    $logits `,` $labels `,` $dloss attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backbone VJPs
//===----------------------------------------------------------------------===//

def Tptt_EmbeddingGradOp : Tptt_Op<"embedding_grad", [Pure]> {
  let summary = "VJP of tptt.embedding with respect to the table";
  let description = [{
    Scatter-adds the rows of `dresult` [B, S, D] into a zero table [V, D]
    (V from the result type) at the clamped ids of `ids` [B, S]:

        dtable[v, :] = scale · Σ_{(b,s): clamp(ids[b,s]) = v} dresult[b, s, :]

    ```mlir
    %dt = tptt.embedding_grad %ids, %dy
        : (tensor<?x?xi64>, tensor<?x?x64xf32>) -> tensor<96x64xf32>
    ```
  }];
  let arguments = (ins Tptt_TokenTensor:$ids, Tptt_FloatTensor:$dresult,
                       DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs Tptt_FloatTensor:$dtable);
  let assemblyFormat = [{
    $ids `,` $dresult attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_LinearWeightGradOp : Tptt_Op<"linear_weight_grad", [Pure]> {
  let summary = "VJP of tptt.linear with respect to the weight";
  let description = [{
    For y = scale · x Wᵀ (+ b) with `input` x [..., I] and `dresult` dy
    [..., O], summing over all leading dimensions:

        dW = scale · dyᵀ x        [O, I]
        dW = scale · xᵀ dy        [I, O]   with `transposed_weight`

    The bias cotangent is `tptt.sum_to_last` of dy.

    ```mlir
    %dw = tptt.linear_weight_grad %x, %dy transposed_weight
        : (tensor<?x?x32xf32>, tensor<?x?x64xf32>) -> tensor<32x64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$dresult,
                       UnitAttr:$transposed_weight,
                       DefaultValuedAttr<F64Attr, "1.0">:$scale);
  let results = (outs Tptt_FloatTensor:$dweight);
  let assemblyFormat = [{
    $input `,` $dresult (`transposed_weight` $transposed_weight^)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_SumToLastOp : Tptt_Op<"sum_to_last", [Pure]> {
  let summary = "sum over every dimension but the last";
  let description = [{
    `input` [..., F] → `result` [F], result[f] = Σ input[..., f]: the
    cotangent of a bias broadcast over the leading dimensions.

    ```mlir
    %db = tptt.sum_to_last %dy : (tensor<?x?x64xf32>) -> tensor<64xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input);
  let results = (outs Tptt_FloatTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_RmsNormGradOp : Tptt_Op<"rms_norm_grad", [Pure]> {
  let summary = "VJP of tptt.rms_norm";
  let description = [{
    For y = x · r ⊙ (c + w) with r = 1/√(mean_D(x²) + eps) per row of D
    channels and c = `weight_offset`:

        dx = r · (dy ⊙ (c + w)) − x · r³ · mean_D(dy ⊙ (c + w) ⊙ x)
        dw = Σ_rows dy ⊙ x · r

    ```mlir
    %dx, %dw = tptt.rms_norm_grad %x, %w, %dy {eps = 1.0e-05 : f64}
        : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>)
        -> (tensor<?x?x64xf32>, tensor<64xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$weight,
                       Tptt_FloatTensor:$dresult,
                       DefaultValuedAttr<F64Attr, "1e-6">:$eps,
                       DefaultValuedAttr<F64Attr, "0.0">:$weight_offset);
  let results = (outs Tptt_FloatTensor:$dinput, Tptt_FloatTensor:$dweight);
  let assemblyFormat = [{
    $input `,` $weight `,` $dresult attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_SoftCapGradOp : Tptt_Op<"soft_cap_grad",
    [Pure, SameOperandsAndResultType]> {
  let summary = "VJP of tptt.soft_cap";
  let description = [{
    For y = c · tanh(x / c), elementwise:

        dx = dy ⊙ (1 − tanh²(x / c))

    ```mlir
    %dx = tptt.soft_cap_grad %x, %dy cap = 3.000000e+01 : tensor<?x?x256xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$dresult,
                       F64Attr:$cap);
  let results = (outs Tptt_FloatTensor:$dinput);
  let assemblyFormat = [{
    $input `,` $dresult `cap` `=` $cap attr-dict `:` type($dinput)
  }];
  let hasVerifier = 1;
}

def Tptt_GluGradOp : Tptt_Op<"glu_grad", [Pure]> {
  let summary = "VJP of tptt.glu";
  let description = [{
    For y = a(g) ⊙ u, elementwise, with a the `activation` and a' its
    derivative:

        dg = dy ⊙ u ⊙ a'(g),    du = dy ⊙ a(g)
        silu'(g) = σ (1 + g (1 − σ)),  σ = sigmoid(g)
        gelu_tanh'(g) = ½ (1 + t) + ½ g (1 − t²) √(2/π) (1 + 3 · 0.044715 g²),
                        t = tanh(√(2/π) (g + 0.044715 g³))

    ```mlir
    %dg, %du = tptt.glu_grad %g, %u, %dy
        : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>)
        -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$gate, Tptt_FloatTensor:$up,
      Tptt_FloatTensor:$dresult,
      DefaultValuedAttr<Tptt_ActivationAttr,
                        "::mlir::tptt::Activation::Silu">:$activation);
  let results = (outs Tptt_FloatTensor:$dgate, Tptt_FloatTensor:$dup);
  let assemblyFormat = [{
    $gate `,` $up `,` $dresult
    (`activation` `=` custom<EnumKeyword>($activation)^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_AttentionGradOp : Tptt_Op<"attention_grad", [Pure]> {
  let summary = "VJP of tptt.attention";
  let description = [{
    Recomputes the probabilities P of `tptt.attention` (same `mask`,
    `window`, `scale`; `q` [B, H, S, d], `k`, `v` [B, Hkv, T, d]) and, per
    head h with KV head ⌊h/g⌋,

        dP = dO Vᵀ,   dS = P ⊙ (dP − rowsum(dO ⊙ O)),
        dq = scale · dS K,   dk += scale · dSᵀ Q,   dv += Pᵀ dO

    where dk and dv sum over the g query heads of each KV head. Positions a
    query cannot see get zero weight. `out` is the forward result O.

    ```mlir
    %dq, %dk, %dv = tptt.attention_grad %q, %k, %v, %o, %do
        : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>,
           tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
        -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Tptt_FloatTensor:$out,
                       Tptt_FloatTensor:$dout,
                       Optional<Tptt_MaskTensor>:$mask,
                       OptionalAttr<I64Attr>:$window,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs Tptt_FloatTensor:$dq, Tptt_FloatTensor:$dk,
                      Tptt_FloatTensor:$dv);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $out `,` $dout (`mask` $mask^)?
    (`window` `=` $window^)? (`scale` `=` $scale^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LiZA VJPs
//===----------------------------------------------------------------------===//

def Tptt_MergeHeadsGradOp : Tptt_Op<"merge_heads_grad", [Pure]> {
  let summary = "VJP of tptt.merge_heads";
  let description = [{
    With Y the merged [B, S, H·d] rows of `input` [B, H, S, d] and
    r = 1/√(mean(Y²) + eps) per row, D = H·d:

        dY = r · dy − Y · r³ · mean_D(dy ⊙ Y)

    split back into heads: `dinput` [B, H, S, d] in the element type of
    `input`.

    ```mlir
    %dx = tptt.merge_heads_grad %x, %dy
        : (tensor<?x4x?x8xf32>, tensor<?x?x32xf32>) -> tensor<?x4x?x8xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input, Tptt_FloatTensor:$dresult,
                       DefaultValuedAttr<F64Attr, "1e-6">:$eps);
  let results = (outs Tptt_FloatTensor:$dinput);
  let assemblyFormat = [{
    $input `,` $dresult attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_MagMixGradOp : Tptt_Op<"mag_mix_grad", [Pure]> {
  let summary = "VJP of tptt.mag_mix with respect to both branches";
  let description = [{
    μ is a schedule, not a parameter, and gets no cotangent. Without
    `base_scale_attn` (c = 1) and with s = (1 − μ) soft, l = μ c lin:

        ds = dy ⊙ (1 + l),  dl = dy ⊙ (1 + s)     with `cross_gate`
        ds = dl = dy                              otherwise
        dsoft = (1 − μ) ds,  dlin = μ c dl

    With `base_scale_attn`, c = √(mean_D(soft²) + eps) per token depends on
    soft too, which adds

        dsoft += μ · (Σ_D dl ⊙ lin) · soft / (D · c)

    ```mlir
    %ds, %dl = tptt.mag_mix_grad %soft, %lin, %mu, %dy cross_gate
        : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>, tensor<?x?x64xf32>)
        -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$soft, Tptt_FloatTensor:$lin,
                       Tptt_ScalarTensor:$mu, Tptt_FloatTensor:$dresult,
                       UnitAttr:$cross_gate, UnitAttr:$base_scale_attn,
                       DefaultValuedAttr<F64Attr, "1e-5">:$eps);
  let results = (outs Tptt_FloatTensor:$dsoft, Tptt_FloatTensor:$dlin);
  let assemblyFormat = [{
    $soft `,` $lin `,` $mu `,` $dresult (`cross_gate` $cross_gate^)?
    (`base_scale_attn` $base_scale_attn^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_FeatureMapGradOp : Tptt_Op<"feature_map_grad", [Pure]> {
  let summary = "VJP of tptt.feature_map";
  let description = [{
    For x̂ = s/max(‖s‖₂, 1e-6) with s = silu(x) per head row (q and k), and
    v̂ = v/√d:

        ds = (dx̂ − x̂ ⟨dx̂, x̂⟩) / ‖s‖₂    (‖s‖₂ > 1e-6; else dx̂ / 1e-6)
        dx = ds ⊙ σ(x)(1 + x(1 − σ(x))),   dv = dv̂ / √d

    The cotangents of k and v sum over the g = H/Hkv query heads that each
    KV head serves. Results have the shapes and element types of `q`, `k`,
    `v`.

    ```mlir
    %dq, %dk, %dv = tptt.feature_map_grad %q, %k, %v, %dqh, %dkh, %dvh heads = 4 kv_heads = 2
        : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>,
           tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
        -> (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Tptt_FloatTensor:$dq_hat,
                       Tptt_FloatTensor:$dk_hat, Tptt_FloatTensor:$dv_hat,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads);
  let results = (outs Tptt_FloatTensor:$dq, Tptt_FloatTensor:$dk,
                      Tptt_FloatTensor:$dv);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $dq_hat `,` $dk_hat `,` $dv_hat `heads` `=` $num_heads
    `kv_heads` `=` $num_kv_heads attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_GatesGradOp : Tptt_Op<"gates_grad", [Pure, AttrSizedOperandSegments]> {
  let summary = "VJP of tptt.gates";
  let description = [{
    The cotangents `dalpha` (absent when α is the constant 1, code `c`) and
    `dbeta` [B, H, S, d] are summed over the g query heads of each KV head,
    mapped through the gate codes (`kv`: d f = dgate ⊙ w, d w = dgate ⊙ f),
    through σ' = σ(1 − σ) at the pooled values, and through the transpose
    of the width-3 causal mean (with its replicate padding, and over real
    tokens only when `mask` is given):

        dx_t = Σ_{i=0..2} dp_{t+i} / 3   plus the replicate terms at the start

    Results `dk`, `dv` have the shapes of `k`, `v` [B, S, Hkv·d]; code `c`
    contributes nothing.

    ```mlir
    %dk, %dv = tptt.gates_grad %k, %v, %dbeta alpha = c beta = k heads = 4 kv_heads = 2
        : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x?x8xf32>)
        -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$k, Tptt_FloatTensor:$v,
                       Optional<Tptt_FloatTensor>:$dalpha,
                       Tptt_FloatTensor:$dbeta,
                       Optional<Tptt_MaskTensor>:$mask,
                       Tptt_GateKindAttr:$alpha_gate,
                       Tptt_GateKindAttr:$beta_gate,
                       I64Attr:$num_heads, I64Attr:$num_kv_heads);
  let results = (outs Tptt_FloatTensor:$dk, Tptt_FloatTensor:$dv);
  let assemblyFormat = [{
    $k `,` $v (`dalpha` $dalpha^)? `,` $dbeta (`mask` $mask^)?
    `alpha` `=` custom<EnumKeyword>($alpha_gate) `beta` `=` custom<EnumKeyword>($beta_gate)
    `heads` `=` $num_heads `kv_heads` `=` $num_kv_heads attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_VirtualTokenExpandGradOp : Tptt_Op<"virtual_token_expand_grad",
    [Pure]> {
  let summary = "VJP of tptt.virtual_token_expand (its adjoint)";
  let description = [{
    The expansion is linear in its input, so its VJP is the adjoint map:
    `dresult` [B, H, S, n, d] → `dinput` [B, H, S, d], for `dt`

        dx_t = Σ_{j=0}^{n−1} c_{n−1−j} · de_{t+j, j}     (terms past S vanish)

    for `rot` dx_t = Σ_j R(θ_j)ᵀ de_{t,j}, `rdt` the half sum, `cte` the sum
    over j. With `mask`, lags run over real tokens only, as in the forward.

    ```mlir
    %dx = tptt.virtual_token_expand_grad %de order = 2 trick = dt
        : (tensor<?x4x?x2x8xf32>) -> tensor<?x4x?x8xf32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$dresult,
                       Optional<Tptt_MaskTensor>:$mask,
                       I64Attr:$order, Tptt_TrickAttr:$trick);
  let results = (outs Tptt_FloatTensor:$dinput);
  let assemblyFormat = [{
    $dresult (`mask` $mask^)? `order` `=` $order
    `trick` `=` custom<EnumKeyword>($trick) attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Tptt_DeltaProductGradOp : Tptt_Op<"delta_product_grad",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "VJP of tptt.delta_product (chunked, recomputing states)";
  let description = [{
    The cotangents of `q`, `k`, `v`, `beta` and (when present) `alpha` of a
    `tptt.delta_product` with the same operands and attributes, given the
    output cotangent `doutput` [B, H, S, d]; the final state's cotangent is
    zero and there is no initial state.

    Under `recurrent` semantics the backward walks the chunks in reverse
    with the state cotangent dS (d × d per head), starting from 0:

        forward over the chunks, keeping only the state at each chunk start;
        per chunk, last to first: recompute the chunk's states from its
        start state, then for m = (t, j) last to first
          o_t = S_mᵀ q_t  (j = n−1):  dq_t = S_m do_t,  dS += q_t do_tᵀ
          S_m = S' + k u_mᵀ:          dk += dS u_m,   du = dSᵀ k
          u_m = β⊙v − S'ᵀ(β⊙k):       dv += β⊙du,     dβ += v⊙du − k⊙(S' du)
                                      dk −= β ⊙ (S' du)
                                      dS' = dS − (β⊙k) duᵀ
          S' = S_{m−1} A_m:           dα += diag(S_{m−1}ᵀ dS') (j = 0),
                                      dS = dS' A_m

    so memory is one d × d state per chunk and head, never per token. With
    `nonlinear` the cotangent passes through φ's Jacobian where the forward
    applied φ. Masked positions receive zero cotangents.

    Under `tptt-0.12` semantics (q, β, α expanded to [B, H, S, n, d] as for
    the forward; no mask) the chunks are the reference's (C the largest
    divisor of S not above `chunk_size`), the forward sweep starts from the
    1e-6 fill, and each chunk, recomputed from the state entering it, is
    differentiated through its own arithmetic (per (batch, head)):

        P_{c,j+1} = P_{c,j} diag(α_j) + W_j r_jᵀ:  dW_j += dP r_j,
                    dr_j += dPᵀ W_j, dα_j += Σ_a P_{c,j} ⊙ dP, dP ← dP diag(α_j)
        y = P_{c,n−1}ᵀ q + q ⊙ r  (read out):    dq = P do + do ⊙ r,
                    dr += do ⊙ q, dP += q doᵀ
        r_j = U_j − P_{c,j}ᵀ W_j:                 dU_j = dr_j, dP −= W_j dr_jᵀ,
                                                 dW_j −= P_{c,j} dr_j
        W = T kβ, U = T vβ, T = (I + stril(kβ kᵀ))⁻¹:
                    dT = dW kβᵀ + dU vβᵀ, d stril = −stril(Tᵀ dT Tᵀ)

    where only the last position's final state is handed on (dP starts as
    the handed-on cotangent there and 0 elsewhere) and the state entering
    the chunk receives Σ_c dP_{c,0}. The per-position states are transient
    (one chunk at a time).

    ```mlir
    %dq, %dk, %dv, %db = tptt.delta_product_grad %q, %k, %v, %beta, %do
        semantics = recurrent chunk_size = 64
        : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>,
           tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
        -> (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>,
            tensor<?x4x?x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$q, Tptt_FloatTensor:$k,
                       Tptt_FloatTensor:$v, Tptt_FloatTensor:$beta,
                       Optional<Tptt_FloatTensor>:$alpha,
                       Optional<Tptt_MaskTensor>:$mask,
                       Tptt_FloatTensor:$doutput,
                       Tptt_SemanticsAttr:$semantics,
                       I64Attr:$chunk_size,
                       UnitAttr:$nonlinear, UnitAttr:$reverse);
  let results = (outs Tptt_FloatTensor:$dq, Tptt_FloatTensor:$dk,
                      Tptt_FloatTensor:$dv, Tptt_FloatTensor:$dbeta,
                      Optional<Tptt_FloatTensor>:$dalpha);
  let assemblyFormat = [{
    $q `,` $k `,` $v `,` $beta (`alpha` $alpha^)? (`mask` $mask^)? `,` $doutput
    `semantics` `=` custom<EnumKeyword>($semantics) `chunk_size` `=` $chunk_size
    (`nonlinear` $nonlinear^)? (`reverse` $reverse^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Tptt_SumSquaresOp : Tptt_Op<"sum_squares", [Pure]> {
  let summary = "Σ x² over a whole tensor (for global-norm clipping)";
  let description = [{
    `input` of any shape → the scalar Σ input², accumulated in the input's
    element type.

    ```mlir
    %s = tptt.sum_squares %g : (tensor<64x8xf32>) -> tensor<f32>
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$input);
  let results = (outs Tptt_ScalarTensor:$result);
  let assemblyFormat = [{
    $input attr-dict `:` functional-type(operands, results)
  }];
}

def Tptt_AdamWOp : Tptt_Op<"adamw", [Pure]> {
  let summary = "one AdamW update of a parameter tensor";
  let description = [{
    Decoupled weight decay Adam (Loshchilov & Hutter; PyTorch's `AdamW`).
    `hyper` [7] holds, at run time, lr, β1, β2, ε, weight_decay and the bias
    corrections c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ of this step t; `grad_scale` is
    the global-norm clipping factor. Elementwise, with g = grad_scale · grad:

        p ← p − lr · wd · p
        m ← β1 m + (1 − β1) g,     v ← β2 v + (1 − β2) g²
        p ← p − lr · (m / c1) / (√(v / c2) + ε)

    Results: the new `param`, `m`, `v` (shapes of `param`).

    ```mlir
    %p1, %m1, %v1 = tptt.adamw %p, %g, %m, %v, %hyper, %scale
        : (tensor<64x8xf32>, tensor<64x8xf32>, tensor<64x8xf32>, tensor<64x8xf32>,
           tensor<7xf32>, tensor<f32>)
        -> (tensor<64x8xf32>, tensor<64x8xf32>, tensor<64x8xf32>)
    ```
  }];
  let arguments = (ins Tptt_FloatTensor:$param, Tptt_FloatTensor:$grad,
                       Tptt_FloatTensor:$m, Tptt_FloatTensor:$v,
                       1DTensorOf<[AnyFloat]>:$hyper,
                       Tptt_ScalarTensor:$grad_scale);
  let results = (outs Tptt_FloatTensor:$new_param, Tptt_FloatTensor:$new_m,
                      Tptt_FloatTensor:$new_v);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v `,` $hyper `,` $grad_scale attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // TPTT_DIALECT_TPTT_IR_TPTTGRADOPS_TD

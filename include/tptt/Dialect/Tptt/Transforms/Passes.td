//===- Passes.td - tptt dialect passes ---------------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_TD
#define TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def TpttDecomposeLizaAttentionPass
    : Pass<"tptt-decompose-liza-attention"> {
  let summary = "Rewrite tptt.liza_attention into its linear and softmax branches";
  let description = [{
    Replaces every `tptt.liza_attention` by the ops it is made of:
    `tptt.gates`, `tptt.feature_map`, `tptt.virtual_token_expand`,
    `tptt.delta_product` (twice when bidirectional), `tptt.merge_heads` and
    `tptt.linear` for the linear branch; head splitting, `tptt.rope`,
    `tptt.attention`, head merging and `tptt.linear` for the softmax branch;
    and `tptt.mag_mix`. The linear branch runs in `linear_precision`; under
    `tptt-0.12` a padding mask multiplies v before the gates (as the
    reference does), under `recurrent` it is passed to the ops that honour
    it. After this pass every remaining tptt op has a direct lowering.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def TpttDifferentiatePass
    : Pass<"tptt-differentiate", "::mlir::ModuleOp"> {
  let summary = "Reverse-mode differentiation of tptt graphs (value_and_grad)";
  let description = [{
    Replaces every `tptt.value_and_grad @f(...) wrt [...]` by a call of a
    generated function `@f_value_and_grad_<wrt>` that runs the forward of
    `@f` and then its reverse sweep: every op between the `wrt` arguments
    and the loss contributes its VJP rule (`VjpOpInterface` for tptt ops;
    built-in rules for arith add/sub/mul/neg/div/extf/truncf on tensors,
    `tensor.expand_shape`/`collapse_shape`/`cast` and `linalg.transpose`),
    cotangents of values used several times are summed, and arguments the
    loss does not depend on get zeros.

    A `func.call` is differentiated by a call of a generated
    `@callee_vjp_<mask>` that recomputes the callee's forward and runs its
    reverse sweep (gradient checkpointing at function boundaries: only the
    callers' values stay live between the sweeps). One such function exists
    per callee and set of differentiated operands, so merged identical
    decoder layers share their backward too.

    Composite `tptt.liza_attention` ops are decomposed first (as
    `tptt-decompose-liza-attention` does), so that rules exist per
    primitive. An op without a rule on the differentiated path is an error
    naming it.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // TPTT_DIALECT_TPTT_TRANSFORMS_PASSES_TD

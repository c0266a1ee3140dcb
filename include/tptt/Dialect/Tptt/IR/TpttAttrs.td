//===- TpttAttrs.td - tptt enums and attributes ------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTATTRS_TD
#define TPTT_DIALECT_TPTT_IR_TPTTATTRS_TD

include "tptt/Dialect/Tptt/IR/TpttBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Gate codes
//===----------------------------------------------------------------------===//

def Tptt_GateKind : I32EnumAttr<"GateKind",
    "gate code: which pooled projection drives a gate", [
      I32EnumAttrCase<"K", 0, "k">,
      I32EnumAttrCase<"V", 1, "v">,
      I32EnumAttrCase<"KV", 2, "kv">,
      I32EnumAttrCase<"C", 3, "c">
    ]> {
  let cppNamespace = "::mlir::tptt";
  let genSpecializedAttr = 0;
}

def Tptt_GateKindAttr : EnumAttr<Tptt_Dialect, Tptt_GateKind, "gate"> {
  let summary = "gate code (k, v, kv or c)";
  let description = [{
    With f = σ(pool(k)) and w = σ(pool(v)): `k` → f, `v` → w, `kv` → f ⊙ w,
    and `c` → the constants α = 1, β = 0.5.
  }];
}

//===----------------------------------------------------------------------===//
// Virtual-token tricks
//===----------------------------------------------------------------------===//

def Tptt_Trick : I32EnumAttr<"Trick",
    "virtual-token expansion trick", [
      I32EnumAttrCase<"DT", 0, "dt">,
      I32EnumAttrCase<"Rot", 1, "rot">,
      I32EnumAttrCase<"RDT", 2, "rdt">,
      I32EnumAttrCase<"Cte", 3, "cte">
    ]> {
  let cppNamespace = "::mlir::tptt";
  let genSpecializedAttr = 0;
}

def Tptt_TrickAttr : EnumAttr<Tptt_Dialect, Tptt_Trick, "trick"> {
  let summary = "virtual-token trick (dt, rot, rdt or cte)";
  let description = [{
    `dt`: scaled lagged copies e_{t,j} = c_{n−1−j} x_{t−j}, with
    c_k = (−1)^k C(n−1, k) / 2^{n−1} and zero left padding; `rot`: pairwise
    rotation of channels by θ_j = j · fl32(2π/n); `rdt`: ½(dt + rot);
    `cte`: plain repetition e_{t,j} = x_t.
  }];
}

//===----------------------------------------------------------------------===//
// Numerical semantics of the linear operator
//===----------------------------------------------------------------------===//

def Tptt_Semantics : I32EnumAttr<"Semantics",
    "numerical semantics of the linear operator", [
      I32EnumAttrCase<"Recurrent", 0, "recurrent">,
      I32EnumAttrCase<"Tptt012", 1, "tptt-0.12">
    ]> {
  let cppNamespace = "::mlir::tptt";
  let genSpecializedAttr = 0;
  // "tptt-0.12" is not a bare keyword: print it quoted where needed.
  let parameterPrinter =
      "$_printer.printKeywordOrString(stringifySemantics($_self))";
}

def Tptt_SemanticsAttr : EnumAttr<Tptt_Dialect, Tptt_Semantics, "semantics"> {
  let summary = "semantics of the linear operator (recurrent or tptt-0.12)";
  let description = [{
    `recurrent`: the sequential recurrence; every chunk size gives the same
    result to rounding and one-token decode equals the full forward.
    `tptt-0.12`: the chunk arithmetic of tptt 0.12.1 exactly.
  }];
}

//===----------------------------------------------------------------------===//
// Gated MLP activations
//===----------------------------------------------------------------------===//

def Tptt_Activation : I32EnumAttr<"Activation",
    "the activation of a gated MLP", [
      I32EnumAttrCase<"Silu", 0, "silu">,
      I32EnumAttrCase<"GeluTanh", 1, "gelu_tanh">
    ]> {
  let cppNamespace = "::mlir::tptt";
  let genSpecializedAttr = 0;
}

def Tptt_ActivationAttr : EnumAttr<Tptt_Dialect, Tptt_Activation,
                                   "activation"> {
  let summary = "the activation of a gated MLP (silu or gelu_tanh)";
  let description = [{
    `silu`: x · σ(x) (SwiGLU: Llama, Mistral, Qwen). `gelu_tanh`: the tanh
    approximation of GELU, ½ x (1 + tanh(√(2/π) (x + 0.044715 x³)))
    (GeGLU: Gemma's `gelu_pytorch_tanh`).
  }];
}

#endif // TPTT_DIALECT_TPTT_IR_TPTTATTRS_TD

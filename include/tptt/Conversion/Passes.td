//===- Passes.td - tptt conversion passes ------------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CONVERSION_PASSES_TD
#define TPTT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertTpttToLinalgPass : Pass<"convert-tptt-to-linalg"> {
  let summary = "Lower every tptt op to linalg, tensor, scf, arith and math";
  let description = [{
    Rewrites the graph-level tptt ops into loop-level IR on tensors:
    elementwise and reduction ops become `linalg.generic`, projections and
    attention become batched `linalg` contractions, and the linear operator
    becomes its chunked form: per chunk of C real tokens (N = C·n virtual
    tokens) a UT transform (a strictly lower triangular solve), batched
    matrix products for the intra-chunk terms and an `scf.for` carrying the
    state across chunks, inside an `scf.forall` over batch × heads.

    `tptt.liza_attention` is first decomposed into its parts (see
    `tptt-decompose-liza-attention`). A padding mask under the `recurrent`
    semantics is lowered by packing every sequence's real tokens to the
    front (a gather), running the unpadded computation and scattering the
    results back.
  }];
  let options = [
    Option<"chunkSize", "chunk-size", "int64_t", /*default=*/"0",
           "Chunk length C (real tokens) of the recurrent operator's linear "
           "schedule; 0 uses the op's chunk_size. Nonlinear mode always "
           "uses chunk_size, the period of phi.">,
    Option<"blockedTrilInverse", "blocked-tril-inverse", "bool",
           /*default=*/"false",
           "Invert the ungated scan's triangular matrices (static N, a "
           "multiple of 16 above 16) by 16 x 16 blocks: the diagonal blocks "
           "by one batched row recursion of 16 steps, then each block row "
           "from those above it by two matrix products, instead of N row "
           "steps (the CUDA target's choice: each step is a barrier there)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // TPTT_CONVERSION_PASSES_TD

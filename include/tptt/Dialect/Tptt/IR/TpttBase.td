//===- TpttBase.td - tptt dialect definition ---------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTBASE_TD
#define TPTT_DIALECT_TPTT_IR_TPTTBASE_TD

include "mlir/IR/OpBase.td"

def Tptt_Dialect : Dialect {
  let name = "tptt";
  let cppNamespace = "::mlir::tptt";
  let summary = "Graph-level ops of TPTT models: LiZA linear attention and its parts";
  let description = [{
    The `tptt` dialect expresses TPTT models: pretrained transformers whose
    attention layers were augmented with *LiZA*, a linear-attention memory
    (DeltaNet / DeltaProduct and their gated variants, with "virtual token"
    expansion) mixed with the original softmax attention by a
    Memory-as-Gate weight μ.

    The ops work on ranked tensors. Dimensions that depend on the input
    (batch `B`, sequence `S`, cache length `T`) may be dynamic; head counts,
    the head dimension `d` and the order `n` must be static. Notation used
    throughout the op descriptions:

    | symbol | meaning |
    |---|---|
    | `B` | batch |
    | `S` | real tokens in the call |
    | `H`, `Hkv` | query heads, key/value heads (`g = H / Hkv`; KV head `⌊h/g⌋` serves query head `h`) |
    | `d` | head dimension |
    | `n` | order: virtual tokens per real token |
    | `S ∈ R^{d×d}` | the per-head state: rows are key channels, columns value channels |

    Two numerical semantics exist for the linear operator (see
    `SEMANTICS.md`): `recurrent`, the sequential recurrence that every
    chunked schedule and every decode step must reproduce, and `tptt-0.12`,
    bit-for-bit parity with the chunk arithmetic of the reference Python
    library tptt 0.12.1.
  }];
  let useDefaultAttributePrinterParser = 1;
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

/// Base class of every tptt op.
class Tptt_Op<string mnemonic, list<Trait> traits = []>
    : Op<Tptt_Dialect, mnemonic, traits>;

#endif // TPTT_DIALECT_TPTT_IR_TPTTBASE_TD

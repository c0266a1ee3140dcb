// The gradient of a whole compiled tptt-0.12 model (LoRA, order 2, the dt
// trick, decay and write gates from k) against a central difference of its
// loss, in float32: the operator's backward through the reference's chunks
// and the padding applied to v (the batch has a left-padded row). Beside
// train-step.mlir so that lit runs the two in parallel.
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train lora --tptt '{"order": 2, "alpha_gate": "k", "beta_gate": "k", "trick": "dt", "semantics": "tptt-0.12", "max_chunk_size": 3}' --eps 5e-4 %t | FileCheck %s

// CHECK: ok lora: 16 tensors

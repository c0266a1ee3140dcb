// The gradient of a whole compiled model (what tptt_train_step feeds AdamW)
// against a central difference of its loss, in float32, for each kind of
// trainable set: every parameter of a plain base model (pre-training), the
// LiZA layers' attention projections (LoRA−), and LoRA adapters on a LiZA
// model with the decay gate, order 2, the rdt trick, the nonlinear mode and
// the cross gate; LoRA with dropout (fixed masks) on a model with one LiZA
// layer and one softmax layer; every parameter of a Qwen3 model with LiZA (its
// q/k norms, which only the softmax branch reads) and of a Gemma 3 model with
// LiZA (its (1 + w) norms, sandwich norms, scaled tied embedding, GeGLU, a
// sliding and a full layer with their own RoPE, soft-capped logits). The
// batch has a left-padded row.
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train full --tptt '{"layers": []}' %t.full | FileCheck %s --check-prefix=FULL
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train lora-minus --tptt '{"operator_mode": "delta_rule"}' --eps 5e-4 %t.minus | FileCheck %s --check-prefix=MINUS
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train lora --tptt '{"order": 2, "alpha_gate": "k", "beta_gate": "kv", "trick": "rdt", "linear": false, "cross_gate": true}' %t.lora | FileCheck %s --check-prefix=LORA
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train lora --eps 2.5e-4 --tptt '{"lora_config": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.25, "target_modules": ["q_proj", "v_proj", "o_proj", "down_proj"]}, "layers": [1]}' %t.dropout | FileCheck %s --check-prefix=DROPOUT

// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train full --arch Qwen3ForCausalLM --tptt '{"operator_mode": "delta_rule"}' %t.qwen3 | FileCheck %s --check-prefix=QWEN3

// Gemma's loss is more curved along the random direction (√hidden-scaled
// embeddings, GeGLU): the central difference's O(eps²) error is 1.6e-2 at
// eps 1e-3, 4.2e-3 at 5e-4 and 1.1e-3 at 2.5e-4.
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train full --arch Gemma3ForCausalLM --tptt '{"operator_mode": "gated_delta_rule"}' --config '{"final_logit_softcapping": 2.0}' --eps 2.5e-4 %t.gemma3 | FileCheck %s --check-prefix=GEMMA3

// Phi-3's fused qkv_proj and gate_up_proj: the slices of their outputs pull
// back into one weight (full) and one adapter each (LoRA on the fused modules).
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train full --arch Phi3ForCausalLM --tptt '{"operator_mode": "delta_product"}' %t.phi3 | FileCheck %s --check-prefix=PHI3-FULL
// RUN: %python %S/Inputs/train_gradcheck.py --tptt-compile tptt-compile --tptt-run tptt-run --train lora --arch Phi3ForCausalLM --tptt '{"lora_config": {"r": 4, "lora_alpha": 8, "target_modules": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]}}' %t.phi3-lora | FileCheck %s --check-prefix=PHI3-LORA

// FULL: ok full: 21 tensors
// MINUS: ok lora-minus: 8 tensors
// LORA: ok lora: 16 tensors
// DROPOUT: dropout: loss {{[0-9.]+}} at rate 0.25, {{[0-9.]+}} at 0
// DROPOUT: ok lora: 16 tensors
// QWEN3: ok full: 25 tensors
// GEMMA3: ok full: 28 tensors
// PHI3-FULL: ok full: 15 tensors
// PHI3-LORA: ok lora: 16 tensors

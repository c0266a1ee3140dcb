// --weight-type bf16: the entry points take bf16 weights (the default for
// --target cuda), each widened to f32 inside the loop that reads it; the
// logits stay within 1e-2 of the f32 model's. The runtime converts a
// weights file in another layout or dtype (the model's own f32 file) to the
// same bf16 values. Trained weights stay f32.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_model.py good %t/model
// RUN: tptt-compile %t/model --weight-type bf16 --emit=tptt 2> /dev/null | FileCheck %s --check-prefix=TPTT
// RUN: tptt-compile %t/model --weight-type bf16 --emit=linalg 2> /dev/null | FileCheck %s --check-prefix=LINALG
// RUN: tptt-compile %t/model --weight-type bf16 --train lora-minus --emit=tptt 2> /dev/null | FileCheck %s --check-prefix=TRAINED
// RUN: tptt-compile %t/model -o %t/f32 2> /dev/null
// RUN: tptt-compile %t/model --weight-type bf16 -o %t/bf16 2> /dev/null
// RUN: %t/bf16 info | FileCheck %s --check-prefix=INFO
// RUN: %t/f32 logits --tokens 3,4,5,6,7 --out %t/f32.safetensors
// RUN: %t/bf16 logits --tokens 3,4,5,6,7 --out %t/bf16.safetensors
// RUN: %python %S/Inputs/compare.py %t/f32.safetensors %t/bf16.safetensors 1e-2 | FileCheck %s --check-prefix=SAME
// RUN: %t/bf16 logits --tokens 3,4,5,6,7 --weights %t/model/model.safetensors --out %t/converted.safetensors
// RUN: %python %S/Inputs/compare.py %t/bf16.safetensors %t/converted.safetensors 0 | FileCheck %s --check-prefix=SAME
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/model --weight-type f16 -o %t/never | FileCheck %s --check-prefix=BAD
// A LoRA− run saves the bf16 tensors it did not train as they are, and
// resumes from its checkpoint.
// RUN: %python %S/Inputs/make_train_model.py %t/train
// RUN: tptt-compile %t/train/model --weight-type bf16 --train lora-minus -o %t/trained 2> /dev/null
// RUN: %t/trained train --data %t/train/train.txt --steps 2 --batch 2 --seq-len 8 --save %t/run 2> /dev/null
// RUN: %t/trained train --data %t/train/train.txt --steps 3 --batch 2 --seq-len 8 --resume %t/run 2>&1 | FileCheck %s --check-prefix=RESUMED

// TPTT-LABEL: func.func @tptt_logits(
// TPTT-SAME:     tensor<24x16xbf16> {tptt.name = "model.embed_tokens.weight", tptt.role = "weight"}
// TPTT-SAME:     tensor<16x24xbf16> {tptt.name = "lm_head.weight", tptt.role = "weight", tptt.transposed}
// TPTT-SAME:     -> (tensor<?x?x24xf32> {tptt.name = "logits"})
// TPTT:         tptt.embedding %{{.+}} : (tensor<?x?xi64>, tensor<24x16xbf16>) -> tensor<?x?x16xf32>
// TPTT:         %[[HEAD:.+]] = arith.extf %{{.+}} : tensor<16x24xbf16> to tensor<16x24xf32>
// TPTT:         tptt.linear %{{.+}}, %[[HEAD]]

// No weight is widened on its own: every conversion is inside the loop that
// reads it.
// LINALG-LABEL: func.func @tptt_logits(
// LINALG-NOT:     ins(%{{[^,]+}} : tensor<{{[0-9x]+}}xbf16>) outs
// LINALG:         ins(%{{.+}}, %{{.+}} : tensor<?x?x16xf32>, tensor<16x24xbf16>)
// LINALG-NEXT:    ^bb0(%{{.+}}: f32, %[[W:.+]]: bf16, %{{.+}}: f32):
// LINALG-NEXT:      arith.extf %[[W]] : bf16 to f32
// LINALG-NEXT:      arith.mulf

// LoRA− trains the attention projections of the LiZA layers: those are f32
// in every entry point, the others bf16.
// TRAINED-LABEL: func.func @tptt_logits(
// TRAINED-SAME:     tensor<16x16xf32> {tptt.name = "model.layers.0.self_attn.q_proj.weight", tptt.role = "weight", tptt.transposed}
// TRAINED-SAME:     tensor<16x32xbf16> {tptt.name = "model.layers.0.mlp.gate_proj.weight", tptt.role = "weight", tptt.transposed}

// INFO: weights:         embedded, bf16
// SAME: logits: same
// BAD: tptt-compile: error: --weight-type must be f32 or bf16, not 'f16'
// BAD: status: 2
// RESUMED: step 3/3

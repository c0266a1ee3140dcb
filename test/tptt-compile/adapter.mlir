// A PEFT LoRA adapter merged at compile time gives the logits of the model
// whose weights were updated by W + (lora_alpha / r) B A; adapters that do
// not fit are one clear error.
// RUN: rm -rf %t && %python %S/Inputs/make_model.py adapter %t
// RUN: tptt-compile %t/model --adapter %t/adapter -o %t/with-adapter 2> /dev/null
// RUN: tptt-compile %t/merged -o %t/merged-exe 2> /dev/null
// RUN: %t/with-adapter info | FileCheck %s --check-prefix=INFO
// RUN: %t/with-adapter logits --tokens 3,4,5,6 --out %t/a.safetensors
// RUN: %t/merged-exe logits --tokens 3,4,5,6 --out %t/b.safetensors
// RUN: %python %S/Inputs/compare.py %t/a.safetensors %t/b.safetensors 1e-5 | FileCheck %s --check-prefix=SAME
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/model --adapter %t/nowhere -o %t/x | FileCheck %s --check-prefix=NO-ADAPTER
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/model --adapter %t/model -o %t/x | FileCheck %s --check-prefix=NOT-ADAPTER
//
// Adapters whose update is not W + (lora_alpha / r) B A with the tensors'
// rank are refused, never merged with the wrong scale.
// RUN: %python %S/Inputs/make_model.py adapter-rank %t/rank
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/rank/model --adapter %t/rank/adapter -o %t/x | FileCheck %s --check-prefix=RANK
// RUN: %python %S/Inputs/make_model.py adapter-rank-pattern %t/rank-pattern
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/rank-pattern/model --adapter %t/rank-pattern/adapter -o %t/x | FileCheck %s --check-prefix=RANK-PATTERN
// RUN: %python %S/Inputs/make_model.py adapter-alpha-pattern %t/alpha-pattern
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/alpha-pattern/model --adapter %t/alpha-pattern/adapter -o %t/x | FileCheck %s --check-prefix=ALPHA-PATTERN
// RUN: %python %S/Inputs/make_model.py adapter-dora %t/dora
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/dora/model --adapter %t/dora/adapter -o %t/x | FileCheck %s --check-prefix=DORA
// RUN: %python %S/Inputs/make_model.py adapter-ia3 %t/ia3
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/ia3/model --adapter %t/ia3/adapter -o %t/x | FileCheck %s --check-prefix=IA3
// RUN: ls %t | FileCheck %s --check-prefix=LEFT

// INFO: adapter: {{.+}}adapter (3 LoRA pairs, merged)
// SAME: logits: same
// NO-ADAPTER: tptt-compile: error: {{.+}}nowhere/adapter_config.json: cannot open
// NO-ADAPTER-NEXT: status: 2
// NOT-ADAPTER: tptt-compile: error: {{.+}}model/adapter_config.json: cannot open
// NOT-ADAPTER-NEXT: status: 2
// RANK: tptt-compile: error: {{.+}}adapter_model.safetensors: 'model.layers.0.self_attn.q_proj' has rank 2, but {{.+}}adapter_config.json says r = 4
// RANK-NEXT: status: 2
// RANK-PATTERN: tptt-compile: error: {{.+}}adapter_config.json: field 'rank_pattern' gives some modules their own rank or alpha, which this compiler does not merge; merge the adapter with PEFT (merge_and_unload) instead
// RANK-PATTERN-NEXT: status: 2
// ALPHA-PATTERN: tptt-compile: error: {{.+}}adapter_config.json: field 'alpha_pattern' gives some modules
// ALPHA-PATTERN-NEXT: status: 2
// DORA: tptt-compile: error: {{.+}}adapter_config.json: field 'use_dora' is true; only plain LoRA (W + scale * B A) can be merged
// DORA-NEXT: status: 2
// IA3: tptt-compile: error: {{.+}}adapter_config.json: field 'peft_type' is "IA3"; only LORA adapters can be merged
// IA3-NEXT: status: 2
// LEFT-NOT: {{^x$}}

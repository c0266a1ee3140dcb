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

// INFO: adapter: {{.+}}adapter (3 LoRA pairs, merged)
// SAME: logits: same
// NO-ADAPTER: tptt-compile: error: {{.+}}nowhere/adapter_config.json: cannot open
// NO-ADAPTER-NEXT: status: 2
// NOT-ADAPTER: tptt-compile: error: {{.+}}model/adapter_config.json: cannot open
// NOT-ADAPTER-NEXT: status: 2

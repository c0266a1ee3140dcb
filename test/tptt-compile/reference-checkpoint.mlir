// A checkpoint saved by the reference library (TpttModel.save_pretrained: a
// flat TpttConfig and the trained tensors only, under tptt 0.12's names)
// compiles over its base model (--base) into the model that the usual form
// gives: LoRA pairs without adapter_config.json (the rank and alpha from
// lora_config) against the base model with the same adapter in PEFT's
// format, and LoRA−'s trained projections against the base model with those
// projections in place. The reference library's numerics (tptt-0.12) are
// the default; the keys that change nothing are named.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_reference_checkpoint.py lora %t/lora
// RUN: tptt-compile %t/lora/checkpoint --base %t/lora/base -o %t/ref-lora 2>&1 | FileCheck %s --check-prefix=IGNORED
// RUN: tptt-compile %t/lora/usual --adapter %t/lora/peft -o %t/usual-lora 2> /dev/null
// RUN: %t/ref-lora info | FileCheck %s --check-prefix=INFO
// RUN: %t/ref-lora logits --tokens 1,5,9,3,7,2,11,40,63,0,17 --out %t/ref-lora.safetensors
// RUN: %t/usual-lora logits --tokens 1,5,9,3,7,2,11,40,63,0,17 --out %t/usual-lora.safetensors
// RUN: %python %S/Inputs/compare.py %t/ref-lora.safetensors %t/usual-lora.safetensors 1e-6 | FileCheck %s --check-prefix=SAME
// RUN: %python %S/Inputs/make_reference_checkpoint.py lora-minus %t/minus
// RUN: tptt-compile %t/minus/checkpoint --base %t/minus/base -o %t/ref-minus 2> /dev/null
// RUN: tptt-compile %t/minus/usual -o %t/usual-minus 2> /dev/null
// RUN: %t/ref-minus logits --tokens 1,5,9,3,7,2,11,40,63,0,17 --out %t/ref-minus.safetensors
// RUN: %t/usual-minus logits --tokens 1,5,9,3,7,2,11,40,63,0,17 --out %t/usual-minus.safetensors
// RUN: %python %S/Inputs/compare.py %t/ref-minus.safetensors %t/usual-minus.safetensors 1e-6 | FileCheck %s --check-prefix=SAME
// The base model does not merely load: without the trained tensors the
// logits differ.
// RUN: tptt-compile %t/lora/usual -o %t/untrained 2> /dev/null
// RUN: %t/untrained logits --tokens 1,5,9,3,7,2,11,40,63,0,17 --out %t/untrained.safetensors
// RUN: %python %S/Inputs/compare.py %t/untrained.safetensors %t/ref-lora.safetensors 1e-3 | FileCheck %s --check-prefix=DIFFERS
// linear_precision bfloat16 (the reference library's training recipe)
// compiles under the recurrent semantics, which say what it rounds; the
// checkpoint's default, tptt-0.12, refuses it.
// RUN: %python -c "import json, sys; c = json.load(open(sys.argv[1])); c['linear_precision'] = 'bfloat16'; json.dump(c, open(sys.argv[1], 'w'))" %t/lora/checkpoint/config.json
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/lora/checkpoint --base %t/lora/base -o %t/x | FileCheck %s --check-prefix=BF16-012
// RUN: tptt-compile %t/lora/checkpoint --base %t/lora/base --semantics recurrent -o %t/ref-bf16 2> /dev/null
// RUN: %t/ref-bf16 info | FileCheck %s --check-prefix=BF16
// Errors: no --base; a base model that is not the checkpoint's; --base on a
// model that is not a reference checkpoint.
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/lora/checkpoint -o %t/x | FileCheck %s --check-prefix=NO-BASE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/lora/checkpoint --base %t/minus/usual -o %t/x | FileCheck %s --check-prefix=TPTT-BASE
// RUN: %python -c "import json, sys; c = json.load(open(sys.argv[1])); c['hidden_size'] = 64; json.dump(c, open(sys.argv[1], 'w'))" %t/minus/base/config.json
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/minus/checkpoint --base %t/minus/base -o %t/x | FileCheck %s --check-prefix=WRONG-BASE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/lora/usual --base %t/lora/base -o %t/x | FileCheck %s --check-prefix=NOT-REFERENCE

// IGNORED: tptt-compile: reference checkpoint over {{.+}}base; ignored: auto_map (the reference library's Python classes); base_model_name (the base model is --base); base_model_subfolder (the base model is --base); model_variant (a name); pooling_config (unused by the reference library); recurrent_config (operator_mode gives it); target_modules_names ({{.+}}); torch_dtype (the base model's weights keep their own dtype); transformers_version (the version that wrote the file); use_linear_checkpoint (gradient checkpointing: training memory only)
// INFO: semantics:       tptt-0.12
// INFO-NEXT: linear branch:   float32
// INFO-NEXT: mag_weight:      0.4
// INFO: adapter:         {{.+}}checkpoint (reference checkpoint over {{.+}}base: 8 LoRA pairs merged, 0 projections replaced)
// INFO-NEXT: ignored key:     auto_map (the reference library's Python classes)
// INFO-NEXT: ignored key:     base_model_name (the base model is --base)
// INFO-NEXT: ignored key:     base_model_subfolder (the base model is --base)
// INFO-NEXT: ignored key:     model_variant (a name)
// INFO-NEXT: ignored key:     pooling_config (unused by the reference library)
// INFO-NEXT: ignored key:     recurrent_config (operator_mode gives it)
// INFO-NEXT: ignored key:     target_modules_names ({{.+}})
// INFO-NEXT: ignored key:     torch_dtype (the base model's weights keep their own dtype)
// INFO-NEXT: ignored key:     transformers_version (the version that wrote the file)
// INFO-NEXT: ignored key:     use_linear_checkpoint (gradient checkpointing: training memory only)
// INFO-NEXT: tokenizer:
// BF16-012: tptt-compile: error: {{.+}}checkpoint/config.json: linear_precision bfloat16 is computed under the recurrent semantics only (tptt-0.12 promises the reference library's bits, which its bf16 kernels do not pin down); compile with --semantics recurrent
// BF16-012-NEXT: status: 2
// BF16: semantics:       recurrent
// BF16-NEXT: linear branch:   bfloat16
// SAME: logits: same
// DIFFERS: logits: differs by
// NO-BASE: tptt-compile: error: {{.+}}checkpoint was saved by the reference library (TpttModel) and holds the trained tensors only: give its base model's directory with --base DIR (base_model_name: tiny/base)
// NO-BASE-NEXT: status: 2
// TPTT-BASE: tptt-compile: error: {{.+}}config.json: {{.+}}usual/config.json already has a tptt object: --base takes the base model, not a TPTT model
// TPTT-BASE-NEXT: status: 2
// WRONG-BASE: tptt-compile: error: {{.+}}checkpoint/config.json: field 'hidden_size': 32, but {{.+}}base/config.json has 64 (is it tiny/base?)
// WRONG-BASE-NEXT: status: 2
// NOT-REFERENCE: tptt-compile: error: --base takes the base model of a reference checkpoint (a config.json with architectures ["TpttModel"]); {{.+}}usual/config.json is not one
// NOT-REFERENCE-NEXT: status: 2

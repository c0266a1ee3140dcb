// Bad model directories and flags: one message naming the field, tensor or
// flag, exit status 2, and no output file left behind.
// RUN: rm -rf %t && mkdir -p %t/out
// RUN: %python %S/Inputs/make_model.py string-size %t/string-size
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/string-size -o %t/out/exe | FileCheck %s --check-prefix=STRING
// RUN: %python %S/Inputs/make_model.py no-vocab %t/no-vocab
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/no-vocab -o %t/out/exe | FileCheck %s --check-prefix=REQUIRED
// RUN: %python %S/Inputs/make_model.py bad-mode %t/bad-mode
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/bad-mode -o %t/out/exe | FileCheck %s --check-prefix=MODE
// RUN: %python %S/Inputs/make_model.py bad-arch %t/bad-arch
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/bad-arch -o %t/out/exe | FileCheck %s --check-prefix=ARCH
// RUN: %python %S/Inputs/make_model.py bad-heads %t/bad-heads
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/bad-heads -o %t/out/exe | FileCheck %s --check-prefix=HEADS
// RUN: %python %S/Inputs/make_model.py unknown-field %t/unknown-field
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/unknown-field -o %t/out/exe | FileCheck %s --check-prefix=FIELD
// RUN: %python %S/Inputs/make_model.py dropout-one %t/dropout-one
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/dropout-one -o %t/out/exe | FileCheck %s --check-prefix=DROPOUT
// RUN: %python %S/Inputs/make_model.py lora-typo %t/lora-typo
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/lora-typo -o %t/out/exe --train lora | FileCheck %s --check-prefix=LORA-TYPO
// RUN: %python %S/Inputs/make_model.py mode-and-order %t/mode-and-order
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/mode-and-order -o %t/out/exe | FileCheck %s --check-prefix=BOTH
// RUN: %python %S/Inputs/make_model.py not-json %t/not-json
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/not-json -o %t/out/exe | FileCheck %s --check-prefix=JSON
// RUN: %python %S/Inputs/make_model.py missing-weight %t/missing-weight
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/missing-weight -o %t/out/exe | FileCheck %s --check-prefix=MISSING
// RUN: %python %S/Inputs/make_model.py wrong-shape %t/wrong-shape
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/wrong-shape -o %t/out/exe | FileCheck %s --check-prefix=SHAPE
// Qwen3 reads q_norm and k_norm, and its head_dim defaults to 128 as in
// transformers (not hidden_size / num_attention_heads).
// RUN: %python %S/Inputs/make_model.py qwen3-no-norms %t/qwen3-no-norms
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/qwen3-no-norms -o %t/out/exe | FileCheck %s --check-prefix=QWEN3-NORMS
// RUN: %python %S/Inputs/make_model.py qwen3-head-dim %t/qwen3-head-dim
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/qwen3-head-dim -o %t/out/exe | FileCheck %s --check-prefix=QWEN3-HEAD-DIM
// Gemma 3 normalizes the MLP's input and output with norms of its own.
// RUN: %python %S/Inputs/make_model.py gemma3-no-ff-norms %t/gemma3-no-ff-norms
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/gemma3-no-ff-norms -o %t/out/exe | FileCheck %s --check-prefix=GEMMA3-NORMS
// RUN: %python %S/Inputs/make_model.py huge-header %t/huge-header
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/huge-header -o %t/out/exe | FileCheck %s --check-prefix=HUGE
// RUN: %python %S/Inputs/make_model.py past-end %t/past-end
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/past-end -o %t/out/exe | FileCheck %s --check-prefix=PAST
// RUN: %python %S/Inputs/make_model.py overlap %t/overlap
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/overlap -o %t/out/exe | FileCheck %s --check-prefix=OVERLAP
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/nowhere -o %t/out/exe | FileCheck %s --check-prefix=NO-DIR
// RUN: %python %S/Inputs/make_model.py config-dir %t/config-dir
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/config-dir -o %t/out/exe | FileCheck %s --check-prefix=CONFIG-DIR
// RUN: %python %S/Inputs/make_model.py config-device %t/config-device
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/config-device -o %t/out/exe | FileCheck %s --check-prefix=CONFIG-DEVICE
// RUN: %python %S/Inputs/make_model.py fifo-weights %t/fifo-weights
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/fifo-weights -o %t/out/exe | FileCheck %s --check-prefix=FIFO
// RUN: %python %S/Inputs/make_model.py index-escape %t/index-escape
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/index-escape -o %t/out/exe | FileCheck %s --check-prefix=ESCAPE
// RUN: %python %S/Inputs/make_model.py good %t/good
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good | FileCheck %s --check-prefix=NO-OUTPUT
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --emit=cubin | FileCheck %s --check-prefix=STAGE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --emit=ptx | FileCheck %s --check-prefix=PTX-CPU
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --target=cuda --chip=gfx90a | FileCheck %s --check-prefix=CHIP
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --target=cuda --gpu-format=cubin | FileCheck %s --check-prefix=FORMAT
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --target=cuda --gpu-format=fatbin --emit=ptx | FileCheck %s --check-prefix=PTX-FATBIN
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --semantics=fast | FileCheck %s --check-prefix=SEMANTICS
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --target=tpu | FileCheck %s --check-prefix=TARGET
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --bogus | FileCheck %s --check-prefix=UNKNOWN-FLAG
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good %t/good -o %t/out/exe | FileCheck %s --check-prefix=POSITIONAL
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o | FileCheck %s --check-prefix=NO-VALUE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/out/exe --num-threads=99999999999 | FileCheck %s --check-prefix=THREADS
// RUN: cp %t/good/model.safetensors %t/good-weights
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/good/model.safetensors | FileCheck %s --check-prefix=OVERWRITE
// An output directory that does not exist is named, not the temporary object
// file beside the output.
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/good -o %t/nowhere/exe | FileCheck %s --check-prefix=OUT-DIR
// RUN: cmp %t/good-weights %t/good/model.safetensors
// RUN: ls -A %t/out | FileCheck %s --check-prefix=LEFT --allow-empty

// STRING: tptt-compile: error: {{.+}}string-size/config.json: field 'hidden_size': expected integer, got "16"
// STRING-NEXT: status: 2
// REQUIRED: tptt-compile: error: {{.+}}config.json: field 'vocab_size': is required but missing
// REQUIRED-NEXT: status: 2
// MODE: tptt-compile: error: {{.+}}config.json: field 'tptt.operator_mode': "delta_magic" is not one of "delta_rule", {{.+}}
// MODE-NEXT: status: 2
// ARCH: tptt-compile: error: {{.+}}config.json: field 'architectures[0]': "GPT2LMHeadModel" is not one of "LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM", "MistralForCausalLM"
// ARCH-NEXT: status: 2
// HEADS: tptt-compile: error: {{.+}}config.json: field 'num_key_value_heads': 3 does not divide num_attention_heads = 4
// HEADS-NEXT: status: 2
// FIELD: tptt-compile: error: {{.+}}config.json: field 'tptt.magweight': is not a known field
// FIELD-NEXT: status: 2
// DROPOUT: tptt-compile: error: {{.+}}config.json: field 'tptt.lora_config.lora_dropout': must be less than 1, got 1.0
// DROPOUT-NEXT: status: 2
// LORA-TYPO: tptt-compile: error: {{.+}}config.json: field 'tptt.lora_config.target_modules[1]': "q_porj" is not one of "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"
// LORA-TYPO-NEXT: status: 2
// BOTH: tptt-compile: error: {{.+}}config.json: field 'tptt.order': operator_mode 'delta_product' already sets it; give one or the other
// BOTH-NEXT: status: 2
// JSON: tptt-compile: error: {{.+}}config.json: not valid JSON
// JSON-NEXT: status: 2
// MISSING: tptt-compile: error: {{.+}}missing-weight: missing weight 'model.layers.1.mlp.up_proj.weight' (expected shape [32, 16])
// MISSING-NEXT: status: 2
// SHAPE: tptt-compile: error: {{.+}}wrong-shape: weight 'model.layers.0.self_attn.k_proj.weight' has shape [16, 16], but the config needs [8, 16]
// QWEN3-NORMS: tptt-compile: error: {{.+}}qwen3-no-norms: missing weight 'model.layers.0.self_attn.q_norm.weight' (expected shape [8])
// QWEN3-HEAD-DIM: tptt-compile: error: {{.+}}qwen3-head-dim: weight 'model.layers.0.self_attn.q_proj.weight' has shape [16, 16], but the config needs [256, 16]
// GEMMA3-NORMS: tptt-compile: error: {{.+}}gemma3-no-ff-norms: missing weight 'model.layers.0.pre_feedforward_layernorm.weight' (expected shape [16])
// SHAPE-NEXT: status: 2
// HUGE: tptt-compile: error: {{.+}}model.safetensors: corrupt safetensors header: it claims 1152921504606846976 bytes, over the limit of 100 MiB that safetensors files respect
// HUGE-NEXT: status: 2
// PAST: tptt-compile: error: {{.+}}model.safetensors: corrupt safetensors header: tensor 'model.norm.weight': data_offsets [0, 64) are outside the 8 data bytes
// PAST-NEXT: status: 2
// OVERLAP: tptt-compile: error: {{.+}}model.safetensors: corrupt safetensors header: tensors 'a' and 'b' overlap
// OVERLAP-NEXT: status: 2
// NO-DIR: tptt-compile: error: {{.+}}nowhere/config.json: cannot open
// NO-DIR-NEXT: status: 2
// CONFIG-DIR: tptt-compile: error: {{.+}}config-dir/config.json: is a directory, not a file
// CONFIG-DIR-NEXT: status: 2
// CONFIG-DEVICE: tptt-compile: error: {{.+}}config-device/config.json: not a regular file (a device, FIFO or socket)
// CONFIG-DEVICE-NEXT: status: 2
// FIFO: tptt-compile: error: {{.+}}fifo-weights/model.safetensors: not a regular file
// FIFO-NEXT: status: 2
// ESCAPE: tptt-compile: error: {{.+}}model.safetensors.index.json: the shard of 'model.norm.weight' ("../../../../etc/passwd") is not a file inside {{.+}}index-escape
// ESCAPE-NEXT: status: 2
// NO-OUTPUT: tptt-compile: error: give the executable's path with -o EXE
// NO-OUTPUT-NEXT: status: 2
// STAGE: tptt-compile: error: unknown --emit stage 'cubin' (tptt, autodiff, linalg, tiled, bufferized, loops, gpu, llvm, ptx, llvm-ir, exe, shared-lib)
// STAGE-NEXT: status: 2
// PTX-CPU: tptt-compile: error: --emit=ptx needs --target cuda
// PTX-CPU-NEXT: status: 2
// CHIP: tptt-compile: error: --chip must name an NVIDIA architecture such as sm_90, not 'gfx90a'
// CHIP-NEXT: status: 2
// FORMAT: tptt-compile: error: --gpu-format must be isa or fatbin, not 'cubin'
// FORMAT-NEXT: status: 2
// PTX-FATBIN: tptt-compile: error: --emit=ptx needs --gpu-format isa (a fat binary is not text)
// PTX-FATBIN-NEXT: status: 2
// OVERWRITE: tptt-compile: error: -o {{.+}}good/model.safetensors would overwrite the input {{.+}}good/model.safetensors; choose another output path
// OVERWRITE-NEXT: status: 2
// OUT-DIR: tptt-compile: error: {{.+}}nowhere/exe: the directory {{.+}}nowhere does not exist
// OUT-DIR-NEXT: status: 2
// SEMANTICS: tptt-compile: error: --semantics must be recurrent or tptt-0.12, not 'fast'
// SEMANTICS-NEXT: status: 2
// TARGET: tptt-compile: error: unknown --target 'tpu' (cpu, cuda, cuda-on-cpu)
// TARGET-NEXT: status: 2
// UNKNOWN-FLAG: tptt-compile: error: Unknown command line argument '--bogus'.{{.*}}
// UNKNOWN-FLAG-NEXT: status: 2
// POSITIONAL: tptt-compile: error: Too many positional arguments specified!
// POSITIONAL-NEXT: status: 2
// NO-VALUE: tptt-compile: for the -o option: requires a value!
// NO-VALUE-NEXT: status: 2
// THREADS: tptt-compile: error: --num-threads must be 0 (all cores) or an integer up to 4096, not '99999999999'
// THREADS-NEXT: status: 2
// LEFT-NOT: {{.}}

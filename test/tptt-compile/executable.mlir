// A compiled model: its subcommands, its weights inside or beside it, and
// its errors (one message naming the flag, exit status 2).
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_model.py good %t/model
// The temporaries of a killed compile (no process 4194304 can run) go.
// RUN: touch %t/exe.o.tmp.4194304 %t/exe.tmp.4194304 %t/exe.tmp.notapid
// RUN: tptt-compile %t/model -o %t/exe --dump-dir %t/dump 2>&1 | FileCheck %s --check-prefix=PROGRESS
// RUN: ls %t | FileCheck %s --check-prefix=STALE
// RUN: ls %t/dump | FileCheck %s --check-prefix=DUMP
// RUN: %t/exe info | FileCheck %s --check-prefix=INFO
// RUN: %t/exe logits --tokens 3,4,5 | FileCheck %s --check-prefix=LOGITS
// RUN: %t/exe generate --tokens 3,4,5 --greedy --max-new-tokens 4 2>&1 | FileCheck %s --check-prefix=GENERATE
// RUN: printf "3,4,5\n7\n" > %t/prompts
// RUN: %t/exe generate --prompts %t/prompts --max-new-tokens 3 --seed 5 2>&1 | FileCheck %s --check-prefix=BATCH
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits | FileCheck %s --check-prefix=NO-TOKENS
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3,x | FileCheck %s --check-prefix=NOT-ID
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3,24 | FileCheck %s --check-prefix=RANGE
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3 --mag-weight 2 | FileCheck %s --check-prefix=MU
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3 --bogus | FileCheck %s --check-prefix=FLAG
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe train | FileCheck %s --check-prefix=COMMAND
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe generate --tokens 3 --prompts %t/prompts | FileCheck %s --check-prefix=BOTH
// RUN: %t/exe logits --help | FileCheck %s --check-prefix=HELP
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe generate --prompt hello | FileCheck %s --check-prefix=NO-TOKENIZER
//
// max_position_embeddings (64) bounds a sequence: a longer prompt is an
// error, new tokens past it a warning with the count; output that cannot be
// written fails.
// RUN: %t/exe generate --tokens 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3 --greedy --max-new-tokens 10 2>&1 | FileCheck %s --check-prefix=ROOM
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3 | FileCheck %s --check-prefix=LONG
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe generate --tokens 3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3 | FileCheck %s --check-prefix=LONG-GENERATE
//
// A weight with NaN values: a warning naming it (an error with --strict),
// and generation refuses to sample from the NaN logits.
// RUN: %python %S/Inputs/make_model.py nan-weight %t/nan
// RUN: tptt-compile %t/nan -o %t/nan-exe 2>&1 | FileCheck %s --check-prefix=NAN-WARNING
// RUN: %python %S/../tptt-run/Inputs/status.py %t/nan-exe generate --tokens 3,4 --max-new-tokens 2 | FileCheck %s --check-prefix=NAN-GENERATE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-compile %t/nan -o %t/nan-strict --strict | FileCheck %s --check-prefix=NAN-STRICT
// RUN: not ls %t/nan-strict
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe generate --prompts /dev/zero | FileCheck %s --check-prefix=PROMPTS-DEVICE
// RUN: not %t/exe logits --tokens 3,4,5 > /dev/full 2> %t/full.err
// A thread count libomp would abort on (after reserving gigabytes) is refused.
// RUN: env OMP_NUM_THREADS=99999999999 %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3 | FileCheck %s --check-prefix=OMP
// RUN: env OMP_NUM_THREADS=2,1 %t/exe logits --tokens 3,4,5 | FileCheck %s --check-prefix=LOGITS
// An output that is a symlink keeps being one; a pipe is written in place.
// RUN: ln -sf %t/target.safetensors %t/link.safetensors
// RUN: %t/exe logits --tokens 3,4,5 --out %t/link.safetensors
// RUN: test -L %t/link.safetensors
// RUN: test -f %t/target.safetensors
// RUN: %t/exe logits --tokens 3,4,5 --out /dev/stdout | %python -c "import sys; print('PIPE', sys.stdin.buffer.read()[8:10])" | FileCheck %s --check-prefix=PIPE
// RUN: test -L /dev/stdout
// RUN: FileCheck %s --check-prefix=FULL < %t/full.err
//
// External weights: beside the executable, or named with --weights.
// RUN: tptt-compile %t/model -o %t/ext --external-weights 2> /dev/null
// RUN: %t/ext logits --tokens 3,4,5 | FileCheck %s --check-prefix=LOGITS
// RUN: mv %t/ext.weights.safetensors %t/moved.safetensors
// RUN: %python %S/../tptt-run/Inputs/status.py %t/ext logits --tokens 3 | FileCheck %s --check-prefix=NO-WEIGHTS
// RUN: %t/ext logits --tokens 3,4,5 --weights %t/moved.safetensors | FileCheck %s --check-prefix=LOGITS
// RUN: %python %S/../tptt-run/Inputs/status.py %t/ext logits --tokens 3 --weights %t/model/config.json | FileCheck %s --check-prefix=BAD-WEIGHTS

// PIPE: PIPE b'{"'
// STALE-NOT: exe.{{(o.)?}}tmp.4194304
// STALE: exe.tmp.notapid
// PROGRESS: tptt-compile: stage tptt
// PROGRESS: tptt-compile: stage llvm
// PROGRESS: tptt-compile: wrote {{.+}}exe

// DUMP: 0-tptt.mlir
// DUMP-NEXT: 1-autodiff.mlir
// DUMP-NEXT: 2-linalg.mlir
// DUMP-NEXT: 3-tiled.mlir
// DUMP-NEXT: 4-bufferized.mlir
// DUMP-NEXT: 5-loops.mlir
// DUMP-NEXT: 6-llvm.mlir
// DUMP-NEXT: 7-llvm-ir.ll

// INFO: architecture:    LlamaForCausalLM
// INFO: liza layers:     0,1
// INFO: operator mode:   delta_product (order 2, alpha_gate c, beta_gate k, linear, trick dt)
// INFO: semantics:       recurrent
// INFO: cuda device:     {{.+ \(sm_[0-9]+, .+\)|none \(no CUDA driver: cannot load libcuda.so.1 .+\)}}
// INFO: weights:         embedded, f32

// Three rows of 24 logits.
// LOGITS-COUNT-3: {{^[-0-9.e]+( [-0-9.e]+){23}$}}
// LOGITS-NOT: {{.}}

// GENERATE: {{^[0-9]+(,[0-9]+){0,3}$}}
// GENERATE: prefill: 3 tokens, {{.+}} tokens/s; decode: {{[0-9]+}} tokens, {{.+}} tokens/s, cache {{[0-9]+}} KiB

// BATCH: [0] {{[0-9]+(,[0-9]+)*$}}
// BATCH: [1] {{[0-9]+(,[0-9]+)*$}}
// BATCH: prefill: 4 tokens

// NO-TOKENS: exe: error: logits: give exactly one of '--tokens' and '--prompt' (see --help)
// NO-TOKENS-NEXT: status: 2
// NOT-ID: exe: error: flag '--tokens': 'x' is not a token id
// NOT-ID-NEXT: status: 2
// RANGE: exe: error: flag '--tokens': token id 24 is outside the vocabulary [0, 24)
// RANGE-NEXT: status: 2
// MU: exe: error: logits: flag '--mag-weight' must be a number in [0, 1], not '2'
// MU-NEXT: status: 2
// FLAG: exe: error: logits: unknown flag '--bogus' (see --help)
// FLAG-NEXT: status: 2
// COMMAND: exe: error: train: this executable has no training step; compile the model with tptt-compile --train=lora|lora-minus|full
// COMMAND-NEXT: status: 2
// BOTH: exe: error: generate: give exactly one of '--prompt', '--tokens' and '--prompts' (see --help)
// BOTH-NEXT: status: 2
// HELP: exe logits --tokens 1,2,3 | --prompt TEXT [--out F.safetensors]
// HELP: --mag-weight V
// HELP: --tokens V

// NO-TOKENIZER: exe: error: flag '--prompt': this model has no tokenizer (compile a model directory with a tokenizer.json), give token ids instead
// NO-TOKENIZER-NEXT: status: 2

// NO-WEIGHTS: ext: error: {{.+}}ext.weights.safetensors: No such file or directory (the model has no embedded weights: give a weights file, --weights FILE)
// NO-WEIGHTS-NEXT: status: 2
// BAD-WEIGHTS: ext: error: {{.+}}config.json: corrupt safetensors header: {{.+}}
// BAD-WEIGHTS-NEXT: status: 2
// ROOM: warning: generate: max_position_embeddings (64) leaves room for 4 of the 10 new tokens asked for after a prompt of 60 tokens
// LONG: error: logits: the prompt has 65 tokens, more than the model's max_position_embeddings (64)
// LONG-NEXT: status: 2
// LONG-GENERATE: error: generate: the prompt has 65 tokens, more than the model's max_position_embeddings (64)
// LONG-GENERATE-NEXT: status: 2
// FULL: error: cannot write the standard output (No space left on device)
// OMP: exe: error: OMP_NUM_THREADS must be a thread count from 1 to 4096 (or a comma-separated list of them), not '99999999999'
// OMP-NEXT: status: 2
// NAN-WARNING: tptt-compile: warning: weight 'model.layers.1.mlp.down_proj.weight' has 3 values that are not finite (NaN or infinity); the logits they reach will not be finite (--strict makes this an error)
// NAN-GENERATE: error: generate: the logits of sequence 0 for new token 0 are not finite (NaN or infinity): the weights are broken; nothing was sampled from them
// NAN-GENERATE-NEXT: status: 2
// NAN-STRICT: tptt-compile: error: weight 'model.layers.1.mlp.down_proj.weight' has 3 values that are not finite (NaN or infinity) (--strict)
// NAN-STRICT-NEXT: status: 2
// PROMPTS-DEVICE: error: flag '--prompts': /dev/zero: not a regular file (a device, FIFO or socket)
// PROMPTS-DEVICE-NEXT: status: 2

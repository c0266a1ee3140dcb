// The CUDA target's kernels, emulated on the CPU (each launch as loops over
// its blocks and threads), compute what the CPU code computes: the logits,
// greedy generation through the prefill and decode steps, and LoRA training
// steps (forward, backward, AdamW). No GPU or CUDA toolkit needed.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_model.py good %t/model
// RUN: tptt-compile %t/model -o %t/cpu 2> /dev/null
// RUN: tptt-compile %t/model --target cuda-on-cpu -o %t/emulated 2> /dev/null
// RUN: %t/cpu logits --tokens 3,4,5 --out %t/cpu.safetensors
// RUN: %t/emulated logits --tokens 3,4,5 --out %t/emulated.safetensors
// RUN: %python %S/Inputs/compare.py %t/cpu.safetensors %t/emulated.safetensors 1e-5 | FileCheck %s --check-prefix=SAME
// RUN: %t/cpu generate --tokens 3,4,5 --greedy --max-new-tokens 6 2> /dev/null > %t/cpu.txt
// RUN: %t/emulated generate --tokens 3,4,5 --greedy --max-new-tokens 6 2> /dev/null > %t/emulated.txt
// RUN: diff %t/cpu.txt %t/emulated.txt
// RUN: tptt-compile %t/model --target cuda-on-cpu --emit=gpu | FileCheck %s --check-prefix=GPU
// With bf16 weights, a 64-token prompt's projections take the tensor-core
// kernels (one thread per block running a warp's matrix operations), which
// round the activations to tf32 as a GPU does: within 1e-2 of the CPU.
// RUN: tptt-compile %t/model --weight-type bf16 -o %t/cpu-bf16 2> /dev/null
// RUN: tptt-compile %t/model --target cuda-on-cpu --weight-type bf16 -o %t/emulated-bf16 2> /dev/null
// RUN: %t/cpu-bf16 logits --tokens 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6 --out %t/cpu-bf16.safetensors
// RUN: %t/emulated-bf16 logits --tokens 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6 --out %t/emulated-bf16.safetensors
// RUN: %python %S/Inputs/compare.py %t/cpu-bf16.safetensors %t/emulated-bf16.safetensors 1e-2 | FileCheck %s --check-prefix=SAME
// RUN: tptt-compile %t/model --target cuda-on-cpu --weight-type bf16 --emit=loops | FileCheck %s --check-prefix=TENSOR-CORES
//
// RUN: %python %S/Inputs/make_train_model.py %t/train
// RUN: tptt-compile %t/train/model --train=lora -o %t/cpu-train 2> /dev/null
// RUN: tptt-compile %t/train/model --train=lora --target cuda-on-cpu -o %t/emulated-train 2> /dev/null
// RUN: %t/cpu-train train --data %t/train/train.txt --steps 3 --lr 1e-2 --batch 2 --seq-len 16 --save %t/run-cpu 2>&1 | grep -o "loss [0-9.]*" > %t/cpu-loss.txt
// RUN: %t/emulated-train train --data %t/train/train.txt --steps 3 --lr 1e-2 --batch 2 --seq-len 16 --save %t/run-emulated 2>&1 | grep -o "loss [0-9.]*" > %t/emulated-loss.txt
// RUN: FileCheck %s --check-prefix=LOSS < %t/emulated-loss.txt
// RUN: diff %t/cpu-loss.txt %t/emulated-loss.txt
// With bf16 weights and batch 4 × 16 tokens, the forward's and the backward's
// projections take the tensor-core kernels: the losses agree to 1e-3.
// RUN: tptt-compile %t/train/model --train=lora --weight-type bf16 -o %t/cpu-train-bf16 2> /dev/null
// RUN: tptt-compile %t/train/model --train=lora --weight-type bf16 --target cuda-on-cpu -o %t/emulated-train-bf16 2> /dev/null
// RUN: %t/cpu-train-bf16 train --data %t/train/train.txt --steps 3 --lr 1e-2 --batch 4 --seq-len 16 2>&1 | grep -o "loss [0-9.]*" > %t/cpu-loss-bf16.txt
// RUN: %t/emulated-train-bf16 train --data %t/train/train.txt --steps 3 --lr 1e-2 --batch 4 --seq-len 16 2>&1 | grep -o "loss [0-9.]*" > %t/emulated-loss-bf16.txt
// RUN: FileCheck %s --check-prefix=LOSS < %t/emulated-loss-bf16.txt
// RUN: %python -c "import sys; a, b = ([float(l.split()[1]) for l in open(f)] for f in sys.argv[1:]); assert len(a) == len(b) == 3 and max(abs(x - y) for x, y in zip(a, b)) <= 1e-3, (a, b)" %t/cpu-loss-bf16.txt %t/emulated-loss-bf16.txt

// With heads and chunks of 16 the operator's chunk products run on tensor
// cores in 3xTF32 (in the forward and in the backward's recomputation of
// it; the backward's own steps are per token): an f32 model's logits over
// 40 tokens are within 1e-5 of the CPU's, and its LoRA training losses are
// the CPU's.
// RUN: %python %S/Inputs/make_train_model.py %t/wide wide
// RUN: tptt-compile %t/wide/model --train=lora -o %t/cpu-wide 2> /dev/null
// RUN: tptt-compile %t/wide/model --train=lora --target cuda-on-cpu -o %t/emulated-wide 2> /dev/null
// RUN: %t/cpu-wide logits --tokens 100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139 --out %t/cpu-wide.safetensors
// RUN: %t/emulated-wide logits --tokens 100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120,121,122,123,124,125,126,127,128,129,130,131,132,133,134,135,136,137,138,139 --out %t/emulated-wide.safetensors
// RUN: %python %S/Inputs/compare.py %t/cpu-wide.safetensors %t/emulated-wide.safetensors 1e-5 | FileCheck %s --check-prefix=SAME
// RUN: %t/cpu-wide train --data %t/wide/train.txt --steps 3 --lr 1e-2 --batch 2 --seq-len 32 2>&1 | grep -o "loss [0-9.]*" > %t/cpu-loss-wide.txt
// RUN: %t/emulated-wide train --data %t/wide/train.txt --steps 3 --lr 1e-2 --batch 2 --seq-len 32 2>&1 | grep -o "loss [0-9.]*" > %t/emulated-loss-wide.txt
// RUN: FileCheck %s --check-prefix=LOSS < %t/emulated-loss-wide.txt
// RUN: diff %t/cpu-loss-wide.txt %t/emulated-loss-wide.txt
// RUN: tptt-compile %t/wide/model --train=lora --target cuda-on-cpu --emit=loops 2> /dev/null | FileCheck %s --check-prefix=CHUNK-PRODUCTS

// SAME: logits: same

// GPU-LABEL: func.func @tptt_logits
// GPU-NOT:     gpu.launch
// GPU:         scf.parallel

// TENSOR-CORES-LABEL: func.func private @layer_0
// TENSOR-CORES:         gpu.launch
// TENSOR-CORES:           gpu.subgroup_mma_compute

// LOSS-COUNT-3: loss {{[0-9]+\.[0-9]+}}

// CHUNK-PRODUCTS-LABEL: func.func private @layer_0
// CHUNK-PRODUCTS:         scf.parallel
// CHUNK-PRODUCTS-COUNT-3:   gpu.subgroup_mma_compute
// CHUNK-PRODUCTS-LABEL: func.func private @train_layer_0_vjp
// CHUNK-PRODUCTS-COUNT-3:   gpu.subgroup_mma_compute

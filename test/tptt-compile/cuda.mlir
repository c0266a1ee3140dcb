// REQUIRES: cuda-toolkit
// An executable for NVIDIA GPUs: the gpu stage, the PTX of its kernels
// (which ptxas assembles for the chip), and the CPU code it carries too,
// both with bf16 weights by default. On a machine with a GPU, its logits on
// the GPU equal those on the CPU (1e-5; within 1e-2 for a 64-token prompt,
// whose projections run on tf32 tensor cores), and so do those of an
// f32-weight build; elsewhere `--device cuda` says why there is no GPU.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make_model.py good %t/model
// RUN: tptt-compile %t/model --target cuda --emit=gpu | FileCheck %s --check-prefix=GPU
// RUN: tptt-compile %t/model --target cuda --chip sm_90 --ptx-features +ptx80 --emit=ptx -o %t/kernels.ptx
// RUN: FileCheck %s --check-prefix=PTX < %t/kernels.ptx
// RUN: awk '/^\/\/ gpu.binary @/ { n++ } { print > ("%t/part" n ".ptx") }' %t/kernels.ptx
// RUN: for f in %t/part*.ptx; do %ptxas -arch=sm_90 -o /dev/null $f || exit 1; done
// RUN: not grep "extern .func __nv_" %t/kernels.ptx
// RUN: tptt-compile %t/model --target cuda -o %t/exe 2>&1 | FileCheck %s --check-prefix=PROGRESS
// RUN: %t/exe info | FileCheck %s --check-prefix=INFO
// RUN: tptt-compile %t/model --weight-type bf16 -o %t/cpu-exe 2> /dev/null
// RUN: %t/cpu-exe logits --tokens 3,4,5 --out %t/cpu.safetensors
// RUN: %t/exe logits --tokens 3,4,5 --device cpu --out %t/host.safetensors
// RUN: %python %S/Inputs/compare.py %t/cpu.safetensors %t/host.safetensors 0 | FileCheck %s --check-prefix=SAME
// RUN: %if cuda-device %{ %t/exe logits --tokens 3,4,5 --out %t/gpu.safetensors %} %else %{ %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3,4,5 | FileCheck %s --check-prefix=NO-GPU %}
// RUN: %if cuda-device %{ %python %S/Inputs/compare.py %t/cpu.safetensors %t/gpu.safetensors 1e-5 | FileCheck %s --check-prefix=SAME %}
// RUN: %if cuda-device %{ %t/cpu-exe logits --tokens 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6 --out %t/cpu-64.safetensors %}
// RUN: %if cuda-device %{ %t/exe logits --tokens 3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,3,4,5,6 --out %t/gpu-64.safetensors %}
// RUN: %if cuda-device %{ %python %S/Inputs/compare.py %t/cpu-64.safetensors %t/gpu-64.safetensors 1e-2 | FileCheck %s --check-prefix=SAME %}
// RUN: %if cuda-device %{ tptt-compile %t/model --target cuda --weight-type f32 -o %t/exe-f32 2> /dev/null %}
// RUN: %if cuda-device %{ %t/exe-f32 logits --tokens 3,4,5 --device cpu --out %t/host-f32.safetensors %}
// RUN: %if cuda-device %{ %t/exe-f32 logits --tokens 3,4,5 --out %t/gpu-f32.safetensors %}
// RUN: %if cuda-device %{ %python %S/Inputs/compare.py %t/host-f32.safetensors %t/gpu-f32.safetensors 1e-5 | FileCheck %s --check-prefix=SAME %}
// RUN: %python %S/../tptt-run/Inputs/status.py %t/cpu-exe logits --tokens 3 --device cuda | FileCheck %s --check-prefix=CPU-ONLY
// RUN: %python %S/../tptt-run/Inputs/status.py %t/exe logits --tokens 3 --device tpu | FileCheck %s --check-prefix=BAD-DEVICE

// GPU-LABEL: func.func @tptt_logits_cuda
// GPU:         gpu.launch_func
// GPU:       gpu.module
// GPU:         gpu.func
// GPU-SAME:      kernel

// PTX: // gpu.binary @tptt_logits_cuda_kernel
// PTX: .version 8.0
// PTX: .target sm_90
// PTX: .visible .entry tptt_logits_cuda_kernel(
// PTX: wmma.mma.sync.aligned.row.row.m16n16k8.f32.tf32.tf32.f32

// PROGRESS: tptt-compile: stage gpu
// PROGRESS: tptt-compile: wrote {{.+}}exe

// INFO: target:          cuda (sm_90, +ptx80, isa; and the CPU with --device cpu)
// INFO: cuda device:
// INFO: weights:         embedded, bf16

// SAME: logits: same

// NO-GPU: exe: error: --device cuda: no CUDA driver
// NO-GPU: status: 2
// CPU-ONLY: cpu-exe: error: --device cuda: this model was compiled for the CPU only (compile it with tptt-compile --target cuda)
// CPU-ONLY: status: 2
// BAD-DEVICE: exe: error: flag '--device': 'tpu' is not cpu or cuda
// BAD-DEVICE: status: 2

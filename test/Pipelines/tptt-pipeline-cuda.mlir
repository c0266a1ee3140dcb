// REQUIRES: cuda-toolkit
// RUN: tptt-opt %s --tptt-pipeline="target=cuda to=loops" | FileCheck %s --check-prefix=LOOPS
// RUN: tptt-opt %s --tptt-pipeline="target=cuda to=gpu" | FileCheck %s --check-prefix=GPU
// RUN: tptt-opt %s --tptt-pipeline="target=cuda" > %t.mlir
// RUN: FileCheck %s --check-prefix=LLVM < %t.mlir
// RUN: rm -rf %t.ptx && %python -m tptt.ptx %t.mlir --out %t.ptx | FileCheck %s --check-prefix=PTX
// RUN: for f in %t.ptx/*.ptx; do %ptxas -arch=sm_90 -o /dev/null $f || exit 1; done
// RUN: not grep -l "extern .func __nv_" %t.ptx/*.ptx
// RUN: cat %t.ptx/projection_bf16_kernel*.ptx | grep -q "wmma.mma.sync.aligned.row.row.m16n16k8.f32.tf32.tf32.f32"
// RUN: test $(cat %t.ptx/delta_product\$tensor_cores_kernel*.ptx | grep -c "wmma.mma.sync.aligned.row.row.m16n16k8.f32.tf32.tf32.f32") -eq 21
// RUN: tptt-opt %s --tptt-pipeline="target=cuda chip=sm_80 features=+ptx75 format=fatbin" | FileCheck %s --check-prefix=FATBIN

// The CUDA pipeline's stages on every LiZA op: gates, feature map, virtual
// tokens, the chunked DeltaProduct in both semantics, its decode step, the
// head merge and the μ-mix, and the composite layer. Every kernel's PTX
// assembles for sm_90 and calls no unresolved libdevice function.

// LOOPS-LABEL: func @gates
// LOOPS:         scf.parallel
// LOOPS-NOT:     omp.
// GPU-LABEL:   func @gates
// GPU:           gpu.launch_func @gates_kernel::@gates_kernel
// GPU-SAME:        threads in (%{{.+}}, %{{.+}}, %{{.+}})
// GPU:         gpu.module @gates_kernel
// GPU:           gpu.func @gates_kernel
// GPU-SAME:        kernel
// GPU:             gpu.block_id x
// GPU:             gpu.thread_id x
// GPU-NOT:         memref.copy
// LLVM-LABEL:  llvm.func @gates
// LLVM:          llvm.call @_mlir_memref_to_llvm_alloc
// LLVM:          gpu.launch_func @gates_kernel::@gates_kernel
// LLVM:        gpu.binary @gates_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// LLVM-SAME:     assembly = "
// PTX:         gates_kernel.ptx: .target sm_90
// FATBIN:      gpu.binary @gates_kernel [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx75">, properties = {{.+}}, "P\EDU\BA
func.func @gates(%k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %a, %b = tptt.gates %k, %v alpha = kv beta = k heads = 4 kv_heads = 2
      : (tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %a, %b : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// GPU-LABEL:   func @feature_map
// GPU:           gpu.launch_func
// PTX:         feature_map_kernel.ptx: .target sm_90
func.func @feature_map(%q: tensor<?x?x32xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %qh, %kh, %vh = tptt.feature_map %q, %k, %v heads = 4 kv_heads = 2
      : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %qh, %kh, %vh : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// GPU-LABEL:   func @virtual_token_expand
// GPU:           gpu.launch_func
// PTX:         virtual_token_expand_kernel.ptx: .target sm_90
func.func @virtual_token_expand(%x: tensor<?x4x?x8xf32>)
    -> (tensor<?x4x?x2x8xf32>, tensor<?x4x?x3x8xf32>) {
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt
      : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
  %1 = tptt.virtual_token_expand %x order = 3 trick = rot
      : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x3x8xf32>
  return %0, %1 : tensor<?x4x?x2x8xf32>, tensor<?x4x?x3x8xf32>
}

// The ungated operator's loop over batch x heads is a cooperative kernel:
// a block per head, whose threads share each chunk's products (a barrier
// after each) and its scratch buffers, all in the block's shared memory at
// this size (the state first, at the memory's first 64-byte boundary).
// GPU-LABEL:   func @delta_product$ungated
// GPU:           gpu.launch_func @{{.+}} blocks in (%{{.+}}) threads in (%c256, %c1, %c1) dynamic_shared_memory_size
// GPU:         gpu.func @{{.+}}kernel
// GPU:           gpu.dynamic_shared_memory
// GPU:           memref.extract_aligned_pointer_as_index
// GPU:           arith.subi %c64
// GPU:           %[[START:.+]] = arith.remui %{{.+}}, %c64
// GPU:           memref.view %{{.+}}[%[[START]]][] : memref<?xi8> to memref<8x8xf32>
// GPU:           scf.for
// GPU:             scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c256
// GPU:             gpu.barrier
// PTX:         delta_product$ungated_kernel.ptx: .target sm_90
func.func @delta_product$ungated(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                 %v: tensor<?x4x?x2x8xf32>, %b: tensor<?x4x?x8xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s = tptt.delta_product %q, %k, %v, %b semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s : tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>
}

// So is the gated operator, whose row recursion decays its rows in place.
// GPU-LABEL:   func @delta_product$recurrent
// GPU:           gpu.launch_func {{.+}} dynamic_shared_memory_size
// GPU:         gpu.func @{{.+}}kernel
// GPU:           scf.for
// GPU:             scf.for
// GPU:               gpu.barrier
// PTX:         delta_product$recurrent_kernel.ptx: .target sm_90
func.func @delta_product$recurrent(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                   %v: tensor<?x4x?x2x8xf32>, %b: tensor<?x4x?x8xf32>,
                                   %a: tensor<?x4x?x8xf32>, %m: tensor<?x?xi1>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s = tptt.delta_product %q, %k, %v, %b alpha %a mask %m semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x8xf32>,
         tensor<?x4x?x8xf32>, tensor<?x?xi1>) -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s : tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>
}

// GPU-LABEL:   func @delta_product$tptt_0_12
// GPU:           gpu.launch_func
// PTX:         delta_product$tptt_0_12_kernel.ptx: .target sm_90
func.func @delta_product$tptt_0_12(%x: tensor<2x3x12x2x8xf32>)
    -> (tensor<2x3x12x8xf32>, tensor<2x3x8x8xf32>) {
  %o, %s = tptt.delta_product %x, %x, %x, %x alpha %x semantics = "tptt-0.12" chunk_size = 4
      : (tensor<2x3x12x2x8xf32>, tensor<2x3x12x2x8xf32>, tensor<2x3x12x2x8xf32>,
         tensor<2x3x12x2x8xf32>, tensor<2x3x12x2x8xf32>)
      -> (tensor<2x3x12x8xf32>, tensor<2x3x8x8xf32>)
  return %o, %s : tensor<2x3x12x8xf32>, tensor<2x3x8x8xf32>
}

// GPU-LABEL:   func @delta_product_step
// GPU:           gpu.launch_func
// PTX:         delta_product_step_kernel.ptx: .target sm_90
func.func @delta_product_step(%q: tensor<?x4x8xf32>, %k: tensor<?x4x2x8xf32>, %s: tensor<?x4x8x8xf32>)
    -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s chunk_size = 64
      : (tensor<?x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
      -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s1 : tensor<?x4x8xf32>, tensor<?x4x8x8xf32>
}

// GPU-LABEL:   func @merge_and_mix
// GPU:           gpu.launch_func
// PTX:         merge_and_mix_kernel.ptx: .target sm_90
func.func @merge_and_mix(%y: tensor<?x4x?x8xf32>, %soft: tensor<?x?x32xf32>, %mu: tensor<f32>)
    -> tensor<?x?x32xf32> {
  %lin = tptt.merge_heads %y : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xf32>
  %m = tptt.mag_mix %soft, %lin, %mu cross_gate
      : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<f32>) -> tensor<?x?x32xf32>
  return %m : tensor<?x?x32xf32>
}

// GPU-LABEL:   func @liza_attention
// GPU:           gpu.launch_func
// PTX:         liza_attention_kernel.ptx: .target sm_90
func.func @liza_attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>,
                          %cos: tensor<?x?x16xf32>, %mu: tensor<f32>, %wo: tensor<64x64xf32>,
                          %m: tensor<?x?xi1>) -> tensor<?x?x64xf32> {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %cos) mu(%mu) out_proj(%wo) mask %m
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64, trick = #tptt<trick rot>,
       alpha_gate = #tptt<gate k>, beta_gate = #tptt<gate k>, chunk_size = 8 : i64,
       window = 16 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>,
         tensor<?x?x16xf32>, tensor<f32>, tensor<64x64xf32>, tensor<?x?xi1>)
      -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// A projection with a bf16 weight: at least 64 rows run on tf32 tensor
// cores (a launch at the loops stage already), fewer on the FMA kernels
// that split the reduction.
// LOOPS-LABEL: func @projection_bf16
// LOOPS:         scf.if
// LOOPS:           gpu.launch
// LOOPS:             gpu.subgroup_mma_compute
// LOOPS:         } else {
// LOOPS:           scf.parallel
// LOOPS:             memref.atomic_rmw addf
// PTX:         projection_bf16_kernel.ptx: .target sm_90
// PTX:         projection_bf16_kernel_{{[0-9]+}}.ptx: .target sm_90
func.func @projection_bf16(%x: tensor<?x?x64xf32>, %w: tensor<64x96xbf16>) -> tensor<?x?x96xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x96xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, k, n) -> (b, s, k)>, affine_map<(b, s, k, n) -> (k, n)>, affine_map<(b, s, k, n) -> (b, s, n)>], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<?x?x64xf32>, tensor<64x96xbf16>) outs(%f : tensor<?x?x96xf32>) {
  ^bb0(%a: f32, %c: bf16, %o: f32):
    %cf = arith.extf %c : bf16 to f32
    %p = arith.mulf %a, %cf : f32
    %q = arith.addf %o, %p : f32
    linalg.yield %q : f32
  } -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// With a head dim and chunk of 16, the operator's chunk products run on
// tensor cores inside its cooperative kernel: warp tiles in 3xTF32, the
// loop over k kept rolled (7 products, 3 wmma each).
// LOOPS-LABEL: func @delta_product$tensor_cores
// LOOPS:         scf.parallel
// LOOPS:           scf.for
// LOOPS-COUNT-21:    gpu.subgroup_mma_compute
// GPU-LABEL:   func @delta_product$tensor_cores
// GPU:           gpu.launch_func {{.+}} threads in (%c256, %c1, %c1) dynamic_shared_memory_size
// PTX:         delta_product$tensor_cores_kernel.ptx: .target sm_90
func.func @delta_product$tensor_cores(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x1x16xf32>,
                                      %v: tensor<?x4x?x1x16xf32>, %b: tensor<?x4x?x16xf32>)
    -> (tensor<?x4x?x16xf32>, tensor<?x4x16x16xf32>) {
  %o, %s = tptt.delta_product %q, %k, %v, %b semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x16xf32>, tensor<?x4x?x1x16xf32>, tensor<?x4x?x1x16xf32>, tensor<?x4x?x16xf32>)
      -> (tensor<?x4x?x16xf32>, tensor<?x4x16x16xf32>)
  return %o, %s : tensor<?x4x?x16xf32>, tensor<?x4x16x16xf32>
}

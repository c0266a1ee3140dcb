// Projections with bf16 weights through the CUDA target's tensor-core
// kernels, emulated on the CPU (one thread per block runs a warp's matrix
// operations on whole fragments): 2 × 40 rows take the tensor-core path
// (partial tiles along M, N = 45 and K = 70), 2 × 3 rows the FMA kernels.
// Both weight layouts, [N, K] and [K, N], against float64 sums. The kernels
// round the activations to tf32: the emulation equals the sums of the
// rounded values (1e-6), and the exact ones within 1e-3 (as on a GPU); the
// FMA kernels equal the exact ones.
// RUN: %python %S/Inputs/make_projection.py %t.in40.safetensors %t.ref40.safetensors %t.tf32-40.safetensors 40
// RUN: tptt-run %s --inputs %t.in40.safetensors --outputs %t.out40.safetensors --target cuda-on-cpu
// RUN: %python %S/../tptt-compile/Inputs/compare.py %t.out40.safetensors %t.tf32-40.safetensors 1e-6 | FileCheck %s
// RUN: %python %S/../tptt-compile/Inputs/compare.py %t.out40.safetensors %t.ref40.safetensors 1e-6 | FileCheck %s --check-prefix=ROUNDED
// RUN: %python %S/../tptt-compile/Inputs/compare.py %t.out40.safetensors %t.ref40.safetensors 1e-3 | FileCheck %s
// RUN: %python %S/Inputs/make_projection.py %t.in3.safetensors %t.ref3.safetensors %t.tf32-3.safetensors 3
// RUN: tptt-run %s --inputs %t.in3.safetensors --outputs %t.out3.safetensors --target cuda-on-cpu
// RUN: %python %S/../tptt-compile/Inputs/compare.py %t.out3.safetensors %t.ref3.safetensors 1e-6 | FileCheck %s
// RUN: tptt-run %s --emit=loops --target cuda-on-cpu | FileCheck %s --check-prefix=LOOPS
// On a GPU, the tensor cores stay within 1e-3 of the exact sums too.
// RUN: %if cuda-device %{ tptt-run %s --inputs %t.in40.safetensors --outputs %t.gpu40.safetensors --target cuda %}
// RUN: %if cuda-device %{ %python %S/../tptt-compile/Inputs/compare.py %t.gpu40.safetensors %t.ref40.safetensors 1e-3 | FileCheck %s %}

// CHECK: y: same
// CHECK: z: same
// ROUNDED: y: differs by
// ROUNDED: z: differs by

// LOOPS-LABEL: func.func @project
// LOOPS-COUNT-2: gpu.subgroup_mma_compute
// LOOPS:         } else {
// LOOPS:           scf.parallel
func.func @project(%x: tensor<?x?x70xf32> {tptt.name = "x"},
                   %w: tensor<45x70xbf16> {tptt.name = "w"},
                   %u: tensor<70x45xbf16> {tptt.name = "u"})
    -> (tensor<?x?x45xf32> {tptt.name = "y"}, tensor<?x?x45xf32> {tptt.name = "z"}) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x70xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x70xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x45xf32>
  %zero = arith.constant 0.0 : f32
  %f = linalg.fill ins(%zero : f32) outs(%e : tensor<?x?x45xf32>) -> tensor<?x?x45xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(b, s, n, k) -> (b, s, k)>, affine_map<(b, s, n, k) -> (n, k)>, affine_map<(b, s, n, k) -> (b, s, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : tensor<?x?x70xf32>, tensor<45x70xbf16>) outs(%f : tensor<?x?x45xf32>) {
  ^bb0(%a: f32, %c: bf16, %o: f32):
    %cf = arith.extf %c : bf16 to f32
    %p = arith.mulf %cf, %a : f32
    %q = arith.addf %p, %o : f32
    linalg.yield %q : f32
  } -> tensor<?x?x45xf32>
  %z = linalg.generic {indexing_maps = [affine_map<(b, s, k, n) -> (b, s, k)>, affine_map<(b, s, k, n) -> (k, n)>, affine_map<(b, s, k, n) -> (b, s, n)>], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %u : tensor<?x?x70xf32>, tensor<70x45xbf16>) outs(%y : tensor<?x?x45xf32>) {
  ^bb0(%a: f32, %c: bf16, %o: f32):
    %cf = arith.extf %c : bf16 to f32
    %p = arith.mulf %a, %cf : f32
    %q = arith.addf %o, %p : f32
    linalg.yield %q : f32
  } -> tensor<?x?x45xf32>
  return %y, %z : tensor<?x?x45xf32>, tensor<?x?x45xf32>
}

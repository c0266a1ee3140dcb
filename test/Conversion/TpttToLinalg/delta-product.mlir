// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s
// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg="chunk-size=4" -canonicalize -cse | FileCheck %s --check-prefix=CHUNK4
// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg="blocked-tril-inverse" -canonicalize -cse | FileCheck %s --check-prefix=BLOCKED

// Ungated recurrent operator: the sequence is laid out in chunks of C = 16
// real tokens (N = 32 virtual tokens), one (batch, head) per scf.forall
// iteration, and a sequential scan over chunks; per chunk the UT transform
// T = (I + stril(W Kᵀ))⁻¹ (a row-by-row forward substitution), then
// U = T (B − W S); the chunk's output rows (zero-filled in the result)
// accumulate Q S and causal(Q Kᵀ) U, and the state accumulates Kᵀ U in
// place.
// CHECK-LABEL: func @delta_product$ungated
// CHECK:         tensor.expand_shape {{.+}} into tensor<?x4x?x16x8xf32>
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (%{{.+}}, 4) shared_outs(
// CHECK:           scf.for {{.+}} iter_args(%[[S:[^ ]+]] = {{.+}} -> (tensor<8x8xf32>, tensor<?x16x8xf32>)
// CHECK:             linalg.transpose ins(%{{.+}} : tensor<32x8xf32>) outs(%{{.+}} : tensor<8x32xf32>)
// CHECK:             } -> tensor<32x32xf32>
// CHECK:             scf.for {{.+}} -> (tensor<32x32xf32>)
// CHECK:             } -> tensor<32x8xf32>
// CHECK:             } -> tensor<16x32xf32>
// CHECK:             %[[ROWS:.+]] = linalg.fill {{.+}} -> tensor<16x8xf32>
// CHECK:             %[[READ:.+]] = linalg.generic {{.+}} outs(%[[ROWS]] : tensor<16x8xf32>)
// CHECK:             linalg.generic {{.+}} outs(%[[READ]] : tensor<16x8xf32>)
// CHECK:             linalg.generic {{.+}} outs(%[[S]] : tensor<8x8xf32>)
// CHECK:           scf.forall.in_parallel
// CHECK:             tensor.parallel_insert_slice
// CHECK:             tensor.parallel_insert_slice
// CHUNK4-LABEL:  func @delta_product$ungated
// CHUNK4:          tensor.expand_shape {{.+}} into tensor<?x4x?x4x8xf32>
func.func @delta_product$ungated(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                 %b: tensor<?x4x?x8xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s = tptt.delta_product %q, %k, %k, %b semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s : tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>
}

// -----

// Gated: forward substitution over the 32 rows of each chunk, decaying the
// earlier rows per channel; the state decays by Γ_N and adds Kᵀ D. Nonlinear
// mode keeps the op's chunk size (the period of φ, with math.tanh) whatever
// the schedule option.
// CHECK-LABEL: func @delta_product$gated_nonlinear
// CHECK:         scf.forall
// CHECK:           scf.for {{.+}} -> (tensor<8x8xf32>, tensor<?x16x8xf32>)
// CHECK:             scf.for {{.+}} -> (tensor<32x8xf32>, tensor<8xf32>, tensor<16x8xf32>)
// CHECK:             scf.if
// CHECK:               math.tanh
// CHUNK4-LABEL:  func @delta_product$gated_nonlinear
// CHUNK4:          tensor.expand_shape {{.+}} into tensor<?x4x?x16x8xf32>
func.func @delta_product$gated_nonlinear(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                         %b: tensor<?x4x?x8xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s = tptt.delta_product %q, %k, %k, %b alpha %b semantics = recurrent chunk_size = 16 nonlinear
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x8xf32>,
         tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s : tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>
}

// -----

// A padding mask packs each sequence's real tokens to the front with a scan
// over the mask, and the outputs are scattered back and zeroed at padding.
// CHECK-LABEL: func @delta_product$masked
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:             tensor.extract %{{.+}} : tensor<?x?xi1>
// CHECK:         scf.forall
// CHECK:         arith.select
func.func @delta_product$masked(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x1x8xf32>,
                                %m: tensor<?x?xi1>) -> tensor<?x4x?x8xf32> {
  %o, %s = tptt.delta_product %q, %k, %k, %q mask %m semantics = recurrent chunk_size = 64
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x1x8xf32>, tensor<?x4x?x1x8xf32>, tensor<?x4x?x8xf32>,
         tensor<?x?xi1>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o : tensor<?x4x?x8xf32>
}

// -----

// tptt-0.12: the chunk is the largest divisor of S not above 64 (a loop over
// candidates), the state starts at 1e-6, and every position of a chunk
// restarts from the incoming state: P is [C, d, d].
// CHECK-LABEL: func @delta_product$tptt_0_12
// CHECK-DAG:     %[[FILL:.+]] = arith.constant 9.9999999999999995E-7 : f64
// CHECK-DAG:     %[[MAX:.+]] = arith.constant 64 : index
// CHECK:         arith.minui %{{.+}}, %[[MAX]]
// CHECK:         scf.for {{.+}} -> (index)
// CHECK:         scf.forall
// CHECK:           linalg.fill ins(%[[FILL]] : f64)
// CHECK:           scf.for {{.+}} -> (tensor<8x8xf64>, tensor<?x8xf64>)
// CHECK:             -> tensor<?x8x8xf64>
func.func @delta_product$tptt_0_12(%x: tensor<2x3x?x2x8xf64>)
    -> (tensor<2x3x?x8xf64>, tensor<2x3x8x8xf64>) {
  %o, %s = tptt.delta_product %x, %x, %x, %x alpha %x semantics = "tptt-0.12" chunk_size = 64
      : (tensor<2x3x?x2x8xf64>, tensor<2x3x?x2x8xf64>, tensor<2x3x?x2x8xf64>, tensor<2x3x?x2x8xf64>,
         tensor<2x3x?x2x8xf64>)
      -> (tensor<2x3x?x8xf64>, tensor<2x3x8x8xf64>)
  return %o, %s : tensor<2x3x?x8xf64>, tensor<2x3x8x8xf64>
}

// -----

// One decode step: n = 2 unrolled virtual steps on [B, H, d, d] states, no
// loops; φ selected per sequence from its position.
// CHECK-LABEL: func @delta_product_step
// CHECK-NOT:     scf.for
// CHECK:         math.tanh
// CHECK:         arith.remsi
// CHECK:         arith.select
func.func @delta_product_step(%q: tensor<?x4x8xf32>, %k: tensor<?x4x2x8xf32>,
                              %s: tensor<?x4x8x8xf32>, %p: tensor<?xi64>)
    -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q position %p chunk_size = 4 nonlinear
      : (tensor<?x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x8xf32>,
         tensor<?x4x8x8xf32>, tensor<?x4x8xf32>, tensor<?xi64>)
      -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s1 : tensor<?x4x8xf32>, tensor<?x4x8x8xf32>
}

// -----

// CHECK-LABEL: func @tril_inverse
// CHECK:         scf.for {{.+}} -> (tensor<2x5x5xf32>)
// CHECK:           arith.negf
// CHECK:           tensor.insert_slice
// CHECK:         arith.cmpi eq
func.func @tril_inverse(%l: tensor<2x5x5xf32>) -> tensor<2x5x5xf32> {
  %t = tptt.tril_inverse %l : tensor<2x5x5xf32>
  return %t : tensor<2x5x5xf32>
}

// -----

// CHECK-LABEL: func @phi
// CHECK:         iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         math.sqrt
// CHECK:         math.tanh
func.func @phi(%h: tensor<3x4x6xf32>) -> tensor<3x4x6xf32> {
  %p = tptt.phi %h : tensor<3x4x6xf32>
  return %p : tensor<3x4x6xf32>
}

// -----

// With blocked-tril-inverse, the ungated scan's 32-row chunks (C = 16,
// n = 2) invert their two 16 × 16 diagonal blocks together (one row
// recursion of 16 steps over both), and get the block below them as
// −T₁₁ (L₁₀ T₀₀).
// BLOCKED-LABEL: func @delta_product$blocked_inverse
// BLOCKED:         %[[L:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<32x32xf32>)
// BLOCKED:         %[[DIAGONAL:.+]] = linalg.generic {{.+}} ins(%{{.+}} : tensor<2x16x2x16xf32>) outs(%{{.+}} : tensor<2x16x16xf32>)
// BLOCKED:         scf.for %{{.+}} = %c0 to %c16 step %c1 iter_args(%{{.+}}) -> (tensor<2x16x16xf32>)
// BLOCKED:           tensor.extract_slice %[[DIAGONAL]]
// BLOCKED:         %[[T00:.+]] = tensor.extract_slice %[[INVERSES:.+]][0, 0, 0] [1, 16, 16]
// BLOCKED:         %[[T11:.+]] = tensor.extract_slice %[[INVERSES]][1, 0, 0] [1, 16, 16]
// BLOCKED:         %[[L10:.+]] = tensor.extract_slice %[[L]][16, 0] [16, 16]
// BLOCKED:         %[[X:.+]] = linalg.generic {{.+}} ins(%[[L10]], %[[T00]] : tensor<16x16xf32>, tensor<16x16xf32>)
// BLOCKED:         %[[Y:.+]] = linalg.generic {{.+}} ins(%[[T11]], %[[X]] : tensor<16x16xf32>, tensor<16x16xf32>)
// BLOCKED:         %[[NEGATED:.+]] = linalg.generic {{.+}} ins(%[[Y]] : tensor<16x16xf32>)
// BLOCKED:           arith.negf
// BLOCKED:         %[[BELOW:.+]] = tensor.insert_slice %[[NEGATED]] into %{{.+}}[16, 0] [16, 16]
// BLOCKED:         tensor.insert_slice %[[T11]] into %[[BELOW]][16, 16] [16, 16]
func.func @delta_product$blocked_inverse(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                         %v: tensor<?x4x?x2x8xf32>, %b: tensor<?x4x?x8xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>) {
  %o, %s = tptt.delta_product %q, %k, %v, %b semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return %o, %s : tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>
}

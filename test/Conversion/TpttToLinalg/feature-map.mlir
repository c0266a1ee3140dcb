// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// q̂, k̂: silu then the L2 norm over d (a reduction), divided with the norm
// clamped at 1e-6; k and v are read per query head from their KV head
// ([B, Hkv, g, S, d] iteration, collapsed); v̂ = v · d^{-1/2}. The linear
// branch runs in f32 on bf16 projections.
// CHECK-LABEL: func @feature_map
// CHECK-DAG:     %[[EPS:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK-DAG:     %[[SCALE:.+]] = arith.constant 0.353553385 : f32
// CHECK:         arith.extf %{{.+}} : bf16 to f32
// CHECK:         math.exp
// CHECK:         iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:         math.sqrt
// CHECK:         arith.maximumf %{{.+}}, %[[EPS]] : f32
// CHECK:         tensor.collapse_shape {{.+}} into tensor<?x4x?x8xf32>
// CHECK:         outs(%{{.+}} : tensor<?x2x2x?x8xf32>)
// CHECK:         arith.mulf %{{.+}}, %[[SCALE]] : f32
func.func @feature_map(%q: tensor<?x?x32xbf16>, %k: tensor<?x?x16xbf16>, %v: tensor<?x?x16xbf16>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %a, %b, %c = tptt.feature_map %q, %k, %v heads = 4 kv_heads = 2
      : (tensor<?x?x32xbf16>, tensor<?x?x16xbf16>, tensor<?x?x16xbf16>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %a, %b, %c : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// -----

// The RMS over all H·d channels of a token (two reductions), computed in the
// input precision, then the cast to the model's type.
// CHECK-LABEL: func @merge_heads
// CHECK:         %[[COUNT:.+]] = arith.constant 3.200000e+01 : f32
// CHECK:         iterator_types = ["parallel", "parallel", "reduction", "reduction"]
// CHECK:         arith.divf %{{.+}}, %[[COUNT]] : f32
// CHECK:         math.sqrt
// CHECK:         arith.truncf %{{.+}} : f32 to bf16
// CHECK:         tensor.collapse_shape {{.+}} into tensor<?x?x32xbf16>
func.func @merge_heads(%y: tensor<?x4x?x8xf32>) -> tensor<?x?x32xbf16> {
  %0 = tptt.merge_heads %y : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xbf16>
  return %0 : tensor<?x?x32xbf16>
}

// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// The width-3 mean reads rows t−2, t−1, t (clamped at 0: replicate padding),
// oldest first, each weighted by 1/3.
// CHECK-LABEL: func @causal_mean
// CHECK-DAG:     %[[THIRD:.+]] = arith.constant 0.33333333333333331 : f64
// CHECK-DAG:     %[[M2:.+]] = arith.constant -2 : index
// CHECK:         linalg.generic
// CHECK:           %[[T:.+]] = linalg.index 1 : index
// CHECK:           %[[P:.+]] = arith.addi %[[T]], %[[M2]] : index
// CHECK:           %[[C:.+]] = arith.maxsi %[[P]], %{{.+}} : index
// CHECK:           %[[X:.+]] = tensor.extract %{{.+}}[%{{.+}}, %[[C]], %{{.+}}]
// CHECK:           arith.mulf %[[X]], %[[THIRD]] : f64
func.func @causal_mean(%x: tensor<2x9x6xf64>) -> tensor<2x9x6xf64> {
  %0 = tptt.causal_mean %x : (tensor<2x9x6xf64>) -> tensor<2x9x6xf64>
  return %0 : tensor<2x9x6xf64>
}

// -----

// history rows are concatenated in front: no clamping needed.
// CHECK-LABEL: func @causal_mean$history
// CHECK:         tensor.concat dim(1) %{{.+}}, %{{.+}} : (tensor<2x2x6xf64>, tensor<2x9x6xf64>) -> tensor<2x11x6xf64>
func.func @causal_mean$history(%x: tensor<2x9x6xf64>, %h: tensor<2x2x6xf64>) -> tensor<2x9x6xf64> {
  %0 = tptt.causal_mean %x history %h : (tensor<2x9x6xf64>, tensor<2x2x6xf64>) -> tensor<2x9x6xf64>
  return %0 : tensor<2x9x6xf64>
}

// -----

// Gates: σ of the pooled k (and v), read per query head from its KV head
// through a projected map over [B, Hkv, g, S, d]; a constant code is a fill.
// CHECK-LABEL: func @gates
// CHECK-DAG:     %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK:         tensor.expand_shape {{.+}} into tensor<?x?x2x8xf32>
// CHECK:         linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}], {{.+}} ins(%{{.+}} : tensor<?x?x2x8xf32>) outs(%{{.+}} : tensor<?x2x2x?x8xf32>)
// CHECK:           math.exp
// CHECK:         tensor.collapse_shape {{.+}} into tensor<?x4x?x8xf32>
// CHECK:         linalg.generic {{.+}} outs(%{{.+}} : tensor<?x2x2x?x8xf32>)
// CHECK:           linalg.yield %[[HALF]] : f32
func.func @gates(%k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %a, %b = tptt.gates %k, %v alpha = k beta = c heads = 4 kv_heads = 2
      : (tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %a, %b : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// -----

// With a mask, k and v share one packing scan of the mask.
// CHECK-LABEL: func @gates$masked
// CHECK-COUNT-1: tensor.extract %{{.+}} : tensor<?x?xi1>
// CHECK-NOT:     tensor.extract %{{.+}} : tensor<?x?xi1>
func.func @gates$masked(%k: tensor<?x?x16xf32>, %m: tensor<?x?xi1>)
    -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %a, %b = tptt.gates %k, %k mask %m alpha = k beta = kv heads = 4 kv_heads = 2
      : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?xi1>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %a, %b : tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

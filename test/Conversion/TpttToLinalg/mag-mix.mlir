// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// s = (1 − μ) soft, l = μ lin, out = s + l + s ⊙ l; μ read once from its
// 0-d tensor.
// CHECK-LABEL: func @mag_mix$cross
// CHECK:         %[[MU:.+]] = tensor.extract %{{.+}}[] : tensor<f32>
// CHECK:         linalg.generic
// CHECK:           %[[ONE_MINUS:.+]] = arith.subf %{{.+}}, %[[MU]] : f32
// CHECK:           %[[S:.+]] = arith.mulf %[[ONE_MINUS]], %{{.+}} : f32
// CHECK:           %[[L:.+]] = arith.mulf %[[MU]], %{{.+}} : f32
// CHECK:           %[[SUM:.+]] = arith.addf %[[S]], %[[L]] : f32
// CHECK:           %[[CROSS:.+]] = arith.mulf %[[S]], %[[L]] : f32
// CHECK:           arith.addf %[[SUM]], %[[CROSS]] : f32
func.func @mag_mix$cross(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>, %mu: tensor<f32>) -> tensor<?x?x64xf32> {
  %0 = tptt.mag_mix %s, %l, %mu cross_gate : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// base_scale_attn: lin · √(Σ_D soft² / D + 1e-5) per token.
// CHECK-LABEL: func @mag_mix$base_scale
// CHECK:         iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic
// CHECK:           arith.divf %{{.+}}, %{{.+}} : f32
// CHECK:           math.sqrt
func.func @mag_mix$base_scale(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>, %mu: tensor<f64>) -> tensor<?x?x64xf32> {
  %0 = tptt.mag_mix %s, %l, %mu base_scale_attn : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f64>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

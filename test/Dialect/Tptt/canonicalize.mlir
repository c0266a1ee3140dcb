// RUN: tptt-opt %s -split-input-file -canonicalize | FileCheck %s

// μ = 0 is the base model: the mix folds to the softmax branch, whatever the
// gate options.
// CHECK-LABEL: func @mag_mix$mu_zero
// CHECK-SAME:    (%[[SOFT:[^:]+]]: tensor<?x?x64xf32>,
// CHECK-NOT:     tptt.mag_mix
// CHECK:         return %[[SOFT]], %[[SOFT]]
func.func @mag_mix$mu_zero(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %mu = arith.constant dense<0.0> : tensor<f32>
  %0 = tptt.mag_mix %s, %l, %mu : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = tptt.mag_mix %s, %l, %mu cross_gate base_scale_attn
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// μ = 1 without cross term or base scaling is the linear branch alone.
// CHECK-LABEL: func @mag_mix$mu_one
// CHECK-SAME:    (%{{[^:]+}}: tensor<?x?x64xf32>, %[[LIN:[^:]+]]: tensor<?x?x64xf32>)
// CHECK:         %[[CROSS:.+]] = tptt.mag_mix {{.+}} cross_gate :
// CHECK:         %[[SCALED:.+]] = tptt.mag_mix {{.+}} base_scale_attn :
// CHECK:         return %[[LIN]], %[[CROSS]], %[[SCALED]]
func.func @mag_mix$mu_one(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %mu = arith.constant dense<1.0> : tensor<f32>
  %0 = tptt.mag_mix %s, %l, %mu : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = tptt.mag_mix %s, %l, %mu cross_gate : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %2 = tptt.mag_mix %s, %l, %mu base_scale_attn : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  return %0, %1, %2 : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Any other μ, or a run-time μ, keeps the op.
// CHECK-LABEL: func @mag_mix$no_fold
// CHECK-COUNT-2: tptt.mag_mix
func.func @mag_mix$no_fold(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>, %mu: tensor<f32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = tptt.mag_mix %s, %l, %half : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = tptt.mag_mix %s, %l, %mu : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Order 1 has one virtual token per real token: the expansion is a reshape.
// CHECK-LABEL: func @virtual_token_expand$order_one
// CHECK-SAME:    (%[[X:[^:]+]]: tensor<?x4x?x8xf32>
// CHECK:         %[[E:.+]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1], [2], [3, 4]] output_shape [%{{.+}}, 4, %{{.+}}, 1, 8] : tensor<?x4x?x8xf32> into tensor<?x4x?x1x8xf32>
// CHECK-NOT:     tptt.virtual_token_expand
// CHECK:         return %[[E]]
func.func @virtual_token_expand$order_one(%x: tensor<?x4x?x8xf32>, %m: tensor<?x?xi1>) -> tensor<?x4x?x1x8xf32> {
  %0 = tptt.virtual_token_expand %x mask %m order = 1 trick = rot
      : (tensor<?x4x?x8xf32>, tensor<?x?xi1>) -> tensor<?x4x?x1x8xf32>
  return %0 : tensor<?x4x?x1x8xf32>
}

// -----

// CHECK-LABEL: func @virtual_token_expand$order_two
// CHECK:         tptt.virtual_token_expand
func.func @virtual_token_expand$order_two(%x: tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32> {
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
  return %0 : tensor<?x4x?x2x8xf32>
}

// -----

// A constant all-ones decay is no decay: the alpha operand is dropped.
// CHECK-LABEL: func @delta_product$unit_alpha
// CHECK:         tptt.delta_product %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} semantics = recurrent chunk_size = 64 :
// CHECK:         tptt.delta_product %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} alpha %{{.+}} semantics = recurrent chunk_size = 64 :
func.func @delta_product$unit_alpha(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>)
    -> (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) {
  %one = arith.constant dense<1.0> : tensor<1x2x5x8xf32>
  %half = arith.constant dense<0.5> : tensor<1x2x5x8xf32>
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %one semantics = recurrent chunk_size = 64
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  %o2, %s2 = tptt.delta_product %q, %k, %k, %q alpha %half semantics = recurrent chunk_size = 64
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return %o, %o2 : tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>
}

// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// The row maximum and Σ exp(l − max) per position, then one reduction over
// the positions picking the label's logit (clamped into [0, V)) where the
// label counts, the count N, and the sum over max(N, 1).
// CHECK-LABEL: func @cross_entropy
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.maximumf
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           math.exp
// CHECK:         linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]
// CHECK:           arith.cmpi ne, %{{.+}}, %c-100_i64
// CHECK:           arith.minsi %{{.+}}, %c95
// CHECK:           tensor.extract %{{.+}} : tensor<?x?x96xf32>
// CHECK:           math.log
// CHECK:           arith.select
// CHECK:         arith.uitofp
// CHECK:         arith.maximumf %{{.+}}, %cst
// CHECK:         arith.divf
// CHECK-NOT:     tptt.
func.func @cross_entropy(%l: tensor<?x?x96xf32>, %labels: tensor<?x?xi64>) -> tensor<f32> {
  %0 = tptt.cross_entropy %l, %labels : (tensor<?x?x96xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// softmax − onehot, scaled by dloss / max(N, 1), zero where ignored: one
// parallel generic over [B, S, V] after the row statistics.
// CHECK-LABEL: func @cross_entropy_grad
// CHECK-NOT:     tptt.
// CHECK:         arith.maximumf
// CHECK:         math.exp
// CHECK:         arith.uitofp
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]{{.+}} outs(%{{.+}} : tensor<?x?x96xf64>)
// CHECK:           arith.cmpi ne, %{{.+}}, %c-1_i64
// CHECK:           math.exp
// CHECK:           linalg.index 2
// CHECK:           arith.select
// CHECK:           arith.mulf
// CHECK:           arith.select
// CHECK-NOT:     tptt.
func.func @cross_entropy_grad(%l: tensor<?x?x96xf64>, %labels: tensor<?x?xi64>, %d: tensor<f64>) -> tensor<?x?x96xf64> {
  %0 = tptt.cross_entropy_grad %l, %labels, %d {ignore_index = -1 : i64} : (tensor<?x?x96xf64>, tensor<?x?xi64>, tensor<f64>) -> tensor<?x?x96xf64>
  return %0 : tensor<?x?x96xf64>
}

// -----

// A zero table, then a loop over the tokens adding each row of dy to the
// table row of its clamped id.
// CHECK-LABEL: func @embedding_grad
// CHECK-NOT:     tptt.
// CHECK:         %[[ZERO:.+]] = linalg.fill {{.+}} -> tensor<96x64xf32>
// CHECK:         scf.for {{.+}} iter_args(%{{.+}} = %[[ZERO]])
// CHECK:           scf.for {{.+}} iter_args(%[[TABLE:.+]] = %{{.+}})
// CHECK:             arith.minsi %{{.+}}, %c95
// CHECK:             %[[ROW:.+]] = tensor.extract_slice %[[TABLE]][%[[ID:.+]], 0] [1, 64] [1, 1] : tensor<96x64xf32> to tensor<1x64xf32>
// CHECK:             %[[DY:.+]] = tensor.extract_slice %{{.+}} [1, 1, 64] [1, 1, 1] : tensor<?x?x64xf32> to tensor<1x1x64xf32>
// CHECK:             %[[SUM:.+]] = linalg.generic {{.+}} ins(%[[ROW]], %[[DY]] : tensor<1x64xf32>, tensor<1x1x64xf32>)
// CHECK:               arith.addf
// CHECK:             tensor.insert_slice %[[SUM]] into %[[TABLE]][%[[ID]], 0] [1, 64] [1, 1]
// CHECK-NOT:     tptt.
func.func @embedding_grad(%ids: tensor<?x?xi64>, %dy: tensor<?x?x64xf32>) -> tensor<96x64xf32> {
  %0 = tptt.embedding_grad %ids, %dy : (tensor<?x?xi64>, tensor<?x?x64xf32>) -> tensor<96x64xf32>
  return %0 : tensor<96x64xf32>
}

// -----

// dyᵀ x summed over both leading dimensions in one contraction, then the
// scale.
// CHECK-LABEL: func @linear_weight_grad
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "reduction", "reduction", "parallel"]{{.+}} ins(%arg1, %arg0 : tensor<?x?x64xf32>, tensor<?x?x32xf32>) outs(%{{.+}} : tensor<64x32xf32>)
// CHECK:         arith.mulf %{{.+}}, %cst{{.*}} : f32
// CHECK-NOT:     tptt.
func.func @linear_weight_grad(%x: tensor<?x?x32xf32>, %dy: tensor<?x?x64xf32>) -> tensor<64x32xf32> {
  %0 = tptt.linear_weight_grad %x, %dy {scale = 2.0 : f64} : (tensor<?x?x32xf32>, tensor<?x?x64xf32>) -> tensor<64x32xf32>
  return %0 : tensor<64x32xf32>
}

// -----

// xᵀ dy with transposed_weight; scale 1 adds no generic.
// CHECK-LABEL: func @linear_weight_grad$transposed
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "reduction", "reduction", "parallel"]{{.+}} ins(%arg0, %arg1 : tensor<?x?x32xf32>, tensor<?x?x64xf32>) outs(%{{.+}} : tensor<32x64xf32>)
// CHECK-NOT:     linalg.generic
// CHECK-NOT:     tptt.
func.func @linear_weight_grad$transposed(%x: tensor<?x?x32xf32>, %dy: tensor<?x?x64xf32>) -> tensor<32x64xf32> {
  %0 = tptt.linear_weight_grad %x, %dy transposed_weight : (tensor<?x?x32xf32>, tensor<?x?x64xf32>) -> tensor<32x64xf32>
  return %0 : tensor<32x64xf32>
}

// -----

// CHECK-LABEL: func @sum_to_last
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["reduction", "reduction", "parallel"]{{.+}} ins(%arg0 : tensor<?x?x64xf64>) outs(%{{.+}} : tensor<64xf64>)
// CHECK:           arith.addf
// CHECK-NOT:     tptt.
func.func @sum_to_last(%dy: tensor<?x?x64xf64>) -> tensor<64xf64> {
  %0 = tptt.sum_to_last %dy : (tensor<?x?x64xf64>) -> tensor<64xf64>
  return %0 : tensor<64xf64>
}

// -----

// r per row, Σ(dy ⊙ w ⊙ x) per row, dx elementwise, dw reduced over the rows.
// CHECK-LABEL: func @rms_norm_grad
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.mulf
// CHECK:         math.rsqrt
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]{{.+}} outs(%{{.+}} : tensor<?x?x64xf32>)
// CHECK:           arith.subf
// CHECK:         linalg.generic {{.+}}iterator_types = ["reduction", "reduction", "parallel"]{{.+}} outs(%{{.+}} : tensor<64xf32>)
// CHECK-NOT:     tptt.
func.func @rms_norm_grad(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>) {
  %dx, %dw = tptt.rms_norm_grad %x, %w, %dy {eps = 1.0e-05 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>)
  return %dx, %dw : tensor<?x?x64xf32>, tensor<64xf32>
}

// -----

// Two elementwise generics, each recomputing σ(g).
// CHECK-LABEL: func @swiglu_grad
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.exp
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.exp
// CHECK-NOT:     tptt.
func.func @swiglu_grad(%g: tensor<?x?x128xf32>, %u: tensor<?x?x128xf32>, %dy: tensor<?x?x128xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  %dg, %du = tptt.glu_grad %g, %u, %dy : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>)
  return %dg, %du : tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// -----

// GeGLU: the same two generics, each recomputing tanh (no sigmoid).
// CHECK-LABEL: func @geglu_grad
// CHECK-NOT:     math.exp
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.tanh
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.tanh
// CHECK-NOT:     tptt.
func.func @geglu_grad(%g: tensor<?x?x128xf32>, %u: tensor<?x?x128xf32>, %dy: tensor<?x?x128xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  %dg, %du = tptt.glu_grad %g, %u, %dy activation = gelu_tanh : (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>)
  return %dg, %du : tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// -----

// With weight_offset the row terms read c + w, built once per channel.
// CHECK-LABEL: func @rms_norm_grad_offset
// CHECK:         %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel"]{{.+}} ins(%arg1 : tensor<64xf32>)
// CHECK:           arith.addf %{{.+}}, %[[ONE]] : f32
// CHECK-NOT:     tptt.
func.func @rms_norm_grad_offset(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>) {
  %dx, %dw = tptt.rms_norm_grad %x, %w, %dy {eps = 1.0e-05 : f64, weight_offset = 1.0 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>)
  return %dx, %dw : tensor<?x?x64xf32>, tensor<64xf32>
}

// -----

// CHECK-LABEL: func @sum_squares
// CHECK-NOT:     tptt.
// CHECK:         linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]{{.+}} ins(%arg0 : tensor<?x8xf32>) outs(%{{.+}} : tensor<f32>)
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK-NOT:     tptt.
func.func @sum_squares(%g: tensor<?x8xf32>) -> tensor<f32> {
  %0 = tptt.sum_squares %g : (tensor<?x8xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// The hyperparameters read once (and widened to the parameter's type), then
// one elementwise generic with the three results: decay first, the moments,
// the bias-corrected step.
// CHECK-LABEL: func @adamw
// CHECK-NOT:     tptt.
// CHECK:         tensor.extract %arg4[%c6] : tensor<7xf32>
// CHECK:         arith.extf {{.+}} : f32 to f64
// CHECK:         %{{.+}}:3 = linalg.generic {{.+}}iterator_types = ["parallel", "parallel"]
// CHECK:           math.sqrt
// CHECK:           linalg.yield %{{.+}}, %{{.+}}, %{{.+}} : f64, f64, f64
// CHECK-NOT:     tptt.
func.func @adamw(%p: tensor<?x8xf64>, %g: tensor<?x8xf64>, %m: tensor<?x8xf64>, %v: tensor<?x8xf64>, %h: tensor<7xf32>, %s: tensor<f32>) -> (tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64>) {
  %p1, %m1, %v1 = tptt.adamw %p, %g, %m, %v, %h, %s : (tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64>, tensor<7xf32>, tensor<f32>) -> (tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64>)
  return %p1, %m1, %v1 : tensor<?x8xf64>, tensor<?x8xf64>, tensor<?x8xf64>
}

// -----

// dy ⊙ (1 − tanh²(x / c)) in one elementwise generic.
// CHECK-LABEL: func @soft_cap_grad
// CHECK-DAG:     %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG:     %[[C:.+]] = arith.constant 3.000000e+01 : f32
// CHECK:         linalg.generic
// CHECK:         ^bb0(%[[X:.+]]: f32, %[[DY:.+]]: f32, %{{.+}}: f32):
// CHECK:           %[[T:.+]] = math.tanh
// CHECK:           %[[T2:.+]] = arith.mulf %[[T]], %[[T]] : f32
// CHECK:           %[[S:.+]] = arith.subf %[[ONE]], %[[T2]] : f32
// CHECK:           arith.mulf %[[DY]], %[[S]] : f32
func.func @soft_cap_grad(%x: tensor<?x?x256xf32>, %dy: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
  %dx = tptt.soft_cap_grad %x, %dy cap = 30.0 : tensor<?x?x256xf32>
  return %dx : tensor<?x?x256xf32>
}

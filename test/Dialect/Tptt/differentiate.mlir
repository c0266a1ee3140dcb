// RUN: tptt-opt %s --tptt-differentiate -split-input-file -verify-diagnostics | FileCheck %s

// A projection and a residual under a reshape: the cotangent of %x sums its
// two uses, the weight's comes from linear_weight_grad, the reshape is
// undone, the seed is 1 and the unused argument gets no work.
// CHECK-LABEL: func.func private @loss_value_and_grad_0110
// CHECK-SAME:      -> (tensor<f32>, tensor<?x4xf32>, tensor<4x4xf32>)
// CHECK:         %[[Y:.+]] = tptt.linear %[[X:[^,]+]], %[[W:[^ ]+]] transposed_weight
// CHECK:         %[[R:.+]] = arith.addf %[[X]], %[[Y]]
// CHECK:         %[[E:.+]] = tensor.expand_shape %[[R]]
// CHECK:         %[[LOSS:.+]] = tptt.cross_entropy %[[E]]
// CHECK:         %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK:         %[[DE:.+]] = tptt.cross_entropy_grad %[[E]], %{{.+}}, %[[ONE]]
// CHECK:         %[[DR:.+]] = tensor.collapse_shape %[[DE]]
// CHECK:         %[[DX:.+]] = tptt.linear %[[DR]], %[[W]] :
// CHECK:         %[[DW:.+]] = tptt.linear_weight_grad %[[X]], %[[DR]] transposed_weight
// CHECK:         %[[SUM:.+]] = arith.addf %[[DR]], %[[DX]]
// CHECK:         return %[[LOSS]], %[[SUM]], %[[DW]]
// CHECK-LABEL: func.func @step
// CHECK:         call @loss_value_and_grad_0110
func.func @loss(%labels: tensor<?x?xi64>, %x: tensor<?x4xf32>, %w: tensor<4x4xf32>, %unused: tensor<4xf32>) -> tensor<f32> {
  %y = tptt.linear %x, %w transposed_weight : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %r = arith.addf %x, %y : tensor<?x4xf32>
  %c0 = arith.constant 0 : index
  %n = tensor.dim %r, %c0 : tensor<?x4xf32>
  %e = tensor.expand_shape %r [[0, 1], [2]] output_shape [1, %n, 4] : tensor<?x4xf32> into tensor<1x?x4xf32>
  %l = tptt.cross_entropy %e, %labels : (tensor<1x?x4xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %l : tensor<f32>
}
func.func @step(%labels: tensor<?x?xi64>, %x: tensor<?x4xf32>, %w: tensor<4x4xf32>, %u: tensor<4xf32>) -> (tensor<f32>, tensor<?x4xf32>, tensor<4x4xf32>) {
  %l, %dx, %dw = tptt.value_and_grad @loss(%labels, %x, %w, %u) wrt [1, 2] : (tensor<?x?xi64>, tensor<?x4xf32>, tensor<4x4xf32>, tensor<4xf32>) -> (tensor<f32>, tensor<?x4xf32>, tensor<4x4xf32>)
  return %l, %dx, %dw : tensor<f32>, tensor<?x4xf32>, tensor<4x4xf32>
}

// -----

// A call becomes a call of the callee's VJP, which recomputes its forward;
// one VJP function per set of differentiated operands.
// CHECK-LABEL: func.func private @block_vjp_11
// CHECK:         tptt.rms_norm %arg0, %arg1
// CHECK:         tptt.rms_norm_grad %arg0, %arg1, %arg2
// CHECK-LABEL: func.func private @loss_value_and_grad_011
// CHECK:         %[[H:.+]] = call @block(%arg1, %arg2)
// CHECK:         tptt.cross_entropy_grad
// CHECK:         %[[G:.+]]:2 = call @block_vjp_11(%arg1, %arg2, %{{.+}})
// CHECK:         return %{{.+}}, %[[G]]#0, %[[G]]#1
func.func private @block(%x: tensor<?x?x4xf32>, %w: tensor<4xf32>) -> tensor<?x?x4xf32> {
  %y = tptt.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}
func.func private @loss(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>, %w: tensor<4xf32>) -> tensor<f32> {
  %h = call @block(%x, %w) : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %l = tptt.cross_entropy %h, %labels : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %l : tensor<f32>
}
func.func @step(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>, %w: tensor<4xf32>) -> (tensor<f32>, tensor<?x?x4xf32>, tensor<4xf32>) {
  %l, %dx, %dw = tptt.value_and_grad @loss(%labels, %x, %w) wrt [1, 2] : (tensor<?x?xi64>, tensor<?x?x4xf32>, tensor<4xf32>) -> (tensor<f32>, tensor<?x?x4xf32>, tensor<4xf32>)
  return %l, %dx, %dw : tensor<f32>, tensor<?x?x4xf32>, tensor<4xf32>
}

// -----

// μ is a schedule: asking for its gradient is an error naming the operand.
func.func private @loss(%labels: tensor<?x?xi64>, %s: tensor<?x?x4xf32>, %l: tensor<?x?x4xf32>, %mu: tensor<f32>) -> tensor<f32> {
  // expected-error @below {{'tptt.mag_mix' op cannot be differentiated with respect to 'mu': the MaG weight is a schedule, not a parameter}}
  %m = tptt.mag_mix %s, %l, %mu : (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<f32>) -> tensor<?x?x4xf32>
  %c = tptt.cross_entropy %m, %labels : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %c : tensor<f32>
}
func.func @step(%labels: tensor<?x?xi64>, %s: tensor<?x?x4xf32>, %l: tensor<?x?x4xf32>, %mu: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %c, %dmu = tptt.value_and_grad @loss(%labels, %s, %l, %mu) wrt [3] : (tensor<?x?xi64>, tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<f32>) -> (tensor<f32>, tensor<f32>)
  return %c, %dmu : tensor<f32>, tensor<f32>
}

// -----

// An op without a VJP rule on the differentiated path is named.
func.func private @loss(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>) -> tensor<f32> {
  // expected-error @below {{'math.exp' op lies between the differentiated arguments and the loss but has no VJP rule}}
  %e = math.exp %x : tensor<?x?x4xf32>
  %c = tptt.cross_entropy %e, %labels : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %c : tensor<f32>
}
func.func @step(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>) -> (tensor<f32>, tensor<?x?x4xf32>) {
  %c, %dx = tptt.value_and_grad @loss(%labels, %x) wrt [1] : (tensor<?x?xi64>, tensor<?x?x4xf32>) -> (tensor<f32>, tensor<?x?x4xf32>)
  return %c, %dx : tensor<f32>, tensor<?x?x4xf32>
}

// -----

func.func private @loss(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @step(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  // expected-error @below {{'tptt.value_and_grad' op 'loss' must return exactly one 0-d float tensor}}
  %c, %dx = tptt.value_and_grad @loss(%x) wrt [0] : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return %c, %dx : tensor<4xf32>, tensor<4xf32>
}

// -----

// Dropout's VJP is the same op (seed, rate and stream) on the cotangent.
// CHECK-LABEL: func.func private @loss_value_and_grad_0100
// CHECK:         %[[Y:.+]] = tptt.dropout %arg1, %arg2, %arg3 {stream = 5 : i64}
// CHECK:         %[[DY:.+]] = tptt.cross_entropy_grad %[[Y]]
// CHECK:         %[[DX:.+]] = tptt.dropout %[[DY]], %arg2, %arg3 {stream = 5 : i64}
// CHECK:         return %{{.+}}, %[[DX]]
func.func private @loss(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>, %seed: tensor<i64>, %rate: tensor<f32>) -> tensor<f32> {
  %y = tptt.dropout %x, %seed, %rate {stream = 5 : i64} : tensor<?x?x4xf32>, tensor<i64>, tensor<f32>
  %l = tptt.cross_entropy %y, %labels : (tensor<?x?x4xf32>, tensor<?x?xi64>) -> tensor<f32>
  return %l : tensor<f32>
}
func.func @step(%labels: tensor<?x?xi64>, %x: tensor<?x?x4xf32>, %seed: tensor<i64>, %rate: tensor<f32>) -> (tensor<f32>, tensor<?x?x4xf32>) {
  %l, %dx = tptt.value_and_grad @loss(%labels, %x, %seed, %rate) wrt [1] : (tensor<?x?xi64>, tensor<?x?x4xf32>, tensor<i64>, tensor<f32>) -> (tensor<f32>, tensor<?x?x4xf32>)
  return %l, %dx : tensor<f32>, tensor<?x?x4xf32>
}

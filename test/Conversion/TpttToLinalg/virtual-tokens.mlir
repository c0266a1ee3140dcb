// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// dt, n = 3: e_{t,j} = c_{2−j} x_{t−j}, zero before the sequence; the
// coefficients are a constant table read by j.
// CHECK-LABEL: func @virtual_token_expand$dt
// CHECK:         %[[TABLE:.+]] = arith.constant dense<[2.500000e-01, -5.000000e-01, 2.500000e-01]> : tensor<3xf32>
// CHECK:         linalg.generic {{.+}} outs(%{{.+}} : tensor<?x4x?x3x8xf32>)
// CHECK:           %[[J:.+]] = linalg.index 3 : index
// CHECK:           %[[POS:.+]] = arith.subi %{{.+}}, %[[J]] : index
// CHECK:           arith.cmpi sge, %[[POS]]
// CHECK:           tensor.extract %[[TABLE]][%[[J]]]
// CHECK:           arith.select
func.func @virtual_token_expand$dt(%x: tensor<?x4x?x8xf32>) -> tensor<?x4x?x3x8xf32> {
  %0 = tptt.virtual_token_expand %x order = 3 trick = dt : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x3x8xf32>
  return %0 : tensor<?x4x?x3x8xf32>
}

// -----

// rot, n = 2: the float32 cos/sin of θ_j = j·fl32(π) (sin θ₁ ≈ −8.74e−8);
// with an odd d the last channel passes through.
// CHECK-LABEL: func @virtual_token_expand$rot
// CHECK-DAG:     arith.constant dense<[1.000000e+00, -1.000000e+00]> : tensor<2xf64>
// CHECK-DAG:     arith.constant dense<[0.000000e+00, -8.7422776573475858E-8]> : tensor<2xf64>
// CHECK:         linalg.generic
// CHECK:           arith.remui
// CHECK:           arith.minui
// CHECK:           arith.cmpi eq
// CHECK:           arith.select
func.func @virtual_token_expand$rot(%x: tensor<1x2x5x5xf64>) -> tensor<1x2x5x2x5xf64> {
  %0 = tptt.virtual_token_expand %x order = 2 trick = rot : (tensor<1x2x5x5xf64>) -> tensor<1x2x5x2x5xf64>
  return %0 : tensor<1x2x5x2x5xf64>
}

// -----

// history rows precede the sequence; a mask packs, expands, scatters back.
// CHECK-LABEL: func @virtual_token_expand$history_mask
// CHECK:         scf.for
// CHECK:         tensor.concat dim(2)
// CHECK:         arith.select
func.func @virtual_token_expand$history_mask(%x: tensor<?x4x?x8xf32>, %h: tensor<?x4x1x8xf32>,
                                             %m: tensor<?x?xi1>) -> tensor<?x4x?x2x8xf32> {
  %0 = tptt.virtual_token_expand %x history %h mask %m order = 2 trick = rdt
      : (tensor<?x4x?x8xf32>, tensor<?x4x1x8xf32>, tensor<?x?xi1>) -> tensor<?x4x?x2x8xf32>
  return %0 : tensor<?x4x?x2x8xf32>
}

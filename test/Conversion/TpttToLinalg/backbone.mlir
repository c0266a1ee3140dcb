// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// x Wᵀ + b: W transposed once, one contraction over the input features with
// the leading dimensions kept (no reshapes), the bias broadcast.
// CHECK-LABEL: func @linear$bias
// CHECK:         linalg.transpose ins(%{{.+}} : tensor<24x32xf32>) outs(%{{.+}} : tensor<32x24xf32>) permutation = [1, 0]
// CHECK:         iterator_types = ["parallel", "parallel", "reduction", "parallel"]{{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x?x32xf32>, tensor<32x24xf32>) outs(%{{.+}} : tensor<?x?x24xf32>)
// CHECK:         ins(%{{.+}}, %{{.+}} : tensor<?x?x24xf32>, tensor<24xf32>)
// CHECK-NOT:     tensor.expand_shape
func.func @linear$bias(%x: tensor<?x?x32xf32>, %w: tensor<24x32xf32>, %b: tensor<24xf32>) -> tensor<?x?x24xf32> {
  %0 = tptt.linear %x, %w bias %b : (tensor<?x?x32xf32>, tensor<24x32xf32>, tensor<24xf32>) -> tensor<?x?x24xf32>
  return %0 : tensor<?x?x24xf32>
}

// -----

// rotate_half reads the partner channel c ± d/2 and negates the first half.
// CHECK-LABEL: func @rope
// CHECK:         linalg.generic
// CHECK:           arith.cmpi ult, %{{.+}}, %c8 : index
// CHECK:           tensor.extract
// CHECK:           arith.negf
func.func @rope(%x: tensor<?x4x?x16xf32>, %c: tensor<?x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %0 = tptt.rope %x, %c, %c : (tensor<?x4x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %0 : tensor<?x4x?x16xf32>
}

// -----

// By blocks of 64 query rows, each against the keys it sees (from the
// window's start to its last row, and their mask): scores over
// [B, Hkv, g, rows, keys], the visible keys (causal, window, mask), a
// max-subtracted softmax, and the weighted values written at the block's rows.
// CHECK-LABEL: func @attention
// CHECK:         tensor.expand_shape {{.+}} into tensor<?x2x2x?x16xf32>
// CHECK:         scf.for %[[ROW:.+]] = %c0 to %{{.+}} step %c64 iter_args(%[[OUT:.+]] = %{{.+}})
// CHECK:           tensor.extract_slice %{{.+}}[0, 0, 0, %[[ROW]], 0]
// CHECK:           tensor.extract_slice %{{.+}}[0, 0, %[[KEY:.+]], 0] [%{{.+}}, 2, %[[KEYS:.+]], 16]
// CHECK:           tensor.extract_slice %{{.+}}[0, %[[KEY]]] [%{{.+}}, %[[KEYS]]]
// CHECK:         } -> tensor<?x2x2x?x?xf32>
// CHECK:         arith.maximumf
// CHECK:         math.exp
// CHECK:         arith.cmpf ogt
// CHECK:         } -> tensor<?x2x2x?x16xf32>
// CHECK:           tensor.insert_slice %{{.+}} into %[[OUT]][0, 0, 0, %[[ROW]], 0]
// CHECK:         tensor.collapse_shape {{.+}} into tensor<?x4x?x16xf32>
func.func @attention(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %m: tensor<?x?xi1>) -> tensor<?x4x?x16xf32> {
  %0 = tptt.attention %q, %k, %k mask %m window = 128
      : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x?xi1>) -> tensor<?x4x?x16xf32>
  return %0 : tensor<?x4x?x16xf32>
}

// -----

// A gather with the id clamped into the table.
// CHECK-LABEL: func @embedding
// CHECK:         linalg.generic
// CHECK:           arith.index_cast
// CHECK:           arith.maxsi
// CHECK:           arith.minsi
// CHECK:           tensor.extract %{{.+}}[%{{.+}}, %{{.+}}] : tensor<96x64xf32>
func.func @embedding(%ids: tensor<?x?xi64>, %table: tensor<96x64xf32>) -> tensor<?x?x64xf32> {
  %0 = tptt.embedding %ids, %table : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// The sum of squares over the last dimension, then x · rsqrt(mean + eps) · w.
// CHECK-LABEL: func @rms_norm
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic
// CHECK:           arith.divf
// CHECK:           math.rsqrt
func.func @rms_norm(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %0 = tptt.rms_norm %x, %w : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func @swiglu
// CHECK:         linalg.generic
// CHECK:           math.exp
// CHECK:           arith.mulf
// CHECK:           arith.mulf
func.func @swiglu(%g: tensor<?x?x128xf32>, %u: tensor<?x?x128xf32>) -> tensor<?x?x128xf32> {
  %0 = tptt.glu %g, %u : tensor<?x?x128xf32>
  return %0 : tensor<?x?x128xf32>
}

// -----

// GeGLU: ½ g (1 + tanh(√(2/π) (g + 0.044715 g³))) ⊙ u in one generic.
// CHECK-LABEL: func @geglu
// CHECK:         arith.constant 4.471500e-02 : f32
// CHECK:         linalg.generic
// CHECK-NOT:       math.exp
// CHECK:           math.tanh
// CHECK:           arith.mulf
// CHECK-NOT:     tptt.
func.func @geglu(%g: tensor<?x?x128xf32>, %u: tensor<?x?x128xf32>) -> tensor<?x?x128xf32> {
  %0 = tptt.glu %g, %u activation = gelu_tanh : tensor<?x?x128xf32>
  return %0 : tensor<?x?x128xf32>
}

// -----

// Gemma's norm multiplies by 1 + w.
// CHECK-LABEL: func @rms_norm_offset
// CHECK:         %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK:         linalg.generic
// CHECK:         linalg.generic
// CHECK:           %[[NORMED:.+]] = arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK:           %[[W:.+]] = arith.addf %{{.+}}, %[[ONE]] : f32
// CHECK:           arith.mulf %[[NORMED]], %[[W]] : f32
func.func @rms_norm_offset(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %0 = tptt.rms_norm %x, %w {weight_offset = 1.0 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// Gemma's embedding scale multiplies each element read.
// CHECK-LABEL: func @embedding_scaled
// CHECK:         %[[SCALE:.+]] = arith.constant 8.000000e+00 : f32
// CHECK:         linalg.generic
// CHECK:           %[[ROW:.+]] = tensor.extract
// CHECK:           arith.mulf %[[ROW]], %[[SCALE]] : f32
func.func @embedding_scaled(%ids: tensor<?x?xi64>, %table: tensor<96x64xf32>) -> tensor<?x?x64xf32> {
  %0 = tptt.embedding %ids, %table {scale = 8.0 : f64} : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// One generic: the row-major index of the element hashed with the seed's key
// (splitmix64), its top 24 bits against the rate, the kept ones scaled by
// 1 / (1 - rate).
// CHECK-LABEL: func @dropout
// CHECK:         %[[SEED:.+]] = tensor.extract %arg1[] : tensor<i64>
// CHECK:         %[[RATE:.+]] = tensor.extract %arg2[] : tensor<f32>
// CHECK:         %[[SCALE:.+]] = arith.divf
// CHECK:         linalg.generic
// CHECK:           linalg.index 0
// CHECK:           linalg.index 1
// CHECK:           linalg.index 2
// CHECK:           arith.index_cast %{{.+}} : index to i64
// CHECK:           arith.uitofp %{{.+}} : i64 to f32
// CHECK:           %[[KEEP:.+]] = arith.cmpf oge, %{{.+}}, %[[RATE]] : f32
// CHECK:           %[[SCALED:.+]] = arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK:           arith.select %[[KEEP]], %[[SCALED]], %{{.+}} : f32
func.func @dropout(%x: tensor<?x?x128xf32>, %seed: tensor<i64>, %rate: tensor<f32>) -> tensor<?x?x128xf32> {
  %0 = tptt.dropout %x, %seed, %rate {stream = 2 : i64} : tensor<?x?x128xf32>, tensor<i64>, tensor<f32>
  return %0 : tensor<?x?x128xf32>
}

// -----

// Both tables from one generic: the angle in f64, rounded once.
// CHECK-LABEL: func @rope_tables
// CHECK:         arith.constant dense<[1.000000e+00, 1.000000e-01, 1.000000e+00, 1.000000e-01]> : tensor<4xf64>
// CHECK:         linalg.generic
// CHECK:           arith.sitofp %{{.+}} : i64 to f64
// CHECK:           math.cos
// CHECK:           math.sin
// CHECK:           arith.truncf
func.func @rope_tables(%p: tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.1>} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return %c, %s : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// -----

// yarn's attention factor scales both tables in f64, before the rounding.
// CHECK-LABEL: func @rope_tables_scaled
// CHECK-DAG:     %[[S:.+]] = arith.constant 1.250000e+00 : f64
// CHECK-DAG:     %[[COS:.+]] = math.cos
// CHECK-DAG:     %[[SIN:.+]] = math.sin
// CHECK:         arith.mulf %[[COS]], %[[S]] : f64
// CHECK:         arith.mulf %[[SIN]], %[[S]] : f64
// CHECK:         arith.truncf
func.func @rope_tables_scaled(%p: tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.1>, attention_scaling = 1.25 : f64} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return %c, %s : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// -----

// longrope: the largest position of the whole call picks the long
// frequencies (max + 1 > long_after = 16, i.e. max > 15) for every element.
// CHECK-LABEL: func @rope_tables_longrope
// CHECK-SAME:    (%[[P:.+]]: tensor<?x?xi64>)
// CHECK-DAG:     %[[SHORT:.+]] = arith.constant dense<[1.000000e+00, 1.000000e-01, 1.000000e+00, 1.000000e-01]> : tensor<4xf64>
// CHECK-DAG:     %[[LONG:.+]] = arith.constant dense<[5.000000e-01, 2.500000e-02, 5.000000e-01, 2.500000e-02]> : tensor<4xf64>
// CHECK-DAG:     %[[LOWEST:.+]] = arith.constant -9223372036854775808 : i64
// CHECK-DAG:     %[[BOUND:.+]] = arith.constant 15 : i64
// CHECK:         %[[INIT:.+]] = linalg.fill ins(%[[LOWEST]] : i64) outs(%{{.+}} : tensor<i64>)
// CHECK:         %[[MAX:.+]] = linalg.generic {{.+}}iterator_types = ["reduction", "reduction"]{{.+}} ins(%[[P]] : tensor<?x?xi64>) outs(%[[INIT]] : tensor<i64>)
// CHECK:           arith.maxsi
// CHECK:         %[[LARGEST:.+]] = tensor.extract %[[MAX]][] : tensor<i64>
// CHECK:         %[[USE_LONG:.+]] = arith.cmpi sgt, %[[LARGEST]], %[[BOUND]] : i64
// CHECK:         linalg.generic {{.+}} ins(%[[P]], %[[SHORT]], %[[LONG]] : tensor<?x?xi64>, tensor<4xf64>, tensor<4xf64>)
// CHECK:         ^bb0(%[[POS:.+]]: i64, %[[F_SHORT:.+]]: f64, %[[F_LONG:.+]]: f64,
// CHECK:           %[[F:.+]] = arith.select %[[USE_LONG]], %[[F_LONG]], %[[F_SHORT]] : f64
// CHECK:           arith.mulf %{{.+}}, %[[F]] : f64
func.func @rope_tables_longrope(%p: tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>) {
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.1>, long_inv_freq = array<f64: 0.5, 0.025>,
                                long_after = 16 : i64, attention_scaling = 1.25 : f64}
      : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return %c, %s : tensor<?x?x4xf32>, tensor<?x?x4xf32>
}

// -----

// c · tanh(x / c) in one elementwise generic.
// CHECK-LABEL: func @soft_cap
// CHECK-DAG:     %[[C:.+]] = arith.constant 3.000000e+01 : f32
// CHECK:         linalg.generic
// CHECK:           %[[Q:.+]] = arith.divf %{{.+}}, %[[C]] : f32
// CHECK:           %[[T:.+]] = math.tanh %[[Q]] : f32
// CHECK:           arith.mulf %[[T]], %[[C]] : f32
func.func @soft_cap(%x: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
  %y = tptt.soft_cap %x cap = 30.0 : tensor<?x?x256xf32>
  return %y : tensor<?x?x256xf32>
}

// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// Σ Y² and Σ dy ⊙ Y per token (reducing heads and channels of [B, H, S, d]
// with dy split into heads), then one elementwise pass with r = rsqrt.
// CHECK-LABEL: func @merge_heads_grad
// CHECK-NOT:     tptt.
// CHECK:         tensor.expand_shape %{{.+}} : tensor<?x?x32xf32> into tensor<?x?x4x8xf32>
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "reduction", "parallel", "reduction"]
// CHECK:           arith.mulf
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "reduction", "parallel", "reduction"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]{{.+}} outs(%{{.+}} : tensor<?x4x?x8xf32>)
// CHECK:           math.rsqrt
// CHECK-NOT:     tptt.
func.func @merge_heads_grad(%x: tensor<?x4x?x8xf32>, %dy: tensor<?x?x32xf32>) -> tensor<?x4x?x8xf32> {
  %0 = tptt.merge_heads_grad %x, %dy : (tensor<?x4x?x8xf32>, tensor<?x?x32xf32>) -> tensor<?x4x?x8xf32>
  return %0 : tensor<?x4x?x8xf32>
}

// -----

// μ read once and cast; with base_scale_attn Σ soft² and Σ dl ⊙ lin per
// token, then dsoft and dlin, each an elementwise generic cast to the type
// its result spells.
// CHECK-LABEL: func @mag_mix_grad
// CHECK-NOT:     tptt.
// CHECK:         %[[MU:.+]] = tensor.extract %{{.+}}[] : tensor<f64>
// CHECK:         arith.truncf %[[MU]] : f64 to f32
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK:         %[[DSOFT:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:           math.sqrt
// CHECK:         %[[CAST:.+]] = tensor.cast %[[DSOFT]] : tensor<2x?x64xf32> to tensor<?x?x64xf32>
// CHECK:         %[[DLIN:.+]] = linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:         return %[[CAST]], %[[DLIN]] : tensor<?x?x64xf32>, tensor<2x?x64xf32>
func.func @mag_mix_grad(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>, %mu: tensor<f64>, %dy: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<2x?x64xf32>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy cross_gate base_scale_attn : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f64>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<2x?x64xf32>)
  return %ds, %dl : tensor<?x?x64xf32>, tensor<2x?x64xf32>
}

// -----

// Without base_scale_attn the VJP is elementwise: no reduction.
// CHECK-LABEL: func @mag_mix_grad$plain
// CHECK-NOT:     reduction
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel"]
// CHECK-NOT:     math.sqrt
// CHECK-NOT:     tptt.
func.func @mag_mix_grad$plain(%s: tensor<?x?x8xf64>, %l: tensor<?x?x8xf64>, %mu: tensor<f64>, %dy: tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<f64>, tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %ds, %dl : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

// -----

// q: its 4 heads (one query head each); k: the cotangents of the 4 query
// heads summed onto the 2 KV heads, then the normalization's VJP with the
// 1e-6 clamp; v: the sum scaled by 1/√d.
// CHECK-LABEL: func @feature_map_grad
// CHECK-NOT:     tptt.
// CHECK:         tensor.expand_shape %{{.+}} : tensor<?x4x?x8xf32> into tensor<?x4x1x?x8xf32>
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "parallel"]
// CHECK:           math.sqrt
// CHECK:           arith.cmpf ole
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<?x?x4x8xf32> into tensor<?x?x32xf32>
// CHECK:         tensor.expand_shape %{{.+}} : tensor<?x4x?x8xf32> into tensor<?x2x2x?x8xf32>
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK:           math.sqrt
// CHECK:           arith.cmpf ole
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<?x?x2x8xf32> into tensor<?x?x16xf32>
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK:         linalg.generic
// CHECK:           arith.mulf %{{.+}}, %{{.+}} : f32
// CHECK-NOT:     tptt.
func.func @feature_map_grad(%q: tensor<?x?x32xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %dq: tensor<?x4x?x8xf32>, %dk: tensor<?x4x?x8xf32>, %dv: tensor<?x4x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %0:3 = tptt.feature_map_grad %q, %k, %v, %dq, %dk, %dv heads = 4 kv_heads = 2 : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// With a mask: k and v are each packed (a scan over batch and positions),
// their causal-mean pools recomputed on the packed sequences and unpacked;
// the heads' cotangents are summed onto the KV heads, multiplied by σ' at
// the pools, and each input's cotangent (the transpose of the causal mean)
// packed, unpacked and zeroed at padding.
// CHECK-LABEL: func @gates_grad
// CHECK-NOT:     tptt.
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:         scf.for
// CHECK:           scf.for
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>)
// CHECK:           math.exp
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<?x?x2x8xf32> into tensor<?x?x16xf32>
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x?x16xf32>, tensor<?x?xi1>)
// CHECK:         %[[DK:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x?x16xf32>, tensor<?x?xi1>)
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} : tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>)
// CHECK:           math.exp
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<?x?x2x8xf32> into tensor<?x?x16xf32>
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x?x16xf32>, tensor<?x?xi1>)
// CHECK:         %[[DV:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x?x16xf32>, tensor<?x?xi1>)
// CHECK:         return %[[DK]], %[[DV]]
func.func @gates_grad(%k: tensor<?x?x16xf32>, %v: tensor<?x?x16xf32>, %da: tensor<?x4x?x8xf32>, %db: tensor<?x4x?x8xf32>, %m: tensor<?x?xi1>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db mask %m alpha = kv beta = k heads = 4 kv_heads = 2 : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x?xi1>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>)
  return %dk, %dv : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// A constant α and β = σ(pool(v)): k gets zeros and v is never packed.
// CHECK-LABEL: func @gates_grad$c_v
// CHECK-NOT:     scf.for
// CHECK:         %[[ZERO:.+]] = linalg.fill ins(%{{.+}} : f64) outs(%{{.+}} : tensor<?x?x16xf64>)
// CHECK:         %[[DPV:.+]] = tensor.collapse_shape
// CHECK:         %[[DV:.+]] = linalg.generic
// CHECK:           tensor.extract %[[DPV]]
// CHECK:         return %[[ZERO]], %[[DV]]
func.func @gates_grad$c_v(%k: tensor<?x?x16xf64>, %v: tensor<?x?x16xf64>, %db: tensor<?x4x?x8xf64>) -> (tensor<?x?x16xf64>, tensor<?x?x16xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v, %db alpha = c beta = v heads = 4 kv_heads = 2 : (tensor<?x?x16xf64>, tensor<?x?x16xf64>, tensor<?x4x?x8xf64>) -> (tensor<?x?x16xf64>, tensor<?x?x16xf64>)
  return %dk, %dv : tensor<?x?x16xf64>, tensor<?x?x16xf64>
}

// -----

// dt of order 3: dx_s = Σ_j c_{2−j} de_{s+j, j} (c = 1/4, −1/2, 1/4), the
// reads past the sequence dropped; one generic over the result's static
// batch.
// CHECK-LABEL: func @virtual_token_expand_grad
// CHECK-DAG:     %[[QUARTER:.+]] = arith.constant 2.500000e-01 : f32
// CHECK-DAG:     %[[HALF:.+]] = arith.constant -5.000000e-01 : f32
// CHECK:         %[[DX:.+]] = linalg.generic {{.+}} outs(%{{.+}} : tensor<2x4x?x8xf32>)
// CHECK:           arith.cmpi ult
// CHECK:           arith.mulf %{{.+}}, %[[QUARTER]]
// CHECK:           arith.mulf %{{.+}}, %[[HALF]]
// CHECK:           arith.mulf %{{.+}}, %[[QUARTER]]
// CHECK:         return %[[DX]]
func.func @virtual_token_expand_grad(%de: tensor<?x4x?x3x8xf32>) -> tensor<2x4x?x8xf32> {
  %0 = tptt.virtual_token_expand_grad %de order = 3 trick = dt : (tensor<?x4x?x3x8xf32>) -> tensor<2x4x?x8xf32>
  return %0 : tensor<2x4x?x8xf32>
}

// -----

// With a mask: pack de (zero past each length), the adjoint, unpack (zero at
// padding).
// CHECK-LABEL: func @virtual_token_expand_grad$mask
// CHECK-NOT:     tptt.
// CHECK:         scf.for
// CHECK:         linalg.generic {{.+}} outs(%{{.+}} : tensor<?x4x?x2x5xf32>)
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x4x?x2x5xf32>, tensor<?xindex>)
// CHECK:           arith.cmpi ult
// CHECK:         linalg.generic {{.+}} outs(%{{.+}} : tensor<?x4x?x5xf32>)
// CHECK:         linalg.generic {{.+}} outs(%{{.+}} : tensor<?x4x?x5xf32>)
// CHECK:         %[[DX:.+]] = linalg.generic {{.+}} ins(%{{.+}}, %{{.+}} : tensor<?x4x?x5xf32>, tensor<?x?xi1>)
// CHECK:         return %[[DX]]
func.func @virtual_token_expand_grad$mask(%de: tensor<?x4x?x2x5xf32>, %m: tensor<?x?xi1>) -> tensor<?x4x?x5xf32> {
  %0 = tptt.virtual_token_expand_grad %de mask %m order = 2 trick = rdt : (tensor<?x4x?x2x5xf32>, tensor<?x?xi1>) -> tensor<?x4x?x5xf32>
  return %0 : tensor<?x4x?x5xf32>
}

// -----

// The attention backward recomputes P (masked, windowed, GQA) and contracts.
// CHECK-LABEL: func @attention_grad
// CHECK-NOT:     tptt.
// CHECK:         math.exp
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "parallel"]
// CHECK:         tensor.collapse_shape %{{.+}} : tensor<?x2x2x?x16xf32> into tensor<?x4x?x16xf32>
// CHECK-NOT:     tptt.
func.func @attention_grad(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %o: tensor<?x4x?x16xf32>, %do: tensor<?x4x?x16xf32>, %m: tensor<?x?xi1>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) {
  %0:3 = tptt.attention_grad %q, %k, %v, %o, %do mask %m window = 8 : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x?xi1>) -> (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
  return %0#0, %0#1, %0#2 : tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}

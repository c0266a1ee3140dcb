// RUN: tptt-opt %s -split-input-file | FileCheck %s
// Round trip through the generic form: it must parse and print back the same.
// RUN: tptt-opt %s -split-input-file -mlir-print-op-generic | tptt-opt -split-input-file | FileCheck %s
// RUN: tptt-opt %s -split-input-file -mlir-print-op-generic | FileCheck %s --check-prefix=GENERIC

// CHECK-LABEL: func @causal_mean
// CHECK-SAME:    %[[X:[^:]+]]: tensor<2x?x16xf32>, %[[H:[^:]+]]: tensor<2x2x16xf32>, %[[M:[^:]+]]: tensor<2x?xi1>
// CHECK:         tptt.causal_mean %[[X]] : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
// CHECK:         tptt.causal_mean %[[X]] history %[[H]] mask %[[M]] : (tensor<2x?x16xf32>, tensor<2x2x16xf32>, tensor<2x?xi1>) -> tensor<2x?x16xf32>
// CHECK:         tptt.causal_mean %[[X]] {width = 1 : i64}
// GENERIC-LABEL: sym_name = "causal_mean"
// GENERIC:       "tptt.causal_mean"(%{{.*}}) <{operandSegmentSizes = array<i32: 1, 0, 0>, width = 3 : i64}>
func.func @causal_mean(%x: tensor<2x?x16xf32>, %h: tensor<2x2x16xf32>, %m: tensor<2x?xi1>) {
  %0 = tptt.causal_mean %x : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  %1 = tptt.causal_mean %x history %h mask %m
      : (tensor<2x?x16xf32>, tensor<2x2x16xf32>, tensor<2x?xi1>) -> tensor<2x?x16xf32>
  %2 = tptt.causal_mean %x {width = 1 : i64} : (tensor<2x?x16xf32>) -> tensor<2x?x16xf32>
  return
}

// -----

// CHECK-LABEL: func @gates
// CHECK-SAME:    %[[K:[^:]+]]: tensor<?x?x16xbf16>, %[[V:[^:]+]]: tensor<?x?x16xbf16>, %[[KH:[^:]+]]: tensor<?x2x16xbf16>, %[[VH:[^:]+]]: tensor<?x2x16xbf16>, %[[M:[^:]+]]: tensor<?x?xi1>
// CHECK:         %{{.+}}, %{{.+}} = tptt.gates %[[K]], %[[V]] alpha = c beta = k heads = 4 kv_heads = 2 : (tensor<?x?x16xbf16>, tensor<?x?x16xbf16>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
// CHECK:         tptt.gates %[[K]], %[[V]] history(%[[KH]], %[[VH]]) mask %[[M]] alpha = kv beta = v heads = 2 kv_heads = 2
// GENERIC-LABEL: sym_name = "gates"
// GENERIC:       "tptt.gates"(%{{.*}}, %{{.*}}) <{alpha_gate = #tptt<gate c>, beta_gate = #tptt<gate k>, num_heads = 4 : i64, num_kv_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}>
func.func @gates(%k: tensor<?x?x16xbf16>, %v: tensor<?x?x16xbf16>,
                 %kh: tensor<?x2x16xbf16>, %vh: tensor<?x2x16xbf16>, %m: tensor<?x?xi1>) {
  %a, %b = tptt.gates %k, %v alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<?x?x16xbf16>, tensor<?x?x16xbf16>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  %c, %d = tptt.gates %k, %v history(%kh, %vh) mask %m alpha = kv beta = v heads = 2 kv_heads = 2
      : (tensor<?x?x16xbf16>, tensor<?x?x16xbf16>, tensor<?x2x16xbf16>, tensor<?x2x16xbf16>, tensor<?x?xi1>)
      -> (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
  return
}

// -----

// CHECK-LABEL: func @feature_map
// CHECK:         %{{.+}}, %{{.+}}, %{{.+}} = tptt.feature_map %{{.+}}, %{{.+}}, %{{.+}} heads = 4 kv_heads = 2 : (tensor<?x?x32xbf16>, tensor<?x?x16xbf16>, tensor<?x?x16xbf16>) -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
func.func @feature_map(%q: tensor<?x?x32xbf16>, %k: tensor<?x?x16xbf16>, %v: tensor<?x?x16xbf16>) {
  %qh, %kh, %vh = tptt.feature_map %q, %k, %v heads = 4 kv_heads = 2
      : (tensor<?x?x32xbf16>, tensor<?x?x16xbf16>, tensor<?x?x16xbf16>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return
}

// -----

// CHECK-LABEL: func @virtual_token_expand
// CHECK:         tptt.virtual_token_expand %{{.+}} order = 2 trick = dt : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
// CHECK:         tptt.virtual_token_expand %{{.+}} history %{{.+}} mask %{{.+}} order = 3 trick = rot
// CHECK:         tptt.virtual_token_expand %{{.+}} order = 2 trick = rdt
// CHECK:         tptt.virtual_token_expand %{{.+}} order = 2 trick = cte
// GENERIC-LABEL: sym_name = "virtual_token_expand"
// GENERIC:       "tptt.virtual_token_expand"(%{{.*}}) <{operandSegmentSizes = array<i32: 1, 0, 0>, order = 2 : i64, trick = #tptt<trick dt>}>
func.func @virtual_token_expand(%x: tensor<?x4x?x8xf32>, %h: tensor<?x4x2x8xf32>, %m: tensor<?x?xi1>) {
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt
      : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
  %1 = tptt.virtual_token_expand %x history %h mask %m order = 3 trick = rot
      : (tensor<?x4x?x8xf32>, tensor<?x4x2x8xf32>, tensor<?x?xi1>) -> tensor<?x4x?x3x8xf32>
  %2 = tptt.virtual_token_expand %x order = 2 trick = rdt
      : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
  %3 = tptt.virtual_token_expand %x order = 2 trick = cte
      : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x2x8xf32>
  return
}

// -----

// CHECK-LABEL: func @delta_product$recurrent
// CHECK:         %{{.+}}, %{{.+}} = tptt.delta_product %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} alpha %{{.+}} init %{{.+}} mask %{{.+}} semantics = recurrent chunk_size = 64 :
// CHECK:         tptt.delta_product %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} semantics = recurrent chunk_size = 3 nonlinear reverse :
// GENERIC-LABEL: sym_name = "delta_product$recurrent"
// GENERIC:       "tptt.delta_product"({{.*}}) <{chunk_size = 64 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 1, 1, 1, 1>, semantics = #tptt<semantics recurrent>}>
func.func @delta_product$recurrent(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x2x8xf32>,
                                   %v: tensor<?x4x?x2x8xf32>, %a: tensor<?x4x?x8xf32>,
                                   %b: tensor<?x4x?x8xf32>, %s: tensor<?x4x8x8xf32>,
                                   %m: tensor<?x?xi1>) {
  %o, %f = tptt.delta_product %q, %k, %v, %b alpha %a init %s mask %m
      semantics = recurrent chunk_size = 64
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>,
         tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>, tensor<?x?xi1>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  %o2, %f2 = tptt.delta_product %q, %k, %v, %b
      semantics = recurrent chunk_size = 3 nonlinear reverse
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x2x8xf32>, tensor<?x4x?x2x8xf32>,
         tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  return
}

// -----

// CHECK-LABEL: func @delta_product$tptt_0_12
// CHECK:         tptt.delta_product {{.+}} semantics = "tptt-0.12" chunk_size = 4 :
// GENERIC-LABEL: sym_name = "delta_product$tptt_0_12"
// GENERIC:       semantics = #tptt<semantics "tptt-0.12">
func.func @delta_product$tptt_0_12(%x: tensor<2x3x7x2x8xf64>) {
  %o, %f = tptt.delta_product %x, %x, %x, %x alpha %x semantics = "tptt-0.12" chunk_size = 4
      : (tensor<2x3x7x2x8xf64>, tensor<2x3x7x2x8xf64>, tensor<2x3x7x2x8xf64>,
         tensor<2x3x7x2x8xf64>, tensor<2x3x7x2x8xf64>)
      -> (tensor<2x3x7x8xf64>, tensor<2x3x8x8xf64>)
  return
}

// -----

// CHECK-LABEL: func @delta_product_step
// CHECK:         tptt.delta_product_step %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} chunk_size = 64 :
// CHECK:         tptt.delta_product_step %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}} alpha %{{.+}} position %{{.+}} chunk_size = 4 nonlinear :
func.func @delta_product_step(%q: tensor<?x4x8xf32>, %k: tensor<?x4x2x8xf32>,
                              %s: tensor<?x4x8x8xf32>, %p: tensor<?xi64>) {
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s chunk_size = 64
      : (tensor<?x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>,
         tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
      -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
  %o2, %s2 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q position %p chunk_size = 4 nonlinear
      : (tensor<?x4x8xf32>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>,
         tensor<?x4x8xf32>, tensor<?x4x8x8xf32>, tensor<?x4x8xf32>, tensor<?xi64>)
      -> (tensor<?x4x8xf32>, tensor<?x4x8x8xf32>)
  return
}

// -----

// CHECK-LABEL: func @merge_heads
// CHECK:         tptt.merge_heads %{{.+}} : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xbf16>
// CHECK:         tptt.merge_heads %{{.+}} {eps = 1.000000e-05 : f64}
func.func @merge_heads(%y: tensor<?x4x?x8xf32>) {
  %0 = tptt.merge_heads %y : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xbf16>
  %1 = tptt.merge_heads %y {eps = 1.0e-5 : f64} : (tensor<?x4x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

// CHECK-LABEL: func @mag_mix
// CHECK:         tptt.mag_mix %{{.+}}, %{{.+}}, %{{.+}} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
// CHECK:         tptt.mag_mix %{{.+}}, %{{.+}}, %{{.+}} cross_gate base_scale_attn :
func.func @mag_mix(%s: tensor<?x?x64xf32>, %l: tensor<?x?x64xf32>, %mu: tensor<f32>) {
  %0 = tptt.mag_mix %s, %l, %mu : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = tptt.mag_mix %s, %l, %mu cross_gate base_scale_attn
      : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  return
}

// -----

// CHECK-LABEL: func @backbone
// CHECK:         tptt.linear %{{.+}}, %{{.+}} bias %{{.+}} : (tensor<?x?x32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK:         tptt.rope %{{.+}}, %{{.+}}, %{{.+}} : (tensor<?x4x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK:         tptt.attention %{{.+}}, %{{.+}}, %{{.+}} mask %{{.+}} window = 128 scale = 2.500000e-01 :
func.func @backbone(%x: tensor<?x?x32xf32>, %w: tensor<64x32xf32>, %b: tensor<64xf32>,
                    %q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>,
                    %cos: tensor<?x?x16xf32>, %m: tensor<?x?xi1>) {
  %y = tptt.linear %x, %w bias %b : (tensor<?x?x32xf32>, tensor<64x32xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %r = tptt.rope %q, %cos, %cos : (tensor<?x4x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x4x?x16xf32>
  %o = tptt.attention %r, %k, %k mask %m window = 128 scale = 0.25
      : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x?xi1>) -> tensor<?x4x?x16xf32>
  return
}

// -----

// CHECK-LABEL: func @liza_attention
// CHECK:         tptt.liza_attention %{{.+}}, %{{.+}}, %{{.+}} rope(%{{.+}}, %{{.+}}) mu(%{{.+}}) out_proj(%{{.+}}, %{{.+}}) mask %{{.+}} {
// CHECK-SAME:      alpha_gate = #tptt<gate k>
// CHECK-SAME:      bidirectional
// CHECK-SAME:      linear_precision = f32
// CHECK-SAME:      semantics = #tptt<semantics "tptt-0.12">
// CHECK-SAME:      trick = #tptt<trick rot>
// CHECK-SAME:      window = 256 : i64
func.func @liza_attention(%q: tensor<?x?x64xbf16>, %k: tensor<?x?x32xbf16>, %v: tensor<?x?x32xbf16>,
                          %cos: tensor<?x?x16xbf16>, %mu: tensor<f32>, %wo: tensor<64x64xbf16>,
                          %bo: tensor<64xbf16>, %m: tensor<?x?xi1>) {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %cos) mu(%mu) out_proj(%wo, %bo) mask %m
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64, trick = #tptt<trick rot>,
       alpha_gate = #tptt<gate k>, beta_gate = #tptt<gate k>, nonlinear, chunk_size = 32 : i64,
       semantics = #tptt<semantics "tptt-0.12">, cross_gate, base_scale_attn, bidirectional,
       window = 256 : i64, linear_precision = f32}
      : (tensor<?x?x64xbf16>, tensor<?x?x32xbf16>, tensor<?x?x32xbf16>, tensor<?x?x16xbf16>,
         tensor<?x?x16xbf16>, tensor<f32>, tensor<64x64xbf16>, tensor<64xbf16>, tensor<?x?xi1>)
      -> tensor<?x?x64xbf16>
  return
}

// -----

// CHECK-LABEL: func @chunk_pieces
// CHECK:         tptt.tril_inverse %{{.+}} : tensor<?x4x64x64xf32>
// CHECK:         tptt.phi %{{.+}} : tensor<?x4x8x8xf32>
func.func @chunk_pieces(%l: tensor<?x4x64x64xf32>, %h: tensor<?x4x8x8xf32>) {
  %t = tptt.tril_inverse %l : tensor<?x4x64x64xf32>
  %p = tptt.phi %h : tensor<?x4x8x8xf32>
  return
}

// -----

// CHECK-LABEL: func @model_backbone
// CHECK:         tptt.embedding %{{.+}}, %{{.+}} : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
// CHECK:         tptt.rms_norm %{{.+}}, %{{.+}} {eps = 1.000000e-05 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK:         tptt.glu %{{.+}}, %{{.+}} : tensor<?x?x64xf32>
// CHECK:         tptt.dropout %{{.+}}, %{{.+}}, %{{.+}} {stream = 3 : i64} : tensor<?x?x64xf32>, tensor<i64>, tensor<f32>
// CHECK:         tptt.rope_tables %{{.+}} {inv_freq = array<f64: 1.000000e+00, 1.000000e-01>} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK:         tptt.rope_tables %{{.+}} {attention_scaling = 1.250000e+00 : f64, inv_freq = array<f64: 1.000000e+00, 1.000000e-01>, long_after = 16 : i64, long_inv_freq = array<f64: 5.000000e-01, 2.500000e-02>}
func.func @model_backbone(%ids: tensor<?x?xi64>, %table: tensor<96x64xf32>, %w: tensor<64xf32>, %seed: tensor<i64>, %rate: tensor<f32>) {
  %x = tptt.embedding %ids, %table : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
  %n = tptt.rms_norm %x, %w {eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %h = tptt.glu %n, %x : tensor<?x?x64xf32>
  %d = tptt.dropout %h, %seed, %rate {stream = 3 : i64} : tensor<?x?x64xf32>, tensor<i64>, tensor<f32>
  %c, %s = tptt.rope_tables %ids {inv_freq = array<f64: 1.0, 0.1>} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  %lc, %ls = tptt.rope_tables %ids {inv_freq = array<f64: 1.0, 0.1>, long_inv_freq = array<f64: 0.5, 0.025>,
                                    long_after = 16 : i64, attention_scaling = 1.25 : f64}
      : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

// Gemma's forms: a scaled embedding, (1 + w) norms, GeGLU, soft-capped
// logits; the defaults are not printed.
// CHECK-LABEL: func @gemma_backbone
// CHECK:         tptt.embedding %{{.+}}, %{{.+}} {scale = 8.000000e+00 : f64}
// CHECK:         tptt.rms_norm %{{.+}}, %{{.+}} {eps = 1.000000e-05 : f64, weight_offset = 1.000000e+00 : f64}
// CHECK:         tptt.glu %{{.+}}, %{{.+}} activation = gelu_tanh : tensor<?x?x64xf32>
// CHECK:         tptt.glu %{{.+}}, %{{.+}} : tensor<?x?x64xf32>
// CHECK:         tptt.glu_grad %{{.+}}, %{{.+}}, %{{.+}} activation = gelu_tanh :
// CHECK:         tptt.rms_norm_grad %{{.+}}, %{{.+}}, %{{.+}} {eps = 1.000000e-05 : f64, weight_offset = 1.000000e+00 : f64}
// CHECK:         tptt.embedding_grad %{{.+}}, %{{.+}} {scale = 8.000000e+00 : f64}
// CHECK:         tptt.soft_cap %{{.+}} cap = 3.000000e+01 : tensor<?x?x64xf32>
// CHECK:         tptt.soft_cap_grad %{{.+}}, %{{.+}} cap = 3.000000e+01 : tensor<?x?x64xf32>
func.func @gemma_backbone(%ids: tensor<?x?xi64>, %table: tensor<96x64xf32>, %w: tensor<64xf32>) {
  %x = tptt.embedding %ids, %table {scale = 8.0 : f64} : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x64xf32>
  %n = tptt.rms_norm %x, %w {eps = 1.0e-5 : f64, weight_offset = 1.0 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %h = tptt.glu %n, %x activation = gelu_tanh : tensor<?x?x64xf32>
  %s = tptt.glu %n, %x activation = silu : tensor<?x?x64xf32>
  %dg, %du = tptt.glu_grad %n, %x, %h activation = gelu_tanh : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>)
  %dx, %dw = tptt.rms_norm_grad %x, %w, %h {eps = 1.0e-5 : f64, weight_offset = 1.0 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<64xf32>)
  %dt = tptt.embedding_grad %ids, %h {scale = 8.0 : f64} : (tensor<?x?xi64>, tensor<?x?x64xf32>) -> tensor<96x64xf32>
  %c = tptt.soft_cap %h cap = 30.0 : tensor<?x?x64xf32>
  %dc = tptt.soft_cap_grad %h, %c cap = 30.0 : tensor<?x?x64xf32>
  return
}

// -----

// The backward ops that tptt-differentiate emits, and the optimizer.
// CHECK-LABEL: func @grad_ops
// CHECK:         tptt.cross_entropy %{{.+}}, %{{.+}} : (tensor<?x?x12xf32>, tensor<?x?xi64>) -> tensor<f32>
// CHECK:         tptt.cross_entropy_grad
// CHECK:         tptt.embedding_grad
// CHECK:         tptt.linear_weight_grad %{{.+}}, %{{.+}} transposed_weight {scale = 2.000000e+00 : f64}
// CHECK:         tptt.sum_to_last
// CHECK:         tptt.rms_norm_grad
// CHECK:         tptt.glu_grad
// CHECK:         tptt.attention_grad %{{.+}} window = 3
// CHECK:         tptt.merge_heads_grad
// CHECK:         tptt.mag_mix_grad %{{.+}} cross_gate
// CHECK:         tptt.feature_map_grad %{{.+}} heads = 4 kv_heads = 2
// CHECK:         tptt.gates_grad %{{.+}} dalpha %{{.+}} mask %{{.+}} alpha = k beta = kv heads = 4 kv_heads = 2
// CHECK:         tptt.virtual_token_expand_grad %{{.+}} order = 2 trick = rot
// CHECK:         tptt.delta_product_grad %{{.+}} alpha %{{.+}} mask %{{.+}} semantics = recurrent chunk_size = 4 nonlinear
// CHECK:         tptt.sum_squares
// CHECK:         tptt.adamw
func.func @grad_ops(%logits: tensor<?x?x12xf32>, %labels: tensor<?x?xi64>, %s: tensor<f32>,
                    %x: tensor<?x?x16xf32>, %w: tensor<16xf32>, %y: tensor<?x?x8xf32>,
                    %q: tensor<?x4x?x4xf32>, %kv: tensor<?x2x?x4xf32>, %m: tensor<?x?xi1>,
                    %k8: tensor<?x?x8xf32>, %e: tensor<?x4x?x2x4xf32>, %p: tensor<8x16xf32>,
                    %hyper: tensor<7xf32>) {
  %0 = tptt.cross_entropy %logits, %labels : (tensor<?x?x12xf32>, tensor<?x?xi64>) -> tensor<f32>
  %1 = tptt.cross_entropy_grad %logits, %labels, %s : (tensor<?x?x12xf32>, tensor<?x?xi64>, tensor<f32>) -> tensor<?x?x12xf32>
  %2 = tptt.embedding_grad %labels, %x : (tensor<?x?xi64>, tensor<?x?x16xf32>) -> tensor<12x16xf32>
  %3 = tptt.linear_weight_grad %x, %y transposed_weight {scale = 2.0 : f64} : (tensor<?x?x16xf32>, tensor<?x?x8xf32>) -> tensor<16x8xf32>
  %4 = tptt.sum_to_last %y : (tensor<?x?x8xf32>) -> tensor<8xf32>
  %5:2 = tptt.rms_norm_grad %x, %w, %x {eps = 1.0e-05 : f64} : (tensor<?x?x16xf32>, tensor<16xf32>, tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<16xf32>)
  %6:2 = tptt.glu_grad %x, %x, %x : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>)
  %7:3 = tptt.attention_grad %q, %kv, %kv, %q, %q window = 3 : (tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> (tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  %8 = tptt.merge_heads_grad %q, %x : (tensor<?x4x?x4xf32>, tensor<?x?x16xf32>) -> tensor<?x4x?x4xf32>
  %9:2 = tptt.mag_mix_grad %x, %x, %s, %x cross_gate : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<f32>, tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>)
  %10:3 = tptt.feature_map_grad %x, %k8, %k8, %q, %q, %q heads = 4 kv_heads = 2 : (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  %11:2 = tptt.gates_grad %k8, %k8 dalpha %q, %q mask %m alpha = k beta = kv heads = 4 kv_heads = 2 : (tensor<?x?x8xf32>, tensor<?x?x8xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>, tensor<?x?xi1>) -> (tensor<?x?x8xf32>, tensor<?x?x8xf32>)
  %12 = tptt.virtual_token_expand_grad %e order = 2 trick = rot : (tensor<?x4x?x2x4xf32>) -> tensor<?x4x?x4xf32>
  %13:5 = tptt.delta_product_grad %q, %e, %e, %q alpha %q mask %m, %q semantics = recurrent chunk_size = 4 nonlinear : (tensor<?x4x?x4xf32>, tensor<?x4x?x2x4xf32>, tensor<?x4x?x2x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>, tensor<?x?xi1>, tensor<?x4x?x4xf32>) -> (tensor<?x4x?x4xf32>, tensor<?x4x?x2x4xf32>, tensor<?x4x?x2x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>)
  %14 = tptt.sum_squares %p : (tensor<8x16xf32>) -> tensor<f32>
  %15:3 = tptt.adamw %p, %p, %p, %p, %hyper, %s : (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>, tensor<7xf32>, tensor<f32>) -> (tensor<8x16xf32>, tensor<8x16xf32>, tensor<8x16xf32>)
  return
}

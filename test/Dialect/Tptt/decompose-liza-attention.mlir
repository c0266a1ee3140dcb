// RUN: tptt-opt %s -split-input-file -tptt-decompose-liza-attention | FileCheck %s

// recurrent: the mask reaches every op that must skip padded positions; only
// k̂ and v̂ are expanded, q̂ and the gates stay per real token; the constant
// decay (alpha = c) is no alpha operand at all.
// CHECK-LABEL: func @liza_attention$recurrent
// CHECK-SAME:    (%[[Q:[^:]+]]: tensor<?x?x64xf32>, %[[K:[^:]+]]: tensor<?x?x32xf32>, %[[V:[^:]+]]: tensor<?x?x32xf32>, %[[COS:[^:]+]]: tensor<?x?x16xf32>, %[[SIN:[^:]+]]: tensor<?x?x16xf32>, %[[MU:[^:]+]]: tensor<f32>, %[[WO:[^:]+]]: tensor<64x64xf32>, %[[M:[^:]+]]: tensor<?x?xi1>)
// CHECK:         %{{.+}}, %[[BETA:.+]] = tptt.gates %[[K]], %[[V]] mask %[[M]] alpha = c beta = k heads = 4 kv_heads = 2
// CHECK:         %[[QH:.+]], %[[KH:.+]], %[[VH:.+]] = tptt.feature_map %[[Q]], %[[K]], %[[V]] heads = 4 kv_heads = 2
// CHECK:         %[[KE:.+]] = tptt.virtual_token_expand %[[KH]] mask %[[M]] order = 2 trick = dt
// CHECK:         %[[VE:.+]] = tptt.virtual_token_expand %[[VH]] mask %[[M]] order = 2 trick = dt
// CHECK:         %[[Y:.+]], %{{.+}} = tptt.delta_product %[[QH]], %[[KE]], %[[VE]], %[[BETA]] mask %[[M]] semantics = recurrent chunk_size = 64 :
// CHECK:         %[[MERGED:.+]] = tptt.merge_heads %[[Y]] : (tensor<?x4x?x16xf32>) -> tensor<?x?x64xf32>
// CHECK:         %[[LIN:.+]] = tptt.linear %[[MERGED]], %[[WO]]
// CHECK:         %[[QS:.+]] = linalg.transpose ins(%{{.+}} : tensor<?x?x4x16xf32>) outs(%{{.+}} : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
// CHECK:         %[[KS:.+]] = linalg.transpose ins(%{{.+}} : tensor<?x?x2x16xf32>)
// CHECK:         %[[VS:.+]] = linalg.transpose ins(%{{.+}} : tensor<?x?x2x16xf32>)
// CHECK:         %[[QR:.+]] = tptt.rope %[[QS]], %[[COS]], %[[SIN]]
// CHECK:         %[[KR:.+]] = tptt.rope %[[KS]], %[[COS]], %[[SIN]]
// CHECK:         %[[ATTN:.+]] = tptt.attention %[[QR]], %[[KR]], %[[VS]] mask %[[M]] :
// CHECK:         %[[MERGED_SOFT:.+]] = tensor.collapse_shape
// CHECK:         %[[SOFT:.+]] = tptt.linear %[[MERGED_SOFT]], %[[WO]]
// CHECK:         %[[OUT:.+]] = tptt.mag_mix %[[SOFT]], %[[LIN]], %[[MU]] :
// CHECK:         return %[[OUT]]
func.func @liza_attention$recurrent(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>,
    %v: tensor<?x?x32xf32>, %cos: tensor<?x?x16xf32>, %sin: tensor<?x?x16xf32>,
    %mu: tensor<f32>, %wo: tensor<64x64xf32>, %m: tensor<?x?xi1>) -> tensor<?x?x64xf32> {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %sin) mu(%mu) out_proj(%wo) mask %m
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64}
      : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>,
         tensor<?x?x16xf32>, tensor<f32>, tensor<64x64xf32>, tensor<?x?xi1>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// tptt-0.12: padding multiplies v before the gates (as the reference does;
// the broadcast mask times v, a product tptt-differentiate handles);
// q̂, α and β are expanded too, a constant gate (c) with `cte`; the linear
// branch runs in f32 while the model is bf16; options reach their ops.
// CHECK-LABEL: func @liza_attention$tptt_0_12
// CHECK-SAME:    (%[[Q:[^:]+]]: tensor<2x8x64xbf16>, %[[K:[^:]+]]: tensor<2x8x32xbf16>, %[[V:[^:]+]]: tensor<2x8x32xbf16>, %{{[^:]+}}: tensor<2x8x16xbf16>, %{{[^:]+}}: tensor<2x8x16xbf16>, %[[MU:[^:]+]]: tensor<f32>, %[[WO:[^:]+]]: tensor<64x64xbf16>, %[[BO:[^:]+]]: tensor<64xbf16>, %[[M:[^:]+]]: tensor<2x8xi1>)
// CHECK:         %[[MF:.+]] = linalg.generic {{.+}} ins(%[[M]] : tensor<2x8xi1>)
// CHECK:           arith.uitofp %{{.+}} : i1 to bf16
// CHECK:         %[[VM:.+]] = arith.mulf %[[V]], %[[MF]] : tensor<2x8x32xbf16>
// CHECK:         %[[ALPHA:.+]], %[[BETA:.+]] = tptt.gates %[[K]], %[[VM]] alpha = k beta = c heads = 4 kv_heads = 2 : (tensor<2x8x32xbf16>, tensor<2x8x32xbf16>) -> (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
// CHECK:         %[[QH:.+]], %[[KH:.+]], %[[VH:.+]] = tptt.feature_map %[[Q]], %[[K]], %[[VM]]
// CHECK:         %[[KE:.+]] = tptt.virtual_token_expand %[[KH]] order = 3 trick = rdt
// CHECK:         %[[VE:.+]] = tptt.virtual_token_expand %[[VH]] order = 3 trick = rdt
// CHECK:         %[[QE:.+]] = tptt.virtual_token_expand %[[QH]] order = 3 trick = rdt
// CHECK:         %[[AE:.+]] = tptt.virtual_token_expand %[[ALPHA]] order = 3 trick = rdt
// CHECK:         %[[BE:.+]] = tptt.virtual_token_expand %[[BETA]] order = 3 trick = cte
// CHECK:         %[[Y:.+]], %{{.+}} = tptt.delta_product %[[QE]], %[[KE]], %[[VE]], %[[BE]] alpha %[[AE]] semantics = "tptt-0.12" chunk_size = 4 nonlinear :
// CHECK:         tptt.merge_heads %[[Y]] : (tensor<2x4x8x16xf32>) -> tensor<2x8x64xbf16>
// CHECK:         %[[LIN:.+]] = tptt.linear %{{.+}}, %[[WO]] bias %[[BO]]
// CHECK:         tptt.attention %{{.+}}, %{{.+}}, %{{.+}} mask %[[M]] window = 6 :
// CHECK:         %[[SOFT:.+]] = tptt.linear %{{.+}}, %[[WO]] bias %[[BO]]
// CHECK:         tptt.mag_mix %[[SOFT]], %[[LIN]], %[[MU]] cross_gate base_scale_attn :
func.func @liza_attention$tptt_0_12(%q: tensor<2x8x64xbf16>, %k: tensor<2x8x32xbf16>,
    %v: tensor<2x8x32xbf16>, %cos: tensor<2x8x16xbf16>, %sin: tensor<2x8x16xbf16>,
    %mu: tensor<f32>, %wo: tensor<64x64xbf16>, %bo: tensor<64xbf16>, %m: tensor<2x8xi1>)
    -> tensor<2x8x64xbf16> {
  %y = tptt.liza_attention %q, %k, %v rope(%cos, %sin) mu(%mu) out_proj(%wo, %bo) mask %m
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 3 : i64, trick = #tptt<trick rdt>,
       alpha_gate = #tptt<gate k>, beta_gate = #tptt<gate c>, nonlinear, chunk_size = 4 : i64,
       semantics = #tptt<semantics "tptt-0.12">, cross_gate, base_scale_attn, window = 6 : i64,
       linear_precision = f32}
      : (tensor<2x8x64xbf16>, tensor<2x8x32xbf16>, tensor<2x8x32xbf16>, tensor<2x8x16xbf16>,
         tensor<2x8x16xbf16>, tensor<f32>, tensor<64x64xbf16>, tensor<64xbf16>, tensor<2x8xi1>)
      -> tensor<2x8x64xbf16>
  return %y : tensor<2x8x64xbf16>
}

// -----

// linear_precision bf16 is a storage type: the branch computes in f32 and
// rounds q̂, k̂, v̂, α, β (before the expansion) and the operator's output to
// bf16 and back; the state stays f32.
// CHECK-LABEL: func @liza_attention$bf16_storage
// CHECK:         %[[ALPHA:.+]], %[[BETA:.+]] = tptt.gates {{.+}} -> (tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
// CHECK:         %[[QH:.+]], %[[KH:.+]], %[[VH:.+]] = tptt.feature_map
// CHECK:         %[[QN:.+]] = arith.truncf %[[QH]] : tensor<1x4x8x16xf32> to tensor<1x4x8x16xbf16>
// CHECK:         %[[QR:.+]] = arith.extf %[[QN]] : tensor<1x4x8x16xbf16> to tensor<1x4x8x16xf32>
// CHECK:         %[[BN:.+]] = arith.truncf %[[BETA]]
// CHECK:         %[[BR:.+]] = arith.extf %[[BN]]
// CHECK:         %[[AN:.+]] = arith.truncf %[[ALPHA]]
// CHECK:         %[[AR:.+]] = arith.extf %[[AN]]
// CHECK:         %[[KN:.+]] = arith.truncf %[[KH]]
// CHECK:         %[[KR:.+]] = arith.extf %[[KN]]
// CHECK:         %[[KE:.+]] = tptt.virtual_token_expand %[[KR]]
// CHECK:         %[[VN:.+]] = arith.truncf %[[VH]]
// CHECK:         %[[VR:.+]] = arith.extf %[[VN]]
// CHECK:         %[[VE:.+]] = tptt.virtual_token_expand %[[VR]]
// CHECK:         %[[Y:.+]], %{{.+}} = tptt.delta_product %[[QR]], %[[KE]], %[[VE]], %[[BR]] alpha %[[AR]] semantics = recurrent chunk_size = 64 : {{.+}} -> (tensor<1x4x8x16xf32>, tensor<1x4x16x16xf32>)
// CHECK:         %[[YN:.+]] = arith.truncf %[[Y]]
// CHECK:         %[[YR:.+]] = arith.extf %[[YN]]
// CHECK:         tptt.merge_heads %[[YR]]
func.func @liza_attention$bf16_storage(%q: tensor<1x8x64xf32>, %k: tensor<1x8x32xf32>,
    %cos: tensor<1x8x16xf32>, %mu: tensor<f32>, %wo: tensor<64x64xf32>) -> tensor<1x8x64xf32> {
  %y = tptt.liza_attention %q, %k, %k rope(%cos, %cos) mu(%mu) out_proj(%wo)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 2 : i64,
       alpha_gate = #tptt<gate k>, linear_precision = bf16}
      : (tensor<1x8x64xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>, tensor<1x8x16xf32>,
         tensor<1x8x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
  return %y : tensor<1x8x64xf32>
}

// -----

// bidirectional: ½ (forward + reverse), the reverse run from no initial state.
// CHECK-LABEL: func @liza_attention$bidirectional
// CHECK:         %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK:         %[[FWD:.+]], %{{.+}} = tptt.delta_product {{.+}} semantics = recurrent chunk_size = 64 :
// CHECK:         %[[BWD:.+]], %{{.+}} = tptt.delta_product {{.+}} semantics = recurrent chunk_size = 64 reverse :
// CHECK:         %[[AVG:.+]] = linalg.generic {{.+}} ins(%[[FWD]], %[[BWD]] :
// CHECK:           %[[SUM:.+]] = arith.addf
// CHECK:           arith.mulf %[[SUM]], %[[HALF]]
// CHECK:         tptt.merge_heads %[[AVG]]
func.func @liza_attention$bidirectional(%q: tensor<1x8x64xf32>, %k: tensor<1x8x32xf32>,
    %cos: tensor<1x8x16xf32>, %mu: tensor<f32>, %wo: tensor<64x64xf32>) -> tensor<1x8x64xf32> {
  %y = tptt.liza_attention %q, %k, %k rope(%cos, %cos) mu(%mu) out_proj(%wo)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, bidirectional}
      : (tensor<1x8x64xf32>, tensor<1x8x32xf32>, tensor<1x8x32xf32>, tensor<1x8x16xf32>,
         tensor<1x8x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x8x64xf32>
  return %y : tensor<1x8x64xf32>
}

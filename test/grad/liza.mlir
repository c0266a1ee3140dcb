// The LiZA branch's backward ops against central finite differences (f64).
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_merge --backward bwd_merge --inputs x=2x4x3x8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_mag --backward bwd_mag --inputs s=2x3x6,l=2x3x6,mu=:positive --wrt s,l
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_mag_cross --backward bwd_mag_cross --inputs s=2x3x6,l=2x3x6,mu=:positive --wrt s,l
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_mag_scale --backward bwd_mag_scale --inputs s=2x3x6,l=2x3x6,mu=:positive --wrt s,l
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_mag_both --backward bwd_mag_both --inputs s=2x3x6,l=2x3x6,mu=:positive --wrt s,l
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_features --backward bwd_features --inputs q=2x3x16,k=2x3x8,v=2x3x8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_c_k --backward bwd_gates_c_k --inputs k=2x5x8,v=2x5x8 --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_c_k_mask --backward bwd_gates_c_k_mask --inputs k=2x5x8,v=2x5x8,m=2x5:mask --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_k_v --backward bwd_gates_k_v --inputs k=2x5x8,v=2x5x8 --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_k_v_mask --backward bwd_gates_k_v_mask --inputs k=2x5x8,v=2x5x8,m=2x5:mask --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_kv_kv --backward bwd_gates_kv_kv --inputs k=2x5x8,v=2x5x8 --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_kv_kv_mask --backward bwd_gates_kv_kv_mask --inputs k=2x5x8,v=2x5x8,m=2x5:mask --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_v_c --backward bwd_gates_v_c --inputs k=2x5x8,v=2x5x8 --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_gates_v_c_mask --backward bwd_gates_v_c_mask --inputs k=2x5x8,v=2x5x8,m=2x5:mask --wrt k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_dt --backward bwd_expand_2_dt --inputs x=2x2x6x4 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_dt_mask --backward bwd_expand_2_dt_mask --inputs x=2x2x6x4,m=2x6:mask --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_rot --backward bwd_expand_2_rot --inputs x=2x2x6x5 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_rdt --backward bwd_expand_2_rdt --inputs x=2x2x6x4 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_rdt_mask --backward bwd_expand_2_rdt_mask --inputs x=2x2x6x4,m=2x6:mask --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_2_cte --backward bwd_expand_2_cte --inputs x=2x2x6x4 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_dt --backward bwd_expand_3_dt --inputs x=2x2x6x4 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_dt_mask --backward bwd_expand_3_dt_mask --inputs x=2x2x6x4,m=2x6:mask --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_rot --backward bwd_expand_3_rot --inputs x=2x2x6x5 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_rdt --backward bwd_expand_3_rdt --inputs x=2x2x6x4 --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_rdt_mask --backward bwd_expand_3_rdt_mask --inputs x=2x2x6x4,m=2x6:mask --wrt x
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_expand_3_cte --backward bwd_expand_3_cte --inputs x=2x2x6x4 --wrt x

func.func @fwd_merge(%x: tensor<?x4x?x8xf64>) -> tensor<?x?x32xf64> {
  %y = tptt.merge_heads %x : (tensor<?x4x?x8xf64>) -> tensor<?x?x32xf64>
  return %y : tensor<?x?x32xf64>
}
func.func @bwd_merge(%x: tensor<?x4x?x8xf64>, %dy: tensor<?x?x32xf64>) -> tensor<?x4x?x8xf64> {
  %dx = tptt.merge_heads_grad %x, %dy : (tensor<?x4x?x8xf64>, tensor<?x?x32xf64>) -> tensor<?x4x?x8xf64>
  return %dx : tensor<?x4x?x8xf64>
}

func.func @fwd_mag(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>) -> tensor<?x?x6xf64> {
  %y = tptt.mag_mix %s, %l, %mu : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>) -> tensor<?x?x6xf64>
  return %y : tensor<?x?x6xf64>
}
func.func @bwd_mag(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>, %dy: tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>, tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>)
  return %ds, %dl : tensor<?x?x6xf64>, tensor<?x?x6xf64>
}

func.func @fwd_mag_cross(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>) -> tensor<?x?x6xf64> {
  %y = tptt.mag_mix %s, %l, %mu cross_gate : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>) -> tensor<?x?x6xf64>
  return %y : tensor<?x?x6xf64>
}
func.func @bwd_mag_cross(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>, %dy: tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy cross_gate : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>, tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>)
  return %ds, %dl : tensor<?x?x6xf64>, tensor<?x?x6xf64>
}

func.func @fwd_mag_scale(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>) -> tensor<?x?x6xf64> {
  %y = tptt.mag_mix %s, %l, %mu base_scale_attn : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>) -> tensor<?x?x6xf64>
  return %y : tensor<?x?x6xf64>
}
func.func @bwd_mag_scale(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>, %dy: tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy base_scale_attn : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>, tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>)
  return %ds, %dl : tensor<?x?x6xf64>, tensor<?x?x6xf64>
}

func.func @fwd_mag_both(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>) -> tensor<?x?x6xf64> {
  %y = tptt.mag_mix %s, %l, %mu cross_gate base_scale_attn : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>) -> tensor<?x?x6xf64>
  return %y : tensor<?x?x6xf64>
}
func.func @bwd_mag_both(%s: tensor<?x?x6xf64>, %l: tensor<?x?x6xf64>, %mu: tensor<f64>, %dy: tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>) {
  %ds, %dl = tptt.mag_mix_grad %s, %l, %mu, %dy cross_gate base_scale_attn : (tensor<?x?x6xf64>, tensor<?x?x6xf64>, tensor<f64>, tensor<?x?x6xf64>) -> (tensor<?x?x6xf64>, tensor<?x?x6xf64>)
  return %ds, %dl : tensor<?x?x6xf64>, tensor<?x?x6xf64>
}

func.func @fwd_features(%q: tensor<?x?x16xf64>, %k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b, %c = tptt.feature_map %q, %k, %v heads = 4 kv_heads = 2 : (tensor<?x?x16xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b, %c : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_features(%q: tensor<?x?x16xf64>, %k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>, %dc: tensor<?x4x?x4xf64>) -> (tensor<?x?x16xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dq, %dk, %dv = tptt.feature_map_grad %q, %k, %v, %da, %db, %dc heads = 4 kv_heads = 2 : (tensor<?x?x16xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) -> (tensor<?x?x16xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dq, %dk, %dv : tensor<?x?x16xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_c_k(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v alpha = c beta = k heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_c_k(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v, %db alpha = c beta = k heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_c_k_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v mask %m alpha = c beta = k heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_c_k_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v, %db mask %m alpha = c beta = k heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_k_v(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v alpha = k beta = v heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_k_v(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db alpha = k beta = v heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_k_v_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v mask %m alpha = k beta = v heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_k_v_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db mask %m alpha = k beta = v heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_kv_kv(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v alpha = kv beta = kv heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_kv_kv(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db alpha = kv beta = kv heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_kv_kv_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v mask %m alpha = kv beta = kv heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_kv_kv_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db mask %m alpha = kv beta = kv heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_v_c(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v alpha = v beta = c heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_v_c(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db alpha = v beta = c heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_gates_v_c_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>) {
  %a, %b = tptt.gates %k, %v mask %m alpha = v beta = c heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?xi1>) -> (tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>)
  return %a, %b : tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>
}
func.func @bwd_gates_v_c_mask(%k: tensor<?x?x8xf64>, %v: tensor<?x?x8xf64>, %m: tensor<?x?xi1>, %da: tensor<?x4x?x4xf64>, %db: tensor<?x4x?x4xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dk, %dv = tptt.gates_grad %k, %v dalpha %da, %db mask %m alpha = v beta = c heads = 4 kv_heads = 2 : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x4x?x4xf64>, tensor<?x4x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dk, %dv : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_expand_2_dt(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64> {
  %e = tptt.virtual_token_expand %x order = 2 trick = dt : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64>
  return %e : tensor<?x2x?x2x4xf64>
}
func.func @bwd_expand_2_dt(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 2 trick = dt : (tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_2_dt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x2x4xf64> {
  %e = tptt.virtual_token_expand %x mask %m order = 2 trick = dt : (tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x2x4xf64>
  return %e : tensor<?x2x?x2x4xf64>
}
func.func @bwd_expand_2_dt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %de: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de mask %m order = 2 trick = dt : (tensor<?x2x?x2x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_2_rot(%x: tensor<?x2x?x5xf64>) -> tensor<?x2x?x2x5xf64> {
  %e = tptt.virtual_token_expand %x order = 2 trick = rot : (tensor<?x2x?x5xf64>) -> tensor<?x2x?x2x5xf64>
  return %e : tensor<?x2x?x2x5xf64>
}
func.func @bwd_expand_2_rot(%x: tensor<?x2x?x5xf64>, %de: tensor<?x2x?x2x5xf64>) -> tensor<?x2x?x5xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 2 trick = rot : (tensor<?x2x?x2x5xf64>) -> tensor<?x2x?x5xf64>
  return %dx : tensor<?x2x?x5xf64>
}

func.func @fwd_expand_2_rdt(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64> {
  %e = tptt.virtual_token_expand %x order = 2 trick = rdt : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64>
  return %e : tensor<?x2x?x2x4xf64>
}
func.func @bwd_expand_2_rdt(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 2 trick = rdt : (tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_2_rdt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x2x4xf64> {
  %e = tptt.virtual_token_expand %x mask %m order = 2 trick = rdt : (tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x2x4xf64>
  return %e : tensor<?x2x?x2x4xf64>
}
func.func @bwd_expand_2_rdt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %de: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de mask %m order = 2 trick = rdt : (tensor<?x2x?x2x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_2_cte(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64> {
  %e = tptt.virtual_token_expand %x order = 2 trick = cte : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x2x4xf64>
  return %e : tensor<?x2x?x2x4xf64>
}
func.func @bwd_expand_2_cte(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 2 trick = cte : (tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_3_dt(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64> {
  %e = tptt.virtual_token_expand %x order = 3 trick = dt : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64>
  return %e : tensor<?x2x?x3x4xf64>
}
func.func @bwd_expand_3_dt(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 3 trick = dt : (tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_3_dt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x3x4xf64> {
  %e = tptt.virtual_token_expand %x mask %m order = 3 trick = dt : (tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x3x4xf64>
  return %e : tensor<?x2x?x3x4xf64>
}
func.func @bwd_expand_3_dt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %de: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de mask %m order = 3 trick = dt : (tensor<?x2x?x3x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_3_rot(%x: tensor<?x2x?x5xf64>) -> tensor<?x2x?x3x5xf64> {
  %e = tptt.virtual_token_expand %x order = 3 trick = rot : (tensor<?x2x?x5xf64>) -> tensor<?x2x?x3x5xf64>
  return %e : tensor<?x2x?x3x5xf64>
}
func.func @bwd_expand_3_rot(%x: tensor<?x2x?x5xf64>, %de: tensor<?x2x?x3x5xf64>) -> tensor<?x2x?x5xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 3 trick = rot : (tensor<?x2x?x3x5xf64>) -> tensor<?x2x?x5xf64>
  return %dx : tensor<?x2x?x5xf64>
}

func.func @fwd_expand_3_rdt(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64> {
  %e = tptt.virtual_token_expand %x order = 3 trick = rdt : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64>
  return %e : tensor<?x2x?x3x4xf64>
}
func.func @bwd_expand_3_rdt(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 3 trick = rdt : (tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_3_rdt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x3x4xf64> {
  %e = tptt.virtual_token_expand %x mask %m order = 3 trick = rdt : (tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x3x4xf64>
  return %e : tensor<?x2x?x3x4xf64>
}
func.func @bwd_expand_3_rdt_mask(%x: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %de: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de mask %m order = 3 trick = rdt : (tensor<?x2x?x3x4xf64>, tensor<?x?xi1>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

func.func @fwd_expand_3_cte(%x: tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64> {
  %e = tptt.virtual_token_expand %x order = 3 trick = cte : (tensor<?x2x?x4xf64>) -> tensor<?x2x?x3x4xf64>
  return %e : tensor<?x2x?x3x4xf64>
}
func.func @bwd_expand_3_cte(%x: tensor<?x2x?x4xf64>, %de: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %dx = tptt.virtual_token_expand_grad %de order = 3 trick = cte : (tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64>
  return %dx : tensor<?x2x?x4xf64>
}

// RUN: tptt-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// tptt.causal_mean
//===----------------------------------------------------------------------===//

func.func @causal_mean$width(%x: tensor<2x9x6xf32>) {
  // expected-error @+1 {{'tptt.causal_mean' op width must be >= 1, got 0}}
  %0 = tptt.causal_mean %x {width = 0 : i64} : (tensor<2x9x6xf32>) -> tensor<2x9x6xf32>
  return
}

// -----

func.func @causal_mean$rank(%x: tensor<9x6xf32>) {
  // expected-error @+1 {{'input' must have rank 3 [B, S, F], got 'tensor<9x6xf32>'}}
  %0 = tptt.causal_mean %x : (tensor<9x6xf32>) -> tensor<9x6xf32>
  return
}

// -----

func.func @causal_mean$result(%x: tensor<2x9x6xf32>) {
  // expected-error @+1 {{'result' dimension 1 (S) is 8, but 'input' gives S = 9}}
  %0 = tptt.causal_mean %x : (tensor<2x9x6xf32>) -> tensor<2x8x6xf32>
  return
}

// -----

func.func @causal_mean$history_width(%x: tensor<2x9x6xf32>, %h: tensor<2x0x6xf32>) {
  // expected-error @+1 {{'history' requires width > 1}}
  %0 = tptt.causal_mean %x history %h {width = 1 : i64} : (tensor<2x9x6xf32>, tensor<2x0x6xf32>) -> tensor<2x9x6xf32>
  return
}

// -----

func.func @causal_mean$history_rows(%x: tensor<2x9x6xf32>, %h: tensor<2x3x6xf32>) {
  // expected-error @+1 {{'history' dimension 1 (width-1) is 3, but width gives width-1 = 2}}
  %0 = tptt.causal_mean %x history %h : (tensor<2x9x6xf32>, tensor<2x3x6xf32>) -> tensor<2x9x6xf32>
  return
}

// -----

func.func @causal_mean$history_type(%x: tensor<2x9x6xf32>, %h: tensor<2x2x6xf64>) {
  // expected-error @+1 {{'history' has element type 'f64', but 'input' has 'f32'}}
  %0 = tptt.causal_mean %x history %h : (tensor<2x9x6xf32>, tensor<2x2x6xf64>) -> tensor<2x9x6xf32>
  return
}

// -----

func.func @causal_mean$mask(%x: tensor<2x9x6xf32>, %m: tensor<2x8xi1>) {
  // expected-error @+1 {{'mask' dimension 1 (S) is 8, but 'input' gives S = 9}}
  %0 = tptt.causal_mean %x mask %m : (tensor<2x9x6xf32>, tensor<2x8xi1>) -> tensor<2x9x6xf32>
  return
}

// -----

func.func @causal_mean$mask_type(%x: tensor<2x9x6xf32>, %m: tensor<2x9xi64>) {
  // expected-error @+1 {{operand #1 must be 2D tensor of 1-bit signless integer values, but got 'tensor<2x9xi64>'}}
  %0 = tptt.causal_mean %x mask %m : (tensor<2x9x6xf32>, tensor<2x9xi64>) -> tensor<2x9x6xf32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.gates
//===----------------------------------------------------------------------===//

// -----

func.func @gates$heads(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{num_heads (6) must be a multiple of num_kv_heads (4)}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 6 kv_heads = 4
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x6x7x4xf32>, tensor<2x6x7x4xf32>)
  return
}

// -----

func.func @gates$kv_heads(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{num_kv_heads must be >= 1, got 0}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 0
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x4x7x4xf32>, tensor<2x4x7x4xf32>)
  return
}

// -----

func.func @gates$features(%k: tensor<2x7x15xf32>) {
  // expected-error @+1 {{feature dimension of 'k' (15) is not divisible by num_kv_heads (2)}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x15xf32>, tensor<2x7x15xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$dynamic_features(%k: tensor<2x7x?xf32>) {
  // expected-error @+1 {{'k' dimension 2 (Hkv*d) must be static}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x?xf32>, tensor<2x7x?xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$head_dim(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'alpha' dimension 3 (d) is 6, but 'k' / num_kv_heads gives d = 8}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x4x7x6xf32>, tensor<2x4x7x6xf32>)
  return
}

// -----

func.func @gates$result_heads(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'alpha' dimension 1 (H) is 2, but num_heads gives H = 4}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x2x7x8xf32>, tensor<2x2x7x8xf32>)
  return
}

// -----

func.func @gates$beta_type(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'alpha' and 'beta' must have the same type, got 'tensor<2x4x7x8xf32>' and 'tensor<2x4x7x8xf64>'}}
  %a, %b = tptt.gates %k, %k alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf64>)
  return
}

// -----

func.func @gates$v_shape(%k: tensor<2x7x16xf32>, %v: tensor<2x6x16xf32>) {
  // expected-error @+1 {{'v' dimension 1 (S) is 6, but 'k' gives S = 7}}
  %a, %b = tptt.gates %k, %v alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x6x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$v_type(%k: tensor<2x7x16xf32>, %v: tensor<2x7x16xbf16>) {
  // expected-error @+1 {{'v' has element type 'bf16', but 'k' has 'f32'}}
  %a, %b = tptt.gates %k, %v alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xbf16>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$history_alone(%k: tensor<2x7x16xf32>, %h: tensor<2x2x16xf32>) {
  // expected-error @+1 {{'k_history' and 'v_history' must be given together}}
  %a, %b = "tptt.gates"(%k, %k, %h) <{alpha_gate = #tptt<gate c>, beta_gate = #tptt<gate k>,
      num_heads = 4 : i64, num_kv_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0>}>
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>, tensor<2x2x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$history_rows(%k: tensor<2x7x16xf32>, %h: tensor<2x3x16xf32>) {
  // expected-error @+1 {{'k_history' dimension 1 (2) is 3, but the width-3 pool gives 2 = 2}}
  %a, %b = tptt.gates %k, %k history(%h, %h) alpha = c beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>, tensor<2x3x16xf32>, tensor<2x3x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$unknown_code(%k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{unknown gate '1', expected one of: k, v, kv, c}}
  %a, %b = tptt.gates %k, %k alpha = "1" beta = k heads = 4 kv_heads = 2
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @gates$unknown_code_generic(%k: tensor<2x7x16xf32>) {
  // expected-error @+2 {{expected ::mlir::tptt::GateKind to be one of: k, v, kv, c}}
  // expected-error @+1 {{failed to parse Tptt_GateKindAttr parameter 'value'}}
  %a, %b = "tptt.gates"(%k, %k) <{alpha_gate = #tptt<gate q>, beta_gate = #tptt<gate k>,
      num_heads = 4 : i64, num_kv_heads = 2 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0>}>
      : (tensor<2x7x16xf32>, tensor<2x7x16xf32>) -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

//===----------------------------------------------------------------------===//
// tptt.feature_map
//===----------------------------------------------------------------------===//

// -----

func.func @feature_map$q_features(%q: tensor<2x7x30xf32>, %k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'q' dimension 2 (H*d) is 30, but num_heads x head_dim gives H*d = 32}}
  %a, %b, %c = tptt.feature_map %q, %k, %k heads = 4 kv_heads = 2
      : (tensor<2x7x30xf32>, tensor<2x7x16xf32>, tensor<2x7x16xf32>)
      -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @feature_map$result_type(%q: tensor<2x7x32xf32>, %k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'v_hat' must have the type of 'q_hat' ('tensor<2x4x7x8xf32>'), got 'tensor<2x4x7x8xf64>'}}
  %a, %b, %c = tptt.feature_map %q, %k, %k heads = 4 kv_heads = 2
      : (tensor<2x7x32xf32>, tensor<2x7x16xf32>, tensor<2x7x16xf32>)
      -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x8xf64>)
  return
}

// -----

func.func @feature_map$q_type(%q: tensor<2x7x32xbf16>, %k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{'k' has element type 'f32', but 'q' has 'bf16'}}
  %a, %b, %c = tptt.feature_map %q, %k, %k heads = 4 kv_heads = 2
      : (tensor<2x7x32xbf16>, tensor<2x7x16xf32>, tensor<2x7x16xf32>)
      -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

// -----

func.func @feature_map$heads(%q: tensor<2x7x32xf32>, %k: tensor<2x7x16xf32>) {
  // expected-error @+1 {{num_heads must be >= 1, got 0}}
  %a, %b, %c = tptt.feature_map %q, %k, %k heads = 0 kv_heads = 2
      : (tensor<2x7x32xf32>, tensor<2x7x16xf32>, tensor<2x7x16xf32>)
      -> (tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>, tensor<2x4x7x8xf32>)
  return
}

//===----------------------------------------------------------------------===//
// tptt.virtual_token_expand
//===----------------------------------------------------------------------===//

// -----

func.func @virtual_token_expand$order(%x: tensor<2x4x7x8xf32>) {
  // expected-error @+1 {{order must be >= 1, got 0}}
  %0 = tptt.virtual_token_expand %x order = 0 trick = dt : (tensor<2x4x7x8xf32>) -> tensor<2x4x7x0x8xf32>
  return
}

// -----

func.func @virtual_token_expand$result(%x: tensor<2x4x7x8xf32>) {
  // expected-error @+1 {{'result' dimension 3 (n) is 3, but order gives n = 2}}
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt : (tensor<2x4x7x8xf32>) -> tensor<2x4x7x3x8xf32>
  return
}

// -----

func.func @virtual_token_expand$dynamic_d(%x: tensor<2x4x7x?xf32>) {
  // expected-error @+1 {{'input' dimension 3 (d) must be static}}
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt : (tensor<2x4x7x?xf32>) -> tensor<2x4x7x2x8xf32>
  return
}

// -----

func.func @virtual_token_expand$history_order(%x: tensor<2x4x7x8xf32>, %h: tensor<2x4x0x8xf32>) {
  // expected-error @+1 {{'history' requires order > 1}}
  %0 = tptt.virtual_token_expand %x history %h order = 1 trick = dt
      : (tensor<2x4x7x8xf32>, tensor<2x4x0x8xf32>) -> tensor<2x4x7x1x8xf32>
  return
}

// -----

func.func @virtual_token_expand$history_rows(%x: tensor<2x4x7x8xf32>, %h: tensor<2x4x1x8xf32>) {
  // expected-error @+1 {{'history' dimension 2 (n-1) is 1, but order - 1 gives n-1 = 2}}
  %0 = tptt.virtual_token_expand %x history %h order = 3 trick = dt
      : (tensor<2x4x7x8xf32>, tensor<2x4x1x8xf32>) -> tensor<2x4x7x3x8xf32>
  return
}

// -----

func.func @virtual_token_expand$unknown_trick(%x: tensor<2x4x7x8xf32>) {
  // expected-error @+1 {{unknown trick 'derivative', expected one of: dt, rot, rdt, cte}}
  %0 = tptt.virtual_token_expand %x order = 2 trick = derivative : (tensor<2x4x7x8xf32>) -> tensor<2x4x7x2x8xf32>
  return
}

// -----

func.func @virtual_token_expand$element_type(%x: tensor<2x4x7x8xf32>) {
  // expected-error @+1 {{'result' has element type 'f64', but 'input' has 'f32'}}
  %0 = tptt.virtual_token_expand %x order = 2 trick = dt : (tensor<2x4x7x8xf32>) -> tensor<2x4x7x2x8xf64>
  return
}

//===----------------------------------------------------------------------===//
// tptt.delta_product
//===----------------------------------------------------------------------===//

// -----

func.func @delta_product$chunk_size(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>) {
  // expected-error @+1 {{chunk_size must be >= 1, got 0}}
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %q semantics = recurrent chunk_size = 0
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$recurrent_q(%k: tensor<1x2x5x2x8xf32>, %g: tensor<1x2x5x8xf32>) {
  // expected-error @+1 {{'q' must have rank 4 [B, H, S, d], got 'tensor<1x2x5x2x8xf32>'}}
  %o, %s = tptt.delta_product %k, %k, %k, %g alpha %g semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$tptt_gates(%k: tensor<1x2x5x2x8xf32>, %g: tensor<1x2x5x8xf32>) {
  // expected-error @+1 {{'alpha' must have rank 5 [B, H, S, n, d], got 'tensor<1x2x5x8xf32>'}}
  %o, %s = tptt.delta_product %k, %k, %k, %k alpha %g semantics = "tptt-0.12" chunk_size = 4
      : (tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$tptt_mask(%k: tensor<1x2x5x2x8xf32>, %m: tensor<1x5xi1>) {
  // expected-error @+1 {{'mask' is not allowed with tptt-0.12 semantics}}
  %o, %s = tptt.delta_product %k, %k, %k, %k alpha %k mask %m semantics = "tptt-0.12" chunk_size = 4
      : (tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x5xi1>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$dynamic_order(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x?x8xf32>) {
  // expected-error @+1 {{'k' dimension 3 (n) must be static}}
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %q semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x?x8xf32>, tensor<1x2x5x?x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$v_order(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>, %v: tensor<1x2x5x3x8xf32>) {
  // expected-error @+1 {{'v' dimension 3 (n) is 3, but 'k' gives n = 2}}
  %o, %s = tptt.delta_product %q, %k, %v, %q alpha %q semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x3x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$initial_state(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>, %s0: tensor<1x2x2x8x8xf32>) {
  // expected-error @+1 {{'initial_state' must have rank 4 [B, H, d, d], got 'tensor<1x2x2x8x8xf32>'}}
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %q init %s0 semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x2x8x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$final_state(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>) {
  // expected-error @+1 {{'final_state' dimension 3 (d) is 4, but 'k' gives d = 8}}
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %q semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x4xf32>)
  return
}

// -----

func.func @delta_product$element_type(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>, %b: tensor<1x2x5x8xf64>) {
  // expected-error @+1 {{'beta' has element type 'f64', but 'q' has 'f32'}}
  %o, %s = tptt.delta_product %q, %k, %k, %b alpha %q semantics = recurrent chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf64>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product$unknown_semantics(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x2x8xf32>) {
  // expected-error @+1 {{unknown semantics 'tptt-0.11', expected one of: recurrent, tptt-0.12}}
  %o, %s = tptt.delta_product %q, %k, %k, %q alpha %q semantics = "tptt-0.11" chunk_size = 4
      : (tensor<1x2x5x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x2x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>)
      -> (tensor<1x2x5x8xf32>, tensor<1x2x8x8xf32>)
  return
}

//===----------------------------------------------------------------------===//
// tptt.delta_product_step
//===----------------------------------------------------------------------===//

// -----

func.func @delta_product_step$position_missing(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x8xf32>) {
  // expected-error @+1 {{'position' is required with nonlinear}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q chunk_size = 4 nonlinear
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8xf32>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product_step$position_unused(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x8xf32>, %p: tensor<1xi64>) {
  // expected-error @+1 {{'position' is only used with nonlinear}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q position %p chunk_size = 4
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8xf32>, tensor<1xi64>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product_step$position_batch(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x8xf32>, %p: tensor<3xi64>) {
  // expected-error @+1 {{'position' dimension 0 (B) is 3, but 'k' gives B = 1}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q position %p chunk_size = 4 nonlinear
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8xf32>, tensor<3xi64>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product_step$chunk_size(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x8xf32>) {
  // expected-error @+1 {{chunk_size must be >= 1, got -1}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q chunk_size = -1
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x8xf32>, tensor<1x2x8xf32>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product_step$state(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x4xf32>) {
  // expected-error @+1 {{'state' dimension 3 (d) is 4, but 'k' gives d = 8}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q chunk_size = 4
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x4xf32>, tensor<1x2x8xf32>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

// -----

func.func @delta_product_step$element_type(%q: tensor<1x2x8xf32>, %k: tensor<1x2x2x8xf32>, %s: tensor<1x2x8x8xf16>) {
  // expected-error @+1 {{'state' has element type 'f16', but 'q' has 'f32'}}
  %o, %s1 = tptt.delta_product_step %q, %k, %k, %q, %s alpha %q chunk_size = 4
      : (tensor<1x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x2x8xf32>, tensor<1x2x8xf32>, tensor<1x2x8x8xf16>, tensor<1x2x8xf32>)
      -> (tensor<1x2x8xf32>, tensor<1x2x8x8xf32>)
  return
}

//===----------------------------------------------------------------------===//
// tptt.tril_inverse, tptt.phi
//===----------------------------------------------------------------------===//

// -----

func.func @tril_inverse$rank(%l: tensor<8xf32>) {
  // expected-error @+1 {{'input' must have rank >= 2 [..., N, N], got 'tensor<8xf32>'}}
  %t = tptt.tril_inverse %l : tensor<8xf32>
  return
}

// -----

func.func @tril_inverse$square(%l: tensor<2x8x7xf32>) {
  // expected-error @+1 {{'input' must be square in its last two dimensions, got 8x7}}
  %t = tptt.tril_inverse %l : tensor<2x8x7xf32>
  return
}

// -----

func.func @phi$rank(%h: tensor<f32>) {
  // expected-error @+1 {{'input' must have rank >= 1 (phi acts on rows)}}
  %p = tptt.phi %h : tensor<f32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.merge_heads
//===----------------------------------------------------------------------===//

// -----

func.func @merge_heads$eps(%y: tensor<1x4x5x8xf32>) {
  // expected-error @+1 {{eps must be > 0, got 0}}
  %0 = tptt.merge_heads %y {eps = 0.0 : f64} : (tensor<1x4x5x8xf32>) -> tensor<1x5x32xf32>
  return
}

// -----

func.func @merge_heads$channels(%y: tensor<1x4x5x8xf32>) {
  // expected-error @+1 {{'result' dimension 2 (H*d) is 16, but 'input' (H x d) gives H*d = 32}}
  %0 = tptt.merge_heads %y : (tensor<1x4x5x8xf32>) -> tensor<1x5x16xf32>
  return
}

// -----

func.func @merge_heads$dynamic_heads(%y: tensor<1x?x5x8xf32>) {
  // expected-error @+1 {{'input' dimension 1 (H) must be static}}
  %0 = tptt.merge_heads %y : (tensor<1x?x5x8xf32>) -> tensor<1x5x32xf32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.mag_mix
//===----------------------------------------------------------------------===//

// -----

func.func @mag_mix$types(%s: tensor<1x5x64xf32>, %l: tensor<1x5x32xf32>, %mu: tensor<f32>) {
  // expected-error @+1 {{'soft', 'lin' and the result must have the same type}}
  %0 = tptt.mag_mix %s, %l, %mu : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<f32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @mag_mix$rank(%s: tensor<5x64xf32>, %mu: tensor<f32>) {
  // expected-error @+1 {{'soft' must have rank 3 [B, S, D]}}
  %0 = tptt.mag_mix %s, %s, %mu : (tensor<5x64xf32>, tensor<5x64xf32>, tensor<f32>) -> tensor<5x64xf32>
  return
}

// -----

func.func @mag_mix$eps(%s: tensor<1x5x64xf32>, %mu: tensor<f32>) {
  // expected-error @+1 {{eps must be > 0, got -1}}
  %0 = tptt.mag_mix %s, %s, %mu base_scale_attn {eps = -1.0 : f64} : (tensor<1x5x64xf32>, tensor<1x5x64xf32>, tensor<f32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @mag_mix$mu(%s: tensor<1x5x64xf32>, %mu: tensor<1xf32>) {
  // expected-error @+1 {{operand #2 must be 0D tensor of floating-point values}}
  %0 = tptt.mag_mix %s, %s, %mu : (tensor<1x5x64xf32>, tensor<1x5x64xf32>, tensor<1xf32>) -> tensor<1x5x64xf32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.linear, tptt.rope, tptt.attention
//===----------------------------------------------------------------------===//

// -----

func.func @linear$in_features(%x: tensor<2x5x32xf32>, %w: tensor<64x16xf32>) {
  // expected-error @+1 {{'input' dimension 2 (I) is 32, but 'weight' gives I = 16}}
  %0 = tptt.linear %x, %w : (tensor<2x5x32xf32>, tensor<64x16xf32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @linear$bias(%x: tensor<2x5x32xf32>, %w: tensor<64x32xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'bias' dimension 0 (O) is 32, but 'weight' gives O = 64}}
  %0 = tptt.linear %x, %w bias %b : (tensor<2x5x32xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<2x5x64xf32>
  return
}

// -----

func.func @linear$leading(%x: tensor<2x5x32xf32>, %w: tensor<64x32xf32>) {
  // expected-error @+1 {{result dimension 1 is 6, but 'input' has 5}}
  %0 = tptt.linear %x, %w : (tensor<2x5x32xf32>, tensor<64x32xf32>) -> tensor<2x6x64xf32>
  return
}

// -----

func.func @linear$scalar(%x: tensor<f32>, %w: tensor<64x32xf32>) {
  // expected-error @+1 {{'input' must have rank >= 1}}
  %0 = tptt.linear %x, %w : (tensor<f32>, tensor<64x32xf32>) -> tensor<64xf32>
  return
}

// -----

func.func @linear$element_type(%x: tensor<2x5x32xbf16>, %w: tensor<64x32xf32>) {
  // expected-error @+1 {{'weight' has element type 'f32', but 'input' has 'bf16'}}
  %0 = tptt.linear %x, %w : (tensor<2x5x32xbf16>, tensor<64x32xf32>) -> tensor<2x5x64xbf16>
  return
}

// -----

func.func @rope$odd(%x: tensor<1x4x5x7xf32>, %c: tensor<1x5x7xf32>) {
  // expected-error @+1 {{head dimension must be even for rotate-half RoPE, got 7}}
  %0 = tptt.rope %x, %c, %c : (tensor<1x4x5x7xf32>, tensor<1x5x7xf32>, tensor<1x5x7xf32>) -> tensor<1x4x5x7xf32>
  return
}

// -----

func.func @rope$table(%x: tensor<1x4x5x8xf32>, %c: tensor<1x6x8xf32>) {
  // expected-error @+1 {{'cos' dimension 1 (S) is 6, but 'input' gives S = 5}}
  %0 = tptt.rope %x, %c, %c : (tensor<1x4x5x8xf32>, tensor<1x6x8xf32>, tensor<1x6x8xf32>) -> tensor<1x4x5x8xf32>
  return
}

// -----

func.func @attention$groups(%q: tensor<1x4x5x8xf32>, %k: tensor<1x3x5x8xf32>) {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %0 = tptt.attention %q, %k, %k : (tensor<1x4x5x8xf32>, tensor<1x3x5x8xf32>, tensor<1x3x5x8xf32>) -> tensor<1x4x5x8xf32>
  return
}

// -----

func.func @attention$window(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x5x8xf32>) {
  // expected-error @+1 {{window must be >= 1, got 0}}
  %0 = tptt.attention %q, %k, %k window = 0 : (tensor<1x4x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x4x5x8xf32>
  return
}

// -----

func.func @attention$scale(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x5x8xf32>) {
  // expected-error @+1 {{scale must be > 0, got -1}}
  %0 = tptt.attention %q, %k, %k scale = -1.0 : (tensor<1x4x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x4x5x8xf32>
  return
}

// -----

func.func @attention$mask(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x9x8xf32>, %m: tensor<1x5xi1>) {
  // expected-error @+1 {{'mask' dimension 1 (T) is 5, but 'k' gives T = 9}}
  %0 = tptt.attention %q, %k, %k mask %m : (tensor<1x4x5x8xf32>, tensor<1x2x9x8xf32>, tensor<1x2x9x8xf32>, tensor<1x5xi1>) -> tensor<1x4x5x8xf32>
  return
}

// -----

func.func @attention$dynamic_heads(%q: tensor<1x?x5x8xf32>, %k: tensor<1x2x9x8xf32>) {
  // expected-error @+1 {{'q' dimension 1 (H) must be static}}
  %0 = tptt.attention %q, %k, %k : (tensor<1x?x5x8xf32>, tensor<1x2x9x8xf32>, tensor<1x2x9x8xf32>) -> tensor<1x?x5x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.liza_attention
//===----------------------------------------------------------------------===//

// -----

func.func @liza_attention$order(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{order must be >= 1, got 0}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, order = 0 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$chunk_size(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                     %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{chunk_size must be >= 1, got 0}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, chunk_size = 0 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$window(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                 %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{window must be >= 1, got 0}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, window = 0 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$heads(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{num_heads (4) must be a multiple of num_kv_heads (3)}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 3 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$out_proj(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                   %mu: tensor<f32>, %w: tensor<64x32xf32>) {
  // expected-error @+1 {{'o_weight' dimension 1 (H*d) is 32, but num_heads x head_dim gives H*d = 64}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x32xf32>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$bias(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                               %mu: tensor<f32>, %w: tensor<48x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{'o_bias' dimension 0 (D) is 64, but 'o_weight' gives D = 48}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w, %b)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<48x64xf32>, tensor<64xf32>) -> tensor<1x5x48xf32>
  return
}

// -----

func.func @liza_attention$odd_head_dim(%q: tensor<1x5x28xf32>, %k: tensor<1x5x14xf32>, %c: tensor<1x5x7xf32>,
                                       %mu: tensor<f32>, %w: tensor<28x28xf32>) {
  // expected-error @+1 {{head dimension must be even for rotate-half RoPE, got 7}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64}
      : (tensor<1x5x28xf32>, tensor<1x5x14xf32>, tensor<1x5x14xf32>, tensor<1x5x7xf32>,
         tensor<1x5x7xf32>, tensor<f32>, tensor<28x28xf32>) -> tensor<1x5x28xf32>
  return
}

// -----

func.func @liza_attention$element_type(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                       %mu: tensor<f32>, %w: tensor<64x64xbf16>) {
  // expected-error @+1 {{'o_weight' has element type 'bf16', but 'q' has 'f32'}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xbf16>) -> tensor<1x5x64xf32>
  return
}

// -----

func.func @liza_attention$precision(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>, %c: tensor<1x5x16xf32>,
                                    %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+2 {{attribute 'linear_precision' failed to satisfy constraint: type attribute of floating-point}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, linear_precision = i32}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

//===----------------------------------------------------------------------===//
// tptt.embedding, tptt.rms_norm, tptt.rope_tables
//===----------------------------------------------------------------------===//

// -----

func.func @embedding$width(%ids: tensor<?x?xi64>, %table: tensor<96x64xf32>) {
  // expected-error @+1 {{'result' dimension 2 (D) is 32, but 'table' gives D = 64}}
  %0 = tptt.embedding %ids, %table : (tensor<?x?xi64>, tensor<96x64xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @rms_norm$weight(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'weight' dimension 0 (D) is 32, but 'input' gives D = 64}}
  %0 = tptt.rms_norm %x, %w : (tensor<?x?x64xf32>, tensor<32xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @rms_norm$eps(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be > 0, got 0}}
  %0 = tptt.rms_norm %x, %w {eps = 0.0 : f64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return
}

// -----

func.func @rope_tables$frequencies(%p: tensor<?x?xi64>) {
  // expected-error @+1 {{needs d/2 inverse frequencies for an even head dimension d = 4, got 3}}
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.5, 0.25>} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

func.func @rope_tables$scaling(%p: tensor<?x?xi64>) {
  // expected-error @+1 {{needs a finite, positive attention_scaling, got 0}}
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.5>, attention_scaling = 0.0 : f64} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

func.func @soft_cap$cap(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{needs a finite, positive cap, got 0}}
  %0 = tptt.soft_cap %x cap = 0.0 : tensor<?x?x8xf32>
  return
}

// -----

func.func @soft_cap_grad$cap(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{needs a finite, positive cap, got -1}}
  %0 = tptt.soft_cap_grad %x, %x cap = -1.0 : tensor<?x?x8xf32>
  return
}

// -----

func.func @rope_tables$long_alone(%p: tensor<?x?xi64>) {
  // expected-error @+1 {{needs long_inv_freq and long_after together}}
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.5>, long_inv_freq = array<f64: 0.5, 0.25>} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

func.func @rope_tables$long_count(%p: tensor<?x?xi64>) {
  // expected-error @+1 {{needs as many long_inv_freq as inv_freq (2), got 1}}
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.5>, long_inv_freq = array<f64: 0.5>, long_after = 8 : i64} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

func.func @rope_tables$long_after(%p: tensor<?x?xi64>) {
  // expected-error @+1 {{long_after must be >= 1, got 0}}
  %c, %s = tptt.rope_tables %p {inv_freq = array<f64: 1.0, 0.5>, long_inv_freq = array<f64: 0.5, 0.25>, long_after = 0 : i64} : (tensor<?x?xi64>) -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
  return
}

// -----

func.func @delta_product_grad$semantics(%e: tensor<?x4x?x1x4xf32>, %do: tensor<?x4x?x4xf32>, %m: tensor<?x?xi1>) {
  // expected-error @+1 {{'mask' is not allowed with tptt-0.12 semantics}}
  %0:4 = tptt.delta_product_grad %e, %e, %e, %e mask %m, %do semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x?xi1>, tensor<?x4x?x4xf32>) -> (tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>)
  return
}

// -----

func.func @delta_product_grad$expanded(%q: tensor<?x4x?x4xf32>, %e: tensor<?x4x?x1x4xf32>) {
  // expected-error @+1 {{'q' must have rank 5 [B, H, S, n, d], got 'tensor<?x4x?x4xf32>'}}
  %0:4 = tptt.delta_product_grad %q, %e, %e, %q, %q semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x4x?x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> (tensor<?x4x?x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x4xf32>)
  return
}

// -----

func.func @delta_product_grad$dalpha(%q: tensor<?x4x?x4xf32>, %e: tensor<?x4x?x1x4xf32>) {
  // expected-error @+1 {{has a 'dalpha' result exactly when it has 'alpha'}}
  %0:5 = tptt.delta_product_grad %q, %e, %e, %q, %q semantics = recurrent chunk_size = 4 : (tensor<?x4x?x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>) -> (tensor<?x4x?x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x1x4xf32>, tensor<?x4x?x4xf32>, tensor<?x4x?x4xf32>)
  return
}

// -----

func.func @linear_weight_grad$shape(%x: tensor<?x?x16xf32>, %dy: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'dweight' dimension 0 (I) is 8, but 'input' gives I = 16}}
  %0 = tptt.linear_weight_grad %x, %dy transposed_weight : (tensor<?x?x16xf32>, tensor<?x?x8xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @adamw$hyper(%p: tensor<4xf32>, %h: tensor<5xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'hyper' must be tensor<7x...> (lr, beta1, beta2, eps, weight_decay, c1, c2)}}
  %0:3 = tptt.adamw %p, %p, %p, %p, %h, %s : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<5xf32>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @mag_mix_grad$types(%x: tensor<?x?x16xf32>, %y: tensor<?x?x8xf32>, %s: tensor<f32>) {
  // expected-error @+1 {{'lin' has type 'tensor<?x?x8xf32>', which does not match 'soft' 'tensor<?x?x16xf32>'}}
  %0:2 = tptt.mag_mix_grad %x, %y, %s, %x : (tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<f32>, tensor<?x?x16xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>)
  return
}

// -----

func.func @dropout$seed(%x: tensor<?x8xf32>, %seed: tensor<f32>, %rate: tensor<f32>) {
  // expected-error @+1 {{'tptt.dropout' op operand #1 must be 0D tensor of 64-bit signless integer values, but got 'tensor<f32>'}}
  %0 = tptt.dropout %x, %seed, %rate {stream = 0 : i64} : tensor<?x8xf32>, tensor<f32>, tensor<f32>
  return
}

// -----

func.func @liza_attention$storage_precision_012(%q: tensor<1x5x64xf32>, %k: tensor<1x5x32xf32>,
    %c: tensor<1x5x16xf32>, %mu: tensor<f32>, %w: tensor<64x64xf32>) {
  // expected-error @+1 {{rounds its linear branch to linear_precision 'bf16' under the recurrent semantics only}}
  %0 = tptt.liza_attention %q, %k, %k rope(%c, %c) mu(%mu) out_proj(%w)
      {num_heads = 4 : i64, num_kv_heads = 2 : i64, linear_precision = bf16,
       semantics = #tptt<semantics "tptt-0.12">}
      : (tensor<1x5x64xf32>, tensor<1x5x32xf32>, tensor<1x5x32xf32>, tensor<1x5x16xf32>,
         tensor<1x5x16xf32>, tensor<f32>, tensor<64x64xf32>) -> tensor<1x5x64xf32>
  return
}

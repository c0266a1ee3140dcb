// The backbone's backward ops against central finite differences (f64).
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_rms --backward bwd_rms --inputs x=2x3x8,w=8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_rms_offset --backward bwd_rms_offset --inputs x=2x3x8,w=8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_swiglu --backward bwd_swiglu --inputs g=2x3x8,u=2x3x8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_geglu --backward bwd_geglu --inputs g=2x3x8,u=2x3x8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_soft_cap --backward bwd_soft_cap --inputs x=2x3x8
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_linear_t --backward bwd_linear_t --inputs x=2x3x4,w=4x5,b=5
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_linear --backward bwd_linear --inputs x=2x3x4,w=5x4
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_embedding --backward bwd_embedding --inputs ids=2x5:ids:7,table=7x4
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_embedding_scaled --backward bwd_embedding_scaled --inputs ids=2x5:ids:7,table=7x4
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_ce --backward bwd_ce --inputs logits=2x4x7,labels=2x4:labels:7
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_attn --backward bwd_attn --inputs q=2x4x3x8,k=2x2x5x8,v=2x2x5x8,mask=2x5:mask --wrt q,k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_attn_window --backward bwd_attn_window --inputs q=1x2x6x4,k=1x1x6x4,v=1x1x6x4
// Several blocks of 64 query rows (a ragged last one; queries the last 67 of
// 70 positions; a window that moves the keys' start):
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_attn --backward bwd_attn --inputs q=2x4x67x8,k=2x2x70x8,v=2x2x70x8,mask=2x70:mask --wrt q,k,v
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_attn_window --backward bwd_attn_window --inputs q=1x2x70x4,k=1x1x70x4,v=1x1x70x4

func.func @fwd_rms(%x: tensor<?x?x8xf64>, %w: tensor<8xf64>) -> tensor<?x?x8xf64> {
  %y = tptt.rms_norm %x, %w {eps = 1.0e-05 : f64} : (tensor<?x?x8xf64>, tensor<8xf64>) -> tensor<?x?x8xf64>
  return %y : tensor<?x?x8xf64>
}
func.func @bwd_rms(%x: tensor<?x?x8xf64>, %w: tensor<8xf64>, %dy: tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<8xf64>) {
  %dx, %dw = tptt.rms_norm_grad %x, %w, %dy {eps = 1.0e-05 : f64} : (tensor<?x?x8xf64>, tensor<8xf64>, tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<8xf64>)
  return %dx, %dw : tensor<?x?x8xf64>, tensor<8xf64>
}

// Gemma's norm: (1 + w).
func.func @fwd_rms_offset(%x: tensor<?x?x8xf64>, %w: tensor<8xf64>) -> tensor<?x?x8xf64> {
  %y = tptt.rms_norm %x, %w {eps = 1.0e-05 : f64, weight_offset = 1.0 : f64} : (tensor<?x?x8xf64>, tensor<8xf64>) -> tensor<?x?x8xf64>
  return %y : tensor<?x?x8xf64>
}
func.func @bwd_rms_offset(%x: tensor<?x?x8xf64>, %w: tensor<8xf64>, %dy: tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<8xf64>) {
  %dx, %dw = tptt.rms_norm_grad %x, %w, %dy {eps = 1.0e-05 : f64, weight_offset = 1.0 : f64} : (tensor<?x?x8xf64>, tensor<8xf64>, tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<8xf64>)
  return %dx, %dw : tensor<?x?x8xf64>, tensor<8xf64>
}

func.func @fwd_soft_cap(%x: tensor<?x?x8xf64>) -> tensor<?x?x8xf64> {
  %y = tptt.soft_cap %x cap = 0.75 : tensor<?x?x8xf64>
  return %y : tensor<?x?x8xf64>
}
func.func @bwd_soft_cap(%x: tensor<?x?x8xf64>, %dy: tensor<?x?x8xf64>) -> tensor<?x?x8xf64> {
  %dx = tptt.soft_cap_grad %x, %dy cap = 0.75 : tensor<?x?x8xf64>
  return %dx : tensor<?x?x8xf64>
}

func.func @fwd_geglu(%g: tensor<?x?x8xf64>, %u: tensor<?x?x8xf64>) -> tensor<?x?x8xf64> {
  %y = tptt.glu %g, %u activation = gelu_tanh : tensor<?x?x8xf64>
  return %y : tensor<?x?x8xf64>
}
func.func @bwd_geglu(%g: tensor<?x?x8xf64>, %u: tensor<?x?x8xf64>, %dy: tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dg, %du = tptt.glu_grad %g, %u, %dy activation = gelu_tanh : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dg, %du : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_swiglu(%g: tensor<?x?x8xf64>, %u: tensor<?x?x8xf64>) -> tensor<?x?x8xf64> {
  %y = tptt.glu %g, %u : tensor<?x?x8xf64>
  return %y : tensor<?x?x8xf64>
}
func.func @bwd_swiglu(%g: tensor<?x?x8xf64>, %u: tensor<?x?x8xf64>, %dy: tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>) {
  %dg, %du = tptt.glu_grad %g, %u, %dy : (tensor<?x?x8xf64>, tensor<?x?x8xf64>, tensor<?x?x8xf64>) -> (tensor<?x?x8xf64>, tensor<?x?x8xf64>)
  return %dg, %du : tensor<?x?x8xf64>, tensor<?x?x8xf64>
}

func.func @fwd_linear_t(%x: tensor<?x?x4xf64>, %w: tensor<4x5xf64>, %b: tensor<5xf64>) -> tensor<?x?x5xf64> {
  %y = tptt.linear %x, %w bias %b transposed_weight {scale = 2.0 : f64} : (tensor<?x?x4xf64>, tensor<4x5xf64>, tensor<5xf64>) -> tensor<?x?x5xf64>
  return %y : tensor<?x?x5xf64>
}
func.func @bwd_linear_t(%x: tensor<?x?x4xf64>, %w: tensor<4x5xf64>, %b: tensor<5xf64>, %dy: tensor<?x?x5xf64>) -> (tensor<?x?x4xf64>, tensor<4x5xf64>, tensor<5xf64>) {
  %dx = tptt.linear %dy, %w {scale = 2.0 : f64} : (tensor<?x?x5xf64>, tensor<4x5xf64>) -> tensor<?x?x4xf64>
  %dw = tptt.linear_weight_grad %x, %dy transposed_weight {scale = 2.0 : f64} : (tensor<?x?x4xf64>, tensor<?x?x5xf64>) -> tensor<4x5xf64>
  %db = tptt.sum_to_last %dy : (tensor<?x?x5xf64>) -> tensor<5xf64>
  return %dx, %dw, %db : tensor<?x?x4xf64>, tensor<4x5xf64>, tensor<5xf64>
}

func.func @fwd_linear(%x: tensor<?x?x4xf64>, %w: tensor<5x4xf64>) -> tensor<?x?x5xf64> {
  %y = tptt.linear %x, %w : (tensor<?x?x4xf64>, tensor<5x4xf64>) -> tensor<?x?x5xf64>
  return %y : tensor<?x?x5xf64>
}
func.func @bwd_linear(%x: tensor<?x?x4xf64>, %w: tensor<5x4xf64>, %dy: tensor<?x?x5xf64>) -> (tensor<?x?x4xf64>, tensor<5x4xf64>) {
  %dx = tptt.linear %dy, %w transposed_weight : (tensor<?x?x5xf64>, tensor<5x4xf64>) -> tensor<?x?x4xf64>
  %dw = tptt.linear_weight_grad %x, %dy : (tensor<?x?x4xf64>, tensor<?x?x5xf64>) -> tensor<5x4xf64>
  return %dx, %dw : tensor<?x?x4xf64>, tensor<5x4xf64>
}

func.func @fwd_embedding(%ids: tensor<?x?xi64>, %t: tensor<7x4xf64>) -> tensor<?x?x4xf64> {
  %y = tptt.embedding %ids, %t : (tensor<?x?xi64>, tensor<7x4xf64>) -> tensor<?x?x4xf64>
  return %y : tensor<?x?x4xf64>
}
func.func @bwd_embedding(%ids: tensor<?x?xi64>, %t: tensor<7x4xf64>, %dy: tensor<?x?x4xf64>) -> tensor<7x4xf64> {
  %dt = tptt.embedding_grad %ids, %dy : (tensor<?x?xi64>, tensor<?x?x4xf64>) -> tensor<7x4xf64>
  return %dt : tensor<7x4xf64>
}

// Gemma's √hidden scale.
func.func @fwd_embedding_scaled(%ids: tensor<?x?xi64>, %t: tensor<7x4xf64>) -> tensor<?x?x4xf64> {
  %y = tptt.embedding %ids, %t {scale = 2.0 : f64} : (tensor<?x?xi64>, tensor<7x4xf64>) -> tensor<?x?x4xf64>
  return %y : tensor<?x?x4xf64>
}
func.func @bwd_embedding_scaled(%ids: tensor<?x?xi64>, %t: tensor<7x4xf64>, %dy: tensor<?x?x4xf64>) -> tensor<7x4xf64> {
  %dt = tptt.embedding_grad %ids, %dy {scale = 2.0 : f64} : (tensor<?x?xi64>, tensor<?x?x4xf64>) -> tensor<7x4xf64>
  return %dt : tensor<7x4xf64>
}

func.func @fwd_ce(%l: tensor<?x?x7xf64>, %labels: tensor<?x?xi64>) -> tensor<f64> {
  %loss = tptt.cross_entropy %l, %labels : (tensor<?x?x7xf64>, tensor<?x?xi64>) -> tensor<f64>
  return %loss : tensor<f64>
}
func.func @bwd_ce(%l: tensor<?x?x7xf64>, %labels: tensor<?x?xi64>, %d: tensor<f64>) -> tensor<?x?x7xf64> {
  %dl = tptt.cross_entropy_grad %l, %labels, %d : (tensor<?x?x7xf64>, tensor<?x?xi64>, tensor<f64>) -> tensor<?x?x7xf64>
  return %dl : tensor<?x?x7xf64>
}

func.func @fwd_attn(%q: tensor<?x4x?x8xf64>, %k: tensor<?x2x?x8xf64>, %v: tensor<?x2x?x8xf64>, %m: tensor<?x?xi1>) -> tensor<?x4x?x8xf64> {
  %o = tptt.attention %q, %k, %v mask %m : (tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x?xi1>) -> tensor<?x4x?x8xf64>
  return %o : tensor<?x4x?x8xf64>
}
func.func @bwd_attn(%q: tensor<?x4x?x8xf64>, %k: tensor<?x2x?x8xf64>, %v: tensor<?x2x?x8xf64>, %m: tensor<?x?xi1>, %do: tensor<?x4x?x8xf64>) -> (tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>) {
  %o = tptt.attention %q, %k, %v mask %m : (tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x?xi1>) -> tensor<?x4x?x8xf64>
  %dq, %dk, %dv = tptt.attention_grad %q, %k, %v, %o, %do mask %m : (tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x4x?x8xf64>, tensor<?x4x?x8xf64>, tensor<?x?xi1>) -> (tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>)
  return %dq, %dk, %dv : tensor<?x4x?x8xf64>, tensor<?x2x?x8xf64>, tensor<?x2x?x8xf64>
}

func.func @fwd_attn_window(%q: tensor<?x2x?x4xf64>, %k: tensor<?x1x?x4xf64>, %v: tensor<?x1x?x4xf64>) -> tensor<?x2x?x4xf64> {
  %o = tptt.attention %q, %k, %v window = 3 scale = 0.7 : (tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>) -> tensor<?x2x?x4xf64>
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_attn_window(%q: tensor<?x2x?x4xf64>, %k: tensor<?x1x?x4xf64>, %v: tensor<?x1x?x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>) {
  %o = tptt.attention %q, %k, %v window = 3 scale = 0.7 : (tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>) -> tensor<?x2x?x4xf64>
  %dq, %dk, %dv = tptt.attention_grad %q, %k, %v, %o, %do window = 3 scale = 0.7 : (tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>)
  return %dq, %dk, %dv : tensor<?x2x?x4xf64>, tensor<?x1x?x4xf64>, tensor<?x1x?x4xf64>
}

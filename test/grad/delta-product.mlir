// The DeltaProduct operator's backward (recurrent semantics) against central
// finite differences (f64): orders 1-3, with and without the decay α, padding
// masks, the nonlinear mode (φ at full chunks, a ragged last chunk), reverse,
// and chunk sizes that do not divide the sequence.
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n1 --backward bwd_n1 --inputs q=2x2x5x4,k=2x2x5x1x4,v=2x2x5x1x4,beta=2x2x5x4:positive --wrt q,k,v,beta
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n2_alpha --backward bwd_n2_alpha --inputs q=2x2x5x4,k=2x2x5x2x4,v=2x2x5x2x4,beta=2x2x5x4:positive,alpha=2x2x5x4:positive --wrt q,k,v,beta,alpha
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n3_alpha --backward bwd_n3_alpha --inputs q=2x2x5x4,k=2x2x5x3x4,v=2x2x5x3x4,beta=2x2x5x4:positive,alpha=2x2x5x4:positive --wrt q,k,v,beta,alpha
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n2_mask --backward bwd_n2_mask --inputs q=2x2x5x4,k=2x2x5x2x4,v=2x2x5x2x4,beta=2x2x5x4:positive,alpha=2x2x5x4:positive,m=2x5:mask --wrt q,k,v,beta,alpha
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n1_nonlinear --backward bwd_n1_nonlinear --inputs q=2x2x5x4,k=2x2x5x1x4,v=2x2x5x1x4,beta=2x2x5x4:positive --wrt q,k,v,beta
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n2_nonlinear_mask --backward bwd_n2_nonlinear_mask --inputs q=2x2x5x4,k=2x2x5x2x4,v=2x2x5x2x4,beta=2x2x5x4:positive,alpha=2x2x5x4:positive,m=2x5:mask --wrt q,k,v,beta,alpha
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n2_reverse --backward bwd_n2_reverse --inputs q=2x2x5x4,k=2x2x5x2x4,v=2x2x5x2x4,beta=2x2x5x4:positive,m=2x5:mask --wrt q,k,v,beta

func.func @fwd_n1(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta semantics = recurrent chunk_size = 2 : (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n1(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>) {
  %g:4 = tptt.delta_product_grad %q, %k, %v, %beta, %do semantics = recurrent chunk_size = 2 : (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n2_alpha(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha semantics = recurrent chunk_size = 3 : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n2_alpha(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha, %do semantics = recurrent chunk_size = 3 : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n3_alpha(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x3x4xf64>, %v: tensor<?x2x?x3x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha semantics = recurrent chunk_size = 64 : (tensor<?x2x?x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n3_alpha(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x3x4xf64>, %v: tensor<?x2x?x3x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha, %do semantics = recurrent chunk_size = 64 : (tensor<?x2x?x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n2_mask(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha mask %m semantics = recurrent chunk_size = 2 : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n2_mask(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha mask %m, %do semantics = recurrent chunk_size = 2 : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n1_nonlinear(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta semantics = recurrent chunk_size = 2 nonlinear : (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n1_nonlinear(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>) {
  %g:4 = tptt.delta_product_grad %q, %k, %v, %beta, %do semantics = recurrent chunk_size = 2 nonlinear : (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n2_nonlinear_mask(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha mask %m semantics = recurrent chunk_size = 2 nonlinear : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n2_nonlinear_mask(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %alpha: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha mask %m, %do semantics = recurrent chunk_size = 2 nonlinear : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x2x?x4xf64>
}

func.func @fwd_n2_reverse(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta mask %m semantics = recurrent chunk_size = 3 reverse : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n2_reverse(%q: tensor<?x2x?x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x4xf64>, %m: tensor<?x?xi1>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>) {
  %g:4 = tptt.delta_product_grad %q, %k, %v, %beta mask %m, %do semantics = recurrent chunk_size = 3 reverse : (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>, tensor<?x?xi1>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>
}

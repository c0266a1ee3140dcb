// The DeltaProduct operator's backward under the tptt-0.12 semantics against
// central finite differences (f64): the reference's chunks (C the largest
// divisor of S not above chunk_size: 3, 1 for a prime S, 3), orders 1-3, with
// and without the decay α, the nonlinear mode (φ after every chunk) with
// reverse; every operand expanded to n virtual tokens, the state starting from
// the 1e-6 fill.
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n1 --backward bwd_n1 --inputs q=2x2x6x1x4,k=2x2x6x1x4,v=2x2x6x1x4,beta=2x2x6x1x4:positive --wrt q,k,v,beta
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n3_alpha_prime --backward bwd_n3_alpha_prime --inputs q=2x2x5x3x4,k=2x2x5x3x4,v=2x2x5x3x4,beta=2x2x5x3x4:positive,alpha=2x2x5x3x4:positive --wrt q,k,v,beta,alpha
// RUN: %python %S/gradcheck.py --tptt-run tptt-run %s --forward fwd_n2_nonlinear_reverse --backward bwd_n2_nonlinear_reverse --inputs q=2x2x6x2x4,k=2x2x6x2x4,v=2x2x6x2x4,beta=2x2x6x2x4:positive,alpha=2x2x6x2x4:positive --wrt q,k,v,beta,alpha

func.func @fwd_n1(%q: tensor<?x2x?x1x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x1x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n1(%q: tensor<?x2x?x1x4xf64>, %k: tensor<?x2x?x1x4xf64>, %v: tensor<?x2x?x1x4xf64>, %beta: tensor<?x2x?x1x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>) {
  %g:4 = tptt.delta_product_grad %q, %k, %v, %beta, %do semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>, tensor<?x2x?x1x4xf64>
}

func.func @fwd_n3_alpha_prime(%q: tensor<?x2x?x3x4xf64>, %k: tensor<?x2x?x3x4xf64>, %v: tensor<?x2x?x3x4xf64>, %beta: tensor<?x2x?x3x4xf64>, %alpha: tensor<?x2x?x3x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n3_alpha_prime(%q: tensor<?x2x?x3x4xf64>, %k: tensor<?x2x?x3x4xf64>, %v: tensor<?x2x?x3x4xf64>, %beta: tensor<?x2x?x3x4xf64>, %alpha: tensor<?x2x?x3x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha, %do semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>, tensor<?x2x?x3x4xf64>
}

func.func @fwd_n2_nonlinear_reverse(%q: tensor<?x2x?x2x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x2x4xf64>, %alpha: tensor<?x2x?x2x4xf64>) -> tensor<?x2x?x4xf64> {
  %o, %s = tptt.delta_product %q, %k, %v, %beta alpha %alpha semantics = "tptt-0.12" chunk_size = 3 nonlinear reverse : (tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>) -> (tensor<?x2x?x4xf64>, tensor<?x2x4x4xf64>)
  return %o : tensor<?x2x?x4xf64>
}
func.func @bwd_n2_nonlinear_reverse(%q: tensor<?x2x?x2x4xf64>, %k: tensor<?x2x?x2x4xf64>, %v: tensor<?x2x?x2x4xf64>, %beta: tensor<?x2x?x2x4xf64>, %alpha: tensor<?x2x?x2x4xf64>, %do: tensor<?x2x?x4xf64>) -> (tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha, %do semantics = "tptt-0.12" chunk_size = 3 nonlinear reverse : (tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x4xf64>) -> (tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>, tensor<?x2x?x2x4xf64>
}


// RUN: tptt-opt %s -split-input-file -convert-tptt-to-linalg -canonicalize -cse | FileCheck %s

// The recurrent operator's backward with gradient checkpointing per chunk:
// a forward sweep keeps the state at each chunk start ([NC, B, H, d, d]),
// then the chunks are walked last to first with the state cotangent dS, each
// chunk's per-virtual-token states recomputed from its start state (chunk ·
// order + 1 of them) and its tokens walked in reverse.
// CHECK-LABEL: func @recurrent
// CHECK-NOT:     tptt.
// CHECK:         %[[SWEEP:.+]]:2 = scf.for %[[C:.+]] = %c0 to %[[NC:.+]] step %c1 iter_args(%{{.+}} = %{{.+}}, %[[STARTS:.+]] = %{{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x?x?x4x4xf32>)
// CHECK:           tensor.insert_slice %{{.+}} into %[[STARTS]][%[[C]], 0, 0, 0, 0]
// CHECK:           scf.for %{{.+}} = %c0 to %c2 step %c1 iter_args(%{{.+}}) -> (tensor<?x?x4x4xf32>)
// CHECK:         scf.for %[[R:.+]] = %c0 to %[[NC]] step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>)
// CHECK:           %[[FROM_END:.+]] = arith.subi %[[NC]], %[[R]]
// CHECK:           %[[CHUNK:.+]] = arith.subi %[[FROM_END]], %c1
// CHECK:           tensor.empty(%{{.+}}) : tensor<3x?x2x4x4xf32>
// CHECK:           tensor.extract_slice %[[SWEEP]]#1[%[[CHUNK]], 0, 0, 0, 0]
// CHECK:           scf.for %{{.+}} = %c0 to %c2 step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<3x?x?x4x4xf32>)
// CHECK:           scf.for %[[T:.+]] = %c0 to %c2 step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>)
// CHECK:             arith.subi %c1, %[[T]]
// CHECK-NOT:     tptt.
// CHECK:         return
func.func @recurrent(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x1x4xf32>, %v: tensor<?x2x?x1x4xf32>, %beta: tensor<?x2x?x4xf32>, %do: tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>) {
  %g:4 = tptt.delta_product_grad %q, %k, %v, %beta, %do semantics = recurrent chunk_size = 2 : (tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// Gated, order 2, nonlinear, padded: the mask packs each sequence's real
// tokens first (index tables built by a loop over the mask), the sweep
// applies φ (the normalized tanh-GELU) at full chunk ends, the recompute
// keeps 4 · 2 + 1 states, and dS goes back through φ (a select on the
// chunk being full) before the reverse walk, which also returns dα.
// CHECK-LABEL: func @gated
// CHECK-NOT:     tptt.
// CHECK:         scf.for {{.+}} -> (tensor<?x?xindex>, tensor<?x?xindex>, tensor<?xindex>)
// CHECK:           tensor.extract %{{.+}} : tensor<?x?xi1>
// CHECK:         %[[SWEEP:.+]]:2 = scf.for %{{.+}} = %c0 to %[[NC:.+]] step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x?x?x4x4xf32>)
// CHECK:           scf.for %{{.+}} = %c0 to %c4 step %c1 iter_args(%{{.+}}) -> (tensor<?x?x4x4xf32>)
// CHECK:           math.sqrt
// CHECK:           math.tanh
// CHECK:         scf.for %{{.+}} = %c0 to %[[NC]] step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
// CHECK:           tensor.empty(%{{.+}}) : tensor<9x?x2x4x4xf32>
// CHECK:           tensor.extract_slice %[[SWEEP]]#1
// CHECK:           scf.for %{{.+}} = %c0 to %c4 step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<9x?x?x4x4xf32>)
// CHECK:           arith.select
// CHECK:           scf.for %[[T:.+]] = %c0 to %c4 step %c1 iter_args({{.+}}) -> (tensor<?x?x4x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
// CHECK:             arith.subi %c3, %[[T]]
// CHECK-NOT:     tptt.
// CHECK:         return
func.func @gated(%q: tensor<?x2x?x4xf32>, %k: tensor<?x2x?x2x4xf32>, %v: tensor<?x2x?x2x4xf32>, %beta: tensor<?x2x?x4xf32>, %alpha: tensor<?x2x?x4xf32>, %m: tensor<?x?xi1>, %do: tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %g:5 = tptt.delta_product_grad %q, %k, %v, %beta alpha %alpha mask %m, %do semantics = recurrent chunk_size = 4 nonlinear : (tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x?xi1>, tensor<?x2x?x4xf32>) -> (tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  return %g#0, %g#1, %g#2, %g#3, %g#4 : tensor<?x2x?x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// The tptt-0.12 operator's backward: per (batch, head) in parallel, a sweep
// over the reference's chunks keeps the state entering each, then the
// chunks are walked last to first, each recomputed from its incoming state
// (the in-chunk triangular solve is a loop over its rows).
// CHECK-LABEL: func @reference
// CHECK-NOT:     tptt.
// CHECK:         scf.forall (%{{.+}}, %{{.+}}) in (%{{.+}}, 2) shared_outs({{.+}}) -> (tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>)
// CHECK:           scf.for {{.+}} -> (tensor<1x1x4x4xf32>, tensor<?x1x1x4x4xf32>)
// CHECK:             scf.for {{.+}} -> (tensor<1x1x?x?xf32>)
// CHECK:           scf.for {{.+}} -> (tensor<1x1x4x4xf32>, tensor<1x1x?x1x4xf32>, tensor<1x1x?x1x4xf32>, tensor<1x1x?x1x4xf32>, tensor<1x1x?x1x4xf32>)
// CHECK:             scf.for {{.+}} -> (tensor<1x1x?x?xf32>)
// CHECK-NOT:     tptt.
// CHECK:         return
func.func @reference(%e: tensor<?x2x?x1x4xf32>, %do: tensor<?x2x?x4xf32>) -> (tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>) {
  %g:4 = tptt.delta_product_grad %e, %e, %e, %e, %do semantics = "tptt-0.12" chunk_size = 4 : (tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x4xf32>) -> (tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>)
  return %g#0, %g#1, %g#2, %g#3 : tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>, tensor<?x2x?x1x4xf32>
}

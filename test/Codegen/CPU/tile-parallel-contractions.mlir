// RUN: tptt-opt %s -split-input-file -tptt-tile-parallel-contractions -canonicalize | FileCheck %s

// A projection "bsi,io->bso": rows (b, s) become an scf.forall, the output
// features stay the innermost whole loop, the reduction stays inside.
// CHECK-LABEL: func @projection
// CHECK:         scf.forall (%[[B:.+]], %[[S:.+]]) in (%{{.+}}, %{{.+}}) shared_outs(%[[OUT:.+]] = %{{.+}}) -> (tensor<?x?x24xf32>)
// CHECK:           %[[ROW:.+]] = tensor.extract_slice %{{.+}}[%[[B]], %[[S]], 0] [1, 1, 32] [1, 1, 1]
// CHECK:           linalg.generic {{.+}} iterator_types = ["parallel", "parallel", "reduction", "parallel"]{{.+}} ins(%[[ROW]], %{{.+}} : tensor<1x1x32xf32>, tensor<32x24xf32>)
// CHECK:           scf.forall.in_parallel
#x = affine_map<(b, s, i, o) -> (b, s, i)>
#w = affine_map<(b, s, i, o) -> (i, o)>
#y = affine_map<(b, s, i, o) -> (b, s, o)>
func.func @projection(%x: tensor<?x?x32xf32>, %w: tensor<32x24xf32>, %init: tensor<?x?x24xf32>)
    -> tensor<?x?x24xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y],
                       iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<?x?x32xf32>, tensor<32x24xf32>) outs(%init : tensor<?x?x24xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<?x?x24xf32>
  return %y : tensor<?x?x24xf32>
}

// -----

// Elementwise ops (memory-bound) and ops already inside a parallel loop are
// left alone.
// CHECK-LABEL: func @left_alone
// CHECK:         scf.forall (%{{.+}}) in (4)
// CHECK-NOT:       scf.forall (
// CHECK:         linalg.generic {{.+}}iterator_types = ["parallel", "parallel"]
#id = affine_map<(i, j) -> (i, j)>
#row = affine_map<(i, j) -> (i)>
func.func @left_alone(%x: tensor<4x8xf32>, %acc: tensor<4xf32>) -> (tensor<4xf32>, tensor<4x8xf32>) {
  %r = scf.forall (%i) in (4) shared_outs(%o = %acc) -> (tensor<4xf32>) {
    %row = tensor.extract_slice %x[%i, 0] [1, 8] [1, 1] : tensor<4x8xf32> to tensor<1x8xf32>
    %dst = tensor.extract_slice %o[%i] [1] [1] : tensor<4xf32> to tensor<1xf32>
    %sum = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
        ins(%row : tensor<1x8xf32>) outs(%dst : tensor<1xf32>) {
    ^bb0(%a: f32, %c: f32):
      %s = arith.addf %a, %c : f32
      linalg.yield %s : f32
    } -> tensor<1xf32>
    scf.forall.in_parallel {
      tensor.parallel_insert_slice %sum into %o[%i] [1] [1] : tensor<1xf32> into tensor<4xf32>
    }
  }
  %e = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<4x8xf32>) outs(%x : tensor<4x8xf32>) {
  ^bb0(%a: f32, %c: f32):
    %d = arith.addf %a, %a : f32
    linalg.yield %d : f32
  } -> tensor<4x8xf32>
  return %r, %e : tensor<4xf32>, tensor<4x8xf32>
}

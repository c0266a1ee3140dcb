// RUN: tptt-opt %s -split-input-file -tptt-vectorize-contractions -canonicalize -cse | FileCheck %s
// RUN: not tptt-opt %s -split-input-file -tptt-vectorize-contractions=columns=12 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: error: tptt-vectorize-contractions: columns must be a positive multiple of 8, rows and depth positive

// A chunk product "md,de->me" (16x64 by 64x64): blocks of 4 x 16 outputs,
// each one vector.contract over the whole depth, read and written in place.
// CHECK-LABEL: func @chunk_product
// CHECK-SAME:    (%[[A:.+]]: tensor<16x64xf32>, %[[S:.+]]: tensor<64x64xf32>, %[[INIT:.+]]: tensor<16x64xf32>)
// CHECK:         scf.for %[[I:.+]] = %c0 to %c16 step %c4 iter_args(%[[OUT:.+]] = %[[INIT]])
// CHECK:           scf.for %[[J:.+]] = %c0 to %c64 step %c16 iter_args(%[[BLOCK:.+]] = %[[OUT]])
// CHECK-DAG:         %[[LHS:.+]] = vector.transfer_read %[[A]][%[[I]], %c0]{{.*}} : tensor<16x64xf32>, vector<4x64xf32>
// CHECK-DAG:         %[[RHS:.+]] = vector.transfer_read %[[S]][%c0, %[[J]]]{{.*}} : tensor<64x64xf32>, vector<64x16xf32>
// CHECK-DAG:         %[[ACC:.+]] = vector.transfer_read %[[BLOCK]][%[[I]], %[[J]]]{{.*}} : tensor<16x64xf32>, vector<4x16xf32>
// CHECK:             %[[SUM:.+]] = vector.contract {{.+}} %[[LHS]], %[[RHS]], %[[ACC]] : vector<4x64xf32>, vector<64x16xf32> into vector<4x16xf32>
// CHECK:             vector.transfer_write %[[SUM]], %[[BLOCK]][%[[I]], %[[J]]]
// CHECK-NOT:     linalg.generic
#lhs = affine_map<(m, d, e) -> (m, d)>
#rhs = affine_map<(m, d, e) -> (d, e)>
#out = affine_map<(m, d, e) -> (m, e)>
func.func @chunk_product(%a: tensor<16x64xf32>, %s: tensor<64x64xf32>, %init: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %s : tensor<16x64xf32>, tensor<64x64xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %sum = arith.addf %acc, %p : f32
    linalg.yield %sum : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// One row against a small matrix (unit batch and sequence loops, depth 128):
// the unit loops are dropped, the depth is cut into steps of 64 in the
// innermost loop, and the accumulator of a block is carried through it in a
// vector register.
// CHECK-LABEL: func @small_row
// CHECK:         scf.for %[[J:.+]] = %c0 to %c32 step %c16 iter_args(%[[OUT:.+]] = %{{.+}})
// CHECK:           %[[ACC0:.+]] = vector.transfer_read {{.+}} : tensor<16xf32>, vector<16xf32>
// CHECK:           %[[ACC:.+]] = scf.for %[[K:.+]] = %c0 to %c128 step %c64 iter_args(%[[CARRY:.+]] = %[[ACC0]]) -> (vector<16xf32>)
// CHECK-DAG:         %[[X:.+]] = vector.transfer_read %{{.+}}[%c0, %c0, %[[K]]]{{.*}} : tensor<1x1x128xf32>, vector<64xf32>
// CHECK-DAG:         %[[W:.+]] = vector.transfer_read %{{.+}}[%[[K]], %[[J]]]{{.*}} : tensor<128x32xf32>, vector<64x16xf32>
// CHECK:             %[[SUM:.+]] = vector.contract {{.+}} %[[X]], %[[W]], %[[CARRY]] : vector<64xf32>, vector<64x16xf32> into vector<16xf32>
// CHECK:             scf.yield %[[SUM]] : vector<16xf32>
// CHECK:           vector.transfer_write %[[ACC]]
// CHECK:           tensor.insert_slice {{.+}} into %[[OUT]][0, 0, %[[J]]] [1, 1, 16]
#x = affine_map<(b, s, i, o) -> (b, s, i)>
#w = affine_map<(b, s, i, o) -> (i, o)>
#y = affine_map<(b, s, i, o) -> (b, s, o)>
func.func @small_row(%x: tensor<1x1x128xf32>, %w: tensor<128x32xf32>, %init: tensor<1x1x32xf32>) -> tensor<1x1x32xf32> {
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : tensor<1x1x128xf32>, tensor<128x32xf32>) outs(%init : tensor<1x1x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1x32xf32>
  return %y : tensor<1x1x32xf32>
}

// -----

// Not register blocks: dynamic shapes, an output row not a multiple of 8,
// ops on buffers, and one row against a large matrix (a decode step's
// projection row, streamed row by row).
// CHECK-LABEL: func @left_alone
// CHECK-NOT:     vector.
// CHECK-COUNT-4: linalg.matmul
// CHECK-NOT:     vector.
func.func @left_alone(%a: tensor<?x64xf32>, %b: tensor<64x16xf32>, %c: tensor<?x16xf32>,
                      %d: tensor<16x64xf32>, %e: tensor<64x12xf32>, %f: tensor<16x12xf32>,
                      %g: memref<16x64xf32>, %h: memref<64x16xf32>, %i: memref<16x16xf32>,
                      %x: tensor<1x512xf32>, %w: tensor<512x512xf32>, %y: tensor<1x512xf32>)
    -> (tensor<?x16xf32>, tensor<16x12xf32>, tensor<1x512xf32>) {
  %0 = linalg.matmul ins(%a, %b : tensor<?x64xf32>, tensor<64x16xf32>) outs(%c : tensor<?x16xf32>) -> tensor<?x16xf32>
  %1 = linalg.matmul ins(%d, %e : tensor<16x64xf32>, tensor<64x12xf32>) outs(%f : tensor<16x12xf32>) -> tensor<16x12xf32>
  linalg.matmul ins(%g, %h : memref<16x64xf32>, memref<64x16xf32>) outs(%i : memref<16x16xf32>)
  %2 = linalg.matmul ins(%x, %w : tensor<1x512xf32>, tensor<512x512xf32>) outs(%y : tensor<1x512xf32>) -> tensor<1x512xf32>
  return %0, %1, %2 : tensor<?x16xf32>, tensor<16x12xf32>, tensor<1x512xf32>
}

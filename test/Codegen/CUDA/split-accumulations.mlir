// RUN: tptt-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(tptt-split-accumulations{min-threads=64 min-steps=8}))" | FileCheck %s

// A projection's loop after tptt-sink-reduction-loops: a thread per output
// element, each loading, adding to and storing its element every step. It
// sums in a register instead, over a part of the steps: the parts are a new
// first parallel dimension, min(ceil(64 / (n * 16)), ceil(32 / 8)) of them,
// each adding its sum to the element atomically.
// CHECK-LABEL: func @projection
// CHECK-SAME:    (%[[X:.+]]: memref<?x32xf32>, %[[W:.+]]: memref<32x16xbf16>, %[[Y:.+]]: memref<?x16xf32>, %[[N:.+]]: index)
// CHECK:         %[[C64:.+]] = arith.constant 64 : index
// CHECK:         %[[WANTED:.+]] = arith.ceildivsi %[[C64]], %{{.+}}
// CHECK:         %[[MOST:.+]] = arith.maxsi %{{.+}}, %{{.+}}
// CHECK:         %[[PARTS:.+]] = arith.minsi %[[WANTED]], %[[MOST]]
// CHECK:         %[[CHUNK:.+]] = arith.ceildivsi %{{.+}}, %[[PARTS]]
// CHECK:         scf.parallel (%[[P:.+]], %[[I:.+]], %[[J:.+]]) = ({{.+}}) to (%[[PARTS]], %[[N]], %{{.+}})
// CHECK:           %[[FIRST:.+]] = arith.muli %[[P]], %[[CHUNK]]
// CHECK:           %[[SUM:.+]] = scf.for %[[K:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %{{.+}}) -> (f32)
// CHECK-NOT:         memref.load %[[Y]]
// CHECK:             memref.load %[[X]][%[[I]], %[[K]]]
// CHECK:             memref.load %[[W]][%[[K]], %[[J]]]
// CHECK:             %[[NEXT:.+]] = arith.addf %[[ACC]], %{{.+}} : f32
// CHECK-NOT:         memref.store
// CHECK:             scf.yield %[[NEXT]]
// CHECK:           memref.atomic_rmw addf %[[SUM]], %[[Y]][%[[I]], %[[J]]]
func.func @projection(%x: memref<?x32xf32>, %w: memref<32x16xbf16>, %y: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c16 = arith.constant 16 : index
  %c32 = arith.constant 32 : index
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c16) step (%c1, %c1) {
    scf.for %k = %c0 to %c32 step %c1 {
      %a = memref.load %x[%i, %k] : memref<?x32xf32>
      %b = memref.load %w[%k, %j] : memref<32x16xbf16>
      %c = memref.load %y[%i, %j] : memref<?x16xf32>
      %bf = arith.extf %b : bf16 to f32
      %p = arith.mulf %a, %bf : f32
      %s = arith.addf %c, %p : f32
      memref.store %s, %y[%i, %j] : memref<?x16xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A loop that reads its element again (here: scales it) is not a sum: it
// stays as it is.
// CHECK-LABEL: func @not_a_sum
// CHECK:         scf.parallel (%{{[^,]+}}) =
// CHECK:           scf.for
// CHECK:             memref.store
// CHECK-NOT:     memref.atomic_rmw
func.func @not_a_sum(%y: memref<?xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %k = %c0 to %c4 step %c1 {
      %c = memref.load %y[%i] : memref<?xf32>
      %s = arith.mulf %c, %c : f32
      memref.store %s, %y[%i] : memref<?xf32>
    }
    scf.reduce
  }
  return
}

// -----

// More parallel dimensions than a small vector holds inline (a projection
// with the heads folded in): each keeps its own induction variable.
// CHECK-LABEL: func @many_dimensions
// CHECK:         scf.parallel (%[[P:.+]], %[[B:.+]], %[[C:.+]], %[[S:.+]], %[[H:.+]], %[[O:.+]], %[[D:.+]]) =
// CHECK:           scf.for %[[K:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args
// CHECK:             memref.load %{{.+}}[%[[B]], %[[C]], %[[S]], %[[K]]]
// CHECK:             memref.load %{{.+}}[%[[K]], %[[H]], %[[O]], %[[D]]]
// CHECK:           memref.atomic_rmw addf %{{.+}}, %{{.+}}[%[[B]], %[[C]], %[[S]], %[[H]], %[[O]], %[[D]]]
func.func @many_dimensions(%x: memref<1x6x16x64xf32>, %w: memref<64x4x1x16xf32>, %y: memref<1x6x16x4x1x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c6 = arith.constant 6 : index
  %c16 = arith.constant 16 : index
  %c64 = arith.constant 64 : index
  scf.parallel (%b, %c, %s, %h, %o, %d) = (%c0, %c0, %c0, %c0, %c0, %c0) to (%c1, %c6, %c16, %c4, %c1, %c16) step (%c1, %c1, %c1, %c1, %c1, %c1) {
    scf.for %k = %c0 to %c64 step %c1 {
      %0 = memref.load %x[%b, %c, %s, %k] : memref<1x6x16x64xf32>
      %1 = memref.load %w[%k, %h, %o, %d] : memref<64x4x1x16xf32>
      %2 = memref.load %y[%b, %c, %s, %h, %o, %d] : memref<1x6x16x4x1x16xf32>
      %3 = arith.mulf %0, %1 : f32
      %4 = arith.addf %2, %3 : f32
      memref.store %4, %y[%b, %c, %s, %h, %o, %d] : memref<1x6x16x4x1x16xf32>
    }
    scf.reduce
  }
  return
}

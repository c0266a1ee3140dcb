// RUN: tptt-opt %s --tptt-pipeline="to=tptt" | FileCheck %s --check-prefix=TPTT
// RUN: tptt-opt %s --tptt-pipeline="to=linalg" | FileCheck %s --check-prefix=LINALG
// RUN: tptt-opt %s --tptt-pipeline="to=tiled" | FileCheck %s --check-prefix=TILED
// RUN: tptt-opt %s --tptt-pipeline="to=bufferized" | FileCheck %s --check-prefix=BUFFERIZED
// RUN: tptt-opt %s --tptt-pipeline="to=loops" | FileCheck %s --check-prefix=LOOPS
// RUN: tptt-opt %s --tptt-pipeline | FileCheck %s --check-prefix=LLVM
// RUN: not tptt-opt %s --tptt-pipeline="to=ptx" 2>&1 | FileCheck %s --check-prefix=BAD-STAGE

// The named stages of the CPU pipeline on a recurrent DeltaProduct layer
// piece, a projection that the tiled stage splits into parallel rows (each
// row, against its small weight, one register block), and a μ-mix that
// folds at the graph level. The chunk scan's scratch buffers are allocated
// once per head, before the chunk loop.

// TPTT-LABEL: func @stages
// TPTT:         tptt.delta_product
// TPTT-NOT:     tptt.mag_mix
// LINALG-LABEL: func @stages
// LINALG-NOT:   tptt.
// LINALG:       scf.forall
// TILED-LABEL: func @stages
// TILED:         scf.forall
// TILED:         scf.forall (%{{.+}}, %{{.+}}) in
// TILED:           vector.contract {{.+}} : vector<32xf32>, vector<32x16xf32> into vector<16xf32>
// BUFFERIZED-LABEL: func @stages
// BUFFERIZED-SAME:  memref<?x4x?x8xf32>
// BUFFERIZED:       scf.forall
// BUFFERIZED:         memref.alloc() {{.*}} : memref<16x16xf32>
// BUFFERIZED:         scf.for
// BUFFERIZED-NOT:     memref.alloc
// BUFFERIZED:       memref.alloc() {{.*}} : memref<32x16xf32>
// LOOPS-LABEL:  func @stages
// LOOPS:        omp.parallel
// LOOPS:        omp.wsloop
// LOOPS-NOT:    linalg.generic
// LLVM-LABEL:   llvm.func @stages
// LLVM:         omp.parallel
// LLVM:         llvm.func @_mlir_ciface_stages
// BAD-STAGE:    for the --to option: Cannot find option named 'ptx'!
func.func @stages(%q: tensor<?x4x?x8xf32>, %k: tensor<?x4x?x1x8xf32>, %b: tensor<?x4x?x8xf32>,
                  %soft: tensor<?x?x32xf32>, %lin: tensor<?x?x32xf32>, %w: tensor<16x32xf32>)
    -> (tensor<?x4x?x8xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>) {
  %o, %s = tptt.delta_product %q, %k, %k, %b semantics = recurrent chunk_size = 16
      : (tensor<?x4x?x8xf32>, tensor<?x4x?x1x8xf32>, tensor<?x4x?x1x8xf32>, tensor<?x4x?x8xf32>)
      -> (tensor<?x4x?x8xf32>, tensor<?x4x8x8xf32>)
  %mu = arith.constant dense<0.0> : tensor<f32>
  %m = tptt.mag_mix %soft, %lin, %mu : (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<f32>) -> tensor<?x?x32xf32>
  %p = tptt.linear %soft, %w : (tensor<?x?x32xf32>, tensor<16x32xf32>) -> tensor<?x?x16xf32>
  return %o, %m, %p : tensor<?x4x?x8xf32>, tensor<?x?x32xf32>, tensor<?x?x16xf32>
}

// RUN: tptt-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(func.func(tptt-emulate-gpu-launches))" | FileCheck %s

// A launch becomes a parallel loop over its grid and block sizes; the ids
// are the loop's induction variables, the sizes the launch's operands.
// CHECK-LABEL: func @launch
// CHECK-SAME:    (%[[A:.+]]: memref<?xf32>, %[[G:.+]]: index)
// CHECK:         %[[C256:.+]] = arith.constant 256 : index
// CHECK:         %[[C1:.+]] = arith.constant 1 : index
// CHECK:         scf.parallel (%[[BX:.+]], %{{.+}}, %{{.+}}, %[[TX:.+]], %{{.+}}, %{{.+}}) = ({{.+}}) to (%[[G]], %[[C1]], %[[C1]], %[[C256]], %[[C1]], %[[C1]])
// CHECK:           %[[BASE:.+]] = arith.muli %[[BX]], %[[C256]]
// CHECK:           %[[ID:.+]] = arith.addi %[[BASE]], %[[TX]]
// CHECK:           memref.store %{{.+}}, %[[A]][%[[ID]]]
// CHECK-NOT:     gpu.
func.func @launch(%a: memref<?xf32>, %grid: index) {
  %c256 = arith.constant 256 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %grid, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c256, %sy = %c1, %sz = %c1) {
    %base = arith.muli %bx, %sx : index
    %id = arith.addi %base, %tx : index
    memref.store %f, %a[%id] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @barrier(%n: index) {
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %n, %gz = %n)
             threads(%tx, %ty, %tz) in (%sx = %n, %sy = %n, %sz = %n) {
    // expected-error @below {{synchronizes the threads of a block: cannot emulate its launch unless blocks have one thread}}
    gpu.barrier
    gpu.terminator
  }
  return
}

// -----

// With one thread per block (a cooperative kernel emulated), a barrier has
// nothing to wait for and goes.
// CHECK-LABEL: func @one_thread_barrier
// CHECK:         scf.parallel
// CHECK:           memref.store
// CHECK-NOT:       gpu.barrier
// CHECK:           memref.load
func.func @one_thread_barrier(%a: memref<?xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    memref.store %f, %a[%bx] : memref<?xf32>
    gpu.barrier
    %x = memref.load %a[%bx] : memref<?xf32>
    memref.store %x, %a[%bx] : memref<?xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @shared_memory(%n: index) {
  %c1 = arith.constant 1 : index
  %bytes = arith.constant 64 : i32
  // expected-error @below {{has memory attributions or shared memory, or is asynchronous: cannot emulate it}}
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             dynamic_shared_memory_size %bytes {
    gpu.terminator
  }
  return
}

// -----

// A warp's matrix operations, run by the one thread of a block, on whole
// matrices: loads and stores become vector transfers (the rows lie the
// leading dimension apart), the products vector.contract, and the
// accumulator the loop carries a vector.
// CHECK-LABEL: func @matrix_ops
// CHECK-SAME:    (%[[A:.+]]: memref<16x12xf32>, %[[B:.+]]: memref<8x20xf32>, %[[C:.+]]: memref<16x20xf32>, %{{.+}}: index)
// CHECK:         scf.parallel
// CHECK:           %[[ZERO:.+]] = vector.broadcast %{{.+}} : f32 to vector<16x16xf32>
// CHECK:           %[[SUM:.+]] = scf.for {{.+}} iter_args(%[[ACC:.+]] = %[[ZERO]]) -> (vector<16x16xf32>)
// CHECK:             %[[LHS:.+]] = vector.transfer_read %[[A]][%{{.+}}, %{{.+}}], %{{.+}} {in_bounds = [true, true]} : memref<16x12xf32>, vector<16x8xf32>
// CHECK:             %[[RHS:.+]] = vector.transfer_read %[[B]][%{{.+}}, %{{.+}}], %{{.+}} {in_bounds = [true, true]} : memref<8x20xf32>, vector<8x16xf32>
// CHECK:             %[[NEXT:.+]] = vector.contract {{{.+}}iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %[[LHS]], %[[RHS]], %[[ACC]] : vector<16x8xf32>, vector<8x16xf32> into vector<16x16xf32>
// CHECK:             scf.yield %[[NEXT]] : vector<16x16xf32>
// CHECK:           vector.transfer_write %[[SUM]], %[[C]][%{{.+}}, %{{.+}}] {in_bounds = [true, true]} : vector<16x16xf32>, memref<16x20xf32>
// CHECK-NOT:     gpu.
func.func @matrix_ops(%a: memref<16x12xf32>, %b: memref<8x20xf32>, %c: memref<16x20xf32>, %steps: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    %init = gpu.subgroup_mma_constant_matrix %zero : !gpu.mma_matrix<16x16xf32, "COp">
    %sum = scf.for %i = %c0 to %steps step %c1 iter_args(%acc = %init) -> (!gpu.mma_matrix<16x16xf32, "COp">) {
      %lhs = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 12 : index} : memref<16x12xf32> -> !gpu.mma_matrix<16x8xf32, "AOp">
      %rhs = gpu.subgroup_mma_load_matrix %b[%c0, %c0] {leadDimension = 20 : index} : memref<8x20xf32> -> !gpu.mma_matrix<8x16xf32, "BOp">
      %next = gpu.subgroup_mma_compute %lhs, %rhs, %acc : !gpu.mma_matrix<16x8xf32, "AOp">, !gpu.mma_matrix<8x16xf32, "BOp"> -> !gpu.mma_matrix<16x16xf32, "COp">
      scf.yield %next : !gpu.mma_matrix<16x16xf32, "COp">
    }
    gpu.subgroup_mma_store_matrix %sum, %c[%c0, %c0] {leadDimension = 20 : index} : !gpu.mma_matrix<16x16xf32, "COp">, memref<16x20xf32>
    gpu.terminator
  }
  return
}

// -----

func.func @matrix_lead_dimension(%a: memref<16x12xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    // expected-error @below {{reads or writes a matrix whose rows are not 16 contiguous elements apart: cannot emulate it}}
    %lhs = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x12xf32> -> !gpu.mma_matrix<16x8xf32, "AOp">
    gpu.terminator
  }
  return
}

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

// RUN: tptt-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(func.func(tptt-map-parallel-loops-to-gpu{block-size=128 cooperative-block-size=64 shared-memory-bytes=0}))" | FileCheck %s
// RUN: tptt-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(func.func(tptt-map-parallel-loops-to-gpu{cooperative-block-size=64 shared-memory-bytes=128}))" | FileCheck %s --check-prefix=SHARED
// RUN: not tptt-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(tptt-map-parallel-loops-to-gpu{cooperative-block-size=48}))" 2>&1 | FileCheck %s --check-prefix=WARPS

// An outermost parallel loop without nested parallel loops: one iteration
// per thread, numbered row-major, in ceil(n * 8 / 128) blocks (at least
// one); the nested sequential loop stays in the thread.
// CHECK-LABEL: func @nest
// CHECK-SAME:    (%[[A:.+]]: memref<?x8xf32>, %[[N:.+]]: index)
// CHECK:         %[[C128:.+]] = arith.constant 128 : index
// CHECK:         arith.maxsi
// CHECK:         %[[COLS:.+]] = arith.maxsi
// CHECK:         %[[TOTAL:.+]] = arith.muli %{{.+}}, %[[COLS]]
// CHECK:         %[[BLOCKS:.+]] = arith.ceildivsi %[[TOTAL]], %[[C128]]
// CHECK:         %[[GRID:.+]] = arith.maxsi %[[BLOCKS]], %{{.+}}
// CHECK:         gpu.launch blocks(%[[BX:[^,]+]], %{{[^,]+}}, %{{[^)]+}}) in (%{{[^ ]+}} = %[[GRID]], %{{[^)]+}})
// CHECK-SAME:               threads(%[[TX:[^,]+]], %{{[^,]+}}, %{{[^)]+}}) in (%{{[^ ]+}} = %[[C128]], %{{[^)]+}})
// CHECK:           %[[BASE:.+]] = arith.muli %[[BX]], %[[C128]]
// CHECK:           %[[ID:.+]] = arith.addi %[[BASE]], %[[TX]]
// CHECK:           %[[IN:.+]] = arith.cmpi ult, %[[ID]], %[[TOTAL]]
// CHECK:           scf.if %[[IN]]
// CHECK:             arith.remui %[[ID]], %[[COLS]]
// CHECK:             arith.divui %[[ID]], %[[COLS]]
// CHECK:             scf.for
// CHECK:               memref.store
// CHECK-NOT:         gpu.barrier
// CHECK:           gpu.terminator
// CHECK-NOT:     scf.parallel
// CHECK:         return
func.func @nest(%a: memref<?x8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    scf.for %k = %c0 to %c8 step %c1 {
      memref.store %f, %a[%i, %k] : memref<?x8xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A loop that holds parallel loops (the operator's loop over heads) runs
// one iteration per block of 64 threads. Its scratch buffer is a slice of one
// buffer allocated before the launch and freed after it; each nested
// parallel loop is spread over the block's threads (thread t runs
// iterations t, t + 64, ...) and followed by a barrier, also inside the
// sequential loop around it; a lone store runs in thread 0, between
// barriers, since the block read memory before it.
// CHECK-LABEL: func @cooperative
// CHECK-SAME:    (%[[A:.+]]: memref<?x16xf32>, %[[N:.+]]: index)
// CHECK:         %[[BUFFER:.+]] = memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<?xi8>
// CHECK:         %[[C64:.+]] = arith.constant 64 : index
// CHECK:         gpu.launch blocks(%[[BX:[^,]+]], %{{[^,]+}}, %{{[^)]+}}) in (%{{[^)]+}})
// CHECK-SAME:               threads(%[[TX:[^,]+]], %{{[^,]+}}, %{{[^)]+}}) in (%{{[^ ]+}} = %[[C64]], %{{[^)]+}})
// CHECK:           scf.if
// CHECK:             %[[TMP:.+]] = memref.view %[[BUFFER]][%{{.+}}][] : memref<?xi8> to memref<16xf32>
// CHECK:             scf.for %[[I:.+]] = %[[TX]] to %{{.+}} step %[[C64]]
// CHECK:               memref.store %{{.+}}, %[[TMP]]
// CHECK:             gpu.barrier
// CHECK:             scf.for
// CHECK:               scf.for %{{.+}} = %[[TX]] to %{{.+}} step %[[C64]]
// CHECK:                 memref.load %[[TMP]]
// CHECK:                 memref.store %{{.+}}, %[[A]]
// CHECK:               gpu.barrier
// CHECK:             memref.load %[[A]]
// CHECK:             gpu.barrier
// CHECK:             %[[FIRST:.+]] = arith.cmpi eq, %[[TX]], %{{.+}}
// CHECK:             scf.if %[[FIRST]]
// CHECK:               memref.store %{{.+}}, %[[A]]
// CHECK:             gpu.barrier
// CHECK-NOT:         memref.dealloc
// CHECK:           gpu.terminator
// CHECK:         memref.dealloc %[[BUFFER]]
// With 128 bytes of shared memory per block, the scratch buffer is there:
// the launch asks for its 64 bytes and 64 more, and the buffer is a view of
// the block's dynamic shared memory through a generic pointer, at its first
// 64-byte boundary (the memory itself is only sure to be 16-byte aligned).
// SHARED-LABEL: func @cooperative
// SHARED-NOT:     memref.alloc
// SHARED:         %[[BYTES:.+]] = arith.constant 128 : i32
// SHARED:         gpu.launch
// SHARED-SAME:      dynamic_shared_memory_size %[[BYTES]]
// SHARED:           %[[MEMORY:.+]] = gpu.dynamic_shared_memory : memref<?xi8, #gpu.address_space<workgroup>>
// SHARED:           %[[GENERIC:.+]] = memref.memory_space_cast %[[MEMORY]] : memref<?xi8, #gpu.address_space<workgroup>> to memref<?xi8>
// SHARED:           %[[ADDRESS:.+]] = memref.extract_aligned_pointer_as_index %[[GENERIC]]
// SHARED:           %[[MISALIGNED:.+]] = arith.remui %[[ADDRESS]], %[[C64:.+]] : index
// SHARED:           %[[GAP:.+]] = arith.subi %[[C64]], %[[MISALIGNED]]
// SHARED:           %[[START:.+]] = arith.remui %[[GAP]], %[[C64]]
// SHARED:           %[[OFFSET:.+]] = arith.addi %[[START]], %{{.+}} : index
// SHARED:           memref.view %[[GENERIC]][%[[OFFSET]]][] : memref<?xi8> to memref<16xf32>
// SHARED:           gpu.terminator
// SHARED-NOT:     memref.dealloc
// SHARED:         return
func.func @cooperative(%a: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %tmp = memref.alloc() {alignment = 64 : i64} : memref<16xf32>
    scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
      memref.store %f, %tmp[%j] : memref<16xf32>
      scf.reduce
    }
    scf.for %t = %c0 to %c4 step %c1 {
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        %x = memref.load %tmp[%j] : memref<16xf32>
        %y = arith.addf %x, %f : f32
        memref.store %y, %a[%i, %j] : memref<?x16xf32>
        scf.reduce
      }
    }
    %first = memref.load %a[%i, %c0] : memref<?x16xf32>
    memref.store %first, %a[%i, %c1] : memref<?x16xf32>
    memref.dealloc %tmp : memref<16xf32>
    scf.reduce
  }
  return
}

// -----

// A buffer made and freed in each iteration of a sequential loop of the
// block is one slice too, which every iteration reuses.
// CHECK-LABEL: func @per_step_buffer
// CHECK:         %[[BUFFER:.+]] = memref.alloc(%{{.+}}) {alignment = 64 : i64} : memref<?xi8>
// CHECK:         gpu.launch
// CHECK:           scf.for
// CHECK:             memref.view %[[BUFFER]][%{{.+}}][] : memref<?xi8> to memref<16xf32>
// CHECK-NOT:         memref.alloc
// CHECK:             gpu.barrier
// CHECK-NOT:         memref.dealloc
// CHECK:           gpu.terminator
// CHECK:         memref.dealloc %[[BUFFER]]
func.func @per_step_buffer(%a: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.for %t = %c0 to %c4 step %c1 {
      %tmp = memref.alloc() : memref<16xf32>
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        memref.store %f, %tmp[%j] : memref<16xf32>
        scf.reduce
      }
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        %x = memref.load %tmp[%j] : memref<16xf32>
        memref.store %x, %a[%i, %j] : memref<?x16xf32>
        scf.reduce
      }
      memref.dealloc %tmp : memref<16xf32>
    }
    scf.reduce
  }
  return
}

// -----

// A buffer freed through another value (the ownership-based deallocation of
// a loop that yields fresh buffers) cannot be shared by the block: the loop
// runs one iteration per thread.
// CHECK-LABEL: func @carried_buffer
// CHECK:         gpu.launch
// CHECK-NOT:       gpu.barrier
// CHECK:           gpu.terminator
func.func @carried_buffer(%a: memref<?x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c16 = arith.constant 16 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %first = memref.alloc() : memref<16xf32>
    %last = scf.for %t = %c0 to %c4 step %c1 iter_args(%prev = %first) -> (memref<16xf32>) {
      %next = memref.alloc() : memref<16xf32>
      scf.parallel (%j) = (%c0) to (%c16) step (%c1) {
        %x = memref.load %prev[%j] : memref<16xf32>
        memref.store %x, %next[%j] : memref<16xf32>
        scf.reduce
      }
      memref.dealloc %prev : memref<16xf32>
      scf.yield %next : memref<16xf32>
    }
    memref.dealloc %last : memref<16xf32>
    scf.reduce
  }
  return
}

// -----

// A copy on the host becomes a parallel loop and then a kernel; a copy in
// a kernel becomes sequential loops; a copy onto itself disappears.
// CHECK-LABEL: func @copies
// CHECK-NOT:     memref.copy
// CHECK:         gpu.launch
// CHECK:           memref.load %{{.+}}[%{{.+}}, %{{.+}}] : memref<?x8xf32>
// CHECK:           memref.store
// CHECK:         gpu.launch
// CHECK:           scf.for
// CHECK:             memref.load
// CHECK:             memref.store
// CHECK-NOT:     memref.copy
// CHECK:         return
func.func @copies(%a: memref<?x8xf32>, %b: memref<?x8xf32>, %c: memref<4x8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  memref.copy %a, %b : memref<?x8xf32> to memref<?x8xf32>
  memref.copy %a, %a : memref<?x8xf32> to memref<?x8xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %row = memref.subview %c[%i, 0] [1, 8] [1, 1] : memref<4x8xf32> to memref<8xf32, strided<[1], offset: ?>>
    %tmp = memref.alloc() : memref<8xf32>
    memref.copy %row, %tmp : memref<8xf32, strided<[1], offset: ?>> to memref<8xf32>
    memref.dealloc %tmp : memref<8xf32>
    scf.reduce
  }
  return
}

// -----

// A parallel loop with a reduction stays on the host.
// CHECK-LABEL: func @reduction
// CHECK-NOT:     gpu.launch
// CHECK:         scf.parallel
func.func @reduction(%a: memref<?xf32>, %n: index) -> f32 {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f32
  %sum = scf.parallel (%i) = (%c0) to (%n) step (%c1) init (%zero) -> f32 {
    %x = memref.load %a[%i] : memref<?xf32>
    scf.reduce(%x : f32) {
    ^bb0(%l: f32, %r: f32):
      %s = arith.addf %l, %r : f32
      scf.reduce.return %s : f32
    }
  }
  return %sum : f32
}

// -----

// Warp matrix operations need a cooperative kernel: a loop that cannot be
// one (its block-level loop carries a buffer) is an error.
func.func @warp_ops_not_cooperative(%a: memref<16x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  // expected-error @+1 {{holds warp matrix operations but cannot run as a cooperative kernel}}
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %init = memref.alloc() : memref<16x16xf32>
    %last = scf.for %t = %c0 to %c4 step %c1 iter_args(%buffer = %init) -> (memref<16x16xf32>) {
      scf.parallel (%tile, %lane) = (%c0, %c0) to (%c1, %c1) step (%c1, %c1) {
        %x = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<16x8xf32, "AOp">
        %y = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<8x16xf32, "BOp">
        %z = gpu.subgroup_mma_load_matrix %buffer[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<16x16xf32, "COp">
        %r = gpu.subgroup_mma_compute %x, %y, %z : !gpu.mma_matrix<16x8xf32, "AOp">, !gpu.mma_matrix<8x16xf32, "BOp"> -> !gpu.mma_matrix<16x16xf32, "COp">
        gpu.subgroup_mma_store_matrix %r, %buffer[%c0, %c0] {leadDimension = 16 : index} : !gpu.mma_matrix<16x16xf32, "COp">, memref<16x16xf32>
        scf.reduce
      }
      scf.yield %buffer : memref<16x16xf32>
    }
    scf.reduce
  }
  return
}

// -----

// Nor can a cooperative kernel run them with blocks that are not whole
// warps (64 threads: fine; 48: an error).
// WARPS: error: holds warp matrix operations: cooperative-block-size must be a multiple of 32 (whole warps), not 48
// CHECK-LABEL: func @warp_ops
// CHECK:         gpu.launch
// CHECK:           gpu.subgroup_mma_compute
func.func @warp_ops(%a: memref<16x16xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.parallel (%tile, %lane) = (%c0, %c0) to (%c1, %c32) step (%c1, %c1) {
      %x = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<16x8xf32, "AOp">
      %y = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<8x16xf32, "BOp">
      %z = gpu.subgroup_mma_load_matrix %a[%c0, %c0] {leadDimension = 16 : index} : memref<16x16xf32> -> !gpu.mma_matrix<16x16xf32, "COp">
      %r = gpu.subgroup_mma_compute %x, %y, %z : !gpu.mma_matrix<16x8xf32, "AOp">, !gpu.mma_matrix<8x16xf32, "BOp"> -> !gpu.mma_matrix<16x16xf32, "COp">
      gpu.subgroup_mma_store_matrix %r, %a[%c0, %c0] {leadDimension = 16 : index} : !gpu.mma_matrix<16x16xf32, "COp">, memref<16x16xf32>
      scf.reduce
    }
    scf.reduce
  }
  return
}

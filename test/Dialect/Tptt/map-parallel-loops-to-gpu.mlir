// RUN: tptt-opt %s -split-input-file -verify-diagnostics --pass-pipeline="builtin.module(func.func(tptt-map-parallel-loops-to-gpu{block-size=128}))" | FileCheck %s

// An outermost parallel loop: one iteration per thread, numbered row-major,
// in ceil(n * 8 / 128) blocks (at least one); the nested loop stays in the
// thread.
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
// CHECK:             scf.parallel
// CHECK:               memref.store
// CHECK:           gpu.terminator
// CHECK-NOT:     scf.parallel
// CHECK:         return
func.func @nest(%a: memref<?x8xf32>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %c8) step (%c1, %c1) {
    scf.parallel (%k) = (%c0) to (%c8) step (%c1) {
      memref.store %f, %a[%i, %k] : memref<?x8xf32>
      scf.reduce
    }
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

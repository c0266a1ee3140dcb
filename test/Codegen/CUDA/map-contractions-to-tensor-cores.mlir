// RUN: tptt-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(tptt-map-contractions-to-tensor-cores))" | FileCheck %s
// RUN: tptt-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(tptt-map-contractions-to-tensor-cores{warp-rows=1 warp-cols=1 threads-per-warp=1 shared-memory=false}))" | FileCheck %s --check-prefix=EMULATED
// RUN: not tptt-opt %s -split-input-file --pass-pipeline="builtin.module(func.func(tptt-map-contractions-to-tensor-cores{warp-rows=4 warp-cols=4}))" 2>&1 | FileCheck %s --check-prefix=TOO-BIG

// TOO-BIG: error: tptt-map-contractions-to-tensor-cores: the tiles of 4 x 4 warps take 102944 bytes of shared memory, more than the 49152 a block has

#rows = affine_map<(b, s, k, n) -> (b, s, k)>
#weight = affine_map<(b, s, k, n) -> (k, n)>
#out = affine_map<(b, s, k, n) -> (b, s, n)>

// A projection with a bf16 weight (K = 128, N = 352) and rows known at run
// time: B·S >= 64 rows run on tensor cores, in blocks of 64 × 64 outputs
// and 4 warps; fewer keep the linalg op. The tiles live in one workgroup
// buffer, aligned to 32 bytes at run time; each step of 32 along k stages
// them as f32 (clamped loads, zero past the edges; the activations rounded
// to tf32: + 2^12, then the low 13 bits cleared, unless not finite) between
// barriers, then each warp runs 4 k-steps of 2 × 2 tf32 fragment products into its 4
// accumulators. The accumulators go through shared memory, and C gets them
// added where the tile lies inside it.
// CHECK-LABEL: func @projection
// CHECK-SAME:    (%[[X:.+]]: memref<?x?x128xf32>, %[[W:.+]]: memref<128x352xbf16>, %[[Y:.+]]: memref<?x?x352xf32>)
// CHECK:         %[[ROWS:.+]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : memref<?x?x128xf32> into memref<?x128xf32>
// CHECK:         %[[OUT:.+]] = memref.collapse_shape %[[Y]] {{\[}}[0, 1], [2]] : memref<?x?x352xf32> into memref<?x352xf32>
// CHECK:         %[[M:.+]] = memref.dim %[[ROWS]], %{{.+}} : memref<?x128xf32>
// CHECK:         %[[ENOUGH:.+]] = arith.cmpi uge, %[[M]], %{{.+}} : index
// CHECK:         scf.if %[[ENOUGH]] {
// CHECK:           %[[GX:.+]] = arith.ceildivui %{{.+}}, %{{.+}} : index
// CHECK:           %[[GY:.+]] = arith.ceildivui %[[M]], %{{.+}} : index
// CHECK:           gpu.launch blocks({{.+}}) in ({{.+}} = %[[GX]], {{.+}} = %[[GY]], {{.+}}) threads(%[[T:.+]], %{{.+}}, %{{.+}}) in ({{.+}} = %[[C128:.+]], {{.+}}) workgroup(%[[BYTES:.+]] : memref<35360xi8, #gpu.address_space<workgroup>>)
// CHECK:             memref.extract_aligned_pointer_as_index %[[BYTES]]
// CHECK:             %[[A:.+]] = memref.view %[[BYTES]][%{{.+}}][] : {{.+}} to memref<64x36xf32, #gpu.address_space<workgroup>>
// CHECK:             %[[B:.+]] = memref.view %[[BYTES]][%{{.+}}][] : {{.+}} to memref<32x68xf32, #gpu.address_space<workgroup>>
// CHECK:             %[[C:.+]] = memref.view %[[BYTES]][%{{.+}}][] : {{.+}} to memref<64x68xf32, #gpu.address_space<workgroup>>
// CHECK:             %[[ZERO:.+]] = gpu.subgroup_mma_constant_matrix %{{.+}} : !gpu.mma_matrix<16x16xf32, "COp">
// CHECK:             %[[ACC:.+]]:4 = scf.for %[[K0:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]])
// CHECK:               gpu.barrier
// CHECK:               scf.for %{{.+}} = %[[T]] to %{{.+}} step %{{.+}} {
// CHECK:                 arith.minui
// CHECK:                 %[[LOADED:.+]] = memref.load %[[ROWS]]
// CHECK:                 %[[BITS:.+]] = arith.bitcast %[[LOADED]] : f32 to i32
// CHECK:                 %[[UP:.+]] = arith.addi %[[BITS]], %{{.+}} : i32
// CHECK:                 %[[CUT:.+]] = arith.andi %[[UP]], %{{.+}} : i32
// CHECK:                 %[[KEPT:.+]] = arith.select %{{.+}}, %[[CUT]], %[[BITS]] : i32
// CHECK:                 %[[TF32:.+]] = arith.bitcast %[[KEPT]] : i32 to f32
// CHECK:                 %[[STAGED:.+]] = arith.select %{{.+}}, %[[TF32]], %{{.+}} : f32
// CHECK:                 memref.store %[[STAGED]], %[[A]]
// CHECK:               scf.for %{{.+}} = %[[T]] to %{{.+}} step %{{.+}} {
// CHECK:                 %[[E:.+]] = memref.load %[[W]]
// CHECK:                 arith.extf %[[E]] : bf16 to f32
// CHECK:                 memref.store %{{.+}}, %[[B]]
// CHECK:               gpu.barrier
// CHECK-COUNT-2:       gpu.subgroup_mma_load_matrix %[[A]][{{.+}}] {leadDimension = 36 : index} : {{.+}} -> !gpu.mma_matrix<16x8xf32, "AOp">
// CHECK-COUNT-2:       gpu.subgroup_mma_load_matrix %[[B]][{{.+}}] {leadDimension = 68 : index} : {{.+}} -> !gpu.mma_matrix<8x16xf32, "BOp">
// CHECK-COUNT-16:      gpu.subgroup_mma_compute
// CHECK:               scf.yield
// CHECK-COUNT-4:     gpu.subgroup_mma_store_matrix %{{.+}}, %[[C]][{{.+}}] {leadDimension = 68 : index}
// CHECK:             gpu.barrier
// CHECK:             scf.for %{{.+}} = %[[T]] to %{{.+}} step %{{.+}} {
// CHECK:               scf.if
// CHECK:                 %[[OLD:.+]] = memref.load %[[OUT]]
// CHECK:                 %[[NEW:.+]] = memref.load %[[C]]
// CHECK:                 %[[SUM:.+]] = arith.addf %[[OLD]], %[[NEW]]
// CHECK:                 memref.store %[[SUM]], %[[OUT]]
// CHECK:         } else {
// CHECK:           linalg.generic
// CHECK-SAME:        ins(%[[X]], %[[W]] :

// Emulated: one thread per block runs one warp's 32 × 32 tile, with the
// tiles on its stack (released per block).
// EMULATED-LABEL: func @projection
// EMULATED:         arith.ceildivui %{{.+}}, %{{.+}} : index
// EMULATED:         arith.ceildivui
// EMULATED-NEXT:      %[[THREADS:.+]] = arith.constant 1 : index
// EMULATED-NEXT:      gpu.launch blocks({{.+}}) threads({{.+}}) in ({{.+}} = %[[THREADS]], {{.+}}) {
// EMULATED:           memref.alloca_scope {
// EMULATED:             %[[BYTES:.+]] = memref.alloca() : memref<13856xi8>
// EMULATED:             memref.view %[[BYTES]][%{{.+}}][] : memref<13856xi8> to memref<32x36xf32>
// EMULATED:             memref.view %[[BYTES]][%{{.+}}][] : memref<13856xi8> to memref<32x36xf32>
// EMULATED:             memref.view %[[BYTES]][%{{.+}}][] : memref<13856xi8> to memref<32x36xf32>
// EMULATED-COUNT-16:    gpu.subgroup_mma_compute
func.func @projection(%x: memref<?x?x128xf32>, %w: memref<128x352xbf16>, %y: memref<?x?x352xf32>) {
  linalg.generic {indexing_maps = [#rows, #weight, #out], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : memref<?x?x128xf32>, memref<128x352xbf16>) outs(%y : memref<?x?x352xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// Rows known at compile time: 2 × 8 = 16 stay as they are, 2 × 64 run on
// tensor cores without a check.
// CHECK-LABEL: func @small_projection
// CHECK-NOT:     gpu.launch
// CHECK:         linalg.generic
func.func @small_projection(%x: memref<2x8x128xf32>, %w: memref<128x352xbf16>, %y: memref<2x8x352xf32>) {
  linalg.generic {indexing_maps = [#rows, #weight, #out], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : memref<2x8x128xf32>, memref<128x352xbf16>) outs(%y : memref<2x8x352xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func @large_projection
// CHECK-NOT:     scf.if
// CHECK:         gpu.launch
// CHECK-NOT:     linalg.generic
func.func @large_projection(%x: memref<2x64x128xf32>, %w: memref<128x352xbf16>, %y: memref<2x64x352xf32>) {
  linalg.generic {indexing_maps = [#rows, #weight, #out], iterator_types = ["parallel", "parallel", "reduction", "parallel"]}
      ins(%x, %w : memref<2x64x128xf32>, memref<128x352xbf16>) outs(%y : memref<2x64x352xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A weight stored [N, K] (the backward's x-gradient reads the weight this
// way): consecutive threads stage consecutive elements along k.
// CHECK-LABEL: func @transposed_weight
// CHECK-SAME:    (%[[X:.+]]: memref<?x64xf32>, %[[W:.+]]: memref<48x64xbf16>, %{{.+}}: memref<?x48xf32>)
// CHECK:         gpu.launch
// CHECK:           %[[A:.+]] = memref.view {{.+}} to memref<64x36xf32, #gpu.address_space<workgroup>>
// CHECK:           memref.store %{{.+}}, %[[A]]
// CHECK:           scf.for %[[E:.+]] = %{{.+}} to %{{.+}} step %{{.+}} {
// CHECK-NEXT:        %[[C32:.+]] = arith.constant 32 : index
// CHECK-NEXT:        %[[J:.+]] = arith.divui %[[E]], %[[C32]]
// CHECK-NEXT:        %[[I:.+]] = arith.remui %[[E]], %[[C32]]
// CHECK:             memref.load %[[W]]
func.func @transposed_weight(%x: memref<?x64xf32>, %w: memref<48x64xbf16>, %y: memref<?x48xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<48x64xbf16>) outs(%y : memref<?x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %e, %a : f32
    %s = arith.addf %p, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// A head split folded into the projection: the weight [K, H, d] and the
// output [B, S, H, d] are collapsed to matrices of H·d columns.
// CHECK-LABEL: func @split_heads
// CHECK-SAME:    (%[[X:.+]]: memref<1x96x64xf32>, %[[W:.+]]: memref<64x4x16xbf16>, %[[Y:.+]]: memref<1x96x4x16xf32>)
// CHECK-DAG:     %[[ROWS:.+]] = memref.collapse_shape %[[X]] {{\[}}[0, 1], [2]] : memref<1x96x64xf32> into memref<96x64xf32>
// CHECK-DAG:     %[[WEIGHT:.+]] = memref.collapse_shape %[[W]] {{\[}}[0], [1, 2]] : memref<64x4x16xbf16> into memref<64x64xbf16>
// CHECK-DAG:     %[[OUT:.+]] = memref.collapse_shape %[[Y]] {{\[}}[0, 1], [2, 3]] : memref<1x96x4x16xf32> into memref<96x64xf32>
// CHECK-NOT:     scf.if
// CHECK:         gpu.launch
// CHECK:           memref.load %[[WEIGHT]]
// CHECK:           memref.store %{{.+}}, %[[OUT]]
func.func @split_heads(%x: memref<1x96x64xf32>, %w: memref<64x4x16xbf16>, %y: memref<1x96x4x16xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, s, k, h, d) -> (b, s, k)>, affine_map<(b, s, k, h, d) -> (k, h, d)>, affine_map<(b, s, k, h, d) -> (b, s, h, d)>], iterator_types = ["parallel", "parallel", "reduction", "parallel", "parallel"]}
      ins(%x, %w : memref<1x96x64xf32>, memref<64x4x16xbf16>) outs(%y : memref<1x96x4x16xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Left alone: an f32 weight (the f32 build keeps its exact kernels), a body
// that is not a multiply-accumulate, a contraction inside a parallel loop
// (its iterations become threads), and a batched product (no operand is a
// matrix over (k, n) alone).
// CHECK-LABEL: func @f32_weight
// CHECK-NOT:     gpu.launch
func.func @f32_weight(%x: memref<?x64xf32>, %w: memref<64x48xf32>, %y: memref<?x48xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<64x48xf32>) outs(%y : memref<?x48xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// CHECK-LABEL: func @not_multiply_accumulate
// CHECK-NOT:     gpu.launch
func.func @not_multiply_accumulate(%x: memref<?x64xf32>, %w: memref<64x48xbf16>, %y: memref<?x48xf32>) {
  linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<64x48xbf16>) outs(%y : memref<?x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %m = arith.maximumf %o, %p : f32
    linalg.yield %m : f32
  }
  return
}

// CHECK-LABEL: func @inside_parallel_loop
// CHECK-NOT:     gpu.launch
func.func @inside_parallel_loop(%w: memref<64x48xbf16>) {
  scf.forall (%i) in (4) {
    %x = memref.alloc() : memref<128x64xf32>
    %y = memref.alloc() : memref<128x48xf32>
    linalg.generic {indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%x, %w : memref<128x64xf32>, memref<64x48xbf16>) outs(%y : memref<128x48xf32>) {
    ^bb0(%a: f32, %b: bf16, %o: f32):
      %e = arith.extf %b : bf16 to f32
      %p = arith.mulf %a, %e : f32
      %s = arith.addf %o, %p : f32
      linalg.yield %s : f32
    }
    memref.dealloc %x : memref<128x64xf32>
    memref.dealloc %y : memref<128x48xf32>
  }
  return
}

// CHECK-LABEL: func @batched
// CHECK-NOT:     gpu.launch
func.func @batched(%x: memref<4x?x64xf32>, %w: memref<4x64x48xbf16>, %y: memref<4x?x48xf32>) {
  linalg.generic {indexing_maps = [affine_map<(b, m, n, k) -> (b, m, k)>, affine_map<(b, m, n, k) -> (b, k, n)>, affine_map<(b, m, n, k) -> (b, m, n)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%x, %w : memref<4x?x64xf32>, memref<4x64x48xbf16>) outs(%y : memref<4x?x48xf32>) {
  ^bb0(%a: f32, %b: bf16, %o: f32):
    %e = arith.extf %b : bf16 to f32
    %p = arith.mulf %a, %e : f32
    %s = arith.addf %o, %p : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// Inside a loop that becomes a cooperative kernel (the operator's loop over
// batch × heads), the f32 contractions with sizes that are multiples of
// 16 × 16 × 8 become warp tiles in 3xTF32. Here scores = K·Kᵀ and state =
// Kᵀ·U, whose operands are read transposed. Five staging buffers (A's big
// and small parts, B's, and C), sized for the larger product, come before
// the first contraction and are freed at the end of the body. Each product
// stages A and B as big = tf32(x) and small = tf32(x − big), reading each
// operand in its own order; then a parallel loop over (tiles × the 32
// threads of a warp) sums small·big, big·small and big·big over k, in a loop
// kept rolled; then C gets the tiles added.
// CHECK-LABEL: func @chunk_products
// CHECK:         scf.forall
// CHECK:           linalg.fill
// CHECK-COUNT-4:   memref.alloc() {alignment = 32 : i64} : memref<2560xi8>
// CHECK:           memref.alloc() {alignment = 32 : i64} : memref<4608xi8>
// CHECK:           scf.parallel (%[[I:.+]], %[[C:.+]]) = {{.+}} to (%c32, %c16)
// CHECK:             %[[X:.+]] = memref.load %[[K:.+]][%[[I]], %[[C]]]
// CHECK:             %[[BIG:.+]] = arith.bitcast %{{.+}} : i32 to f32
// CHECK:             arith.subf %[[X]], %[[BIG]]
// CHECK:             %[[SMALL:.+]] = arith.bitcast %{{.+}} : i32 to f32
// CHECK:             memref.store %[[BIG]], %{{.+}}[%[[I]], %[[C]]] : memref<32x20xf32>
// CHECK:             memref.store %[[SMALL]], %{{.+}}[%[[I]], %[[C]]] : memref<32x20xf32>
// CHECK:           scf.parallel (%[[J:.+]], %[[D:.+]]) = {{.+}} to (%c32{{.*}}, %c16{{.*}})
// CHECK:             memref.load %[[K]][%[[J]], %[[D]]]
// CHECK:             memref.store %{{.+}}, %{{.+}}[%[[D]], %[[J]]] : memref<16x36xf32>
// CHECK:           scf.parallel (%{{.+}}, %{{.+}}) = {{.+}} to (%c4, %c32{{.*}})
// CHECK:             %[[SUM:.+]] = scf.for %{{.+}} step %c8 iter_args
// CHECK-COUNT-4:       gpu.subgroup_mma_load_matrix
// CHECK-COUNT-3:       gpu.subgroup_mma_compute
// CHECK:             } {loop_annotation = #{{.+}}}
// CHECK:             gpu.subgroup_mma_store_matrix %[[SUM]], %{{.+}} {leadDimension = 36 : index}
// CHECK:           scf.parallel {{.+}} to (%c32{{.*}}, %c32{{.*}})
// CHECK:             memref.load %[[SCORES:.+]][
// CHECK:             arith.addf
// CHECK:             memref.store %{{.+}}, %[[SCORES]][
// CHECK:           linalg.fill
// CHECK:           scf.parallel (%[[T:.+]], %[[A:.+]]) = {{.+}} to (%c32{{.*}}, %c16{{.*}})
// CHECK:             memref.load %[[K]][%[[T]], %[[A]]]
// CHECK:             memref.store %{{.+}}, %{{.+}}[%[[A]], %[[T]]] : memref<16x36xf32>
// CHECK:           scf.parallel (%{{.+}}, %{{.+}}) = {{.+}} to (%c1{{.*}}, %c32{{.*}})
// CHECK-COUNT-3:     gpu.subgroup_mma_compute
// CHECK-COUNT-5:   memref.dealloc %{{.+}} : memref<{{.+}}xi8>
// CHECK-NOT:     linalg.generic
// Emulated, one thread runs each tile.
// EMULATED-LABEL: func @chunk_products
// EMULATED:         scf.parallel (%{{.+}}, %{{.+}}) = {{.+}} to (%c4, %c1{{.*}})
// EMULATED:           gpu.subgroup_mma_compute
func.func @chunk_products(%k: memref<4x32x16xf32>, %u: memref<4x32x16xf32>, %s: memref<4x16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  scf.forall (%h) in (4) {
    %state = memref.alloc() : memref<16x16xf32>
    %scores = memref.alloc() : memref<32x32xf32>
    %kh = memref.subview %k[%h, 0, 0] [1, 32, 16] [1, 1, 1] : memref<4x32x16xf32> to memref<32x16xf32, strided<[16, 1], offset: ?>>
    %uh = memref.subview %u[%h, 0, 0] [1, 32, 16] [1, 1, 1] : memref<4x32x16xf32> to memref<32x16xf32, strided<[16, 1], offset: ?>>
    linalg.fill ins(%zero : f32) outs(%scores : memref<32x32xf32>)
    linalg.generic {indexing_maps = [affine_map<(i, j, c) -> (i, c)>, affine_map<(i, j, c) -> (j, c)>, affine_map<(i, j, c) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%kh, %kh : memref<32x16xf32, strided<[16, 1], offset: ?>>, memref<32x16xf32, strided<[16, 1], offset: ?>>) outs(%scores : memref<32x32xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %o, %p : f32
      linalg.yield %r : f32
    }
    linalg.fill ins(%zero : f32) outs(%state : memref<16x16xf32>)
    linalg.generic {indexing_maps = [affine_map<(a, b, t) -> (t, a)>, affine_map<(a, b, t) -> (t, b)>, affine_map<(a, b, t) -> (a, b)>], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%kh, %uh : memref<32x16xf32, strided<[16, 1], offset: ?>>, memref<32x16xf32, strided<[16, 1], offset: ?>>) outs(%state : memref<16x16xf32>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %o, %p : f32
      linalg.yield %r : f32
    }
    %sh = memref.subview %s[%h, 0, 0] [1, 16, 16] [1, 1, 1] : memref<4x16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    memref.copy %state, %sh : memref<16x16xf32> to memref<16x16xf32, strided<[16, 1], offset: ?>>
    memref.dealloc %state : memref<16x16xf32>
    memref.dealloc %scores : memref<32x32xf32>
  }
  return
}

// -----

// Left alone: a product whose columns (8) are not a multiple of 16, and one
// in a loop that cannot become a cooperative kernel (its chunk loop carries
// a buffer).
// CHECK-LABEL: func @partial_tile
// CHECK-NOT:     gpu.subgroup_mma_compute
// CHECK:         linalg.generic
func.func @partial_tile(%x: memref<4x32x16xf32>, %w: memref<16x8xf32>, %y: memref<4x32x8xf32>) {
  scf.forall (%h) in (4) {
    %xh = memref.subview %x[%h, 0, 0] [1, 32, 16] [1, 1, 1] : memref<4x32x16xf32> to memref<32x16xf32, strided<[16, 1], offset: ?>>
    %yh = memref.subview %y[%h, 0, 0] [1, 32, 8] [1, 1, 1] : memref<4x32x8xf32> to memref<32x8xf32, strided<[8, 1], offset: ?>>
    linalg.generic {indexing_maps = [affine_map<(i, j, c) -> (i, c)>, affine_map<(i, j, c) -> (c, j)>, affine_map<(i, j, c) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
        ins(%xh, %w : memref<32x16xf32, strided<[16, 1], offset: ?>>, memref<16x8xf32>) outs(%yh : memref<32x8xf32, strided<[8, 1], offset: ?>>) {
    ^bb0(%a: f32, %b: f32, %o: f32):
      %p = arith.mulf %a, %b : f32
      %r = arith.addf %o, %p : f32
      linalg.yield %r : f32
    }
  }
  return
}

// CHECK-LABEL: func @carried_buffer
// CHECK-NOT:     gpu.subgroup_mma_compute
// CHECK:         linalg.generic
func.func @carried_buffer(%x: memref<32x16xf32>, %w: memref<16x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  scf.forall (%h) in (4) {
    %init = memref.alloc() : memref<32x16xf32>
    %last = scf.for %t = %c0 to %c4 step %c1 iter_args(%y = %init) -> (memref<32x16xf32>) {
      linalg.generic {indexing_maps = [affine_map<(i, j, c) -> (i, c)>, affine_map<(i, j, c) -> (c, j)>, affine_map<(i, j, c) -> (i, j)>], iterator_types = ["parallel", "parallel", "reduction"]}
          ins(%x, %w : memref<32x16xf32>, memref<16x16xf32>) outs(%y : memref<32x16xf32>) {
      ^bb0(%a: f32, %b: f32, %o: f32):
        %p = arith.mulf %a, %b : f32
        %r = arith.addf %o, %p : f32
        linalg.yield %r : f32
      }
      scf.yield %y : memref<32x16xf32>
    }
  }
  return
}

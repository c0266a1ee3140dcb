// RUN: tptt-opt %s -split-input-file -tptt-fuse-elementwise-ops | FileCheck %s

// A causal mask before a product (the operator's causal(Q Kᵀ) U) stays its
// own op: the product remains a contraction.
// CHECK-LABEL: func @mask_then_product
// CHECK:         %[[MASKED:.+]] = linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK:           arith.select
// CHECK:         linalg.generic {{.+}} iterator_types = ["parallel", "reduction", "parallel"]{{.+}} ins(%[[MASKED]], %{{.+}} :
// CHECK-NOT:       arith.select
// CHECK:           arith.mulf
// CHECK:           arith.addf
#id = affine_map<(i, j) -> (i, j)>
#lhs = affine_map<(i, k, j) -> (i, k)>
#rhs = affine_map<(i, k, j) -> (k, j)>
#out = affine_map<(i, k, j) -> (i, j)>
func.func @mask_then_product(%a: tensor<16x16xf32>, %u: tensor<16x64xf32>, %e: tensor<16x16xf32>,
                             %init: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %zero = arith.constant 0.0 : f32
  %masked = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<16x16xf32>) outs(%e : tensor<16x16xf32>) {
  ^bb0(%x: f32, %o: f32):
    %i = linalg.index 0 : index
    %j = linalg.index 1 : index
    %visible = arith.cmpi ule, %j, %i : index
    %y = arith.select %visible, %x, %zero : f32
    linalg.yield %y : f32
  } -> tensor<16x16xf32>
  %r = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%masked, %u : tensor<16x16xf32>, tensor<16x64xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %p = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}

// -----

// A type conversion fuses into the product (still a contraction), and
// elementwise chains fuse as upstream.
// CHECK-LABEL: func @conversion_and_chain
// CHECK:         linalg.generic {{.+}} iterator_types = ["parallel", "reduction", "parallel"]{{.+}} ins(%{{.+}}, %{{.+}} : tensor<16x16xbf16>, tensor<16x64xf32>)
// CHECK:           arith.extf
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK:         linalg.generic {{.+}} iterator_types = ["parallel", "parallel"]
// CHECK:           arith.negf
// CHECK:           math.exp
// CHECK-NOT:     linalg.generic
#id = affine_map<(i, j) -> (i, j)>
#lhs = affine_map<(i, k, j) -> (i, k)>
#rhs = affine_map<(i, k, j) -> (k, j)>
#out = affine_map<(i, k, j) -> (i, j)>
func.func @conversion_and_chain(%a: tensor<16x16xbf16>, %u: tensor<16x64xf32>, %e: tensor<16x16xf32>,
                                %init: tensor<16x64xf32>, %x: tensor<16x64xf32>, %t: tensor<16x64xf32>,
                                %t2: tensor<16x64xf32>) -> (tensor<16x64xf32>, tensor<16x64xf32>) {
  %wide = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%a : tensor<16x16xbf16>) outs(%e : tensor<16x16xf32>) {
  ^bb0(%v: bf16, %o: f32):
    %w = arith.extf %v : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<16x16xf32>
  %r = linalg.generic {indexing_maps = [#lhs, #rhs, #out], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%wide, %u : tensor<16x16xf32>, tensor<16x64xf32>) outs(%init : tensor<16x64xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<16x64xf32>
  %neg = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%x : tensor<16x64xf32>) outs(%t : tensor<16x64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = arith.negf %v : f32
    linalg.yield %n : f32
  } -> tensor<16x64xf32>
  %exp = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%neg : tensor<16x64xf32>) outs(%t2 : tensor<16x64xf32>) {
  ^bb0(%v: f32, %o: f32):
    %n = math.exp %v : f32
    linalg.yield %n : f32
  } -> tensor<16x64xf32>
  return %r, %exp : tensor<16x64xf32>, tensor<16x64xf32>
}

// -----

// A bf16 weight widened once and read by two projections: each projection
// gets its own copy of the conversion, fused into it, so that no f32 copy of
// the weight is written.
// CHECK-LABEL: func @shared_weight_conversion
// CHECK-NOT:     outs(%{{.+}} : tensor<16x64xf32>)
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %[[W:.+]] : tensor<?x16xf32>, tensor<16x64xbf16>)
// CHECK:           arith.extf
// CHECK:           arith.mulf
// CHECK:         linalg.generic {{.+}} ins(%{{.+}}, %[[W]] : tensor<?x16xf32>, tensor<16x64xbf16>)
// CHECK:           arith.extf
// CHECK:           arith.mulf
#id2 = affine_map<(i, j) -> (i, j)>
#x = affine_map<(i, k, j) -> (i, k)>
#w = affine_map<(i, k, j) -> (k, j)>
#y = affine_map<(i, k, j) -> (i, j)>
func.func @shared_weight_conversion(%wb: tensor<16x64xbf16>, %a: tensor<?x16xf32>,
                                    %b: tensor<?x16xf32>, %ya: tensor<?x64xf32>,
                                    %yb: tensor<?x64xf32>) -> (tensor<?x64xf32>, tensor<?x64xf32>) {
  %e = tensor.empty() : tensor<16x64xf32>
  %w = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%wb : tensor<16x64xbf16>) outs(%e : tensor<16x64xf32>) {
  ^bb0(%v: bf16, %o: f32):
    %f = arith.extf %v : bf16 to f32
    linalg.yield %f : f32
  } -> tensor<16x64xf32>
  %ra = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%a, %w : tensor<?x16xf32>, tensor<16x64xf32>) outs(%ya : tensor<?x64xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  %rb = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "reduction", "parallel"]}
      ins(%b, %w : tensor<?x16xf32>, tensor<16x64xf32>) outs(%yb : tensor<?x64xf32>) {
  ^bb0(%p: f32, %q: f32, %acc: f32):
    %m = arith.mulf %p, %q : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<?x64xf32>
  return %ra, %rb : tensor<?x64xf32>, tensor<?x64xf32>
}

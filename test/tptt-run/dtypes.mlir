// Every dtype in and out, bound by the default names arg0, arg1, ... and
// written under the default names result0, result1, ...; an i1 argument
// takes BOOL, U8, I32 or I64 data (nonzero is true), nothing else.
// RUN: %python %S/Inputs/make.py all-dtypes %t.all.safetensors
// RUN: tptt-run %s --entry all --inputs %t.all.safetensors | FileCheck %s --check-prefix=ALL
// RUN: tptt-run %s --entry all --inputs %t.all.safetensors --outputs %t.out.safetensors
// RUN: %python %S/Inputs/dump.py %t.out.safetensors | FileCheck %s --check-prefix=FILE
// RUN: %python %S/Inputs/make.py mask-I64 %t.i64.safetensors
// RUN: tptt-run %s --entry masked --inputs %t.i64.safetensors | FileCheck %s --check-prefix=MASK
// RUN: %python %S/Inputs/make.py mask-U8 %t.u8.safetensors
// RUN: tptt-run %s --entry masked --inputs %t.u8.safetensors | FileCheck %s --check-prefix=MASK
// RUN: %python %S/Inputs/make.py mask-I32 %t.i32.safetensors
// RUN: tptt-run %s --entry masked --inputs %t.i32.safetensors | FileCheck %s --check-prefix=MASK
// RUN: %python %S/Inputs/make.py mask-F32 %t.f32.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --entry masked --inputs %t.f32.safetensors | FileCheck %s --check-prefix=MASK-F32

// ALL:      result0: f64 [2]
// ALL-NEXT:   0.5 -2
// ALL-NEXT: result1: f32 [2]
// ALL-NEXT:   1 6
// ALL-NEXT: result2: f16 [2]
// ALL-NEXT:   1.5 -8
// ALL-NEXT: result3: bf16 [2]
// ALL-NEXT:   3 -4.5
// ALL-NEXT: result4: i64 [2]
// ALL-NEXT:   2199023255552 -14
// ALL-NEXT: result5: i32 [2]
// ALL-NEXT:   10 -12
// ALL-NEXT: result6: i8 [2]
// ALL-NEXT:   120 -6
// ALL-NEXT: result7: i1 [2]
// ALL-NEXT:   0 1

// FILE:      result0 F64 [2] [0.5, -2.0] aligned
// FILE-NEXT: result1 F32 [2] [1.0, 6.0] aligned
// FILE-NEXT: result2 F16 [2] [1.5, -8.0] aligned
// FILE-NEXT: result3 BF16 [2] [3.0, -4.5] aligned
// FILE-NEXT: result4 I64 [2] [2199023255552, -14] aligned
// FILE-NEXT: result5 I32 [2] [10, -12] aligned
// FILE-NEXT: result6 I8 [2] [120, -6] aligned
// FILE-NEXT: result7 BOOL [2] [0, 1] aligned

// MASK:      result0: f32 [3]
// MASK-NEXT:   1.5 0 3.5

// MASK-F32:      tptt-run: error: tensor 'mask' has dtype F32, but the argument is i1
// MASK-F32-NEXT: status: 2

#id = affine_map<(d0) -> (d0)>
func.func @all(%a: tensor<2xf64>, %b: tensor<2xf32>, %c: tensor<2xf16>,
               %d: tensor<2xbf16>, %e: tensor<2xi64>, %f: tensor<2xi32>,
               %g: tensor<2xi8>, %m: tensor<2xi1>)
    -> (tensor<2xf64>, tensor<2xf32>, tensor<2xf16>, tensor<2xbf16>,
        tensor<2xi64>, tensor<2xi32>, tensor<2xi8>, tensor<2xi1>) {
  %a0 = tensor.empty() : tensor<2xf64>
  %b0 = tensor.empty() : tensor<2xf32>
  %c0 = tensor.empty() : tensor<2xf16>
  %d0 = tensor.empty() : tensor<2xbf16>
  %e0 = tensor.empty() : tensor<2xi64>
  %f0 = tensor.empty() : tensor<2xi32>
  %g0 = tensor.empty() : tensor<2xi8>
  %m0 = tensor.empty() : tensor<2xi1>
  %r:8 = linalg.generic {
      indexing_maps = [#id, #id, #id, #id, #id, #id, #id, #id,
                       #id, #id, #id, #id, #id, #id, #id, #id],
      iterator_types = ["parallel"]}
      ins(%a, %b, %c, %d, %e, %f, %g, %m
          : tensor<2xf64>, tensor<2xf32>, tensor<2xf16>, tensor<2xbf16>,
            tensor<2xi64>, tensor<2xi32>, tensor<2xi8>, tensor<2xi1>)
      outs(%a0, %b0, %c0, %d0, %e0, %f0, %g0, %m0
          : tensor<2xf64>, tensor<2xf32>, tensor<2xf16>, tensor<2xbf16>,
            tensor<2xi64>, tensor<2xi32>, tensor<2xi8>, tensor<2xi1>) {
  ^bb0(%xa: f64, %xb: f32, %xc: f16, %xd: bf16, %xe: i64, %xf: i32, %xg: i8,
       %xm: i1, %oa: f64, %ob: f32, %oc: f16, %od: bf16, %oe: i64, %of: i32,
       %og: i8, %om: i1):
    %ya = arith.addf %xa, %xa : f64
    %yb = arith.addf %xb, %xb : f32
    %yc = arith.addf %xc, %xc : f16
    %yd = arith.addf %xd, %xd : bf16
    %ye = arith.addi %xe, %xe : i64
    %yf = arith.addi %xf, %xf : i32
    %yg = arith.addi %xg, %xg : i8
    %true = arith.constant true
    %ym = arith.xori %xm, %true : i1
    linalg.yield %ya, %yb, %yc, %yd, %ye, %yf, %yg, %ym
        : f64, f32, f16, bf16, i64, i32, i8, i1
  } -> (tensor<2xf64>, tensor<2xf32>, tensor<2xf16>, tensor<2xbf16>,
        tensor<2xi64>, tensor<2xi32>, tensor<2xi8>, tensor<2xi1>)
  return %r#0, %r#1, %r#2, %r#3, %r#4, %r#5, %r#6, %r#7
      : tensor<2xf64>, tensor<2xf32>, tensor<2xf16>, tensor<2xbf16>,
        tensor<2xi64>, tensor<2xi32>, tensor<2xi8>, tensor<2xi1>
}

// x where the mask is true, else 0.
func.func @masked(%x: tensor<?xf32> {tptt.name = "x"},
                  %mask: tensor<?xi1> {tptt.name = "mask"}) -> tensor<?xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?xf32>
  %init = tensor.empty(%n) : tensor<?xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #id],
                       iterator_types = ["parallel"]}
      ins(%x, %mask : tensor<?xf32>, tensor<?xi1>) outs(%init : tensor<?xf32>) {
  ^bb0(%xv: f32, %m: i1, %o: f32):
    %zero = arith.constant 0.0 : f32
    %v = arith.select %m, %xv, %zero : f32
    linalg.yield %v : f32
  } -> tensor<?xf32>
  return %r : tensor<?xf32>
}

// A module compiled ahead of time into a module library and run by
// tptt-run-module, which links neither MLIR nor LLVM: its manifest, its
// results (those of the JIT), the comparison with expected results and the
// benchmark report.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tptt-compile %s -o %t/project.so 2> /dev/null
// RUN: tptt-run-module %t/project.so --list | FileCheck %s --check-prefix=LIST
// RUN: %python %S/../tptt-run/Inputs/make.py by-name %t/names.safetensors
// RUN: tptt-run-module %t/project.so --inputs %t/names.safetensors | FileCheck %s --check-prefix=PRINT
// RUN: tptt-run %s --inputs %t/names.safetensors --outputs %t/jit.safetensors
// RUN: tptt-run-module %t/project.so --inputs %t/names.safetensors --expected %t/jit.safetensors --tolerance 0 | FileCheck %s --check-prefix=SAME
// RUN: tptt-run-module %t/project.so --inputs %t/names.safetensors --outputs %t/aot.safetensors
// RUN: tptt-run-module %t/project.so --inputs %t/names.safetensors --expected %t/aot.safetensors --benchmark 3 --json | FileCheck %s --check-prefix=JSON
// RUN: %python %S/../tptt-run/Inputs/make.py by-order %t/order.safetensors
// RUN: tptt-run-module %t/project.so --inputs %t/order.safetensors --device cpu | FileCheck %s --check-prefix=PRINT
// RUN: ldd tptt-run-module | FileCheck %s --check-prefix=LDD
//
// For --target cuda the library has the GPU code and the CPU code.
// RUN: tptt-compile %s --target cuda -o %t/cuda.so 2> /dev/null
// RUN: tptt-run-module %t/cuda.so --list | FileCheck %s --check-prefix=CUDA-LIST
// RUN: tptt-run-module %t/cuda.so --inputs %t/names.safetensors --device cpu | FileCheck %s --check-prefix=PRINT
// RUN: %if !cuda-device %{ %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/cuda.so --inputs %t/names.safetensors | FileCheck %s --check-prefix=NO-GPU %}
// RUN: %if cuda-device %{ tptt-run-module %t/cuda.so --inputs %t/names.safetensors --expected %t/jit.safetensors | FileCheck %s --check-prefix=SAME %}

// LIST: devices: cpu
// LIST-NEXT: @project
// LIST-NEXT:   argument input: f32 [?, 3]
// LIST-NEXT:   argument weight: f32 [4, 3]
// LIST-NEXT:   result result0: f32 [?, 4]
// PRINT: result0: f32 [2, 4]
// PRINT-NEXT:   0 1 2 3 3 4 5 12
// SAME: PASS @project 0
// JSON: {"benchmark":{"calls":3,"max_ms":{{.+}},"median_ms":{{.+}},"min_ms":{{.+}},"timer":"steady-clock"},"device":"cpu","errors":{"result0":0.0},"function":"project","max_relative_error":0.0,"passed":true,"tolerance":1e-05}
// LDD-NOT: libMLIR
// LDD-NOT: libLLVM
// CUDA-LIST: devices: cuda, cpu
// CUDA-LIST-NEXT: @project
// NO-GPU: tptt-run-module: error: --device cuda: no CUDA driver: cannot load libcuda.so.1
// NO-GPU-NEXT: status: 2
func.func @project(%x: tensor<?x3xf32> {tptt.name = "input"},
                   %w: tensor<4x3xf32> {tptt.name = "weight"}) -> tensor<?x4xf32> {
  %y = tptt.linear %x, %w : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// Arguments bound by name (tptt.name) and by order; results to a file or
// printed.
// RUN: %python %S/Inputs/make.py by-name %t.names.safetensors
// RUN: tptt-run %s --entry project --inputs %t.names.safetensors --outputs %t.out.safetensors
// RUN: %python -c "from tptt import safetensors as s; t, _ = s.load('%t.out.safetensors'); print(sorted(t), t['y'].flatten().tolist())" | FileCheck %s --check-prefix=FILE
// RUN: %python %S/Inputs/make.py by-order %t.order.safetensors
// RUN: tptt-run %s --entry project --inputs %t.order.safetensors | FileCheck %s --check-prefix=PRINT
// RUN: tptt-run %s --entry project --emit=linalg | FileCheck %s --check-prefix=EMIT
// The CUDA target's kernels, emulated on the CPU, compute the same.
// RUN: tptt-run %s --entry project --inputs %t.order.safetensors --target cuda-on-cpu | FileCheck %s --check-prefix=PRINT
// RUN: tptt-run %s --entry project --emit=gpu --target cuda-on-cpu | FileCheck %s --check-prefix=EMULATED

// FILE: ['y'] [0.0, 1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 12.0]
// PRINT: y: f32 [2, 4]
// PRINT-NEXT:  0 1 2 3 3 4 5 12
// EMULATED-LABEL: func.func @project
// EMULATED-NOT:     gpu.launch
// EMULATED:         scf.parallel ({{.+}}) = ({{.+}}) to ({{.+}}) step ({{.+}}) {
// EMIT-LABEL: func.func @project
// EMIT-NOT:     tptt.linear
// EMIT:         linalg.generic
func.func @project(%x: tensor<?x3xf32> {tptt.name = "input"},
                   %w: tensor<4x3xf32> {tptt.name = "weight"})
    -> (tensor<?x4xf32> {tptt.name = "y"}) {
  %y = tptt.linear %x, %w : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// Every bad input is one clear message and exit status 2, and no output
// file is left behind.
// RUN: %python %S/Inputs/make.py missing %t.missing.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.missing.safetensors --outputs %t.out.safetensors | FileCheck %s --check-prefix=MISSING
// RUN: %python -c "import os; print(os.path.exists('%t.out.safetensors'))" | FileCheck %s --check-prefix=NO-OUTPUT
// RUN: %python %S/Inputs/make.py shape %t.shape.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.shape.safetensors | FileCheck %s --check-prefix=SHAPE
// RUN: %python %S/Inputs/make.py dtype %t.dtype.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.dtype.safetensors | FileCheck %s --check-prefix=DTYPE
// RUN: %python %S/Inputs/make.py truncated %t.truncated.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.truncated.safetensors | FileCheck %s --check-prefix=TRUNCATED
// RUN: %python %S/Inputs/make.py bad-json %t.json.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.json.safetensors | FileCheck %s --check-prefix=JSON
// RUN: %python %S/Inputs/make.py bad-offsets %t.offsets.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.offsets.safetensors | FileCheck %s --check-prefix=OFFSETS
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.nowhere.safetensors | FileCheck %s --check-prefix=NO-FILE
// RUN: %python %S/Inputs/status.py tptt-run %s --entry nope | FileCheck %s --check-prefix=ENTRY
// RUN: %python %S/Inputs/status.py tptt-run %s --emit=ptx | FileCheck %s --check-prefix=STAGE
// RUN: %python %S/Inputs/make.py rank %t.rank.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.rank.safetensors | FileCheck %s --check-prefix=RANK
// RUN: %python %S/Inputs/make.py unknown-dtype %t.fp8.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.fp8.safetensors | FileCheck %s --check-prefix=FP8
// RUN: %python %S/Inputs/make.py huge-shape %t.huge.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.huge.safetensors | FileCheck %s --check-prefix=HUGE
// RUN: %python %S/Inputs/status.py tptt-run %s | FileCheck %s --check-prefix=NO-INPUTS
// RUN: %python %S/Inputs/status.py tptt-run %S/dtypes.mlir | FileCheck %s --check-prefix=WHICH
// RUN: %python %S/Inputs/status.py tptt-run %t.nowhere.mlir | FileCheck %s --check-prefix=NO-MODULE
// RUN: echo "func.func @f(" > %t.syntax.mlir
// RUN: %python %S/Inputs/status.py tptt-run %t.syntax.mlir | FileCheck %s --check-prefix=SYNTAX
// RUN: echo "func.func @f(%%x: tensor<2x3xf32>) -> tensor<2x3xf32> { %%t = tptt.tril_inverse %%x : tensor<2x3xf32> return %%t : tensor<2x3xf32> }" > %t.invalid.mlir
// RUN: %python %S/Inputs/status.py tptt-run %t.invalid.mlir | FileCheck %s --check-prefix=INVALID
// RUN: %python %S/Inputs/status.py tptt-run %s --num-threads=many | FileCheck %s --check-prefix=THREADS
// RUN: %python %S/Inputs/status.py tptt-run %s --num-threads=5000 | FileCheck %s --check-prefix=THREADS-MANY
// RUN: %python %S/Inputs/status.py tptt-run %s --bogus | FileCheck %s --check-prefix=OPTION
// RUN: %python %S/Inputs/status.py tptt-run %s --target tpu | FileCheck %s --check-prefix=TARGET
// RUN: %if !cuda-device %{ %python %S/Inputs/status.py tptt-run %s --target cuda | FileCheck %s --check-prefix=NO-GPU %}
//
// A failed write leaves neither the output nor its temporary file: here the
// output path is a directory, so the final rename fails.
// RUN: %python %S/Inputs/make.py by-name %t.names.safetensors
// RUN: rm -rf %t.dir && mkdir -p %t.dir/out.safetensors
// RUN: %python %S/Inputs/status.py tptt-run %s --inputs %t.names.safetensors --outputs %t.dir/out.safetensors | FileCheck %s --check-prefix=WRITE
// RUN: ls -A %t.dir | FileCheck %s --check-prefix=WRITE-LEFT

// MISSING: tptt-run: error: missing tensor 'weight' for argument #1 of @project in {{.+}}missing.safetensors (it has: input)
// MISSING-NEXT: status: 2
// NO-OUTPUT: False
// SHAPE: tptt-run: error: tensor 'input' has shape [3, 2], but argument #0 of @project is tensor<?x3xf32>
// SHAPE-NEXT: status: 2
// DTYPE: tptt-run: error: tensor 'input' has dtype F64, but the argument is f32
// DTYPE-NEXT: status: 2
// TRUNCATED: tptt-run: error: {{.+}}truncated.safetensors: corrupt safetensors header: it claims 1000 bytes but the file has 2 after the length field
// TRUNCATED-NEXT: status: 2
// JSON: tptt-run: error: {{.+}}json.safetensors: corrupt safetensors header: not valid JSON
// JSON-NEXT: status: 2
// OFFSETS: tptt-run: error: {{.+}}offsets.safetensors: corrupt safetensors header: tensor 'input': data_offsets [0, 4000) are outside the 24 data bytes
// OFFSETS-NEXT: status: 2
// NO-FILE: tptt-run: error: {{.+}}nowhere.safetensors: No such file or directory
// NO-FILE-NEXT: status: 2
// ENTRY: tptt-run: error: no public function @nope in {{.+}}errors.mlir (it has @project)
// ENTRY-NEXT: status: 2
// STAGE: tptt-run: error: unknown stage 'ptx' (tptt, autodiff, linalg, tiled, bufferized, loops, gpu, llvm)
// STAGE-NEXT: status: 2
// RANK: tptt-run: error: tensor 'input' has shape [6], but argument #0 of @project is tensor<?x3xf32>
// RANK-NEXT: status: 2
// FP8: tptt-run: error: {{.+}}fp8.safetensors: corrupt safetensors header: tensor 'input': unknown dtype "F8_E4M3"
// FP8-NEXT: status: 2
// HUGE: tptt-run: error: {{.+}}huge.safetensors: corrupt safetensors header: tensor 'input': its shape is too large to address
// HUGE-NEXT: status: 2
// NO-INPUTS: tptt-run: error: @project takes 2 arguments: give --inputs
// NO-INPUTS-NEXT: status: 2
// WHICH: tptt-run: error: several functions (@all, @masked): choose one with --entry
// WHICH-NEXT: status: 2
// NO-MODULE: tptt-run: error: cannot open input file '{{.+}}nowhere.mlir': No such file or directory
// NO-MODULE-NEXT: status: 2
// SYNTAX: tptt-run: error: {{.+}}syntax.mlir:1:14: expected non-function type
// SYNTAX-NEXT: status: 2
// INVALID: tptt-run: error: {{.+}}invalid.mlir:1:{{[0-9]+}}: 'tptt.tril_inverse' op 'input' must be square in its last two dimensions, got 2x3
// INVALID-NEXT: status: 2
// THREADS: tptt-run: error: --num-threads must be 0 (all cores) or an integer up to 4096, not 'many'
// THREADS-NEXT: status: 2
// THREADS-MANY: tptt-run: error: --num-threads must be 0 (all cores) or an integer up to 4096, not '5000'
// THREADS-MANY-NEXT: status: 2
// OPTION: tptt-run: error: Unknown command line argument '--bogus'.
// OPTION-NEXT: status: 2
// TARGET: tptt-run: error: --target must be cpu, cuda or cuda-on-cpu, not 'tpu'
// TARGET-NEXT: status: 2
// NO-GPU: tptt-run: error: --target cuda: no CUDA driver: cannot load libcuda.so.1
// NO-GPU-NEXT: status: 2
// WRITE: tptt-run: error: {{.+}}out.safetensors: is a directory, not a file
// WRITE-NEXT: status: 2
// WRITE-LEFT: out.safetensors
// WRITE-LEFT-NOT: {{.}}
func.func @project(%x: tensor<?x3xf32> {tptt.name = "input"},
                   %w: tensor<4x3xf32> {tptt.name = "weight"}) -> tensor<?x4xf32> {
  %y = tptt.linear %x, %w : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

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
// RUN: %python %S/Inputs/status.py tptt-run %s --emit=gpu | FileCheck %s --check-prefix=STAGE

// MISSING: tptt-run: error: missing tensor 'weight' for argument #1 of @project in {{.+}}missing.safetensors (it has: input)
// MISSING-NEXT: status: 2
// NO-OUTPUT: False
// SHAPE: tptt-run: error: tensor 'input' has shape [3, 2], but argument #0 of @project is tensor<?x3xf32>
// SHAPE-NEXT: status: 2
// DTYPE: tptt-run: error: tensor 'input' has dtype F64, but the argument is f32
// DTYPE-NEXT: status: 2
// TRUNCATED: tptt-run: error: {{.+}}truncated.safetensors: corrupt safetensors header: it claims 1000 bytes but the file has 2 after the length field
// TRUNCATED-NEXT: status: 2
// JSON: tptt-run: error: {{.+}}json.safetensors: corrupt safetensors header: not a JSON object
// JSON-NEXT: status: 2
// OFFSETS: tptt-run: error: {{.+}}offsets.safetensors: corrupt safetensors header: tensor 'input': data_offsets [0, 4000) are outside the 24 data bytes
// OFFSETS-NEXT: status: 2
// NO-FILE: tptt-run: error: {{.+}}nowhere.safetensors: No such file or directory
// NO-FILE-NEXT: status: 2
// ENTRY: tptt-run: error: no public function @nope in {{.+}}errors.mlir (it has @project)
// ENTRY-NEXT: status: 2
// STAGE: tptt-run: error: unknown stage 'gpu' (tptt, linalg, tiled, bufferized, loops, llvm)
// STAGE-NEXT: status: 2
func.func @project(%x: tensor<?x3xf32> {tptt.name = "input"},
                   %w: tensor<4x3xf32> {tptt.name = "weight"}) -> tensor<?x4xf32> {
  %y = tptt.linear %x, %w : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

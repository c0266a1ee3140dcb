// Every bad input of tptt-run-module is one clear message and exit status
// 2; a result outside the tolerance is FAIL and exit status 1.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tptt-compile %s -o %t/project.so 2> /dev/null
// RUN: %python %S/../tptt-run/Inputs/make.py by-name %t/names.safetensors
// RUN: %python %S/../tptt-run/Inputs/make.py missing %t/missing.safetensors
// RUN: %python %S/../tptt-run/Inputs/make.py shape %t/shape.safetensors
// RUN: %python %S/../tptt-run/Inputs/make.py dtype %t/dtype.safetensors
// RUN: %python %S/../tptt-run/Inputs/make.py truncated %t/truncated.safetensors
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --function nope --inputs %t/names.safetensors | FileCheck %s --check-prefix=FUNCTION
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/missing.safetensors | FileCheck %s --check-prefix=MISSING
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/shape.safetensors | FileCheck %s --check-prefix=SHAPE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/dtype.safetensors | FileCheck %s --check-prefix=DTYPE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/truncated.safetensors | FileCheck %s --check-prefix=TRUNCATED
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so | FileCheck %s --check-prefix=NO-INPUTS
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/names.safetensors --expected %t/missing.safetensors | FileCheck %s --check-prefix=NO-EXPECTED
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/names.safetensors --mask input | FileCheck %s --check-prefix=MASK
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/names.safetensors --device tpu | FileCheck %s --check-prefix=DEVICE
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/names.safetensors --benchmark=-1 | FileCheck %s --check-prefix=BENCHMARK
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --bogus | FileCheck %s --check-prefix=FLAG
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module | FileCheck %s --check-prefix=NO-LIBRARY
//
// Results that differ from the expected ones fail the comparison.
// RUN: %python -c "import sys; sys.path.insert(0, '%tptt_src_root/python'); import numpy as np; from tptt import safetensors; safetensors.save('%t/wrong.safetensors', {'result0': np.zeros((2, 4), np.float32)})"
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/project.so --inputs %t/names.safetensors --expected %t/wrong.safetensors | FileCheck %s --check-prefix=WRONG
//
// Libraries that are not (good) module libraries.
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/nowhere.so | FileCheck %s --check-prefix=NO-FILE
// RUN: head -c 4000 %t/project.so > %t/cut.so
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/cut.so | FileCheck %s --check-prefix=CORRUPT
// RUN: echo 'int other(void) { return 0; }' > %t/other.c && cc -shared -fPIC -o %t/other.so %t/other.c
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/other.so | FileCheck %s --check-prefix=NOT-MODULE
// RUN: echo 'const char tptt_module_manifest[] = "{\"tptt_module\": 2}";' > %t/v2.c && cc -shared -fPIC -o %t/v2.so %t/v2.c
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/v2.so | FileCheck %s --check-prefix=VERSION
// RUN: echo 'const char tptt_module_manifest[] = "{\"tptt_module\": 1, \"devices\": [\"cpu\"], \"functions\": [{\"name\": \"f\", \"arguments\": [], \"results\": []}]}";' > %t/nocode.c && cc -shared -fPIC -o %t/nocode.so %t/nocode.c
// RUN: %python %S/../tptt-run/Inputs/status.py tptt-run-module %t/nocode.so | FileCheck %s --check-prefix=NO-CODE

// FUNCTION: tptt-run-module: error: no function @nope in {{.+}}project.so (it has @project)
// FUNCTION-NEXT: status: 2
// MISSING: tptt-run-module: error: missing input 'weight' of @project in {{.+}}missing.safetensors (it has: input)
// MISSING-NEXT: status: 2
// SHAPE: tptt-run-module: error: {{.+}}shape.safetensors: tensor 'input' has the shape [3, 2], but argument 'input' is f32 [?, 3]
// SHAPE-NEXT: status: 2
// DTYPE: tptt-run-module: error: {{.+}}dtype.safetensors: tensor 'input' is F64, but argument 'input' is f32 [?, 3]
// DTYPE-NEXT: status: 2
// TRUNCATED: tptt-run-module: error: {{.+}}truncated.safetensors: corrupt safetensors header: it claims 1000 bytes but the file has 2 after the length field
// TRUNCATED-NEXT: status: 2
// NO-INPUTS: tptt-run-module: error: @project takes 2 arguments: give --inputs
// NO-INPUTS-NEXT: status: 2
// NO-EXPECTED: tptt-run-module: error: {{.+}}missing.safetensors has no tensor 'result0' (result of @project)
// NO-EXPECTED-NEXT: status: 2
// MASK: tptt-run-module: error: --tolerance and --mask need --expected
// MASK-NEXT: status: 2
// DEVICE: tptt-run-module: error: --device must be cpu or cuda, not 'tpu'
// DEVICE-NEXT: status: 2
// BENCHMARK: tptt-run-module: error: flag '--benchmark' must be an integer in [0, 1000000], not '-1'
// BENCHMARK-NEXT: status: 2
// FLAG: tptt-run-module: error: unknown flag '--bogus' (see --help)
// FLAG-NEXT: status: 2
// NO-LIBRARY: tptt-run-module: error: no module library (tptt-run-module LIB.so ...; see --help)
// NO-LIBRARY-NEXT: status: 2
// WRONG: FAIL @project 1
// WRONG-NEXT: status: 1
// NO-FILE: tptt-run-module: error: {{.+}}nowhere.so: cannot load the module library ({{.+}}No such file or directory)
// NO-FILE-NEXT: status: 2
// CORRUPT: tptt-run-module: error: {{.+}}cut.so: cannot load the module library (its ELF headers point past the end of the file (truncated?))
// CORRUPT-NEXT: status: 2
// NOT-MODULE: tptt-run-module: error: {{.+}}other.so: not a tptt module library (no tptt_module_manifest; compile one with tptt-compile FILE.mlir -o LIB.so)
// NOT-MODULE-NEXT: status: 2
// VERSION: tptt-run-module: error: {{.+}}v2.so: the manifest has format version 2; this runtime reads version 1
// VERSION-NEXT: status: 2
// NO-CODE: tptt-run-module: error: {{.+}}nocode.so: the manifest lists 'f', but the library has no cpu code for it
// NO-CODE-NEXT: status: 2
func.func @project(%x: tensor<?x3xf32> {tptt.name = "input"},
                   %w: tensor<4x3xf32> {tptt.name = "weight"}) -> tensor<?x4xf32> {
  %y = tptt.linear %x, %w : (tensor<?x3xf32>, tensor<4x3xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// Golden mode on a directory it has never seen (no index.json): one line
// per case (malformed and unknown cases fail with a one-line reason, files
// without a `case` are skipped), the summary, exit status 1 when a case
// fails; in f32 the tolerance is 1e-5.
// RUN: rm -rf %t && mkdir -p %t/plain %t/indexed %t/bad-index %t/weights
// RUN: %python %S/Inputs/make.py goldens %t/plain
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/plain | FileCheck %s
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/plain --dtype f32 | FileCheck %s
// RUN: %python %S/Inputs/make.py indexed-goldens %t/indexed
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/indexed | FileCheck %s --check-prefix=INDEX
// RUN: %python %S/Inputs/make.py bad-index %t/bad-index
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/bad-index | FileCheck %s --check-prefix=BAD-INDEX
// RUN: %python %S/Inputs/make.py by-name %t/weights/model.safetensors
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/weights | FileCheck %s --check-prefix=NO-CASES
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/plain --dtype f16 | FileCheck %s --check-prefix=DTYPE
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/nothing-here | FileCheck %s --check-prefix=EMPTY

// CHECK-DAG: FAIL garbled inf
// CHECK-DAG: FAIL pool-bad 0.231
// CHECK-DAG: PASS pool-good {{[0-9.e-]+}}
// CHECK-DAG: FAIL pool-kernel inf
// CHECK-DAG: FAIL pool-rank inf
// CHECK-DAG: FAIL what inf
// CHECK-DAG: 1 passed, 5 failed
// CHECK-DAG: tptt-run: garbled: the `case` metadata is not a JSON object
// CHECK-DAG: tptt-run: pool-kernel: parameter 'kernel' is "3", not an integer
// CHECK-DAG: tptt-run: pool-rank: the case's tensors do not fit its kind: 'tptt.causal_mean' op 'input' must have rank 3
// CHECK-DAG: tptt-run: what: unknown golden kind 'what'
// CHECK-DAG: tptt-run: note: {{.+}}weights.safetensors: no `case` metadata, not a golden case; skipped
// CHECK: status: 1

// INDEX-DAG: PASS listed {{[0-9.e-]+}}
// INDEX-DAG: FAIL no-case inf
// INDEX-DAG: tptt-run: no-case: no `case` metadata
// INDEX-DAG: 1 passed, 1 failed
// INDEX: status: 1

// BAD-INDEX: tptt-run: error: {{.+}}index.json: every case needs a "name": {"kind":"pool"}
// BAD-INDEX-NEXT: status: 2
// NO-CASES: tptt-run: note: {{.+}}model.safetensors: no `case` metadata, not a golden case; skipped
// NO-CASES-NEXT: tptt-run: error: {{.+}}weights: no golden cases (safetensors files with a `case` metadata; subdirectories are not searched)
// NO-CASES-NEXT: status: 2
// DTYPE: tptt-run: error: --dtype must be f64 or f32, not 'f16'
// DTYPE-NEXT: status: 2
// EMPTY: tptt-run: error: {{.+}}nothing-here: No such file or directory
// EMPTY-NEXT: status: 2

// Golden mode on a directory it has never seen (no index.json): one line
// per case (malformed and unknown cases fail with a reason), the summary,
// exit status 1 when a case fails.
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/make.py goldens %t
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t | FileCheck %s
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t --dtype f16 | FileCheck %s --check-prefix=DTYPE
// RUN: %python %S/Inputs/status.py tptt-run --goldens %t/nothing-here | FileCheck %s --check-prefix=EMPTY

// CHECK-DAG: FAIL pool-bad 0.231
// CHECK-DAG: PASS pool-good {{[0-9.e-]+}}
// CHECK-DAG: FAIL pool-rank inf
// CHECK-DAG: FAIL what inf
// CHECK-DAG: 1 passed, 3 failed
// CHECK-DAG: tptt-run: pool-rank: the case's tensors do not fit its kind
// CHECK-DAG: tptt-run: what: unknown golden kind 'what'
// CHECK: status: 1
// DTYPE: tptt-run: error: --dtype must be f64 or f32, not 'f16'
// DTYPE: status: 2
// EMPTY: tptt-run: error: {{.+}}nothing-here: No such file or directory
// EMPTY: status: 2

// The device kit's run.sh on a machine without a GPU: one line, a non-zero
// status, nothing run and no report written (scripts/gpu-kit/run.sh).
// REQUIRES: !cuda-device
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/../tptt-run/Inputs/status.py sh %tptt_src_root/scripts/gpu-kit/run.sh %t/report | FileCheck %s
// RUN: ls -A %t | FileCheck %s --check-prefix=NOTHING --allow-empty

// CHECK: run.sh: no NVIDIA GPU on this machine ({{.+}}); the kit runs only on a GPU machine
// CHECK-NEXT: status: 1
// NOTHING-NOT: {{.}}

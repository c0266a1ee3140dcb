// RUN: tptt-opt %s -tptt-export-entry-points | FileCheck %s

// Only public definitions get a C interface; runtime declarations and
// private helpers keep their plain symbols.
// CHECK-LABEL: func.func @entry
// CHECK-SAME:    attributes {llvm.emit_c_interface}
// CHECK:       func.func private @helper()
// CHECK-NOT:     llvm.emit_c_interface
// CHECK:       func.func private @rtclock() -> f64
// CHECK-NOT:     llvm.emit_c_interface
func.func @entry() {
  call @helper() : () -> ()
  return
}
func.func private @helper() {
  return
}
func.func private @rtclock() -> f64

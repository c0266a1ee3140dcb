// RUN: tptt-opt --help | FileCheck %s

// tptt-opt lists our dialect and passes next to upstream's.
// CHECK: Available Dialects: {{.*}}tptt
// CHECK: --tptt-decompose-liza-attention

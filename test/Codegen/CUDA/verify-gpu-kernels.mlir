// RUN: tptt-opt %s -split-input-file -verify-diagnostics -tptt-verify-gpu-kernels | FileCheck %s

// A kernel that calls a helper of its own module passes.
// CHECK-LABEL: gpu.module @fine
module attributes {gpu.container_module} {
  gpu.module @fine {
    func.func private @helper() {
      return
    }
    gpu.func @kernel() kernel {
      func.call @helper() : () -> ()
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @copies {
    gpu.func @kernel(%a: memref<8xf32>, %b: memref<8xf32>) kernel {
      // expected-error @below {{'memref.copy' in kernel 'kernel' would call the host-only memrefCopy}}
      memref.copy %a, %b : memref<8xf32> to memref<8xf32>
      gpu.return
    }
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @calls {
    func.func private @host()
    gpu.func @kernel() kernel {
      // expected-error @below {{a call in kernel 'kernel' of a function its gpu.module does not define}}
      func.call @host() : () -> ()
      gpu.return
    }
  }
}

// -----

// expected-error @below {{the PTX of 'unresolved' calls the libdevice function '__nv_expf' unresolved}}
gpu.binary @unresolved [#gpu.object<#nvvm.target<chip = "sm_90">, assembly = ".version 8.0\0A.target sm_90\0A.extern .func  (.param .b32 func_retval0) __nv_expf\0A(\0A.param .b32 __nv_expf_param_0\0A)\0A;\0A">]

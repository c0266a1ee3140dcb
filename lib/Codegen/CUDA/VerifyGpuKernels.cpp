//===- VerifyGpuKernels.cpp - The backend contract of GPU kernels ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "llvm/ADT/StringExtras.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTVERIFYGPUKERNELSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// The names of the functions a PTX text declares `.extern` whose name
/// starts with `__nv_` (libdevice's), in order of appearance.
SmallVector<StringRef> unresolvedLibdevice(StringRef ptx) {
  SmallVector<StringRef> names;
  SmallVector<StringRef> lines;
  ptx.split(lines, '\n');
  for (StringRef line : lines) {
    line = line.trim();
    if (!line.starts_with(".extern .func"))
      continue;
    size_t at = line.find("__nv_");
    if (at == StringRef::npos)
      continue;
    StringRef name = line.substr(at);
    names.push_back(
        name.take_while([](char c) { return llvm::isAlnum(c) || c == '_'; }));
  }
  return names;
}

struct TpttVerifyGpuKernelsPass
    : public tptt::impl::TpttVerifyGpuKernelsPassBase<
          TpttVerifyGpuKernelsPass> {
  void runOnOperation() override {
    bool broken = false;
    getOperation().walk([&](gpu::GPUFuncOp kernel) {
      kernel.walk([&](Operation *op) {
        if (isa<memref::CopyOp>(op)) {
          op->emitError("'memref.copy' in kernel '")
              << kernel.getName() << "' would call the host-only memrefCopy";
          broken = true;
        } else if (auto call = dyn_cast<CallOpInterface>(op)) {
          // Kernels may call the functions their gpu.module defines
          // (outlining clones the helpers they use), not declarations of
          // functions that only the host has.
          auto callee =
              dyn_cast_or_null<CallableOpInterface>(call.resolveCallable());
          if (!callee || !callee.getCallableRegion() ||
              callee.getCallableRegion()->empty()) {
            op->emitError("a call in kernel '")
                << kernel.getName()
                << "' of a function its gpu.module does not define";
            broken = true;
          }
        }
      });
    });
    getOperation().walk([&](gpu::BinaryOp binary) {
      for (Attribute attr : binary.getObjects()) {
        auto object = dyn_cast<gpu::ObjectAttr>(attr);
        if (!object)
          continue;
        for (StringRef name : unresolvedLibdevice(object.getObject())) {
          // At the location only: the op's PTX would fill the screen.
          emitError(binary.getLoc(), "the PTX of '")
              << binary.getName() << "' calls the libdevice function '" << name
              << "' unresolved (libdevice.10.bc was not found: give the CUDA "
                 "toolkit's path)";
          broken = true;
        }
      }
    });
    if (broken)
      signalPassFailure();
  }
};

} // namespace

//===- ExportEntryPoints.cpp - C interfaces for the entry points ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTEXPORTENTRYPOINTSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {
struct TpttExportEntryPointsPass
    : public tptt::impl::TpttExportEntryPointsPassBase<
          TpttExportEntryPointsPass> {
  void runOnOperation() override {
    StringRef name = LLVM::LLVMDialect::getEmitCWrapperAttrName();
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (func.isPublic() && !func.isDeclaration())
        func->setAttr(name, UnitAttr::get(&getContext()));
  }
};
} // namespace

//===- InitAll.cpp - register tptt and the upstream pieces it uses --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "tptt/Codegen/Passes.h"
#include "tptt/Conversion/Passes.h"
#include "tptt/Dialect/Tptt/IR/TpttDialect.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"
#include "tptt/Pipelines/Pipelines.h"

// tptt lowers through most of upstream MLIR (linalg, tensor, bufferization,
// scf, vector, gpu, nvvm, openmp, llvm, transform), and the bufferization,
// tiling and to-LLVM interfaces of those dialects live in extensions that
// are easy to miss one by one. Like mlir-opt, we register all of upstream so
// that any upstream pass can be tried on tptt IR.
void mlir::tptt::registerAllTpttDialects(DialectRegistry &registry) {
  registry.insert<TpttDialect>();
  registerAllDialects(registry);
  registerAllExtensions(registry);
  // gpu-module-to-binary translates the kernels to LLVM IR inside a pass.
  registerAllToLLVMIRTranslations(registry);
}

void mlir::tptt::registerAllTpttPasses() {
  registerAllPasses();
  registerTpttPasses();
  registerTpttCodegenPasses();
  registerTpttConversionPasses();
  registerTpttPipelines();
}

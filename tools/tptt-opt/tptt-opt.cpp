//===- tptt-opt.cpp - the tptt optimizer driver ---------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Like mlir-opt: parses tptt (and upstream) IR, runs passes and pipelines,
// and prints the result. Used by the lit tests and by compiler engineers.
//
//===----------------------------------------------------------------------===//

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "tptt/InitAll.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  mlir::tptt::registerAllTpttDialects(registry);
  mlir::tptt::registerAllTpttPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "tptt optimizer driver\n", registry));
}

//===- Goldens.h - Run a directory of golden cases --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_TOOLS_TPTT_RUN_GOLDENS_H
#define TPTT_TOOLS_TPTT_RUN_GOLDENS_H

#include "mlir/IR/MLIRContext.h"
#include "tptt/Pipelines/Pipelines.h"

#include <cstdint>
#include <string>

namespace tpttrun {

/// How runGoldens runs the cases.
struct GoldenOptions {
  /// f64 or f32.
  std::string precision = "f64";
  int64_t numThreads = 0;
  mlir::tptt::TpttTarget target = mlir::tptt::TpttTarget::CPU;
  /// Ahead of time: every case a function of one module library (compiled
  /// with the compile session), run by tptt-run-module; else each case is
  /// JIT-compiled and called in this process.
  bool aot = false;
  /// With aot: keep the library, each case's inputs and expected results,
  /// and cases.json (function, files, tolerance, mask per case) here.
  std::string aotDir;
  /// With aotDir: compile and write the cases, run none.
  bool compileOnly = false;
};

/// Runs every case of a golden directory (the format of shared/goldens:
/// one safetensors file per case, its parameters as JSON in the `case`
/// metadata; index.json lists them when present), printing `PASS|FAIL
/// <name> <max relative error>` per case and the summary `N passed, M
/// failed`. Returns the process exit status: 0 when all pass, 1 when a case
/// fails, 2 when the directory cannot be read.
int runGoldens(mlir::MLIRContext &context, const std::string &directory,
               const GoldenOptions &options);

} // namespace tpttrun

#endif // TPTT_TOOLS_TPTT_RUN_GOLDENS_H

//===- Goldens.h - Run a directory of golden cases --------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_TOOLS_TPTT_RUN_GOLDENS_H
#define TPTT_TOOLS_TPTT_RUN_GOLDENS_H

#include "mlir/IR/MLIRContext.h"
#include "tptt/Pipelines/Pipelines.h"

#include <string>

namespace tpttrun {

/// Runs every case of a golden directory (the format of shared/goldens:
/// one safetensors file per case, its parameters as JSON in the `case`
/// metadata; index.json lists them when present) in `precision` (f64 or
/// f32), printing `PASS|FAIL <name> <max relative error>` per case and the
/// summary `N passed, M failed`. Returns the process exit status: 0 when all
/// pass, 1 when a case fails, 2 when the directory cannot be read.
int runGoldens(mlir::MLIRContext &context, const std::string &directory,
               const std::string &precision, int64_t numThreads,
               mlir::tptt::TpttTarget target);

} // namespace tpttrun

#endif // TPTT_TOOLS_TPTT_RUN_GOLDENS_H

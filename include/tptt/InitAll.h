//===- InitAll.h - Register tptt and the upstream it uses ------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_INITALL_H
#define TPTT_INITALL_H

namespace mlir {
class DialectRegistry;
namespace tptt {

/// Registers the tptt dialect and the upstream dialects (and their external
/// interface models) that tptt's pipelines produce.
void registerAllTpttDialects(DialectRegistry &registry);

/// Registers tptt's passes and the upstream passes its pipelines use.
void registerAllTpttPasses();

} // namespace tptt
} // namespace mlir

#endif // TPTT_INITALL_H

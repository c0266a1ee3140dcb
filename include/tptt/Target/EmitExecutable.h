//===- EmitExecutable.h - LLVM dialect to object to executable --*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_TARGET_EMITEXECUTABLE_H
#define TPTT_TARGET_EMITEXECUTABLE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace tptt {
namespace target {

/// How an object is linked with the runtime.
enum class LinkKind {
  /// An executable with the launcher's main() (a model).
  Executable,
  /// A shared library exporting the C API of Runtime/tptt.h (a model).
  ModelLibrary,
  /// A shared library of compiled functions whose host ABI (mgpu*, the
  /// managed allocations, memrefCopy) the program that loads it provides
  /// (Runtime/ModuleLibrary.h).
  ModuleLibrary,
};

/// Translates `modules` (in the LLVM dialect; for CUDA the GPU code and the
/// CPU code, whose public symbols differ) to LLVM IR for the host CPU,
/// linked into one module, with what the runtime expects: for every name
/// in `entries`, `<name>_packed(void **args)` calling `_mlir_ciface_<name>`
/// with the pointers in `args` (every other function becomes internal),
/// and for every (symbol, text) of `globals` a NUL-terminated constant.
/// The module is optimized at -O3 for the host. Returns null and sets
/// `error` on failure.
std::unique_ptr<llvm::Module>
translateForHost(llvm::ArrayRef<mlir::ModuleOp> modules,
                 llvm::LLVMContext &context,
                 llvm::ArrayRef<std::string> entries,
                 llvm::ArrayRef<std::pair<std::string, std::string>> globals,
                 std::string &error);

/// Writes `module` as a host object file at `path`.
bool writeObject(llvm::Module &module, const std::string &path,
                 std::string &error);

/// Links `objectPath` as `kind` into `outputPath` (with the system C++
/// compiler driver, `$CXX` or `c++`).
bool linkBinary(const std::string &objectPath, const std::string &outputPath,
                LinkKind kind, std::string &error);

} // namespace target
} // namespace tptt

#endif // TPTT_TARGET_EMITEXECUTABLE_H

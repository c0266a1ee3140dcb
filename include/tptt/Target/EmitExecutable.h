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

/// Translates `modules` (in the LLVM dialect; for CUDA the GPU code and the
/// CPU code, whose public symbols differ) to LLVM IR for the host CPU,
/// linked into one module, and adds what the launcher expects
/// (Runtime/Executable.h): for every
/// name in `entries`, `<name>_packed(void **args)` calling
/// `_mlir_ciface_<name>` with the pointers in `args`, and the NUL-terminated
/// global `tptt_manifest` holding `manifest`, and `tptt_tokenizer_json`
/// holding `tokenizer` (the model's tokenizer.json, or empty). The module is
/// optimized at
/// -O3 for the host. Returns null and sets `error` on failure.
std::unique_ptr<llvm::Module>
translateForHost(llvm::ArrayRef<mlir::ModuleOp> modules,
                 llvm::LLVMContext &context,
                 llvm::ArrayRef<std::string> entries, llvm::StringRef manifest,
                 llvm::StringRef tokenizer, std::string &error);

/// Writes `module` as a host object file at `path`.
bool writeObject(llvm::Module &module, const std::string &path,
                 std::string &error);

/// Links `objectPath` with the tptt runtime into `outputPath` (with the
/// system C++ compiler driver, `$CXX` or `c++`): an executable with the
/// launcher's main(), or with `shared` a shared library exporting the C API
/// of include/tptt/Runtime/tptt.h.
bool linkExecutable(const std::string &objectPath,
                    const std::string &outputPath, bool shared,
                    std::string &error);

} // namespace target
} // namespace tptt

#endif // TPTT_TARGET_EMITEXECUTABLE_H

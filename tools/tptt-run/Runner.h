//===- Runner.h - JIT-compile and call functions on the CPU -----*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_TOOLS_TPTT_RUN_RUNNER_H
#define TPTT_TOOLS_TPTT_RUN_RUNNER_H

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Tensor.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace tpttrun {

using ::tptt::runtime::Tensor;

/// The tensor dtype of an MLIR element type ("f32", "i1", …: the type's own
/// spelling), if the runtime has it.
std::optional<std::string> dtypeOf(mlir::Type elementType);

/// The MLIR element type of a tensor dtype.
mlir::Type elementTypeOf(const std::string &dtype, mlir::MLIRContext *context);

/// Copies a safetensors tensor into a tensor of `elementType`: the same
/// dtype, or integer/bool data for an i1 tensor (nonzero is true). Anything
/// else is an error naming the tensor.
llvm::Expected<Tensor> loadTensor(const ::tptt::safetensors::TensorView &view,
                                  mlir::Type elementType);

/// A tensor of `elementType` (f32 or f64) with the values of `view`.
Tensor convertTensor(const ::tptt::safetensors::TensorView &view,
                     mlir::Type elementType);

/// Compiles a module through the tptt pipeline and calls its functions.
class Runner {
public:
  /// Lowers `module` (in place) with the pipeline for `target` (the CPU, the
  /// GPU, or the CUDA kernels emulated on the CPU) and JIT-compiles it.
  static llvm::Expected<std::unique_ptr<Runner>>
  compile(mlir::ModuleOp module, int64_t numThreads, unsigned optLevel,
          mlir::tptt::TpttTarget target);

  /// Calls the function `name` of type `type` (its signature before
  /// lowering: ranked tensors in and out, of element types dtypeOf knows)
  /// with `inputs`. When given,
  /// `milliseconds` receives the time of the compiled function alone (not
  /// staging the inputs or copying the results out).
  llvm::Expected<std::vector<Tensor>> call(llvm::StringRef name,
                                           mlir::FunctionType type,
                                           std::vector<Tensor> &inputs,
                                           double *milliseconds = nullptr);

private:
  std::unique_ptr<mlir::ExecutionEngine> engine;
  /// Whether the code runs on the GPU (its buffers are managed memory).
  bool gpu = false;
};

} // namespace tpttrun

#endif // TPTT_TOOLS_TPTT_RUN_RUNNER_H

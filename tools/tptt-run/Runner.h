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
#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace tpttrun {

/// A dense row-major tensor in host memory.
struct HostTensor {
  std::string name;
  mlir::Type elementType;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  int64_t numElements() const;
  /// Element `index` as a double (float and integer types).
  double at(int64_t index) const;
};

/// The safetensors dtype of an MLIR element type, if it has one.
std::optional<::tptt::safetensors::DType> dtypeOf(mlir::Type elementType);

/// Copies a safetensors tensor into a HostTensor of `elementType`: the same
/// dtype, or integer/bool data for an i1 tensor (nonzero is true). Anything
/// else is an error naming the tensor.
llvm::Expected<HostTensor>
loadTensor(const ::tptt::safetensors::TensorView &view, mlir::Type elementType);

/// A HostTensor of `elementType` (f32 or f64) with the values of `view`.
HostTensor convertTensor(const ::tptt::safetensors::TensorView &view,
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
  /// lowering: ranked tensors in and out) with `inputs`. When given,
  /// `milliseconds` receives the time of the compiled function alone (not
  /// staging the inputs or copying the results out).
  llvm::Expected<std::vector<HostTensor>> call(llvm::StringRef name,
                                               mlir::FunctionType type,
                                               std::vector<HostTensor> &inputs,
                                               double *milliseconds = nullptr);

private:
  std::unique_ptr<mlir::ExecutionEngine> engine;
  /// Whether the code runs on the GPU (its buffers are managed memory).
  bool gpu = false;
};

} // namespace tpttrun

#endif // TPTT_TOOLS_TPTT_RUN_RUNNER_H

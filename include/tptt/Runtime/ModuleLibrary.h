//===- ModuleLibrary.h - Ahead-of-time compiled modules ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// `tptt-compile f.mlir -o f.so` compiles the public functions of a module
// into a shared library that needs no MLIR to run: for every function F,
// `F_packed(void **args)` (the CPU code) and, for --target cuda,
// `F_cuda_packed` (kernels on the GPU), plus the NUL-terminated JSON
// manifest `tptt_module_manifest` that types them (ModuleManifest). The
// library leaves the host ABI of the compiled code (mgpu*, the managed
// allocations, memrefCopy: Runtime/CudaDriver.h, MemRefCopy.cpp) to the
// program that loads it, which links the runtime and exports them, as
// tptt-run-module does: one runtime per process, however many modules.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_MODULELIBRARY_H
#define TPTT_RUNTIME_MODULELIBRARY_H

#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Tensor.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// A dimension whose size the caller chooses (`?` in MLIR; null in JSON).
constexpr int64_t kDynamicSize = -1;

/// "[2, ?, 4]": the sizes of a shape, kDynamicSize as "?".
std::string describeShape(const std::vector<int64_t> &shape);

/// An argument or result of a compiled function: a ranked tensor.
struct TensorSignature {
  std::string name;
  /// Tensor::dtype spelling.
  std::string dtype;
  /// kDynamicSize where the size is chosen at the call.
  std::vector<int64_t> shape;

  /// Whether `sizes` fits the shape.
  bool accepts(const std::vector<int64_t> &sizes) const;
  /// "f32 [2, ?, 4]".
  std::string describe() const;
};

struct FunctionSignature {
  std::string name;
  std::vector<TensorSignature> arguments, results;
};

/// The typed manifest of a module library.
struct ModuleManifest {
  /// The format of the JSON; a library of another version is refused.
  static constexpr int kFormatVersion = 1;
  /// Where the functions can run: "cpu", and "cuda" for --target cuda.
  std::vector<std::string> devices;
  std::vector<FunctionSignature> functions;

  std::string toJson() const;
  /// Parses and checks a manifest; std::nullopt with `error` when it is not
  /// one.
  static std::optional<ModuleManifest> fromJson(const std::string &text,
                                                std::string &error);
  /// The function `name`, or null.
  const FunctionSignature *find(const std::string &name) const;
};

/// A module library loaded into this process.
class ModuleLibrary {
public:
  /// Loads `path` and reads its manifest; null with `error` when it is not
  /// a module library (no manifest, a corrupt one, a function without code).
  static std::unique_ptr<ModuleLibrary> open(const std::string &path,
                                             std::string &error);
  ~ModuleLibrary();
  ModuleLibrary(const ModuleLibrary &) = delete;
  ModuleLibrary &operator=(const ModuleLibrary &) = delete;

  const ModuleManifest &manifest() const { return moduleManifest; }
  bool hasDevice(Device device) const;

  /// Calls `function` on `device` with `inputs` (one per argument, checked
  /// against its dtype and shape); its results, or std::nullopt with
  /// `error`. On the GPU the inputs travel in managed memory and the call
  /// returns once its kernels are done. With `milliseconds`, the time of the
  /// call alone (on the GPU: CUDA events around its kernels and launches).
  std::optional<std::vector<Tensor>> call(const FunctionSignature &function,
                                          Device device,
                                          const std::vector<Tensor> &inputs,
                                          std::string &error,
                                          double *milliseconds = nullptr);

private:
  ModuleLibrary() = default;
  void *handle = nullptr;
  ModuleManifest moduleManifest;
};

/// The dtype and rank of a compiled function's result.
struct ResultKind {
  std::string dtype;
  size_t rank = 0;
};

/// Calls a compiled function through its C interface on `device`: `invoke`
/// gets the argument pointers — the results' descriptor struct first when
/// there are results, then one memref descriptor per input — and returns
/// false (having set its own error) when it could not call. On the GPU the
/// inputs travel in managed memory. Every result is copied out in row-major
/// order and what the call allocated is freed, once per buffer and never an
/// input's. What ModuleLibrary::call and tptt-run's JIT share.
std::optional<std::vector<Tensor>>
callPacked(const std::vector<Tensor> &inputs,
           const std::vector<ResultKind> &results, Device device,
           const std::function<bool(std::vector<void *> &)> &invoke);

/// The argument `signature` from a safetensors tensor: the same dtype, or
/// for an i1 argument BOOL, U8, I32 or I64 data (nonzero is true), and a
/// shape it accepts; std::nullopt with `error` naming both otherwise.
std::optional<Tensor> bindArgument(const TensorSignature &signature,
                                   const safetensors::TensorView &view,
                                   std::string &error);

/// max |got − expected| / max |expected| (the absolute error where every
/// expected value is 0) over the compared elements: all, or with `mask`
/// (a tensor over the leading dimensions of `expected`) those whose mask
/// entry is nonzero. A NaN in `got` counts as an infinite error; a shape
/// that differs gives infinity with `why` set.
double relativeError(const Tensor &got, const safetensors::TensorView &expected,
                     const safetensors::TensorView *mask, std::string &why);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_MODULELIBRARY_H

//===- Tensor.h - Host tensors and memref descriptors -----------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The runtime's one host tensor type, and the memref descriptors through
// which compiled functions take and return tensors: what the executables,
// the C API and module libraries (Runtime/ModuleLibrary.h) share.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_TENSOR_H
#define TPTT_RUNTIME_TENSOR_H

#include "tptt/Runtime/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// A tensor: row-major values of `dtype` ("f64", "f32", "f16", "bf16",
/// "i64", "i32", "i8", "i1"), in `bytes`, or (a result ModelRunner::call
/// keeps) where the entry point left them.
struct Tensor {
  std::vector<int64_t> shape;
  std::string dtype;
  std::vector<uint8_t> bytes;
  /// The values of a kept result: in the memory of the device that computed
  /// them (managed memory for CUDA, which the host reads too, the call
  /// having synchronized), shared by the copies of the tensor and freed
  /// with the last; null for a tensor in `bytes`.
  std::shared_ptr<uint8_t> resident;

  /// Bytes per element of `dtype` (an i1 takes one byte).
  static size_t width(const std::string &dtype);
  int64_t count() const;
  size_t byteSize() const { return count() * width(dtype); }
  static Tensor zeros(std::vector<int64_t> shape, std::string dtype);
  /// A rank-0 tensor holding `value` (f32, i64).
  static Tensor scalar(float value);
  static Tensor scalar(int64_t value);
  uint8_t *data() { return resident ? resident.get() : bytes.data(); }
  const uint8_t *data() const {
    return resident ? resident.get() : bytes.data();
  }
  template <typename T> T *as() { return reinterpret_cast<T *>(data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(data());
  }
  /// Element `index` converted to double.
  double at(int64_t index) const;
};

using TensorMap = std::map<std::string, Tensor>;

/// Where compiled functions run.
enum class Device { CPU, CUDA };

/// The tensor dtype of a safetensors dtype (U8 has none), and back.
std::optional<std::string> tensorDtype(safetensors::DType dtype);
std::optional<safetensors::DType> safetensorsDtype(const std::string &dtype);

/// A memref descriptor {allocated, aligned, offset, sizes, strides} over
/// row-major data, as 64-bit words: the layout the C interface of compiled
/// functions passes by pointer.
std::vector<int64_t> rowMajorDescriptor(const void *data,
                                        const std::vector<int64_t> &shape);

/// Copies the elements of `width` bytes that the descriptor `words` of rank
/// `rank` describes (any strides) to `out`, in row-major order.
void copyFromDescriptor(const int64_t *words, size_t rank, size_t width,
                        uint8_t *out);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_TENSOR_H

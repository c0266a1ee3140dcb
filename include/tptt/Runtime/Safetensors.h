//===- Safetensors.h - Read and write safetensors files ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The runtime's safetensors support: files are mapped read-only and their
// header validated (every tensor's dtype, shape and byte range), and written
// atomically (temporary file, fsync, rename), so a failed write never leaves
// a half-written file. No MLIR; errors are returned as messages that name
// the file and the tensor.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_SAFETENSORS_H
#define TPTT_RUNTIME_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace safetensors {

/// The element types of the safetensors format that tptt reads and writes.
enum class DType { F64, F32, F16, BF16, I64, I32, I8, U8, Bool };

/// The format's spelling ("F32", ...).
std::string_view dtypeName(DType dtype);
/// Parses a spelling; std::nullopt for an unknown one.
std::optional<DType> parseDType(std::string_view name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// One tensor of a mapped file.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  size_t bytes = 0;

  int64_t numElements() const;
  /// Element `index` converted to double (every dtype).
  double elementAsDouble(int64_t index) const;
};

/// A safetensors file mapped read-only; tensors keep their header order.
class File {
public:
  /// Maps and validates `path` (the safetensors data starting `offset`
  /// bytes into it, e.g. weights appended to an executable); on failure
  /// returns null and sets `error`.
  static std::unique_ptr<File> open(const std::string &path, std::string &error,
                                    uint64_t offset = 0);
  ~File();
  File(const File &) = delete;
  File &operator=(const File &) = delete;

  const std::string &path() const { return filePath; }
  const std::vector<TensorView> &tensors() const { return tensorList; }
  /// The tensor called `name`, or null.
  const TensorView *find(std::string_view name) const;
  /// The `__metadata__` string map.
  const std::map<std::string, std::string> &metadata() const { return meta; }

private:
  File() = default;
  std::string filePath;
  void *mapping = nullptr;
  size_t mappingSize = 0;
  std::vector<TensorView> tensorList;
  /// tensorList's index of each name.
  std::map<std::string, size_t, std::less<>> byName;
  std::map<std::string, std::string> meta;
};

/// A tensor to write.
struct OwnedTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// The bytes of a safetensors file holding `tensors` (listed in order) and
/// `metadata`; nothing (with `error`) when a tensor's bytes do not match its
/// shape or a name is reserved or repeated.
std::optional<std::string>
encode(const std::vector<OwnedTensor> &tensors,
       const std::map<std::string, std::string> &metadata, std::string &error);

/// Writes `tensors` (in order) and `metadata` to `path` atomically; on
/// failure returns false, sets `error` and leaves no file at `path`.
bool write(const std::string &path, const std::vector<OwnedTensor> &tensors,
           const std::map<std::string, std::string> &metadata,
           std::string &error);

/// The element of type `dtype` at `data`, converted to double.
double loadAsDouble(DType dtype, const uint8_t *data);

/// bfloat16 / IEEE half bits to float and back (round to nearest even,
/// NaN stays NaN, half overflows to infinity). A float widens to double
/// exactly.
float bf16ToFloat(uint16_t bits);
uint16_t floatToBf16(float value);
float f16ToFloat(uint16_t bits);
uint16_t floatToF16(float value);

} // namespace safetensors
} // namespace tptt

#endif // TPTT_RUNTIME_SAFETENSORS_H

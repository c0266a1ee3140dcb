//===- Tensor.cpp - Host tensors and memref descriptors -------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Tensor.h"

#include <cstring>

using namespace tptt::runtime;
namespace st = tptt::safetensors;

namespace {

/// The dtype spellings of both formats, pairwise.
constexpr std::pair<const char *, st::DType> kDtypes[] = {
    {"f64", st::DType::F64},   {"f32", st::DType::F32}, {"f16", st::DType::F16},
    {"bf16", st::DType::BF16}, {"i64", st::DType::I64}, {"i32", st::DType::I32},
    {"i8", st::DType::I8},     {"i1", st::DType::Bool}};

} // namespace

size_t Tensor::width(const std::string &dtype) {
  std::optional<st::DType> stored = safetensorsDtype(dtype);
  return stored ? st::dtypeSize(*stored) : 0;
}

int64_t Tensor::count() const {
  int64_t n = 1;
  for (int64_t size : shape)
    n *= size;
  return n;
}

Tensor Tensor::zeros(std::vector<int64_t> shape, std::string dtype) {
  Tensor t{std::move(shape), std::move(dtype), {}};
  t.bytes.assign(t.count() * width(t.dtype), 0);
  return t;
}

Tensor Tensor::scalar(float value) {
  Tensor tensor = zeros({}, "f32");
  *tensor.as<float>() = value;
  return tensor;
}

Tensor Tensor::scalar(int64_t value) {
  Tensor tensor = zeros({}, "i64");
  *tensor.as<int64_t>() = value;
  return tensor;
}

double Tensor::at(int64_t index) const {
  return st::loadAsDouble(*safetensorsDtype(dtype),
                          data() + index * width(dtype));
}

std::optional<std::string> tptt::runtime::tensorDtype(st::DType dtype) {
  for (const auto &[name, stored] : kDtypes)
    if (stored == dtype)
      return std::string(name);
  return std::nullopt;
}

std::optional<st::DType>
tptt::runtime::safetensorsDtype(const std::string &dtype) {
  for (const auto &[name, stored] : kDtypes)
    if (dtype == name)
      return stored;
  return std::nullopt;
}

std::vector<int64_t>
tptt::runtime::rowMajorDescriptor(const void *data,
                                  const std::vector<int64_t> &shape) {
  std::vector<int64_t> words(3 + 2 * shape.size());
  auto address = reinterpret_cast<int64_t>(data);
  words[0] = words[1] = address;
  words[2] = 0;
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    words[3 + d] = shape[d];
    words[3 + shape.size() + d] = stride;
    stride *= shape[d];
  }
  return words;
}

void tptt::runtime::copyFromDescriptor(const int64_t *words, size_t rank,
                                       size_t width, uint8_t *out) {
  const int64_t *sizes = words + 3, *strides = words + 3 + rank;
  const auto *base = reinterpret_cast<const uint8_t *>(words[1]);
  int64_t count = 1;
  bool contiguous = true;
  for (size_t d = rank; d-- > 0;) {
    contiguous &= sizes[d] == 1 || strides[d] == count;
    count *= sizes[d];
  }
  if (count == 0)
    return;
  if (contiguous) {
    std::memcpy(out, base + words[2] * width, count * width);
    return;
  }
  for (int64_t linear = 0; linear < count; ++linear) {
    int64_t remaining = linear, element = words[2];
    for (size_t d = rank; d-- > 0;) {
      element += (remaining % sizes[d]) * strides[d];
      remaining /= sizes[d];
    }
    std::memcpy(out + linear * width, base + element * width, width);
  }
}

//===- Safetensors.cpp - Read and write safetensors files -----------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace tptt::safetensors;

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I8, "I8", 1},     {DType::U8, "U8", 1},   {DType::Bool, "BOOL", 1}};

/// The header length field is 8 bytes; headers beyond this are not credible.
constexpr uint64_t kMaxHeaderBytes = 100u << 20;

std::string inQuotes(std::string_view text) {
  return "'" + std::string(text) + "'";
}

} // namespace

std::string_view tptt::safetensors::dtypeName(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.name;
  return "?";
}

std::optional<DType> tptt::safetensors::parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.dtype;
  return std::nullopt;
}

size_t tptt::safetensors::dtypeSize(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info.size;
  return 0;
}

float tptt::safetensors::bf16ToFloat(uint16_t bits) {
  uint32_t word = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &word, sizeof(value));
  return value;
}

uint16_t tptt::safetensors::floatToBf16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  if (std::isnan(value))
    return static_cast<uint16_t>((word >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((word >> 16) & 1);
  return static_cast<uint16_t>((word + rounding) >> 16);
}

float tptt::safetensors::f16ToFloat(uint16_t bits) {
  uint32_t sign = (bits & 0x8000u) << 16;
  int exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ffu;
  float magnitude;
  if (exponent == 0)
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  else if (exponent == 31)
    magnitude = mantissa ? NAN : INFINITY;
  else
    magnitude =
        std::ldexp(static_cast<float>(mantissa | 0x400u), exponent - 25);
  float value = magnitude;
  if (sign)
    value = -value;
  return value;
}

uint16_t tptt::safetensors::floatToF16(float value) {
  uint32_t word;
  std::memcpy(&word, &value, sizeof(word));
  auto sign = static_cast<uint16_t>((word >> 16) & 0x8000u);
  uint32_t magnitude = word & 0x7fffffffu;
  if (magnitude > 0x7f800000u)
    return static_cast<uint16_t>(sign | 0x7e00u | ((magnitude >> 13) & 0x3ffu));
  // The exponent rebiased for half: 1..30 is normal, 31 and above overflow.
  int exponent = static_cast<int>(magnitude >> 23) - 127 + 15;
  if (exponent >= 31)
    return static_cast<uint16_t>(sign | 0x7c00u);
  // Below 2^-25 everything rounds to zero (2^-25 itself is a tie to zero).
  if (exponent < -10)
    return sign;
  uint32_t mantissa = magnitude & 0x7fffffu;
  int shift = 13;
  uint32_t half = (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  if (exponent <= 0) {
    // Subnormal: the implicit bit joins the mantissa, shifted further.
    mantissa |= 0x800000u;
    shift = 14 - exponent;
    half = mantissa >> shift;
  }
  uint32_t rest = mantissa & ((1u << shift) - 1), halfway = 1u << (shift - 1);
  // A carry out of the mantissa correctly reaches the next exponent (or
  // infinity).
  if (rest > halfway || (rest == halfway && (half & 1)))
    ++half;
  return static_cast<uint16_t>(sign | half);
}

int64_t TensorView::numElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

double tptt::safetensors::loadAsDouble(DType dtype, const uint8_t *data) {
  auto load = [&](auto value) {
    std::memcpy(&value, data, sizeof(value));
    return value;
  };
  switch (dtype) {
  case DType::F64:
    return load(double());
  case DType::F32:
    return load(float());
  case DType::F16:
    return f16ToFloat(load(uint16_t()));
  case DType::BF16:
    return bf16ToFloat(load(uint16_t()));
  case DType::I64:
    return static_cast<double>(load(int64_t()));
  case DType::I32:
    return load(int32_t());
  case DType::I8:
    return load(int8_t());
  case DType::U8:
  case DType::Bool:
    return load(uint8_t());
  }
  return 0.0;
}

double TensorView::elementAsDouble(int64_t index) const {
  return loadAsDouble(dtype,
                      data + static_cast<size_t>(index) * dtypeSize(dtype));
}

std::unique_ptr<File> File::open(const std::string &path, std::string &error,
                                 uint64_t offset) {
  auto fail = [&](const std::string &message) -> std::unique_ptr<File> {
    error = path + ": " + message;
    return nullptr;
  };
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return fail(std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail("not a regular file");
  }
  size_t fileSize = static_cast<size_t>(st.st_size);
  if (offset > fileSize) {
    ::close(fd);
    return fail("the embedded safetensors data starts past the end");
  }
  size_t size = fileSize - offset;
  if (size < 8) {
    ::close(fd);
    return fail("corrupt safetensors file: shorter than its 8-byte header "
                "length");
  }
  void *mapping = mmap(nullptr, fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (mapping == MAP_FAILED)
    return fail(std::string("cannot map: ") + std::strerror(errno));
  std::unique_ptr<File> file(new File());
  file->filePath = path;
  file->mapping = mapping;
  file->mappingSize = fileSize;

  const auto *bytes = static_cast<const uint8_t *>(mapping) + offset;
  uint64_t headerBytes;
  std::memcpy(&headerBytes, bytes, sizeof(headerBytes));
  if (headerBytes > kMaxHeaderBytes)
    return fail("corrupt safetensors header: it claims " +
                std::to_string(headerBytes) + " bytes, over the limit of " +
                std::to_string(kMaxHeaderBytes >> 20) +
                " MiB that safetensors files respect");
  if (headerBytes > size - 8)
    return fail("corrupt safetensors header: it claims " +
                std::to_string(headerBytes) + " bytes but the file has " +
                std::to_string(size - 8) + " after the length field");
  std::string_view text(reinterpret_cast<const char *>(bytes + 8),
                        static_cast<size_t>(headerBytes));
  // The tensors keep the header's order (positional bindings rely on it).
  std::vector<std::string> names;
  std::string jsonError;
  std::optional<nlohmann::json> parsed =
      tptt::runtime::parseJson(text, jsonError, &names);
  if (!parsed || !parsed->is_object())
    return fail("corrupt safetensors header: " +
                (parsed ? std::string("not a JSON object") : jsonError));
  const nlohmann::json &header = *parsed;
  if (names.size() != header.size()) {
    std::sort(names.begin(), names.end());
    return fail("corrupt safetensors header: the name " +
                inQuotes(*std::adjacent_find(names.begin(), names.end())) +
                " appears twice");
  }
  const uint8_t *dataStart = bytes + 8 + headerBytes;
  size_t dataBytes = size - 8 - headerBytes;
  for (const std::string &name : names) {
    const nlohmann::json &entry = header.at(name);
    if (name == "__metadata__") {
      if (!entry.is_object())
        return fail("corrupt safetensors header: __metadata__ is not an "
                    "object");
      for (auto &[key, value] : entry.items()) {
        if (!value.is_string())
          return fail("corrupt safetensors header: __metadata__ value " +
                      inQuotes(key) + " is not a string");
        file->meta[key] = value.get<std::string>();
      }
      continue;
    }
    std::string where = "tensor " + inQuotes(name) + ": ";
    if (!entry.is_object() || !entry.contains("dtype") ||
        !entry.contains("shape") || !entry.contains("data_offsets"))
      return fail("corrupt safetensors header: " + where +
                  "needs dtype, shape and data_offsets");
    const auto &dtypeField = entry["dtype"];
    std::optional<DType> dtype = dtypeField.is_string()
                                     ? parseDType(dtypeField.get<std::string>())
                                     : std::nullopt;
    if (!dtype)
      return fail("corrupt safetensors header: " + where + "unknown dtype " +
                  tptt::runtime::quoteJson(dtypeField));
    TensorView view;
    view.name = name;
    view.dtype = *dtype;
    const auto &shape = entry["shape"];
    if (!shape.is_array())
      return fail("corrupt safetensors header: " + where +
                  "shape is not an array");
    for (const auto &dim : shape) {
      if (!dim.is_number_integer() || dim.get<int64_t>() < 0)
        return fail("corrupt safetensors header: " + where +
                    "shape has a non-integer or negative dimension");
      view.shape.push_back(dim.get<int64_t>());
    }
    const auto &offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 ||
        !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      return fail("corrupt safetensors header: " + where +
                  "data_offsets must be two non-negative integers");
    uint64_t begin = offsets[0].get<uint64_t>(),
             end = offsets[1].get<uint64_t>();
    if (begin > end || end > dataBytes)
      return fail("corrupt safetensors header: " + where + "data_offsets [" +
                  std::to_string(begin) + ", " + std::to_string(end) +
                  ") are outside the " + std::to_string(dataBytes) +
                  " data bytes");
    // The shape's byte size, computed without overflow: a shape too large
    // for the file can never match its offsets.
    uint64_t expected = dtypeSize(*dtype);
    bool fits = true;
    for (int64_t dim : view.shape)
      fits = fits && !__builtin_mul_overflow(
                         expected, static_cast<uint64_t>(dim), &expected);
    if (!fits)
      return fail("corrupt safetensors header: " + where +
                  "its shape is too large to address");
    if (end - begin != expected)
      return fail("corrupt safetensors header: " + where + "holds " +
                  std::to_string(end - begin) + " bytes but its dtype and " +
                  "shape need " + std::to_string(expected));
    view.data = dataStart + begin;
    view.bytes = static_cast<size_t>(end - begin);
    file->byName.emplace(name, file->tensorList.size());
    file->tensorList.push_back(std::move(view));
  }
  // Tensors must not share bytes: a writer never produces that, so the
  // header lies.
  std::vector<const TensorView *> byOffset;
  for (const TensorView &view : file->tensorList)
    if (view.bytes)
      byOffset.push_back(&view);
  std::sort(byOffset.begin(), byOffset.end(),
            [](const TensorView *a, const TensorView *b) {
              return a->data < b->data;
            });
  for (size_t i = 1; i < byOffset.size(); ++i)
    if (byOffset[i - 1]->data + byOffset[i - 1]->bytes > byOffset[i]->data)
      return fail("corrupt safetensors header: tensors " +
                  inQuotes(byOffset[i - 1]->name) + " and " +
                  inQuotes(byOffset[i]->name) + " overlap");
  return file;
}

File::~File() {
  if (mapping)
    munmap(mapping, mappingSize);
}

const TensorView *File::find(std::string_view name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : &tensorList[it->second];
}

std::optional<std::string>
tptt::safetensors::encode(const std::vector<OwnedTensor> &tensors,
                          const std::map<std::string, std::string> &metadata,
                          std::string &error) {
  auto fail = [&](const std::string &message) -> std::optional<std::string> {
    error = message;
    return std::nullopt;
  };
  // The data lies by decreasing element size, so that every tensor starts
  // aligned to its element (the header is padded to 8 bytes); the header
  // lists the tensors in the given order.
  std::vector<size_t> layout(tensors.size());
  for (size_t i = 0; i < layout.size(); ++i)
    layout[i] = i;
  std::stable_sort(layout.begin(), layout.end(), [&](size_t a, size_t b) {
    return dtypeSize(tensors[a].dtype) > dtypeSize(tensors[b].dtype);
  });
  std::vector<uint64_t> offsets(tensors.size());
  uint64_t offset = 0;
  for (size_t i : layout) {
    offsets[i] = offset;
    offset += tensors[i].bytes.size();
  }
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty())
    header["__metadata__"] = metadata;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const OwnedTensor &tensor = tensors[i];
    std::string where = "tensor " + inQuotes(tensor.name) + ": ";
    if (tensor.name == "__metadata__" || header.contains(tensor.name))
      return fail(where + "the name is reserved or used twice");
    uint64_t expected = dtypeSize(tensor.dtype);
    for (int64_t dim : tensor.shape)
      expected *= static_cast<uint64_t>(dim);
    if (tensor.bytes.size() != expected)
      return fail(where + std::to_string(tensor.bytes.size()) +
                  " bytes, but its dtype and shape need " +
                  std::to_string(expected));
    nlohmann::ordered_json entry;
    entry["dtype"] = dtypeName(tensor.dtype);
    entry["shape"] = tensor.shape;
    entry["data_offsets"] = {offsets[i], offsets[i] + tensor.bytes.size()};
    header[tensor.name] = entry;
  }
  // Invalid UTF-8 in a name is replaced rather than aborting the dump.
  std::string text =
      header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t headerBytes = text.size();
  std::string bytes(reinterpret_cast<const char *>(&headerBytes),
                    sizeof(headerBytes));
  bytes += text;
  for (size_t i : layout)
    bytes.append(reinterpret_cast<const char *>(tensors[i].bytes.data()),
                 tensors[i].bytes.size());
  return bytes;
}

bool tptt::safetensors::write(
    const std::string &path, const std::vector<OwnedTensor> &tensors,
    const std::map<std::string, std::string> &metadata, std::string &error) {
  // A symlink stays a symlink: the file it names is replaced. A device,
  // FIFO or socket cannot be replaced and is written in place.
  struct stat status;
  bool exists = stat(path.c_str(), &status) == 0;
  if (exists && S_ISDIR(status.st_mode)) {
    error = path + ": is a directory, not a file";
    return false;
  }
  bool inPlace = exists && !S_ISREG(status.st_mode);
  std::string target = path;
  for (int hops = 0;
       !inPlace && hops < 40 && lstat(target.c_str(), &status) == 0 &&
       S_ISLNK(status.st_mode);
       ++hops) {
    std::error_code ec;
    std::filesystem::path link = std::filesystem::read_symlink(target, ec);
    if (ec)
      break;
    target =
        link.is_absolute()
            ? link.string()
            : (std::filesystem::path(target).parent_path() / link).string();
  }
  std::string temporary =
      inPlace ? target : target + ".tmp." + std::to_string(getpid());
  auto fail = [&](const std::string &message) {
    error = path + ": " + message;
    if (!inPlace)
      std::remove(temporary.c_str());
    return false;
  };
  std::optional<std::string> bytes = encode(tensors, metadata, error);
  if (!bytes)
    return fail(error);

  if (inPlace) {
    FILE *out = std::fopen(target.c_str(), "wb");
    if (!out)
      return fail(std::string("cannot open: ") + std::strerror(errno));
    bool ok =
        std::fwrite(bytes->data(), 1, bytes->size(), out) == bytes->size();
    ok = std::fflush(out) == 0 && ok;
    if (std::fclose(out) != 0 || !ok)
      return fail(std::string("cannot write: ") + std::strerror(errno));
    return true;
  }
  FILE *out = std::fopen(temporary.c_str(), "wb");
  if (!out)
    return fail(std::string("cannot create: ") + std::strerror(errno));
  bool ok = std::fwrite(bytes->data(), 1, bytes->size(), out) == bytes->size();
  ok = ok && std::fflush(out) == 0 && fsync(fileno(out)) == 0;
  if (std::fclose(out) != 0 || !ok)
    return fail(std::string("cannot write: ") + std::strerror(errno));
  if (std::rename(temporary.c_str(), target.c_str()) != 0)
    return fail(std::string("cannot rename into place: ") +
                std::strerror(errno));
  return true;
}

//===- ModuleLibrary.cpp - Ahead-of-time compiled modules -----------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/ModuleLibrary.h"
#include "tptt/Runtime/CudaDriver.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <fstream>
#include <set>

using json = nlohmann::json;
namespace st = tptt::safetensors;
using namespace tptt::runtime;

using PackedFunction = void (*)(void **);

namespace {

/// The symbol of `function`'s code for `device`.
std::string symbolOf(const std::string &function, Device device) {
  return function + (device == Device::CUDA ? "_cuda_packed" : "_packed");
}

const char *deviceName(Device device) {
  return device == Device::CUDA ? "cuda" : "cpu";
}

/// Reads one tensor signature; false with `error` naming `where`.
bool readTensor(const json &item, const std::string &where,
                TensorSignature &tensor, std::string &error) {
  auto name = item.find("name"), dtype = item.find("dtype"),
       shape = item.find("shape");
  if (!item.is_object() || name == item.end() || !name->is_string() ||
      dtype == item.end() || !dtype->is_string() || shape == item.end() ||
      !shape->is_array()) {
    error = where + " needs a string name and dtype and an array shape";
    return false;
  }
  tensor.name = name->get<std::string>();
  tensor.dtype = dtype->get<std::string>();
  if (!safetensorsDtype(tensor.dtype)) {
    error = where + " has the unknown dtype '" + tensor.dtype + "'";
    return false;
  }
  for (const json &size : *shape) {
    if (size.is_null()) {
      tensor.shape.push_back(kDynamicSize);
      continue;
    }
    if (!size.is_number_integer() || size.get<int64_t>() < 0) {
      error = where + " has a size that is neither null nor a natural number";
      return false;
    }
    tensor.shape.push_back(size.get<int64_t>());
  }
  return true;
}

json writeTensor(const TensorSignature &tensor) {
  json shape = json::array();
  for (int64_t size : tensor.shape)
    shape.push_back(size == kDynamicSize ? json(nullptr) : json(size));
  return {{"name", tensor.name}, {"dtype", tensor.dtype}, {"shape", shape}};
}

/// Why `path` is not a whole shared library for this machine, or "" when
/// it is one. dlopen maps a truncated library and the process dies of
/// SIGBUS at the first touch past the end of the file: check that the ELF
/// headers and every segment lie inside it first.
std::string checkElf(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in)
    return "";
  auto size = static_cast<uint64_t>(in.tellg());
  Elf64_Ehdr header;
  in.seekg(0);
  if (size < sizeof(header) ||
      !in.read(reinterpret_cast<char *>(&header), sizeof(header)) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64)
    return "not a 64-bit ELF shared library";
  if (header.e_type != ET_DYN)
    return "an ELF file, but not a shared library";
#if defined(__x86_64__)
  if (header.e_machine != EM_X86_64)
    return "a shared library for another processor";
#endif
  auto inside = [&](uint64_t offset, uint64_t bytes) {
    return offset <= size && bytes <= size - offset;
  };
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      !inside(header.e_phoff, uint64_t(header.e_phnum) * sizeof(Elf64_Phdr)) ||
      !inside(header.e_shoff, uint64_t(header.e_shnum) * header.e_shentsize))
    return "its ELF headers point past the end of the file (truncated?)";
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    in.seekg(header.e_phoff + i * sizeof(Elf64_Phdr));
    if (!in.read(reinterpret_cast<char *>(&segment), sizeof(segment)))
      return "its program headers cannot be read";
    if (segment.p_type == PT_LOAD &&
        !inside(segment.p_offset, segment.p_filesz))
      return "a segment lies past the end of the file (truncated?)";
  }
  return "";
}

} // namespace

std::string tptt::runtime::describeShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t d = 0; d < shape.size(); ++d)
    text += (d ? ", " : "") +
            (shape[d] == kDynamicSize ? "?" : std::to_string(shape[d]));
  return text + "]";
}

bool TensorSignature::accepts(const std::vector<int64_t> &sizes) const {
  if (sizes.size() != shape.size())
    return false;
  for (size_t d = 0; d < sizes.size(); ++d)
    if (shape[d] != kDynamicSize && shape[d] != sizes[d])
      return false;
  return true;
}

std::string TensorSignature::describe() const {
  return dtype + " " + describeShape(shape);
}

std::string ModuleManifest::toJson() const {
  json functionList = json::array();
  for (const FunctionSignature &function : functions) {
    json arguments = json::array(), results = json::array();
    for (const TensorSignature &tensor : function.arguments)
      arguments.push_back(writeTensor(tensor));
    for (const TensorSignature &tensor : function.results)
      results.push_back(writeTensor(tensor));
    functionList.push_back({{"name", function.name},
                            {"arguments", arguments},
                            {"results", results}});
  }
  return json{{"tptt_module", kFormatVersion},
              {"devices", devices},
              {"functions", functionList}}
      .dump();
}

std::optional<ModuleManifest> ModuleManifest::fromJson(const std::string &text,
                                                       std::string &error) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  auto version = parsed.is_object() ? parsed.find("tptt_module") : parsed.end();
  if (version == parsed.end() || !version->is_number_integer()) {
    error = "the manifest is not a tptt module manifest";
    return std::nullopt;
  }
  if (version->get<int64_t>() != kFormatVersion) {
    error = "the manifest has format version " + version->dump() +
            "; this runtime reads version " + std::to_string(kFormatVersion);
    return std::nullopt;
  }
  auto devices = parsed.find("devices"), functions = parsed.find("functions");
  if (devices == parsed.end() || !devices->is_array() ||
      functions == parsed.end() || !functions->is_array()) {
    error = "the manifest needs the arrays 'devices' and 'functions'";
    return std::nullopt;
  }
  ModuleManifest manifest;
  for (const json &device : *devices) {
    if (device != "cpu" && device != "cuda") {
      error = "the manifest names the unknown device " + device.dump(-1);
      return std::nullopt;
    }
    manifest.devices.push_back(device.get<std::string>());
  }
  std::set<std::string> seen;
  for (const json &item : *functions) {
    auto name = item.is_object() ? item.find("name") : item.end();
    if (name == item.end() || !name->is_string() ||
        !seen.insert(name->get<std::string>()).second) {
      error = "the manifest has a function without a name, or one twice";
      return std::nullopt;
    }
    FunctionSignature function{name->get<std::string>(), {}, {}};
    for (const char *list : {"arguments", "results"}) {
      auto tensors = item.find(list);
      if (tensors == item.end() || !tensors->is_array()) {
        error = "function '" + function.name + "' of the manifest has no " +
                list + " array";
        return std::nullopt;
      }
      bool arguments = std::strcmp(list, "arguments") == 0;
      for (const json &tensor : *tensors) {
        TensorSignature signature;
        std::string where =
            std::string(arguments ? "argument" : "result") + " #" +
            std::to_string(arguments ? function.arguments.size()
                                     : function.results.size()) +
            " of '" + function.name + "'";
        if (!readTensor(tensor, where, signature, error))
          return std::nullopt;
        (arguments ? function.arguments : function.results)
            .push_back(std::move(signature));
      }
    }
    manifest.functions.push_back(std::move(function));
  }
  return manifest;
}

const FunctionSignature *ModuleManifest::find(const std::string &name) const {
  for (const FunctionSignature &function : functions)
    if (function.name == name)
      return &function;
  return nullptr;
}

std::unique_ptr<ModuleLibrary> ModuleLibrary::open(const std::string &path,
                                                   std::string &error) {
  // dlopen searches the library path for a bare name: a module is a file.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  if (std::string corrupt = checkElf(file); !corrupt.empty()) {
    error = path + ": cannot load the module library (" + corrupt + ")";
    return nullptr;
  }
  std::unique_ptr<ModuleLibrary> library(new ModuleLibrary());
  library->handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library->handle) {
    const char *why = dlerror();
    error = path + ": cannot load the module library (" +
            (why ? why : "unknown error") + ")";
    return nullptr;
  }
  const auto *text =
      static_cast<const char *>(dlsym(library->handle, "tptt_module_manifest"));
  if (!text) {
    error = path + ": not a tptt module library (no tptt_module_manifest; "
                   "compile one with tptt-compile FILE.mlir -o LIB.so)";
    return nullptr;
  }
  std::optional<ModuleManifest> manifest =
      ModuleManifest::fromJson(text, error);
  if (!manifest) {
    error = path + ": " + error;
    return nullptr;
  }
  library->moduleManifest = std::move(*manifest);
  for (const FunctionSignature &function : library->moduleManifest.functions)
    for (Device device : {Device::CPU, Device::CUDA})
      if (library->hasDevice(device) &&
          !dlsym(library->handle, symbolOf(function.name, device).c_str())) {
        error = path + ": the manifest lists '" + function.name +
                "', but the library has no " + deviceName(device) +
                " code for it";
        return nullptr;
      }
  return library;
}

ModuleLibrary::~ModuleLibrary() {
  if (handle)
    dlclose(handle);
}

bool ModuleLibrary::hasDevice(Device device) const {
  for (const std::string &name : moduleManifest.devices)
    if (name == deviceName(device))
      return true;
  return false;
}

std::optional<std::vector<Tensor>>
ModuleLibrary::call(const FunctionSignature &function, Device device,
                    const std::vector<Tensor> &inputs, std::string &error,
                    double *milliseconds) {
  if (!hasDevice(device)) {
    std::string devices;
    for (const std::string &name : moduleManifest.devices)
      devices += (devices.empty() ? "" : ", ") + name;
    error = "the module has no code for the device '" +
            std::string(deviceName(device)) + "' (it has: " + devices + ")";
    return std::nullopt;
  }
  if (inputs.size() != function.arguments.size()) {
    error = "'" + function.name + "' takes " +
            std::to_string(function.arguments.size()) + " arguments, " +
            std::to_string(inputs.size()) + " given";
    return std::nullopt;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorSignature &argument = function.arguments[i];
    if (inputs[i].dtype != argument.dtype ||
        !argument.accepts(inputs[i].shape)) {
      error = "argument #" + std::to_string(i) + " '" + argument.name +
              "' of '" + function.name + "' is " + argument.describe() +
              ", not " + inputs[i].dtype + " " + describeShape(inputs[i].shape);
      return std::nullopt;
    }
  }
  bool gpu = device == Device::CUDA;
  if (gpu && !cuda::driver(error))
    return std::nullopt;
  auto packed = reinterpret_cast<PackedFunction>(
      dlsym(handle, symbolOf(function.name, device).c_str()));
  std::vector<ResultKind> results;
  for (const TensorSignature &result : function.results)
    results.push_back({result.dtype, result.shape.size()});
  return callPacked(inputs, results, device, [&](std::vector<void *> &args) {
    cuda::GpuTimer timer;
    if (milliseconds && gpu && !timer.start(error))
      return false;
    auto start = std::chrono::steady_clock::now();
    packed(args.data());
    if (!milliseconds)
      return true;
    if (gpu) {
      std::optional<double> elapsed = timer.stop(error);
      if (!elapsed)
        return false;
      *milliseconds = *elapsed;
    } else {
      *milliseconds = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
    }
    return true;
  });
}

std::optional<std::vector<Tensor>> tptt::runtime::callPacked(
    const std::vector<Tensor> &inputs, const std::vector<ResultKind> &results,
    Device device, const std::function<bool(std::vector<void *> &)> &invoke) {
  bool gpu = device == Device::CUDA;
  // On the GPU the inputs travel in managed buffers, freed after the call.
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> staged;
  std::set<int64_t> inputBuffers;
  for (const Tensor &input : inputs) {
    const void *buffer = input.data();
    if (gpu)
      buffer = staged.emplace_back(
          cuda::copyToManaged(input.data(), input.byteSize()));
    descriptors.push_back(rowMajorDescriptor(buffer, input.shape));
    inputBuffers.insert(reinterpret_cast<int64_t>(buffer));
  }
  size_t resultWords = 0;
  for (const ResultKind &result : results)
    resultWords += 3 + 2 * result.rank;
  std::vector<int64_t> words(resultWords, 0);
  // The C interface takes the results' descriptors first, when there are
  // any.
  std::vector<void *> args;
  if (resultWords)
    args.push_back(words.data());
  for (auto &descriptor : descriptors)
    args.push_back(descriptor.data());
  bool called = invoke(args);
  auto freeStaged = [&] {
    for (void *buffer : staged)
      _mlir_memref_to_llvm_free(buffer);
  };
  if (!called) {
    freeStaged();
    return std::nullopt;
  }

  // Copy every result out and free what the call allocated: once per
  // buffer (results may share one), never an input's.
  std::vector<Tensor> outputs;
  std::set<int64_t> freed = inputBuffers;
  size_t at = 0;
  for (const ResultKind &result : results) {
    size_t rank = result.rank;
    const int64_t *descriptor = words.data() + at;
    at += 3 + 2 * rank;
    Tensor tensor = Tensor::zeros(
        std::vector<int64_t>(descriptor + 3, descriptor + 3 + rank),
        result.dtype);
    copyFromDescriptor(descriptor, rank, Tensor::width(result.dtype),
                       tensor.bytes.data());
    outputs.push_back(std::move(tensor));
    if (freed.insert(descriptor[0]).second) {
      auto *allocation = reinterpret_cast<void *>(descriptor[0]);
      gpu ? _mlir_memref_to_llvm_free(allocation) : std::free(allocation);
    }
  }
  freeStaged();
  return outputs;
}

std::optional<Tensor>
tptt::runtime::bindArgument(const TensorSignature &signature,
                            const st::TensorView &view, std::string &error) {
  std::optional<std::string> dtype = tensorDtype(view.dtype);
  bool truthValues =
      signature.dtype == "i1" &&
      (view.dtype == st::DType::Bool || view.dtype == st::DType::U8 ||
       view.dtype == st::DType::I32 || view.dtype == st::DType::I64);
  if (!truthValues && dtype != signature.dtype) {
    error = "tensor '" + view.name + "' is " +
            std::string(st::dtypeName(view.dtype)) + ", but argument '" +
            signature.name + "' is " + signature.describe();
    return std::nullopt;
  }
  if (!signature.accepts(view.shape)) {
    error = "tensor '" + view.name + "' has the shape " +
            describeShape(view.shape) + ", but argument '" + signature.name +
            "' is " + signature.describe();
    return std::nullopt;
  }
  Tensor tensor{view.shape, signature.dtype, {}, nullptr};
  if (truthValues) {
    tensor.bytes.resize(view.numElements());
    for (int64_t i = 0; i < view.numElements(); ++i)
      tensor.bytes[i] = view.elementAsDouble(i) != 0.0;
  } else {
    tensor.bytes.assign(view.data, view.data + view.bytes);
  }
  return tensor;
}

double tptt::runtime::relativeError(const Tensor &got,
                                    const st::TensorView &expected,
                                    const st::TensorView *mask,
                                    std::string &why) {
  if (got.shape != expected.shape) {
    why = "the result's shape " + describeShape(got.shape) + " is not '" +
          expected.name + "''s " + describeShape(expected.shape);
    return INFINITY;
  }
  int64_t inner = 1;
  if (mask) {
    bool leading = mask->shape.size() <= expected.shape.size();
    for (size_t d = 0; leading && d < mask->shape.size(); ++d)
      leading = mask->shape[d] == expected.shape[d];
    if (!leading) {
      why = "the mask '" + mask->name + "' " + describeShape(mask->shape) +
            " does not cover the leading dimensions of '" + expected.name +
            "' " + describeShape(expected.shape);
      return INFINITY;
    }
    for (size_t d = mask->shape.size(); d < expected.shape.size(); ++d)
      inner *= expected.shape[d];
  }
  double worst = 0.0, scale = 0.0;
  for (int64_t i = 0; i < expected.numElements(); ++i) {
    if (mask && mask->elementAsDouble(i / inner) == 0.0)
      continue;
    double e = expected.elementAsDouble(i), g = got.at(i);
    worst = std::max(worst, std::isnan(g) ? INFINITY : std::fabs(g - e));
    scale = std::max(scale, std::fabs(e));
  }
  return scale > 0.0 ? worst / scale : worst;
}

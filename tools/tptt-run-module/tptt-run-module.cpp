//===- tptt-run-module.cpp - Run a function of a compiled module ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//   tptt-run-module LIB.so [--function F] [--inputs IN.safetensors]
//                   [--outputs OUT.safetensors] [--device cpu|cuda]
//                   [--benchmark N] [--expected EXP.safetensors
//                   [--tolerance T] [--mask NAME]] [--json] [--list]
//
// Runs a function of a module library that `tptt-compile FILE.mlir -o
// LIB.so` wrote, on tensors from a safetensors file. Built on the runtime
// alone (no MLIR, no LLVM), so that it runs where only the compiled
// artifacts travel: a GPU machine without a compiler. It exports the host
// ABI the library's code calls (Runtime/ModuleLibrary.h). Every error is one
// line `tptt-run-module: error: ...` and exit status 2; a result outside
// the tolerance of --expected exits 1.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/Flags.h"
#include "tptt/Runtime/ModuleLibrary.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>

using json = nlohmann::json;
namespace st = tptt::safetensors;
using namespace tptt::runtime;
using tptt::launcher::die;

namespace {

constexpr const char *kUsage =
    "tptt-run-module: run a function of a module library (tptt-compile "
    "FILE.mlir -o LIB.so)\n\n"
    "  tptt-run-module LIB.so --function F --inputs IN.safetensors "
    "--outputs OUT.safetensors\n"
    "  tptt-run-module LIB.so --function F --inputs IN.safetensors "
    "--expected EXP.safetensors\n"
    "  tptt-run-module LIB.so --list\n\n"
    "Arguments are bound by name when every argument's name (see --list) is "
    "a tensor\nof --inputs, else by order when the file holds one tensor per "
    "argument. Results\nare named as --list shows. Exit status: 0 on "
    "success, 1 when a result is outside\nthe tolerance of --expected, 2 on "
    "any error.";

/// Prints the manifest: devices, then each function's signature.
void list(const ModuleManifest &manifest) {
  std::string devices;
  for (const std::string &device : manifest.devices)
    devices += (devices.empty() ? "" : ", ") + device;
  std::printf("devices: %s\n", devices.c_str());
  for (const FunctionSignature &function : manifest.functions) {
    std::printf("@%s\n", function.name.c_str());
    for (const TensorSignature &argument : function.arguments)
      std::printf("  argument %s: %s\n", argument.name.c_str(),
                  argument.describe().c_str());
    for (const TensorSignature &result : function.results)
      std::printf("  result %s: %s\n", result.name.c_str(),
                  result.describe().c_str());
  }
}

/// The arguments of `function` from `file` (null when it takes none).
std::vector<Tensor> bindInputs(const FunctionSignature &function,
                               const st::File *file) {
  std::vector<Tensor> inputs;
  if (function.arguments.empty())
    return inputs;
  if (!file)
    die("@" + function.name + " takes " +
        std::to_string(function.arguments.size()) +
        " arguments: give --inputs");
  bool byName = true;
  for (const TensorSignature &argument : function.arguments)
    byName &= file->find(argument.name) != nullptr;
  if (!byName && file->tensors().size() != function.arguments.size()) {
    std::string available;
    for (const st::TensorView &view : file->tensors())
      available += (available.empty() ? "" : ", ") + view.name;
    for (const TensorSignature &argument : function.arguments)
      if (!file->find(argument.name))
        die("missing input '" + argument.name + "' of @" + function.name +
            " in " + file->path() + " (it has: " + available + ")");
  }
  for (size_t i = 0; i < function.arguments.size(); ++i) {
    const TensorSignature &argument = function.arguments[i];
    const st::TensorView &view =
        byName ? *file->find(argument.name) : file->tensors()[i];
    std::string error;
    std::optional<Tensor> tensor = bindArgument(argument, view, error);
    if (!tensor)
      die(file->path() + ": " + error);
    inputs.push_back(std::move(*tensor));
  }
  return inputs;
}

/// Prints the name, dtype, shape and first 64 elements of a result.
void printResult(const std::string &name, const Tensor &tensor) {
  std::printf("%s: %s %s\n", name.c_str(), tensor.dtype.c_str(),
              describeShape(tensor.shape).c_str());
  int64_t shown = std::min<int64_t>(tensor.count(), 64);
  bool floating = tensor.dtype[0] == 'f' || tensor.dtype == "bf16";
  for (int64_t i = 0; i < shown; ++i) {
    std::printf(i ? " " : "  ");
    if (floating)
      std::printf(tensor.dtype == "f64" ? "%.17g" : "%.9g", tensor.at(i));
    else
      std::printf("%" PRId64, static_cast<int64_t>(tensor.at(i)));
  }
  std::printf(tensor.count() > shown ? " ...\n" : "\n");
}

} // namespace

int main(int argc, char **argv) {
  tptt::launcher::programName = "tptt-run-module";
  tptt::launcher::Flags flags("", kUsage);
  flags.value("function", "the function to run (default: the only one)");
  flags.value("inputs", "safetensors file with the arguments");
  flags.value("outputs", "safetensors file for the results (else printed)");
  flags.value("device", "cpu or cuda (default: cuda when the module has "
                        "CUDA code)");
  flags.value("benchmark", "time N more calls and report their median");
  flags.value("expected", "safetensors file with the expected results, by "
                          "result name: compare instead of printing");
  flags.value("tolerance", "largest max-relative error that passes "
                           "(default 1e-5)");
  flags.value("mask", "an input tensor over the results' leading "
                      "dimensions: only where it is nonzero is compared");
  flags.toggle("json", "print one JSON object with the comparison and "
                       "timing instead of text");
  flags.toggle("list", "print the module's functions and their signatures");
  // The library comes first; flags alone (--help) are parsed as such.
  bool haveLibrary = argc >= 2 && argv[1][0] != '-';
  flags.parse(argc - 1 - haveLibrary, argv + 1 + haveLibrary);
  if (!haveLibrary)
    die("no module library (tptt-run-module LIB.so ...; see --help)");
  std::string path = argv[1];

  std::string error;
  std::unique_ptr<ModuleLibrary> library = ModuleLibrary::open(path, error);
  if (!library)
    die(error);
  const ModuleManifest &manifest = library->manifest();
  if (flags.has("list")) {
    list(manifest);
    return 0;
  }

  const FunctionSignature *function = nullptr;
  std::string names;
  for (const FunctionSignature &candidate : manifest.functions)
    names += (names.empty() ? "@" : ", @") + candidate.name;
  if (flags.has("function")) {
    function = manifest.find(flags.text("function"));
    if (!function)
      die("no function @" + flags.text("function") + " in " + path +
          " (it has " + (names.empty() ? "none" : names) + ")");
  } else if (manifest.functions.size() == 1) {
    function = &manifest.functions[0];
  } else {
    die(manifest.functions.empty()
            ? path + " has no functions"
            : "several functions (" + names + "): choose one with --function");
  }

  Device device = library->hasDevice(Device::CUDA) ? Device::CUDA : Device::CPU;
  if (flags.has("device")) {
    std::string name = flags.text("device");
    if (name != "cpu" && name != "cuda")
      die("--device must be cpu or cuda, not '" + name + "'");
    device = name == "cuda" ? Device::CUDA : Device::CPU;
  }
  if (device == Device::CUDA && library->hasDevice(Device::CUDA) &&
      !cuda::deviceInfo(0, error))
    die("--device cuda: " + error);
  int64_t repeats = flags.integer("benchmark", 0, 0, 1000000);
  double tolerance = flags.number("tolerance", 1e-5, 0, INFINITY);
  if ((flags.has("tolerance") || flags.has("mask")) && !flags.has("expected"))
    die("--tolerance and --mask need --expected");

  std::unique_ptr<st::File> inputFile;
  if (flags.has("inputs")) {
    inputFile = st::File::open(flags.text("inputs"), error);
    if (!inputFile)
      die(error);
  }
  std::unique_ptr<st::File> expectedFile;
  const st::TensorView *mask = nullptr;
  if (flags.has("expected")) {
    expectedFile = st::File::open(flags.text("expected"), error);
    if (!expectedFile)
      die(error);
    for (const TensorSignature &result : function->results)
      if (!expectedFile->find(result.name))
        die(expectedFile->path() + " has no tensor '" + result.name +
            "' (result of @" + function->name + ")");
    if (flags.has("mask")) {
      mask = inputFile ? inputFile->find(flags.text("mask")) : nullptr;
      if (!mask)
        die("--mask: no input tensor '" + flags.text("mask") + "'");
    }
  }
  std::vector<Tensor> inputs = bindInputs(*function, inputFile.get());

  std::optional<std::vector<Tensor>> results =
      library->call(*function, device, inputs, error);
  if (!results)
    die(error);
  std::vector<double> times;
  for (int64_t i = 0; i < repeats; ++i) {
    double milliseconds = 0;
    if (!library->call(*function, device, inputs, error, &milliseconds))
      die(error);
    times.push_back(milliseconds);
  }

  json report = {{"function", function->name},
                 {"device", device == Device::CUDA ? "cuda" : "cpu"}};
  bool passed = true;
  if (expectedFile) {
    json errors = json::object();
    double worst = 0;
    for (size_t i = 0; i < results->size(); ++i) {
      const std::string &name = function->results[i].name;
      std::string why;
      double relative =
          relativeError((*results)[i], *expectedFile->find(name), mask, why);
      if (!why.empty())
        die(why);
      errors[name] = relative;
      worst = std::max(worst, relative);
    }
    passed = worst <= tolerance;
    report["max_relative_error"] = worst;
    report["errors"] = errors;
    report["tolerance"] = tolerance;
    report["passed"] = passed;
    if (!flags.has("json"))
      std::printf("%s @%s %.3g\n", passed ? "PASS" : "FAIL",
                  function->name.c_str(), worst);
  }
  if (flags.has("outputs")) {
    std::vector<st::OwnedTensor> owned;
    for (size_t i = 0; i < results->size(); ++i) {
      Tensor &tensor = (*results)[i];
      owned.push_back({function->results[i].name,
                       *safetensorsDtype(tensor.dtype), tensor.shape,
                       std::move(tensor.bytes)});
    }
    if (!st::write(flags.text("outputs"), owned, {}, error))
      die(error);
  } else if (!expectedFile && !flags.has("json")) {
    for (size_t i = 0; i < results->size(); ++i)
      printResult(function->results[i].name, (*results)[i]);
  }
  if (repeats) {
    std::vector<double> sorted = times;
    std::sort(sorted.begin(), sorted.end());
    double median =
        sorted.size() % 2
            ? sorted[sorted.size() / 2]
            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
    report["benchmark"] = {
        {"calls", repeats},
        {"median_ms", median},
        {"min_ms", sorted.front()},
        {"max_ms", sorted.back()},
        {"timer", device == Device::CUDA ? "cuda-events" : "steady-clock"}};
    if (!flags.has("json"))
      std::fprintf(stderr,
                   "tptt-run-module: @%s on %s: median %.3f ms (min %.3f, "
                   "max %.3f) over %" PRId64 " calls\n",
                   function->name.c_str(),
                   device == Device::CUDA ? "cuda" : "cpu", median,
                   sorted.front(), sorted.back(), repeats);
  }
  if (flags.has("json"))
    std::printf("%s\n", report.dump().c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    die("cannot write the standard output");
  return passed ? 0 : 1;
}

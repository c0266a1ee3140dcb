//===- tptt-run.cpp - Run a function of an .mlir file on the CPU ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//   tptt-run FILE.mlir [--entry F] [--inputs IN.safetensors]
//            [--outputs OUT.safetensors] [--emit=<stage>]
//   tptt-run --goldens DIR [--dtype f64|f32]
//
// Compiles the module with the tptt CPU pipeline, JIT-executes one function
// on tensors read from a safetensors file and writes its results to another.
// Every error is one line `tptt-run: error: ...` and exit status 2.
//
//===----------------------------------------------------------------------===//

#include "Goldens.h"
#include "Runner.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "tptt/InitAll.h"
#include "tptt/Pipelines/Pipelines.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <malloc.h>

using namespace mlir;
using namespace mlir::tptt;
using namespace tpttrun;

namespace cl = llvm::cl;

static cl::OptionCategory category("tptt-run options");
static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<module.mlir>"),
                                      cl::cat(category));
static cl::opt<std::string>
    entry("entry",
          cl::desc("The function to run (default: the module's only public "
                   "function)"),
          cl::cat(category));
static cl::opt<std::string> inputs(
    "inputs",
    cl::desc("Safetensors file with the arguments, bound by name (argument "
             "attribute tptt.name, else arg0, arg1, ...) or, when the names "
             "do not all match, by order"),
    cl::cat(category));
static cl::opt<std::string>
    outputs("outputs",
            cl::desc("Safetensors file for the results (result attribute "
                     "tptt.name, else result0, result1, ...); without it, "
                     "the results are printed"),
            cl::cat(category));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("Print the module after this pipeline stage (tptt, linalg, tiled, "
             "bufferized, loops, llvm) instead of running it"),
    cl::cat(category));
static cl::opt<std::string>
    goldens("goldens",
            cl::desc("Run every case of a golden directory and report "
                     "PASS/FAIL per case"),
            cl::cat(category));
static cl::opt<std::string>
    dtype("dtype", cl::desc("Golden mode precision: f64 (default) or f32"),
          cl::init("f64"), cl::cat(category));
static cl::opt<int64_t>
    numThreads("num-threads",
               cl::desc("OpenMP threads of the compiled code (0: all cores)"),
               cl::init(0), cl::cat(category));
static cl::opt<unsigned>
    repeat("repeat",
           cl::desc("Call the function this many more times after a first "
                    "call and report the best and mean wall time on stderr"),
           cl::init(0), cl::cat(category));
static cl::opt<unsigned> optLevel("opt-level",
                                  cl::desc("LLVM optimization level (0-3)"),
                                  cl::init(3), cl::cat(category));

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "tptt-run: error: " << message << "\n";
  return 2;
}

std::string typeString(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << type;
  return text;
}

std::string nameOf(func::FuncOp func, unsigned index, bool result) {
  auto attr = result ? func.getResultAttrOfType<StringAttr>(index, "tptt.name")
                     : func.getArgAttrOfType<StringAttr>(index, "tptt.name");
  if (attr)
    return attr.str();
  return (result ? "result" : "arg") + std::to_string(index);
}

/// Binds the arguments of `func` to the tensors of `file`.
llvm::Expected<std::vector<HostTensor>>
bindInputs(func::FuncOp func, const ::tptt::safetensors::File *file) {
  FunctionType type = func.getFunctionType();
  std::vector<HostTensor> bound;
  if (type.getNumInputs() == 0)
    return bound;
  if (!file)
    return llvm::createStringError("@" + func.getName().str() + " takes " +
                                   std::to_string(type.getNumInputs()) +
                                   " arguments: give --inputs");
  bool byName = true;
  for (unsigned i = 0; i < type.getNumInputs(); ++i)
    byName &= file->find(nameOf(func, i, false)) != nullptr;
  if (!byName && file->tensors().size() != type.getNumInputs()) {
    std::string available;
    for (const auto &view : file->tensors())
      available += (available.empty() ? "" : ", ") + view.name;
    for (unsigned i = 0; i < type.getNumInputs(); ++i)
      if (!file->find(nameOf(func, i, false)))
        return llvm::createStringError(
            "missing tensor '" + nameOf(func, i, false) + "' for argument #" +
            std::to_string(i) + " of @" + func.getName().str() + " in " +
            file->path() + " (it has: " + available + ")");
  }
  for (unsigned i = 0; i < type.getNumInputs(); ++i) {
    const ::tptt::safetensors::TensorView &view =
        byName ? *file->find(nameOf(func, i, false)) : file->tensors()[i];
    auto argType = cast<RankedTensorType>(type.getInput(i));
    auto tensor = loadTensor(view, argType.getElementType());
    if (!tensor)
      return tensor.takeError();
    bool shapeOk = view.shape.size() == static_cast<size_t>(argType.getRank());
    for (int64_t d = 0; shapeOk && d < argType.getRank(); ++d)
      shapeOk =
          argType.isDynamicDim(d) || argType.getDimSize(d) == view.shape[d];
    if (!shapeOk) {
      std::string shape;
      for (int64_t size : view.shape)
        shape += (shape.empty() ? "" : ", ") + std::to_string(size);
      return llvm::createStringError(
          "tensor '" + view.name + "' has shape [" + shape +
          "], but argument #" + std::to_string(i) + " of @" +
          func.getName().str() + " is " + typeString(argType));
    }
    bound.push_back(std::move(*tensor));
  }
  return bound;
}

void printTensor(const HostTensor &tensor) {
  llvm::outs() << tensor.name << ": " << typeString(tensor.elementType) << " [";
  for (auto [i, size] : llvm::enumerate(tensor.shape))
    llvm::outs() << (i ? ", " : "") << size;
  llvm::outs() << "]\n";
  int64_t count = tensor.numElements(), shown = std::min<int64_t>(count, 64);
  for (int64_t i = 0; i < shown; ++i)
    llvm::outs() << (i ? " " : "  ") << llvm::format("%.9g", tensor.at(i));
  llvm::outs() << (count > shown ? " ...\n" : "\n");
}

int runFile(MLIRContext &context) {
  if (inputFile.empty())
    return fail("no input module (tptt-run FILE.mlir ... or --goldens DIR)");
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  std::string errorMessage;
  auto buffer = openInputFile(inputFile, &errorMessage);
  if (!buffer)
    return fail(errorMessage);
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  if (!module)
    return fail("cannot parse " + inputFile);

  if (!emit.empty()) {
    std::optional<TpttStage> stage = parseTpttStage(emit);
    if (!stage)
      return fail("unknown stage '" + emit +
                  "' (tptt, linalg, tiled, bufferized, loops, llvm)");
    PassManager pm(&context);
    TpttPipelineOptions options;
    options.to = *stage;
    buildTpttPipeline(pm, options);
    if (failed(pm.run(*module)))
      return fail("the tptt pipeline failed");
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  func::FuncOp func;
  std::string publicFunctions;
  for (auto candidate : module->getOps<func::FuncOp>()) {
    if (candidate.isDeclaration() || !candidate.isPublic())
      continue;
    publicFunctions +=
        (publicFunctions.empty() ? "@" : ", @") + candidate.getName().str();
    if (entry.empty() ? !func : candidate.getName() == entry)
      func = func ? func::FuncOp() : candidate;
  }
  if (!func) {
    if (publicFunctions.empty())
      return fail(inputFile + " has no public function to run");
    return fail(entry.empty()
                    ? "several functions (" + publicFunctions +
                          "): choose one with --entry"
                    : "no public function @" + entry + " in " + inputFile +
                          " (it has " + publicFunctions + ")");
  }
  FunctionType type = func.getFunctionType();
  for (Type t : llvm::concat<const Type>(type.getInputs(), type.getResults())) {
    auto tensor = dyn_cast<RankedTensorType>(t);
    if (!tensor || !dtypeOf(tensor.getElementType()))
      return fail("@" + func.getName() + " has a " + typeString(t) +
                  " argument or result; tptt-run passes ranked tensors of " +
                  "f64, f32, f16, bf16, i64, i32, i8 and i1");
  }
  std::string name = func.getName().str();
  std::vector<std::string> resultNames;
  for (unsigned i = 0; i < type.getNumResults(); ++i)
    resultNames.push_back(nameOf(func, i, true));

  std::unique_ptr<::tptt::safetensors::File> file;
  if (!inputs.empty()) {
    std::string error;
    file = ::tptt::safetensors::File::open(inputs, error);
    if (!file)
      return fail(error);
  }
  auto bound = bindInputs(func, file.get());
  if (!bound)
    return fail(llvm::toString(bound.takeError()));

  // The names are tptt-run's own convention; the LLVM translation does not
  // know the attribute.
  StringAttr nameAttr = StringAttr::get(&context, "tptt.name");
  for (auto function : module->getOps<func::FuncOp>()) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      function.removeArgAttr(i, nameAttr);
    for (unsigned i = 0; i < function.getNumResults(); ++i)
      function.removeResultAttr(i, nameAttr);
  }
  auto runner = Runner::compile(*module, numThreads, optLevel);
  if (!runner)
    return fail(llvm::toString(runner.takeError()));
  auto results = (*runner)->call(name, type, *bound);
  if (!results)
    return fail(llvm::toString(results.takeError()));
  if (repeat > 0) {
    double best = INFINITY, total = 0.0;
    for (unsigned i = 0; i < repeat; ++i) {
      auto start = std::chrono::steady_clock::now();
      auto again = (*runner)->call(name, type, *bound);
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (!again)
        return fail(llvm::toString(again.takeError()));
      best = std::min(best, ms);
      total += ms;
    }
    llvm::errs() << "tptt-run: @" << name << ": best "
                 << llvm::format("%.3f", best) << " ms, mean "
                 << llvm::format("%.3f", total / repeat) << " ms over "
                 << repeat << " calls\n";
  }

  if (outputs.empty()) {
    for (auto [tensor, resultName] : llvm::zip(*results, resultNames)) {
      tensor.name = resultName;
      printTensor(tensor);
    }
    return 0;
  }
  std::vector<::tptt::safetensors::OwnedTensor> owned;
  for (auto [tensor, resultName] : llvm::zip(*results, resultNames))
    owned.push_back({resultName, *dtypeOf(tensor.elementType), tensor.shape,
                     std::move(tensor.data)});
  std::string error;
  if (!::tptt::safetensors::write(outputs, owned, {}, error))
    return fail(error);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // The compiled code allocates its large buffers on every call; keep them
  // in the heap once freed (no mmap/munmap and page faults per call), as a
  // long-running inference process would.
  mallopt(M_MMAP_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "tptt-run: run a function of an .mlir file (tptt ops included) on the "
      "CPU\n\n"
      "  tptt-run FILE.mlir --entry F --inputs IN.safetensors --outputs "
      "OUT.safetensors\n"
      "  tptt-run --goldens DIR [--dtype f32]\n\n"
      "Arguments and results are ranked tensors (f64, f32, f16, bf16, i64, "
      "i32, i8;\ni1 arguments also take BOOL, U8, I32 or I64 data, nonzero "
      "meaning true).\n");

  DialectRegistry registry;
  registerAllTpttDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  if (!goldens.empty()) {
    if (dtype != "f64" && dtype != "f32")
      return fail("--dtype must be f64 or f32, not '" + dtype + "'");
    return runGoldens(context, goldens, dtype, numThreads);
  }
  return runFile(context);
}

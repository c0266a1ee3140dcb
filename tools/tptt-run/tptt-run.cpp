//===- tptt-run.cpp - Run a function of an .mlir file on the CPU ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//   tptt-run FILE.mlir [--entry F] [--inputs IN.safetensors]
//            [--outputs OUT.safetensors] [--emit=<stage>]
//   tptt-run --goldens DIR [--dtype f64|f32] [--aot [--aot-dir D]]
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
#include "mlir/Transforms/Passes.h"
#include "tptt/InitAll.h"
#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/Executable.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <cstring>
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
static cl::opt<std::string>
    emit("emit",
         cl::desc("Print the module after this pipeline stage (tptt, autodiff, "
                  "linalg, tiled, bufferized, loops, gpu (for --target "
                  "cuda-on-cpu), llvm) instead of running it"),
         cl::cat(category));
static cl::opt<std::string>
    goldens("goldens",
            cl::desc("Run every case of a golden directory and report "
                     "PASS/FAIL per case"),
            cl::cat(category));
static cl::opt<std::string> targetName(
    "target",
    cl::desc("Where the code runs: cpu (default), cuda (the GPU: needs an "
             "NVIDIA driver and the CUDA toolkit's libdevice), or cuda-on-cpu "
             "(the CUDA target's kernels, each launch run as loops over its "
             "blocks and threads on the CPU: checks the GPU mapping without a "
             "GPU)"),
    cl::init("cpu"), cl::cat(category));
static cl::opt<std::string>
    dtype("dtype", cl::desc("Golden mode precision: f64 (default) or f32"),
          cl::init("f64"), cl::cat(category));
static cl::opt<bool>
    aot("aot",
        cl::desc("Golden mode: compile every case ahead of time into one "
                 "module library and run each with tptt-run-module (the "
                 "path a compiled artifact takes), instead of the JIT"),
        cl::cat(category));
static cl::opt<std::string>
    aotDir("aot-dir",
           cl::desc("With --aot: keep the library, each case's inputs and "
                    "expected results and cases.json in this directory"),
           cl::value_desc("DIR"), cl::cat(category));
static cl::opt<bool>
    compileOnly("compile-only",
                cl::desc("With --aot-dir: compile and write the cases, run "
                         "none (for a machine that runs them elsewhere)"),
                cl::cat(category));
// Numbers are read as text and parsed here, so that a bad value is an error
// like any other (cl's own parser prints its own message and exits 1).
static cl::opt<std::string>
    numThreadsText("num-threads",
                   cl::desc("OpenMP threads of the compiled code (0: all "
                            "cores)"),
                   cl::value_desc("n"), cl::init("0"), cl::cat(category));
static cl::opt<std::string> repeatText(
    "repeat",
    cl::desc("Call the function this many more times after a first call and "
             "report the best and mean wall time of the compiled function (not "
             "counting staging the inputs or copying the results out) on "
             "stderr"),
    cl::value_desc("n"), cl::init("0"), cl::cat(category));
static cl::opt<std::string>
    optLevelText("opt-level", cl::desc("LLVM optimization level (0-3)"),
                 cl::value_desc("n"), cl::init("3"), cl::cat(category));

namespace {

/// The numeric options, once parsed.
struct Settings {
  int64_t numThreads = 0;
  TpttTarget target = TpttTarget::CPU;
  unsigned repeat = 0;
  unsigned optLevel = 3;
};

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
llvm::Expected<std::vector<Tensor>>
bindInputs(func::FuncOp func, const ::tptt::safetensors::File *file) {
  FunctionType type = func.getFunctionType();
  std::vector<Tensor> bound;
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

/// Prints the name, type, shape and first 64 elements of `tensor`: integers
/// exactly, f64 with 17 significant digits, narrower floats with 9.
void printTensor(const std::string &name, const Tensor &tensor) {
  llvm::outs() << name << ": " << tensor.dtype << " [";
  for (auto [i, size] : llvm::enumerate(tensor.shape))
    llvm::outs() << (i ? ", " : "") << size;
  llvm::outs() << "]\n";
  bool integer = tensor.dtype[0] == 'i';
  const char *format = tensor.dtype == "f64" ? "%.17g" : "%.9g";
  int64_t count = tensor.count(), shown = std::min<int64_t>(count, 64);
  for (int64_t i = 0; i < shown; ++i) {
    llvm::outs() << (i ? " " : "  ");
    if (!integer) {
      llvm::outs() << llvm::format(format, tensor.at(i));
      continue;
    }
    // i1 is one byte holding 0 or 1; the others are two's complement.
    size_t bytes = Tensor::width(tensor.dtype);
    uint64_t bits = 0;
    std::memcpy(&bits, tensor.data() + i * bytes, bytes);
    llvm::outs() << (tensor.dtype == "i1"
                         ? static_cast<int64_t>(bits)
                         : llvm::SignExtend64(bits, 8 * bytes));
  }
  llvm::outs() << (count > shown ? " ...\n" : "\n");
}

int runFile(MLIRContext &context, const Settings &settings) {
  if (inputFile.empty())
    return fail("no input module (tptt-run FILE.mlir ... or --goldens DIR)");
  llvm::SourceMgr sourceMgr;
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  std::string errorMessage;
  auto buffer = openInputFile(inputFile, &errorMessage);
  if (!buffer)
    return fail(errorMessage);
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  // A module that does not parse or verify is bad input: its first error,
  // on one line. (The pipeline's diagnostics keep their source context.)
  std::string parseError;
  OwningOpRef<ModuleOp> module;
  {
    ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diag) {
      if (diag.getSeverity() != DiagnosticSeverity::Error ||
          !parseError.empty())
        return success();
      llvm::raw_string_ostream os(parseError);
      if (auto where = diag.getLocation()->findInstanceOf<FileLineColLoc>())
        os << where.getFilename().getValue() << ":" << where.getLine() << ":"
           << where.getColumn() << ": ";
      os << diag;
      return success();
    });
    module = parseSourceFile<ModuleOp>(sourceMgr, &context);
  }
  if (!module)
    return fail(parseError.empty() ? "cannot parse " + inputFile : parseError);

  if (!emit.empty()) {
    std::optional<TpttStage> stage = parseTpttStage(emit);
    if (!stage)
      return fail("unknown stage '" + emit + "' (" +
                  llvm::join(getTpttStageNames(), ", ") + ")");
    PassManager pm(&context);
    TpttPipelineOptions options;
    options.to = *stage;
    options.target = settings.target;
    buildTpttPipeline(pm, options);
    if (failed(pm.run(*module)))
      return fail("the tptt pipeline failed");
    module->print(llvm::outs());
    llvm::outs() << "\n";
    return 0;
  }

  // The entry: the function --entry names, else the only public one.
  func::FuncOp func;
  std::string publicFunctions;
  unsigned numPublic = 0;
  for (auto candidate : module->getOps<func::FuncOp>()) {
    if (candidate.isDeclaration() || !candidate.isPublic())
      continue;
    publicFunctions +=
        (publicFunctions.empty() ? "@" : ", @") + candidate.getName().str();
    if (entry.empty() ? ++numPublic == 1 : candidate.getName() == entry)
      func = candidate;
  }
  if (entry.empty() && numPublic > 1)
    func = func::FuncOp();
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

  // Only what the entry reaches is compiled: the other public functions
  // become private, and symbol DCE drops whatever nothing calls.
  for (auto other : module->getOps<func::FuncOp>())
    if (other != func && !other.isDeclaration())
      other.setPrivate();
  PassManager dce(&context);
  dce.addPass(createSymbolDCEPass());
  if (failed(dce.run(*module)))
    return fail("could not drop the functions that @" + name +
                " does not call");

  // The names are tptt-run's own convention; the LLVM translation does not
  // know the attribute.
  StringAttr nameAttr = StringAttr::get(&context, "tptt.name");
  for (auto function : module->getOps<func::FuncOp>()) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      function.removeArgAttr(i, nameAttr);
    for (unsigned i = 0; i < function.getNumResults(); ++i)
      function.removeResultAttr(i, nameAttr);
  }
  auto runner = Runner::compile(*module, settings.numThreads, settings.optLevel,
                                settings.target);
  if (!runner)
    return fail(llvm::toString(runner.takeError()));
  auto results = (*runner)->call(name, type, *bound);
  if (!results)
    return fail(llvm::toString(results.takeError()));
  if (unsigned repeat = settings.repeat) {
    double best = INFINITY, total = 0.0;
    for (unsigned i = 0; i < repeat; ++i) {
      double ms = 0.0;
      auto again = (*runner)->call(name, type, *bound, &ms);
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
    for (auto [tensor, resultName] : llvm::zip(*results, resultNames))
      printTensor(resultName, tensor);
    return 0;
  }
  std::vector<::tptt::safetensors::OwnedTensor> owned;
  for (auto [tensor, resultName] : llvm::zip(*results, resultNames))
    owned.push_back({resultName,
                     *::tptt::runtime::safetensorsDtype(tensor.dtype),
                     tensor.shape, std::move(tensor.bytes)});
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
  // Command-line errors follow the tool's contract too: one line, status 2.
  std::string usageErrors;
  llvm::raw_string_ostream usageStream(usageErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "tptt-run: run a function of an .mlir file (tptt ops included) on "
          "the CPU\n\n"
          "  tptt-run FILE.mlir --entry F --inputs IN.safetensors --outputs "
          "OUT.safetensors\n"
          "  tptt-run --goldens DIR [--dtype f32]\n\n"
          "Arguments and results are ranked tensors of f64, f32, f16, bf16, "
          "i64, i32, i8\nor i1 (an i1 argument also takes BOOL, U8, I32 or "
          "I64 data, nonzero meaning\ntrue). Arguments are bound by name when "
          "every argument's name is a tensor of\nthe file: the name is the "
          "argument attribute tptt.name, else arg0, arg1, ...;\notherwise, "
          "when the file holds exactly one tensor per argument, by order.\n"
          "Results are named by the result attribute tptt.name, else result0, "
          "result1, ...\n\n"
          "Golden mode runs every case of a directory in the format of "
          "shared/goldens\n(index.json optional) and prints PASS|FAIL <case> "
          "<max relative error> per\ncase, then `N passed, M failed`.\n\n"
          "Exit status: 0 on success, 1 when a golden case fails, 2 on any "
          "error.\n",
          &usageStream)) {
    llvm::StringRef first = llvm::StringRef(usageErrors).split('\n').first;
    first.consume_front("tptt-run: ");
    // A missing value is reported by the option itself, on its own line.
    if (first.trim().empty())
      return 2;
    return fail(first.rtrim());
  }
  Settings settings;
  if (!llvm::to_integer(numThreadsText, settings.numThreads) ||
      settings.numThreads < 0 ||
      settings.numThreads > ::tptt::runtime::kMaxThreads)
    return fail("--num-threads must be 0 (all cores) or an integer up to " +
                std::to_string(::tptt::runtime::kMaxThreads) + ", not '" +
                numThreadsText + "'");
  if (!llvm::to_integer(repeatText, settings.repeat))
    return fail("--repeat must be a non-negative integer, not '" + repeatText +
                "'");
  if (!llvm::to_integer(optLevelText, settings.optLevel) ||
      settings.optLevel > 3)
    return fail("--opt-level must be 0, 1, 2 or 3, not '" + optLevelText + "'");
  if (targetName == "cuda")
    settings.target = TpttTarget::CUDA;
  else if (targetName == "cuda-on-cpu")
    settings.target = TpttTarget::CudaOnCpu;
  else if (targetName != "cpu")
    return fail("--target must be cpu, cuda or cuda-on-cpu, not '" +
                targetName + "'");
  if ((!aotDir.empty() || compileOnly) && !aot)
    return fail("--aot-dir and --compile-only need --aot");
  if (compileOnly && aotDir.empty())
    return fail("--compile-only needs --aot-dir (where the cases go)");
  // The GPU must be there before anything is compiled for it (unless it
  // runs elsewhere).
  std::string noDevice;
  if (settings.target == TpttTarget::CUDA && !compileOnly &&
      !::tptt::runtime::cuda::deviceInfo(0, noDevice))
    return fail("--target cuda: " + noDevice);

  DialectRegistry registry;
  registerAllTpttDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  if (!goldens.empty()) {
    if (dtype != "f64" && dtype != "f32")
      return fail("--dtype must be f64 or f32, not '" + dtype + "'");
    GoldenOptions options;
    options.precision = dtype;
    options.numThreads = settings.numThreads;
    options.target = settings.target;
    options.aot = aot;
    options.aotDir = aotDir;
    options.compileOnly = compileOnly;
    return runGoldens(context, goldens, options);
  }
  return runFile(context, settings);
}

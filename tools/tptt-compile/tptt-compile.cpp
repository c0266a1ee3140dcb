//===- tptt-compile.cpp - Models and modules become binaries --------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//   tptt-compile MODEL_DIR -o EXE [--target cpu|cuda] [--semantics S]
//                [--chip sm_90] [--ptx-features +ptx80] [--gpu-format isa]
//                [--emit=<stage>] [--dump-dir D] [--external-weights]
//   tptt-compile MODULE.mlir -o LIB.so [--target cpu|cuda] [--emit=<stage>]
//
// A thin command line over the compile session (Compiler/Compiler.h): a
// model directory becomes an executable (or a library with the C API), a
// module of tptt/linalg/func ops a module library whose functions
// tptt-run-module runs. Every error is one line `tptt-compile: error: ...`
// and exit status 2.
//
//===----------------------------------------------------------------------===//

#include "tptt/Compiler/Compiler.h"
#include "tptt/InitAll.h"
#include "tptt/Runtime/Executable.h"

#include "mlir/IR/AsmState.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

namespace cl = llvm::cl;
using namespace tptt::compiler;

namespace {

cl::OptionCategory category("tptt-compile options");

cl::opt<std::string> input(cl::Positional, cl::desc("MODEL_DIR | MODULE.mlir"),
                           cl::cat(category));
cl::opt<std::string> outputPath(
    "o",
    cl::desc("The file to write: the executable, the library, or the "
             "stage --emit names (default for a stage: standard output)"),
    cl::value_desc("OUT"), cl::cat(category));
cl::opt<std::string> targetName(
    "target",
    cl::desc("Code for: cpu (the host CPU), cuda (NVIDIA GPUs, with the "
             "CPU code too: the executable's --device picks) or cuda-on-cpu "
             "(the CUDA kernels run on the CPU, each launch as loops over its "
             "blocks and threads: checks the GPU mapping without a GPU)"),
    cl::init("cpu"), cl::cat(category));
cl::opt<std::string> chip("chip",
                          cl::desc("The GPU architecture for --target cuda"),
                          cl::init("sm_90"), cl::cat(category));
cl::opt<std::string>
    ptxFeatures("ptx-features",
                cl::desc("The PTX ISA version for --target cuda (at least "
                         "the chip's minimum)"),
                cl::init("+ptx80"), cl::cat(category));
cl::opt<std::string> gpuFormat(
    "gpu-format",
    cl::desc("What the executable embeds for --target cuda: isa (PTX, "
             "compiled by the driver) or fatbin (cubin and PTX, by ptxas)"),
    cl::init("isa"), cl::cat(category));
cl::opt<std::string>
    cudaToolkit("cuda-toolkit",
                cl::desc("The CUDA toolkit with libdevice and ptxas "
                         "(default: $CUDA_HOME, else /usr/local/cuda)"),
                cl::cat(category));
cl::opt<std::string>
    semanticsOverride("semantics",
                      cl::desc("recurrent | tptt-0.12 (overrides the config's "
                               "tptt.semantics)"),
                      cl::cat(category));
cl::opt<std::string> emitStage(
    "emit",
    cl::desc("Stop after this stage and print it: tptt, autodiff, linalg, "
             "tiled, bufferized, loops, gpu (--target cuda), llvm (MLIR), "
             "ptx (--target cuda: every kernel module's PTX), llvm-ir; or "
             "build exe (a model's default) or shared-lib (for a model, the "
             "C API of Runtime/tptt.h; for a module, its library, the "
             "default: Runtime/ModuleLibrary.h). With --mlir-print-debuginfo "
             "every op names the Hugging Face module it comes from"),
    cl::cat(category));
cl::opt<std::string> trainMode(
    "train",
    cl::desc("Also compile the training entry points (tptt_loss, "
             "tptt_train_step) for: lora (the config's lora_config, or r 8 "
             "on q/k/v/o), lora-minus (the LiZA layers' attention "
             "projections) or full (every parameter)"),
    cl::cat(category));
cl::opt<std::string> dumpDir("dump-dir",
                             cl::desc("Write the IR after every stage here"),
                             cl::cat(category));
cl::opt<bool> externalWeights(
    "external-weights",
    cl::desc("Keep the weights beside the executable (EXE.weights."
             "safetensors) instead of inside it"),
    cl::cat(category));
cl::opt<std::string>
    adapterDir("adapter",
               cl::desc("A PEFT LoRA adapter directory (adapter_config.json, "
                        "adapter_model.safetensors) to merge into the weights"),
               cl::value_desc("DIR"), cl::cat(category));
cl::opt<std::string> baseDir(
    "base",
    cl::desc("The base model's directory (config.json, safetensors weights, "
             "tokenizer.json) when the input is a checkpoint saved by the "
             "reference library (architectures [\"TpttModel\"]), which names "
             "it in base_model_name"),
    cl::value_desc("DIR"), cl::cat(category));
cl::opt<std::string> weightType(
    "weight-type",
    cl::desc("The element type of the model's weights in the executable: "
             "f32 or bf16 (default: bf16 for --target cuda, else f32). The "
             "weights a training step updates stay f32"),
    cl::cat(category));
cl::opt<bool> strict(
    "strict",
    cl::desc("Make a weight with NaN or infinite values an error rather than "
             "a warning"),
    cl::cat(category));
// Parsed here, so that a bad value is an error like any other (cl's own
// parser exits 1).
cl::opt<std::string> numThreads("num-threads",
                                cl::desc("OpenMP threads (0: all cores)"),
                                cl::value_desc("n"), cl::init("0"),
                                cl::cat(category));

[[noreturn]] void die(const llvm::Twine &message) {
  llvm::errs() << "tptt-compile: error: " << message << "\n";
  std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::tptt::registerAllTpttPasses();
  // --mlir-print-debuginfo shows the Hugging Face module of every op.
  mlir::registerAsmPrinterCLOptions();
  cl::HideUnrelatedOptions(category);
  // Usage errors follow the tool's contract too: one line, status 2.
  std::string usageErrors;
  llvm::raw_string_ostream usageStream(usageErrors);
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "tptt-compile: compile a TPTT model directory (config.json with a "
          "`tptt` object, safetensors weights) into an executable or a shared "
          "library, or a module of tptt/linalg/func ops (MODULE.mlir) into a "
          "module library for tptt-run-module\n",
          &usageStream)) {
    llvm::StringRef first = llvm::StringRef(usageErrors).split('\n').first;
    first.consume_front("tptt-compile: ");
    // A missing value is reported by the option itself, on its own line.
    if (first.trim().empty())
      std::exit(2);
    die(first.rtrim());
  }
  if (input.empty())
    die("no input (tptt-compile MODEL_DIR -o EXE, or MODULE.mlir -o LIB.so)");

  CompileOptions options;
  if (targetName == "cuda")
    options.target = mlir::tptt::TpttTarget::CUDA;
  else if (targetName == "cuda-on-cpu")
    options.target = mlir::tptt::TpttTarget::CudaOnCpu;
  else if (targetName != "cpu")
    die("unknown --target '" + targetName + "' (cpu, cuda, cuda-on-cpu)");
  if (gpuFormat != "isa" && gpuFormat != "fatbin")
    die("--gpu-format must be isa or fatbin, not '" + gpuFormat + "'");
  options.chip = chip;
  options.ptxFeatures = ptxFeatures;
  options.gpuFormat = gpuFormat == "fatbin" ? mlir::tptt::TpttGpuFormat::Fatbin
                                            : mlir::tptt::TpttGpuFormat::Isa;
  options.cudaToolkit = cudaToolkit;
  if (!llvm::to_integer(numThreads.getValue(), options.numThreads) ||
      options.numThreads < 0 || options.numThreads > tptt::runtime::kMaxThreads)
    die("--num-threads must be 0 (all cores) or an integer up to " +
        llvm::Twine(tptt::runtime::kMaxThreads) + ", not '" + numThreads + "'");
  // A path that is not there is a model directory unless it names a module.
  bool isModule =
      llvm::StringRef(input).ends_with(".mlir") ||
      (llvm::sys::fs::exists(input) && !llvm::sys::fs::is_directory(input));
  bool binary =
      emitStage.empty() || emitStage == "exe" || emitStage == "shared-lib";
  if (!binary && emitStage != "ptx" && emitStage != "llvm-ir" &&
      !mlir::tptt::parseTpttStage(emitStage))
    die("unknown --emit stage '" + emitStage + "' (" +
        llvm::join(mlir::tptt::getTpttStageNames(), ", ") +
        ", ptx, llvm-ir, exe, shared-lib)");
  if (binary && outputPath.empty())
    die(isModule || emitStage == "shared-lib"
            ? "give the library's path with -o LIB.so"
            : "give the executable's path with -o EXE");
  if (isModule && emitStage == "exe")
    die("--emit=exe needs a model directory; a module becomes a library "
        "(--emit=shared-lib, the default)");
  if (isModule &&
      (!trainMode.empty() || !adapterDir.empty() ||
       !semanticsOverride.empty() || externalWeights || !weightType.empty()))
    die("--train, --adapter, --semantics, --external-weights and "
        "--weight-type apply to a model directory, not to a module");
  options.emit = binary ? "" : emitStage.getValue();
  options.dumpDir = dumpDir;
  options.outputPath = outputPath;
  options.progress = [](const std::string &message) {
    llvm::errs() << "tptt-compile: " << message << "\n";
  };
  if (llvm::Error error = validate(options))
    die(llvm::toString(std::move(error)));

  Session session(options);
  llvm::Error error = llvm::Error::success();
  if (isModule) {
    llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> module =
        session.parseModule(input);
    error = module ? compileModule(session, std::move(*module))
                   : module.takeError();
  } else {
    ModelOptions model;
    model.directory = input;
    model.adapterDirectory = adapterDir;
    model.baseDirectory = baseDir;
    model.semantics = semanticsOverride;
    model.train = trainMode;
    model.weightType = weightType;
    model.externalWeights = externalWeights;
    model.sharedLibrary = emitStage == "shared-lib";
    model.strict = strict;
    error = compileModel(session, model);
  }
  if (error)
    die(llvm::toString(std::move(error)));
  return 0;
}

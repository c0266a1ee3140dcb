//===- Compiler.h - The compile session tptt-compile drives -----*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// What turns a model directory or a module of tptt/linalg/func ops into a
// binary, as a library: tptt-compile is a thin command line over it (as
// iree-compile is over IREE's session API), and tptt-run's ahead-of-time
// golden mode compiles its cases with it. A Session holds the context and
// the options; compileModule and compileModel each run the pipeline one
// named stage at a time (dumping each with a dump directory, stopping at
// the one asked for), then emit, link and write the output atomically: a
// failure leaves no output file and no temporary behind.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_COMPILER_COMPILER_H
#define TPTT_COMPILER_COMPILER_H

#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/ModuleLibrary.h"
#include "tptt/Target/EmitExecutable.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace compiler {

/// What every compile takes.
struct CompileOptions {
  mlir::tptt::TpttTarget target = mlir::tptt::TpttTarget::CPU;
  /// The CUDA target's chip, PTX version, embedded format and toolkit.
  std::string chip = "sm_90";
  std::string ptxFeatures = "+ptx80";
  mlir::tptt::TpttGpuFormat gpuFormat = mlir::tptt::TpttGpuFormat::Isa;
  std::string cudaToolkit;
  /// OpenMP threads of the CPU code (0: all cores).
  int64_t numThreads = 0;
  /// Where to stop: a stage name (getTpttStageNames()), "ptx" (the kernels'
  /// PTX, --target cuda), "llvm-ir", or "" for the binary itself.
  std::string emit;
  /// When set, the IR after every stage is written here.
  std::string dumpDir;
  /// The output file; for a stage, empty means the standard output.
  std::string outputPath;
  /// Receives a line per step of a long compile (null: silent).
  std::function<void(const std::string &)> progress;
};

/// Checks the options that do not depend on the input: the target's, the
/// emit stage's, and that a binary has an output path.
llvm::Error validate(const CompileOptions &options);

/// The context and options that compiles share.
class Session {
public:
  explicit Session(CompileOptions options);
  ~Session();

  mlir::MLIRContext &getContext() { return context; }
  const CompileOptions &getOptions() const { return options; }

  /// Parses a module from `path` (its first error on one line).
  llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
  parseModule(const std::string &path);

  /// The outcome of lowering: done (the output was written), or the LLVM
  /// dialect to emit.
  struct Lowered {
    /// Whether compile stopped at the emit stage, its output written.
    bool stopped = false;
    /// The modules to emit: the target's, then (for CUDA) the CPU code.
    std::vector<mlir::OwningOpRef<mlir::ModuleOp>> modules;
    /// The public symbols of the binary: `entries`, then for CUDA each
    /// with the suffix _cuda.
    std::vector<std::string> symbols;
  };

  /// Runs the pipeline on `module` one stage at a time. For --target cuda
  /// the module is compiled for the GPU (the functions `entries` renamed
  /// F_cuda) and for the CPU, so that the binary runs on either.
  llvm::Expected<Lowered> lower(mlir::OwningOpRef<mlir::ModuleOp> module,
                                const std::vector<std::string> &entries);

  /// Translates `lowered` to a host object with, for every symbol S,
  /// `S_packed(void **)`, and the NUL-terminated string constants `globals`
  /// (symbol, text); links it as `link` into `path` (written atomically,
  /// mode 0755), or stops at --emit=llvm-ir. `prepare` may change the linked
  /// file before it is moved into place (append the weights).
  llvm::Error
  emit(Lowered &lowered,
       const std::vector<std::pair<std::string, std::string>> &globals,
       target::LinkKind link, const std::string &path,
       const std::function<llvm::Error(const std::string &)> &prepare = {});

  /// Reports a step through options.progress.
  void progress(const std::string &message) const;

private:
  CompileOptions options;
  mlir::MLIRContext context;
  /// Error diagnostics since the last stage began: any fails the stage,
  /// even from a pass that goes on.
  unsigned errors = 0;
  struct DiagnosticCounter;
  std::unique_ptr<DiagnosticCounter> counter;
};

/// The manifest of `module`'s public functions: their signatures (names
/// from the argument/result attribute tptt.name, else arg<i>/result<i>).
/// Every argument and result must be a ranked tensor of a dtype the runtime
/// knows.
llvm::Expected<runtime::ModuleManifest>
describeFunctions(mlir::ModuleOp module, mlir::tptt::TpttTarget target);

/// Compiles the public functions of `module` into a module library at the
/// session's output path (Runtime/ModuleLibrary.h), or stops at its emit
/// stage.
llvm::Error compileModule(Session &session,
                          mlir::OwningOpRef<mlir::ModuleOp> module);

/// What compileModel takes besides the session's options.
struct ModelOptions {
  /// The model directory: config.json, safetensors weights (one file or an
  /// index of shards), optionally tokenizer.json.
  std::string directory;
  /// A PEFT LoRA adapter directory to merge into the weights.
  std::string adapterDirectory;
  /// The base model of a reference checkpoint (`directory` saved by the
  /// reference library's TpttModel.save_pretrained).
  std::string baseDirectory;
  /// recurrent | tptt-0.12: overrides the config's tptt.semantics.
  std::string semantics;
  /// lora | lora-minus | full: also compile the training entry points.
  std::string train;
  /// f32 | bf16 (empty: bf16 for --target cuda, else f32).
  std::string weightType;
  /// Keep the weights beside the binary (OUT.weights.safetensors).
  bool externalWeights = false;
  /// A shared library with the C API instead of an executable.
  bool sharedLibrary = false;
  /// Weights that are not finite are an error (else a warning).
  bool strict = false;
};

/// Compiles a model directory into an executable (or a shared library with
/// the C API) at the session's output path, or stops at its emit stage.
llvm::Error compileModel(Session &session, const ModelOptions &model);

} // namespace compiler
} // namespace tptt

#endif // TPTT_COMPILER_COMPILER_H

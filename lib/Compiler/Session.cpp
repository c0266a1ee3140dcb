//===- Session.cpp - The compile session: stages, emission, linking -------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Compiler/Compiler.h"
#include "tptt/InitAll.h"
#include "tptt/Runtime/Executable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

using namespace tptt::compiler;
using mlir::tptt::TpttStage;
using mlir::tptt::TpttTarget;

namespace {

llvm::Error failure(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Writes `text` to `path`, or to the standard output when `path` is empty.
llvm::Error writeText(const std::string &path, llvm::StringRef text) {
  if (path.empty()) {
    llvm::outs() << text;
    llvm::outs().flush();
    return llvm::Error::success();
  }
  std::string error;
  std::unique_ptr<llvm::ToolOutputFile> out =
      mlir::openOutputFile(path, &error);
  if (!out)
    return failure(error);
  out->os() << text;
  out->os().flush();
  if (out->os().has_error())
    return failure(path + ": write error");
  out->keep();
  return llvm::Error::success();
}

/// The PTX of every kernel module (gpu.binary compiled with format isa) of
/// `module`, one after the other, each after a comment line naming it.
std::string kernelsPtx(mlir::ModuleOp module) {
  std::string text;
  module.walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute attr : binary.getObjects()) {
      auto object = llvm::cast<mlir::gpu::ObjectAttr>(attr);
      if (object.getFormat() != mlir::gpu::CompilationTarget::Assembly)
        continue;
      text += "// gpu.binary @" + binary.getName().str() + "\n";
      text += object.getObject().getValue().str();
    }
  });
  return text;
}

std::string print(mlir::Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os);
  return text;
}

/// Files removed when the object goes out of scope unless kept: no
/// half-written output survives a failure.
class TemporaryFiles {
public:
  ~TemporaryFiles() {
    for (const std::string &path : paths) {
      std::remove(path.c_str());
      llvm::sys::DontRemoveFileOnSignal(path);
    }
  }
  /// `path`, removed at the end and on SIGINT/SIGTERM.
  std::string add(const std::string &path) {
    paths.push_back(path);
    llvm::sys::RemoveFileOnSignal(path);
    return path;
  }

private:
  std::vector<std::string> paths;
};

/// Removes the temporaries `output`.o.tmp.PID and `output`.tmp.PID that a
/// killed compile (SIGKILL, which nothing can catch) left, those of
/// processes that no longer run.
void removeStaleTemporaries(const std::string &output) {
  std::error_code ec;
  llvm::StringRef parent = llvm::sys::path::parent_path(output);
  std::string name = llvm::sys::path::filename(output).str();
  for (llvm::sys::fs::directory_iterator it(parent.empty() ? "." : parent, ec),
       end;
       it != end && !ec; it.increment(ec)) {
    llvm::StringRef file = llvm::sys::path::filename(it->path());
    if (!file.consume_front(name) ||
        !(file.consume_front(".o.tmp.") || file.consume_front(".tmp.")))
      continue;
    unsigned pid;
    if (file.getAsInteger(10, pid) || pid == static_cast<unsigned>(getpid()))
      continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      llvm::sys::fs::remove(it->path());
  }
}

} // namespace

llvm::Error tptt::compiler::validate(const CompileOptions &options) {
  bool cuda = options.target == TpttTarget::CUDA;
  if (cuda && !llvm::StringRef(options.chip).starts_with("sm_"))
    return failure("--chip must name an NVIDIA architecture such as sm_90, "
                   "not '" +
                   options.chip + "'");
  const std::string &emit = options.emit;
  bool known = emit.empty() || emit == "ptx" || emit == "llvm-ir" ||
               mlir::tptt::parseTpttStage(emit).has_value();
  if (!known)
    return failure("unknown --emit stage '" + emit + "' (" +
                   llvm::join(mlir::tptt::getTpttStageNames(), ", ") +
                   ", ptx, llvm-ir)");
  if ((!cuda && emit == "ptx") ||
      (options.target == TpttTarget::CPU && emit == "gpu"))
    return failure("--emit=" + emit + " needs --target cuda");
  if (emit == "ptx" && options.gpuFormat != mlir::tptt::TpttGpuFormat::Isa)
    return failure("--emit=ptx needs --gpu-format isa (a fat binary is not "
                   "text)");
  if (emit.empty() && options.outputPath.empty())
    return failure("give the output's path with -o");
  if (options.numThreads < 0 ||
      options.numThreads > ::tptt::runtime::kMaxThreads)
    return failure("--num-threads must be 0 (all cores) or an integer up to " +
                   std::to_string(::tptt::runtime::kMaxThreads));
  return llvm::Error::success();
}

/// Counts the error diagnostics of the session's context.
struct Session::DiagnosticCounter {
  DiagnosticCounter(mlir::MLIRContext &context, unsigned &errors)
      : handler(&context, [&errors](mlir::Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Error)
            ++errors;
          // Not handled: the default handler still prints it.
          return mlir::failure();
        }) {}
  mlir::ScopedDiagnosticHandler handler;
};

Session::Session(CompileOptions options) : options(std::move(options)) {
  mlir::DialectRegistry registry;
  mlir::tptt::registerAllTpttDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  counter = std::make_unique<DiagnosticCounter>(context, errors);
}

Session::~Session() = default;

void Session::progress(const std::string &message) const {
  if (options.progress)
    options.progress(message);
}

llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
Session::parseModule(const std::string &path) {
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> buffer =
      mlir::openInputFile(path, &error);
  if (!buffer)
    return failure(error);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
  // The first error, on one line, with its place.
  std::string parseError;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  {
    mlir::ScopedDiagnosticHandler capture(
        &context, [&](mlir::Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() != mlir::DiagnosticSeverity::Error ||
              !parseError.empty())
            return mlir::success();
          llvm::raw_string_ostream os(parseError);
          if (auto where = diagnostic.getLocation()
                               ->findInstanceOf<mlir::FileLineColLoc>())
            os << where.getFilename().getValue() << ":" << where.getLine()
               << ":" << where.getColumn() << ": ";
          os << diagnostic;
          return mlir::success();
        });
    module = mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  }
  errors = 0;
  if (!module)
    return failure(parseError.empty() ? "cannot parse " + path : parseError);
  return std::move(module);
}

llvm::Expected<Session::Lowered>
Session::lower(mlir::OwningOpRef<mlir::ModuleOp> module,
               const std::vector<std::string> &entries) {
  bool cuda = options.target == TpttTarget::CUDA;
  Lowered lowered;
  lowered.symbols = entries;
  // A binary for CUDA carries the CPU code too (`--device cpu`): the same
  // module through the CPU pipeline, its functions keeping their names
  // while the GPU ones get the suffix _cuda (the entry points must differ;
  // the others become internal, and the dumps stay unambiguous).
  mlir::OwningOpRef<mlir::ModuleOp> cpuModule;
  if (cuda) {
    if (options.emit.empty() || options.emit == "llvm-ir")
      cpuModule = module->clone();
    mlir::SymbolTable symbols(*module);
    for (auto function :
         llvm::to_vector(module->getOps<mlir::func::FuncOp>())) {
      std::string name = function.getName().str();
      if (mlir::failed(symbols.rename(function, name + "_cuda")))
        return failure("cannot rename the function '" + name + "'");
    }
    for (const std::string &entry : entries)
      lowered.symbols.push_back(entry + "_cuda");
  }

  std::vector<TpttStage> order;
  for (auto [index, name] : llvm::enumerate(mlir::tptt::getTpttStageNames()))
    if (options.target != TpttTarget::CPU || name != "gpu")
      order.push_back(static_cast<TpttStage>(index));
  if (!options.dumpDir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(options.dumpDir))
      return failure(options.dumpDir + ": " + ec.message());
  auto runStage = [&](mlir::ModuleOp code, TpttStage stage, TpttTarget target,
                      const std::string &name) -> llvm::Error {
    mlir::PassManager pm(&context);
    mlir::tptt::TpttPipelineOptions pipeline;
    pipeline.from = stage;
    pipeline.to = stage;
    pipeline.numThreads = options.numThreads;
    pipeline.target = target;
    if (target == TpttTarget::CUDA) {
      pipeline.chip = options.chip;
      pipeline.features = options.ptxFeatures;
      pipeline.format = options.gpuFormat;
      pipeline.cudaToolkit = options.cudaToolkit;
    }
    mlir::tptt::buildTpttPipeline(pm, pipeline);
    errors = 0;
    if (mlir::failed(pm.run(code)) || errors)
      return failure("the " + name + " stage" +
                     (target == options.target ? "" : " (CPU code)") +
                     " failed (see the diagnostics above)");
    return llvm::Error::success();
  };
  std::string dumpPrefix = options.dumpDir + "/";
  for (auto [index, stage] : llvm::enumerate(order)) {
    std::string name =
        mlir::tptt::getTpttStageNames()[static_cast<size_t>(stage)].str();
    progress("stage " + name);
    if (llvm::Error error = runStage(*module, stage, options.target, name))
      return std::move(error);
    if (cpuModule && stage != TpttStage::Gpu)
      if (llvm::Error error =
              runStage(*cpuModule, stage, TpttTarget::CPU, name))
        return std::move(error);
    std::string text;
    if (!options.dumpDir.empty() || options.emit == name)
      text = print(*module);
    if (!options.dumpDir.empty())
      if (llvm::Error error = writeText(
              dumpPrefix + std::to_string(index) + "-" + name + ".mlir", text))
        return std::move(error);
    bool ptx = cuda && options.gpuFormat == mlir::tptt::TpttGpuFormat::Isa &&
               stage == TpttStage::LLVM &&
               (!options.dumpDir.empty() || options.emit == "ptx");
    if (ptx) {
      std::string kernels = kernelsPtx(*module);
      if (!options.dumpDir.empty())
        if (llvm::Error error = writeText(
                dumpPrefix + std::to_string(index) + "-kernels.ptx", kernels))
          return std::move(error);
      if (options.emit == "ptx") {
        lowered.stopped = true;
        if (llvm::Error error = writeText(options.outputPath, kernels))
          return std::move(error);
        return std::move(lowered);
      }
    }
    if (options.emit == name) {
      lowered.stopped = true;
      if (llvm::Error error = writeText(options.outputPath, text))
        return std::move(error);
      return std::move(lowered);
    }
  }
  lowered.modules.push_back(std::move(module));
  if (cpuModule)
    lowered.modules.push_back(std::move(cpuModule));
  return std::move(lowered);
}

llvm::Error
Session::emit(Lowered &lowered,
              const std::vector<std::pair<std::string, std::string>> &globals,
              target::LinkKind link, const std::string &path,
              const std::function<llvm::Error(const std::string &)> &prepare) {
  std::string error;
  llvm::LLVMContext llvmContext;
  std::vector<mlir::ModuleOp> modules;
  for (auto &module : lowered.modules)
    modules.push_back(*module);
  std::unique_ptr<llvm::Module> llvmModule = target::translateForHost(
      modules, llvmContext, lowered.symbols, globals, error);
  if (!llvmModule)
    return failure(error);
  if (!options.dumpDir.empty() || options.emit == "llvm-ir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    size_t stages = mlir::tptt::getTpttStageNames().size() -
                    (options.target == TpttTarget::CPU ? 1 : 0);
    if (!options.dumpDir.empty())
      if (llvm::Error error = writeText(
              options.dumpDir + "/" + std::to_string(stages) + "-llvm-ir.ll",
              text))
        return error;
    if (options.emit == "llvm-ir")
      return writeText(options.outputPath, text);
  }

  // Named as the output, not as the temporary object file beside it.
  std::string directory = llvm::sys::path::parent_path(path).str();
  if (!directory.empty() && !llvm::sys::fs::is_directory(directory))
    return failure(path + ": the directory " + directory + " does not exist");
  // The temporaries sit beside the output (the same file system, so that
  // the final rename is atomic) and are named after it, not after tptt.
  removeStaleTemporaries(path);
  TemporaryFiles temporaries;
  std::string suffix = ".tmp." + std::to_string(getpid());
  std::string object = temporaries.add(path + ".o" + suffix);
  std::string binary = temporaries.add(path + suffix);
  // Messages name the output, not the temporaries it is built in.
  auto failureAtOutput = [&](std::string message) {
    for (const std::string &temporary : {object, binary})
      for (size_t at; (at = message.find(temporary)) != std::string::npos;)
        message.replace(at, temporary.size(), path);
    return failure(message);
  };
  progress("object");
  if (!target::writeObject(*llvmModule, object, error))
    return failureAtOutput(error);
  progress("link");
  if (!target::linkBinary(object, binary, link, error))
    return failureAtOutput(error);
  if (prepare)
    if (llvm::Error error = prepare(binary))
      return error;
  chmod(binary.c_str(), 0755);
  if (std::rename(binary.c_str(), path.c_str()) != 0)
    return failure(path + ": cannot write");
  progress("wrote " + path);
  return llvm::Error::success();
}

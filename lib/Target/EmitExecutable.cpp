//===- EmitExecutable.cpp - LLVM dialect to object to executable ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Target/EmitExecutable.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"

#include <cstdlib>

using namespace tptt::target;

namespace {

/// The host's target machine (its CPU and features decide vectorization).
std::unique_ptr<llvm::TargetMachine> hostMachine(std::string &error) {
  static bool initialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)initialized;
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!builder) {
    error = llvm::toString(builder.takeError());
    return nullptr;
  }
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  builder->setRelocationModel(llvm::Reloc::PIC_);
  auto machine = builder->createTargetMachine();
  if (!machine) {
    error = llvm::toString(machine.takeError());
    return nullptr;
  }
  return std::move(*machine);
}

/// void <name>_packed(ptr %args): calls _mlir_ciface_<name>(args[0], ...).
bool addPackedWrapper(llvm::Module &module, const std::string &name,
                      std::string &error) {
  llvm::Function *callee = module.getFunction("_mlir_ciface_" + name);
  if (!callee) {
    error = "entry point '" + name + "' has no C interface";
    return false;
  }
  llvm::LLVMContext &ctx = module.getContext();
  auto *pointer = llvm::PointerType::getUnqual(ctx);
  auto *type = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {pointer},
                                       /*isVarArg=*/false);
  auto *wrapper = llvm::Function::Create(
      type, llvm::GlobalValue::ExternalLinkage, name + "_packed", module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", wrapper));
  llvm::SmallVector<llvm::Value *> args;
  for (auto [index, param] : llvm::enumerate(callee->args())) {
    if (!param.getType()->isPointerTy()) {
      error = "entry point '" + name + "' takes a non-pointer argument";
      return false;
    }
    llvm::Value *slot =
        b.CreateConstGEP1_64(pointer, wrapper->getArg(0), index);
    args.push_back(b.CreateLoad(pointer, slot));
  }
  b.CreateCall(callee, args);
  b.CreateRetVoid();
  return true;
}

} // namespace

std::unique_ptr<llvm::Module> tptt::target::translateForHost(
    llvm::ArrayRef<mlir::ModuleOp> modules, llvm::LLVMContext &context,
    llvm::ArrayRef<std::string> entries,
    llvm::ArrayRef<std::pair<std::string, std::string>> globals,
    std::string &error) {
  std::unique_ptr<llvm::Module> llvmModule;
  for (mlir::ModuleOp module : modules) {
    mlir::DialectRegistry registry;
    mlir::registerAllToLLVMIRTranslations(registry);
    module.getContext()->appendDialectRegistry(registry);
    std::unique_ptr<llvm::Module> translated =
        mlir::translateModuleToLLVMIR(module, context, "tptt-model");
    if (!translated) {
      error = "the translation to LLVM IR failed (see the diagnostics above)";
      return nullptr;
    }
    // Only the entry points leave the module: helpers (the layers, the
    // deallocation helper) of the GPU and the CPU code may share names.
    for (llvm::Function &function : *translated) {
      llvm::StringRef name = function.getName();
      name.consume_front("_mlir_ciface_");
      if (!function.isDeclaration() && !llvm::is_contained(entries, name))
        function.setLinkage(llvm::GlobalValue::InternalLinkage);
    }
    if (!llvmModule) {
      llvmModule = std::move(translated);
    } else if (llvm::Linker::linkModules(*llvmModule, std::move(translated))) {
      error = "linking the GPU and the CPU code failed";
      return nullptr;
    }
  }
  std::unique_ptr<llvm::TargetMachine> machine = hostMachine(error);
  if (!machine)
    return nullptr;
  llvmModule->setTargetTriple(machine->getTargetTriple());
  llvmModule->setDataLayout(machine->createDataLayout());
  for (const std::string &entry : entries)
    if (!addPackedWrapper(*llvmModule, entry, error))
      return nullptr;
  for (const auto &[name, contents] : globals) {
    auto *text = llvm::ConstantDataArray::getString(context, contents,
                                                    /*AddNull=*/true);
    new llvm::GlobalVariable(*llvmModule, text->getType(), /*isConstant=*/true,
                             llvm::GlobalValue::ExternalLinkage, text, name);
  }
  auto optimize = mlir::makeOptimizingTransformer(3, 0, machine.get());
  if (llvm::Error err = optimize(llvmModule.get())) {
    error = llvm::toString(std::move(err));
    return nullptr;
  }
  return llvmModule;
}

bool tptt::target::writeObject(llvm::Module &module, const std::string &path,
                               std::string &error) {
  std::unique_ptr<llvm::TargetMachine> machine = hostMachine(error);
  if (!machine)
    return false;
  std::error_code ec;
  llvm::ToolOutputFile out(path, ec, llvm::sys::fs::OF_None);
  if (ec) {
    error = path + ": " + ec.message();
    return false;
  }
  llvm::legacy::PassManager passes;
  if (machine->addPassesToEmitFile(passes, out.os(), nullptr,
                                   llvm::CodeGenFileType::ObjectFile)) {
    error = "the host target cannot emit object files";
    return false;
  }
  passes.run(module);
  out.os().flush();
  if (out.os().has_error()) {
    error = path + ": write error";
    return false;
  }
  out.keep();
  return true;
}

bool tptt::target::linkBinary(const std::string &objectPath,
                              const std::string &outputPath, LinkKind kind,
                              std::string &error) {
  const char *fromEnv = std::getenv("CXX");
  std::string driverName = fromEnv && *fromEnv ? fromEnv : "c++";
  llvm::ErrorOr<std::string> driver = llvm::sys::findProgramByName(driverName);
  if (!driver) {
    error = "cannot find the C++ compiler driver '" + driverName +
            "' to link with (set CXX)";
    return false;
  }
  std::string rpath = std::string("-Wl,-rpath,") + TPTT_LIBOMP_DIR;
  llvm::SmallVector<llvm::StringRef> args = {*driver, "-o", outputPath,
                                             objectPath};
  // An executable gets the launcher's main(); a model library the C API,
  // kept whole so that every tptt_* function is exported; a module library
  // no runtime at all (its loader has one).
  switch (kind) {
  case LinkKind::Executable:
    args.append({TPTT_LAUNCHER_LIB, TPTT_MODEL_RUNNER_LIB, TPTT_INTERFACE_LIB,
                 TPTT_RUNTIME_LIB, TPTT_HOST_ABI_LIB, TPTT_PCRE2_LIB,
                 TPTT_PNG_LIB});
    break;
  case LinkKind::ModelLibrary:
    args.append({"-shared", "-Wl,--whole-archive", TPTT_C_API_LIB,
                 "-Wl,--no-whole-archive", TPTT_MODEL_RUNNER_LIB,
                 TPTT_INTERFACE_LIB, TPTT_RUNTIME_LIB, TPTT_HOST_ABI_LIB,
                 TPTT_PCRE2_LIB, TPTT_PNG_LIB});
    break;
  case LinkKind::ModuleLibrary:
    args.push_back("-shared");
    break;
  }
  args.append(
      {"-L" TPTT_LIBOMP_DIR, rpath, "-lomp", "-lm", "-lpthread", "-ldl"});
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*driver, args, std::nullopt, {}, 0, 0,
                                         &message);
  if (status != 0) {
    error = "linking " + outputPath + " failed" +
            (message.empty() ? "" : ": " + message) + " (" + *driver +
            " exited with " + std::to_string(status) + ")";
    return false;
  }
  return true;
}

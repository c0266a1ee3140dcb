//===- Runner.cpp - JIT-compile and call tptt functions on the CPU --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Runner.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/ModuleLibrary.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <chrono>

using namespace mlir;
using namespace mlir::tptt;
using namespace tpttrun;

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

std::optional<std::string> tpttrun::dtypeOf(Type elementType) {
  std::string spelled;
  llvm::raw_string_ostream os(spelled);
  os << elementType;
  if (!::tptt::runtime::safetensorsDtype(spelled))
    return std::nullopt;
  return spelled;
}

Type tpttrun::elementTypeOf(const std::string &dtype, MLIRContext *context) {
  return parseType(dtype, context);
}

llvm::Expected<Tensor>
tpttrun::loadTensor(const ::tptt::safetensors::TensorView &view,
                    Type elementType) {
  using ::tptt::safetensors::DType;
  if (elementType.isInteger(1) &&
      (view.dtype == DType::Bool || view.dtype == DType::U8 ||
       view.dtype == DType::I64 || view.dtype == DType::I32)) {
    Tensor tensor = Tensor::zeros(view.shape, "i1");
    for (int64_t i = 0; i < view.numElements(); ++i)
      tensor.bytes[i] = view.elementAsDouble(i) != 0.0;
    return tensor;
  }
  std::optional<std::string> dtype = dtypeOf(elementType);
  if (!dtype || ::tptt::runtime::safetensorsDtype(*dtype) != view.dtype) {
    std::string typeName;
    llvm::raw_string_ostream os(typeName);
    os << elementType;
    return error("tensor '" + view.name + "' has dtype " +
                 std::string(::tptt::safetensors::dtypeName(view.dtype)) +
                 ", but the argument is " + typeName);
  }
  return Tensor{
      view.shape, *dtype, {view.data, view.data + view.bytes}, nullptr};
}

Tensor tpttrun::convertTensor(const ::tptt::safetensors::TensorView &view,
                              Type elementType) {
  bool wide = elementType.isF64();
  Tensor tensor = Tensor::zeros(view.shape, wide ? "f64" : "f32");
  for (int64_t i = 0; i < tensor.count(); ++i) {
    double value = view.elementAsDouble(i);
    if (wide)
      tensor.as<double>()[i] = value;
    else
      tensor.as<float>()[i] = static_cast<float>(value);
  }
  return tensor;
}

llvm::Expected<std::unique_ptr<Runner>> Runner::compile(ModuleOp module,
                                                        int64_t numThreads,
                                                        unsigned optLevel,
                                                        TpttTarget target) {
  static bool targetsInitialized = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    return true;
  }();
  (void)targetsInitialized;

  MLIRContext *ctx = module.getContext();
  DialectRegistry registry;
  registerAllToLLVMIRTranslations(registry);
  ctx->appendDialectRegistry(registry);

  PassManager pm(ctx);
  TpttPipelineOptions options;
  options.numThreads = numThreads;
  options.target = target;
  buildTpttPipeline(pm, options);
  if (failed(pm.run(module)))
    return error("the tptt pipeline failed (see the diagnostics above)");

  // Optimize for the host CPU (its vector width decides the loop
  // vectorizer's cost model). The options hold a function_ref: the
  // transformer must outlive create().
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machineBuilder)
    return machineBuilder.takeError();
  auto machine = machineBuilder->createTargetMachine();
  if (!machine)
    return machine.takeError();
  std::function<llvm::Error(llvm::Module *)> optimize =
      makeOptimizingTransformer(optLevel, /*sizeLevel=*/0, machine->get());
  ExecutionEngineOptions engineOptions;
  engineOptions.transformer = optimize;
  // OpenMP for the parallel loops; memrefCopy for strided copies.
  llvm::SmallVector<llvm::StringRef> libraries = {TPTT_LIBOMP_PATH,
                                                  TPTT_C_RUNNER_UTILS_PATH};
  engineOptions.sharedLibPaths = libraries;
  auto engine =
      ExecutionEngine::create(module, engineOptions, std::move(*machine));
  if (!engine)
    return engine.takeError();
  auto runner = std::make_unique<Runner>();
  runner->engine = std::move(*engine);
  // The kernels' host calls (mgpu*, the managed allocations) resolve to the
  // runtime linked into tptt-run; the global constructors register the
  // kernel modules.
  if (target == TpttTarget::CUDA) {
    runner->gpu = true;
    runner->engine->registerSymbols([](llvm::orc::MangleAndInterner mangle) {
      llvm::orc::SymbolMap symbols;
      for (const auto &[name, address] : ::tptt::runtime::cuda::hostFunctions())
        symbols[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
      return symbols;
    });
  }
  runner->engine->initialize();
  return runner;
}

llvm::Expected<std::vector<Tensor>> Runner::call(llvm::StringRef name,
                                                 FunctionType type,
                                                 std::vector<Tensor> &inputs,
                                                 double *milliseconds) {
  if (inputs.size() != type.getNumInputs())
    return error("@" + name + " takes " + llvm::Twine(type.getNumInputs()) +
                 " arguments, " + llvm::Twine(inputs.size()) + " given");
  std::vector<::tptt::runtime::ResultKind> results;
  for (Type result : type.getResults()) {
    auto tensorType = cast<RankedTensorType>(result);
    results.push_back({*dtypeOf(tensorType.getElementType()),
                       static_cast<size_t>(tensorType.getRank())});
  }
  std::string failure;
  std::optional<std::vector<Tensor>> outputs = ::tptt::runtime::callPacked(
      inputs, results,
      gpu ? ::tptt::runtime::Device::CUDA : ::tptt::runtime::Device::CPU,
      [&](std::vector<void *> &args) {
        // The execution engine's packed convention: a pointer to each
        // argument.
        llvm::SmallVector<void *> packed;
        for (void *&arg : args)
          packed.push_back(&arg);
        auto start = std::chrono::steady_clock::now();
        if (llvm::Error err =
                engine->invokePacked(("_mlir_ciface_" + name).str(), packed)) {
          failure = llvm::toString(std::move(err));
          return false;
        }
        if (milliseconds)
          *milliseconds = std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start)
                              .count();
        return true;
      });
  if (!outputs)
    return error(failure);
  return std::move(*outputs);
}

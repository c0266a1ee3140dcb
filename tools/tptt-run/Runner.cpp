//===- Runner.cpp - JIT-compile and call tptt functions on the CPU --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Runner.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/Tensor.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

using namespace mlir;
using namespace mlir::tptt;
using namespace tpttrun;

namespace {

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

size_t byteWidth(Type elementType) {
  if (elementType.isInteger(1))
    return 1;
  return elementType.getIntOrFloatBitWidth() / 8;
}

} // namespace

int64_t HostTensor::numElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

double HostTensor::at(int64_t index) const {
  return ::tptt::safetensors::loadAsDouble(
      *dtypeOf(elementType), data.data() + index * byteWidth(elementType));
}

std::optional<::tptt::safetensors::DType> tpttrun::dtypeOf(Type elementType) {
  using ::tptt::safetensors::DType;
  if (elementType.isF64())
    return DType::F64;
  if (elementType.isF32())
    return DType::F32;
  if (elementType.isF16())
    return DType::F16;
  if (elementType.isBF16())
    return DType::BF16;
  if (elementType.isInteger(64))
    return DType::I64;
  if (elementType.isInteger(32))
    return DType::I32;
  if (elementType.isInteger(8))
    return DType::I8;
  if (elementType.isInteger(1))
    return DType::Bool;
  return std::nullopt;
}

llvm::Expected<HostTensor>
tpttrun::loadTensor(const ::tptt::safetensors::TensorView &view,
                    Type elementType) {
  using ::tptt::safetensors::DType;
  HostTensor tensor{view.name, elementType, view.shape, {}};
  if (elementType.isInteger(1) &&
      (view.dtype == DType::Bool || view.dtype == DType::U8 ||
       view.dtype == DType::I64 || view.dtype == DType::I32)) {
    tensor.data.resize(view.numElements());
    for (int64_t i = 0; i < view.numElements(); ++i)
      tensor.data[i] = view.elementAsDouble(i) != 0.0;
    return tensor;
  }
  std::optional<DType> expected = dtypeOf(elementType);
  if (!expected || *expected != view.dtype) {
    std::string typeName;
    llvm::raw_string_ostream os(typeName);
    os << elementType;
    return error("tensor '" + view.name + "' has dtype " +
                 std::string(::tptt::safetensors::dtypeName(view.dtype)) +
                 ", but the argument is " + typeName);
  }
  tensor.data.assign(view.data, view.data + view.bytes);
  return tensor;
}

HostTensor tpttrun::convertTensor(const ::tptt::safetensors::TensorView &view,
                                  Type elementType) {
  HostTensor tensor{view.name, elementType, view.shape, {}};
  int64_t count = view.numElements();
  tensor.data.resize(count * byteWidth(elementType));
  for (int64_t i = 0; i < count; ++i) {
    double value = view.elementAsDouble(i);
    if (elementType.isF64()) {
      std::memcpy(tensor.data.data() + 8 * i, &value, 8);
    } else {
      float narrow = static_cast<float>(value);
      std::memcpy(tensor.data.data() + 4 * i, &narrow, 4);
    }
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

llvm::Expected<std::vector<HostTensor>>
Runner::call(llvm::StringRef name, FunctionType type,
             std::vector<HostTensor> &inputs, double *milliseconds) {
  if (inputs.size() != type.getNumInputs())
    return error("@" + name + " takes " + llvm::Twine(type.getNumInputs()) +
                 " arguments, " + llvm::Twine(inputs.size()) + " given");
  // On the GPU the inputs travel in managed buffers, freed after the call.
  std::vector<std::vector<int64_t>> descriptors;
  std::vector<void *> staged;
  for (HostTensor &input : inputs) {
    void *buffer = input.data.data();
    if (gpu)
      buffer = staged.emplace_back(::tptt::runtime::cuda::copyToManaged(
          input.data.data(), input.data.size()));
    descriptors.push_back(
        ::tptt::runtime::rowMajorDescriptor(buffer, input.shape));
  }

  // Results come back as one struct of descriptors.
  size_t resultWords = 0;
  for (Type result : type.getResults())
    resultWords += 3 + 2 * cast<RankedTensorType>(result).getRank();
  std::vector<int64_t> results(resultWords);
  int64_t *resultPointer = results.data();
  std::vector<int64_t *> descriptorPointers;
  for (auto &descriptor : descriptors)
    descriptorPointers.push_back(descriptor.data());
  llvm::SmallVector<void *> packed;
  if (resultWords)
    packed.push_back(&resultPointer);
  for (int64_t *&pointer : descriptorPointers)
    packed.push_back(&pointer);
  auto start = std::chrono::steady_clock::now();
  if (llvm::Error err =
          engine->invokePacked(("_mlir_ciface_" + name).str(), packed))
    return std::move(err);
  if (milliseconds)
    *milliseconds = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();

  // Copy every result out (honouring its strides) and free what the
  // compiled code allocated: once per buffer, never an input's.
  std::set<int64_t> owned;
  for (auto &descriptor : descriptors)
    owned.insert(descriptor[0]);
  std::vector<HostTensor> outputs;
  size_t at = 0;
  for (auto [index, resultType] : llvm::enumerate(type.getResults())) {
    auto tensorType = cast<RankedTensorType>(resultType);
    size_t rank = tensorType.getRank();
    const int64_t *words = results.data() + at;
    at += 3 + 2 * rank;
    HostTensor output{"result" + std::to_string(index),
                      tensorType.getElementType(),
                      std::vector<int64_t>(words + 3, words + 3 + rank),
                      {}};
    output.data.resize(output.numElements() * byteWidth(output.elementType));
    ::tptt::runtime::copyFromDescriptor(
        words, rank, byteWidth(output.elementType), output.data.data());
    outputs.push_back(std::move(output));
    if (owned.insert(words[0]).second) {
      auto *allocation = reinterpret_cast<void *>(words[0]);
      gpu ? _mlir_memref_to_llvm_free(allocation) : std::free(allocation);
    }
  }
  for (void *buffer : staged)
    _mlir_memref_to_llvm_free(buffer);
  return outputs;
}

//===- CUDAPipeline.cpp - The CUDA target's pipeline
//------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "CommonStages.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "tptt/Codegen/Passes.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::tptt;

/// The shared memory a block may use on `chip` (sm_XY), opting in beyond
/// the 48 KiB every chip gives (the runtime's launch opts in).
static int64_t sharedMemoryPerBlock(StringRef chip) {
  unsigned capability = 0;
  if (!chip.consume_front("sm_") ||
      chip.take_while(llvm::isDigit).getAsInteger(10, capability))
    return 48 * 1024;
  if (capability >= 90)
    return 227 * 1024;
  if (capability == 80 || capability == 87)
    return 163 * 1024;
  if (capability == 86 || capability == 89)
    return 99 * 1024;
  return 48 * 1024;
}

/// The CUDA toolkit whose libdevice links into the kernels: `given`, else
/// the one CUDA_HOME, CUDA_PATH or CUDA_ROOT names, else /usr/local/cuda.
/// (MLIR's own fallback is the path its packagers configured, which Debian
/// leaves empty.)
static std::string cudaToolkitPath(StringRef given) {
  if (!given.empty())
    return given.str();
  for (const char *variable : {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"})
    if (const char *value = std::getenv(variable); value && *value)
      return value;
  return "/usr/local/cuda";
}

/// The CUDA target's LLVM lowering: the kernels to NVVM (the chip and PTX
/// version always explicit: LLVM 22 rejects a PTX version below the chip's
/// minimum), the host to LLVM with its allocations through the runtime's
/// _mlir_memref_to_llvm_alloc (managed memory, which kernels and host both
/// reach), the launches to the mgpu* calls of the runtime, and the kernels
/// serialized. The contract check then rejects PTX that still declares
/// libdevice functions.
static void addCUDALLVMLowering(OpPassManager &pm,
                                const TpttPipelineOptions &options) {
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = 3;
  pm.addPass(createGpuNVVMAttachTarget(target));
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
  kernels.addPass(createConvertGpuOpsToNVVMOps());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  kernels.addPass(createReconcileUnrealizedCastsPass());
  FinalizeMemRefToLLVMConversionPassOptions memrefs;
  memrefs.useGenericFunctions = true;
  pm.addPass(createFinalizeMemRefToLLVMConversionPass(memrefs));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binary;
  binary.compilationTarget =
      options.format == TpttGpuFormat::Fatbin ? "fatbin" : "isa";
  binary.toolkitPath = cudaToolkitPath(options.cudaToolkit);
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createTpttVerifyGpuKernelsPass());
}

void mlir::tptt::addCUDAPipeline(OpPassManager &pm,
                                 const TpttPipelineOptions &options) {
  // Whether the kernels run on a GPU, or are emulated on the CPU.
  bool gpu = options.target == TpttTarget::CUDA;

  // A kernel pays a barrier for each dependent step of the triangular solve:
  // blocks of 16 rows take 16 + N/16 steps instead of N.
  GraphSchedule schedule;
  schedule.blockedTrilInverse = true;
  addGraphStages(pm, options, schedule);

  // No tiled stage: the mapping wants every output element parallel (the
  // loops stage).
  addBufferizedStage(pm, options);

  // Stage loops: free what bufferization allocated. The projections with
  // bf16 weights and enough rows become tensor-core kernels (launches
  // already; emulated, one thread per block runs a warp's matrix
  // operations); the reduction loops of every other linalg op move
  // innermost and all its parallel dimensions become one scf.parallel loop
  // around them, for the gpu stage to map; a loop whose body accumulates
  // into one element sums in a register, split across more threads when
  // there are few (a decode step's projections).
  if (runsStage(options, TpttStage::Loops)) {
    addDeallocation(pm);
    TpttMapContractionsToTensorCoresPassOptions tensorCores;
    if (!gpu) {
      tensorCores.warpRows = 1;
      tensorCores.warpCols = 1;
      tensorCores.threadsPerWarp = 1;
      tensorCores.sharedMemory = false;
    }
    pm.addNestedPass<func::FuncOp>(
        createTpttMapContractionsToTensorCoresPass(tensorCores));
    pm.addNestedPass<func::FuncOp>(createTpttSinkReductionLoopsPass());
    pm.addNestedPass<func::FuncOp>(createConvertLinalgToParallelLoopsPass());
    pm.addPass(createForallToParallelLoopPass());
    pm.addNestedPass<func::FuncOp>(createTpttSplitAccumulationsPass());
    addCleanup(pm);
  }

  // Stage gpu (CUDA): the outermost parallel loops become kernel launches.
  // One that holds parallel loops (the operator's loop over batch x heads)
  // runs one iteration per block: its threads share the nested loops, with
  // barriers between them, and its scratch buffers (the first in shared
  // memory, up to what the chip gives a block); any other runs one
  // iteration per thread. Outlining moves the kernels into gpu.module ops,
  // and the backend contract is checked on them. Emulated on the CPU, the
  // launches become loops over their blocks and threads (one thread per
  // block in the cooperative kernels).
  if (runsStage(options, TpttStage::Gpu)) {
    TpttMapParallelLoopsToGpuPassOptions mapping;
    mapping.blockSize = options.blockSize;
    mapping.cooperativeBlockSize = gpu ? options.blockSize : 1;
    mapping.sharedMemoryBytes = gpu ? sharedMemoryPerBlock(options.chip) : 0;
    pm.addNestedPass<func::FuncOp>(
        createTpttMapParallelLoopsToGpuPass(mapping));
    pm.addNestedPass<func::FuncOp>(createParallelForToNestedForsPass());
    // Iteration counts and bounds fold to constants, which then move into
    // the kernels (rather than being passed as arguments), so that the
    // kernels' index arithmetic divides by constants.
    addCleanup(pm);
    if (gpu) {
      pm.addPass(createGpuLaunchSinkIndexComputationsPass());
      pm.addPass(createGpuKernelOutliningPass());
      pm.addPass(createTpttVerifyGpuKernelsPass());
    } else {
      pm.addNestedPass<func::FuncOp>(createTpttEmulateGpuLaunchesPass());
    }
    addCleanup(pm);
  }

  // Stage llvm: C wrappers for the public entry points (`_mlir_ciface_*`),
  // then the kernels to NVVM and PTX and the host to LLVM; emulated, the
  // host code (which holds the kernels' loops) as on the CPU.
  if (runsStage(options, TpttStage::LLVM)) {
    pm.addPass(createTpttExportEntryPointsPass());
    if (gpu)
      addCUDALLVMLowering(pm, options);
    else
      addCPULLVMLowering(pm);
  }
}

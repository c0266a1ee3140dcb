//===- Pipelines.cpp - The tptt compilation pipeline ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Pipelines/Pipelines.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/Passes.h"
#include "mlir/Dialect/Vector/Transforms/Passes.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"
#include "tptt/Conversion/Passes.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::tptt;

static constexpr llvm::StringLiteral kStageNames[] = {
    "tptt",       "autodiff", "linalg", "tiled",
    "bufferized", "loops",    "gpu",    "llvm"};

llvm::ArrayRef<llvm::StringLiteral> mlir::tptt::getTpttStageNames() {
  return kStageNames;
}

std::optional<TpttStage> mlir::tptt::parseTpttStage(llvm::StringRef name) {
  for (auto [index, stage] : llvm::enumerate(kStageNames))
    if (stage == name)
      return static_cast<TpttStage>(index);
  return std::nullopt;
}

/// Canonicalize and CSE: run between stages so that every stage starts from
/// (and every dump shows) cleaned-up IR.
static void addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

/// The CPU's LLVM lowering. The register blocks' vector transfers become
/// one-dimensional loads and stores, their reductions elementwise vector
/// arithmetic, and (in the vector conversion) each vector.contract a sequence
/// of outer products: broadcasts and fused multiply-adds. Memrefs go first:
/// the OpenMP conversion wraps parallel bodies in memref.alloca_scope, a
/// single-block region that must be inlined before the loops inside it become
/// control flow.
static void addCpuLLVMTail(OpPassManager &pm) {
  VectorTransferToSCFOptions transfers;
  transfers.enableFullUnroll(true);
  pm.addNestedPass<func::FuncOp>(createConvertVectorToSCFPass(transfers));
  pm.addNestedPass<func::FuncOp>(vector::createLowerVectorMultiReductionPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  pm.addPass(createSCFToControlFlowPass());
  ConvertVectorToLLVMPassOptions vectors;
  vectors.vectorContractLowering = vector::VectorContractLowering::OuterProduct;
  pm.addPass(createConvertVectorToLLVMPass(vectors));
  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
}

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
static void addCudaLLVMTail(OpPassManager &pm,
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

void mlir::tptt::buildTpttPipeline(OpPassManager &pm,
                                   const TpttPipelineOptions &options) {
  // A stage runs when it lies in [from, to]; its input is the output of the
  // stage before it.
  auto runs = [&](TpttStage stage) {
    return options.from <= stage && stage <= options.to;
  };
  // The CUDA mapping (also when emulated), and whether its kernels run on a
  // GPU.
  bool cuda = options.target != TpttTarget::CPU;
  bool gpu = options.target == TpttTarget::CUDA;

  // Stage tptt: graph-level cleanup (folds such as μ = 0, order-1 expansion).
  if (runs(TpttStage::Tptt))
    addCleanup(pm);

  // Stage autodiff: every tptt.value_and_grad becomes a forward and a
  // reverse sweep of tptt ops (the training step's backward).
  if (runs(TpttStage::Autodiff)) {
    pm.addPass(createTpttDifferentiatePass());
    addCleanup(pm);
  }

  // Stage linalg: the composite layer into its parts, then every tptt op into
  // loop-level IR on tensors (residual additions, arith on whole tensors,
  // too). Elementwise fusion merges the producer chains (feature map, gates,
  // casts) into single linalg.generic ops, but keeps masks out of
  // contractions (they stay vectorizable). Every destination is its own
  // allocation: tensor.empty would be merged by CSE, and several ops writing
  // into one merged buffer cost copies.
  if (runs(TpttStage::Linalg)) {
    pm.addPass(createTpttDecomposeLizaAttentionPass());
    ConvertTpttToLinalgPassOptions lowering;
    lowering.chunkSize = options.chunkSize;
    // A kernel pays a barrier for each dependent step of the triangular
    // solve; the CPU keeps the row recursion.
    lowering.blockedTrilInverse = cuda;
    pm.addPass(createConvertTpttToLinalgPass(lowering));
    pm.addNestedPass<func::FuncOp>(createConvertElementwiseToLinalgPass());
    pm.addPass(createTpttFuseElementwiseOpsPass());
    pm.addPass(bufferization::createEmptyTensorToAllocTensorPass());
    addCleanup(pm);
  }

  // Stage tiled: on the CPU, the contractions outside the operator's own
  // parallel loop (projections, attention) become scf.forall loops over
  // their rows, one row per core at a time; then the contractions with
  // static shapes and several rows (the operator's per-chunk products) are
  // cut into register blocks, each a vector.contract. The
  // CUDA mapping wants every output element parallel instead (the loops
  // stage).
  if (!cuda && runs(TpttStage::Tiled)) {
    pm.addNestedPass<func::FuncOp>(createTpttTileParallelContractionsPass());
    pm.addNestedPass<func::FuncOp>(createTpttVectorizeContractionsPass());
    addCleanup(pm);
  }

  // Stage bufferized: one-shot bufferization across function boundaries with
  // identity layouts at the boundary, so that entry points take and return
  // plain strided memrefs (the C interface the runtime calls). Loops may
  // yield new buffers: the chunk scans carry freshly computed states. The
  // scratch buffers of a loop body (a chunk's products) are then allocated
  // once, before the loop, instead of once per iteration.
  if (runs(TpttStage::Bufferized)) {
    bufferization::OneShotBufferizePassOptions bufferize;
    bufferize.bufferizeFunctionBoundaries = true;
    bufferize.allowReturnAllocsFromLoops = true;
    bufferize.functionBoundaryTypeConversion =
        bufferization::LayoutMapOption::IdentityLayoutMap;
    pm.addPass(bufferization::createOneShotBufferizePass(bufferize));
    pm.addNestedPass<func::FuncOp>(
        bufferization::createBufferLoopHoistingPass());
    addCleanup(pm);
  }

  // Stage loops: free what bufferization allocated (loop-carried buffers may
  // be cloned by the deallocation; clones become plain allocations and
  // copies), then turn linalg into loops. On the CPU they are sequential and
  // the explicit parallel loops (scf.forall over batch x heads, emitted by
  // the lowering) become OpenMP parallel regions. For CUDA the projections
  // with bf16 weights and enough rows become tensor-core kernels (launches
  // already; emulated, one thread per block runs a warp's matrix
  // operations); the reduction loops of every other linalg op move
  // innermost and all its parallel dimensions become one scf.parallel loop
  // around them, for the gpu stage to map; a loop whose body accumulates
  // into one element sums in a register, split across more threads when
  // there are few (a decode step's projections).
  if (runs(TpttStage::Loops)) {
    bufferization::buildBufferDeallocationPipeline(pm);
    pm.addPass(createConvertBufferizationToMemRefPass());
    if (cuda) {
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
    } else {
      pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
      pm.addPass(createForallToParallelLoopPass());
      ConvertSCFToOpenMPPassOptions openmp;
      openmp.numThreads = options.numThreads;
      pm.addPass(createConvertSCFToOpenMPPass(openmp));
    }
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
  if (cuda && runs(TpttStage::Gpu)) {
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
  // strided metadata and affine maps to arithmetic, and everything to LLVM.
  if (runs(TpttStage::LLVM)) {
    pm.addPass(createTpttExportEntryPointsPass());
    if (gpu)
      addCudaLLVMTail(pm, options);
    else
      addCpuLLVMTail(pm);
  }
}

void mlir::tptt::registerTpttPipelines() {
  PassPipelineRegistration<TpttPipelineOptions>(
      "tptt-pipeline",
      "The tptt compilation pipeline from graph-level tptt ops to LLVM, "
      "for the CPU or (target=cuda) NVIDIA GPUs (stop early with to=<stage>)",
      buildTpttPipeline);
}

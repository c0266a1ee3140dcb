//===- Pipelines.h - The tptt compilation pipeline ---------------*- C++
//-*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// One pipeline builder with named stages, shared by tptt-opt (as
// `tptt-pipeline{...}`), tptt-run and tptt-compile. Only the tail differs by
// target.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_PIPELINES_PIPELINES_H
#define TPTT_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassOptions.h"
#include "llvm/ADT/StringRef.h"

#include <optional>

namespace mlir {
class OpPassManager;
namespace tptt {

/// The named stages of the pipeline, in order. Building "to" a stage runs
/// every pass up to and including that stage's passes.
enum class TpttStage {
  /// Graph-level tptt ops after canonicalization.
  Tptt,
  /// Still tptt ops, with value_and_grad requests expanded into forward and
  /// reverse sweeps (tptt-differentiate).
  Autodiff,
  /// linalg / tensor / scf on tensors (convert-tptt-to-linalg).
  Linalg,
  /// Contractions tiled into scf.forall rows for the cores.
  Tiled,
  /// One-shot bufferized memrefs.
  Bufferized,
  /// scf loops (OpenMP for the parallel ones on the CPU), deallocation.
  Loops,
  /// The CUDA target's kernels: gpu.launch_func on the host, gpu.module
  /// kernels (nothing to do for the CPU).
  Gpu,
  /// The LLVM dialect (with the kernels serialized to PTX for CUDA).
  LLVM,
};

/// The stage names accepted by `--emit` / `to=`, in pipeline order.
llvm::ArrayRef<llvm::StringLiteral> getTpttStageNames();
/// Parses a stage name; std::nullopt if it is not one of getTpttStageNames().
std::optional<TpttStage> parseTpttStage(llvm::StringRef name);

/// The code the pipeline produces.
enum class TpttTarget {
  /// Host code for the CPU (OpenMP for the parallel loops).
  CPU,
  /// Host code that launches NVVM kernels on an NVIDIA GPU.
  CUDA,
  /// The CUDA target's kernels run on the CPU, each launch as a loop over
  /// its blocks and threads: checks the GPU mapping without a GPU.
  CudaOnCpu,
};

/// What gpu-module-to-binary embeds for the CUDA target.
enum class TpttGpuFormat {
  /// PTX text, compiled by the driver when the module is loaded.
  Isa,
  /// A fat binary (cubin for the chip, by ptxas, and its PTX).
  Fatbin,
};

/// Options of `tptt-pipeline`.
struct TpttPipelineOptions : public PassPipelineOptions<TpttPipelineOptions> {
  PassOptions::Option<TpttTarget> target{
      *this, "target", llvm::cl::desc("The target of the pipeline's tail"),
      llvm::cl::init(TpttTarget::CPU),
      llvm::cl::values(
          clEnumValN(TpttTarget::CPU, "cpu", "host CPU code"),
          clEnumValN(TpttTarget::CUDA, "cuda", "NVVM kernels for NVIDIA GPUs"),
          clEnumValN(TpttTarget::CudaOnCpu, "cuda-on-cpu",
                     "the CUDA kernels run on the CPU (tests)"))};
  PassOptions::Option<TpttStage> from{
      *this, "from",
      llvm::cl::desc("The first stage to run (the input is the output of the "
                     "stage before it)"),
      llvm::cl::init(TpttStage::Tptt),
      llvm::cl::values(
          clEnumValN(TpttStage::Tptt, "tptt", "graph-level tptt ops"),
          clEnumValN(TpttStage::Autodiff, "autodiff",
                     "tptt ops with the backward of value_and_grad"),
          clEnumValN(TpttStage::Linalg, "linalg", "linalg/scf on tensors"),
          clEnumValN(TpttStage::Tiled, "tiled", "parallel tiles"),
          clEnumValN(TpttStage::Bufferized, "bufferized", "memrefs"),
          clEnumValN(TpttStage::Loops, "loops", "scf/OpenMP loops"),
          clEnumValN(TpttStage::Gpu, "gpu", "GPU kernels (CUDA target)"),
          clEnumValN(TpttStage::LLVM, "llvm", "the LLVM dialect"))};
  PassOptions::Option<TpttStage> to{
      *this, "to", llvm::cl::desc("The last stage to run"),
      llvm::cl::init(TpttStage::LLVM),
      llvm::cl::values(
          clEnumValN(TpttStage::Tptt, "tptt", "graph-level tptt ops"),
          clEnumValN(TpttStage::Autodiff, "autodiff",
                     "tptt ops with the backward of value_and_grad"),
          clEnumValN(TpttStage::Linalg, "linalg", "linalg/scf on tensors"),
          clEnumValN(TpttStage::Tiled, "tiled", "parallel tiles"),
          clEnumValN(TpttStage::Bufferized, "bufferized", "memrefs"),
          clEnumValN(TpttStage::Loops, "loops", "scf/OpenMP loops"),
          clEnumValN(TpttStage::Gpu, "gpu", "GPU kernels (CUDA target)"),
          clEnumValN(TpttStage::LLVM, "llvm", "the LLVM dialect"))};
  PassOptions::Option<int64_t> chunkSize{
      *this, "chunk-size",
      llvm::cl::desc("Chunk length of the linear recurrent operator's schedule "
                     "(0: the op's chunk_size)"),
      llvm::cl::init(0)};
  PassOptions::Option<int64_t> numThreads{
      *this, "num-threads",
      llvm::cl::desc("OpenMP threads of the CPU code (0: all cores)"),
      llvm::cl::init(0)};
  PassOptions::Option<std::string> chip{
      *this, "chip",
      llvm::cl::desc("The GPU architecture of the CUDA target (sm_XX)"),
      llvm::cl::init("sm_90")};
  PassOptions::Option<std::string> features{
      *this, "features",
      llvm::cl::desc("PTX features of the CUDA target: the PTX ISA version, "
                     "at least the chip's minimum"),
      llvm::cl::init("+ptx80")};
  PassOptions::Option<TpttGpuFormat> format{
      *this, "format",
      llvm::cl::desc("What the executable embeds for the CUDA target"),
      llvm::cl::init(TpttGpuFormat::Isa),
      llvm::cl::values(clEnumValN(TpttGpuFormat::Isa, "isa",
                                  "PTX, compiled by the driver at load time"),
                       clEnumValN(TpttGpuFormat::Fatbin, "fatbin",
                                  "cubin for the chip and PTX, by ptxas"))};
  PassOptions::Option<int64_t> blockSize{
      *this, "block-size",
      llvm::cl::desc("Threads per block of the CUDA kernels"),
      llvm::cl::init(256)};
  PassOptions::Option<std::string> cudaToolkit{
      *this, "cuda-toolkit",
      llvm::cl::desc("The CUDA toolkit (libdevice, ptxas; empty: the one "
                     "MLIR finds, /usr/local/cuda)"),
      llvm::cl::init("")};
};

/// Adds the passes of every stage up to `options.to` to `pm` (a module pass
/// manager).
void buildTpttPipeline(OpPassManager &pm, const TpttPipelineOptions &options);

/// Registers `tptt-pipeline` and its aliases with the pass registry.
void registerTpttPipelines();

} // namespace tptt
} // namespace mlir

#endif // TPTT_PIPELINES_PIPELINES_H

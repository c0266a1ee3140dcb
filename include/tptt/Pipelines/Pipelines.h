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
#include "llvm/Support/CommandLine.h"

#include <optional>

namespace mlir {
class OpPassManager;
namespace tptt {

/// The named stages of the pipeline, in order (Stages.def). Building "to" a
/// stage runs every pass up to and including that stage's passes.
enum class TpttStage {
#define TPTT_STAGE(id, name, help) id,
#include "tptt/Pipelines/Stages.def"
};

/// The stages as command-line values (`from=`, `to=`).
inline llvm::cl::ValuesClass getTpttStageValues() {
  return llvm::cl::ValuesClass({
#define TPTT_STAGE(id, name, help) clEnumValN(TpttStage::id, name, help),
#include "tptt/Pipelines/Stages.def"
  });
}

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
      llvm::cl::init(TpttStage::Tptt), getTpttStageValues()};
  PassOptions::Option<TpttStage> to{
      *this, "to", llvm::cl::desc("The last stage to run"),
      llvm::cl::init(TpttStage::LLVM), getTpttStageValues()};
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

/// Adds the passes of the stages in [`options.from`, `options.to`] to `pm`
/// (a module pass manager): the target's pipeline below.
void buildTpttPipeline(OpPassManager &pm, const TpttPipelineOptions &options);

/// The CPU's pipeline (lib/Pipelines/CPUPipeline.cpp): row tiling and
/// register blocks, OpenMP loops, the LLVM lowering with vector contractions
/// as outer products.
void addCPUPipeline(OpPassManager &pm, const TpttPipelineOptions &options);

/// The CUDA target's pipeline (lib/Pipelines/CUDAPipeline.cpp), also when
/// its kernels are emulated on the CPU (`cuda-on-cpu`): tensor cores,
/// parallel loops as kernels, cooperative kernels, NVVM and the kernels
/// serialized.
void addCUDAPipeline(OpPassManager &pm, const TpttPipelineOptions &options);

/// Registers `tptt-pipeline` and its aliases with the pass registry.
void registerTpttPipelines();

} // namespace tptt
} // namespace mlir

#endif // TPTT_PIPELINES_PIPELINES_H

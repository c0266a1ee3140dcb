//===- Executable.h - The ABI between compiled models and the launcher -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// tptt-compile emits an object that defines the symbols below and links it
// with the launcher (lib/Runtime/Launcher.cpp, which has main()). The
// weights either follow the executable's own bytes (llamafile-style; a
// trailer says where they start) or lie beside it.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_EXECUTABLE_H
#define TPTT_RUNTIME_EXECUTABLE_H

#include <cstdint>

extern "C" {
/// The model's manifest, a NUL-terminated JSON object: the model summary
/// (architecture, sizes, LiZA layers, operator mode, semantics, μ, token
/// ids) and the weight arguments of the entry points, in order.
extern const char tptt_manifest[];

/// The model's tokenizer.json (NUL-terminated; empty when it has none).
extern const char tptt_tokenizer_json[];

/// Calls the full-sequence forward `tptt_logits`: `args[0]` points to the
/// result's memref descriptor (filled in; its buffer is malloc'ed and
/// belongs to the caller), `args[1 + i]` to the descriptor of argument i
/// (tokens, positions, mask, mag_weight, then the weights).
void tptt_logits_packed(void **args);

/// Calls the prefill `tptt_prefill` (the full forward that also returns the
/// decode caches) and the one-token decode step `tptt_decode_step` the same
/// way. Only models with the `recurrent` semantics have them (weak: null
/// otherwise).
__attribute__((weak)) void tptt_prefill_packed(void **args);
__attribute__((weak)) void tptt_decode_step_packed(void **args);

/// The training entry points of models compiled with `tptt-compile
/// --train`: the mean next-token loss `tptt_loss` and the AdamW training
/// step `tptt_train_step` (weak: null otherwise).
__attribute__((weak)) void tptt_loss_packed(void **args);
__attribute__((weak)) void tptt_train_step_packed(void **args);

/// The same entry points compiled for the GPU (`tptt-compile --target
/// cuda`, which also compiles the ones above for the CPU): their kernels
/// run on the CUDA device, their buffers, arguments and results are managed
/// memory (_mlir_memref_to_llvm_alloc of Runtime/CudaDriver.h). Weak: null
/// in executables compiled for the CPU only.
__attribute__((weak)) void tptt_logits_cuda_packed(void **args);
__attribute__((weak)) void tptt_prefill_cuda_packed(void **args);
__attribute__((weak)) void tptt_decode_step_cuda_packed(void **args);
__attribute__((weak)) void tptt_loss_cuda_packed(void **args);
__attribute__((weak)) void tptt_train_step_cuda_packed(void **args);
}

namespace tptt {
namespace runtime {

/// The symbols of tptt_manifest and tptt_tokenizer_json above, which
/// tptt-compile defines.
constexpr const char kManifestSymbol[] = "tptt_manifest";
constexpr const char kTokenizerSymbol[] = "tptt_tokenizer_json";
/// The safetensors metadata that marks weights written by tptt-compile: in
/// the entry points' layout (projections transposed, each in its argument's
/// dtype), looked up by argument name.
constexpr const char kWeightsLayoutKey[] = "tptt_layout";
constexpr const char kEntryLayout[] = "entry";

/// The last 16 bytes of an executable with embedded weights: the offset of
/// the safetensors data (little-endian u64), then this magic.
constexpr char kWeightsMagic[8] = {'T', 'P', 'T', 'T', 'W', 'G', 'T', '1'};
constexpr uint64_t kWeightsTrailerBytes = 16;
/// The embedded data starts at a multiple of this.
constexpr uint64_t kWeightsAlignment = 64;
/// The most OpenMP threads compiled code is asked to use (--num-threads,
/// OMP_NUM_THREADS).
constexpr int64_t kMaxThreads = 4096;

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_EXECUTABLE_H

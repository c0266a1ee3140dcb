//===- CudaDriver.h - The CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Executables and tests load the CUDA driver (libcuda.so.1) with dlopen when
// they first need it, so that they start, and say clearly that there is no
// GPU, on machines without an NVIDIA driver. The symbols tptt calls are
// listed once in CudaDriverSymbols.def (an X-macro table, as IREE does).
//
// The few driver types used are declared here rather than taken from the
// toolkit's cuda.h: the runtime then builds on machines without the CUDA
// toolkit. Their values are those of the driver API, which NVIDIA keeps
// stable across versions.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_CUDADRIVER_H
#define TPTT_RUNTIME_CUDADRIVER_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tptt {
namespace runtime {
namespace cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;

constexpr CUresult kSuccess = 0;
constexpr CUresult kErrorStubLibrary = 34;
constexpr unsigned kStreamNonBlocking = 0x1;
constexpr unsigned kEventDisableTiming = 0x2;
constexpr unsigned kMemAttachGlobal = 0x1;
constexpr int kAttributeMultiprocessorCount = 16;
constexpr int kAttributeComputeCapabilityMajor = 75;
constexpr int kAttributeComputeCapabilityMinor = 76;
constexpr int kLimitMallocHeapSize = 0x02;

/// The driver's entry points tptt calls, resolved from one library.
struct Driver {
#define TPTT_CUDA_SYMBOL(name, symbol, params) CUresult(*name) params = nullptr;
#include "tptt/Runtime/CudaDriverSymbols.def"
  void *library = nullptr;
  ~Driver();
  /// "cuXxx failed: CUDA_ERROR_NAME (description)".
  std::string describe(const char *call, CUresult result) const;
};

/// Loads the driver from `path` and initialises it (cuInit); null with
/// `error` set when the library is missing, lacks a symbol, or finds no
/// usable device.
std::unique_ptr<Driver> loadDriver(const std::string &path, std::string &error);

/// The driver of this process (libcuda.so.1, or the library the
/// TPTT_CUDA_DRIVER environment variable names), loaded at the first call;
/// null with `error` set when it cannot be used.
const Driver *driver(std::string &error);

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0, multiprocessors = 0, driverVersion = 0;
  uint64_t memoryBytes = 0;
};

/// The properties of device `ordinal`; std::nullopt with `error` set.
std::optional<DeviceInfo> deviceInfo(int ordinal, std::string &error);

/// One line for `EXE info`: "NVIDIA H200 (sm_90, 132 SMs, 139.8 GiB, driver
/// 13.0)" or "none (<why>)".
std::string describeDevice(int ordinal);

/// The host functions that code lowered by gpu-to-llvm and
/// finalize-memref-to-llvm{use-generic-functions} calls (the mgpu* ABI and
/// the managed allocation functions), by symbol name: for a JIT, which does
/// not see them in the executable.
std::vector<std::pair<std::string, void *>> hostFunctions();

} // namespace cuda
} // namespace runtime
} // namespace tptt

extern "C" {
/// The allocation functions of code compiled for `--target cuda` (the
/// host's memrefs, lowered with use-generic-functions): managed memory,
/// which the host and the kernels both reach. Like the mgpu* functions they
/// end the program with a message when the driver fails.
void *_mlir_memref_to_llvm_alloc(size_t bytes);
void _mlir_memref_to_llvm_free(void *ptr);
}

namespace tptt {
namespace runtime {
namespace cuda {
/// A copy of `bytes` bytes of host memory in managed memory (from
/// _mlir_memref_to_llvm_alloc): how host tensors reach the kernels.
void *copyToManaged(const void *data, size_t bytes);

/// The GPU time of the compiled code between start() and stop(), measured
/// with CUDA events on the stream every kernel runs on (mgpuStreamCreate
/// hands out the process's one stream): kernels and launches, not the
/// host's own work before the first launch.
class GpuTimer {
public:
  GpuTimer() = default;
  GpuTimer(const GpuTimer &) = delete;
  GpuTimer &operator=(const GpuTimer &) = delete;
  ~GpuTimer();
  /// Records the start; false with `error` when there is no usable GPU.
  bool start(std::string &error);
  /// Records the end and waits for it: the milliseconds since start();
  /// std::nullopt with `error` when the driver fails.
  std::optional<double> stop(std::string &error);

private:
  CUevent begin = nullptr, end = nullptr;
};
} // namespace cuda
} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_CUDADRIVER_H

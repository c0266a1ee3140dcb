//===- CudaDriver.cpp - The CUDA driver API and the mgpu* host ABI --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Loads libcuda.so.1 with dlopen (CudaDriver.h) and implements over it the
// `mgpu*` functions that MLIR's gpu-to-llvm conversion and the gpu.binary
// translation call from host code: module load, kernel lookup and launch,
// streams, events, device memory. Debian ships no CUDA runtime wrappers, and
// ours need no CUDA toolkit at build time. A failing driver call ends the
// program with a message naming the call and the driver's error, since the
// compiled code that called it cannot recover.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/CudaDriver.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>

namespace tptt {
namespace runtime {
namespace cuda {

Driver::~Driver() {
  if (library)
    dlclose(library);
}

std::string Driver::describe(const char *call, CUresult result) const {
  const char *name = nullptr, *text = nullptr;
  if (cuGetErrorName)
    cuGetErrorName(result, &name);
  if (cuGetErrorString)
    cuGetErrorString(result, &text);
  std::string message = std::string(call) + " failed: " +
                        (name ? name : "error " + std::to_string(result));
  if (text)
    message += std::string(" (") + text + ")";
  return message;
}

std::unique_ptr<Driver> loadDriver(const std::string &path,
                                   std::string &error) {
  auto loaded = std::make_unique<Driver>();
  loaded->library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!loaded->library) {
    const char *why = dlerror();
    error = "no CUDA driver: cannot load " + path + " (" +
            (why ? why : "unknown error") +
            "); is an NVIDIA driver installed on this machine?";
    return nullptr;
  }
#define TPTT_CUDA_SYMBOL(name, symbol, params)                                 \
  loaded->name = reinterpret_cast<decltype(loaded->name)>(                     \
      dlsym(loaded->library, symbol));                                         \
  if (!loaded->name) {                                                         \
    error = path + " has no " symbol ": not a CUDA driver, or one too old";    \
    return nullptr;                                                            \
  }
#include "tptt/Runtime/CudaDriverSymbols.def"
  CUresult result = loaded->cuInit(0);
  if (result == kErrorStubLibrary) {
    error = "no CUDA driver: " + path +
            " is the CUDA toolkit's stub library, not an NVIDIA driver";
    return nullptr;
  }
  if (result != kSuccess) {
    error =
        "the CUDA driver cannot start: " + loaded->describe("cuInit", result);
    return nullptr;
  }
  return loaded;
}

const Driver *driver(std::string &error) {
  static std::once_flag once;
  static std::unique_ptr<Driver> loaded;
  static std::string loadError;
  std::call_once(once, [] {
    const char *path = std::getenv("TPTT_CUDA_DRIVER");
    loaded = loadDriver(path && *path ? path : "libcuda.so.1", loadError);
  });
  if (!loaded)
    error = loadError;
  return loaded.get();
}

std::optional<DeviceInfo> deviceInfo(int ordinal, std::string &error) {
  const Driver *d = driver(error);
  if (!d)
    return std::nullopt;
  auto check = [&](const char *call, CUresult result) {
    if (result != kSuccess)
      error = d->describe(call, result);
    return result == kSuccess;
  };
  int count = 0;
  if (!check("cuDeviceGetCount", d->cuDeviceGetCount(&count)))
    return std::nullopt;
  if (ordinal < 0 || ordinal >= count) {
    error = "no CUDA device " + std::to_string(ordinal) + " (the driver sees " +
            std::to_string(count) + ")";
    return std::nullopt;
  }
  CUdevice device = 0;
  DeviceInfo info;
  char name[256] = {};
  size_t bytes = 0;
  if (!check("cuDeviceGet", d->cuDeviceGet(&device, ordinal)) ||
      !check("cuDeviceGetName",
             d->cuDeviceGetName(name, sizeof(name) - 1, device)) ||
      !check("cuDeviceTotalMem", d->cuDeviceTotalMem(&bytes, device)) ||
      !check("cuDeviceGetAttribute",
             d->cuDeviceGetAttribute(
                 &info.major, kAttributeComputeCapabilityMajor, device)) ||
      !check("cuDeviceGetAttribute",
             d->cuDeviceGetAttribute(
                 &info.minor, kAttributeComputeCapabilityMinor, device)) ||
      !check("cuDeviceGetAttribute",
             d->cuDeviceGetAttribute(&info.multiprocessors,
                                     kAttributeMultiprocessorCount, device)) ||
      !check("cuDriverGetVersion", d->cuDriverGetVersion(&info.driverVersion)))
    return std::nullopt;
  info.name = name;
  info.memoryBytes = bytes;
  return info;
}

std::string describeDevice(int ordinal) {
  std::string error;
  std::optional<DeviceInfo> info = deviceInfo(ordinal, error);
  if (!info)
    return "none (" + error + ")";
  char line[512];
  std::snprintf(
      line, sizeof(line), "%s (sm_%d%d, %d SMs, %.1f GiB, driver %d.%d)",
      info->name.c_str(), info->major, info->minor, info->multiprocessors,
      static_cast<double>(info->memoryBytes) / (1ull << 30),
      info->driverVersion / 1000, (info->driverVersion % 1000) / 10);
  return line;
}

namespace {

/// The driver for the mgpu* functions: loaded, or the program ends.
const Driver &requireDriver() {
  std::string error;
  const Driver *d = driver(error);
  if (!d) {
    std::fprintf(stderr, "error: this program runs on a CUDA GPU: %s\n",
                 error.c_str());
    std::exit(1);
  }
  return *d;
}

void check(const char *call, CUresult result) {
  if (result == kSuccess)
    return;
  std::fprintf(stderr, "error: %s\n",
               requireDriver().describe(call, result).c_str());
  std::exit(1);
}

int32_t defaultDevice = 0;

/// Makes the primary context of the default device current on the calling
/// thread (once per thread); the first call sets the context up.
const Driver &withContext() {
  const Driver &d = requireDriver();
  static std::once_flag once;
  static CUcontext context = nullptr;
  thread_local bool current = false;
  std::call_once(once, [&] {
    CUdevice device = 0;
    size_t total = 0;
    check("cuDeviceGet", d.cuDeviceGet(&device, defaultDevice));
    check("cuDevicePrimaryCtxRetain",
          d.cuDevicePrimaryCtxRetain(&context, device));
    check("cuCtxPushCurrent", d.cuCtxPushCurrent(context));
    current = true;
    // The kernels allocate their scratch buffers on the device heap, per
    // thread: the operator's thread for a head holds its sequence's
    // prepared keys and values and its chunk's matrices. The default heap
    // (8 MiB) holds a few heads'; a quarter of the device's memory holds a
    // batch's.
    check("cuDeviceTotalMem", d.cuDeviceTotalMem(&total, device));
    check("cuCtxSetLimit", d.cuCtxSetLimit(kLimitMallocHeapSize, total / 4));
  });
  if (!current) {
    check("cuCtxPushCurrent", d.cuCtxPushCurrent(context));
    current = true;
  }
  return d;
}

} // namespace

} // namespace cuda
} // namespace runtime
} // namespace tptt

using namespace tptt::runtime::cuda;

// The host ABI of MLIR 22's GPU lowering (gpu-to-llvm and the gpu.binary /
// gpu.launch_func translation). Sizes are intptr_t where MLIR passes index.

// The translation of gpu.binary loads every module from a global
// constructor. Loading is deferred to the first kernel lookup, so that a
// program with GPU code starts (and can run on the CPU) without a driver.
namespace {
struct LazyModule {
  const void *image;
  CUmodule module = nullptr;
  std::once_flag once;
};
} // namespace

extern "C" CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  return reinterpret_cast<CUmodule>(new LazyModule{data});
}

extern "C" CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  // The driver JIT-compiles PTX (format=isa) when it loads it.
  return mgpuModuleLoad(data, 0);
}

extern "C" void mgpuModuleUnload(CUmodule handle) {
  auto *lazy = reinterpret_cast<LazyModule *>(handle);
  if (lazy->module)
    check("cuModuleUnload", withContext().cuModuleUnload(lazy->module));
  delete lazy;
}

extern "C" CUfunction mgpuModuleGetFunction(CUmodule handle, const char *name) {
  auto *lazy = reinterpret_cast<LazyModule *>(handle);
  const Driver &d = withContext();
  std::call_once(lazy->once, [&] {
    check("cuModuleLoadData", d.cuModuleLoadData(&lazy->module, lazy->image));
  });
  CUfunction function = nullptr;
  check("cuModuleGetFunction",
        d.cuModuleGetFunction(&function, lazy->module, name));
  return function;
}

extern "C" void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                 intptr_t gridY, intptr_t gridZ,
                                 intptr_t blockX, intptr_t blockY,
                                 intptr_t blockZ, int32_t sharedBytes,
                                 CUstream stream, void **params, void **extra,
                                 size_t /*paramsCount*/) {
  // Beyond 48 KiB of dynamic shared memory a kernel must opt in (the
  // cooperative kernels keep their buffers there, up to what the chip gives).
  constexpr int kMaxDynamicSharedSizeBytes = 8;
  constexpr int32_t kDefaultSharedBytes = 48 * 1024;
  if (sharedBytes > kDefaultSharedBytes)
    check("cuFuncSetAttribute",
          withContext().cuFuncSetAttribute(function, kMaxDynamicSharedSizeBytes,
                                           sharedBytes));
  check("cuLaunchKernel", withContext().cuLaunchKernel(
                              function, gridX, gridY, gridZ, blockX, blockY,
                              blockZ, sharedBytes, stream, params, extra));
}

namespace {
/// The one stream of the process's compiled code, created at the first
/// use. Compiled functions ask for a stream per call (gpu-async-region) and
/// synchronize it before they return; sharing one orders the calls of
/// several host threads too, and lets GpuTimer's events bracket them.
CUstream processStream() {
  static std::once_flag once;
  static CUstream stream = nullptr;
  std::call_once(once, [] {
    check("cuStreamCreate",
          withContext().cuStreamCreate(&stream, kStreamNonBlocking));
  });
  return stream;
}
} // namespace

extern "C" CUstream mgpuStreamCreate() { return processStream(); }

/// The process's stream lives as long as the process.
extern "C" void mgpuStreamDestroy(CUstream /*stream*/) {}

extern "C" void mgpuStreamSynchronize(CUstream stream) {
  check("cuStreamSynchronize", withContext().cuStreamSynchronize(stream));
}

extern "C" void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  check("cuStreamWaitEvent", withContext().cuStreamWaitEvent(stream, event, 0));
}

extern "C" CUevent mgpuEventCreate() {
  CUevent event = nullptr;
  check("cuEventCreate",
        withContext().cuEventCreate(&event, kEventDisableTiming));
  return event;
}

extern "C" void mgpuEventDestroy(CUevent event) {
  check("cuEventDestroy", withContext().cuEventDestroy(event));
}

extern "C" void mgpuEventSynchronize(CUevent event) {
  check("cuEventSynchronize", withContext().cuEventSynchronize(event));
}

extern "C" void mgpuEventRecord(CUevent event, CUstream stream) {
  check("cuEventRecord", withContext().cuEventRecord(event, stream));
}

extern "C" void *mgpuMemAlloc(uint64_t bytes, CUstream /*stream*/,
                              bool hostShared) {
  const Driver &d = withContext();
  CUdeviceptr ptr = 0;
  if (bytes == 0)
    return nullptr;
  if (hostShared)
    check("cuMemAllocManaged",
          d.cuMemAllocManaged(&ptr, bytes, kMemAttachGlobal));
  else
    check("cuMemAlloc", d.cuMemAlloc(&ptr, bytes));
  return reinterpret_cast<void *>(ptr);
}

extern "C" void mgpuMemFree(void *ptr, CUstream /*stream*/) {
  if (ptr)
    check("cuMemFree",
          withContext().cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)));
}

extern "C" void mgpuMemcpy(void *dst, void *src, size_t bytes,
                           CUstream stream) {
  check("cuMemcpyAsync",
        withContext().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                    reinterpret_cast<CUdeviceptr>(src), bytes,
                                    stream));
}

extern "C" void mgpuMemset32(void *dst, unsigned value, size_t count,
                             CUstream stream) {
  check("cuMemsetD32Async",
        withContext().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst),
                                       value, count, stream));
}

extern "C" void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             CUstream stream) {
  check("cuMemsetD16Async",
        withContext().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst),
                                       value, count, stream));
}

extern "C" void mgpuSetDefaultDevice(int32_t device) { defaultDevice = device; }

extern "C" void *_mlir_memref_to_llvm_alloc(size_t bytes) {
  // A buffer of no elements still needs a distinct, freeable pointer.
  return mgpuMemAlloc(bytes ? bytes : 1, nullptr, /*hostShared=*/true);
}

void *tptt::runtime::cuda::copyToManaged(const void *data, size_t bytes) {
  void *copy = _mlir_memref_to_llvm_alloc(bytes);
  std::memcpy(copy, data, bytes);
  return copy;
}

extern "C" void _mlir_memref_to_llvm_free(void *ptr) {
  mgpuMemFree(ptr, nullptr);
}

GpuTimer::~GpuTimer() {
  std::string error;
  if (const Driver *d = driver(error))
    for (CUevent event : {begin, end})
      if (event)
        d->cuEventDestroy(event);
}

bool GpuTimer::start(std::string &error) {
  if (!driver(error))
    return false;
  const Driver &d = withContext();
  for (CUevent *event : {&begin, &end})
    if (!*event)
      if (CUresult result = d.cuEventCreate(event, 0); result != kSuccess) {
        error = d.describe("cuEventCreate", result);
        return false;
      }
  if (CUresult result = d.cuEventRecord(begin, processStream());
      result != kSuccess) {
    error = d.describe("cuEventRecord", result);
    return false;
  }
  return true;
}

std::optional<double> GpuTimer::stop(std::string &error) {
  const Driver &d = withContext();
  float milliseconds = 0;
  CUresult result = d.cuEventRecord(end, processStream());
  const char *call = "cuEventRecord";
  if (result == kSuccess) {
    result = d.cuEventSynchronize(end);
    call = "cuEventSynchronize";
  }
  if (result == kSuccess) {
    result = d.cuEventElapsedTime(&milliseconds, begin, end);
    call = "cuEventElapsedTime";
  }
  if (result != kSuccess) {
    error = d.describe(call, result);
    return std::nullopt;
  }
  return milliseconds;
}

std::vector<std::pair<std::string, void *>>
tptt::runtime::cuda::hostFunctions() {
  auto entry = [](const char *name, auto function) {
    return std::pair<std::string, void *>(name,
                                          reinterpret_cast<void *>(function));
  };
  return {entry("mgpuModuleLoad", &mgpuModuleLoad),
          entry("mgpuModuleLoadJIT", &mgpuModuleLoadJIT),
          entry("mgpuModuleUnload", &mgpuModuleUnload),
          entry("mgpuModuleGetFunction", &mgpuModuleGetFunction),
          entry("mgpuLaunchKernel", &mgpuLaunchKernel),
          entry("mgpuStreamCreate", &mgpuStreamCreate),
          entry("mgpuStreamDestroy", &mgpuStreamDestroy),
          entry("mgpuStreamSynchronize", &mgpuStreamSynchronize),
          entry("mgpuStreamWaitEvent", &mgpuStreamWaitEvent),
          entry("mgpuEventCreate", &mgpuEventCreate),
          entry("mgpuEventDestroy", &mgpuEventDestroy),
          entry("mgpuEventSynchronize", &mgpuEventSynchronize),
          entry("mgpuEventRecord", &mgpuEventRecord),
          entry("mgpuMemAlloc", &mgpuMemAlloc),
          entry("mgpuMemFree", &mgpuMemFree),
          entry("mgpuMemcpy", &mgpuMemcpy),
          entry("mgpuMemset32", &mgpuMemset32),
          entry("mgpuMemset16", &mgpuMemset16),
          entry("mgpuSetDefaultDevice", &mgpuSetDefaultDevice),
          entry("_mlir_memref_to_llvm_alloc", &_mlir_memref_to_llvm_alloc),
          entry("_mlir_memref_to_llvm_free", &_mlir_memref_to_llvm_free)};
}

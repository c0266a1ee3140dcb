//===- CudaDriverTest.cpp - Loading the CUDA driver at run time -----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Runs on machines with and without an NVIDIA driver: the paths that need
// no GPU are checked everywhere, the device's properties where one is.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/CudaDriver.h"

#include <gtest/gtest.h>
#include <unistd.h>

using namespace tptt::runtime::cuda;

extern "C" {
CUstream mgpuStreamCreate();
CUmodule mgpuModuleLoadJIT(void *data, int optLevel);
CUfunction mgpuModuleGetFunction(CUmodule module, const char *name);
void mgpuModuleUnload(CUmodule module);
}

namespace {

TEST(CudaDriverTest, MissingLibraryIsAClearError) {
  std::string error;
  EXPECT_EQ(loadDriver("/nonexistent/libcuda.so.1", error), nullptr);
  EXPECT_NE(error.find("no CUDA driver: cannot load /nonexistent/libcuda.so.1"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("is an NVIDIA driver installed"), std::string::npos)
      << error;
}

TEST(CudaDriverTest, LibraryWithoutTheDriverApiIsRejected) {
  std::string error;
  EXPECT_EQ(loadDriver("libm.so.6", error), nullptr);
  EXPECT_EQ(error,
            "libm.so.6 has no cuInit: not a CUDA driver, or one too old");
}

TEST(CudaDriverTest, ToolkitStubIsNotADriver) {
  // The toolkit's libcuda.so has every symbol, and cuInit fails.
  const std::string stub = "/usr/local/cuda/lib64/stubs/libcuda.so";
  if (access(stub.c_str(), R_OK) != 0)
    GTEST_SKIP() << "no CUDA toolkit at /usr/local/cuda";
  std::string error;
  EXPECT_EQ(loadDriver(stub, error), nullptr);
  EXPECT_EQ(error, "no CUDA driver: " + stub +
                       " is the CUDA toolkit's stub library, not an NVIDIA "
                       "driver");
}

TEST(CudaDriverTest, DeviceIsDescribedOrItsAbsenceExplained) {
  std::string error;
  const Driver *d = driver(error);
  std::string line = describeDevice(0);
  if (!d) {
    EXPECT_FALSE(error.empty());
    EXPECT_EQ(line, "none (" + error + ")");
    return;
  }
  std::optional<DeviceInfo> info = deviceInfo(0, error);
  if (!info) {
    EXPECT_EQ(line, "none (" + error + ")");
    return;
  }
  EXPECT_FALSE(info->name.empty());
  EXPECT_GE(info->major, 5);
  EXPECT_GT(info->memoryBytes, 0u);
  EXPECT_NE(line.find("sm_" + std::to_string(info->major) +
                      std::to_string(info->minor)),
            std::string::npos)
      << line;
}

TEST(CudaDriverTest, MissingDeviceOrdinalIsAnError) {
  std::string error;
  if (!driver(error))
    GTEST_SKIP() << error;
  EXPECT_EQ(deviceInfo(1 << 20, error), std::nullopt);
  EXPECT_NE(error.find("no CUDA device 1048576"), std::string::npos) << error;
}

TEST(CudaDriverTest, HostAbiWithoutDriverEndsTheProgramClearly) {
  std::string error;
  if (driver(error))
    GTEST_SKIP() << "this machine has a CUDA driver";
  // What compiled GPU code calls first.
  EXPECT_EXIT(mgpuStreamCreate(), testing::ExitedWithCode(1),
              "error: this program runs on a CUDA GPU: no CUDA driver: "
              "cannot load libcuda.so.1");
}

TEST(CudaDriverTest, ModulesLoadAtTheFirstKernelLookup) {
  std::string error;
  if (driver(error))
    GTEST_SKIP() << "this machine has a CUDA driver";
  // A program's global constructors register its modules: that needs no
  // driver, nor does unloading a module no kernel was taken from.
  static const char ptx[] = ".version 8.0\n.target sm_90\n";
  CUmodule module = mgpuModuleLoadJIT(const_cast<char *>(ptx), 2);
  ASSERT_NE(module, nullptr);
  EXPECT_EXIT(mgpuModuleGetFunction(module, "kernel"),
              testing::ExitedWithCode(1),
              "error: this program runs on a CUDA GPU: no CUDA driver");
  mgpuModuleUnload(module);
}

} // namespace

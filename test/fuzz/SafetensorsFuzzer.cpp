//===- SafetensorsFuzzer.cpp - libFuzzer target for the reader ------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary bytes to the safetensors reader (through a file, as the
// runtime maps one) and reads every tensor it accepts: a corrupt file must
// give an error, never a crash or an out-of-bounds read.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Safetensors.h"

#include <cstdio>
#include <string>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const std::string path =
      "/tmp/tptt-fuzz-" + std::to_string(getpid()) + ".safetensors";
  FILE *file = std::fopen(path.c_str(), "wb");
  if (!file)
    return 0;
  std::fwrite(data, 1, size, file);
  std::fclose(file);
  std::string error;
  auto opened = tptt::safetensors::File::open(path, error);
  // Touch every element, so that a view past the mapping faults here.
  volatile double sum = 0;
  if (opened)
    for (const auto &view : opened->tensors())
      for (int64_t i = 0; i < view.numElements(); ++i)
        sum = sum + view.elementAsDouble(i);
  std::remove(path.c_str());
  return 0;
}

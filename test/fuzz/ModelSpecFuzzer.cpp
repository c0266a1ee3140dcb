//===- ModelSpecFuzzer.cpp - libFuzzer target for config.json -------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary text to the config.json parser and validator: anything
// that is not a valid model must give one error message, never a crash.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/ModelSpec.h"

#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::optional<tptt::model::ModelSpec> spec = tptt::model::parseModelSpec(
      std::string_view(reinterpret_cast<const char *>(data), size), error);
  if (spec) {
    for (int64_t layer = 0; layer < spec->numLayers; ++layer) {
      (void)spec->attentionWindow(layer);
      (void)spec->ropeOf(layer).inverseFrequencies(spec->headDim);
      (void)spec->ropeOf(layer).attentionScaling();
    }
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}

//===- AdapterConfigFuzzer.cpp - libFuzzer target for adapter_config.json -===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary text to the check of a PEFT adapter_config.json that
// `tptt-compile --adapter` merges: anything else than a plain LoRA config
// gives one error naming the file, never a crash; an accepted one has an
// integer rank and a finite, positive merge scale, and the config a
// training run writes for it reads back the same.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Checkpoint.h"

#include <cmath>
#include <string>

using tptt::runtime::LoraMergeConfig;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::optional<LoraMergeConfig> config = LoraMergeConfig::parse(
      std::string(reinterpret_cast<const char *>(data), size),
      "adapter_config.json", error);
  if (!config) {
    if (error.rfind("adapter_config.json: ", 0) != 0)
      __builtin_trap();
    return 0;
  }
  if (config->rank < 1 || !std::isfinite(config->scale()) ||
      !(config->scale() > 0))
    __builtin_trap();
  std::optional<LoraMergeConfig> again = LoraMergeConfig::parse(
      tptt::runtime::peftAdapterConfig(config->rank, config->alpha, 0.0,
                                       {"q_proj"}, "base"),
      "adapter_config.json", error);
  if (!again || again->rank != config->rank || again->alpha != config->alpha)
    __builtin_trap();
  return 0;
}

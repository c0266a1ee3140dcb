//===- ModelSpecFuzzer.cpp - libFuzzer target for config.json -------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary text to the config.json parser and validator, and to the
// reader of the reference library's checkpoints: anything that is not a
// valid model must give one error message, never a crash.
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
  // The same text as a reference checkpoint's TpttConfig over a small base
  // model: one model description or one error.
  static const char kBase[] =
      R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 16,
          "intermediate_size": 32, "num_hidden_layers": 2,
          "num_attention_heads": 2, "vocab_size": 24, "rms_norm_eps": 1e-6})";
  std::string_view text(reinterpret_cast<const char *>(data), size);
  (void)tptt::model::referenceCheckpointBase(text);
  error.clear();
  std::optional<tptt::model::ReferenceCheckpoint> reference =
      tptt::model::readReferenceCheckpoint(text, "config.json", kBase,
                                           "base/config.json", error);
  if (reference) {
    if (!tptt::model::parseModelSpec(reference->config, error) && error.empty())
      __builtin_trap();
  } else if (error.empty()) {
    __builtin_trap();
  }
  return 0;
}

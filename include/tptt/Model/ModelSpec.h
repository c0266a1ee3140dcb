//===- ModelSpec.h - A validated TPTT model description ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The model contract (ARCHITECTURE.md, "The model contract"): a Hugging
// Face config.json with a `tptt` object, validated against
// tptt-model.schema.json and then for consistency (head sizes, layer
// indices). Plain C++, no MLIR, so the runtime and the fuzzers can use it.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_MODEL_MODELSPEC_H
#define TPTT_MODEL_MODELSPEC_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace model {

/// Llama 3 RoPE frequency scaling.
struct Llama3RopeScaling {
  double factor = 8.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositions = 8192;
};

/// The LoRA configuration of the seeds (PEFT field names).
struct LoraSpec {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targetModules = {"q_proj", "k_proj", "v_proj",
                                            "o_proj"};
};

/// Everything tptt-compile needs to know about a model.
struct ModelSpec {
  // Backbone (Hugging Face fields).
  std::string architecture;
  int64_t hiddenSize = 0;
  int64_t intermediateSize = 0;
  int64_t numLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  double rmsNormEps = 1e-6;
  double ropeTheta = 10000.0;
  std::optional<Llama3RopeScaling> ropeScaling;
  int64_t maxPositions = 2048;
  bool tieWordEmbeddings = false;
  /// Biases on the q/k/v projections, and on o_proj.
  bool qkvBias = false;
  bool oBias = false;
  /// The backbone's own softmax window (Mistral, Qwen2 with
  /// use_sliding_window).
  std::optional<int64_t> slidingWindow;
  /// The first layer the backbone's window applies to (Qwen2's
  /// max_window_layers).
  int64_t firstWindowLayer = 0;
  std::string torchDtype = "float32";
  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;

  // LiZA (the `tptt` object).
  std::string operatorMode;
  int64_t order = 1;
  std::string alphaGate = "c";
  std::string betaGate = "k";
  bool linear = true;
  std::string trick = "dt";
  double magWeight = 0.5;
  bool crossGate = false;
  bool baseScaleAttn = false;
  std::optional<int64_t> maxSelfAttnLength;
  int64_t maxChunkSize = 64;
  bool bidirectional = false;
  std::string linearPrecision = "float32";
  /// Whether layer i carries LiZA.
  std::vector<bool> lizaLayers;
  std::optional<LoraSpec> lora;
  std::string semantics = "recurrent";

  /// The softmax window of layer `layer`: the backbone's and, on LiZA
  /// layers, max_self_attn_length, whichever is narrower.
  std::optional<int64_t> attentionWindow(int64_t layer) const;
  /// The RoPE inverse frequencies (head_dim / 2 of them), scaled.
  std::vector<double> ropeInverseFrequencies() const;
  /// Number of LiZA layers.
  int64_t numLizaLayers() const;
};

/// The JSON Schema text of the model contract (tptt-model.schema.json).
std::string_view modelSchema();

/// Parses and validates the text of a config.json. On failure returns
/// nothing and sets `error` to one message naming the field, e.g.
/// "field 'tptt.max_chunk_size': expected an integer, got \"64\"".
std::optional<ModelSpec> parseModelSpec(std::string_view text,
                                        std::string &error);

/// Reads and validates the config.json at `path` (errors name the file).
std::optional<ModelSpec> loadModelSpec(const std::string &path,
                                       std::string &error);

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_MODELSPEC_H

//===- ModelSpec.cpp - Parse and validate a TPTT config.json --------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/ModelSpec.h"
#include "tptt/Model/SchemaValidator.h"
#include "tptt/Runtime/Files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

using json = nlohmann::json;
using namespace tptt::model;

namespace {

#include "ModelSchema.inc"

/// A RECURRENT_MODES row of the seeds (tptt-0.12-reference.md §5).
struct OperatorMode {
  int64_t order;
  const char *alphaGate, *betaGate;
  bool linear;
  const char *trick;
};

const std::map<std::string, OperatorMode> &operatorModes() {
  static const std::map<std::string, OperatorMode> modes = {
      {"delta_rule", {1, "c", "k", true, "dt"}},
      {"gated_delta_rule", {1, "k", "k", true, "dt"}},
      {"delta_rule_v", {1, "c", "v", true, "dt"}},
      {"delta_rule_kv", {1, "c", "kv", true, "dt"}},
      {"delta_rule_gelu", {1, "c", "k", false, "dt"}},
      {"delta_product", {2, "c", "k", true, "dt"}},
      {"gated_delta_product", {2, "k", "k", true, "dt"}},
      {"delta_product_r", {2, "c", "k", true, "rot"}},
      {"delta_product_c", {2, "c", "k", true, "rdt"}},
  };
  return modes;
}

/// `object[key]` when present and not null. The schema has checked types.
const json *field(const json &object, const char *key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

template <typename T> void read(const json &object, const char *key, T &out) {
  if (const json *value = field(object, key))
    out = value->get<T>();
}

template <typename T>
void read(const json &object, const char *key, std::optional<T> &out) {
  if (const json *value = field(object, key))
    out = value->get<T>();
}

} // namespace

std::string_view tptt::model::modelSchema() { return kModelSchema; }

std::optional<int64_t> ModelSpec::attentionWindow(int64_t layer) const {
  std::optional<int64_t> window =
      layer >= firstWindowLayer ? slidingWindow : std::nullopt;
  if (lizaLayers[layer] && maxSelfAttnLength)
    window = window ? std::min(*window, *maxSelfAttnLength) : maxSelfAttnLength;
  return window;
}

std::vector<double> ModelSpec::ropeInverseFrequencies() const {
  std::vector<double> frequencies;
  for (int64_t i = 0; i < headDim / 2; ++i) {
    double frequency =
        1.0 / std::pow(ropeTheta, static_cast<double>(2 * i) / headDim);
    if (ropeScaling) {
      // Llama 3: long wavelengths slow down by `factor`, short ones stay,
      // the band between is interpolated.
      const Llama3RopeScaling &s = *ropeScaling;
      double wavelength = 2.0 * M_PI / frequency;
      double lowWavelength = s.originalMaxPositions / s.lowFreqFactor;
      double highWavelength = s.originalMaxPositions / s.highFreqFactor;
      if (wavelength > lowWavelength) {
        frequency /= s.factor;
      } else if (wavelength >= highWavelength) {
        double smooth =
            (s.originalMaxPositions / wavelength - s.lowFreqFactor) /
            (s.highFreqFactor - s.lowFreqFactor);
        frequency = (1.0 - smooth) * frequency / s.factor + smooth * frequency;
      }
    }
    frequencies.push_back(frequency);
  }
  return frequencies;
}

int64_t ModelSpec::numLizaLayers() const {
  return std::count(lizaLayers.begin(), lizaLayers.end(), true);
}

std::optional<ModelSpec> tptt::model::parseModelSpec(std::string_view text,
                                                     std::string &error) {
  json config = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded()) {
    error = "not valid JSON";
    return std::nullopt;
  }
  json schema = json::parse(kModelSchema, nullptr, false);
  if (!validateAgainstSchema(schema, config, error))
    return std::nullopt;
  auto fail = [&](const std::string &message) -> std::optional<ModelSpec> {
    error = message;
    return std::nullopt;
  };

  ModelSpec spec;
  spec.architecture = config["architectures"][0].get<std::string>();
  read(config, "hidden_size", spec.hiddenSize);
  read(config, "intermediate_size", spec.intermediateSize);
  read(config, "num_hidden_layers", spec.numLayers);
  read(config, "num_attention_heads", spec.numHeads);
  spec.numKvHeads = spec.numHeads;
  read(config, "num_key_value_heads", spec.numKvHeads);
  if (spec.hiddenSize % spec.numHeads != 0 && !field(config, "head_dim"))
    return fail("field 'hidden_size': " + std::to_string(spec.hiddenSize) +
                " is not divisible by num_attention_heads = " +
                std::to_string(spec.numHeads) + " (give head_dim)");
  spec.headDim = spec.hiddenSize / spec.numHeads;
  read(config, "head_dim", spec.headDim);
  if (spec.headDim % 2 != 0)
    return fail("field 'head_dim': RoPE needs an even head dimension, got " +
                std::to_string(spec.headDim));
  if (spec.numHeads % spec.numKvHeads != 0)
    return fail(
        "field 'num_key_value_heads': " + std::to_string(spec.numKvHeads) +
        " does not divide num_attention_heads = " +
        std::to_string(spec.numHeads));
  read(config, "vocab_size", spec.vocabSize);
  read(config, "rms_norm_eps", spec.rmsNormEps);
  read(config, "rope_theta", spec.ropeTheta);
  if (const json *scaling = field(config, "rope_scaling")) {
    std::string type = scaling->value("rope_type", scaling->value("type", ""));
    if (type == "llama3") {
      Llama3RopeScaling s;
      read(*scaling, "factor", s.factor);
      read(*scaling, "low_freq_factor", s.lowFreqFactor);
      read(*scaling, "high_freq_factor", s.highFreqFactor);
      read(*scaling, "original_max_position_embeddings",
           s.originalMaxPositions);
      if (s.highFreqFactor <= s.lowFreqFactor)
        return fail("field 'rope_scaling.high_freq_factor': must be greater "
                    "than low_freq_factor");
      spec.ropeScaling = s;
    } else if (type != "default") {
      return fail("field 'rope_scaling': needs rope_type \"llama3\" or "
                  "\"default\"");
    }
  }
  read(config, "max_position_embeddings", spec.maxPositions);
  read(config, "tie_word_embeddings", spec.tieWordEmbeddings);
  bool attentionBias = false;
  read(config, "attention_bias", attentionBias);
  bool qwen2 = spec.architecture == "Qwen2ForCausalLM";
  spec.qkvBias = attentionBias || qwen2;
  spec.oBias = attentionBias && !qwen2;
  // Mistral always uses its sliding_window; Qwen2 only with
  // use_sliding_window, and then on the layers from max_window_layers on
  // (Hugging Face's default 28); Llama has none.
  if (spec.architecture == "MistralForCausalLM") {
    read(config, "sliding_window", spec.slidingWindow);
  } else if (qwen2) {
    bool useWindow = false;
    read(config, "use_sliding_window", useWindow);
    if (useWindow) {
      read(config, "sliding_window", spec.slidingWindow);
      spec.firstWindowLayer = 28;
      read(config, "max_window_layers", spec.firstWindowLayer);
    }
  }
  read(config, "torch_dtype", spec.torchDtype);
  read(config, "bos_token_id", spec.bosTokenId);
  if (const json *eos = field(config, "eos_token_id")) {
    if (eos->is_array())
      spec.eosTokenIds = eos->get<std::vector<int64_t>>();
    else
      spec.eosTokenIds = {eos->get<int64_t>()};
  }

  const json &tptt = config["tptt"];
  if (const json *mode = field(tptt, "operator_mode")) {
    spec.operatorMode = mode->get<std::string>();
    const OperatorMode &row = operatorModes().at(spec.operatorMode);
    for (const char *explicitField :
         {"order", "alpha_gate", "beta_gate", "linear", "trick"})
      if (field(tptt, explicitField))
        return fail(std::string("field 'tptt.") + explicitField +
                    "': operator_mode '" + spec.operatorMode +
                    "' already sets it; give one or the other");
    spec.order = row.order;
    spec.alphaGate = row.alphaGate;
    spec.betaGate = row.betaGate;
    spec.linear = row.linear;
    spec.trick = row.trick;
  } else {
    read(tptt, "order", spec.order);
    read(tptt, "alpha_gate", spec.alphaGate);
    read(tptt, "beta_gate", spec.betaGate);
    read(tptt, "linear", spec.linear);
    read(tptt, "trick", spec.trick);
    spec.operatorMode = "custom";
    for (const auto &[name, row] : operatorModes())
      if (row.order == spec.order && spec.alphaGate == row.alphaGate &&
          spec.betaGate == row.betaGate && spec.linear == row.linear &&
          (spec.order == 1 || spec.trick == row.trick))
        spec.operatorMode = name;
  }
  read(tptt, "mag_weight", spec.magWeight);
  read(tptt, "cross_gate", spec.crossGate);
  read(tptt, "base_scale_attn", spec.baseScaleAttn);
  read(tptt, "max_self_attn_length", spec.maxSelfAttnLength);
  read(tptt, "max_chunk_size", spec.maxChunkSize);
  read(tptt, "bidirectional", spec.bidirectional);
  read(tptt, "linear_precision", spec.linearPrecision);
  read(tptt, "semantics", spec.semantics);
  spec.lizaLayers.assign(spec.numLayers, true);
  if (const json *layers = field(tptt, "layers")) {
    spec.lizaLayers.assign(spec.numLayers, false);
    for (const json &layer : *layers) {
      int64_t index = layer.get<int64_t>();
      if (index >= spec.numLayers)
        return fail("field 'tptt.layers': layer " + std::to_string(index) +
                    " does not exist (num_hidden_layers = " +
                    std::to_string(spec.numLayers) + ")");
      spec.lizaLayers[index] = true;
    }
  }
  if (const json *lora = field(tptt, "lora_config")) {
    LoraSpec l;
    read(*lora, "r", l.rank);
    read(*lora, "lora_alpha", l.alpha);
    read(*lora, "lora_dropout", l.dropout);
    read(*lora, "target_modules", l.targetModules);
    spec.lora = l;
  }
  return spec;
}

std::optional<ModelSpec> tptt::model::loadModelSpec(const std::string &path,
                                                    std::string &error) {
  std::optional<std::string> text =
      runtime::readRegularFile(path, runtime::kMaxConfigBytes, error);
  if (!text) {
    // A missing file is the most common mistake: say it plainly.
    if (error == path + ": " + std::strerror(ENOENT))
      error = path + ": cannot open";
    return std::nullopt;
  }
  std::optional<ModelSpec> spec = parseModelSpec(*text, error);
  if (!spec)
    error = path + ": " + error;
  return spec;
}

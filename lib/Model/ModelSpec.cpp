//===- ModelSpec.cpp - Parse and validate a TPTT config.json --------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/ModelSpec.h"
#include "tptt/Model/SchemaValidator.h"
#include "tptt/Runtime/Json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
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

bool fail(std::string &error, const std::string &message) {
  error = message;
  return false;
}

/// The parameters each RoPE type reads (transformers'
/// `_validate_<type>_rope_parameters`), besides rope_type and rope_theta.
const std::map<std::string, std::set<std::string>> &ropeParameters() {
  static const std::map<std::string, std::set<std::string>> parameters = {
      {"default", {}},
      {"linear", {"factor"}},
      {"dynamic", {"factor"}},
      {"yarn",
       {"factor", "original_max_position_embeddings", "attention_factor",
        "beta_fast", "beta_slow", "mscale", "mscale_all_dim", "truncate"}},
      {"llama3",
       {"factor", "low_freq_factor", "high_freq_factor",
        "original_max_position_embeddings"}},
      {"longrope",
       {"short_factor", "long_factor", "factor", "attention_factor",
        "original_max_position_embeddings"}},
  };
  return parameters;
}

/// Where a backbone's own sliding window applies.
enum class WindowRule {
  /// Nowhere (Llama).
  None,
  /// On every layer, when the config has sliding_window (Mistral).
  EveryLayer,
  /// With use_sliding_window, on the sliding_attention layers of
  /// layer_types or, without it, from max_window_layers on (Qwen2, Qwen3).
  Configured,
  /// On the sliding_attention layers of layer_types or, without it, on all
  /// but every sliding_window_pattern-th layer (Gemma 3; sliding_window
  /// defaults to 4096 and the pattern to 6, as in transformers).
  Pattern,
};

/// How a backbone's decoder layer departs from Llama's.
struct Decoder {
  /// RMSNorm weights stored as w − 1 (Gemma: every norm computes with
  /// 1 + w).
  double normWeightOffset;
  /// Norms after the attention and around the MLP (Gemma).
  bool sandwichNorms;
  /// Embedding rows scaled by √hidden_size (Gemma).
  bool scaledEmbedding;
  /// The config field that names the MLP's activation, and its default.
  const char *activationField;
  const char *defaultActivation;
  /// Whether the attention scale is query_pre_attn_scalar^−½ (default 256)
  /// rather than head_dim^−½.
  bool queryPreAttnScalar;
  /// Whether the sliding layers have a RoPE of their own
  /// (rope_local_base_freq, default 10000).
  bool localRope;
  double defaultRopeTheta;
  bool defaultTiedEmbeddings;
  /// Whether the config's final_logit_softcapping caps the logits (Gemma).
  /// transformers' Gemma 3 stores attn_logit_softcapping but never applies
  /// it.
  bool softCapping;
  /// Fused projections, qkv_proj [q; k; v] and gate_up_proj [gate; up], with
  /// no biases (Phi-3: attention_bias must be false).
  bool fusedProjections;
};

constexpr Decoder kLlamaDecoder = {
    /*normWeightOffset=*/0.0,
    /*sandwichNorms=*/false,
    /*scaledEmbedding=*/false,
    /*activationField=*/"hidden_act",
    /*defaultActivation=*/"silu",
    /*queryPreAttnScalar=*/false,
    /*localRope=*/false,
    /*defaultRopeTheta=*/10000.0,
    /*defaultTiedEmbeddings=*/false,
    /*softCapping=*/false,
    /*fusedProjections=*/false};
constexpr Decoder kGemma3Decoder = {
    /*normWeightOffset=*/1.0,
    /*sandwichNorms=*/true,
    /*scaledEmbedding=*/true,
    /*activationField=*/"hidden_activation",
    /*defaultActivation=*/"gelu_pytorch_tanh",
    /*queryPreAttnScalar=*/true,
    /*localRope=*/true,
    /*defaultRopeTheta=*/1.0e6,
    /*defaultTiedEmbeddings=*/true,
    /*softCapping=*/true,
    /*fusedProjections=*/false};
constexpr Decoder kPhi3Decoder = {
    /*normWeightOffset=*/0.0,
    /*sandwichNorms=*/false,
    /*scaledEmbedding=*/false,
    /*activationField=*/"hidden_act",
    /*defaultActivation=*/"silu",
    /*queryPreAttnScalar=*/false,
    /*localRope=*/false,
    /*defaultRopeTheta=*/10000.0,
    /*defaultTiedEmbeddings=*/false,
    /*softCapping=*/false,
    /*fusedProjections=*/true};

/// What tells the Llama-family backbones apart, as transformers' modeling
/// code has them: one row per architecture.
struct Backbone {
  const char *architecture;
  /// q/k/v biases whatever attention_bias says (Qwen2); otherwise
  /// attention_bias puts them on q/k/v.
  bool qkvBias;
  /// Whether attention_bias also puts a bias on o_proj.
  bool oBias;
  WindowRule window;
  /// q_norm and k_norm: an RMSNorm of each head of q and k before RoPE.
  bool qkNorm;
  /// The head_dim when the config has none; 0: hidden_size /
  /// num_attention_heads.
  int64_t defaultHeadDim;
  Decoder decoder;
};

constexpr Backbone kBackbones[] = {
    {"LlamaForCausalLM", false, true, WindowRule::None, false, 0,
     kLlamaDecoder},
    {"MistralForCausalLM", false, true, WindowRule::EveryLayer, false, 0,
     kLlamaDecoder},
    {"Qwen2ForCausalLM", true, false, WindowRule::Configured, false, 0,
     kLlamaDecoder},
    {"Qwen3ForCausalLM", false, true, WindowRule::Configured, true, 128,
     kLlamaDecoder},
    {"Gemma3ForCausalLM", false, true, WindowRule::Pattern, true, 256,
     kGemma3Decoder},
    {"Phi3ForCausalLM", false, false, WindowRule::EveryLayer, false, 0,
     kPhi3Decoder},
};

const Backbone &backboneOf(const std::string &architecture) {
  for (const Backbone &backbone : kBackbones)
    if (architecture == backbone.architecture)
      return backbone;
  // The schema admits only the architectures above.
  return kBackbones[0];
}

/// Reads the RoPE object `object` (at `path`: rope_scaling, rope_parameters
/// or one of its per-layer-type objects) into `r`; `thetaField` is the
/// top-level field its rope_theta must agree with. Needs spec.maxPositions.
bool parseRopeObject(const json &config, const json &object,
                     const std::string &path, const char *thetaField,
                     const ModelSpec &spec, RopeSpec &r, std::string &error) {
  if (const json *theta = field(object, "rope_theta")) {
    if (field(config, thetaField) && *theta != config[thetaField])
      return fail(error, "field '" + path + ".rope_theta': " + theta->dump() +
                             " disagrees with " + thetaField + " " +
                             config[thetaField].dump());
    r.theta = theta->get<double>();
  }
  r.type = object.value("type", std::string("default"));
  if (const json *type = field(object, "rope_type")) {
    if (field(object, "type") && *type != object["type"])
      return fail(error, "field '" + path + ".rope_type': " + type->dump() +
                             " disagrees with type " + object["type"].dump());
    r.type = type->get<std::string>();
  }
  const std::set<std::string> &known = ropeParameters().at(r.type);
  for (const auto &[key, value] : object.items())
    if (key != "rope_type" && key != "type" && key != "rope_theta" &&
        key != "partial_rotary_factor" && !known.count(key))
      return fail(error, "field '" + path + "." + key +
                             "': is not a parameter of rope_type '" + r.type +
                             "' (transformers ignores it too; remove it)");
  auto require = [&](const char *key) {
    if (field(object, key))
      return true;
    return fail(error, "field '" + path + "." + key + "': rope_type '" +
                           r.type + "' needs it");
  };
  r.originalMaxPositions = spec.maxPositions;
  read(object, "original_max_position_embeddings", r.originalMaxPositions);
  read(config, "original_max_position_embeddings", r.originalMaxPositions);
  double contextRatio = static_cast<double>(spec.maxPositions) /
                        static_cast<double>(r.originalMaxPositions);
  if (r.type == "longrope") {
    // transformers 4 takes the ratio of the contexts when the config has
    // original_max_position_embeddings, transformers 5 the factor when
    // there is one: a factor that disagrees with the ratio is ambiguous.
    if (field(object, "factor") &&
        field(config, "original_max_position_embeddings") &&
        object["factor"].get<double>() != contextRatio)
      return fail(error, "field '" + path +
                             ".factor': " + object["factor"].dump() +
                             ", but max_position_embeddings / "
                             "original_max_position_embeddings is " +
                             json(contextRatio).dump() +
                             " (transformers 4 takes the ratio, transformers "
                             "5 the factor); give one of them");
    r.factor = contextRatio;
  } else if (r.type == "yarn" && !field(object, "factor") &&
             field(object, "original_max_position_embeddings")) {
    r.factor = contextRatio;
  } else if (r.type != "default" && !require("factor")) {
    return false;
  }
  read(object, "factor", r.factor);
  if (r.type == "llama3") {
    if (!require("low_freq_factor") || !require("high_freq_factor"))
      return false;
    read(object, "low_freq_factor", r.lowFreqFactor);
    read(object, "high_freq_factor", r.highFreqFactor);
    if (r.highFreqFactor <= r.lowFreqFactor)
      return fail(error, "field '" + path +
                             ".high_freq_factor': must be greater than "
                             "low_freq_factor");
  }
  if (r.type == "yarn") {
    read(object, "attention_factor", r.attentionFactor);
    read(object, "beta_fast", r.betaFast);
    read(object, "beta_slow", r.betaSlow);
    read(object, "mscale", r.mscale);
    read(object, "mscale_all_dim", r.mscaleAllDim);
    read(object, "truncate", r.truncate);
    if (r.betaFast < r.betaSlow)
      return fail(error,
                  "field '" + path + ".beta_fast': must be at least beta_slow");
  }
  if (r.type == "longrope") {
    if (!require("short_factor") || !require("long_factor"))
      return false;
    read(object, "short_factor", r.shortFactor);
    read(object, "long_factor", r.longFactor);
    read(object, "attention_factor", r.attentionFactor);
    for (const char *key : {"short_factor", "long_factor"}) {
      const std::vector<double> &factors =
          std::string(key) == "short_factor" ? r.shortFactor : r.longFactor;
      if (static_cast<int64_t>(factors.size()) != spec.headDim / 2)
        return fail(error, "field '" + path + "." + key + "': has " +
                               std::to_string(factors.size()) +
                               " factors, but head_dim " +
                               std::to_string(spec.headDim) + " has " +
                               std::to_string(spec.headDim / 2) +
                               " frequencies");
      for (double factor : factors)
        if (!(factor > 0.0))
          return fail(error, "field '" + path + "." + key +
                                 "': every factor must be positive, got " +
                                 json(factor).dump());
    }
    // √(1 + ln factor / ln original) needs an original context above 1.
    if (!std::isfinite(r.attentionScaling()))
      return fail(error, "field 'original_max_position_embeddings': " +
                             std::to_string(r.originalMaxPositions) +
                             " gives longrope no finite attention factor; "
                             "give attention_factor or a context above 1");
  }
  return true;
}

/// Fills `spec.rope` (and, for a backbone with a local RoPE,
/// `spec.slidingRope`) from `rope_parameters` (transformers 5) or
/// `rope_scaling` and `rope_theta` (transformers 4), standardized as
/// transformers 5 does. Needs spec.maxPositions.
bool parseRope(const json &config, const json &schema, const Backbone &backbone,
               ModelSpec &spec, std::string &error) {
  const json *parameters = field(config, "rope_parameters");
  const json *object = field(config, "rope_scaling");
  if (parameters && object)
    return fail(error, "field 'rope_parameters': give rope_parameters "
                       "(transformers 5) or rope_scaling (transformers 4), "
                       "not both");
  const json &ropeSchema = schema["properties"]["rope_scaling"];
  spec.rope.theta = backbone.decoder.defaultRopeTheta;
  read(config, "rope_theta", spec.rope.theta);
  if (backbone.decoder.localRope) {
    // transformers 4: the sliding layers' RoPE is the default one at
    // rope_local_base_freq; rope_scaling applies to the full layers only.
    RopeSpec local;
    read(config, "rope_local_base_freq", local.theta);
    local.originalMaxPositions = spec.maxPositions;
    spec.slidingRope = local;
  }
  std::string path = "rope_scaling";
  if (parameters) {
    path = "rope_parameters";
    object = parameters;
    bool perLayerType = !parameters->empty();
    for (const auto &[key, value] : parameters->items())
      perLayerType = perLayerType &&
                     (key == "full_attention" || key == "sliding_attention");
    for (const auto &[key, value] : parameters->items())
      if (perLayerType && !value.is_object())
        return fail(error,
                    "field 'rope_parameters." + key + "': expected object");
    if (backbone.decoder.localRope) {
      if (!perLayerType)
        return fail(error, "field 'rope_parameters': " + spec.architecture +
                               " has a RoPE per layer type; give "
                               "{\"full_attention\": {...}, "
                               "\"sliding_attention\": {...}}");
      // A layer type without an object keeps the default RoPE at its base
      // (rope_theta, rope_local_base_freq), as transformers 5 does.
      for (const char *key : {"full_attention", "sliding_attention"}) {
        bool full = std::string(key) == "full_attention";
        std::string at = path + "." + key;
        if (!field(*parameters, key))
          continue;
        const json &one = (*parameters)[key];
        if (!validateAgainstSchema(ropeSchema, one, error, at) ||
            !parseRopeObject(config, one, at,
                             full ? "rope_theta" : "rope_local_base_freq", spec,
                             full ? spec.rope : *spec.slidingRope, error))
          return false;
      }
      return true;
    }
    if (perLayerType) {
      // One object per layer type: these backbones have one RoPE for all
      // layers, so the objects must agree.
      std::string first;
      for (const auto &[key, value] : parameters->items()) {
        if (first.empty()) {
          first = key;
        } else if (value != (*parameters)[first]) {
          return fail(error, "field 'rope_parameters': the RoPE of " + key +
                                 " layers differs from that of " + first +
                                 " layers; " + spec.architecture +
                                 " has one RoPE for all layers");
        }
      }
      path += "." + first;
      object = &(*parameters)[first];
    }
    if (!validateAgainstSchema(ropeSchema, *object, error, path))
      return false;
  }
  if (!object)
    return true;
  return parseRopeObject(config, *object, path, "rope_theta", spec, spec.rope,
                         error);
}

/// Which layers the backbone's own sliding window applies to (see
/// WindowRule).
bool parseWindows(const json &config, const Backbone &backbone, ModelSpec &spec,
                  std::string &error) {
  bool configured = backbone.window == WindowRule::Configured ||
                    backbone.window == WindowRule::Pattern;
  spec.windowLayers.assign(spec.numLayers, false);
  if (backbone.window == WindowRule::Pattern) {
    spec.slidingWindow = 4096;
    read(config, "sliding_window", spec.slidingWindow);
    int64_t pattern = 6;
    read(config, "sliding_window_pattern", pattern);
    for (int64_t layer = 0; layer < spec.numLayers; ++layer)
      spec.windowLayers[layer] = (layer + 1) % pattern != 0;
  }
  bool useWindow = backbone.window == WindowRule::EveryLayer;
  if (backbone.window == WindowRule::Configured)
    read(config, "use_sliding_window", useWindow);
  if (useWindow)
    read(config, "sliding_window", spec.slidingWindow);
  if (useWindow && spec.slidingWindow) {
    // Hugging Face's default max_window_layers is 28.
    int64_t first = 28;
    if (configured)
      read(config, "max_window_layers", first);
    for (int64_t layer = configured ? first : 0; layer < spec.numLayers;
         ++layer)
      spec.windowLayers[layer] = true;
  }
  const json *types = field(config, "layer_types");
  if (!types)
    return true;
  if (static_cast<int64_t>(types->size()) != spec.numLayers)
    return fail(error, "field 'layer_types': has " +
                           std::to_string(types->size()) +
                           " entries for num_hidden_layers = " +
                           std::to_string(spec.numLayers));
  for (int64_t layer = 0; layer < spec.numLayers; ++layer) {
    bool sliding = (*types)[layer] == "sliding_attention";
    if (configured) {
      spec.windowLayers[layer] = sliding;
    } else if (sliding != spec.windowLayers[layer]) {
      return fail(error, "field 'layer_types[" + std::to_string(layer) +
                             "]': " + (*types)[layer].dump() + ", but " +
                             spec.architecture +
                             " ignores layer_types in transformers and "
                             "computes layer " +
                             std::to_string(layer) +
                             (spec.windowLayers[layer] ? " with" : " without") +
                             " sliding_window");
    }
  }
  return true;
}

} // namespace

std::string_view tptt::model::modelSchema() { return kModelSchema; }

std::optional<int64_t> ModelSpec::attentionWindow(int64_t layer) const {
  std::optional<int64_t> window =
      windowLayers[layer] ? slidingWindow : std::nullopt;
  if (lizaLayers[layer] && maxSelfAttnLength)
    window = window ? std::min(*window, *maxSelfAttnLength) : maxSelfAttnLength;
  return window;
}

const RopeSpec &ModelSpec::ropeOf(int64_t layer) const {
  return slidingRope && windowLayers[layer] ? *slidingRope : rope;
}

std::vector<double> RopeSpec::inverseFrequencies(int64_t headDim) const {
  // transformers' modeling_rope_utils, rope type by rope type, in f64.
  const RopeSpec &r = *this;
  double dim = static_cast<double>(headDim);
  std::vector<double> frequencies;
  for (int64_t i = 0; i < headDim / 2; ++i)
    frequencies.push_back(1.0 / std::pow(r.theta, 2.0 * i / dim));
  if (r.type == "linear") {
    for (double &frequency : frequencies)
      frequency /= r.factor;
  } else if (r.type == "longrope") {
    for (size_t i = 0; i < frequencies.size(); ++i)
      frequencies[i] /= r.shortFactor[i];
  } else if (r.type == "llama3") {
    // Long wavelengths slow down by `factor`, short ones stay, the band
    // between is interpolated.
    double original = static_cast<double>(r.originalMaxPositions);
    double lowWavelength = original / r.lowFreqFactor;
    double highWavelength = original / r.highFreqFactor;
    for (double &frequency : frequencies) {
      double wavelength = 2.0 * M_PI / frequency;
      if (wavelength > lowWavelength) {
        frequency /= r.factor;
      } else if (wavelength >= highWavelength) {
        double smooth = (original / wavelength - r.lowFreqFactor) /
                        (r.highFreqFactor - r.lowFreqFactor);
        frequency = (1.0 - smooth) * frequency / r.factor + smooth * frequency;
      }
    }
  } else if (r.type == "yarn") {
    // Dimensions that rotate fewer than beta_slow times over the original
    // context are interpolated (divided by `factor`), those that rotate more
    // than beta_fast times kept, with a linear ramp between.
    auto correctionDim = [&](double rotations) {
      return dim *
             std::log(static_cast<double>(r.originalMaxPositions) /
                      (rotations * 2.0 * M_PI)) /
             (2.0 * std::log(r.theta));
    };
    double low = correctionDim(r.betaFast), high = correctionDim(r.betaSlow);
    if (r.truncate) {
      low = std::floor(low);
      high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, dim - 1.0);
    if (low == high)
      high += 0.001;
    for (size_t i = 0; i < frequencies.size(); ++i) {
      double ramp =
          std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
      double extrapolation = 1.0 - ramp;
      frequencies[i] = frequencies[i] / r.factor * (1.0 - extrapolation) +
                       frequencies[i] * extrapolation;
    }
  }
  return frequencies;
}

std::vector<double> RopeSpec::longInverseFrequencies(int64_t headDim) const {
  if (type != "longrope")
    return {};
  RopeSpec plain = *this;
  plain.type = "default";
  std::vector<double> frequencies = plain.inverseFrequencies(headDim);
  for (size_t i = 0; i < frequencies.size(); ++i)
    frequencies[i] /= longFactor[i];
  return frequencies;
}

double RopeSpec::attentionScaling() const {
  if (type != "yarn" && type != "longrope")
    return 1.0;
  if (attentionFactor)
    return *attentionFactor;
  if (type == "longrope")
    return factor <= 1.0 ? 1.0
                         : std::sqrt(1.0 + std::log(factor) /
                                               std::log(static_cast<double>(
                                                   originalMaxPositions)));
  auto scaleOf = [&](double scale) {
    return factor <= 1.0 ? 1.0 : 0.1 * scale * std::log(factor) + 1.0;
  };
  if (mscale && mscaleAllDim && *mscale != 0.0 && *mscaleAllDim != 0.0)
    return scaleOf(*mscale) / scaleOf(*mscaleAllDim);
  return scaleOf(1.0);
}

int64_t ModelSpec::numLizaLayers() const {
  return std::count(lizaLayers.begin(), lizaLayers.end(), true);
}

std::optional<ModelSpec> tptt::model::parseModelSpec(std::string_view text,
                                                     std::string &error) {
  std::optional<json> parsed = runtime::parseJson(text, error);
  if (!parsed)
    return std::nullopt;
  json &config = *parsed;
  json schema = json::parse(kModelSchema, nullptr, false);
  if (!validateAgainstSchema(schema, config, error))
    return std::nullopt;
  auto fail = [&](const std::string &message) -> std::optional<ModelSpec> {
    error = message;
    return std::nullopt;
  };

  ModelSpec spec;
  spec.architecture = config["architectures"][0].get<std::string>();
  const Backbone &backbone = backboneOf(spec.architecture);
  read(config, "hidden_size", spec.hiddenSize);
  read(config, "intermediate_size", spec.intermediateSize);
  read(config, "num_hidden_layers", spec.numLayers);
  read(config, "num_attention_heads", spec.numHeads);
  spec.numKvHeads = spec.numHeads;
  read(config, "num_key_value_heads", spec.numKvHeads);
  if (spec.hiddenSize % spec.numHeads != 0 && !field(config, "head_dim") &&
      !backbone.defaultHeadDim)
    return fail("field 'hidden_size': " + std::to_string(spec.hiddenSize) +
                " is not divisible by num_attention_heads = " +
                std::to_string(spec.numHeads) + " (give head_dim)");
  spec.headDim = backbone.defaultHeadDim ? backbone.defaultHeadDim
                                         : spec.hiddenSize / spec.numHeads;
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
  read(config, "max_position_embeddings", spec.maxPositions);
  if (!parseWindows(config, backbone, spec, error) ||
      !parseRope(config, schema, backbone, spec, error))
    return std::nullopt;
  const Decoder &decoder = backbone.decoder;
  spec.tieWordEmbeddings = decoder.defaultTiedEmbeddings;
  read(config, "tie_word_embeddings", spec.tieWordEmbeddings);
  bool attentionBias = false;
  read(config, "attention_bias", attentionBias);
  spec.qkvBias = attentionBias || backbone.qkvBias;
  spec.oBias = attentionBias && backbone.oBias;
  spec.qkNorm = backbone.qkNorm;
  spec.fusedProjections = decoder.fusedProjections;
  if (spec.fusedProjections && attentionBias)
    return fail("field 'attention_bias': " + spec.architecture +
                " has no projection biases (transformers ignores the field)");
  spec.normWeightOffset = decoder.normWeightOffset;
  spec.sandwichNorms = decoder.sandwichNorms;
  // transformers scales by √hidden_size in the weights' dtype; the compiled
  // model computes in f32.
  if (decoder.scaledEmbedding)
    spec.embeddingScale =
        static_cast<float>(std::sqrt(static_cast<double>(spec.hiddenSize)));
  spec.activation = decoder.defaultActivation;
  read(config, decoder.activationField, spec.activation);
  if (decoder.queryPreAttnScalar) {
    double scalar = 256.0;
    read(config, "query_pre_attn_scalar", scalar);
    spec.attentionScale = 1.0 / std::sqrt(scalar);
  }
  if (decoder.softCapping)
    read(config, "final_logit_softcapping", spec.finalLogitSoftcapping);
  // transformers 5 writes `dtype`, 4 `torch_dtype`.
  read(config, "torch_dtype", spec.torchDtype);
  if (const json *dtype = field(config, "dtype")) {
    if (field(config, "torch_dtype") && *dtype != config["torch_dtype"])
      return fail("field 'dtype': " + dtype->get<std::string>() +
                  " disagrees with torch_dtype " +
                  config["torch_dtype"].get<std::string>());
    spec.torchDtype = dtype->get<std::string>();
  }
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
    // A module the backbone does not have would train nothing.
    for (const std::string &module : l.targetModules) {
      bool fused = module == "qkv_proj" || module == "gate_up_proj";
      bool split = module == "q_proj" || module == "k_proj" ||
                   module == "v_proj" || module == "gate_proj" ||
                   module == "up_proj";
      if ((spec.fusedProjections && split) || (!spec.fusedProjections && fused))
        return fail("field 'tptt.lora_config.target_modules': " +
                    spec.architecture + " has no module '" + module + "' (" +
                    (spec.fusedProjections
                         ? "its projections are qkv_proj, o_proj, "
                           "gate_up_proj and down_proj"
                         : "qkv_proj and gate_up_proj are Phi-3's fused "
                           "projections") +
                    ")");
    }
    spec.lora = l;
  }
  return spec;
}

std::optional<std::string>
tptt::model::referenceCheckpointBase(std::string_view text) {
  std::string error;
  std::optional<json> config = runtime::parseJson(text, error);
  if (!config || !config->is_object())
    return std::nullopt;
  const json *architectures = field(*config, "architectures");
  if (!architectures || *architectures != json::array({"TpttModel"}))
    return std::nullopt;
  const json *name = field(*config, "base_model_name");
  return name && name->is_string() ? name->get<std::string>() : "";
}

namespace {

/// Whether the array `list` holds the string `key`.
bool listed(const json &list, const std::string &key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

} // namespace

std::optional<ReferenceCheckpoint> tptt::model::readReferenceCheckpoint(
    std::string_view checkpoint, const std::string &path, std::string_view base,
    const std::string &basePath, std::string &error) {
  std::optional<json> tpttConfig = runtime::parseJson(checkpoint, error);
  if (!tpttConfig) {
    error = path + ": " + error;
    return std::nullopt;
  }
  std::optional<json> baseConfig = runtime::parseJson(base, error);
  if (!baseConfig || !baseConfig->is_object()) {
    error = basePath + ": " + (baseConfig ? "not a JSON object" : error);
    return std::nullopt;
  }
  auto fail = [&](const std::string &message) {
    error = path + ": " + message;
    return std::nullopt;
  };
  // The schema's table of TpttConfig keys: mapped, ignored (with why) and
  // reset to PretrainedConfig's defaults.
  const json keys =
      json::parse(kModelSchema, nullptr, false)["tptt_reference_checkpoint"];
  const json &mapped = keys["mapped"], &ignored = keys["ignored"],
             &reset = keys["reset"];
  ReferenceCheckpoint result;
  result.baseModelName = referenceCheckpointBase(checkpoint).value_or("");
  json section = json::object();
  const json *mode = field(*tpttConfig, "operator_mode");
  const json *recurrent = field(*tpttConfig, "recurrent_config");
  if (mode) {
    section["operator_mode"] = *mode;
  } else if (recurrent && recurrent->is_object()) {
    // The explicit form (operator_mode null): order, gates, linear, trick.
    for (const auto &[key, value] : recurrent->items())
      section[key] = value;
  } else {
    return fail("field 'operator_mode': null, and no recurrent_config gives "
                "the operator");
  }
  for (const auto &[key, value] : tpttConfig->items()) {
    if (listed(mapped, key)) {
      if (!value.is_null())
        section[key] = value;
    } else if (key == "lora_config") {
      if (!value.is_null()) {
        result.loraConfig = value.dump();
        json lora = json::object();
        for (const char *name :
             {"r", "lora_alpha", "lora_dropout", "target_modules"})
          if (value.is_object() && value.contains(name))
            lora[name] = value[name];
        section[key] = lora;
      }
    } else if (key == "model_task") {
      if (value != "causal_lm")
        return fail("field 'model_task': " + value.dump() +
                    " (only causal_lm models compile)");
    } else if (key == "operator_mode" || key == "recurrent_config" ||
               listed(reset, key)) {
      continue;
    } else if (!ignored.contains(key)) {
      // A backbone field: the base model's must be the same.
      if (baseConfig->contains(key) && (*baseConfig)[key] != value)
        return fail("field '" + key + "': " + value.dump() + ", but " +
                    basePath + " has " + (*baseConfig)[key].dump() +
                    (result.baseModelName.empty()
                         ? std::string()
                         : " (is it " + result.baseModelName + "?)"));
    }
  }
  for (const auto &[key, why] : ignored.items())
    if (tpttConfig->contains(key))
      result.ignored.emplace_back(key, why.get<std::string>());
  // The reference library's own numerics, which the checkpoint was trained
  // with (tptt-compile --semantics overrides them).
  section["semantics"] = "tptt-0.12";
  json config = *baseConfig;
  if (config.contains("tptt"))
    return fail(basePath + " already has a tptt object: --base takes the "
                           "base model, not a TPTT model");
  config["tptt"] = section;
  result.config = config.dump();
  return result;
}

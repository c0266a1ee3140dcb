//===- ModelSpec.h - A validated TPTT model description ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The model contract (docs/user-guide.md, "tptt-compile", Input): a Hugging
// Face config.json with a `tptt` object, validated against
// tptt-model.schema.json and then for consistency (head sizes, layer
// indices). Plain C++, no MLIR, so the runtime and the fuzzers can use it.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_MODEL_MODELSPEC_H
#define TPTT_MODEL_MODELSPEC_H

#include "tptt/Interface/ModelInterface.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace model {

/// The rotary embedding: Hugging Face's `rope_parameters` (transformers 5)
/// or `rope_scaling` with `rope_theta` (transformers 4), standardized as
/// transformers does: `default`, `linear`, `dynamic` (which changes only
/// beyond max_position_embeddings, where no compiled model goes), `yarn`,
/// `llama3` and `longrope` (whose frequencies switch from short_factor to
/// long_factor in a forward whose largest position + 1 exceeds
/// original_max_position_embeddings, as transformers' dynamic update does).
struct RopeSpec {
  std::string type = "default";
  double theta = 10000.0;
  /// linear, dynamic, yarn, llama3, longrope: the context extension factor.
  double factor = 1.0;
  /// llama3.
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  /// llama3, yarn, longrope: the pretraining context
  /// (max_position_embeddings unless given).
  int64_t originalMaxPositions = 0;
  /// yarn, longrope: the cos/sin scale (yarn: from factor, mscale and
  /// mscale_all_dim; longrope: from factor and the pretraining context;
  /// unless given); yarn: the ramp's rotation bounds and whether they are
  /// rounded.
  std::optional<double> attentionFactor;
  double betaFast = 32.0;
  double betaSlow = 1.0;
  std::optional<double> mscale;
  std::optional<double> mscaleAllDim;
  bool truncate = true;
  /// longrope: each frequency's divisor (headDim / 2 of them) within the
  /// pretraining context and beyond it.
  std::vector<double> shortFactor;
  std::vector<double> longFactor;

  /// The inverse frequencies (headDim / 2 of them), scaled (longrope: by
  /// short_factor).
  std::vector<double> inverseFrequencies(int64_t headDim) const;
  /// longrope: the inverse frequencies beyond originalMaxPositions (scaled
  /// by long_factor); empty for the other types.
  std::vector<double> longInverseFrequencies(int64_t headDim) const;
  /// The factor Hugging Face multiplies cos and sin by (yarn's attention
  /// factor; 1 for the other types).
  double attentionScaling() const;
};

/// The LoRA configuration of the seeds (PEFT field names).
using LoraSpec = ::tptt::interface::LoraTraining;

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
  RopeSpec rope;
  /// The RoPE of the sliding-window layers when the backbone gives them one
  /// of their own (Gemma 3: rope_local_base_freq, or rope_parameters'
  /// sliding_attention); `rope` is then that of the full-attention layers.
  std::optional<RopeSpec> slidingRope;
  int64_t maxPositions = 2048;
  bool tieWordEmbeddings = false;
  /// Biases on the q/k/v projections, and on o_proj.
  bool qkvBias = false;
  bool oBias = false;
  /// An RMSNorm (q_norm, k_norm: weights [head_dim], rms_norm_eps) of each
  /// head of q and k before RoPE, in the softmax attention only (Qwen3);
  /// LiZA's linear branch reads the raw projections, as the reference
  /// library does.
  bool qkNorm = false;
  /// Phi-3's fused projections: qkv_proj [q; k; v] (rows heads·d, then
  /// kv_heads·d twice) and gate_up_proj [gate; up], whose outputs are split
  /// as transformers splits them.
  bool fusedProjections = false;
  /// Gemma's decoder: the stored RMSNorm weights are w − 1 (every norm
  /// computes with weight_offset + w); norms after the attention
  /// (post_attention_layernorm) and around the MLP (pre_ and
  /// post_feedforward_layernorm); the embedding rows scaled by
  /// embeddingScale (√hidden_size in f32).
  double normWeightOffset = 0.0;
  bool sandwichNorms = false;
  double embeddingScale = 1.0;
  /// The MLP's gate activation: "silu" (SwiGLU) or "gelu_pytorch_tanh"
  /// (GeGLU).
  std::string activation = "silu";
  /// The softmax attention's scale when it is not 1/√head_dim (Gemma:
  /// query_pre_attn_scalar^−½).
  std::optional<double> attentionScale;
  /// The logits' soft-capping c · tanh(x / c) (Gemma's
  /// final_logit_softcapping); none when null.
  std::optional<double> finalLogitSoftcapping;
  /// The backbone's own softmax window (Mistral, Qwen2 with
  /// use_sliding_window, Gemma 3's sliding layers).
  std::optional<int64_t> slidingWindow;
  /// Whether the backbone's window applies to layer i (Qwen2's layer_types
  /// or max_window_layers).
  std::vector<bool> windowLayers;
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
  /// The RoPE of layer `layer` (slidingRope on the window layers when the
  /// backbone has one, else rope).
  const RopeSpec &ropeOf(int64_t layer) const;
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

/// A model directory saved by the reference library
/// (TpttModel.save_pretrained): a flat TpttConfig config.json, with
/// `architectures` ["TpttModel"], the backbone's fields merged in and
/// `base_model_name` naming the base model, whose weights it does not hold.
struct ReferenceCheckpoint {
  /// The model description tptt-compile reads: the base model's
  /// config.json with a `tptt` object made of the TpttConfig's fields and
  /// the reference library's numerics (`semantics` tptt-0.12).
  std::string config;
  std::string baseModelName;
  /// The TpttConfig's lora_config (JSON), which stands for the
  /// adapter_config.json the reference library does not write; empty
  /// without LoRA.
  std::string loraConfig;
  /// The TpttConfig keys that change nothing the compiled model computes,
  /// each with why.
  std::vector<std::pair<std::string, std::string>> ignored;
};

/// When the config.json text `text` is a reference checkpoint's
/// (`architectures` ["TpttModel"]): its base_model_name ("" when it has
/// none); otherwise nothing.
std::optional<std::string> referenceCheckpointBase(std::string_view text);

/// The model description of a reference checkpoint whose config.json is
/// `checkpoint` (at `path`) over the base model whose config.json is `base`
/// (at `basePath`). Every TpttConfig key is mapped or ignored (with why);
/// a backbone field that both files give and that differs means the base
/// is not the checkpoint's, and is an error naming it.
std::optional<ReferenceCheckpoint>
readReferenceCheckpoint(std::string_view checkpoint, const std::string &path,
                        std::string_view base, const std::string &basePath,
                        std::string &error);

} // namespace model
} // namespace tptt

#endif // TPTT_MODEL_MODELSPEC_H

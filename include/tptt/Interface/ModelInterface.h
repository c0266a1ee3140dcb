//===- ModelInterface.h - What a compiled model offers its callers -*- C++
//-*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The one definition of a compiled model's interface, shared by the
// compiler (which derives it from the imported IR and the model's config)
// and by everything that calls a compiled model (the runtime, the C API,
// the executables' commands, the trainer): its entry points, the names of
// the values they take and return, and the model's metadata (the
// manifest). Plain C++17 and nlohmann::json: no MLIR. Only this library
// spells an entry-point name, a value name the runtime binds, or a
// manifest key; everyone else uses the typed fields below.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_INTERFACE_MODELINTERFACE_H
#define TPTT_INTERFACE_MODELINTERFACE_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tptt {
namespace interface {

/// The entry points a compiled model can have.
enum class Entry {
  /// The full-sequence forward: logits [B, S, V].
  Logits,
  /// The full-sequence forward that also returns the decode caches
  /// (`recurrent` semantics only).
  Prefill,
  /// One token per sequence on top of the caches (`recurrent` only).
  DecodeStep,
  /// The mean next-token cross-entropy (models compiled for training).
  Loss,
  /// The loss, its gradient, global-norm clipping and AdamW.
  TrainStep,
};

/// Every entry point, in the order a model declares them.
constexpr Entry kEntries[] = {Entry::Logits, Entry::Prefill, Entry::DecodeStep,
                              Entry::Loss, Entry::TrainStep};

/// The symbol of the entry point (tptt_logits, tptt_prefill, …).
const char *entryName(Entry entry);
/// The entry point called `name`, if one is.
std::optional<Entry> entryNamed(std::string_view name);

/// The values the callers bind by name (inputs) or read by name (results).
namespace value {
// Inputs of the full-sequence entry points and the loss: [B, S].
constexpr const char kTokens[] = "tokens";
constexpr const char kPositions[] = "positions";
constexpr const char kMask[] = "mask";
constexpr const char kLabels[] = "labels";
/// μ, a scalar f32.
constexpr const char kMagWeight[] = "mag_weight";
// The LoRA dropout of the loss (only when it has dropout).
constexpr const char kDropoutSeed[] = "dropout_seed";
constexpr const char kDropoutRate[] = "dropout_rate";
// The decode step's masks: keys [B, T + 1], linear window [B, W].
constexpr const char kKeyMask[] = "key_mask";
constexpr const char kWindowMask[] = "window_mask";
// The training step: [lr, β1, β2, ε, weight_decay, 1 − β1ᵗ, 1 − β2ᵗ] and
// the clipping norm.
constexpr const char kOptimizerHyper[] = "optimizer.hyper";
constexpr const char kMaxGradNorm[] = "max_grad_norm";
// Results.
constexpr const char kLogits[] = "logits";
constexpr const char kLoss[] = "loss";
constexpr const char kGradNorm[] = "grad_norm";
} // namespace value

/// The AdamW moments of the trainable tensor `name`.
std::string firstMomentName(std::string_view name);
std::string secondMomentName(std::string_view name);

/// The decode caches of one layer.
enum class CacheKind {
  /// Softmax keys (after RoPE) and values [B, Hkv, T, d]: one row per token.
  Keys,
  Values,
  /// The linear memory [B, H, d, d].
  State,
  /// The raw k/v rows of the last W − 1 tokens [B, W − 1, Hkv·d].
  KeyWindow,
  ValueWindow,
};
/// The name of the cache of layer `layer` (layers.3.k, …).
std::string cacheName(int64_t layer, CacheKind kind);
/// The kind of the cache called `name`, if it names one.
std::optional<CacheKind> cacheKindOf(std::string_view name);

/// What an argument of an entry point is.
enum class Role {
  /// Given per call.
  Input,
  /// Decode state, carried from one call to the next.
  Cache,
  /// A model tensor, loaded with the weights.
  Weight,
  /// A LoRA matrix (PEFT name) that the trainer creates.
  Adapter,
  /// An AdamW moment of the trainable tensor `source`.
  Optimizer,
  /// A result.
  Result,
};
const char *roleName(Role role);
std::optional<Role> roleNamed(std::string_view name);

/// What the training step updates.
enum class Trainable {
  /// LoRA adapters on the configured target projections (the seeds' setup).
  Lora,
  /// The attention projections (q, k, v, o) of the LiZA layers themselves.
  LoraMinus,
  /// Every parameter (pre-training a small base model).
  Full,
};
/// lora, lora-minus, full (tptt-compile --train).
const char *trainableName(Trainable trainable);
std::optional<Trainable> trainableNamed(std::string_view name);

/// The element type of the model's weights in the entry points. Trained
/// weights (and the LoRA adapters) are f32 whatever it says: the optimizer
/// updates them in f32.
enum class WeightType { F32, BF16 };
/// f32, bf16 (tptt-compile --weight-type).
const char *weightTypeName(WeightType type);
std::optional<WeightType> weightTypeNamed(std::string_view name);

/// One argument or result of an entry point, as the runtime binds it.
struct EntryValue {
  std::string name;
  Role role = Role::Input;
  /// -1 for a symbolic size (batch, sequence, cache length).
  std::vector<int64_t> shape;
  /// "f32", "bf16", "f64", "i64" or "i1".
  std::string dtype;
  /// Weights and adapters: the model tensor it holds (its Hugging Face or
  /// PEFT name) and whether it is stored transposed ([in, out] for an
  /// [out, in] projection). Optimizer moments: the tensor they belong to.
  std::string source;
  bool transposed = false;
  /// Whether the training step updates it (and returns its new value).
  bool trainable = false;

  bool operator==(const EntryValue &other) const;
};

/// The signature of one entry point.
struct EntryPoint {
  Entry entry = Entry::Logits;
  std::vector<EntryValue> arguments;
  std::vector<EntryValue> results;

  /// The argument called `name`, if there is one.
  const EntryValue *argument(std::string_view name) const;
};

/// The LoRA adapters of a model (its config's `tptt.lora`), which a model
/// compiled with --train lora trains.
struct LoraTraining {
  int64_t rank = 8;
  double alpha = 16.0;
  double dropout = 0.0;
  std::vector<std::string> targetModules = {"q_proj", "k_proj", "v_proj",
                                            "o_proj"};
};

/// How a model compiled for training trains.
struct Training {
  Trainable trainable = Trainable::Lora;
  /// With Trainable::Lora.
  std::optional<LoraTraining> lora;
};

/// Where the GPU code of a model compiled with --target cuda runs.
struct CudaCode {
  std::string chip;
  std::string ptxFeatures;
  /// fatbin or isa.
  std::string gpuFormat;
};

/// Everything a compiled model says about itself: the manifest it carries
/// (Runtime/Executable.h) and prints with `info --json`.
struct ModelInterface {
  // The model (its config.json and tptt section).
  std::string architecture;
  int64_t numLayers = 0;
  int64_t hiddenSize = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t vocabSize = 0;
  int64_t maxPositions = 0;
  std::vector<int64_t> lizaLayers;
  std::string operatorMode;
  int64_t order = 1;
  std::string alphaGate;
  std::string betaGate;
  bool linear = true;
  std::string trick;
  std::string semantics;
  double magWeight = 0.5;
  bool crossGate = false;
  bool baseScaleAttn = false;
  int64_t maxChunkSize = 64;
  std::optional<int64_t> maxSelfAttnLength;
  /// float32, float64 or bfloat16 (SEMANTICS.md, Precision).
  std::string linearPrecision;
  std::optional<int64_t> bosTokenId;
  std::vector<int64_t> eosTokenIds;
  /// The config.json as the model directory had it (written back by
  /// checkpoints of full training).
  nlohmann::json config;

  // The compilation.
  /// cpu or cuda.
  std::string target;
  std::optional<CudaCode> cuda;
  /// "embedded", or the file beside the binary that holds the weights.
  std::string weightsLocation;
  WeightType weightType = WeightType::F32;
  /// The adapter merged into the weights, described; none when none was.
  std::optional<std::string> adapter;
  /// The keys of a reference checkpoint's TpttConfig that change nothing
  /// the model computes, each with why.
  std::map<std::string, std::string> ignoredConfigKeys;
  /// Whether a tokenizer.json is compiled in.
  bool tokenizer = false;
  /// Parameters of the model (a tied head counted once).
  int64_t parameters = 0;
  /// The weight arguments of the entry points, each once, in first-use
  /// order.
  std::vector<EntryValue> weights;
  std::optional<Training> training;
  std::vector<EntryPoint> entries;
  /// Rows of the decode step's linear window (W).
  int64_t windowRows = 0;
  /// With every layer windowed, the key rows decode keeps; −1: all.
  int64_t cacheRows = -1;

  /// The entry point `entry`, if the model has it.
  const EntryPoint *entryPoint(Entry entry) const;
  /// The weight argument called `name`, if there is one.
  const EntryValue *weight(std::string_view name) const;

  /// The manifest: a JSON object with snake_case keys.
  nlohmann::json toJson() const;
  /// The interface a manifest describes; nothing (and `error` naming the
  /// key) when a key is missing or of the wrong type.
  static std::optional<ModelInterface> fromJson(const nlohmann::json &manifest,
                                                std::string &error);
};

} // namespace interface
} // namespace tptt

#endif // TPTT_INTERFACE_MODELINTERFACE_H

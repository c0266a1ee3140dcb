//===- ModelInterface.cpp - What a compiled model offers its callers ------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Interface/ModelInterface.h"

#include <algorithm>
#include <utility>

using json = nlohmann::json;

namespace tptt {
namespace interface {

namespace {

/// An enum's names, in the order of its values.
template <typename Enum, size_t N>
std::optional<Enum> lookupName(const char *const (&names)[N],
                               std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (name == names[i])
      return static_cast<Enum>(i);
  return std::nullopt;
}

const char *const kEntryNames[] = {"tptt_logits", "tptt_prefill",
                                   "tptt_decode_step", "tptt_loss",
                                   "tptt_train_step"};
const char *const kRoleNames[] = {"input",   "cache",     "weight",
                                  "adapter", "optimizer", "result"};
const char *const kTrainableNames[] = {"lora", "lora-minus", "full"};
const char *const kWeightTypeNames[] = {"f32", "bf16"};
/// The suffixes of the caches of a layer, in CacheKind order.
const char *const kCacheSuffixes[] = {"k", "v", "state", "k_window",
                                      "v_window"};
constexpr std::string_view kLayerPrefix = "layers.";

/// Reads the manifest's fields into typed values; the first missing or
/// mistyped one is reported (by its key path) and the rest are skipped.
class Reader {
public:
  explicit Reader(std::string &error) : error(error) {}

  bool ok() const { return failed.empty(); }

  /// `object[key]`, or null after reporting it (as `path.key`) missing.
  const json *field(const json &object, const std::string &path,
                    const char *key) {
    if (!ok())
      return nullptr;
    if (!object.is_object() || !object.contains(key)) {
      fail(join(path, key), "is missing");
      return nullptr;
    }
    return &object[key];
  }

  template <typename T>
  void read(const json &object, const std::string &path, const char *key,
            T &into) {
    if (const json *value = field(object, path, key))
      convert(*value, join(path, key), into);
  }

  /// A key that may be absent or null.
  template <typename T>
  void readOptional(const json &object, const std::string &path,
                    const char *key, std::optional<T> &into) {
    if (!ok() || !object.is_object() || !object.contains(key) ||
        object[key].is_null())
      return;
    convert(object[key], join(path, key), into.emplace());
  }

  void convert(const json &value, const std::string &path, std::string &into) {
    if (!value.is_string())
      return fail(path, "is not a string");
    into = value.get<std::string>();
  }
  void convert(const json &value, const std::string &path, int64_t &into) {
    if (!value.is_number_integer())
      return fail(path, "is not an integer");
    into = value.get<int64_t>();
  }
  void convert(const json &value, const std::string &path, double &into) {
    if (!value.is_number())
      return fail(path, "is not a number");
    into = value.get<double>();
  }
  void convert(const json &value, const std::string &path, bool &into) {
    if (!value.is_boolean())
      return fail(path, "is not a boolean");
    into = value.get<bool>();
  }
  template <typename T>
  void convert(const json &value, const std::string &path,
               std::vector<T> &into) {
    if (!value.is_array())
      return fail(path, "is not an array");
    into.clear();
    for (size_t i = 0; i < value.size() && ok(); ++i)
      convert(value[i], path + "[" + std::to_string(i) + "]",
              into.emplace_back());
  }
  void convert(const json &value, const std::string &path,
               std::map<std::string, std::string> &into) {
    if (!value.is_object())
      return fail(path, "is not an object");
    into.clear();
    for (auto it = value.begin(); it != value.end() && ok(); ++it)
      convert(it.value(), path + "." + it.key(), into[it.key()]);
  }
  /// An enum from its name.
  template <typename Enum>
  void convertName(const json &value, const std::string &path,
                   std::optional<Enum> (*named)(std::string_view), Enum &into) {
    std::string name;
    convert(value, path, name);
    if (!ok())
      return;
    std::optional<Enum> parsed = named(name);
    if (!parsed)
      return fail(path, "has the unknown value '" + name + "'");
    into = *parsed;
  }

  void fail(const std::string &path, const std::string &what) {
    if (ok())
      failed = "the manifest's '" + path + "' " + what;
    error = failed;
  }

  static std::string join(const std::string &path, const char *key) {
    return path.empty() ? key : path + "." + key;
  }

private:
  std::string &error;
  std::string failed;
};

json valueToJson(const EntryValue &value) {
  json item = {{"name", value.name},
               {"kind", roleName(value.role)},
               {"shape", value.shape},
               {"dtype", value.dtype}};
  if (value.role == Role::Adapter || value.role == Role::Optimizer)
    item["source"] = value.source;
  if (value.role == Role::Adapter)
    item["transposed"] = value.transposed;
  if (value.trainable)
    item["trainable"] = true;
  return item;
}

json weightToJson(const EntryValue &weight) {
  return {{"name", weight.name},
          {"shape", weight.shape},
          {"dtype", weight.dtype},
          {"source", weight.source},
          {"transposed", weight.transposed}};
}

void readValue(Reader &reader, const json &item, const std::string &path,
               EntryValue &value) {
  reader.read(item, path, "name", value.name);
  if (const json *role = reader.field(item, path, "kind"))
    reader.convertName(*role, Reader::join(path, "kind"), roleNamed,
                       value.role);
  reader.read(item, path, "shape", value.shape);
  reader.read(item, path, "dtype", value.dtype);
  if (value.role == Role::Adapter || value.role == Role::Optimizer)
    reader.read(item, path, "source", value.source);
  if (value.role == Role::Adapter)
    reader.read(item, path, "transposed", value.transposed);
  if (item.is_object() && item.contains("trainable"))
    reader.read(item, path, "trainable", value.trainable);
}

void readWeight(Reader &reader, const json &item, const std::string &path,
                EntryValue &weight) {
  weight.role = Role::Weight;
  reader.read(item, path, "name", weight.name);
  reader.read(item, path, "shape", weight.shape);
  reader.read(item, path, "dtype", weight.dtype);
  reader.read(item, path, "source", weight.source);
  reader.read(item, path, "transposed", weight.transposed);
}

void readValues(Reader &reader, const json &object, const std::string &path,
                const char *key, std::vector<EntryValue> &into) {
  const json *list = reader.field(object, path, key);
  if (!list)
    return;
  std::string listPath = Reader::join(path, key);
  if (!list->is_array())
    return reader.fail(listPath, "is not an array");
  for (size_t i = 0; i < list->size() && reader.ok(); ++i)
    readValue(reader, (*list)[i], listPath + "[" + std::to_string(i) + "]",
              into.emplace_back());
}

} // namespace

const char *entryName(Entry entry) {
  return kEntryNames[static_cast<size_t>(entry)];
}

std::optional<Entry> entryNamed(std::string_view name) {
  return lookupName<Entry>(kEntryNames, name);
}

std::string firstMomentName(std::string_view name) {
  return "adam.m." + std::string(name);
}

std::string secondMomentName(std::string_view name) {
  return "adam.v." + std::string(name);
}

std::string cacheName(int64_t layer, CacheKind kind) {
  return std::string(kLayerPrefix) + std::to_string(layer) + "." +
         kCacheSuffixes[static_cast<size_t>(kind)];
}

std::optional<CacheKind> cacheKindOf(std::string_view name) {
  if (name.substr(0, kLayerPrefix.size()) != kLayerPrefix)
    return std::nullopt;
  std::string_view rest = name.substr(kLayerPrefix.size());
  size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos ||
      !std::all_of(rest.begin(), rest.begin() + dot,
                   [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  return lookupName<CacheKind>(kCacheSuffixes, rest.substr(dot + 1));
}

const char *roleName(Role role) {
  return kRoleNames[static_cast<size_t>(role)];
}

std::optional<Role> roleNamed(std::string_view name) {
  return lookupName<Role>(kRoleNames, name);
}

const char *trainableName(Trainable trainable) {
  return kTrainableNames[static_cast<size_t>(trainable)];
}

std::optional<Trainable> trainableNamed(std::string_view name) {
  return lookupName<Trainable>(kTrainableNames, name);
}

const char *weightTypeName(WeightType type) {
  return kWeightTypeNames[static_cast<size_t>(type)];
}

std::optional<WeightType> weightTypeNamed(std::string_view name) {
  return lookupName<WeightType>(kWeightTypeNames, name);
}

bool EntryValue::operator==(const EntryValue &other) const {
  return name == other.name && role == other.role && shape == other.shape &&
         dtype == other.dtype && source == other.source &&
         transposed == other.transposed && trainable == other.trainable;
}

const EntryValue *EntryPoint::argument(std::string_view name) const {
  for (const EntryValue &value : arguments)
    if (value.name == name)
      return &value;
  return nullptr;
}

const EntryPoint *ModelInterface::entryPoint(Entry entry) const {
  for (const EntryPoint &point : entries)
    if (point.entry == entry)
      return &point;
  return nullptr;
}

const EntryValue *ModelInterface::weight(std::string_view name) const {
  for (const EntryValue &value : weights)
    if (value.name == name)
      return &value;
  return nullptr;
}

json ModelInterface::toJson() const {
  json m;
  m["architecture"] = architecture;
  m["num_layers"] = numLayers;
  m["hidden_size"] = hiddenSize;
  m["num_heads"] = numHeads;
  m["num_kv_heads"] = numKvHeads;
  m["head_dim"] = headDim;
  m["vocab_size"] = vocabSize;
  m["max_position_embeddings"] = maxPositions;
  m["liza_layers"] = lizaLayers;
  m["operator_mode"] = operatorMode;
  m["order"] = order;
  m["alpha_gate"] = alphaGate;
  m["beta_gate"] = betaGate;
  m["linear"] = linear;
  m["trick"] = trick;
  m["semantics"] = semantics;
  m["mag_weight"] = magWeight;
  m["cross_gate"] = crossGate;
  m["base_scale_attn"] = baseScaleAttn;
  m["max_chunk_size"] = maxChunkSize;
  m["max_self_attn_length"] =
      maxSelfAttnLength ? json(*maxSelfAttnLength) : json(nullptr);
  m["linear_precision"] = linearPrecision;
  m["bos_token_id"] = bosTokenId ? json(*bosTokenId) : json(nullptr);
  m["eos_token_ids"] = eosTokenIds;
  m["config"] = config;
  m["target"] = target;
  if (cuda)
    m["cuda"] = {{"chip", cuda->chip},
                 {"ptx_features", cuda->ptxFeatures},
                 {"gpu_format", cuda->gpuFormat}};
  m["weights_location"] = weightsLocation;
  m["weight_type"] = weightTypeName(weightType);
  m["adapter"] = adapter ? json(*adapter) : json(nullptr);
  m["ignored_config_keys"] = ignoredConfigKeys;
  m["tokenizer"] = tokenizer;
  m["parameters"] = parameters;
  json list = json::array();
  for (const EntryValue &weight : weights)
    list.push_back(weightToJson(weight));
  m["weights"] = list;
  if (training) {
    json t = {{"trainable", trainableName(training->trainable)}};
    if (training->lora)
      t["lora"] = {{"r", training->lora->rank},
                   {"lora_alpha", training->lora->alpha},
                   {"lora_dropout", training->lora->dropout},
                   {"target_modules", training->lora->targetModules}};
    m["training"] = t;
  }
  json entryList = json::object();
  for (const EntryPoint &point : entries) {
    json arguments = json::array(), results = json::array();
    for (const EntryValue &value : point.arguments)
      arguments.push_back(valueToJson(value));
    for (const EntryValue &value : point.results)
      results.push_back(valueToJson(value));
    entryList[entryName(point.entry)] = {{"arguments", arguments},
                                         {"results", results}};
  }
  m["entries"] = entryList;
  m["window_rows"] = windowRows;
  m["cache_rows"] = cacheRows;
  return m;
}

std::optional<ModelInterface> ModelInterface::fromJson(const json &m,
                                                       std::string &error) {
  Reader reader(error);
  if (!m.is_object()) {
    error = "the manifest is not a JSON object";
    return std::nullopt;
  }
  ModelInterface model;
  reader.read(m, "", "architecture", model.architecture);
  reader.read(m, "", "num_layers", model.numLayers);
  reader.read(m, "", "hidden_size", model.hiddenSize);
  reader.read(m, "", "num_heads", model.numHeads);
  reader.read(m, "", "num_kv_heads", model.numKvHeads);
  reader.read(m, "", "head_dim", model.headDim);
  reader.read(m, "", "vocab_size", model.vocabSize);
  reader.read(m, "", "max_position_embeddings", model.maxPositions);
  reader.read(m, "", "liza_layers", model.lizaLayers);
  reader.read(m, "", "operator_mode", model.operatorMode);
  reader.read(m, "", "order", model.order);
  reader.read(m, "", "alpha_gate", model.alphaGate);
  reader.read(m, "", "beta_gate", model.betaGate);
  reader.read(m, "", "linear", model.linear);
  reader.read(m, "", "trick", model.trick);
  reader.read(m, "", "semantics", model.semantics);
  reader.read(m, "", "mag_weight", model.magWeight);
  reader.read(m, "", "cross_gate", model.crossGate);
  reader.read(m, "", "base_scale_attn", model.baseScaleAttn);
  reader.read(m, "", "max_chunk_size", model.maxChunkSize);
  reader.readOptional(m, "", "max_self_attn_length", model.maxSelfAttnLength);
  reader.read(m, "", "linear_precision", model.linearPrecision);
  reader.readOptional(m, "", "bos_token_id", model.bosTokenId);
  reader.read(m, "", "eos_token_ids", model.eosTokenIds);
  if (const json *config = reader.field(m, "", "config"))
    model.config = *config;
  reader.read(m, "", "target", model.target);
  if (reader.ok() && m.contains("cuda")) {
    CudaCode &cuda = model.cuda.emplace();
    reader.read(m["cuda"], "cuda", "chip", cuda.chip);
    reader.read(m["cuda"], "cuda", "ptx_features", cuda.ptxFeatures);
    reader.read(m["cuda"], "cuda", "gpu_format", cuda.gpuFormat);
  }
  reader.read(m, "", "weights_location", model.weightsLocation);
  if (const json *type = reader.field(m, "", "weight_type"))
    reader.convertName(*type, "weight_type", weightTypeNamed, model.weightType);
  reader.readOptional(m, "", "adapter", model.adapter);
  reader.read(m, "", "ignored_config_keys", model.ignoredConfigKeys);
  reader.read(m, "", "tokenizer", model.tokenizer);
  reader.read(m, "", "parameters", model.parameters);
  if (const json *weights = reader.field(m, "", "weights")) {
    if (!weights->is_array())
      reader.fail("weights", "is not an array");
    for (size_t i = 0; reader.ok() && i < weights->size(); ++i)
      readWeight(reader, (*weights)[i], "weights[" + std::to_string(i) + "]",
                 model.weights.emplace_back());
  }
  if (reader.ok() && m.contains("training")) {
    const json &t = m["training"];
    Training &training = model.training.emplace();
    if (const json *trainable = reader.field(t, "training", "trainable"))
      reader.convertName(*trainable, "training.trainable", trainableNamed,
                         training.trainable);
    if (reader.ok() && t.contains("lora")) {
      LoraTraining &lora = training.lora.emplace();
      reader.read(t["lora"], "training.lora", "r", lora.rank);
      reader.read(t["lora"], "training.lora", "lora_alpha", lora.alpha);
      reader.read(t["lora"], "training.lora", "lora_dropout", lora.dropout);
      reader.read(t["lora"], "training.lora", "target_modules",
                  lora.targetModules);
    }
  }
  if (const json *entries = reader.field(m, "", "entries")) {
    if (!entries->is_object())
      reader.fail("entries", "is not an object");
    for (auto it = entries->begin(); reader.ok() && it != entries->end();
         ++it) {
      std::string path = "entries." + it.key();
      std::optional<Entry> entry = entryNamed(it.key());
      if (!entry) {
        reader.fail(path, "is not an entry point");
        break;
      }
      EntryPoint &point = model.entries.emplace_back();
      point.entry = *entry;
      readValues(reader, it.value(), path, "arguments", point.arguments);
      readValues(reader, it.value(), path, "results", point.results);
    }
    // In declaration order, whatever order the JSON object keeps.
    std::sort(model.entries.begin(), model.entries.end(),
              [](const EntryPoint &a, const EntryPoint &b) {
                return a.entry < b.entry;
              });
    // The entries list a weight argument by name; `weights` says what it
    // holds.
    for (EntryPoint &point : model.entries)
      for (EntryValue &argument : point.arguments)
        if (argument.role == Role::Weight && reader.ok()) {
          const EntryValue *weight = model.weight(argument.name);
          if (!weight) {
            reader.fail("entries." + std::string(entryName(point.entry)),
                        "takes the weight '" + argument.name +
                            "', which 'weights' does not list");
            break;
          }
          argument.source = weight->source;
          argument.transposed = weight->transposed;
        }
  }
  reader.read(m, "", "window_rows", model.windowRows);
  reader.read(m, "", "cache_rows", model.cacheRows);
  if (!reader.ok())
    return std::nullopt;
  return model;
}

} // namespace interface
} // namespace tptt

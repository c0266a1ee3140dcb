//===- ModelCompiler.cpp - A model directory becomes an executable --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Reads config.json (validated against tptt-model.schema.json) and the
// safetensors weights, merges a LoRA adapter, imports the model as
// graph-level tptt IR, runs the session's pipeline and links the launcher
// (or the C API) with the manifest, the tokenizer and the weights (appended
// to the binary, or beside it).
//
//===----------------------------------------------------------------------===//

#include "tptt/Compiler/Compiler.h"
#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"
#include "tptt/Model/ModelImporter.h"
#include "tptt/Model/ModelSpec.h"
#include "tptt/Runtime/Checkpoint.h"
#include "tptt/Runtime/Executable.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Json.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Tokenizer.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

using json = nlohmann::json;
namespace st = ::tptt::safetensors;
namespace tmodel = ::tptt::model;
namespace iface = ::tptt::interface;
using namespace tptt::compiler;

namespace {

llvm::Error fail(const std::string &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The text of the JSON file at `path` (config.json, adapter_config.json);
/// a missing one is "PATH: cannot open", the most common mistake said
/// plainly.
llvm::Expected<std::string> readConfigFile(const std::string &path) {
  std::string error;
  std::optional<std::string> text = ::tptt::runtime::readRegularFile(
      path, ::tptt::runtime::kMaxConfigBytes, error);
  if (!text)
    return fail(error == path + ": " + std::strerror(ENOENT)
                    ? path + ": cannot open"
                    : error);
  return std::move(*text);
}

const char *targetName(mlir::tptt::TpttTarget target) {
  switch (target) {
  case mlir::tptt::TpttTarget::CPU:
    return "cpu";
  case mlir::tptt::TpttTarget::CUDA:
    return "cuda";
  case mlir::tptt::TpttTarget::CudaOnCpu:
    return "cuda-on-cpu";
  }
  return "cpu";
}

/// The model's weight files (one, or the shards of an index), mapped.
class WeightFiles {
public:
  llvm::Error open(const std::string &dir) {
    std::string single = dir + "/model.safetensors";
    std::string index = dir + "/model.safetensors.index.json";
    if (llvm::sys::fs::exists(single))
      return add(single);
    if (!llvm::sys::fs::exists(index))
      return fail(dir +
                  ": no model.safetensors or model.safetensors.index.json");
    std::string error;
    std::optional<std::string> text = ::tptt::runtime::readRegularFile(
        index, ::tptt::runtime::kMaxConfigBytes, error);
    if (!text)
      return fail(error);
    std::optional<json> document = ::tptt::runtime::parseJson(*text, error);
    if (!document)
      return fail(index + ": " + error);
    json &parsed = *document;
    if (!parsed.is_object() || !parsed.contains("weight_map") ||
        !parsed["weight_map"].is_object())
      return fail(index +
                  ": not a safetensors index (needs an object 'weight_map')");
    std::map<std::string, std::string> shardOf;
    for (const auto &[name, shard] : parsed["weight_map"].items()) {
      if (!shard.is_string())
        return fail(index + ": weight_map['" + name + "'] is not a file name");
      // A shard is a file of the model directory: no path may lead out of
      // it (an index from the internet could name /etc/passwd).
      llvm::StringRef file = shard.get_ref<const std::string &>();
      if (file.empty() || file.starts_with("/") || file == ".." ||
          file.starts_with("../") || file.contains("/../") ||
          file.ends_with("/.."))
        return fail(index + ": the shard of '" + name + "' (" +
                    ::tptt::runtime::quoteJson(shard) +
                    ") is not a file inside " + dir);
      shardOf[name] = file.str();
    }
    std::map<std::string, bool> opened;
    for (const auto &[name, shard] : shardOf)
      if (!opened[shard]) {
        opened[shard] = true;
        if (llvm::Error error = add(dir + "/" + shard))
          return error;
      }
    for (const auto &[name, shard] : shardOf)
      if (!views.count(name))
        return fail(index + ": weight '" + name + "' is not in its shard " +
                    shard);
    return llvm::Error::success();
  }

  const st::TensorView *find(const std::string &name) const {
    auto it = views.find(name);
    return it == views.end() ? nullptr : it->second;
  }

  /// Reads `name` from `view` instead (a reference checkpoint's trained
  /// projection, which replaces the base model's).
  void replace(const std::string &name, const st::TensorView *view) {
    views[name] = view;
  }

  /// The files opened.
  std::vector<std::string> paths() const {
    std::vector<std::string> result;
    for (const auto &file : files)
      result.push_back(file->path());
    return result;
  }

private:
  llvm::Error add(const std::string &path) {
    std::string error;
    std::unique_ptr<st::File> file = st::File::open(path, error);
    if (!file)
      return fail(error);
    for (const st::TensorView &view : file->tensors())
      views[view.name] = &view;
    files.push_back(std::move(file));
    return llvm::Error::success();
  }

  std::vector<std::unique_ptr<st::File>> files;
  std::map<std::string, const st::TensorView *> views;
};

/// The weights the entry points take, each once, in first-use order.
std::vector<iface::EntryValue>
uniqueWeights(const std::vector<iface::EntryPoint> &entries) {
  std::vector<iface::EntryValue> weights;
  std::map<std::string, bool> seen;
  for (const iface::EntryPoint &entry : entries)
    for (const iface::EntryValue &argument : entry.arguments)
      if (argument.role == iface::Role::Weight && !seen[argument.name]) {
        seen[argument.name] = true;
        weights.push_back(argument);
      }
  return weights;
}

/// A PEFT LoRA adapter, merged into the weights it targets:
/// W' = W + scale · B A (Runtime/Checkpoint.h, LoraMergeConfig).
class LoraAdapter {
public:
  /// Reads `dir` and checks every pair against the model's weights.
  llvm::Error open(const std::string &dir, WeightFiles &model) {
    std::string configPath = dir + "/adapter_config.json";
    llvm::Expected<std::string> text = readConfigFile(configPath);
    if (!text)
      return text.takeError();
    return read(dir + "/adapter_model.safetensors", *text, configPath, model,
                /*replacements=*/false);
  }

  /// Reads the adapter_model.safetensors of a reference checkpoint `dir`:
  /// LoRA pairs (tptt 0.12's key names), merged with `loraConfig` (the
  /// checkpoint's adapter_config.json when it has one, else its
  /// TpttConfig's lora_config), or the trained projections of LoRA−, which
  /// replace the base model's.
  llvm::Error openReference(const std::string &dir,
                            const std::string &loraConfig, WeightFiles &model) {
    std::string path = dir + "/adapter_model.safetensors";
    if (!llvm::sys::fs::exists(path))
      return llvm::Error::success();
    std::string configPath = dir + "/adapter_config.json";
    std::string text = loraConfig;
    if (llvm::sys::fs::exists(configPath)) {
      llvm::Expected<std::string> given = readConfigFile(configPath);
      if (!given)
        return given.takeError();
      text = *given;
    } else {
      configPath = dir + "/config.json: lora_config";
    }
    return read(path, text, configPath, model, /*replacements=*/true);
  }

  /// The base model's tensors that a reference checkpoint replaced.
  size_t replacedCount() const { return replaced; }

  /// Reads the tensors of `path`, the LoRA pairs merged with the adapter
  /// configuration `configText` (from `configPath`; unused without pairs);
  /// with `replacements`, full projection weights replace the model's.
  llvm::Error read(const std::string &path, const std::string &configText,
                   const std::string &configPath, WeightFiles &model,
                   bool replacements) {
    std::string error;
    std::optional<::tptt::runtime::LoraMergeConfig> config;
    if (!configText.empty()) {
      config = ::tptt::runtime::LoraMergeConfig::parse(configText, configPath,
                                                       error);
      if (!config)
        return fail(error);
    }
    file = st::File::open(path, error);
    if (!file)
      return fail(error);
    for (const st::TensorView &view : file->tensors()) {
      std::string module = moduleOf(view.name);
      if (module.empty() && replacements) {
        std::string name = withoutNoise(view.name);
        if (const st::TensorView *base = model.find(name)) {
          if (base->shape != view.shape)
            return fail(file->path() + ": tensor '" + view.name +
                        "' has shape " + json(view.shape).dump() +
                        ", but the base model's '" + name + "' has " +
                        json(base->shape).dump());
          model.replace(name, &view);
          ++replaced;
          continue;
        }
      }
      if (module.empty())
        return fail(file->path() + ": tensor '" + view.name +
                    "' is not a LoRA lora_A/lora_B weight" +
                    (replacements ? " nor a weight of the base model" : ""));
      Pair &pair = pairs[module];
      (view.name.find(".lora_A.") != std::string::npos ? pair.a : pair.b) =
          &view;
    }
    if (pairs.empty())
      return llvm::Error::success();
    if (!config)
      return fail(file->path() + ": LoRA tensors, but no adapter_config.json "
                                 "or lora_config gives their rank and alpha");
    int64_t rank = config->rank;
    scale = config->scale();
    for (const auto &[module, pair] : pairs) {
      const st::TensorView *base = model.find(module + ".weight");
      if (!base)
        return fail(file->path() + ": the adapter targets '" + module +
                    "', which the model does not have");
      if (!pair.a || !pair.b)
        return fail(file->path() + ": '" + module +
                    "' needs both lora_A and lora_B");
      if (base->shape.size() != 2 || pair.a->shape.size() != 2 ||
          pair.b->shape.size() != 2 || pair.a->shape[0] != pair.b->shape[1] ||
          pair.a->shape[1] != base->shape[1] ||
          pair.b->shape[0] != base->shape[0])
        return fail(file->path() + ": the lora_A " +
                    json(pair.a->shape).dump() + " and lora_B " +
                    json(pair.b->shape).dump() + " of '" + module +
                    "' do not fit its weight " + json(base->shape).dump());
      // The scale is lora_alpha / r: tensors of another rank would be merged
      // with the wrong one.
      if (pair.a->shape[0] != rank)
        return fail(file->path() + ": '" + module + "' has rank " +
                    std::to_string(pair.a->shape[0]) + ", but " + configPath +
                    " says r = " + std::to_string(rank));
    }
    return llvm::Error::success();
  }

  /// Adds the update of the weight `name` ([out, in], row-major) if the
  /// adapter has one.
  void merge(const std::string &name, float *weight) const {
    if (name.size() < 7 || name.compare(name.size() - 7, 7, ".weight") != 0)
      return;
    auto it = pairs.find(name.substr(0, name.size() - 7));
    if (it == pairs.end())
      return;
    const st::TensorView &a = *it->second.a, &b = *it->second.b;
    int64_t out = b.shape[0], rank = a.shape[0], in = a.shape[1];
    for (int64_t o = 0; o < out; ++o)
      for (int64_t r = 0; r < rank; ++r) {
        double coefficient = scale * b.elementAsDouble(o * rank + r);
        for (int64_t i = 0; i < in; ++i)
          weight[o * in + i] +=
              static_cast<float>(coefficient * a.elementAsDouble(r * in + i));
      }
  }

  size_t size() const { return pairs.size(); }

private:
  /// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" (PEFT)
  /// or the tptt 0.12 form "...self_attn.base_attn.q_proj.lora_A.default.
  /// weight" → "model.layers.0.self_attn.q_proj"; "" if not a LoRA tensor.
  static std::string moduleOf(std::string name) {
    for (const char *prefix : {"base_model.model.", "model.model."})
      if (name.rfind(prefix, 0) == 0) {
        name = name.substr(std::strlen(prefix));
        if (std::strcmp(prefix, "model.model.") == 0)
          name = "model." + name;
        break;
      }
    name = withoutNoise(name);
    for (const char *suffix : {".lora_A.weight", ".lora_B.weight"}) {
      size_t n = std::strlen(suffix);
      if (name.size() > n && name.compare(name.size() - n, n, suffix) == 0)
        return name.substr(0, name.size() - n);
    }
    return "";
  }

  struct Pair {
    const st::TensorView *a = nullptr, *b = nullptr;
  };
  /// `name` without tptt 0.12's wrapper segments (".base_attn", ".default").
  static std::string withoutNoise(std::string name) {
    for (const char *noise : {".base_attn", ".default"})
      for (size_t at; (at = name.find(noise)) != std::string::npos;)
        name.erase(at, std::strlen(noise));
    return name;
  }

  std::unique_ptr<st::File> file;
  std::map<std::string, Pair> pairs;
  double scale = 1.0;
  size_t replaced = 0;
};

/// The interface of the model compiled from `spec`: its summary, and the
/// entry points and weights of its imported IR.
iface::ModelInterface describeModel(const tmodel::ModelSpec &spec,
                                    std::vector<iface::EntryPoint> entries,
                                    const std::string &weightsLocation,
                                    const CompileOptions &options,
                                    const std::string &configText,
                                    iface::WeightType weightType,
                                    const tmodel::TrainingOptions *training) {
  iface::ModelInterface m;
  m.architecture = spec.architecture;
  m.numLayers = spec.numLayers;
  m.hiddenSize = spec.hiddenSize;
  m.numHeads = spec.numHeads;
  m.numKvHeads = spec.numKvHeads;
  m.headDim = spec.headDim;
  m.vocabSize = spec.vocabSize;
  m.maxPositions = spec.maxPositions;
  for (int64_t i = 0; i < spec.numLayers; ++i)
    if (spec.lizaLayers[i])
      m.lizaLayers.push_back(i);
  m.operatorMode = spec.operatorMode;
  m.order = spec.order;
  m.alphaGate = spec.alphaGate;
  m.betaGate = spec.betaGate;
  m.linear = spec.linear;
  m.trick = spec.trick;
  m.semantics = spec.semantics;
  m.magWeight = spec.magWeight;
  m.crossGate = spec.crossGate;
  m.baseScaleAttn = spec.baseScaleAttn;
  m.maxChunkSize = spec.maxChunkSize;
  m.maxSelfAttnLength = spec.maxSelfAttnLength;
  m.linearPrecision = spec.linearPrecision;
  m.bosTokenId = spec.bosTokenId;
  m.eosTokenIds = spec.eosTokenIds;
  m.target = targetName(options.target);
  if (options.target == mlir::tptt::TpttTarget::CUDA)
    m.cuda = iface::CudaCode{
        options.chip, options.ptxFeatures,
        options.gpuFormat == mlir::tptt::TpttGpuFormat::Fatbin ? "fatbin"
                                                               : "isa"};
  m.weightsLocation = weightsLocation;
  m.weightType = weightType;
  m.weights = uniqueWeights(entries);
  std::map<std::string, bool> counted;
  for (const iface::EntryValue &weight : m.weights) {
    int64_t count = 1;
    for (int64_t dim : weight.shape)
      count *= dim;
    // A tied head is the embedding table again: count it once.
    if (!counted[weight.source])
      m.parameters += count;
    counted[weight.source] = true;
  }
  // What a trainer needs to write checkpoints a Hugging Face / PEFT tool
  // (and tptt-compile) reads back: the config, and what is trained.
  m.config = json::parse(configText, nullptr, /*allow_exceptions=*/false);
  if (training) {
    iface::Training &trained = m.training.emplace();
    trained.trainable = training->trainable;
    if (training->trainable == iface::Trainable::Lora)
      trained.lora = training->lora;
  }
  m.entries = std::move(entries);
  m.windowRows = mlir::tptt::linearStepWindow(spec.order);
  // With every layer windowed, decode keeps only the widest window of keys.
  int64_t cacheRows = 0;
  for (int64_t layer = 0; layer < spec.numLayers && cacheRows >= 0; ++layer) {
    std::optional<int64_t> window = spec.attentionWindow(layer);
    cacheRows = window ? std::max(cacheRows, *window) : -1;
  }
  m.cacheRows = cacheRows;
  return m;
}

/// The weights the entry points take, in argument order and layout
/// (projections transposed), with the adapter merged, each in the element
/// type of its argument (F32, or BF16 rounded to nearest even).
llvm::Expected<std::vector<st::OwnedTensor>> collectWeights(
    const WeightFiles &files, const std::vector<tmodel::EntryValue> &weights,
    const LoraAdapter &adapter, const Session &session, bool strict) {
  std::vector<st::OwnedTensor> tensors;
  for (const tmodel::EntryValue &weight : weights) {
    const st::TensorView *view = files.find(weight.source);
    if (view->dtype != st::DType::F32 && view->dtype != st::DType::BF16 &&
        view->dtype != st::DType::F16 && view->dtype != st::DType::F64)
      return fail("weight '" + weight.source + "' has dtype " +
                  std::string(st::dtypeName(view->dtype)) +
                  "; weights must be F32, BF16, F16 or F64");
    std::vector<float> values(view->numElements());
    for (int64_t i = 0; i < view->numElements(); ++i)
      values[i] = static_cast<float>(view->elementAsDouble(i));
    adapter.merge(weight.source, values.data());
    // A NaN or an infinity makes every logit after it NaN: say which weight
    // holds one (the executable then refuses to sample from such logits).
    if (auto broken =
            std::count_if(values.begin(), values.end(),
                          [](float value) { return !std::isfinite(value); })) {
      std::string message = "weight '" + weight.source + "' has " +
                            std::to_string(broken) +
                            " values that are not finite (NaN or infinity)";
      if (strict)
        return fail(message + " (--strict)");
      session.progress("warning: " + message +
                       "; the logits they reach will not be finite "
                       "(--strict makes this an error)");
    }
    if (weight.transposed) {
      std::vector<float> rowMajor(values.size());
      int64_t rows = view->shape[0], cols = view->shape[1];
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
          rowMajor[c * rows + r] = values[r * cols + c];
      values.swap(rowMajor);
    }
    bool bf16 = weight.dtype == "bf16";
    st::OwnedTensor tensor{
        weight.name, bf16 ? st::DType::BF16 : st::DType::F32, weight.shape, {}};
    if (bf16) {
      tensor.bytes.resize(values.size() * sizeof(uint16_t));
      auto *out = reinterpret_cast<uint16_t *>(tensor.bytes.data());
      for (size_t i = 0; i < values.size(); ++i)
        out[i] = st::floatToBf16(values[i]);
    } else {
      tensor.bytes.resize(values.size() * sizeof(float));
      std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
    }
    tensors.push_back(std::move(tensor));
  }
  return tensors;
}

/// Appends the file `blobPath` to `exePath` at a multiple of
/// kWeightsAlignment, followed by the trailer that points to it.
llvm::Error appendWeights(const std::string &exePath,
                          const std::string &blobPath) {
  using namespace ::tptt::runtime;
  FILE *exe = std::fopen(exePath.c_str(), "ab");
  FILE *blob = std::fopen(blobPath.c_str(), "rb");
  if (!exe || !blob) {
    for (FILE *file : {exe, blob})
      if (file)
        std::fclose(file);
    return fail("cannot append the weights to " + exePath);
  }
  std::fseek(exe, 0, SEEK_END);
  uint64_t size = std::ftell(exe);
  uint64_t offset =
      (size + kWeightsAlignment - 1) / kWeightsAlignment * kWeightsAlignment;
  std::vector<char> padding(offset - size, 0);
  bool ok =
      std::fwrite(padding.data(), 1, padding.size(), exe) == padding.size();
  std::vector<char> buffer(1 << 20);
  size_t n;
  while (ok && (n = std::fread(buffer.data(), 1, buffer.size(), blob)) > 0)
    ok = std::fwrite(buffer.data(), 1, n, exe) == n;
  ok = ok && !std::ferror(blob) && std::fwrite(&offset, 8, 1, exe) == 1 &&
       std::fwrite(kWeightsMagic, 1, 8, exe) == 8;
  ok = (std::fclose(blob) == 0) && ok;
  ok = (std::fclose(exe) == 0) && ok;
  if (!ok)
    return fail("cannot append the weights to " + exePath);
  return llvm::Error::success();
}
} // namespace

llvm::Error tptt::compiler::compileModel(Session &session,
                                         const ModelOptions &given) {
  const CompileOptions &options = session.getOptions();
  ModelOptions model = given;
  std::optional<iface::WeightType> weightType =
      model.weightType.empty() ? (options.target == mlir::tptt::TpttTarget::CUDA
                                      ? iface::WeightType::BF16
                                      : iface::WeightType::F32)
                               : iface::weightTypeNamed(model.weightType);
  if (!weightType)
    return fail("--weight-type must be f32 or bf16, not '" + model.weightType +
                "'");
  std::optional<tmodel::TrainingOptions> training;
  if (!model.train.empty()) {
    std::optional<iface::Trainable> trainable =
        iface::trainableNamed(model.train);
    if (!trainable)
      return fail("--train must be lora, lora-minus or full, not '" +
                  model.train + "'");
    training.emplace().trainable = *trainable;
  }

  // A reference checkpoint holds the trained tensors only: the rest comes
  // from its base model (--base).
  std::string error;
  std::string configPath = model.directory + "/config.json";
  llvm::Expected<std::string> configText = readConfigFile(configPath);
  if (!configText)
    return configText.takeError();
  std::optional<tmodel::ReferenceCheckpoint> reference;
  std::string weightsDirectory = model.directory;
  if (std::optional<std::string> name =
          tmodel::referenceCheckpointBase(*configText)) {
    if (model.baseDirectory.empty())
      return fail(model.directory +
                  " was saved by the reference library (TpttModel) and holds "
                  "the trained tensors only: give its base model's directory "
                  "with --base DIR" +
                  (name->empty() ? "" : " (base_model_name: " + *name + ")"));
    if (!model.adapterDirectory.empty())
      return fail("--adapter: " + model.directory +
                  " is a reference checkpoint, whose own trained tensors are "
                  "merged; give one or the other");
    std::string basePath = model.baseDirectory + "/config.json";
    llvm::Expected<std::string> baseText = readConfigFile(basePath);
    if (!baseText)
      return fail("--base: " + llvm::toString(baseText.takeError()));
    reference = tmodel::readReferenceCheckpoint(*configText, configPath,
                                                *baseText, basePath, error);
    if (!reference)
      return fail(error);
    configText = reference->config;
    weightsDirectory = model.baseDirectory;
    std::string ignored;
    for (const auto &[key, why] : reference->ignored)
      ignored += (ignored.empty() ? "" : "; ") + key + " (" + why + ")";
    session.progress("reference checkpoint over " + model.baseDirectory +
                     (ignored.empty() ? "" : "; ignored: " + ignored));
  } else if (!model.baseDirectory.empty()) {
    return fail("--base takes the base model of a reference checkpoint (a "
                "config.json with architectures [\"TpttModel\"]); " +
                configPath + " is not one");
  }
  std::optional<tmodel::ModelSpec> spec =
      tmodel::parseModelSpec(*configText, error);
  if (!spec)
    return fail(configPath + ": " + error);
  if (!model.semantics.empty()) {
    if (model.semantics != "recurrent" && model.semantics != "tptt-0.12")
      return fail("--semantics must be recurrent or tptt-0.12, not '" +
                  model.semantics + "'");
    spec->semantics = model.semantics;
  }
  if (spec->linearPrecision == "bfloat16" && spec->semantics != "recurrent")
    return fail(configPath +
                ": linear_precision bfloat16 is computed under the recurrent "
                "semantics only (tptt-0.12 promises the reference library's "
                "bits, which its bf16 kernels do not pin down); compile with "
                "--semantics recurrent");
  if (training && spec->lora)
    training->lora = *spec->lora;
  WeightFiles files;
  if (llvm::Error error = files.open(weightsDirectory))
    return error;
  LoraAdapter adapter;
  if (!model.adapterDirectory.empty())
    if (llvm::Error error = adapter.open(model.adapterDirectory, files))
      return error;
  if (reference)
    if (llvm::Error error = adapter.openReference(model.directory,
                                                  reference->loraConfig, files))
      return error;
  // The tokenizer travels inside the binary; a broken one is an error now
  // rather than at the first prompt. A reference checkpoint's is its base
  // model's unless it has one.
  std::string tokenizerText;
  std::string tokenizerPath = model.directory + "/tokenizer.json";
  if (reference && !llvm::sys::fs::exists(tokenizerPath))
    tokenizerPath = weightsDirectory + "/tokenizer.json";
  // Writing the output must never destroy an input (-o DIR/model.safetensors).
  std::vector<std::string> inputs = files.paths();
  for (const std::string &directory : {model.directory, weightsDirectory})
    for (const char *name : {"/config.json", "/model.safetensors.index.json"})
      inputs.push_back(directory + name);
  inputs.push_back(tokenizerPath);
  for (const std::string &directory :
       {model.adapterDirectory, reference ? model.directory : std::string()})
    if (!directory.empty())
      for (const char *name :
           {"/adapter_config.json", "/adapter_model.safetensors"})
        inputs.push_back(directory + name);
  for (const std::string &output :
       {options.outputPath, options.outputPath + ".weights.safetensors"}) {
    bool same = false;
    for (const std::string &input : inputs)
      if (!llvm::sys::fs::equivalent(output, input, same) && same)
        return fail("-o " + options.outputPath + " would overwrite the input " +
                    input + "; choose another output path");
  }
  if (llvm::sys::fs::exists(tokenizerPath)) {
    std::unique_ptr<::tptt::runtime::Tokenizer> tokenizer =
        ::tptt::runtime::Tokenizer::load(tokenizerPath, error);
    if (!tokenizer)
      return fail(error);
    if (!tokenizer->limitVocabulary(spec->vocabSize, error))
      return fail(tokenizerPath + ": " + error);
    std::optional<std::string> text = ::tptt::runtime::readRegularFile(
        tokenizerPath, ::tptt::runtime::kMaxTokenizerBytes, error);
    if (!text)
      return fail(error);
    tokenizerText = std::move(*text);
  }

  auto lookup =
      [&](const std::string &name) -> std::optional<std::vector<int64_t>> {
    if (const st::TensorView *view = files.find(name))
      return view->shape;
    return std::nullopt;
  };
  mlir::OwningOpRef<mlir::ModuleOp> module =
      tmodel::importModel(session.getContext(), *spec, lookup, error,
                          training ? &*training : nullptr, *weightType);
  if (!module)
    return fail(model.directory + ": " + error);
  std::vector<iface::EntryPoint> entries = tmodel::entryPoints(*module);

  std::vector<std::string> entryNames;
  for (const iface::EntryPoint &entry : entries)
    entryNames.push_back(iface::entryName(entry.entry));
  llvm::Expected<Session::Lowered> lowered =
      session.lower(std::move(module), entryNames);
  if (!lowered)
    return lowered.takeError();
  if (lowered->stopped)
    return llvm::Error::success();

  const std::string &outputPath = options.outputPath;
  std::string location =
      model.externalWeights
          ? llvm::sys::path::filename(outputPath).str() + ".weights.safetensors"
          : "embedded";
  iface::ModelInterface manifest =
      describeModel(*spec, std::move(entries), location, options, *configText,
                    *weightType, training ? &*training : nullptr);
  if (!model.adapterDirectory.empty())
    manifest.adapter = model.adapterDirectory + " (" +
                       std::to_string(adapter.size()) + " LoRA pairs, merged)";
  if (reference)
    manifest.adapter =
        model.directory + " (reference checkpoint over " + model.baseDirectory +
        ": " + std::to_string(adapter.size()) + " LoRA pairs merged, " +
        std::to_string(adapter.replacedCount()) + " projections replaced)";
  if (reference)
    manifest.ignoredConfigKeys.insert(reference->ignored.begin(),
                                      reference->ignored.end());
  manifest.tokenizer = !tokenizerText.empty();
  const std::vector<iface::EntryValue> &weights = manifest.weights;

  // The weights go into the linked binary (or beside it) before it is moved
  // into place.
  auto addWeights = [&](const std::string &binary) -> llvm::Error {
    session.progress("weights (" + std::to_string(weights.size()) +
                     " tensors)");
    llvm::Expected<std::vector<st::OwnedTensor>> tensors =
        collectWeights(files, weights, adapter, session, model.strict);
    if (!tensors)
      return tensors.takeError();
    std::string blob = binary + ".weights";
    std::string error;
    if (!st::write(blob, *tensors,
                   {{::tptt::runtime::kWeightsLayoutKey,
                     ::tptt::runtime::kEntryLayout}},
                   error))
      return fail(error);
    if (model.externalWeights) {
      std::string weightsPath = outputPath + ".weights.safetensors";
      if (std::rename(blob.c_str(), weightsPath.c_str()) != 0) {
        std::remove(blob.c_str());
        return fail(weightsPath + ": cannot write");
      }
      return llvm::Error::success();
    }
    llvm::Error appended = appendWeights(binary, blob);
    std::remove(blob.c_str());
    return appended;
  };
  return session.emit(
      *lowered,
      {{::tptt::runtime::kManifestSymbol, manifest.toJson().dump()},
       {::tptt::runtime::kTokenizerSymbol, tokenizerText}},
      model.sharedLibrary ? target::LinkKind::ModelLibrary
                          : target::LinkKind::Executable,
      outputPath, addWeights);
}

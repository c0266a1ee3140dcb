//===- tptt-compile.cpp - A TPTT model directory becomes an executable ----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//   tptt-compile MODEL_DIR -o EXE [--target cpu|cuda] [--semantics S]
//                [--chip sm_90] [--ptx-features +ptx80] [--gpu-format isa]
//                [--emit=<stage>] [--dump-dir D] [--external-weights]
//
// Reads config.json (validated against tptt-model.schema.json) and the
// safetensors weights, imports the model as graph-level tptt IR, runs the
// shared pipeline, emits a host object and links it with the launcher. The
// weights are appended to the executable unless --external-weights.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"
#include "tptt/InitAll.h"
#include "tptt/Model/ModelImporter.h"
#include "tptt/Model/ModelSpec.h"
#include "tptt/Pipelines/Pipelines.h"
#include "tptt/Runtime/Executable.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Tokenizer.h"
#include "tptt/Target/EmitExecutable.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

using json = nlohmann::json;
namespace st = ::tptt::safetensors;
namespace tmodel = ::tptt::model;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("tptt-compile options");

cl::opt<std::string> modelDir(cl::Positional, cl::desc("MODEL_DIR"),
                              cl::Required, cl::cat(category));
cl::opt<std::string> outputPath("o", cl::desc("The executable to write"),
                                cl::value_desc("EXE"), cl::cat(category));
cl::opt<std::string> targetName(
    "target",
    cl::desc("Code for: cpu (the host CPU), cuda (NVIDIA GPUs, with the "
             "CPU code too: the executable's --device picks) or cuda-on-cpu "
             "(the CUDA kernels run on the CPU, each launch as loops over its "
             "blocks and threads: checks the GPU mapping without a GPU)"),
    cl::init("cpu"), cl::cat(category));
cl::opt<std::string> chip("chip",
                          cl::desc("The GPU architecture for --target cuda"),
                          cl::init("sm_90"), cl::cat(category));
cl::opt<std::string>
    ptxFeatures("ptx-features",
                cl::desc("The PTX ISA version for --target cuda (at least "
                         "the chip's minimum)"),
                cl::init("+ptx80"), cl::cat(category));
cl::opt<std::string> gpuFormat(
    "gpu-format",
    cl::desc("What the executable embeds for --target cuda: isa (PTX, "
             "compiled by the driver) or fatbin (cubin and PTX, by ptxas)"),
    cl::init("isa"), cl::cat(category));
cl::opt<std::string>
    cudaToolkit("cuda-toolkit",
                cl::desc("The CUDA toolkit with libdevice and ptxas "
                         "(default: $CUDA_HOME, else /usr/local/cuda)"),
                cl::cat(category));
cl::opt<std::string>
    semanticsOverride("semantics",
                      cl::desc("recurrent | tptt-0.12 (overrides the config's "
                               "tptt.semantics)"),
                      cl::cat(category));
cl::opt<std::string> emitStage(
    "emit",
    cl::desc("Stop after this stage and print it: tptt, autodiff, linalg, "
             "tiled, bufferized, loops, gpu (--target cuda), llvm (MLIR), "
             "ptx (--target cuda: every kernel module's PTX), llvm-ir; or "
             "build exe (the default) or shared-lib (the C API of "
             "Runtime/tptt.h)"),
    cl::init("exe"), cl::cat(category));
cl::opt<std::string> trainMode(
    "train",
    cl::desc("Also compile the training entry points (tptt_loss, "
             "tptt_train_step) for: lora (the config's lora_config, or r 8 "
             "on q/k/v/o), lora-minus (the LiZA layers' attention "
             "projections) or full (every parameter)"),
    cl::cat(category));
cl::opt<std::string> dumpDir("dump-dir",
                             cl::desc("Write the IR after every stage here"),
                             cl::cat(category));
cl::opt<bool> externalWeights(
    "external-weights",
    cl::desc("Keep the weights beside the executable (EXE.weights."
             "safetensors) instead of inside it"),
    cl::cat(category));
cl::opt<std::string>
    adapterDir("adapter",
               cl::desc("A PEFT LoRA adapter directory (adapter_config.json, "
                        "adapter_model.safetensors) to merge into the weights"),
               cl::value_desc("DIR"), cl::cat(category));
cl::opt<std::string> weightType(
    "weight-type",
    cl::desc("The element type of the model's weights in the executable: "
             "f32 or bf16 (default: bf16 for --target cuda, else f32). The "
             "weights a training step updates stay f32"),
    cl::cat(category));
cl::opt<int64_t> numThreads("num-threads",
                            cl::desc("OpenMP threads (0: all cores)"),
                            cl::init(0), cl::cat(category));

[[noreturn]] void die(const std::string &message) {
  llvm::errs() << "tptt-compile: error: " << message << "\n";
  std::exit(2);
}

void progress(const std::string &message) {
  llvm::errs() << "tptt-compile: " << message << "\n";
}

/// The model's weight files (one, or the shards of an index), mapped.
class WeightFiles {
public:
  void open(const std::string &dir) {
    std::string error;
    std::string single = dir + "/model.safetensors";
    std::string index = dir + "/model.safetensors.index.json";
    if (llvm::sys::fs::exists(single)) {
      add(single);
      return;
    }
    if (!llvm::sys::fs::exists(index))
      die(dir + ": no model.safetensors or model.safetensors.index.json");
    std::ifstream in(index);
    json parsed = json::parse(in, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object() ||
        !parsed.contains("weight_map") || !parsed["weight_map"].is_object())
      die(index + ": not a safetensors index (needs an object 'weight_map')");
    std::map<std::string, std::string> shardOf;
    for (const auto &[name, shard] : parsed["weight_map"].items()) {
      if (!shard.is_string())
        die(index + ": weight_map['" + name + "'] is not a file name");
      shardOf[name] = shard.get<std::string>();
    }
    std::map<std::string, bool> opened;
    for (const auto &[name, shard] : shardOf)
      if (!opened[shard]) {
        opened[shard] = true;
        add(dir + "/" + shard);
      }
    for (const auto &[name, shard] : shardOf)
      if (!views.count(name))
        die(index + ": weight '" + name + "' is not in its shard " + shard);
  }

  const st::TensorView *find(const std::string &name) const {
    auto it = views.find(name);
    return it == views.end() ? nullptr : it->second;
  }

private:
  void add(const std::string &path) {
    std::string error;
    std::unique_ptr<st::File> file = st::File::open(path, error);
    if (!file)
      die(error);
    for (const st::TensorView &view : file->tensors())
      views[view.name] = &view;
    files.push_back(std::move(file));
  }

  std::vector<std::unique_ptr<st::File>> files;
  std::map<std::string, const st::TensorView *> views;
};

/// The weights the entry points take, each once, in first-use order.
std::vector<tmodel::EntryValue>
uniqueWeights(const std::vector<tmodel::EntryPoint> &entries) {
  std::vector<tmodel::EntryValue> weights;
  std::map<std::string, bool> seen;
  for (const tmodel::EntryPoint &entry : entries)
    for (const tmodel::EntryValue &argument : entry.arguments)
      if (argument.kind == "weight" && !seen[argument.name]) {
        seen[argument.name] = true;
        weights.push_back(argument);
      }
  return weights;
}

json describe(const std::vector<tmodel::EntryValue> &values) {
  json list = json::array();
  for (const tmodel::EntryValue &value : values) {
    json item = {{"name", value.name},
                 {"kind", value.kind},
                 {"shape", value.shape},
                 {"dtype", value.dtype}};
    if (value.kind == "adapter" || value.kind == "optimizer")
      item["source"] = value.source;
    if (value.kind == "adapter")
      item["transposed"] = value.transposed;
    if (value.trainable)
      item["trainable"] = true;
    list.push_back(item);
  }
  return list;
}

/// A PEFT LoRA adapter, merged into the weights it targets:
/// W' = W + scale · B A, scale = lora_alpha / r (or / √r with use_rslora).
class LoraAdapter {
public:
  /// Reads `dir` and checks every pair against the model's weights.
  void open(const std::string &dir, const WeightFiles &model) {
    std::string configPath = dir + "/adapter_config.json";
    std::ifstream in(configPath);
    if (!in)
      die(configPath + ": cannot open");
    json config = json::parse(in, nullptr, false);
    if (config.is_discarded() || !config.is_object())
      die(configPath + ": not a JSON object");
    auto number = [&](const char *key) {
      auto it = config.find(key);
      if (it == config.end() || !it->is_number() || it->get<double>() <= 0)
        die(configPath + ": field '" + key + "' must be a positive number");
      return it->get<double>();
    };
    double rank = number("r"), alpha = number("lora_alpha");
    bool rslora = config.value("use_rslora", false) == true;
    scale = alpha / (rslora ? std::sqrt(rank) : rank);
    std::string error;
    file = st::File::open(dir + "/adapter_model.safetensors", error);
    if (!file)
      die(error);
    for (const st::TensorView &view : file->tensors()) {
      std::string module = moduleOf(view.name);
      if (module.empty())
        die(file->path() + ": tensor '" + view.name +
            "' is not a LoRA lora_A/lora_B weight");
      Pair &pair = pairs[module];
      (view.name.find(".lora_A.") != std::string::npos ? pair.a : pair.b) =
          &view;
    }
    for (const auto &[module, pair] : pairs) {
      const st::TensorView *base = model.find(module + ".weight");
      if (!base)
        die(file->path() + ": the adapter targets '" + module +
            "', which the model does not have");
      if (!pair.a || !pair.b)
        die(file->path() + ": '" + module + "' needs both lora_A and lora_B");
      if (base->shape.size() != 2 || pair.a->shape.size() != 2 ||
          pair.b->shape.size() != 2 || pair.a->shape[0] != pair.b->shape[1] ||
          pair.a->shape[1] != base->shape[1] ||
          pair.b->shape[0] != base->shape[0])
        die(file->path() + ": the lora_A " + json(pair.a->shape).dump() +
            " and lora_B " + json(pair.b->shape).dump() + " of '" + module +
            "' do not fit its weight " + json(base->shape).dump());
    }
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
    for (const char *noise : {".base_attn", ".default"})
      for (size_t at; (at = name.find(noise)) != std::string::npos;)
        name.erase(at, std::strlen(noise));
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
  std::unique_ptr<st::File> file;
  std::map<std::string, Pair> pairs;
  double scale = 1.0;
};

json buildManifest(const tmodel::ModelSpec &spec,
                   const std::vector<tmodel::EntryPoint> &entries,
                   const std::vector<tmodel::EntryValue> &weights,
                   const std::string &weightsLocation) {
  json m;
  m["architecture"] = spec.architecture;
  m["num_layers"] = spec.numLayers;
  m["hidden_size"] = spec.hiddenSize;
  m["num_heads"] = spec.numHeads;
  m["num_kv_heads"] = spec.numKvHeads;
  m["head_dim"] = spec.headDim;
  m["vocab_size"] = spec.vocabSize;
  m["max_position_embeddings"] = spec.maxPositions;
  json layers = json::array();
  for (int64_t i = 0; i < spec.numLayers; ++i)
    if (spec.lizaLayers[i])
      layers.push_back(i);
  m["liza_layers"] = layers;
  m["operator_mode"] = spec.operatorMode;
  m["order"] = spec.order;
  m["alpha_gate"] = spec.alphaGate;
  m["beta_gate"] = spec.betaGate;
  m["linear"] = spec.linear;
  m["trick"] = spec.trick;
  m["semantics"] = spec.semantics;
  m["mag_weight"] = spec.magWeight;
  m["cross_gate"] = spec.crossGate;
  m["base_scale_attn"] = spec.baseScaleAttn;
  m["max_chunk_size"] = spec.maxChunkSize;
  m["max_self_attn_length"] =
      spec.maxSelfAttnLength ? json(*spec.maxSelfAttnLength) : json(nullptr);
  m["bos_token_id"] = spec.bosTokenId ? json(*spec.bosTokenId) : json(nullptr);
  m["eos_token_ids"] = spec.eosTokenIds;
  m["target"] = targetName.getValue();
  if (targetName == "cuda")
    m["cuda"] = {{"chip", chip.getValue()},
                 {"ptx_features", ptxFeatures.getValue()},
                 {"gpu_format", gpuFormat.getValue()}};
  m["weights_location"] = weightsLocation;
  m["weight_type"] = weightType.getValue();
  int64_t parameters = 0;
  json list = json::array();
  std::map<std::string, bool> counted;
  for (const tmodel::EntryValue &weight : weights) {
    int64_t count = 1;
    for (int64_t dim : weight.shape)
      count *= dim;
    // A tied head is the embedding table again: count it once.
    if (!counted[weight.source])
      parameters += count;
    counted[weight.source] = true;
    list.push_back({{"name", weight.name},
                    {"shape", weight.shape},
                    {"dtype", weight.dtype},
                    {"source", weight.source},
                    {"transposed", weight.transposed}});
  }
  m["parameters"] = parameters;
  m["weights"] = list;
  // What a trainer needs to write checkpoints a Hugging Face / PEFT tool
  // (and tptt-compile) reads back: the config, and what is trained.
  std::ifstream configFile(modelDir + "/config.json");
  m["config"] = json::parse(configFile, nullptr, /*allow_exceptions=*/false);
  if (!trainMode.empty()) {
    json training = {{"trainable", trainMode.getValue()}};
    if (trainMode == "lora") {
      tmodel::LoraSpec lora = spec.lora.value_or(tmodel::LoraSpec());
      training["lora"] = {{"r", lora.rank},
                          {"lora_alpha", lora.alpha},
                          {"lora_dropout", lora.dropout},
                          {"target_modules", lora.targetModules}};
    }
    m["training"] = training;
  }
  json entryList = json::object();
  for (const tmodel::EntryPoint &entry : entries)
    entryList[entry.name] = {{"arguments", describe(entry.arguments)},
                             {"results", describe(entry.results)}};
  m["entries"] = entryList;
  m["window_rows"] = mlir::tptt::linearStepWindow(spec.order);
  // With every layer windowed, decode keeps only the widest window of keys.
  int64_t cacheRows = 0;
  for (int64_t layer = 0; layer < spec.numLayers && cacheRows >= 0; ++layer) {
    std::optional<int64_t> window = spec.attentionWindow(layer);
    cacheRows = window ? std::max(cacheRows, *window) : -1;
  }
  m["cache_rows"] = cacheRows;
  return m;
}

/// The weights the entry points take, in argument order and layout
/// (projections transposed), with the adapter merged, each in the element
/// type of its argument (F32, or BF16 rounded to nearest even).
std::vector<st::OwnedTensor>
collectWeights(const WeightFiles &files,
               const std::vector<tmodel::EntryValue> &weights,
               const LoraAdapter &adapter) {
  std::vector<st::OwnedTensor> tensors;
  for (const tmodel::EntryValue &weight : weights) {
    const st::TensorView *view = files.find(weight.source);
    if (view->dtype != st::DType::F32 && view->dtype != st::DType::BF16 &&
        view->dtype != st::DType::F16 && view->dtype != st::DType::F64)
      die("weight '" + weight.source + "' has dtype " +
          std::string(st::dtypeName(view->dtype)) +
          "; weights must be F32, BF16, F16 or F64");
    std::vector<float> values(view->numElements());
    for (int64_t i = 0; i < view->numElements(); ++i)
      values[i] = static_cast<float>(view->elementAsDouble(i));
    adapter.merge(weight.source, values.data());
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
void appendWeights(const std::string &exePath, const std::string &blobPath) {
  using namespace ::tptt::runtime;
  FILE *exe = std::fopen(exePath.c_str(), "ab");
  FILE *blob = std::fopen(blobPath.c_str(), "rb");
  if (!exe || !blob)
    die("cannot append the weights to " + exePath);
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
    die("cannot append the weights to " + exePath);
}

/// Files that are removed unless kept: no half-written output survives a
/// failure.
struct TemporaryFiles {
  std::vector<std::string> paths;
  ~TemporaryFiles() {
    for (const std::string &path : paths)
      std::remove(path.c_str());
  }
  std::string add(const std::string &path) {
    paths.push_back(path);
    return path;
  }
};

/// Static, so that die() (std::exit) removes them too.
TemporaryFiles temporaries;

void writeText(const std::string &path, const std::string &text) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  if (ec)
    die(path + ": " + ec.message());
  out << text;
}

/// The PTX of every kernel module (gpu.binary compiled with format isa) of
/// `module`, one after the other, each after a comment line naming it.
std::string kernelsPtx(mlir::ModuleOp module) {
  std::string text;
  module.walk([&](mlir::gpu::BinaryOp binary) {
    for (mlir::Attribute attr : binary.getObjects()) {
      auto object = llvm::cast<mlir::gpu::ObjectAttr>(attr);
      if (object.getFormat() != mlir::gpu::CompilationTarget::Assembly)
        continue;
      text += "// gpu.binary @" + binary.getName().str() + "\n";
      text += object.getObject().getValue().str();
    }
  });
  return text;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  mlir::tptt::registerAllTpttPasses();
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "tptt-compile: compile a TPTT model directory (config.json with a "
      "`tptt` object, safetensors weights) into an executable or a shared "
      "library\n");
  bool cuda = targetName == "cuda";
  bool emulated = targetName == "cuda-on-cpu";
  if (targetName != "cpu" && !cuda && !emulated)
    die("unknown --target '" + targetName + "' (cpu, cuda, cuda-on-cpu)");
  mlir::tptt::TpttTarget target = cuda       ? mlir::tptt::TpttTarget::CUDA
                                  : emulated ? mlir::tptt::TpttTarget::CudaOnCpu
                                             : mlir::tptt::TpttTarget::CPU;
  if (cuda && gpuFormat != "isa" && gpuFormat != "fatbin")
    die("--gpu-format must be isa or fatbin, not '" + gpuFormat + "'");
  if (cuda && !llvm::StringRef(chip).starts_with("sm_"))
    die("--chip must name an NVIDIA architecture such as sm_90, not '" + chip +
        "'");
  static const char *stages[] = {
      "tptt", "autodiff", "linalg", "tiled",   "bufferized", "loops",
      "gpu",  "llvm",     "ptx",    "llvm-ir", "exe",        "shared-lib"};
  if (std::find(std::begin(stages), std::end(stages), emitStage.getValue()) ==
      std::end(stages))
    die("unknown --emit stage '" + emitStage +
        "' (tptt, autodiff, linalg, tiled, bufferized, loops, gpu, llvm, ptx, "
        "llvm-ir, exe, shared-lib)");
  if ((!cuda && emitStage == "ptx") ||
      (!cuda && !emulated && emitStage == "gpu"))
    die("--emit=" + emitStage + " needs --target cuda");
  if (emitStage == "ptx" && gpuFormat != "isa")
    die("--emit=ptx needs --gpu-format isa (a fat binary is not text)");
  bool shared = emitStage == "shared-lib";
  if ((emitStage == "exe" || shared) && outputPath.empty())
    die(shared ? "give the library's path with -o LIB.so"
               : "give the executable's path with -o EXE");
  if (numThreads < 0)
    die("--num-threads must be 0 (all cores) or positive");
  if (weightType.empty())
    weightType = targetName == "cuda" ? "bf16" : "f32";
  if (weightType != "f32" && weightType != "bf16")
    die("--weight-type must be f32 or bf16, not '" + weightType + "'");

  std::string error;
  std::optional<tmodel::ModelSpec> spec =
      tmodel::loadModelSpec(modelDir + "/config.json", error);
  if (!spec)
    die(error);
  if (!semanticsOverride.empty()) {
    if (semanticsOverride != "recurrent" && semanticsOverride != "tptt-0.12")
      die("--semantics must be recurrent or tptt-0.12, not '" +
          semanticsOverride + "'");
    spec->semantics = semanticsOverride;
  }
  WeightFiles files;
  files.open(modelDir);
  LoraAdapter adapter;
  if (!adapterDir.empty())
    adapter.open(adapterDir, files);
  // The tokenizer travels inside the executable; a broken one is an error
  // now rather than at the first prompt.
  std::string tokenizerText;
  std::string tokenizerPath = modelDir + "/tokenizer.json";
  if (llvm::sys::fs::exists(tokenizerPath)) {
    std::unique_ptr<::tptt::runtime::Tokenizer> tokenizer =
        ::tptt::runtime::Tokenizer::load(tokenizerPath, error);
    if (!tokenizer)
      die(error);
    if (tokenizer->vocabSize() > spec->vocabSize)
      die(tokenizerPath + ": token ids reach " +
          std::to_string(tokenizer->vocabSize() - 1) +
          ", past the model's vocab_size " + std::to_string(spec->vocabSize));
    std::ifstream in(tokenizerPath, std::ios::binary);
    tokenizerText.assign(std::istreambuf_iterator<char>(in),
                         std::istreambuf_iterator<char>());
  }

  mlir::MLIRContext context;
  mlir::DialectRegistry registry;
  mlir::tptt::registerAllTpttDialects(registry);
  context.appendDialectRegistry(registry);
  context.loadAllAvailableDialects();
  std::vector<tmodel::EntryPoint> entries;
  auto lookup =
      [&](const std::string &name) -> std::optional<std::vector<int64_t>> {
    if (const st::TensorView *view = files.find(name))
      return view->shape;
    return std::nullopt;
  };
  std::optional<tmodel::TrainingOptions> training;
  if (!trainMode.empty()) {
    training.emplace();
    if (trainMode == "lora-minus")
      training->trainable = tmodel::Trainable::LoraMinus;
    else if (trainMode == "full")
      training->trainable = tmodel::Trainable::Full;
    else if (trainMode != "lora")
      die("--train must be lora, lora-minus or full, not '" + trainMode + "'");
    if (spec->lora)
      training->lora = *spec->lora;
  }
  mlir::OwningOpRef<mlir::ModuleOp> module = tmodel::importModel(
      context, *spec, lookup, entries, error, training ? &*training : nullptr,
      weightType == "bf16" ? tmodel::WeightType::BF16
                           : tmodel::WeightType::F32);
  if (!module)
    die(modelDir + ": " + error);

  // An executable for CUDA carries the CPU code too (`EXE --device cpu`):
  // the same module through the CPU pipeline, its functions keeping their
  // names while the GPU ones get the suffix _cuda (the entry points must
  // differ; the others become internal, and the dumps stay unambiguous).
  mlir::OwningOpRef<mlir::ModuleOp> cpuModule;
  std::vector<std::string> entryNames;
  for (const tmodel::EntryPoint &entry : entries)
    entryNames.push_back(entry.name);
  if (cuda) {
    if (emitStage == "exe" || shared || emitStage == "llvm-ir")
      cpuModule = module->clone();
    mlir::SymbolTable symbols(*module);
    for (auto function :
         llvm::to_vector(module->getOps<mlir::func::FuncOp>())) {
      std::string name = function.getName().str();
      if (mlir::failed(symbols.rename(function, name + "_cuda")))
        die("cannot rename the function '" + name + "'");
    }
    for (const tmodel::EntryPoint &entry : entries)
      entryNames.push_back(entry.name + "_cuda");
  }

  // Any error diagnostic fails the compile, even from a pass that goes on
  // (gpu-module-to-binary reports a missing libdevice and succeeds).
  unsigned errors = 0;
  mlir::ScopedDiagnosticHandler countErrors(
      &context, [&](mlir::Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() == mlir::DiagnosticSeverity::Error)
          ++errors;
        return mlir::failure();
      });

  // Run the pipeline one stage at a time, so that each can be dumped and the
  // run can stop at any of them. The gpu stage is the CUDA target's only.
  std::vector<mlir::tptt::TpttStage> order;
  for (auto [index, name] : llvm::enumerate(mlir::tptt::getTpttStageNames()))
    if (cuda || emulated || name != "gpu")
      order.push_back(static_cast<mlir::tptt::TpttStage>(index));
  if (!dumpDir.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(dumpDir))
      die(dumpDir + ": " + ec.message());
  auto runStage = [&](mlir::ModuleOp code, mlir::tptt::TpttStage stage,
                      mlir::tptt::TpttTarget codeTarget,
                      const std::string &name) {
    mlir::PassManager pm(&context);
    mlir::tptt::TpttPipelineOptions options;
    options.from = stage;
    options.to = stage;
    options.numThreads = numThreads;
    options.target = codeTarget;
    if (codeTarget == mlir::tptt::TpttTarget::CUDA) {
      options.chip = chip;
      options.features = ptxFeatures;
      options.format = gpuFormat == "fatbin" ? mlir::tptt::TpttGpuFormat::Fatbin
                                             : mlir::tptt::TpttGpuFormat::Isa;
      options.cudaToolkit = cudaToolkit;
    }
    mlir::tptt::buildTpttPipeline(pm, options);
    if (mlir::failed(pm.run(code)) || errors)
      die("the " + name + " stage" +
          (codeTarget == target ? "" : " (CPU code)") +
          " failed (see the diagnostics above)");
  };
  std::string ptxDump;
  for (auto [index, stage] : llvm::enumerate(order)) {
    std::string name =
        mlir::tptt::getTpttStageNames()[static_cast<size_t>(stage)].str();
    progress("stage " + name);
    runStage(*module, stage, target, name);
    if (cpuModule && stage != mlir::tptt::TpttStage::Gpu)
      runStage(*cpuModule, stage, mlir::tptt::TpttTarget::CPU, name);
    std::string text;
    if (!dumpDir.empty() || emitStage == name) {
      llvm::raw_string_ostream os(text);
      module->print(os);
    }
    if (!dumpDir.empty())
      writeText(dumpDir + "/" + std::to_string(index) + "-" + name + ".mlir",
                text);
    if (cuda && gpuFormat == "isa" && stage == mlir::tptt::TpttStage::LLVM &&
        (!dumpDir.empty() || emitStage == "ptx")) {
      ptxDump = kernelsPtx(*module);
      if (!dumpDir.empty())
        writeText(dumpDir + "/" + std::to_string(index) + "-kernels.ptx",
                  ptxDump);
    }
    if (emitStage == name ||
        (emitStage == "ptx" && stage == mlir::tptt::TpttStage::LLVM)) {
      const std::string &out = emitStage == "ptx" ? ptxDump : text;
      if (outputPath.empty())
        llvm::outs() << out;
      else
        writeText(outputPath, out);
      return 0;
    }
  }

  std::string location =
      externalWeights
          ? llvm::sys::path::filename(outputPath).str() + ".weights.safetensors"
          : "embedded";
  std::vector<tmodel::EntryValue> weights = uniqueWeights(entries);
  json manifest = buildManifest(*spec, entries, weights, location);
  manifest["adapter"] =
      adapterDir.empty()
          ? json(nullptr)
          : json(adapterDir + " (" + std::to_string(adapter.size()) +
                 " LoRA pairs, merged)");
  llvm::LLVMContext llvmContext;
  manifest["tokenizer"] = !tokenizerText.empty();
  std::vector<mlir::ModuleOp> modules = {*module};
  if (cpuModule)
    modules.push_back(*cpuModule);
  std::unique_ptr<llvm::Module> llvmModule = ::tptt::target::translateForHost(
      modules, llvmContext, entryNames, manifest.dump(), tokenizerText, error);
  if (!llvmModule)
    die(error);
  if (!dumpDir.empty() || emitStage == "llvm-ir") {
    std::string text;
    llvm::raw_string_ostream os(text);
    llvmModule->print(os, nullptr);
    if (!dumpDir.empty())
      writeText(dumpDir + "/" + std::to_string(order.size()) + "-llvm-ir.ll",
                text);
    if (emitStage == "llvm-ir") {
      if (outputPath.empty())
        llvm::outs() << text;
      else
        writeText(outputPath, text);
      return 0;
    }
  }

  std::string suffix = ".tmp." + std::to_string(getpid());
  std::string object = temporaries.add(outputPath + ".o" + suffix);
  progress("object");
  if (!::tptt::target::writeObject(*llvmModule, object, error))
    die(error);
  progress("link");
  std::string exe = temporaries.add(outputPath + suffix);
  if (!::tptt::target::linkExecutable(object, exe, shared, error))
    die(error);

  progress("weights (" + std::to_string(weights.size()) + " tensors)");
  std::string blob = temporaries.add(outputPath + ".weights" + suffix);
  if (!st::write(blob, collectWeights(files, weights, adapter),
                 {{"tptt_layout", "entry"}}, error))
    die(error);
  std::string weightsPath = outputPath + ".weights.safetensors";
  if (externalWeights) {
    if (std::rename(blob.c_str(), weightsPath.c_str()) != 0)
      die(weightsPath + ": cannot write");
  } else {
    appendWeights(exe, blob);
  }
  chmod(exe.c_str(), 0755);
  if (std::rename(exe.c_str(), outputPath.c_str()) != 0)
    die(outputPath + ": cannot write");
  progress("wrote " + outputPath);
  return 0;
}

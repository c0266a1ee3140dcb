//===- Launcher.cpp - main() of the executables tptt-compile makes --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// `EXE info | logits | generate`: finds the weights (embedded after the
// executable's own bytes, beside it, or given with --weights), binds them
// to the compiled entry points as described by the manifest, and runs them.
// Every error is one line naming the flag, field or tensor, exit status 2.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Executable.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Sampler.h"
#include "tptt/Runtime/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <malloc.h>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

using json = nlohmann::json;
namespace st = tptt::safetensors;
using namespace tptt::runtime;

namespace {

std::string programName = "tptt-model";

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", programName.c_str(), message.c_str());
  std::exit(2);
}

//===----------------------------------------------------------------------===//
// Command lines
//===----------------------------------------------------------------------===//

/// One subcommand's flags: `--name value`, `--name=value` or a switch.
class Flags {
public:
  Flags(std::string command, std::string usage)
      : command(std::move(command)), usage(std::move(usage)) {}

  /// Declares a flag that takes a value.
  void value(const std::string &name, const std::string &help) {
    known[name] = {true, help};
  }
  /// Declares a switch.
  void toggle(const std::string &name, const std::string &help) {
    known[name] = {false, help};
  }

  void parse(int argc, char **argv) {
    for (int i = 0; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        printHelp();
        std::exit(0);
      }
      if (arg.rfind("--", 0) != 0)
        die(command + ": unexpected argument '" + arg + "' (see --help)");
      std::string name = arg.substr(2), text;
      bool inline_ = false;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        text = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_ = true;
      }
      auto it = known.find(name);
      if (it == known.end())
        die(command + ": unknown flag '--" + name + "' (see --help)");
      if (it->second.takesValue && !inline_) {
        if (i + 1 >= argc)
          die(command + ": flag '--" + name + "' needs a value");
        text = argv[++i];
      } else if (!it->second.takesValue && inline_) {
        die(command + ": flag '--" + name + "' takes no value");
      }
      values[name] = text;
    }
  }

  bool has(const std::string &name) const { return values.count(name); }

  std::string text(const std::string &name, std::string fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }

  double number(const std::string &name, double fallback, double low,
                double high) const {
    if (!has(name))
      return fallback;
    const std::string &t = values.at(name);
    char *end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !std::isfinite(v) || v < low || v > high)
      die(command + ": flag '--" + name + "' must be a number in [" +
          format(low) + ", " + format(high) + "], not '" + t + "'");
    return v;
  }

  int64_t integer(const std::string &name, int64_t fallback, int64_t low,
                  int64_t high) const {
    if (!has(name))
      return fallback;
    const std::string &t = values.at(name);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end || errno || v < low || v > high)
      die(command + ": flag '--" + name + "' must be an integer in [" +
          std::to_string(low) + ", " + std::to_string(high) + "], not '" + t +
          "'");
    return v;
  }

private:
  static std::string format(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", v);
    return buffer;
  }

  void printHelp() const {
    std::printf("%s\n\nflags:\n", usage.c_str());
    for (const auto &[name, flag] : known)
      std::printf("  --%-18s %s\n",
                  (name + (flag.takesValue ? " V" : "")).c_str(),
                  flag.help.c_str());
    std::printf("  --%-18s %s\n", "help", "this text");
  }

  struct Flag {
    bool takesValue;
    std::string help;
  };
  std::string command, usage;
  std::map<std::string, Flag> known;
  std::map<std::string, std::string> values;
};

/// "1,2,3" → ids, each checked against the vocabulary.
std::vector<int64_t> parseTokens(const std::string &text, int64_t vocab,
                                 const std::string &flag) {
  std::vector<int64_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    char *end = nullptr;
    errno = 0;
    long long id = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end || errno)
      die("flag '--" + flag + "': '" + item + "' is not a token id");
    if (id < 0 || id >= vocab)
      die("flag '--" + flag + "': token id " + item +
          " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    ids.push_back(id);
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  return ids;
}

//===----------------------------------------------------------------------===//
// The model: manifest, weights, entry points
//===----------------------------------------------------------------------===//

/// A memref descriptor {allocated, aligned, offset, sizes, strides} over
/// row-major data.
std::vector<int64_t> descriptor(const void *data,
                                const std::vector<int64_t> &shape) {
  std::vector<int64_t> words(3 + 2 * shape.size());
  auto address = reinterpret_cast<int64_t>(data);
  words[0] = words[1] = address;
  words[2] = 0;
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    words[3 + d] = shape[d];
    words[3 + shape.size() + d] = stride;
    stride *= shape[d];
  }
  return words;
}

/// The path of the running executable.
std::string selfPath() {
  std::vector<char> buffer(4096);
  ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0)
    die("cannot find the executable's own path (/proc/self/exe)");
  return std::string(buffer.data(), n);
}

/// The offset of weights embedded in `path`, if it has any.
std::optional<uint64_t> embeddedWeightsOffset(const std::string &path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  auto size = static_cast<uint64_t>(in.tellg());
  if (!in || size < kWeightsTrailerBytes)
    return std::nullopt;
  char trailer[kWeightsTrailerBytes];
  in.seekg(size - kWeightsTrailerBytes);
  in.read(trailer, sizeof(trailer));
  if (!in || std::memcmp(trailer + 8, kWeightsMagic, 8) != 0)
    return std::nullopt;
  uint64_t offset;
  std::memcpy(&offset, trailer, 8);
  return offset;
}

/// A host tensor: row-major bytes of `dtype` ("f32", "f64", "i64", "i1").
struct Tensor {
  std::vector<int64_t> shape;
  std::string dtype;
  std::vector<uint8_t> bytes;

  static size_t width(const std::string &dtype) {
    return dtype == "i1" ? 1 : dtype == "f32" ? 4 : 8;
  }
  int64_t count() const {
    int64_t n = 1;
    for (int64_t size : shape)
      n *= size;
    return n;
  }
  static Tensor zeros(std::vector<int64_t> shape, std::string dtype) {
    Tensor t{std::move(shape), std::move(dtype), {}};
    t.bytes.assign(t.count() * width(t.dtype), 0);
    return t;
  }
  template <typename T> T *as() { return reinterpret_cast<T *>(bytes.data()); }
  template <typename T> const T *as() const {
    return reinterpret_cast<const T *>(bytes.data());
  }
};

using TensorMap = std::map<std::string, Tensor>;
using PackedFunction = void (*)(void **);

class Model {
public:
  Model() {
    json parsed = json::parse(tptt_manifest, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object())
      die("the embedded manifest is corrupt");
    manifest = std::move(parsed);
    vocab = manifest["vocab_size"].get<int64_t>();
  }

  const json &info() const { return manifest; }
  int64_t vocabSize() const { return vocab; }

  /// The tokenizer compiled in, or null when the model has none.
  const Tokenizer *tokenizer() {
    if (!tokenizerLoaded && tptt_tokenizer_json[0]) {
      std::string error;
      tokenizerInstance = Tokenizer::parse(tptt_tokenizer_json,
                                           "the embedded tokenizer", error);
      if (!tokenizerInstance)
        die(error);
    }
    tokenizerLoaded = true;
    return tokenizerInstance.get();
  }
  bool hasDecodeStep() const {
    return tptt_decode_step_packed && tptt_prefill_packed &&
           manifest["entries"].contains("tptt_decode_step") &&
           manifest["entries"].contains("tptt_prefill");
  }

  /// Maps the weights: `path` when given, else the embedded ones, else
  /// `<executable>.weights.safetensors`.
  void loadWeights(const std::string &path) {
    std::string error, self = selfPath();
    if (!path.empty()) {
      file = st::File::open(path, error);
    } else if (std::optional<uint64_t> offset = embeddedWeightsOffset(self)) {
      file = st::File::open(self, error, *offset);
    } else {
      std::string beside = self + ".weights.safetensors";
      file = st::File::open(beside, error);
      if (!file)
        die(error + " (this executable has no embedded weights; give "
                    "--weights FILE)");
    }
    if (!file)
      die(error);
    // The weights tptt-compile writes are in the entry points' layout;
    // any other file holds the model's own tensors (Hugging Face layout).
    bool entryLayout = file->metadata().count("tptt_layout") &&
                       file->metadata().at("tptt_layout") == "entry";
    for (const json &weight : manifest["weights"]) {
      std::string name = weight["name"].get<std::string>();
      std::string source = weight["source"].get<std::string>();
      bool transposed = weight["transposed"].get<bool>() && !entryLayout;
      auto shape = weight["shape"].get<std::vector<int64_t>>();
      std::vector<int64_t> stored = shape;
      if (transposed)
        std::swap(stored[0], stored[1]);
      std::string lookup = entryLayout ? name : source;
      const st::TensorView *view = file->find(lookup);
      if (!view)
        die(file->path() + ": missing weight '" + lookup + "'");
      if (view->shape != stored)
        die(file->path() + ": weight '" + lookup + "' has shape " +
            json(view->shape).dump() + ", the model needs " +
            json(stored).dump());
      const void *data = view->data;
      bool aligned = reinterpret_cast<uintptr_t>(data) % alignof(float) == 0;
      if (view->dtype != st::DType::F32 || !aligned || transposed) {
        if (view->dtype != st::DType::F32 && view->dtype != st::DType::BF16 &&
            view->dtype != st::DType::F16 && view->dtype != st::DType::F64)
          die(file->path() + ": weight '" + lookup + "' has dtype " +
              std::string(st::dtypeName(view->dtype)) +
              "; weights must be F32, BF16, F16 or F64");
        std::vector<float> &copy = converted.emplace_back(view->numElements());
        int64_t rows = stored[0], cols = stored.size() > 1 ? stored[1] : 1;
        for (int64_t i = 0; i < view->numElements(); ++i) {
          int64_t at = transposed ? (i % cols) * rows + i / cols : i;
          copy[at] = static_cast<float>(view->elementAsDouble(i));
        }
        data = copy.data();
      }
      weightData[name] = {data, shape};
    }
  }

  /// Calls the entry point `entry` with the inputs and caches in `given`
  /// (by name, shapes as the manifest says) and returns its results by
  /// name.
  TensorMap call(const std::string &entry,
                 std::initializer_list<const TensorMap *> givenMaps) {
    PackedFunction function = entry == "tptt_logits" ? tptt_logits_packed
                              : entry == "tptt_prefill"
                                  ? tptt_prefill_packed
                                  : tptt_decode_step_packed;
    const json &signature = manifest["entries"][entry];
    std::vector<std::vector<int64_t>> descriptors;
    std::set<int64_t> inputs;
    for (const json &argument : signature["arguments"]) {
      std::string name = argument["name"].get<std::string>();
      if (argument["kind"] == "weight") {
        const auto &[data, shape] = weightData.at(name);
        descriptors.push_back(descriptor(data, shape));
        continue;
      }
      const Tensor *value = nullptr;
      for (const TensorMap *given : givenMaps)
        if (auto it = given->find(name); it != given->end())
          value = &it->second;
      if (!value)
        die("internal error: no value for argument '" + name + "' of " + entry);
      descriptors.push_back(descriptor(value->bytes.data(), value->shape));
      inputs.insert(reinterpret_cast<int64_t>(value->bytes.data()));
    }
    size_t resultWords = 0;
    for (const json &result : signature["results"])
      resultWords += 3 + 2 * result["shape"].size();
    std::vector<int64_t> results(resultWords, 0);
    std::vector<void *> args = {results.data()};
    for (auto &d : descriptors)
      args.push_back(d.data());
    function(args.data());

    TensorMap out;
    std::set<int64_t> owned;
    size_t at = 0;
    for (const json &result : signature["results"]) {
      size_t rank = result["shape"].size();
      const int64_t *words = results.data() + at;
      at += 3 + 2 * rank;
      Tensor t{std::vector<int64_t>(words + 3, words + 3 + rank),
               result["dtype"].get<std::string>(),
               {}};
      size_t width = Tensor::width(t.dtype);
      t.bytes.resize(t.count() * width);
      const auto *base = reinterpret_cast<const uint8_t *>(words[1]);
      bool contiguous = true;
      for (int64_t d = rank, stride = 1; d-- > 0; stride *= t.shape[d])
        contiguous &= t.shape[d] == 1 || words[3 + rank + d] == stride;
      if (contiguous && !t.bytes.empty())
        std::memcpy(t.bytes.data(), base + words[2] * width, t.bytes.size());
      for (int64_t linear = 0; !contiguous && linear < t.count(); ++linear) {
        int64_t remaining = linear, element = words[2];
        for (size_t d = rank; d-- > 0;) {
          element += (remaining % t.shape[d]) * words[3 + rank + d];
          remaining /= t.shape[d];
        }
        std::memcpy(t.bytes.data() + linear * width, base + element * width,
                    width);
      }
      if (!inputs.count(words[0]))
        owned.insert(words[0]);
      out[result["name"].get<std::string>()] = std::move(t);
    }
    // Results may share an allocation: free each once, after all copies.
    for (int64_t allocation : owned)
      std::free(reinterpret_cast<void *>(allocation));
    return out;
  }

  /// Logits [B, S, vocab] of a left-padded batch: `tokens` and `mask`
  /// [B, S] row-major.
  std::vector<float> logits(const std::vector<int64_t> &tokens,
                            const std::vector<uint8_t> &mask, int64_t batch,
                            int64_t length, float mu) {
    Tensor out = std::move(
        forward("tptt_logits", tokens, mask, batch, length, mu).at("logits"));
    return std::vector<float>(out.as<float>(), out.as<float>() + out.count());
  }

  /// Calls the full-sequence entry `entry` (tptt_logits or tptt_prefill) on
  /// a left-padded batch and returns its results.
  TensorMap forward(const std::string &entry,
                    const std::vector<int64_t> &tokens,
                    const std::vector<uint8_t> &mask, int64_t batch,
                    int64_t length, float mu) {
    TensorMap given;
    Tensor &t = given["tokens"] = Tensor::zeros({batch, length}, "i64");
    Tensor &p = given["positions"] = Tensor::zeros({batch, length}, "i64");
    Tensor &m = given["mask"] = Tensor::zeros({batch, length}, "i1");
    given["mag_weight"] = Tensor::zeros({}, "f32");
    *given["mag_weight"].as<float>() = mu;
    // Positions count real tokens only, so a left-padded row sees the same
    // RoPE angles as when it is alone.
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0, seen = 0; s < length; ++s) {
        int64_t i = b * length + s;
        t.as<int64_t>()[i] = tokens[i];
        m.as<uint8_t>()[i] = mask[i];
        p.as<int64_t>()[i] = std::max<int64_t>(seen - 1 + mask[i], 0);
        seen += mask[i];
      }
    return call(entry, {&given});
  }

private:
  json manifest;
  int64_t vocab = 0;
  bool tokenizerLoaded = false;
  std::unique_ptr<Tokenizer> tokenizerInstance;
  std::unique_ptr<st::File> file;
  std::vector<std::vector<float>> converted;
  std::map<std::string, std::pair<const void *, std::vector<int64_t>>>
      weightData;
};

/// Whether the cache `name` holds softmax keys or values ([B, Hkv, T, d]).
bool isKeyValueCache(const std::string &name) {
  auto endsWith = [&](const char *suffix) {
    size_t n = std::strlen(suffix);
    return name.size() >= n && name.compare(name.size() - n, n, suffix) == 0;
  };
  return endsWith(".k") || endsWith(".v");
}

/// The decode state of a batch of sequences for @tptt_decode_step: the
/// caches of every layer, and per sequence its real-token count and which
/// cache rows are real.
class DecodeState {
public:
  DecodeState(Model &model, int64_t batch) : model(model), batch(batch) {
    const json &m = model.info();
    window = m["window_rows"].get<int64_t>();
    cacheRows = m.value("cache_rows", int64_t(-1));
    for (const json &argument : m["entries"]["tptt_decode_step"]["arguments"]) {
      if (argument["kind"] != "cache")
        continue;
      std::vector<int64_t> shape =
          argument["shape"].get<std::vector<int64_t>>();
      shape[0] = batch;
      for (int64_t &size : shape)
        if (size < 0)
          size = 0;
      caches[argument["name"].get<std::string>()] =
          Tensor::zeros(shape, argument["dtype"].get<std::string>());
    }
    counts.assign(batch, 0);
  }

  /// Runs the prompts (left-padded: row b starts at column pad[b]) through
  /// the full-sequence prefill and keeps its caches; returns the logits
  /// [B, vocab] after each prompt.
  std::vector<float> prefill(const std::vector<std::vector<int64_t>> &prompts,
                             const std::vector<int64_t> &pad, float mu) {
    int64_t length = 0;
    for (const auto &prompt : prompts)
      length = std::max<int64_t>(length, prompt.size());
    std::vector<int64_t> tokens(batch * length, 0);
    keyMask.assign(batch * length, 0);
    for (int64_t b = 0; b < batch; ++b) {
      for (size_t s = 0; s < prompts[b].size(); ++s) {
        tokens[b * length + pad[b] + s] = prompts[b][s];
        keyMask[b * length + pad[b] + s] = 1;
      }
      counts[b] = prompts[b].size();
    }
    TensorMap out =
        model.forward("tptt_prefill", tokens, keyMask, batch, length, mu);
    for (auto &[name, cache] : caches)
      cache = std::move(out.at(name));
    cropCaches();
    int64_t vocab = model.vocabSize();
    const float *all = out.at("logits").as<float>();
    std::vector<float> last(batch * vocab);
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(last.data() + b * vocab, all + ((b + 1) * length - 1) * vocab,
                  vocab * sizeof(float));
    return last;
  }

  /// Feeds one token per sequence (after prefill); returns the logits
  /// [B, vocab].
  std::vector<float> step(const std::vector<int64_t> &tokens, float mu) {
    int64_t keys = keyMask.size() / std::max<int64_t>(batch, 1) + 1;
    TensorMap given;
    Tensor &t = given["tokens"] = Tensor::zeros({batch, 1}, "i64");
    Tensor &p = given["positions"] = Tensor::zeros({batch, 1}, "i64");
    Tensor &k = given["key_mask"] = Tensor::zeros({batch, keys}, "i1");
    Tensor &w = given["window_mask"] = Tensor::zeros({batch, window}, "i1");
    given["mag_weight"] = Tensor::zeros({}, "f32");
    *given["mag_weight"].as<float>() = mu;
    std::vector<uint8_t> nextMask(batch * keys);
    for (int64_t b = 0; b < batch; ++b) {
      t.as<int64_t>()[b] = tokens[b];
      p.as<int64_t>()[b] = counts[b];
      for (int64_t j = 0; j + 1 < keys; ++j)
        nextMask[b * keys + j] = keyMask[b * (keys - 1) + j];
      nextMask[b * keys + keys - 1] = 1;
      for (int64_t i = 0; i < window; ++i)
        w.as<uint8_t>()[b * window + i] =
            i == window - 1 ? 1 : counts[b] >= window - 1 - i;
    }
    std::memcpy(k.bytes.data(), nextMask.data(), nextMask.size());
    TensorMap out = model.call("tptt_decode_step", {&given, &caches});
    for (auto &[name, cache] : caches)
      cache = std::move(out.at(name));
    keyMask = std::move(nextMask);
    for (int64_t b = 0; b < batch; ++b)
      ++counts[b];
    cropCaches();
    Tensor &logits = out.at("logits");
    return std::vector<float>(logits.as<float>(),
                              logits.as<float>() + logits.count());
  }

  /// Bytes held by the caches (constant once the ring is full).
  size_t cacheBytes() const {
    size_t total = keyMask.size();
    for (const auto &[name, cache] : caches)
      total += cache.bytes.size();
    return total;
  }

private:
  /// With every layer windowed, keys older than the widest window are never
  /// seen again: keep the last cacheRows − 1 (the next token joins them).
  void cropCaches() {
    int64_t keys = keyMask.size() / std::max<int64_t>(batch, 1);
    if (cacheRows < 0 || keys < cacheRows)
      return;
    int64_t drop = keys - (cacheRows - 1);
    for (auto &[name, cache] : caches) {
      if (!isKeyValueCache(name))
        continue;
      Tensor cropped = cache;
      cropped.shape[2] = keys - drop;
      size_t width = Tensor::width(cache.dtype);
      size_t rowBytes = cache.shape[3] * width;
      cropped.bytes.resize(cropped.count() * width);
      for (int64_t outer = 0; outer < cache.shape[0] * cache.shape[1]; ++outer)
        std::memcpy(cropped.bytes.data() + outer * (keys - drop) * rowBytes,
                    cache.bytes.data() + (outer * keys + drop) * rowBytes,
                    (keys - drop) * rowBytes);
      cache = std::move(cropped);
    }
    std::vector<uint8_t> mask(batch * (keys - drop));
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(mask.data() + b * (keys - drop),
                  keyMask.data() + b * keys + drop, keys - drop);
    keyMask = std::move(mask);
  }

  Model &model;
  int64_t batch;
  int64_t window = 3;
  int64_t cacheRows = -1;
  TensorMap caches;
  std::vector<uint8_t> keyMask;
  std::vector<int64_t> counts;
};

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

//===----------------------------------------------------------------------===//
// Subcommands
//===----------------------------------------------------------------------===//

int runInfo(Model &model, int argc, char **argv) {
  Flags flags("info", programName + " info: what this executable computes");
  flags.toggle("json", "print the whole manifest as JSON");
  flags.parse(argc, argv);
  const json &m = model.info();
  if (flags.has("json")) {
    std::printf("%s\n", m.dump(2).c_str());
    return 0;
  }
  std::string layers;
  for (const json &layer : m["liza_layers"])
    layers +=
        (layers.empty() ? "" : ",") + std::to_string(layer.get<int64_t>());
  std::printf("architecture:    %s\n",
              m["architecture"].get<std::string>().c_str());
  std::printf("parameters:      %lld\n",
              static_cast<long long>(m["parameters"].get<int64_t>()));
  std::printf("layers:          %lld (hidden %lld, %lld heads, %lld kv heads, "
              "head_dim %lld, vocab %lld)\n",
              static_cast<long long>(m["num_layers"].get<int64_t>()),
              static_cast<long long>(m["hidden_size"].get<int64_t>()),
              static_cast<long long>(m["num_heads"].get<int64_t>()),
              static_cast<long long>(m["num_kv_heads"].get<int64_t>()),
              static_cast<long long>(m["head_dim"].get<int64_t>()),
              static_cast<long long>(m["vocab_size"].get<int64_t>()));
  std::printf("liza layers:     %s\n",
              layers.empty() ? "none" : layers.c_str());
  std::printf("operator mode:   %s (order %lld, alpha_gate %s, beta_gate %s, "
              "%s, trick %s)\n",
              m["operator_mode"].get<std::string>().c_str(),
              static_cast<long long>(m["order"].get<int64_t>()),
              m["alpha_gate"].get<std::string>().c_str(),
              m["beta_gate"].get<std::string>().c_str(),
              m["linear"].get<bool>() ? "linear" : "nonlinear",
              m["trick"].get<std::string>().c_str());
  std::printf("semantics:       %s\n",
              m["semantics"].get<std::string>().c_str());
  std::printf("mag_weight:      %g\n", m["mag_weight"].get<double>());
  std::printf("target:          %s\n", m["target"].get<std::string>().c_str());
  if (m.contains("adapter") && m["adapter"].is_string())
    std::printf("adapter:         %s\n",
                m["adapter"].get<std::string>().c_str());
  std::printf("tokenizer:       %s\n",
              m.value("tokenizer", false) ? "yes (tokenizer.json)" : "none");
  std::printf("weights:         %s\n",
              m["weights_location"].get<std::string>().c_str());
  return 0;
}

void addCommonFlags(Flags &flags) {
  flags.value("weights", "a safetensors file to use instead of the model's own "
                         "weights");
  flags.value("mag-weight", "the Memory-as-Gate weight μ in [0, 1] (default: "
                            "the config's)");
}

float magWeight(const Flags &flags, const Model &model) {
  return static_cast<float>(flags.number(
      "mag-weight", model.info()["mag_weight"].get<double>(), 0.0, 1.0));
}

/// The ids of the text `text` (with the tokenizer's BOS template), for the
/// flag `flag`.
std::vector<int64_t> encodePrompt(Model &model, const std::string &text,
                                  const std::string &flag) {
  const Tokenizer *tokenizer = model.tokenizer();
  if (!tokenizer)
    die("flag '--" + flag +
        "': this model has no tokenizer (compile a model directory with a "
        "tokenizer.json), give token ids instead");
  std::string error;
  std::optional<std::vector<int64_t>> ids =
      tokenizer->encode(text, /*addSpecialTokens=*/true, error);
  if (!ids)
    die("flag '--" + flag + "': " + error);
  if (ids->empty())
    die("flag '--" + flag + "': the prompt has no tokens");
  return *ids;
}

int runLogits(Model &model, int argc, char **argv) {
  Flags flags("logits", programName +
                            " logits --tokens 1,2,3 | --prompt TEXT [--out "
                            "F.safetensors]: the full-sequence forward; F32 "
                            "logits [S, vocab]");
  flags.value("tokens", "comma-separated token ids");
  flags.value("prompt", "text, encoded with the model's tokenizer");
  flags.value("out", "write the logits to this safetensors file (tensor "
                     "'logits'); default: print them as text");
  addCommonFlags(flags);
  flags.parse(argc, argv);
  if (flags.has("tokens") == flags.has("prompt"))
    die("logits: give exactly one of '--tokens' and '--prompt' (see --help)");
  std::vector<int64_t> tokens =
      flags.has("tokens")
          ? parseTokens(flags.text("tokens"), model.vocabSize(), "tokens")
          : encodePrompt(model, flags.text("prompt"), "prompt");
  model.loadWeights(flags.text("weights"));
  int64_t length = tokens.size(), vocab = model.vocabSize();
  std::vector<uint8_t> mask(length, 1);
  std::vector<float> logits =
      model.logits(tokens, mask, 1, length, magWeight(flags, model));
  if (flags.has("out")) {
    st::OwnedTensor tensor{"logits", st::DType::F32, {length, vocab}, {}};
    tensor.bytes.resize(logits.size() * sizeof(float));
    std::memcpy(tensor.bytes.data(), logits.data(), tensor.bytes.size());
    std::string error;
    if (!st::write(flags.text("out"), {tensor}, {}, error))
      die(error);
    return 0;
  }
  for (int64_t s = 0; s < length; ++s) {
    for (int64_t v = 0; v < vocab; ++v)
      std::printf(v ? " %.7g" : "%.7g", logits[s * vocab + v]);
    std::printf("\n");
  }
  return 0;
}

/// Reads one prompt per line from `path`: text when the model has a
/// tokenizer, token ids ("1,2,3") otherwise.
std::vector<std::vector<int64_t>> readPrompts(Model &model,
                                              const std::string &path) {
  std::ifstream in(path);
  if (!in)
    die("flag '--prompts': cannot open " + path);
  std::vector<std::vector<int64_t>> prompts;
  std::string line;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos)
      prompts.push_back(model.tokenizer()
                            ? encodePrompt(model, line, "prompts")
                            : parseTokens(line, model.vocabSize(), "prompts"));
  if (prompts.empty())
    die("flag '--prompts': " + path + " has no prompts");
  return prompts;
}

int runGenerate(Model &model, int argc, char **argv) {
  Flags flags("generate", programName +
                              " generate --prompt TEXT | --tokens IDS | "
                              "--prompts FILE [sampling flags]: continues "
                              "the sequences, streaming the new text");
  flags.value("prompt", "text, encoded with the model's tokenizer");
  flags.value("tokens", "comma-separated prompt token ids");
  flags.value("prompts", "a file with one prompt per line (text, or token "
                         "ids for a model without tokenizer), generated as "
                         "one left-padded batch");
  flags.value("max-new-tokens", "how many tokens to add (default 32)");
  flags.value("temperature", "softmax temperature (default 1; 0 is greedy)");
  flags.value("top-k", "sample among the k most likely tokens (default: all)");
  flags.value("top-p", "sample among the most likely tokens reaching "
                       "probability p (default 1)");
  flags.value("seed", "random seed (default 0)");
  flags.toggle("greedy", "always take the most likely token");
  flags.value("logits-out", "write the logits each new token was drawn from "
                            "to this safetensors file ('logits' [B, N, "
                            "vocab])");
  addCommonFlags(flags);
  flags.parse(argc, argv);
  int64_t vocab = model.vocabSize();
  std::vector<std::vector<int64_t>> prompts;
  if (flags.has("tokens") + flags.has("prompts") + flags.has("prompt") != 1)
    die("generate: give exactly one of '--prompt', '--tokens' and "
        "'--prompts' (see --help)");
  if (flags.has("tokens"))
    prompts.push_back(parseTokens(flags.text("tokens"), vocab, "tokens"));
  else if (flags.has("prompt"))
    prompts.push_back(encodePrompt(model, flags.text("prompt"), "prompt"));
  else
    prompts = readPrompts(model, flags.text("prompts"));
  // Text out when the prompt was text; token ids otherwise.
  const Tokenizer *tokenizer =
      flags.has("tokens") ? nullptr : model.tokenizer();
  size_t printed = 0;
  int64_t maxPositions = model.info()["max_position_embeddings"].get<int64_t>();
  SamplingOptions sampling;
  int64_t newTokens = flags.integer("max-new-tokens", 32, 0, maxPositions);
  sampling.temperature = flags.number("temperature", 1.0, 0.0, 1e6);
  sampling.topK = flags.integer("top-k", 0, 0, vocab);
  sampling.topP = flags.number("top-p", 1.0, 0.0, 1.0);
  sampling.seed = flags.integer("seed", 0, 0, INT64_MAX);
  sampling.greedy = flags.has("greedy");
  float mu = magWeight(flags, model);
  model.loadWeights(flags.text("weights"));

  std::vector<int64_t> eos;
  for (const json &id : model.info()["eos_token_ids"])
    eos.push_back(id.get<int64_t>());
  auto batch = static_cast<int64_t>(prompts.size());
  int64_t longest = 0, promptTokens = 0;
  for (const auto &prompt : prompts) {
    longest = std::max<int64_t>(longest, prompt.size());
    promptTokens += prompt.size();
  }
  if (longest + newTokens > maxPositions)
    newTokens = std::max<int64_t>(maxPositions - longest, 0);

  // Left-padded sequences: row b starts at column pad[b].
  std::vector<std::vector<int64_t>> sequences = prompts;
  std::vector<int64_t> pad(batch);
  for (int64_t b = 0; b < batch; ++b)
    pad[b] = longest - prompts[b].size();
  std::vector<Sampler> samplers;
  for (int64_t b = 0; b < batch; ++b) {
    SamplingOptions perSequence = sampling;
    perSequence.seed = sampling.seed + b;
    samplers.emplace_back(perSequence);
  }
  std::vector<float> drawnFrom;
  std::vector<uint8_t> finished(batch, 0);
  double prefillSeconds = 0.0, decodeSeconds = 0.0;
  int64_t decodedTokens = 0;
  size_t cacheBytes = 0;

  // The next-token logits [B, vocab] after the sequences so far: decode
  // steps on the caches when the model has them, else the full forward.
  std::optional<DecodeState> state;
  if (model.hasDecodeStep())
    state.emplace(model, batch);
  auto nextLogits = [&](int64_t generated) -> std::vector<float> {
    if (state && generated == 0)
      return state->prefill(prompts, pad, mu);
    if (state) {
      std::vector<int64_t> tokens(batch);
      for (int64_t b = 0; b < batch; ++b)
        tokens[b] = sequences[b].back();
      return state->step(tokens, mu);
    }
    int64_t length = longest + generated;
    std::vector<int64_t> tokens(batch * length, 0);
    std::vector<uint8_t> mask(batch * length, 0);
    for (int64_t b = 0; b < batch; ++b)
      for (size_t s = 0; s < sequences[b].size(); ++s) {
        tokens[b * length + pad[b] + s] = sequences[b][s];
        mask[b * length + pad[b] + s] = 1;
      }
    std::vector<float> all = model.logits(tokens, mask, batch, length, mu);
    std::vector<float> last(batch * vocab);
    for (int64_t b = 0; b < batch; ++b)
      std::memcpy(last.data() + b * vocab,
                  all.data() + ((b + 1) * length - 1) * vocab,
                  vocab * sizeof(float));
    return last;
  };

  int64_t generated = 0;
  for (; generated < newTokens; ++generated) {
    auto start = std::chrono::steady_clock::now();
    std::vector<float> logits = nextLogits(generated);
    (generated == 0 ? prefillSeconds : decodeSeconds) += seconds(start);
    if (generated > 0)
      decodedTokens += batch;
    if (flags.has("logits-out"))
      drawnFrom.insert(drawnFrom.end(), logits.begin(), logits.end());
    for (int64_t b = 0; b < batch; ++b) {
      int64_t next = samplers[b].sample(logits.data() + b * vocab, vocab);
      sequences[b].push_back(next);
      if (std::find(eos.begin(), eos.end(), next) != eos.end())
        finished[b] = 1;
    }
    if (batch == 1 && tokenizer) {
      std::vector<int64_t> fresh(sequences[0].begin() + prompts[0].size(),
                                 sequences[0].end());
      std::fputs(tokenizer->decodeIncrement(fresh, printed).c_str(), stdout);
      std::fflush(stdout);
    } else if (batch == 1) {
      std::printf("%s%lld", generated ? "," : "",
                  static_cast<long long>(sequences[0].back()));
      std::fflush(stdout);
    }
    if (state)
      cacheBytes = state->cacheBytes();
    if (std::count(finished.begin(), finished.end(), 1) == batch) {
      ++generated;
      break;
    }
  }
  if (batch == 1) {
    std::printf("\n");
  } else {
    for (int64_t b = 0; b < batch; ++b) {
      std::printf("[%lld]", static_cast<long long>(b));
      std::vector<int64_t> fresh(sequences[b].begin() + prompts[b].size(),
                                 sequences[b].end());
      if (tokenizer)
        std::printf(" %s", tokenizer->decode(fresh, true).c_str());
      for (size_t i = 0; !tokenizer && i < fresh.size(); ++i)
        std::printf("%s%lld", i == 0 ? " " : ",",
                    static_cast<long long>(fresh[i]));
      std::printf("\n");
    }
  }
  if (flags.has("logits-out")) {
    // Drawn [N, B, V]; written [B, N, V].
    st::OwnedTensor tensor{
        "logits", st::DType::F32, {batch, generated, vocab}, {}};
    tensor.bytes.resize(drawnFrom.size() * sizeof(float));
    auto *out = reinterpret_cast<float *>(tensor.bytes.data());
    for (int64_t n = 0; n < generated; ++n)
      for (int64_t b = 0; b < batch; ++b)
        std::memcpy(out + (b * generated + n) * vocab,
                    drawnFrom.data() + (n * batch + b) * vocab,
                    vocab * sizeof(float));
    std::string error;
    if (!st::write(flags.text("logits-out"), {tensor}, {}, error))
      die(error);
  }
  std::fflush(stdout);
  std::fprintf(
      stderr,
      "prefill: %lld tokens, %.1f tokens/s; decode: %lld tokens, "
      "%.1f tokens/s%s\n",
      static_cast<long long>(promptTokens),
      prefillSeconds > 0 ? promptTokens / prefillSeconds : 0.0,
      static_cast<long long>(decodedTokens),
      decodeSeconds > 0 ? decodedTokens / decodeSeconds : 0.0,
      state ? (", cache " + std::to_string(cacheBytes / 1024) + " KiB").c_str()
            : "");
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  // The compiled code allocates its buffers afresh on every call: keep freed
  // memory in the heap instead of returning it to the kernel, or every call
  // pays page faults for its large buffers again.
  mallopt(M_MMAP_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  if (argc > 0) {
    programName = argv[0];
    if (size_t slash = programName.rfind('/'); slash != std::string::npos)
      programName = programName.substr(slash + 1);
  }
  std::string usage = "usage: " + programName +
                      " <command> [flags]\n\ncommands:\n"
                      "  info       what this executable computes\n"
                      "  logits     full-sequence forward, logits [S, vocab]\n"
                      "  generate   continue a token sequence\n\n"
                      "'" +
                      programName +
                      " <command> --help' lists a command's flags.";
  if (argc < 2) {
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
  }
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::printf("%s\n", usage.c_str());
    return 0;
  }
  Model model;
  using Runner = std::function<int(Model &, int, char **)>;
  std::map<std::string, Runner> commands = {
      {"info", runInfo}, {"logits", runLogits}, {"generate", runGenerate}};
  auto it = commands.find(command);
  if (it == commands.end())
    die("unknown command '" + command + "' (info, logits, generate)");
  return it->second(model, argc - 2, argv + 2);
}

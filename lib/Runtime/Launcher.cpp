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
#include <map>
#include <memory>
#include <optional>
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
    std::string item = text.substr(start, comma == std::string::npos
                                              ? std::string::npos
                                              : comma - start);
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
    for (const json &weight : manifest["weights"]) {
      std::string name = weight["name"].get<std::string>();
      auto shape = weight["shape"].get<std::vector<int64_t>>();
      const st::TensorView *view = file->find(name);
      if (!view)
        die(file->path() + ": missing weight '" + name + "'");
      if (view->shape != shape)
        die(file->path() + ": weight '" + name + "' has shape " +
            json(view->shape).dump() + ", the model needs " +
            json(shape).dump());
      const void *data = view->data;
      if (view->dtype != st::DType::F32) {
        if (view->dtype != st::DType::BF16 && view->dtype != st::DType::F16 &&
            view->dtype != st::DType::F64)
          die(file->path() + ": weight '" + name + "' has dtype " +
              std::string(st::dtypeName(view->dtype)) +
              "; weights must be F32, BF16, F16 or F64");
        std::vector<float> &copy = converted.emplace_back(view->numElements());
        for (int64_t i = 0; i < view->numElements(); ++i)
          copy[i] = static_cast<float>(view->elementAsDouble(i));
        data = copy.data();
      } else if (reinterpret_cast<uintptr_t>(data) % alignof(float) != 0) {
        std::vector<float> &copy = converted.emplace_back(view->numElements());
        std::memcpy(copy.data(), data, view->bytes);
        data = copy.data();
      }
      weightDescriptors.push_back(descriptor(data, shape));
    }
  }

  /// Logits [B, S, vocab] of a left-padded batch: `tokens` and `mask`
  /// [B, S] row-major.
  std::vector<float> logits(const std::vector<int64_t> &tokens,
                            const std::vector<uint8_t> &mask, int64_t batch,
                            int64_t length, float mu) {
    // Positions count real tokens only, so a left-padded row sees the same
    // RoPE angles as when it is alone.
    std::vector<int64_t> positions(tokens.size());
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0, seen = 0; s < length; ++s) {
        positions[b * length + s] = std::max<int64_t>(seen - 1 + mask[b * length + s], 0);
        seen += mask[b * length + s];
      }
    std::vector<int64_t> shape = {batch, length};
    std::vector<std::vector<int64_t>> inputs = {
        descriptor(tokens.data(), shape), descriptor(positions.data(), shape),
        descriptor(mask.data(), shape), descriptor(&mu, {})};
    std::vector<int64_t> result(3 + 2 * 3, 0);
    std::vector<void *> args = {result.data()};
    for (auto &input : inputs)
      args.push_back(input.data());
    for (auto &weight : weightDescriptors)
      args.push_back(weight.data());
    tptt_logits_packed(args.data());

    int64_t count = batch * length * vocab;
    std::vector<float> out(count);
    const auto *base = reinterpret_cast<const float *>(result[1]) + result[2];
    std::memcpy(out.data(), base, count * sizeof(float));
    std::free(reinterpret_cast<void *>(result[0]));
    return out;
  }

private:
  json manifest;
  int64_t vocab = 0;
  std::unique_ptr<st::File> file;
  std::vector<std::vector<float>> converted;
  std::vector<std::vector<int64_t>> weightDescriptors;
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
    layers += (layers.empty() ? "" : ",") + std::to_string(layer.get<int64_t>());
  std::printf("architecture:    %s\n", m["architecture"].get<std::string>().c_str());
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
  std::printf("liza layers:     %s\n", layers.empty() ? "none" : layers.c_str());
  std::printf("operator mode:   %s (order %lld, alpha_gate %s, beta_gate %s, "
              "%s, trick %s)\n",
              m["operator_mode"].get<std::string>().c_str(),
              static_cast<long long>(m["order"].get<int64_t>()),
              m["alpha_gate"].get<std::string>().c_str(),
              m["beta_gate"].get<std::string>().c_str(),
              m["linear"].get<bool>() ? "linear" : "nonlinear",
              m["trick"].get<std::string>().c_str());
  std::printf("semantics:       %s\n", m["semantics"].get<std::string>().c_str());
  std::printf("mag_weight:      %g\n", m["mag_weight"].get<double>());
  std::printf("target:          %s\n", m["target"].get<std::string>().c_str());
  std::printf("weights:         %s\n", m["weights_location"].get<std::string>().c_str());
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

int runLogits(Model &model, int argc, char **argv) {
  Flags flags("logits",
              programName + " logits --tokens 1,2,3 [--out F.safetensors]: "
                            "the full-sequence forward; F32 logits [S, vocab]");
  flags.value("tokens", "comma-separated token ids (required)");
  flags.value("out", "write the logits to this safetensors file (tensor "
                     "'logits'); default: print them as text");
  addCommonFlags(flags);
  flags.parse(argc, argv);
  if (!flags.has("tokens"))
    die("logits: flag '--tokens' is required (see --help)");
  std::vector<int64_t> tokens =
      parseTokens(flags.text("tokens"), model.vocabSize(), "tokens");
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

int runGenerate(Model &model, int argc, char **argv) {
  Flags flags("generate",
              programName + " generate --tokens IDS [sampling flags]: "
                            "continues the sequence, printing each new token");
  flags.value("tokens", "comma-separated prompt token ids (required)");
  flags.value("max-new-tokens", "how many tokens to add (default 32)");
  flags.value("temperature", "softmax temperature (default 1; 0 is greedy)");
  flags.value("top-k", "sample among the k most likely tokens (default: all)");
  flags.value("top-p", "sample among the most likely tokens reaching "
                       "probability p (default 1)");
  flags.value("seed", "random seed (default 0)");
  flags.toggle("greedy", "always take the most likely token");
  addCommonFlags(flags);
  flags.parse(argc, argv);
  if (!flags.has("tokens"))
    die("generate: flag '--tokens' is required (see --help)");
  std::vector<int64_t> sequence =
      parseTokens(flags.text("tokens"), model.vocabSize(), "tokens");
  int64_t maxPositions = model.info()["max_position_embeddings"].get<int64_t>();
  SamplingOptions sampling;
  int64_t newTokens = flags.integer("max-new-tokens", 32, 0, maxPositions);
  sampling.temperature = flags.number("temperature", 1.0, 0.0, 1e6);
  sampling.topK = flags.integer("top-k", 0, 0, model.vocabSize());
  sampling.topP = flags.number("top-p", 1.0, 0.0, 1.0);
  sampling.seed = flags.integer("seed", 0, 0, INT64_MAX);
  sampling.greedy = flags.has("greedy");
  float mu = magWeight(flags, model);
  model.loadWeights(flags.text("weights"));

  std::vector<int64_t> eos;
  for (const json &id : model.info()["eos_token_ids"])
    eos.push_back(id.get<int64_t>());
  Sampler sampler(sampling);
  int64_t vocab = model.vocabSize(), prompt = sequence.size();
  double prefillSeconds = 0.0, decodeSeconds = 0.0;
  int64_t generated = 0;
  for (; generated < newTokens; ++generated) {
    if (static_cast<int64_t>(sequence.size()) >= maxPositions)
      break;
    auto start = std::chrono::steady_clock::now();
    int64_t length = sequence.size();
    std::vector<uint8_t> mask(length, 1);
    std::vector<float> logits = model.logits(sequence, mask, 1, length, mu);
    int64_t next = sampler.sample(logits.data() + (length - 1) * vocab, vocab);
    (generated == 0 ? prefillSeconds : decodeSeconds) += seconds(start);
    sequence.push_back(next);
    std::printf("%s%lld", generated ? "," : "", static_cast<long long>(next));
    std::fflush(stdout);
    if (std::find(eos.begin(), eos.end(), next) != eos.end()) {
      ++generated;
      break;
    }
  }
  std::printf("\n");
  std::fprintf(stderr, "prefill: %lld tokens, %.1f tokens/s; decode: %lld "
                       "tokens, %.1f tokens/s\n",
               static_cast<long long>(prompt),
               prefillSeconds > 0 ? prompt / prefillSeconds : 0.0,
               static_cast<long long>(generated > 0 ? generated - 1 : 0),
               decodeSeconds > 0 ? (generated - 1) / decodeSeconds : 0.0);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 0) {
    programName = argv[0];
    if (size_t slash = programName.rfind('/'); slash != std::string::npos)
      programName = programName.substr(slash + 1);
  }
  std::string usage =
      "usage: " + programName +
      " <command> [flags]\n\ncommands:\n"
      "  info       what this executable computes\n"
      "  logits     full-sequence forward, logits [S, vocab]\n"
      "  generate   continue a token sequence\n\n"
      "'" + programName + " <command> --help' lists a command's flags.";
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

//===- Launcher.cpp - main() of the executables tptt-compile makes --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// `EXE info | logits | generate | train`: the command line over the model
// runner (Runtime/ModelRunner.h), which finds the weights (embedded after the
// executable's own bytes, beside it, or given with --weights) and calls the
// compiled entry points. Every error is one line naming the flag, field or
// tensor, exit status 2.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/CudaDriver.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Flags.h"
#include "tptt/Runtime/ModelRunner.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Sampler.h"
#include "tptt/Runtime/Tokenizer.h"

#include <algorithm>
#include <cerrno>
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
#include <string>
#include <unistd.h>
#include <vector>

namespace st = tptt::safetensors;
using namespace tptt::runtime;

using namespace tptt::launcher;

namespace {

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

/// The path of the running executable.
std::string selfPath() {
  std::vector<char> buffer(4096);
  ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0)
    die("cannot find the executable's own path (/proc/self/exe)");
  return std::string(buffer.data(), n);
}

/// The model and its weights, with errors reported as one line and exit 2.
class Model {
public:
  Model() {
    std::string error;
    runner = ModelRunner::open(error);
    if (!runner)
      die(error);
  }
  ModelRunner &get() { return *runner; }
  const tptt::interface::ModelInterface &manifest() const {
    return runner->manifest();
  }
  int64_t vocabSize() const { return runner->vocabSize(); }
  const Tokenizer *tokenizer() {
    std::string error;
    const Tokenizer *tokenizer = runner->tokenizer(error);
    if (!error.empty())
      die(error);
    return tokenizer;
  }
  void loadWeights(const std::string &path) {
    std::string error;
    if (!runner->loadWeights(path, selfPath(), error))
      die(error);
  }
  void setDevice(const std::string &name) {
    std::string error;
    if (!runner->setDevice(name, error))
      die(error);
  }
  std::vector<float> logits(const std::vector<int64_t> &tokens,
                            const std::vector<uint8_t> &mask, int64_t batch,
                            int64_t length, float mu) {
    return runner->logits(tokens, mask, batch, length, mu);
  }

private:
  std::unique_ptr<ModelRunner> runner;
};

//===----------------------------------------------------------------------===//
// Subcommands
//===----------------------------------------------------------------------===//

int runInfo(Model &model, int argc, char **argv) {
  Flags flags("info", programName + " info: what this executable computes");
  flags.toggle("json", "print the whole manifest as JSON");
  flags.parse(argc, argv);
  const tptt::interface::ModelInterface &m = model.manifest();
  if (flags.has("json")) {
    std::printf("%s\n", m.toJson().dump(2).c_str());
    return 0;
  }
  std::string layers;
  for (int64_t layer : m.lizaLayers)
    layers += (layers.empty() ? "" : ",") + std::to_string(layer);
  std::printf("architecture:    %s\n", m.architecture.c_str());
  std::printf("parameters:      %lld\n", static_cast<long long>(m.parameters));
  std::printf(
      "layers:          %lld (hidden %lld, %lld heads, %lld kv heads, "
      "head_dim %lld, vocab %lld)\n",
      static_cast<long long>(m.numLayers), static_cast<long long>(m.hiddenSize),
      static_cast<long long>(m.numHeads), static_cast<long long>(m.numKvHeads),
      static_cast<long long>(m.headDim), static_cast<long long>(m.vocabSize));
  std::printf("liza layers:     %s\n",
              layers.empty() ? "none" : layers.c_str());
  std::printf("operator mode:   %s (order %lld, alpha_gate %s, beta_gate %s, "
              "%s, trick %s)\n",
              m.operatorMode.c_str(), static_cast<long long>(m.order),
              m.alphaGate.c_str(), m.betaGate.c_str(),
              m.linear ? "linear" : "nonlinear", m.trick.c_str());
  std::printf("semantics:       %s\n", m.semantics.c_str());
  std::printf("linear branch:   %s\n", m.linearPrecision.c_str());
  std::printf("mag_weight:      %g\n", m.magWeight);
  std::string target = m.target;
  if (m.cuda)
    target += " (" + m.cuda->chip + ", " + m.cuda->ptxFeatures + ", " +
              m.cuda->gpuFormat + "; and the CPU with --device cpu)";
  std::printf("target:          %s\n", target.c_str());
  std::printf("cuda device:     %s\n", cuda::describeDevice(0).c_str());
  if (m.adapter)
    std::printf("adapter:         %s\n", m.adapter->c_str());
  for (const auto &[key, why] : m.ignoredConfigKeys)
    std::printf("ignored key:     %s (%s)\n", key.c_str(), why.c_str());
  std::printf("tokenizer:       %s\n",
              m.tokenizer ? "yes (tokenizer.json)" : "none");
  std::printf("weights:         %s, %s\n", m.weightsLocation.c_str(),
              tptt::interface::weightTypeName(m.weightType));
  return 0;
}

void addCommonFlags(Flags &flags) {
  flags.value("weights", "a safetensors file to use instead of the model's own "
                         "weights");
  flags.value("mag-weight", "the Memory-as-Gate weight μ in [0, 1] (default: "
                            "the config's)");
  flags.value("device", "cpu or cuda: where the model runs (default: cuda "
                        "when it was compiled with --target cuda)");
}

float magWeight(const Flags &flags, const Model &model) {
  return static_cast<float>(
      flags.number("mag-weight", model.manifest().magWeight, 0.0, 1.0));
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

/// Ends the program when a sequence of `length` tokens does not fit the
/// model's positions (max_position_embeddings): the model was not trained
/// on them, and a decode cache holds no more.
void checkPositions(Model &model, size_t length, const std::string &command) {
  int64_t maxPositions = model.manifest().maxPositions;
  if (static_cast<int64_t>(length) > maxPositions)
    die(command + ": the prompt has " + std::to_string(length) +
        " tokens, more than the model's max_position_embeddings (" +
        std::to_string(maxPositions) + ")");
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
  checkPositions(model, tokens.size(), "logits");
  model.loadWeights(flags.text("weights"));
  model.setDevice(flags.text("device"));
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
  std::string error;
  std::optional<std::string> text = readRegularFile(path, kMaxTextBytes, error);
  if (!text)
    die("flag '--prompts': " + error);
  std::istringstream in(*text);
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
  int64_t maxPositions = model.manifest().maxPositions;
  SamplingOptions sampling;
  int64_t newTokens = flags.integer("max-new-tokens", 32, 0, maxPositions);
  sampling.temperature = flags.number("temperature", 1.0, 0.0, 1e6);
  sampling.topK = flags.integer("top-k", 0, 0, vocab);
  sampling.topP = flags.number("top-p", 1.0, 0.0, 1.0);
  sampling.seed = flags.integer("seed", 0, 0, INT64_MAX);
  sampling.greedy = flags.has("greedy");
  float mu = magWeight(flags, model);
  size_t longest = 0;
  for (const std::vector<int64_t> &prompt : prompts)
    longest = std::max(longest, prompt.size());
  checkPositions(model, longest, "generate");
  // The positions left after the longest prompt bound the new tokens: say
  // so rather than stop short silently.
  if (int64_t room = maxPositions - static_cast<int64_t>(longest);
      newTokens > room) {
    std::fprintf(stderr,
                 "%s: warning: generate: max_position_embeddings (%lld) "
                 "leaves room for %lld of the %lld new tokens asked for after "
                 "a prompt of %zu tokens\n",
                 programName.c_str(), static_cast<long long>(maxPositions),
                 static_cast<long long>(room),
                 static_cast<long long>(newTokens), longest);
    newTokens = room;
  }
  model.loadWeights(flags.text("weights"));
  model.setDevice(flags.text("device"));

  GenerateOptions options;
  options.sampling = sampling;
  options.maxNewTokens = newTokens;
  options.magWeight = mu;
  options.keepLogits = flags.has("logits-out");
  auto batch = static_cast<int64_t>(prompts.size());
  // Stream the first sequence as it grows (text, or token ids).
  auto onToken = [&](int64_t step, const GenerateResult &so) {
    if (batch != 1)
      return;
    if (tokenizer)
      std::fputs(tokenizer->decodeIncrement(so.tokens[0], printed).c_str(),
                 stdout);
    else
      std::printf("%s%lld", step ? "," : "",
                  static_cast<long long>(so.tokens[0].back()));
    std::fflush(stdout);
  };
  GenerateResult result = generate(model.get(), prompts, options, onToken);
  if (!result.error.empty()) {
    std::printf("\n");
    std::fflush(stdout);
    die("generate: " + result.error);
  }
  if (batch == 1) {
    std::printf("\n");
  } else {
    for (int64_t b = 0; b < batch; ++b) {
      std::printf("[%lld]", static_cast<long long>(b));
      const std::vector<int64_t> &fresh = result.tokens[b];
      if (tokenizer)
        std::printf(" %s", tokenizer->decode(fresh, true).c_str());
      for (size_t i = 0; !tokenizer && i < fresh.size(); ++i)
        std::printf("%s%lld", i == 0 ? " " : ",",
                    static_cast<long long>(fresh[i]));
      std::printf("\n");
    }
  }
  if (flags.has("logits-out")) {
    auto generated = static_cast<int64_t>(result.tokens[0].size());
    st::OwnedTensor tensor{
        "logits", st::DType::F32, {batch, generated, vocab}, {}};
    tensor.bytes.resize(result.logits.size() * sizeof(float));
    std::memcpy(tensor.bytes.data(), result.logits.data(), tensor.bytes.size());
    std::string error;
    if (!st::write(flags.text("logits-out"), {tensor}, {}, error))
      die(error);
  }
  std::fflush(stdout);
  std::string cache =
      model.get().hasDecodeStep()
          ? ", cache " + std::to_string(result.cacheBytes / 1024) + " KiB"
          : "";
  std::fprintf(
      stderr,
      "prefill: %lld tokens, %.1f tokens/s; decode: %lld tokens, "
      "%.1f tokens/s%s\n",
      static_cast<long long>(result.promptTokens),
      result.prefillSeconds > 0 ? result.promptTokens / result.prefillSeconds
                                : 0.0,
      static_cast<long long>(result.decodedTokens),
      result.decodeSeconds > 0 ? result.decodedTokens / result.decodeSeconds
                               : 0.0,
      cache.c_str());
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
  std::string usage =
      "usage: " + programName +
      " <command> [flags]\n\ncommands:\n"
      "  info       what this executable computes\n"
      "  logits     full-sequence forward, logits [S, vocab]\n"
      "  generate   continue a token sequence\n"
      "  train      fine-tune with the compiled training step\n\n"
      "'" +
      programName + " <command> --help' lists a command's flags.";
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
      {"info", runInfo},
      {"logits", runLogits},
      {"generate", runGenerate},
      {"train", [](Model &model, int argc, char **argv) {
         return runTrain(model.get(), selfPath(), argc, argv);
       }}};
  auto it = commands.find(command);
  if (it == commands.end())
    die("unknown command '" + command + "' (info, logits, generate, train)");
  int status = it->second(model, argc - 2, argv + 2);
  // Output that never arrived (a full disk, a closed pipe) is a failure.
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    die("cannot write the standard output (" +
        std::string(std::strerror(errno)) + ")");
  return status;
}

//===- CApi.cpp - The C API of a compiled TPTT model ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/ModelRunner.h"
#include "tptt/Runtime/Trainer.h"
#include "tptt/Runtime/tptt.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <dlfcn.h>

using namespace tptt::runtime;

struct tptt_model {
  std::unique_ptr<ModelRunner> runner;
  std::unique_ptr<Trainer> trainer;
  std::string error;
  std::string info;

  tptt_status fail(tptt_status status, std::string message) {
    error = std::move(message);
    return status;
  }
  tptt_status ok() {
    error.clear();
    return TPTT_OK;
  }
  /// Checks that every id is in the vocabulary.
  bool validTokens(const int64_t *tokens, int64_t count) {
    int64_t vocab = runner->vocabSize();
    for (int64_t i = 0; i < count; ++i)
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        error = "token " + std::to_string(i) + " is " +
                std::to_string(tokens[i]) + ", outside the vocabulary [0, " +
                std::to_string(vocab) + ")";
        return false;
      }
    return true;
  }
};

namespace {

/// The path of this library (where embedded weights are).
std::string libraryPath() {
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&tptt_model_open), &info) &&
      info.dli_fname)
    return info.dli_fname;
  return "";
}

void copyError(const std::string &message, char *error, size_t size) {
  if (!error || size == 0)
    return;
  size_t n = std::min(message.size(), size - 1);
  std::memcpy(error, message.data(), n);
  error[n] = '\0';
}

/// The batch of a training call, checked; nothing (with the model's error
/// set) when an argument is bad.
std::optional<TrainBatch> trainBatch(tptt_model *model, const int64_t *tokens,
                                     const int64_t *labels, const uint8_t *mask,
                                     int64_t batch, int64_t length) {
  if (!model->trainer) {
    model->fail(TPTT_ERROR_ARGUMENT, "call tptt_model_train_begin first");
    return std::nullopt;
  }
  if (!tokens || !labels || batch < 1 || length < 1) {
    model->fail(TPTT_ERROR_ARGUMENT,
                "null tokens or labels, or an empty batch");
    return std::nullopt;
  }
  int64_t count = batch * length;
  if (!model->validTokens(tokens, count))
    return std::nullopt;
  int64_t vocab = model->runner->vocabSize();
  for (int64_t i = 0; i < count; ++i)
    if (labels[i] != -100 && (labels[i] < 0 || labels[i] >= vocab)) {
      model->fail(TPTT_ERROR_ARGUMENT,
                  "label " + std::to_string(i) + " is " +
                      std::to_string(labels[i]) +
                      ", neither -100 nor in the vocabulary");
      return std::nullopt;
    }
  TrainBatch b;
  b.batch = batch;
  b.length = length;
  b.tokens.assign(tokens, tokens + count);
  b.labels.assign(labels, labels + count);
  b.mask = mask ? std::vector<uint8_t>(mask, mask + count)
                : std::vector<uint8_t>(count, 1);
  return b;
}

/// μ, or the config's when negative; std::nullopt (the model's error set,
/// naming `call`) for NaN, an infinity or a weight above 1, which would
/// extrapolate the branches or poison every later training step.
std::optional<float> resolveMu(tptt_model *model, float mu, const char *call) {
  if (!std::isfinite(mu) || mu > 1) {
    model->fail(TPTT_ERROR_ARGUMENT,
                std::string(call) +
                    ": mag_weight must be a number in [0, 1] (negative: "
                    "the config's), not " +
                    std::to_string(mu));
    return std::nullopt;
  }
  return mu < 0 ? static_cast<float>(model->runner->manifest().magWeight) : mu;
}

} // namespace

extern "C" {

tptt_model *tptt_model_open(const char *weightsPath, char *error,
                            size_t errorSize) {
  std::string message;
  auto model = std::make_unique<tptt_model>();
  model->runner = ModelRunner::open(message);
  if (!model->runner ||
      !model->runner->loadWeights(weightsPath ? weightsPath : "", libraryPath(),
                                  message)) {
    copyError(message, error, errorSize);
    return nullptr;
  }
  model->info = model->runner->manifest().toJson().dump();
  copyError("", error, errorSize);
  return model.release();
}

void tptt_model_close(tptt_model *model) { delete model; }

const char *tptt_model_last_error(const tptt_model *model) {
  return model ? model->error.c_str() : "no model (tptt_model_open failed)";
}

const char *tptt_model_info_json(const tptt_model *model) {
  return model ? model->info.c_str() : "{}";
}

int64_t tptt_model_vocab_size(const tptt_model *model) {
  return model ? model->runner->vocabSize() : 0;
}

tptt_status tptt_model_encode(tptt_model *model, const char *text, int64_t *ids,
                              int64_t capacity, int64_t *count) {
  if (!model || !text || !count || (capacity > 0 && !ids))
    return model ? model->fail(TPTT_ERROR_ARGUMENT,
                               "tptt_model_encode: null text, ids or count")
                 : TPTT_ERROR_ARGUMENT;
  std::string error;
  const Tokenizer *tokenizer = model->runner->tokenizer(error);
  if (!tokenizer)
    return model->fail(TPTT_ERROR_TOKENIZER,
                       error.empty() ? "this model has no tokenizer" : error);
  std::optional<std::vector<int64_t>> encoded =
      tokenizer->encode(text, /*addSpecialTokens=*/true, error);
  if (!encoded)
    return model->fail(TPTT_ERROR_TOKENIZER, error);
  *count = encoded->size();
  if (*count > capacity)
    return model->fail(TPTT_ERROR_CAPACITY, "tptt_model_encode: the text has " +
                                                std::to_string(*count) +
                                                " tokens, the buffer " +
                                                std::to_string(capacity));
  std::copy(encoded->begin(), encoded->end(), ids);
  return model->ok();
}

tptt_status tptt_model_decode(tptt_model *model, const int64_t *ids,
                              int64_t count, char *text, size_t capacity,
                              size_t *length) {
  if (!model || (count > 0 && !ids) || !length || (capacity > 0 && !text))
    return model ? model->fail(TPTT_ERROR_ARGUMENT,
                               "tptt_model_decode: null ids, text or length")
                 : TPTT_ERROR_ARGUMENT;
  if (!model->validTokens(ids, count))
    return TPTT_ERROR_ARGUMENT;
  std::string error;
  const Tokenizer *tokenizer = model->runner->tokenizer(error);
  if (!tokenizer)
    return model->fail(TPTT_ERROR_TOKENIZER,
                       error.empty() ? "this model has no tokenizer" : error);
  std::string decoded =
      tokenizer->decode(std::vector<int64_t>(ids, ids + count), true);
  *length = decoded.size();
  if (decoded.size() + 1 > capacity)
    return model->fail(TPTT_ERROR_CAPACITY,
                       "tptt_model_decode: the text needs " +
                           std::to_string(decoded.size() + 1) +
                           " bytes, the buffer has " +
                           std::to_string(capacity));
  std::memcpy(text, decoded.c_str(), decoded.size() + 1);
  return model->ok();
}

tptt_status tptt_model_logits(tptt_model *model, const int64_t *tokens,
                              int64_t count, float magWeight, float *logits) {
  if (!model || !tokens || !logits || count <= 0)
    return model ? model->fail(
                       TPTT_ERROR_ARGUMENT,
                       "tptt_model_logits: needs tokens (count > 0) and an "
                       "output buffer")
                 : TPTT_ERROR_ARGUMENT;
  if (!model->validTokens(tokens, count))
    return TPTT_ERROR_ARGUMENT;
  std::optional<float> mu = resolveMu(model, magWeight, "tptt_model_logits");
  if (!mu)
    return TPTT_ERROR_ARGUMENT;
  std::vector<float> out =
      model->runner->logits(std::vector<int64_t>(tokens, tokens + count),
                            std::vector<uint8_t>(count, 1), 1, count, *mu);
  std::copy(out.begin(), out.end(), logits);
  return model->ok();
}

void tptt_generate_defaults(tptt_generate_options *options) {
  if (!options)
    return;
  options->max_new_tokens = 32;
  options->temperature = 1.0f;
  options->top_k = 0;
  options->top_p = 1.0f;
  options->seed = 0;
  options->greedy = 0;
  options->mag_weight = -1.0f;
}

tptt_status tptt_model_generate(tptt_model *model, const int64_t *prompt,
                                int64_t count,
                                const tptt_generate_options *options,
                                int64_t *out, int64_t capacity,
                                int64_t *generated) {
  if (!model || !prompt || count <= 0 || !options || !generated ||
      (capacity > 0 && !out))
    return model
               ? model->fail(TPTT_ERROR_ARGUMENT,
                             "tptt_model_generate: needs a prompt (count > 0), "
                             "options, an output buffer and a count")
               : TPTT_ERROR_ARGUMENT;
  if (!model->validTokens(prompt, count))
    return TPTT_ERROR_ARGUMENT;
  if (options->max_new_tokens < 0 || !(options->temperature >= 0) ||
      options->top_k < 0 || !(options->top_p >= 0) || options->top_p > 1)
    return model->fail(TPTT_ERROR_ARGUMENT,
                       "tptt_model_generate: max_new_tokens, temperature and "
                       "top_k must be >= 0, top_p in [0, 1]");
  std::optional<float> mu =
      resolveMu(model, options->mag_weight, "tptt_model_generate");
  if (!mu)
    return TPTT_ERROR_ARGUMENT;
  GenerateOptions generate;
  generate.maxNewTokens = std::min(options->max_new_tokens, capacity);
  generate.sampling.temperature = options->temperature;
  generate.sampling.topK = options->top_k;
  generate.sampling.topP = options->top_p;
  generate.sampling.seed = options->seed;
  generate.sampling.greedy = options->greedy != 0;
  generate.magWeight = *mu;
  GenerateResult result = tptt::runtime::generate(
      *model->runner, {std::vector<int64_t>(prompt, prompt + count)}, generate,
      [](int64_t, const GenerateResult &) {});
  *generated = result.tokens[0].size();
  std::copy(result.tokens[0].begin(), result.tokens[0].end(), out);
  if (!result.error.empty())
    return model->fail(TPTT_ERROR_WEIGHTS,
                       "tptt_model_generate: " + result.error);
  return model->ok();
}

void tptt_train_defaults(tptt_train_options *options) {
  if (!options)
    return;
  OptimizerOptions defaults;
  options->beta1 = static_cast<float>(defaults.beta1);
  options->beta2 = static_cast<float>(defaults.beta2);
  options->eps = static_cast<float>(defaults.eps);
  options->weight_decay = static_cast<float>(defaults.weightDecay);
  options->max_grad_norm = static_cast<float>(defaults.maxGradNorm);
  options->seed = 42;
}

tptt_status tptt_model_train_begin(tptt_model *model,
                                   const tptt_train_options *options) {
  if (!model)
    return TPTT_ERROR_ARGUMENT;
  tptt_train_options given;
  tptt_train_defaults(&given);
  if (options)
    given = *options;
  OptimizerOptions optimizer;
  optimizer.beta1 = given.beta1;
  optimizer.beta2 = given.beta2;
  optimizer.eps = given.eps;
  optimizer.weightDecay = given.weight_decay;
  optimizer.maxGradNorm = given.max_grad_norm;
  std::string error;
  model->trainer =
      Trainer::create(*model->runner, optimizer, given.seed, error);
  if (!model->trainer)
    return model->fail(TPTT_ERROR_UNSUPPORTED, error);
  return model->ok();
}

tptt_status tptt_model_train_step(tptt_model *model, const int64_t *tokens,
                                  const int64_t *labels, const uint8_t *mask,
                                  int64_t batch, int64_t length, float lr,
                                  float magWeight, float *loss,
                                  float *gradNorm) {
  if (!model || !loss)
    return model ? model->fail(TPTT_ERROR_ARGUMENT, "null loss")
                 : TPTT_ERROR_ARGUMENT;
  if (!std::isfinite(lr) || lr < 0)
    return model->fail(TPTT_ERROR_ARGUMENT,
                       "tptt_model_train_step: lr must be a finite number "
                       ">= 0, not " +
                           std::to_string(lr));
  std::optional<float> mu =
      resolveMu(model, magWeight, "tptt_model_train_step");
  if (!mu)
    return TPTT_ERROR_ARGUMENT;
  std::optional<TrainBatch> b =
      trainBatch(model, tokens, labels, mask, batch, length);
  if (!b)
    return TPTT_ERROR_ARGUMENT;
  Trainer::StepResult result = model->trainer->step(*b, lr, *mu);
  *loss = static_cast<float>(result.loss);
  if (gradNorm)
    *gradNorm = static_cast<float>(result.gradNorm);
  return model->ok();
}

tptt_status tptt_model_eval_loss(tptt_model *model, const int64_t *tokens,
                                 const int64_t *labels, const uint8_t *mask,
                                 int64_t batch, int64_t length, float magWeight,
                                 float *loss) {
  if (!model || !loss)
    return model ? model->fail(TPTT_ERROR_ARGUMENT, "null loss")
                 : TPTT_ERROR_ARGUMENT;
  std::optional<float> mu = resolveMu(model, magWeight, "tptt_model_eval_loss");
  if (!mu)
    return TPTT_ERROR_ARGUMENT;
  std::optional<TrainBatch> b =
      trainBatch(model, tokens, labels, mask, batch, length);
  if (!b)
    return TPTT_ERROR_ARGUMENT;
  *loss = static_cast<float>(model->trainer->loss(*b, *mu));
  return model->ok();
}

} // extern "C"

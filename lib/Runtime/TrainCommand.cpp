//===- TrainCommand.cpp - `EXE train` -------------------------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Fine-tunes (or pre-trains) the model compiled into the executable with its
// compiled training step: text or JSON Lines data cut into windows, the
// learning-rate and Memory-as-Gate schedules, evaluation, metrics, a loss
// curve, and atomic checkpoints (PEFT adapters, or a whole model directory
// when the model's own weights are trained) that `--resume` continues
// bit-identically.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Checkpoint.h"
#include "tptt/Runtime/Executable.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Flags.h"
#include "tptt/Runtime/Json.h"
#include "tptt/Runtime/Metrics.h"
#include "tptt/Runtime/ModelRunner.h"
#include "tptt/Runtime/Safetensors.h"
#include "tptt/Runtime/Schedules.h"
#include "tptt/Runtime/Text.h"
#include "tptt/Runtime/TrainData.h"
#include "tptt/Runtime/Trainer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/file.h>
#include <unistd.h>
#include <vector>

using json = nlohmann::json;
using tptt::interface::EntryValue;
using tptt::interface::Role;
using tptt::interface::Trainable;
namespace st = tptt::safetensors;
using namespace tptt::runtime;
using namespace tptt::launcher;

namespace {

std::vector<std::string> splitList(const std::string &text) {
  std::vector<std::string> items;
  std::stringstream stream(text);
  for (std::string item; std::getline(stream, item, ',');)
    if (!item.empty())
      items.push_back(item);
  return items;
}

/// A tensor of the trainer (f32) or a loaded weight (f32 or bf16) as a
/// safetensors entry.
st::OwnedTensor owned(const std::string &name, const Tensor &tensor) {
  st::OwnedTensor out;
  out.name = name;
  out.dtype = tensor.dtype == "bf16" ? st::DType::BF16 : st::DType::F32;
  out.shape = tensor.shape;
  out.bytes = tensor.bytes;
  return out;
}

/// The F32 tensors of a safetensors file as trainer tensors. A checkpoint's
/// trained tensors are F32; the others of a whole-model checkpoint keep the
/// model's dtype (bf16 weights) and are not read back.
std::vector<std::pair<std::string, Tensor>>
readTensors(const std::string &path) {
  std::string error;
  std::unique_ptr<st::File> file = st::File::open(path, error);
  if (!file)
    die(error);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const st::TensorView &view : file->tensors()) {
    if (view.dtype != st::DType::F32)
      continue;
    Tensor tensor = Tensor::zeros(view.shape, "f32");
    std::memcpy(tensor.bytes.data(), view.data, tensor.bytes.size());
    tensors.emplace_back(view.name, std::move(tensor));
  }
  return tensors;
}

/// The bytes of a safetensors file of `tensors`.
std::string encoded(const std::vector<st::OwnedTensor> &tensors) {
  std::string error;
  std::optional<std::string> bytes = st::encode(tensors, {}, error);
  if (!bytes)
    die("internal error: " + error);
  return *bytes;
}

/// Everything `EXE train` knows between steps.
struct Run {
  ModelRunner *model = nullptr;
  Trainer *trainer = nullptr;
  Trainable trainable = Trainable::Lora;
  tptt::interface::LoraTraining lora;
  json sampler;
  int64_t epoch = 0;
  double bestEval = INFINITY;
  json schedules;
  /// What a resumed run must share with the one it resumes.
  json hyperParameters;
};

/// The files of a checkpoint: the trained tensors (a PEFT adapter, or a
/// whole model directory with config.json and tokenizer.json), the
/// optimizer state and trainer_state.json.
std::vector<TrainingFile> checkpointFiles(const Run &run) {
  std::vector<TrainingFile> files;
  const tptt::interface::ModelInterface &manifest = run.model->manifest();
  if (run.trainable == Trainable::Lora) {
    std::vector<st::OwnedTensor> tensors;
    for (const auto &[name, tensor] : run.trainer->savedTensors(Role::Adapter))
      tensors.push_back(owned(name, tensor));
    files.push_back({"adapter_model.safetensors", encoded(tensors)});
    files.push_back(
        {"adapter_config.json",
         peftAdapterConfig(run.lora.rank, run.lora.alpha, run.lora.dropout,
                           run.lora.targetModules,
                           manifest.config.value("_name_or_path", ""))});
  } else {
    // The whole model in Hugging Face layout: trained tensors from the
    // trainer, the others as loaded.
    std::map<std::string, Tensor> trained;
    for (auto &[name, tensor] : run.trainer->savedTensors(Role::Weight))
      trained[name] = tensor;
    std::vector<st::OwnedTensor> tensors;
    std::set<std::string> written;
    for (const EntryValue &weight : manifest.weights) {
      const std::string &source = weight.source;
      if (!written.insert(source).second)
        continue;
      if (auto it = trained.find(source); it != trained.end()) {
        tensors.push_back(owned(source, it->second));
        continue;
      }
      std::optional<Tensor> value = run.model->weight(weight.name);
      tensors.push_back(
          owned(source, weight.transposed ? transposed(*value) : *value));
    }
    files.push_back({"model.safetensors", encoded(tensors)});
    files.push_back({"config.json", manifest.config.dump(1) + "\n"});
    std::string error;
    if (run.model->tokenizer(error))
      files.push_back({"tokenizer.json", std::string(tptt_tokenizer_json)});
  }
  std::vector<st::OwnedTensor> moments;
  for (const auto &[name, tensor] : run.trainer->optimizerState())
    moments.push_back(owned(name, tensor));
  files.push_back({"optimizer.safetensors", encoded(moments)});
  TrainerState state;
  state.step = run.trainer->steps();
  state.epoch = run.epoch;
  state.trainable = tptt::interface::trainableName(run.trainable);
  state.sampler = run.sampler;
  state.bestEval = run.bestEval;
  state.schedules = run.schedules;
  state.hyperParameters = run.hyperParameters;
  files.push_back({"trainer_state.json", state.toJson()});
  return files;
}

void save(const Run &run, const std::string &dir) {
  std::string error;
  if (!saveDirectoryAtomically(dir, checkpointFiles(run), error))
    die("saving the checkpoint: " + error);
}

/// The flags of `EXE train`.
Flags trainFlags() {
  Flags flags("train",
              programName +
                  " train: fine-tune the model with its compiled training step "
                  "(AdamW, gradient clipping, Memory-as-Gate schedule)");
  flags.value("data", "training text: .jsonl files (a \"text\" field per "
                      "line) or plain text files, comma-separated");
  flags.value("eval-data", "evaluation text, same formats");
  flags.value("steps", "optimisation steps (default: one epoch)");
  flags.value("epochs", "passes over the data instead of --steps");
  flags.value("batch", "sequences per step (default 8)");
  flags.value("seq-len", "tokens per sequence (default 128)");
  flags.value("lr", "peak learning rate (default 5e-4)");
  flags.value("warmup", "linear warm-up steps (default 0)");
  flags.value("schedule", "learning-rate decay: linear (default), cosine or "
                          "constant");
  flags.value("mag-schedule",
              "μ per step: constant:W | gradual:W0:W1:STEPS | cyclic:W0,W1,... "
              "| switch:PERIOD (default constant: the config's mag_weight)");
  flags.value("weight-decay", "AdamW weight decay (default 0)");
  flags.value("max-grad-norm", "clip the global gradient norm (default 1; 0: "
                               "no clipping)");
  flags.value("eval-every", "evaluate every K steps (default: at the end)");
  flags.value("save", "run directory: checkpoint/ (the latest), best/ (the "
                      "best evaluation's), metrics.csv, loss.png");
  flags.value("save-every", "save every K steps (default: at the end)");
  flags.value("resume", "continue the run saved in this directory (an "
                        "earlier --save; also the default --save)");
  flags.value("seed", "seed of the adapters' initialisation and the data "
                      "order (default 42)");
  flags.value("weights", "a safetensors file to use instead of the model's "
                         "own weights");
  flags.value("device", "cpu or cuda: where the steps run (default: cuda "
                        "when the model was compiled with --target cuda)");
  return flags;
}

/// One train per run directory: a second would interleave its metrics and
/// checkpoints with the first's, or replace the checkpoint being resumed
/// from. The locks go with the process. A save that was killed leaves its
/// copies beside the directory: the newest complete one is recovered, in
/// the run resumed from as in the one saved to.
void claimRunDirectory(const std::string &dir) {
  int lock =
      ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0)
    die("train: " + dir + "/.lock: " + std::strerror(errno));
  if (::flock(lock, LOCK_EX | LOCK_NB) != 0)
    die("train: " + dir + " is in use by another train (it holds " + dir +
        "/.lock)");
  auto stepOf = [](const std::string &copy) -> std::optional<int64_t> {
    std::string error;
    std::optional<std::string> text =
        readRegularFile(copy + "/trainer_state.json", kMaxConfigBytes, error);
    std::optional<TrainerState> state =
        text ? TrainerState::parse(*text, error) : std::nullopt;
    return state ? std::optional<int64_t>(state->step) : std::nullopt;
  };
  for (const char *name : {"/checkpoint", "/best"})
    if (std::string note = recoverSavedDirectory(dir + name, stepOf);
        !note.empty())
      std::fprintf(stderr, "%s train: %s\n", programName.c_str(), note.c_str());
}

/// Continues `run` from the latest checkpoint of the run directory
/// `runDir` (an earlier --save): its trained tensors, optimizer state, data
/// position and step. A run whose data or batches differ is refused;
/// changed schedules are announced.
void resumeRun(Run &run, const std::string &runDir, Trainer &trainer,
               BatchSampler &sampler) {
  std::string error;
  std::string dir = runDir + "/checkpoint";
  std::string statePath = dir + "/trainer_state.json";
  std::optional<std::string> stateText =
      readRegularFile(statePath, kMaxConfigBytes, error);
  if (!stateText)
    die("train: --resume: " + error);
  std::optional<TrainerState> state = TrainerState::parse(*stateText, error);
  if (!state)
    die("train: --resume: " + statePath + ": " + error);
  if (state->trainable != tptt::interface::trainableName(run.trainable))
    die("train: --resume: the checkpoint trained '" + state->trainable +
        "', this model trains '" +
        tptt::interface::trainableName(run.trainable) + "'");
  // A resumed run reads the same data in the same batches, or it is not
  // the run it claims to continue; schedules may change (training
  // longer), and are announced.
  for (const auto &[key, value] : run.hyperParameters.items())
    if (state->hyperParameters.value(key, json()) != value)
      die("train: --resume: the checkpoint's run has " + key + " = " +
          quoteJson(state->hyperParameters.value(key, json())) + ", this one " +
          quoteJson(value) +
          "; resume with the same flags, or --save a new run");
  for (const auto &[key, value] : run.schedules.items())
    if (state->schedules.value(key, json()) != value)
      std::fprintf(stderr,
                   "%s: warning: train: --resume: %s changes from %s to "
                   "%s for the steps after %lld\n",
                   programName.c_str(), key.c_str(),
                   quoteJson(state->schedules.value(key, json())).c_str(),
                   quoteJson(value).c_str(),
                   static_cast<long long>(state->step));
  std::string tensors = run.trainable == Trainable::Lora
                            ? "/adapter_model.safetensors"
                            : "/model.safetensors";
  if (!trainer.restore(readTensors(dir + tensors),
                       readTensors(dir + "/optimizer.safetensors"), state->step,
                       error) ||
      !sampler.restore(state->sampler, error))
    die("train: --resume " + dir + ": " + error);
  run.epoch = state->epoch;
  run.bestEval = state->bestEval;
}

/// What the step loop of a run does besides stepping.
struct StepPlan {
  /// The step to stop after.
  int64_t steps = 0;
  const LrSchedule *lr = nullptr;
  const MagSchedule *mag = nullptr;
  BatchSampler *sampler = nullptr;
  /// The evaluation windows (none: no evaluation), in batches of `batch`.
  const TokenWindows *evalData = nullptr;
  int64_t batch = 1;
  /// Evaluate and save every so many steps (0: at the end only).
  int64_t evalEvery = 0, saveEvery = 0;
  /// The run directory (empty: nothing is saved) and its metrics.csv.
  std::string saveDir;
  MetricsLog *metrics = nullptr;
};

/// Steps `run` up to `plan.steps`: logs each step's metrics, evaluates,
/// keeps the best evaluation's checkpoint and the latest one, and ends the
/// program on a loss or gradient norm that is not finite.
void trainSteps(Run &run, const StepPlan &plan) {
  Trainer *trainer = run.trainer;
  BatchSampler *sampler = plan.sampler;
  const std::string &saveDir = plan.saveDir;
  MetricsLog *metrics = plan.metrics;
  int64_t steps = plan.steps;
  std::string error;
  auto evaluate = [&](float mu) {
    double sum = 0;
    int64_t count = 0;
    for (const TrainBatch &b : plan.evalData->batches(plan.batch)) {
      sum += trainer->loss(b, mu) * b.batch;
      count += b.batch;
    }
    return sum / count;
  };

  ProgressBar progress(steps, trainer->steps());
  auto start = std::chrono::steady_clock::now();
  double previousElapsed = metrics && !metrics->rows().empty()
                               ? metrics->rows().back().elapsedSeconds
                               : 0.0;
  int64_t lastGood = trainer->steps();
  while (trainer->steps() < steps) {
    int64_t step = trainer->steps() + 1;
    TrainBatch b = sampler->next();
    run.epoch = sampler->epoch();
    run.sampler = sampler->state();
    MetricsRow row;
    row.step = step;
    row.epoch = run.epoch;
    row.lr = plan.lr->at(step);
    row.magWeight = plan.mag->at(step);
    auto t0 = std::chrono::steady_clock::now();
    Trainer::StepResult result =
        trainer->step(b, row.lr, static_cast<float>(row.magWeight));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!std::isfinite(result.loss) || !std::isfinite(result.gradNorm)) {
      progress.finish();
      die("train: " +
          (std::isfinite(result.loss)
               ? "the gradient norm is " + formatNumber("%g", result.gradNorm) +
                     " (the loss " + formatNumber("%.6g", result.loss) + ")"
               : "the loss is " + formatNumber("%g", result.loss)) +
          " at step " + std::to_string(step) + "; stopping" +
          (saveDir.empty() || lastGood == 0
               ? std::string()
               : "; the last good checkpoint (step " +
                     std::to_string(lastGood) + ") is " + saveDir +
                     "/checkpoint"));
    }
    row.loss = result.loss;
    row.gradNorm = result.gradNorm;
    row.tokensPerSecond = b.batch * b.length / seconds;
    if (plan.evalData &&
        ((plan.evalEvery && step % plan.evalEvery == 0) || step == steps))
      row.evalLoss = evaluate(static_cast<float>(row.magWeight));
    row.elapsedSeconds =
        previousElapsed +
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    progress.update(row);
    if (metrics && !metrics->append(row, error))
      die("train: " + error);
    if (!saveDir.empty() && row.evalLoss && *row.evalLoss < run.bestEval) {
      run.bestEval = *row.evalLoss;
      save(run, saveDir + "/best");
    }
    if (!saveDir.empty() &&
        ((plan.saveEvery && step % plan.saveEvery == 0) || step == steps)) {
      save(run, saveDir + "/checkpoint");
      lastGood = step;
    }
  }
  progress.finish();
  if (metrics) {
    if (!writeLossCurvePng(saveDir + "/loss.png", metrics->rows(), error))
      die("train: " + error);
    std::fprintf(stderr,
                 "%s train: saved %s/checkpoint%s, metrics.csv, loss.png\n",
                 programName.c_str(), saveDir.c_str(),
                 std::isfinite(run.bestEval) ? ", best" : "");
  }
}

} // namespace

int tptt::launcher::runTrain(ModelRunner &model, const std::string &selfPath,
                             int argc, char **argv) {
  Flags flags = trainFlags();
  flags.parse(argc, argv);

  const tptt::interface::ModelInterface &manifest = model.manifest();
  if (!manifest.training)
    die("train: this executable has no training step; compile the model "
        "with tptt-compile --train=lora|lora-minus|full");
  if (!flags.has("data"))
    die("train: give the training text with --data FILE[,FILE...]");
  if (flags.has("steps") && flags.has("epochs"))
    die("train: give --steps or --epochs, not both");
  std::string error;
  if (!model.loadWeights(flags.text("weights"), selfPath, error) ||
      !model.setDevice(flags.text("device"), error))
    die(error);
  const Tokenizer *tokenizer = model.tokenizer(error);
  if (!tokenizer)
    die(error.empty() ? "train: this model has no tokenizer (compile a model "
                        "directory with a tokenizer.json)"
                      : error);

  OptimizerOptions optimizer;
  optimizer.weightDecay = flags.number("weight-decay", 0.0, 0.0, 1.0);
  optimizer.maxGradNorm = flags.number("max-grad-norm", 1.0, 0.0, 1e9);
  uint64_t seed = flags.integer("seed", 42, 0, INT64_MAX);
  std::unique_ptr<Trainer> trainer =
      Trainer::create(model, optimizer, seed, error);
  if (!trainer)
    die("train: " + error);

  int64_t batch = flags.integer("batch", 8, 1, 1 << 20);
  int64_t seqLen = flags.integer("seq-len", 128, 2, manifest.maxPositions);
  int64_t bos = manifest.bosTokenId.value_or(-1);
  int64_t eos = manifest.eosTokenIds.empty() ? -1 : manifest.eosTokenIds[0];
  std::optional<TokenWindows> data = TokenWindows::load(
      splitList(flags.text("data")), *tokenizer, bos, eos, seqLen, error);
  if (!data)
    die("train: --data: " + error);
  std::optional<TokenWindows> evalData;
  if (flags.has("eval-data")) {
    evalData = TokenWindows::load(splitList(flags.text("eval-data")),
                                  *tokenizer, bos, eos, seqLen, error);
    if (!evalData)
      die("train: --eval-data: " + error);
  }
  std::optional<BatchSampler> sampler =
      BatchSampler::create(*data, batch, seed, error);
  if (!sampler)
    die("train: " + error);

  int64_t perEpoch = sampler->batchesPerEpoch();
  int64_t steps = flags.has("steps")
                      ? flags.integer("steps", 0, 1, INT64_MAX)
                      : flags.integer("epochs", 1, 1, 1 << 20) * perEpoch;
  std::optional<LrSchedule> lr = LrSchedule::create(
      flags.text("schedule", "linear"), flags.number("lr", 5e-4, 0.0, 1e30),
      flags.integer("warmup", 0, 0, INT64_MAX), steps, error);
  if (!lr)
    die("train: --schedule: " + error);
  double configMu = manifest.magWeight;
  std::optional<MagSchedule> mag = MagSchedule::parse(
      flags.text("mag-schedule", "constant:" + std::to_string(configMu)),
      configMu, error);
  if (!mag)
    die("train: " + error);

  Run run;
  run.model = &model;
  run.trainer = trainer.get();
  run.trainable = manifest.training->trainable;
  if (manifest.training->lora)
    run.lora = *manifest.training->lora;
  run.schedules = {{"lr", lr->describe()},
                   {"mag", mag->describe()},
                   {"steps", steps},
                   {"weight_decay", optimizer.weightDecay},
                   {"max_grad_norm", optimizer.maxGradNorm}};
  run.hyperParameters = {{"data", flags.text("data")},
                         {"batch", batch},
                         {"seq_len", seqLen},
                         {"seed", seed}};

  std::string saveDir =
      flags.has("save") ? flags.text("save") : flags.text("resume");
  if (!saveDir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(saveDir, ec);
    if (ec)
      die("train: " + saveDir + ": " + ec.message());
    claimRunDirectory(saveDir);
  }
  std::error_code ec;
  if (std::string resumeDir = flags.text("resume");
      !resumeDir.empty() && std::filesystem::is_directory(resumeDir, ec) &&
      !std::filesystem::equivalent(resumeDir, saveDir, ec))
    claimRunDirectory(resumeDir);
  if (flags.has("resume"))
    resumeRun(run, flags.text("resume"), *trainer, *sampler);
  std::optional<MetricsLog> metrics;
  if (!saveDir.empty()) {
    metrics =
        MetricsLog::open(saveDir + "/metrics.csv", trainer->steps(), error);
    if (!metrics)
      die("train: " + error);
  }

  std::fprintf(
      stderr,
      "%s train: %s, %lld trained tensors, %lld windows of %lld "
      "tokens, %lld steps (%lld per epoch), lr %s, mag %s\n",
      programName.c_str(), tptt::interface::trainableName(run.trainable),
      static_cast<long long>(trainer->tensors().size()),
      static_cast<long long>(data->size()), static_cast<long long>(seqLen),
      static_cast<long long>(steps), static_cast<long long>(perEpoch),
      lr->describe().c_str(), mag->describe().c_str());
  if (run.trainable == Trainable::Lora && run.lora.dropout > 0.0)
    std::fprintf(stderr, "%s train: LoRA dropout %g on the adapters' inputs\n",
                 programName.c_str(), run.lora.dropout);

  StepPlan plan;
  plan.steps = steps;
  plan.lr = &*lr;
  plan.mag = &*mag;
  plan.sampler = &*sampler;
  plan.evalData = evalData ? &*evalData : nullptr;
  plan.batch = batch;
  plan.evalEvery = flags.integer("eval-every", 0, 0, INT64_MAX);
  plan.saveEvery = flags.integer("save-every", 0, 0, INT64_MAX);
  plan.saveDir = saveDir;
  plan.metrics = metrics ? &*metrics : nullptr;
  trainSteps(run, plan);
  return 0;
}

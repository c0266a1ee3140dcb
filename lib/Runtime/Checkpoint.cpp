//===- Checkpoint.cpp - Atomic, recoverable checkpoints -------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Checkpoint.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Json.h"

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

using json = nlohmann::json;

namespace tptt {
namespace runtime {

namespace {

void syncDirectory(const std::filesystem::path &path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

} // namespace

bool saveDirectoryAtomically(const std::string &dir,
                             const std::vector<TrainingFile> &files,
                             std::string &error) {
  namespace fs = std::filesystem;
  fs::path target(dir);
  fs::path parent =
      target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string suffix = "-" + std::to_string(::getpid());
  fs::path temporary = target.string() + ".tmp" + suffix;
  fs::path old = target.string() + ".old" + suffix;
  std::error_code ec;
  fs::create_directories(parent, ec);
  fs::remove_all(temporary, ec);
  if (!fs::create_directory(temporary, ec)) {
    error = temporary.string() + ": " + ec.message();
    return false;
  }
  auto fail = [&](const std::string &message) {
    error = message;
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    return false;
  };
  for (const TrainingFile &file : files)
    if (!writeFileSynced((temporary / file.name).string(), file.bytes, error))
      return fail(error);
  syncDirectory(temporary);
  bool replacing = fs::exists(target, ec);
  if (replacing) {
    fs::rename(target, old, ec);
    if (ec)
      return fail(target.string() + ": " + ec.message());
  }
  fs::rename(temporary, target, ec);
  if (ec) {
    std::error_code ignored;
    if (replacing)
      fs::rename(old, target, ignored);
    return fail(target.string() + ": " + ec.message());
  }
  syncDirectory(parent);
  if (replacing)
    fs::remove_all(old, ec);
  return true;
}

std::string recoverSavedDirectory(
    const std::string &dir,
    const std::function<std::optional<int64_t>(const std::string &)> &stepOf) {
  namespace fs = std::filesystem;
  fs::path target(dir);
  fs::path parent =
      target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string name = target.filename().string();
  std::vector<fs::path> copies;
  std::error_code ec;
  for (const fs::directory_entry &entry : fs::directory_iterator(parent, ec)) {
    std::string sibling = entry.path().filename().string();
    if (sibling.rfind(name + ".tmp-", 0) == 0 ||
        sibling.rfind(name + ".old-", 0) == 0)
      copies.push_back(entry.path());
  }
  std::string note;
  if (!copies.empty() && !fs::exists(target, ec)) {
    std::optional<int64_t> newest;
    fs::path chosen;
    for (const fs::path &copy : copies)
      if (std::optional<int64_t> step = stepOf(copy.string());
          step && (!newest || *step > *newest)) {
        newest = step;
        chosen = copy;
      }
    if (newest) {
      fs::rename(chosen, target, ec);
      if (!ec)
        note = "recovered " + dir + " (step " + std::to_string(*newest) +
               ") from an interrupted save";
    }
  }
  for (const fs::path &copy : copies)
    if (fs::exists(copy, ec))
      fs::remove_all(copy, ec);
  syncDirectory(parent);
  return note;
}

std::string peftAdapterConfig(int64_t rank, double alpha, double dropout,
                              const std::vector<std::string> &targets,
                              const std::string &baseModel) {
  json config = {{"peft_type", "LORA"},
                 {"task_type", "CAUSAL_LM"},
                 {"r", rank},
                 {"lora_alpha", alpha},
                 {"lora_dropout", dropout},
                 {"target_modules", targets},
                 {"bias", "none"},
                 {"fan_in_fan_out", false},
                 {"inference_mode", true},
                 {"base_model_name_or_path", baseModel},
                 {"modules_to_save", nullptr},
                 {"revision", nullptr}};
  return config.dump(2) + "\n";
}

std::optional<LoraMergeConfig> LoraMergeConfig::parse(const std::string &text,
                                                      const std::string &path,
                                                      std::string &error) {
  auto fail = [&](const std::string &message) {
    error = path + ": " + message;
    return std::nullopt;
  };
  std::optional<json> document = parseJson(text, error);
  if (!document || !document->is_object())
    return fail(document ? "not a JSON object" : error);
  const json &config = *document;
  if (auto type = config.find("peft_type");
      type != config.end() && *type != "LORA")
    return fail("field 'peft_type' is " + quoteJson(*type) +
                "; only LORA adapters can be merged");
  for (const char *flag : {"use_dora", "fan_in_fan_out"})
    if (auto it = config.find(flag); it != config.end() && *it != false)
      return fail(std::string("field '") + flag + "' is " + quoteJson(*it) +
                  "; only plain LoRA (W + scale * B A) can be merged");
  for (const char *patterns : {"rank_pattern", "alpha_pattern"})
    if (auto it = config.find(patterns); it != config.end() && !it->is_null() &&
                                         !(it->is_object() && it->empty()))
      return fail(std::string("field '") + patterns +
                  "' gives some modules their own rank or alpha, which "
                  "this compiler does not merge; merge the adapter with "
                  "PEFT (merge_and_unload) instead");
  // A rank is a tensor dimension; an alpha a finite positive number.
  constexpr double kMaxRank = 1 << 30;
  auto rank = config.find("r");
  if (rank == config.end() || !rank->is_number() ||
      !(rank->get<double>() >= 1 && rank->get<double>() <= kMaxRank) ||
      rank->get<double>() != std::floor(rank->get<double>()))
    return fail(
        "field 'r' must be an integer from 1 to 2^30" +
        std::string(rank == config.end() ? "" : ", not " + quoteJson(*rank)));
  auto alpha = config.find("lora_alpha");
  if (alpha == config.end() || !alpha->is_number() ||
      !(alpha->get<double>() > 0) || !std::isfinite(alpha->get<double>()))
    return fail(
        "field 'lora_alpha' must be a positive number" +
        std::string(alpha == config.end() ? "" : ", not " + quoteJson(*alpha)));
  auto rslora = config.find("use_rslora");
  if (rslora != config.end() && !rslora->is_boolean() && !rslora->is_null())
    return fail("field 'use_rslora' must be true or false, not " +
                quoteJson(*rslora));
  LoraMergeConfig merge;
  merge.rank = static_cast<int64_t>(rank->get<double>());
  merge.alpha = alpha->get<double>();
  merge.rslora = rslora != config.end() && *rslora == true;
  return merge;
}

std::optional<TrainerState> TrainerState::parse(const std::string &text,
                                                std::string &error) {
  std::optional<json> state = parseJson(text, error);
  if (!state)
    return std::nullopt;
  auto fail = [&](const std::string &message) -> std::optional<TrainerState> {
    error = message;
    return std::nullopt;
  };
  if (!state->is_object())
    return fail("not a JSON object");
  auto count = [&](const json &object, const std::string &key,
                   int64_t &out) -> bool {
    std::string name = key.substr(key.find('.') + 1);
    auto it = object.find(name);
    if (it == object.end() || !it->is_number_integer() ||
        it->get<int64_t>() < 0) {
      error = "field '" + key + "': needs a non-negative integer, got " +
              (it == object.end() ? std::string("nothing") : quoteJson(*it));
      return false;
    }
    out = it->get<int64_t>();
    return true;
  };
  TrainerState result;
  if (!count(*state, "step", result.step) ||
      !count(*state, "epoch", result.epoch))
    return std::nullopt;
  auto trainable = state->find("trainable");
  if (trainable == state->end() || !trainable->is_string())
    return fail("field 'trainable': needs a string");
  result.trainable = trainable->get<std::string>();
  for (const char *key : {"sampler", "schedules", "hyper_parameters"}) {
    auto it = state->find(key);
    if (it == state->end() || !it->is_object())
      return fail(std::string("field '") + key + "': needs an object");
  }
  result.sampler = (*state)["sampler"];
  int64_t unused;
  if (!count(result.sampler, "sampler.epoch", unused) ||
      !count(result.sampler, "sampler.position", unused))
    return std::nullopt;
  result.schedules = (*state)["schedules"];
  result.hyperParameters = (*state)["hyper_parameters"];
  auto best = state->find("best_eval_loss");
  if (best != state->end() && !best->is_null()) {
    if (!best->is_number() || !std::isfinite(best->get<double>()))
      return fail("field 'best_eval_loss': needs a finite number or null");
    result.bestEval = best->get<double>();
  }
  return result;
}

std::string TrainerState::toJson() const {
  json state = {
      {"step", step},
      {"epoch", epoch},
      {"trainable", trainable},
      {"sampler", sampler},
      {"best_eval_loss", std::isfinite(bestEval) ? json(bestEval) : json()},
      {"schedules", schedules},
      {"hyper_parameters", hyperParameters}};
  return state.dump(1) + "\n";
}

} // namespace runtime
} // namespace tptt

//===- Checkpoint.h - Atomic, recoverable checkpoints -----------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Checkpoint directories written atomically and recovered after a kill,
// the trainer state they carry, and the PEFT adapter config.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_CHECKPOINT_H
#define TPTT_RUNTIME_CHECKPOINT_H

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tptt {
namespace runtime {

/// One file of a checkpoint directory.
struct TrainingFile {
  std::string name;
  std::string bytes;
};

/// Writes `files` (the last one marks the copy complete) into a fresh
/// sibling `dir`.tmp-PID, syncs them, renames `dir` to `dir`.old-PID, the
/// new copy to `dir`, and removes the old one: a kill at any point leaves a
/// complete `dir`, or complete siblings that `recoverSavedDirectory` puts
/// back.
bool saveDirectoryAtomically(const std::string &dir,
                             const std::vector<TrainingFile> &files,
                             std::string &error);

/// Repairs `dir` after a save into it was killed. Where `dir` is missing,
/// the newest complete sibling copy (`stepOf` gives a copy's step, nothing
/// for an incomplete one) becomes `dir`; the other `.tmp-`/`.old-` siblings
/// are removed. Returns what it did, for the user ("" when nothing).
std::string recoverSavedDirectory(
    const std::string &dir,
    const std::function<std::optional<int64_t>(const std::string &)> &stepOf);

/// A checkpoint's trainer_state.json: where the run stands, and what a run
/// that resumes it must share (`hyperParameters`) or announces changing
/// (`schedules`).
struct TrainerState {
  int64_t step = 0;
  int64_t epoch = 0;
  std::string trainable;
  nlohmann::json sampler;
  double bestEval = INFINITY;
  nlohmann::json schedules;
  nlohmann::json hyperParameters;

  /// Checks `text` field by field: it is read back from disk, where
  /// anything may have happened to it. On failure `error` names the field.
  static std::optional<TrainerState> parse(const std::string &text,
                                           std::string &error);
  std::string toJson() const;
};

/// A PEFT LoRA adapter_config.json.
std::string peftAdapterConfig(int64_t rank, double alpha, double dropout,
                              const std::vector<std::string> &targets,
                              const std::string &baseModel);

/// What a PEFT adapter_config.json says about merging its adapter into the
/// weights: W' = W + scale · B A.
struct LoraMergeConfig {
  int64_t rank = 0;
  double alpha = 0;
  bool rslora = false;

  /// lora_alpha / r, or lora_alpha / √r with use_rslora.
  double scale() const {
    return alpha / (rslora ? std::sqrt(static_cast<double>(rank))
                           : static_cast<double>(rank));
  }

  /// Checks the contents `text` of the adapter_config.json at `path`:
  /// anything that would change the update and that a plain merge does not
  /// do (another PEFT type, DoRA, fan_in_fan_out, per-module ranks or
  /// alphas) is refused rather than merged wrongly. On failure `error`
  /// names the file and the field.
  static std::optional<LoraMergeConfig>
  parse(const std::string &text, const std::string &path, std::string &error);
};

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_CHECKPOINT_H

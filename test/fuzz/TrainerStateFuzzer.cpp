//===- TrainerStateFuzzer.cpp - libFuzzer target for trainer_state.json ---===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary text to the checkpoint's trainer-state parser: anything
// that is not a valid state must give one error message, never a crash; a
// valid one must survive a round trip through toJson.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Checkpoint.h"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string error;
  std::optional<tptt::runtime::TrainerState> state =
      tptt::runtime::TrainerState::parse(
          std::string(reinterpret_cast<const char *>(data), size), error);
  if (!state) {
    if (error.empty())
      __builtin_trap();
    return 0;
  }
  std::optional<tptt::runtime::TrainerState> again =
      tptt::runtime::TrainerState::parse(state->toJson(), error);
  if (!again || again->step != state->step || again->epoch != state->epoch ||
      again->sampler != state->sampler)
    __builtin_trap();
  return 0;
}

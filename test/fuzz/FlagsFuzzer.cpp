//===- FlagsFuzzer.cpp - libFuzzer target for the executables' flags -----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary command lines (arguments separated by NUL bytes) to the
// flag parser of the model executables, then reads a number and an integer
// from them: a bad command line gives one message naming the subcommand,
// never a crash, and an accepted value lies in its range.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Flags.h"

#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<std::string> arguments(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      arguments.emplace_back();
    else
      arguments.back().push_back(static_cast<char>(data[i]));
  }
  std::vector<char *> argv;
  for (std::string &argument : arguments)
    argv.push_back(argument.data());

  tptt::launcher::Flags flags("logits", "usage: exe logits [flags]");
  flags.value("temperature", "a number");
  flags.value("max-new-tokens", "an integer");
  flags.toggle("greedy", "a switch");
  std::string error;
  if (!flags.tryParse(static_cast<int>(argv.size()), argv.data(), error)) {
    if (error.rfind("logits: ", 0) != 0)
      __builtin_trap();
    return 0;
  }
  error.clear();
  std::optional<double> temperature =
      flags.tryNumber("temperature", 1.0, 0.0, 100.0, error);
  if (temperature ? !error.empty() || *temperature < 0 || *temperature > 100
                  : error.empty())
    __builtin_trap();
  error.clear();
  std::optional<int64_t> count =
      flags.tryInteger("max-new-tokens", 16, 1, 1 << 20, error);
  if (count ? !error.empty() || *count < 1 || *count > (1 << 20)
            : error.empty())
    __builtin_trap();
  return 0;
}

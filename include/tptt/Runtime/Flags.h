//===- Flags.h - Command lines of the model executables ---------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// What every subcommand of the executables tptt-compile makes shares: the
// program name, one-line errors with exit status 2, and `--flag value`
// parsing with checked numbers.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_FLAGS_H
#define TPTT_RUNTIME_FLAGS_H

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

namespace tptt {
namespace runtime {
class ModelRunner;
} // namespace runtime

namespace launcher {

/// The executable's name, for messages.
inline std::string programName = "tptt-model";

[[noreturn]] inline void die(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", programName.c_str(), message.c_str());
  std::exit(2);
}

//===----------------------------------------------------------------------===//
// Command lines
//===----------------------------------------------------------------------===//

/// One subcommand's flags: `--name value`, `--name=value` or a switch. An
/// empty `command` is a program's own flags.
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

  /// Reads `argv`, printing the help and exiting at `--help`; a usage
  /// error is one message and exit status 2.
  void parse(int argc, char **argv) {
    std::string error;
    if (!tryParse(argc, argv, error))
      die(error);
    if (helpAsked) {
      printHelp();
      std::exit(0);
    }
  }

  /// `parse` without exiting: false with `error` set on a usage error;
  /// reading stops at `--help` (`helpAsked`).
  bool tryParse(int argc, char **argv, std::string &error) {
    for (int i = 0; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        helpAsked = true;
        return true;
      }
      if (arg.rfind("--", 0) != 0)
        return fail(error, "unexpected argument '" + arg + "' (see --help)");
      std::string name = arg.substr(2), text;
      bool inline_ = false;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        text = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_ = true;
      }
      auto it = known.find(name);
      if (it == known.end())
        return fail(error, "unknown flag '--" + name + "' (see --help)");
      if (it->second.takesValue && !inline_) {
        if (i + 1 >= argc)
          return fail(error, "flag '--" + name + "' needs a value");
        text = argv[++i];
      } else if (!it->second.takesValue && inline_) {
        return fail(error, "flag '--" + name + "' takes no value");
      }
      values[name] = text;
    }
    return true;
  }

  bool has(const std::string &name) const { return values.count(name); }

  std::string text(const std::string &name, std::string fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }

  /// The number `--name` gives, in [low, high]; `fallback` without it.
  double number(const std::string &name, double fallback, double low,
                double high) const {
    std::string error;
    std::optional<double> v = tryNumber(name, fallback, low, high, error);
    if (!v)
      die(error);
    return *v;
  }

  /// The integer `--name` gives, in [low, high]; `fallback` without it.
  int64_t integer(const std::string &name, int64_t fallback, int64_t low,
                  int64_t high) const {
    std::string error;
    std::optional<int64_t> v = tryInteger(name, fallback, low, high, error);
    if (!v)
      die(error);
    return *v;
  }

  /// `number` without exiting: nothing, with `error` set, on a bad value.
  std::optional<double> tryNumber(const std::string &name, double fallback,
                                  double low, double high,
                                  std::string &error) const {
    if (!has(name))
      return fallback;
    const std::string &t = values.at(name);
    char *end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end || !std::isfinite(v) || v < low || v > high) {
      fail(error, "flag '--" + name + "' must be a number in [" + format(low) +
                      ", " + format(high) + "], not '" + t + "'");
      return std::nullopt;
    }
    return v;
  }

  /// `integer` without exiting: nothing, with `error` set, on a bad value.
  std::optional<int64_t> tryInteger(const std::string &name, int64_t fallback,
                                    int64_t low, int64_t high,
                                    std::string &error) const {
    if (!has(name))
      return fallback;
    const std::string &t = values.at(name);
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end || errno || v < low || v > high) {
      fail(error, "flag '--" + name + "' must be an integer in [" +
                      std::to_string(low) + ", " + std::to_string(high) +
                      "], not '" + t + "'");
      return std::nullopt;
    }
    return v;
  }

private:
  /// Sets `error` to `message` after the subcommand's name; false.
  bool fail(std::string &error, const std::string &message) const {
    error = where() + message;
    return false;
  }

  /// What messages start with: the subcommand, if any.
  std::string where() const { return command.empty() ? "" : command + ": "; }

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
  bool helpAsked = false;
};

/// `EXE train` (TrainCommand.cpp) on the model compiled into `selfPath`.
int runTrain(runtime::ModelRunner &model, const std::string &selfPath, int argc,
             char **argv);

} // namespace launcher
} // namespace tptt

#endif // TPTT_RUNTIME_FLAGS_H

//===- Files.h - Reading untrusted input files ------------------*- C++ -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Every file a user names (config.json, tokenizer.json, adapter configs,
// prompts, training data) is read through here: it must be a regular file
// no larger than what its kind may be, so that /dev/zero, /dev/urandom, a
// FIFO or a directory is one clear error rather than a hang, an exhausted
// memory or a misleading parse error.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_RUNTIME_FILES_H
#define TPTT_RUNTIME_FILES_H

#include <cstdint>
#include <optional>
#include <string>

namespace tptt {
namespace runtime {

/// Size limits of the kinds of input file.
constexpr uint64_t kMaxConfigBytes = 64ull << 20;
constexpr uint64_t kMaxTokenizerBytes = 1ull << 30;
constexpr uint64_t kMaxTextBytes = 16ull << 30;

/// Whether `path` names a regular file; `error` ("PATH: ...") says what it
/// is otherwise. Never opens it (opening a FIFO waits for a writer).
bool isRegularFile(const std::string &path, std::string &error);

/// The contents of the regular file `path` of at most `maxBytes` bytes;
/// std::nullopt with `error` ("PATH: ...") otherwise.
std::optional<std::string>
readRegularFile(const std::string &path, uint64_t maxBytes, std::string &error);

/// Writes `bytes` to `path` and syncs it; false with `error` ("PATH: ...")
/// and no file left behind otherwise.
bool writeFileSynced(const std::string &path, const std::string &bytes,
                     std::string &error);

/// Replaces `path` by a file of `bytes` through a synced `path`.tmp: a
/// reader sees the old or the new file, and a failure leaves no temporary.
bool replaceFileAtomically(const std::string &path, const std::string &bytes,
                           std::string &error);

} // namespace runtime
} // namespace tptt

#endif // TPTT_RUNTIME_FILES_H

//===- JsonLinesFuzzer.cpp - libFuzzer target for training .jsonl files --===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Feeds arbitrary bytes to the reader of `train --data FILE.jsonl`: a file
// that is not JSON Lines of {"text": ...} records gives one error naming the
// line, never a crash; every text it yields is named after its line.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/TrainData.h"

#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::istringstream in(
      std::string(reinterpret_cast<const char *>(data), size));
  std::string error;
  size_t texts = 0;
  bool read = tptt::runtime::forEachJsonLinesText(
      in, "data.jsonl",
      [&](const std::string &text, const std::string &where) {
        if (where.rfind("data.jsonl:", 0) != 0 || text.size() > size)
          __builtin_trap();
        ++texts;
        return true;
      },
      error);
  if (read ? !error.empty() : error.rfind("data.jsonl:", 0) != 0)
    __builtin_trap();
  return 0;
}

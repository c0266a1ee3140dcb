//===- Training.cpp - What a training run needs besides the model ---------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Training.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Json.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using json = nlohmann::json;

namespace tptt {
namespace runtime {

namespace {

std::optional<double> parseNumber(const std::string &text) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, separator);)
    parts.push_back(part);
  if (!text.empty() && text.back() == separator)
    parts.push_back("");
  return parts;
}

std::string format(const char *pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), pattern, value);
  return buffer;
}

} // namespace

//===----------------------------------------------------------------------===//
// Schedules
//===----------------------------------------------------------------------===//

std::optional<LrSchedule> LrSchedule::create(const std::string &kind,
                                             double peak, int64_t warmup,
                                             int64_t total,
                                             std::string &error) {
  if (kind != "constant" && kind != "linear" && kind != "cosine") {
    error = "unknown learning-rate schedule '" + kind +
            "' (constant, linear, cosine)";
    return std::nullopt;
  }
  LrSchedule schedule;
  schedule.kind = kind;
  schedule.peak = peak;
  schedule.warmup = warmup;
  schedule.total = std::max<int64_t>(total, 1);
  return schedule;
}

double LrSchedule::at(int64_t step) const {
  if (step <= warmup)
    return peak * static_cast<double>(step) / static_cast<double>(warmup);
  if (kind == "constant" || total <= warmup)
    return peak;
  double progress =
      static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  progress = std::min(progress, 1.0);
  if (kind == "linear")
    return peak * (1.0 - progress);
  return peak * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::string LrSchedule::describe() const {
  return kind + " " + format("%g", peak) +
         (warmup ? " (warm-up " + std::to_string(warmup) + ")" : "");
}

std::optional<MagSchedule> MagSchedule::parse(const std::string &text,
                                              double configWeight,
                                              std::string &error) {
  MagSchedule schedule;
  schedule.text = text;
  size_t colon = text.find(':');
  schedule.kind = text.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  auto fail = [&](const std::string &why) -> std::optional<MagSchedule> {
    error = "--mag-schedule '" + text + "': " + why;
    return std::nullopt;
  };
  auto weights = [&](const std::string &list, char separator) {
    std::vector<double> values;
    for (const std::string &part : split(list, separator)) {
      std::optional<double> value = parseNumber(part);
      if (!value)
        return std::vector<double>();
      values.push_back(*value);
    }
    return values;
  };
  if (schedule.kind == "constant") {
    schedule.values = weights(rest, ',');
    if (schedule.values.size() != 1)
      return fail("'constant' needs one weight, constant:W");
  } else if (schedule.kind == "gradual") {
    std::vector<std::string> parts = split(rest, ':');
    double steps = parts.size() == 3 ? parseNumber(parts[2]).value_or(0) : 0;
    schedule.values = weights(
        parts.size() == 3 ? parts[0] + "," + parts[1] : std::string(), ',');
    if (schedule.values.size() != 2 || steps < 1 || steps != std::floor(steps))
      return fail("'gradual' needs W0:W1:STEPS with STEPS >= 1");
    schedule.steps = static_cast<int64_t>(steps);
  } else if (schedule.kind == "cyclic") {
    schedule.values = weights(rest, ',');
    if (schedule.values.empty())
      return fail("'cyclic' needs a list of weights, cyclic:W0,W1,...");
  } else if (schedule.kind == "switch") {
    double period = rest.empty() ? 1.0 : parseNumber(rest).value_or(0);
    if (period < 1 || period != std::floor(period))
      return fail("'switch' needs a period >= 1, switch:PERIOD");
    schedule.steps = static_cast<int64_t>(period);
    schedule.values = {configWeight};
  } else {
    return fail("unknown schedule (constant:W, gradual:W0:W1:STEPS, "
                "cyclic:W0,W1,..., switch:PERIOD)");
  }
  // μ weighs the two branches: anything outside [0, 1] extrapolates them.
  for (double value : schedule.values)
    if (!std::isfinite(value) || value < 0 || value > 1)
      return fail("every weight must be a number in [0, 1], not " +
                  format("%g", value));
  return schedule;
}

double MagSchedule::at(int64_t step) const {
  if (kind == "constant")
    return values[0];
  if (kind == "gradual")
    return step >= steps ? values[1]
                         : values[0] + (values[1] - values[0]) *
                                           static_cast<double>(step) /
                                           static_cast<double>(steps);
  if (kind == "cyclic")
    return values[step % static_cast<int64_t>(values.size())];
  return (step / steps) % 2 == 0 ? 0.0 : values[0];
}

//===----------------------------------------------------------------------===//
// Data
//===----------------------------------------------------------------------===//

std::optional<TokenWindows>
TokenWindows::load(const std::vector<std::string> &files,
                   const Tokenizer &tokenizer, int64_t bos, int64_t eos,
                   int64_t length, std::string &error) {
  TokenWindows windows;
  windows.windowLength = length;
  auto add = [&](const std::string &text, const std::string &where) {
    std::optional<std::vector<int64_t>> ids =
        tokenizer.encode(text, /*addSpecialTokens=*/false, error);
    if (!ids) {
      error = where + ": " + error;
      return false;
    }
    if (bos >= 0)
      windows.stream.push_back(bos);
    windows.stream.insert(windows.stream.end(), ids->begin(), ids->end());
    if (eos >= 0)
      windows.stream.push_back(eos);
    return true;
  };
  if (files.empty()) {
    error = "no files";
    return std::nullopt;
  }
  for (const std::string &path : files) {
    if (!isRegularFile(path, error))
      return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    bool jsonLines =
        path.size() > 6 && path.substr(path.size() - 6) == ".jsonl";
    if (!jsonLines) {
      std::stringstream buffer;
      buffer << in.rdbuf();
      if (!add(buffer.str(), path))
        return std::nullopt;
      continue;
    }
    int64_t number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos)
        continue;
      std::string where = path + ":" + std::to_string(number);
      std::optional<json> record = parseJson(line, error);
      if (!record || !record->is_object()) {
        error = where + ": " + (record ? "not a JSON object" : error);
        return std::nullopt;
      }
      auto text = record->find("text");
      if (text == record->end() || !text->is_string()) {
        error = where + ": no string field \"text\"";
        return std::nullopt;
      }
      if (!add(text->get<std::string>(), where))
        return std::nullopt;
    }
  }
  for (int64_t start = 0;
       start + length + 1 <= static_cast<int64_t>(windows.stream.size());
       start += length + 1)
    windows.starts.push_back(start);
  if (windows.starts.empty()) {
    error = "the text has " + std::to_string(windows.stream.size()) +
            " tokens, fewer than one window of " + std::to_string(length + 1) +
            " (--seq-len + 1)";
    return std::nullopt;
  }
  return windows;
}

TrainBatch TokenWindows::batch(const std::vector<int64_t> &indices) const {
  TrainBatch b;
  b.batch = static_cast<int64_t>(indices.size());
  b.length = windowLength;
  for (int64_t index : indices) {
    const int64_t *window = stream.data() + starts[index];
    b.tokens.insert(b.tokens.end(), window, window + windowLength);
    b.labels.insert(b.labels.end(), window + 1, window + windowLength + 1);
  }
  b.mask.assign(b.tokens.size(), 1);
  return b;
}

std::vector<TrainBatch> TokenWindows::batches(int64_t batchSize) const {
  std::vector<TrainBatch> all;
  for (int64_t first = 0; first < size(); first += batchSize) {
    std::vector<int64_t> indices;
    for (int64_t i = first; i < std::min(size(), first + batchSize); ++i)
      indices.push_back(i);
    all.push_back(batch(indices));
  }
  return all;
}

std::optional<BatchSampler> BatchSampler::create(const TokenWindows &windows,
                                                 int64_t batchSize,
                                                 uint64_t seed,
                                                 std::string &error) {
  if (windows.size() < batchSize) {
    error = "the data has " + std::to_string(windows.size()) +
            " windows, fewer than one batch of " + std::to_string(batchSize) +
            " (lower --batch or --seq-len)";
    return std::nullopt;
  }
  BatchSampler sampler;
  sampler.windows = &windows;
  sampler.batchSize = batchSize;
  sampler.seed = seed;
  sampler.shuffle();
  return sampler;
}

void BatchSampler::shuffle() {
  // Fisher–Yates with a uniform index drawn from the raw 64-bit output, so
  // that the order depends on the seed only, not on the standard library.
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + epochIndex);
  order.resize(windows->size());
  for (int64_t i = 0; i < windows->size(); ++i)
    order[i] = i;
  for (int64_t i = windows->size() - 1; i > 0; --i) {
    uint64_t bound = static_cast<uint64_t>(i) + 1;
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound, draw;
    do
      draw = rng();
    while (draw >= limit);
    std::swap(order[i], order[draw % bound]);
  }
}

int64_t BatchSampler::batchesPerEpoch() const {
  return windows->size() / batchSize;
}

TrainBatch BatchSampler::next() {
  if (position + batchSize > windows->size()) {
    ++epochIndex;
    position = 0;
    shuffle();
  }
  std::vector<int64_t> indices(order.begin() + position,
                               order.begin() + position + batchSize);
  position += batchSize;
  return windows->batch(indices);
}

json BatchSampler::state() const {
  return {{"epoch", epochIndex}, {"position", position}, {"seed", seed}};
}

bool BatchSampler::restore(const json &state, std::string &error) {
  if (!state.is_object() || !state.value("epoch", json()).is_number_integer() ||
      !state.value("position", json()).is_number_integer() ||
      state.value("seed", json()) != seed) {
    error = "the checkpoint's data position does not fit this run (same "
            "--seed, --data, --batch and --seq-len are needed)";
    return false;
  }
  epochIndex = state["epoch"].get<int64_t>();
  position = state["position"].get<int64_t>();
  shuffle();
  return true;
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

namespace {

/// Writes and syncs one file; false with `error` naming it, and no file
/// left behind.
bool writeSynced(const std::string &path, const std::string &bytes,
                 std::string &error) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    error = path + ": " + std::strerror(errno);
    return false;
  }
  auto fail = [&] {
    error = path + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return false;
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0)
      return fail();
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0)
    return fail();
  if (::close(fd) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(path.c_str());
    return false;
  }
  return true;
}

/// Replaces `path` by a file of `bytes` through a synced temporary: a
/// reader sees the old or the new file, and a failure leaves no temporary.
bool replaceFile(const std::string &path, const std::string &bytes,
                 std::string &error) {
  std::string temporary = path + ".tmp";
  if (!writeSynced(temporary, bytes, error))
    return false;
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    error = path + ": " + std::strerror(errno);
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

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
    if (!writeSynced((temporary / file.name).string(), file.bytes, error))
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

//===----------------------------------------------------------------------===//
// Metrics
//===----------------------------------------------------------------------===//

namespace {

constexpr const char *kMetricsHeader =
    "step,epoch,loss,eval_loss,lr,mag_weight,grad_norm,tokens_per_s,elapsed_s";

} // namespace

std::optional<MetricsLog> MetricsLog::open(const std::string &path,
                                           int64_t resumeStep,
                                           std::string &error) {
  MetricsLog log;
  log.path = path;
  std::ifstream in(path);
  std::string line;
  if (resumeStep > 0 && in && std::getline(in, line) && line == kMetricsHeader)
    while (std::getline(in, line)) {
      std::vector<std::string> fields = split(line, ',');
      if (fields.size() != 9)
        continue;
      MetricsRow row;
      std::optional<double> step = parseNumber(fields[0]);
      if (!step || *step > resumeStep)
        break;
      row.step = static_cast<int64_t>(*step);
      row.epoch = static_cast<int64_t>(parseNumber(fields[1]).value_or(0));
      row.loss = parseNumber(fields[2]).value_or(NAN);
      row.evalLoss = parseNumber(fields[3]);
      row.lr = parseNumber(fields[4]).value_or(0);
      row.magWeight = parseNumber(fields[5]).value_or(0);
      row.gradNorm = parseNumber(fields[6]).value_or(0);
      row.tokensPerSecond = parseNumber(fields[7]).value_or(0);
      row.elapsedSeconds = parseNumber(fields[8]).value_or(0);
      log.all.push_back(row);
    }
  if (!log.write(error))
    return std::nullopt;
  return log;
}

bool MetricsLog::append(const MetricsRow &row, std::string &error) {
  all.push_back(row);
  return write(error);
}

bool MetricsLog::write(std::string &error) const {
  std::string text = std::string(kMetricsHeader) + "\n";
  for (const MetricsRow &row : all)
    text += std::to_string(row.step) + "," + std::to_string(row.epoch) + "," +
            format("%.6f", row.loss) + "," +
            (row.evalLoss ? format("%.6f", *row.evalLoss) : "") + "," +
            format("%.6g", row.lr) + "," + format("%.6g", row.magWeight) + "," +
            format("%.6g", row.gradNorm) + "," +
            format("%.1f", row.tokensPerSecond) + "," +
            format("%.2f", row.elapsedSeconds) + "\n";
  return replaceFile(path, text, error);
}

//===----------------------------------------------------------------------===//
// Loss curve
//===----------------------------------------------------------------------===//

namespace {

/// An RGB raster with the few drawing operations a line plot needs.
class Canvas {
public:
  Canvas(int width, int height)
      : width(width), height(height), pixels(width * height * 3, 255) {}

  void set(int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= width || y >= height)
      return;
    uint8_t *p = &pixels[(y * width + x) * 3];
    p[0] = rgb >> 16;
    p[1] = (rgb >> 8) & 0xff;
    p[2] = rgb & 0xff;
  }

  void line(int x0, int y0, int x1, int y1, uint32_t rgb) {
    int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    while (true) {
      set(x0, y0, rgb);
      set(x0, y0 + 1, rgb);
      if (x0 == x1 && y0 == y1)
        return;
      int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  void box(int x, int y, int size, uint32_t rgb) {
    for (int i = -size; i <= size; ++i)
      for (int j = -size; j <= size; ++j)
        set(x + i, y + j, rgb);
  }

  /// Text in a 3×5 pixel font scaled by 2 (digits, '.', '-', 'e' and the
  /// letters of the legend).
  void text(int x, int y, const std::string &s, uint32_t rgb) {
    for (char c : s) {
      const uint16_t *glyph = glyphFor(c);
      for (int row = 0; glyph && row < 5; ++row)
        for (int col = 0; col < 3; ++col)
          if (glyph[row] & (4 >> col))
            for (int i = 0; i < 2; ++i)
              for (int j = 0; j < 2; ++j)
                set(x + col * 2 + i, y + row * 2 + j, rgb);
      x += 8;
    }
  }

  std::string png() const;

private:
  static const uint16_t *glyphFor(char c) {
    static const uint16_t digits[10][5] = {
        {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7},
        {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1},
        {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
    static const std::pair<char, std::array<uint16_t, 5>> others[] = {
        {'.', {0, 0, 0, 0, 2}}, {'-', {0, 0, 7, 0, 0}}, {'e', {0, 7, 7, 4, 7}},
        {'a', {0, 6, 1, 7, 7}}, {'i', {2, 0, 2, 2, 2}}, {'l', {6, 2, 2, 2, 7}},
        {'n', {0, 6, 5, 5, 5}}, {'o', {0, 7, 5, 5, 7}}, {'p', {0, 7, 5, 7, 4}},
        {'r', {0, 7, 4, 4, 4}}, {'s', {0, 3, 6, 1, 6}}, {'t', {2, 7, 2, 2, 3}},
        {'v', {0, 5, 5, 5, 2}}};
    if (c >= '0' && c <= '9')
      return digits[c - '0'];
    for (const auto &[key, glyph] : others)
      if (key == c)
        return glyph.data();
    return nullptr;
  }

  int width, height;
  std::vector<uint8_t> pixels;
};

uint32_t crc32(const std::string &bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int k = 0; k < 8; ++k)
      crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

void putBigEndian(std::string &out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((value >> shift) & 0xff));
}

void chunk(std::string &out, const char *type, const std::string &data) {
  putBigEndian(out, static_cast<uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  putBigEndian(out, crc32(body));
}

/// PNG with the image data in stored (uncompressed) deflate blocks: no
/// compression library needed, and a plot is small anyway.
std::string Canvas::png() const {
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);
    raw.append(reinterpret_cast<const char *>(&pixels[y * width * 3]),
               width * 3);
  }
  std::string zlib = {0x78, 0x01};
  for (size_t at = 0; at < raw.size(); at += 65535) {
    size_t n = std::min<size_t>(65535, raw.size() - at);
    zlib.push_back(at + n == raw.size() ? 1 : 0);
    zlib.push_back(static_cast<char>(n & 0xff));
    zlib.push_back(static_cast<char>(n >> 8));
    zlib.push_back(static_cast<char>(~n & 0xff));
    zlib.push_back(static_cast<char>((~n >> 8) & 0xff));
    zlib.append(raw, at, n);
  }
  uint32_t a = 1, b = 0;
  for (unsigned char byte : raw) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  putBigEndian(zlib, (b << 16) | a);
  std::string out = "\x89PNG\r\n\x1a\n";
  std::string header;
  putBigEndian(header, width);
  putBigEndian(header, height);
  header += std::string("\x08\x02\x00\x00\x00", 5);
  chunk(out, "IHDR", header);
  chunk(out, "IDAT", zlib);
  chunk(out, "IEND", "");
  return out;
}

} // namespace

bool writeLossCurvePng(const std::string &path,
                       const std::vector<MetricsRow> &rows,
                       std::string &error) {
  const int width = 800, height = 500, left = 70, right = 20, top = 20,
            bottom = 50;
  Canvas canvas(width, height);
  double lowest = INFINITY, highest = -INFINITY;
  int64_t first = rows.empty() ? 0 : rows.front().step;
  int64_t last = rows.empty() ? 1 : std::max(rows.back().step, first + 1);
  for (const MetricsRow &row : rows)
    for (std::optional<double> value :
         {std::optional<double>(row.loss), row.evalLoss})
      if (value && std::isfinite(*value)) {
        lowest = std::min(lowest, *value);
        highest = std::max(highest, *value);
      }
  if (!std::isfinite(lowest)) {
    lowest = 0;
    highest = 1;
  }
  if (highest - lowest < 1e-6)
    highest = lowest + 1;
  auto xOf = [&](int64_t step) {
    return left + static_cast<int>((width - left - right) *
                                   static_cast<double>(step - first) /
                                   static_cast<double>(last - first));
  };
  auto yOf = [&](double value) {
    return height - bottom -
           static_cast<int>((height - top - bottom) * (value - lowest) /
                            (highest - lowest));
  };
  const uint32_t axis = 0x404040, grid = 0xe0e0e0, train = 0x1f77b4,
                 eval = 0xd62728;
  for (int tick = 0; tick <= 4; ++tick) {
    double value = lowest + (highest - lowest) * tick / 4;
    int y = yOf(value);
    canvas.line(left, y, width - right, y, grid);
    canvas.text(4, y - 5, format("%.3g", value), axis);
    int64_t step = first + (last - first) * tick / 4;
    int x = xOf(step);
    canvas.line(x, height - bottom, x, height - bottom + 5, axis);
    canvas.text(x - 10, height - bottom + 12, std::to_string(step), axis);
  }
  canvas.line(left, top, left, height - bottom, axis);
  canvas.line(left, height - bottom, width - right, height - bottom, axis);
  const MetricsRow *previous = nullptr, *previousEval = nullptr;
  for (const MetricsRow &row : rows) {
    if (std::isfinite(row.loss)) {
      if (previous)
        canvas.line(xOf(previous->step), yOf(previous->loss), xOf(row.step),
                    yOf(row.loss), train);
      previous = &row;
    }
    if (row.evalLoss) {
      canvas.box(xOf(row.step), yOf(*row.evalLoss), 3, eval);
      if (previousEval)
        canvas.line(xOf(previousEval->step), yOf(*previousEval->evalLoss),
                    xOf(row.step), yOf(*row.evalLoss), eval);
      previousEval = &row;
    }
  }
  canvas.box(width - 160, top + 10, 4, train);
  canvas.text(width - 150, top + 5, "train", axis);
  canvas.box(width - 160, top + 30, 4, eval);
  canvas.text(width - 150, top + 25, "eval", axis);
  canvas.text(width / 2 - 30, height - 18, "step", axis);

  return replaceFile(path, canvas.png(), error);
}

//===----------------------------------------------------------------------===//
// Progress
//===----------------------------------------------------------------------===//

ProgressBar::ProgressBar(int64_t total, int64_t start)
    : total(total), start(start), terminal(::isatty(STDERR_FILENO)),
      began(std::chrono::steady_clock::now()) {}

void ProgressBar::update(const MetricsRow &row) {
  if (row.evalLoss)
    lastEval = row.evalLoss;
  int64_t every = std::max<int64_t>(1, total / 20);
  if (!terminal && row.step % every != 0 && row.step != total && !row.evalLoss)
    return;
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began)
          .count();
  double perStep = elapsed / static_cast<double>(row.step - start);
  int64_t eta = static_cast<int64_t>(perStep * (total - row.step));
  std::string bar;
  const int cells = 20;
  int filled = static_cast<int>(cells * row.step / std::max<int64_t>(total, 1));
  for (int i = 0; i < cells; ++i)
    bar += i < filled ? '=' : i == filled ? '>' : ' ';
  std::string line =
      "step " + std::to_string(row.step) + "/" + std::to_string(total) + " [" +
      bar + "] loss " + format("%.4f", row.loss) +
      (lastEval ? " eval " + format("%.4f", *lastEval) : "") + " μ " +
      format("%.3f", row.magWeight) + " lr " + format("%.2e", row.lr) + " " +
      format("%.0f", row.tokensPerSecond) + " tok/s ETA " +
      std::to_string(eta / 60) + ":" + (eta % 60 < 10 ? "0" : "") +
      std::to_string(eta % 60);
  if (terminal)
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
  else
    std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (terminal)
    std::fprintf(stderr, "\n");
}

} // namespace runtime
} // namespace tptt

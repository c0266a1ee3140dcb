//===- Metrics.cpp - metrics.csv, the loss curve, the progress line -------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Metrics.h"
#include "tptt/Runtime/Files.h"
#include "tptt/Runtime/Text.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace tptt {
namespace runtime {

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
      std::vector<std::string> fields = splitText(line, ',');
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
            formatNumber("%.6f", row.loss) + "," +
            (row.evalLoss ? formatNumber("%.6f", *row.evalLoss) : "") + "," +
            formatNumber("%.6g", row.lr) + "," +
            formatNumber("%.6g", row.magWeight) + "," +
            formatNumber("%.6g", row.gradNorm) + "," +
            formatNumber("%.1f", row.tokensPerSecond) + "," +
            formatNumber("%.2f", row.elapsedSeconds) + "\n";
  return replaceFileAtomically(path, text, error);
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

/// The canvas as a PNG, through libpng into memory.
std::string Canvas::png() const {
  std::string out;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    return "";
  }
  // libpng reports errors by longjmp: nothing below owns a resource that
  // the jump would skip, and an empty result means failure.
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return "";
  }
  png_set_write_fn(
      png, &out,
      [](png_structp png, png_bytep data, png_size_t size) {
        static_cast<std::string *>(png_get_io_ptr(png))
            ->append(reinterpret_cast<const char *>(data), size);
      },
      nullptr);
  png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(&pixels[y * width * 3]));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
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
    canvas.text(4, y - 5, formatNumber("%.3g", value), axis);
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

  std::string bytes = canvas.png();
  if (bytes.empty()) {
    error = path + ": libpng could not encode the plot";
    return false;
  }
  return replaceFileAtomically(path, bytes, error);
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
      bar + "] loss " + formatNumber("%.4f", row.loss) +
      (lastEval ? " eval " + formatNumber("%.4f", *lastEval) : "") + " μ " +
      formatNumber("%.3f", row.magWeight) + " lr " +
      formatNumber("%.2e", row.lr) + " " +
      formatNumber("%.0f", row.tokensPerSecond) + " tok/s ETA " +
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

//===- TrainingTest.cpp - Schedules, data, checkpoints, plots of training -===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Checkpoint.h"
#include "tptt/Runtime/Metrics.h"
#include "tptt/Runtime/Schedules.h"
#include "tptt/Runtime/TrainData.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <limits>
#include <png.h>
#include <sstream>
#include <unistd.h>

using namespace tptt;
using namespace tptt::runtime;
namespace fs = std::filesystem;

namespace {

class TrainingTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir = fs::path(::testing::TempDir()) /
          ("tptt-training-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string write(const std::string &name, const std::string &text) {
    std::string path = (dir / name).string();
    std::ofstream(path) << text;
    return path;
  }

  static std::string read(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  /// The byte-level tokenizer of the bundled example (one id per byte).
  static std::unique_ptr<Tokenizer> bytes() {
    std::string error;
    auto tokenizer = Tokenizer::load(std::string(TPTT_SOURCE_DIR) +
                                         "/examples/tiny-llama/tokenizer.json",
                                     error);
    EXPECT_TRUE(tokenizer) << error;
    return tokenizer;
  }

  fs::path dir;
};

TEST_F(TrainingTest, GradualMagScheduleMatchesTheSeedsCallback) {
  std::string error;
  auto schedule = MagSchedule::parse("gradual:0.01:0.5:100", 0.5, error);
  ASSERT_TRUE(schedule) << error;
  EXPECT_NEAR(schedule->at(1), 0.0149, 1e-12);
  EXPECT_NEAR(schedule->at(50), 0.255, 1e-12);
  EXPECT_NEAR(schedule->at(100), 0.5, 1e-12);
  EXPECT_NEAR(schedule->at(400), 0.5, 1e-12);
}

TEST_F(TrainingTest, CyclicConstantAndSwitchSchedules) {
  std::string error;
  auto cyclic = MagSchedule::parse("cyclic:0,0.5,1", 0.5, error);
  ASSERT_TRUE(cyclic) << error;
  EXPECT_EQ(cyclic->at(1), 0.5);
  EXPECT_EQ(cyclic->at(2), 1.0);
  EXPECT_EQ(cyclic->at(3), 0.0);
  auto constant = MagSchedule::parse("constant:0.25", 0.5, error);
  ASSERT_TRUE(constant) << error;
  EXPECT_EQ(constant->at(7), 0.25);
  // switch:2 turns the linear branch off while (s / 2) is even.
  auto toggle = MagSchedule::parse("switch:2", 0.4, error);
  ASSERT_TRUE(toggle) << error;
  EXPECT_EQ(toggle->at(1), 0.0);
  EXPECT_EQ(toggle->at(2), 0.4);
  EXPECT_EQ(toggle->at(3), 0.4);
  EXPECT_EQ(toggle->at(4), 0.0);
  auto every = MagSchedule::parse("switch", 0.4, error);
  ASSERT_TRUE(every) << error;
  EXPECT_EQ(every->at(1), 0.4);
  EXPECT_EQ(every->at(2), 0.0);
}

TEST_F(TrainingTest, MagScheduleErrorsNameTheSpec) {
  std::string error;
  EXPECT_FALSE(MagSchedule::parse("gradual:0.1", 0.5, error));
  EXPECT_EQ(error, "--mag-schedule 'gradual:0.1': 'gradual' needs "
                   "W0:W1:STEPS with STEPS >= 1");
  EXPECT_FALSE(MagSchedule::parse("cyclic:", 0.5, error));
  EXPECT_FALSE(MagSchedule::parse("switch:0", 0.5, error));
  EXPECT_FALSE(MagSchedule::parse("ramp:1", 0.5, error));
  EXPECT_NE(error.find("unknown schedule"), std::string::npos) << error;
}

TEST_F(TrainingTest, MagScheduleWeightsStayInTheUnitInterval) {
  std::string error;
  EXPECT_FALSE(MagSchedule::parse("constant:2", 0.5, error));
  EXPECT_EQ(error, "--mag-schedule 'constant:2': every weight must be a "
                   "number in [0, 1], not 2");
  EXPECT_FALSE(MagSchedule::parse("gradual:0:1.5:10", 0.5, error));
  EXPECT_FALSE(MagSchedule::parse("cyclic:0.5,-0.1", 0.5, error));
  EXPECT_NE(error.find("not -0.1"), std::string::npos) << error;
  EXPECT_TRUE(MagSchedule::parse("cyclic:0,1", 0.5, error)) << error;
}

TEST_F(TrainingTest, LearningRateSchedules) {
  std::string error;
  auto linear = LrSchedule::create("linear", 1.0, 10, 110, error);
  ASSERT_TRUE(linear) << error;
  EXPECT_DOUBLE_EQ(linear->at(5), 0.5);
  EXPECT_DOUBLE_EQ(linear->at(10), 1.0);
  EXPECT_DOUBLE_EQ(linear->at(60), 0.5);
  EXPECT_DOUBLE_EQ(linear->at(110), 0.0);
  auto cosine = LrSchedule::create("cosine", 2.0, 0, 100, error);
  ASSERT_TRUE(cosine) << error;
  EXPECT_NEAR(cosine->at(50), 1.0, 1e-12);
  EXPECT_NEAR(cosine->at(100), 0.0, 1e-12);
  auto constant = LrSchedule::create("constant", 3.0, 0, 5, error);
  ASSERT_TRUE(constant) << error;
  EXPECT_EQ(constant->at(5), 3.0);
  EXPECT_FALSE(LrSchedule::create("step", 1.0, 0, 5, error));
  EXPECT_EQ(error,
            "unknown learning-rate schedule 'step' (constant, linear, cosine)");
}

TEST_F(TrainingTest, WindowsFromJsonLinesAndText) {
  auto tokenizer = bytes();
  std::string jsonl =
      write("a.jsonl", "{\"text\": \"abcd\"}\n\n{\"text\": \"efg\"}\n");
  std::string text = write("b.txt", "hij");
  std::string error;
  // BOS 256 and EOS 257 around each document: 6 + 5 + 5 = 16 tokens, cut
  // into windows of 4 + 1.
  auto windows =
      TokenWindows::load({jsonl, text}, *tokenizer, 256, 257, 4, error);
  ASSERT_TRUE(windows) << error;
  EXPECT_EQ(windows->size(), 3);
  TrainBatch batch = windows->batch({0, 1});
  EXPECT_EQ(batch.tokens,
            (std::vector<int64_t>{256, 'a', 'b', 'c', 257, 256, 'e', 'f'}));
  EXPECT_EQ(batch.labels,
            (std::vector<int64_t>{'a', 'b', 'c', 'd', 256, 'e', 'f', 'g'}));
  EXPECT_EQ(windows->batches(2).size(), 2u);
}

TEST_F(TrainingTest, DataErrorsNameTheFileAndLine) {
  auto tokenizer = bytes();
  std::string error;
  std::string bad = write("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  EXPECT_FALSE(TokenWindows::load({bad}, *tokenizer, -1, -1, 2, error));
  EXPECT_EQ(error, bad + ":2: no string field \"text\"");
  std::string broken = write("broken.jsonl", "{\"text\": \n");
  EXPECT_FALSE(TokenWindows::load({broken}, *tokenizer, -1, -1, 2, error));
  EXPECT_EQ(error, broken + ":1: not valid JSON");
  std::string deep = write("deep.jsonl", std::string(100000, '[') + "\n");
  EXPECT_FALSE(TokenWindows::load({deep}, *tokenizer, -1, -1, 2, error));
  EXPECT_EQ(error, deep + ":1: JSON nested deeper than 64 levels");
  std::string list = write("list.jsonl", "[1]\n");
  EXPECT_FALSE(TokenWindows::load({list}, *tokenizer, -1, -1, 2, error));
  EXPECT_EQ(error, list + ":1: not a JSON object");
  std::string small = write("small.txt", "ab");
  EXPECT_FALSE(TokenWindows::load({small}, *tokenizer, -1, -1, 8, error));
  EXPECT_EQ(error, "the text has 2 tokens, fewer than one window of 9 "
                   "(--seq-len + 1)");
  EXPECT_FALSE(TokenWindows::load({(dir / "missing.txt").string()}, *tokenizer,
                                  -1, -1, 8, error));
}

TEST_F(TrainingTest, SamplerIsDeterministicAndResumes) {
  auto tokenizer = bytes();
  std::string text;
  for (int i = 0; i < 40; ++i)
    text += static_cast<char>('a' + i % 26);
  std::string path = write("t.txt", text);
  std::string error;
  auto windows = TokenWindows::load({path}, *tokenizer, -1, -1, 3, error);
  ASSERT_TRUE(windows) << error;
  auto first = BatchSampler::create(*windows, 3, 7, error);
  auto second = BatchSampler::create(*windows, 3, 7, error);
  ASSERT_TRUE(first && second) << error;
  EXPECT_EQ(first->batchesPerEpoch(), 3);
  std::vector<TrainBatch> uninterrupted;
  for (int i = 0; i < 8; ++i)
    uninterrupted.push_back(first->next());
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(second->next().tokens, uninterrupted[i].tokens);
  auto resumed = BatchSampler::create(*windows, 3, 7, error);
  ASSERT_TRUE(resumed->restore(second->state(), error)) << error;
  for (int i = 4; i < 8; ++i)
    EXPECT_EQ(resumed->next().tokens, uninterrupted[i].tokens);
  EXPECT_EQ(resumed->epoch(), 2);
  auto other = BatchSampler::create(*windows, 3, 8, error);
  EXPECT_FALSE(other->restore(second->state(), error));
  // A position past the windows (an edited checkpoint) is refused, not
  // indexed or overflowed.
  nlohmann::json far = second->state();
  far["position"] = std::numeric_limits<int64_t>::max();
  EXPECT_FALSE(resumed->restore(far, error));
  far["position"] = -3;
  EXPECT_FALSE(resumed->restore(far, error));
  EXPECT_FALSE(BatchSampler::create(*windows, 11, 7, error));
}

TEST_F(TrainingTest, AtomicSaveReplacesOrKeepsTheOldDirectory) {
  std::string error;
  std::string target = (dir / "ckpt").string();
  ASSERT_TRUE(saveDirectoryAtomically(target, {{"a.txt", "one"}}, error))
      << error;
  ASSERT_TRUE(saveDirectoryAtomically(target, {{"b.txt", "two"}}, error))
      << error;
  EXPECT_FALSE(fs::exists(dir / "ckpt" / "a.txt"));
  EXPECT_EQ(read(dir / "ckpt" / "b.txt"), "two");
  // A file that cannot be written fails the save and keeps the old one.
  EXPECT_FALSE(
      saveDirectoryAtomically(target, {{"no/such/dir/c.txt", "x"}}, error));
  EXPECT_NE(error.find("c.txt"), std::string::npos) << error;
  EXPECT_EQ(read(dir / "ckpt" / "b.txt"), "two");
  for (const auto &entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename(), "ckpt");
}

TEST_F(TrainingTest, PeftAdapterConfig) {
  nlohmann::json config = nlohmann::json::parse(
      peftAdapterConfig(8, 16, 0.05, {"q_proj", "v_proj"}, "base"));
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["r"], 8);
  EXPECT_EQ(config["lora_alpha"], 16.0);
  EXPECT_EQ(config["target_modules"][1], "v_proj");
  std::string error;
  std::optional<LoraMergeConfig> merge = LoraMergeConfig::parse(
      peftAdapterConfig(8, 16, 0.05, {"q_proj"}, "base"), "a.json", error);
  ASSERT_TRUE(merge) << error;
  EXPECT_EQ(merge->rank, 8);
  EXPECT_EQ(merge->scale(), 2.0);
}

TEST_F(TrainingTest, LoraMergeConfigRefusesWhatAPlainMergeDoesNot) {
  auto parse = [](const std::string &text) {
    std::string error;
    std::optional<LoraMergeConfig> config =
        LoraMergeConfig::parse(text, "a.json", error);
    return config ? "scale " + std::to_string(config->scale()) : error;
  };
  EXPECT_EQ(parse(R"({"r": 4, "lora_alpha": 8, "use_rslora": true})"),
            "scale 4.000000");
  // A rank that does not fit an integer used to be converted anyway
  // (undefined behaviour); a non-boolean use_rslora was read as false.
  EXPECT_EQ(parse(R"({"r": 1e300, "lora_alpha": 8})"),
            "a.json: field 'r' must be an integer from 1 to 2^30, not 1e+300");
  EXPECT_EQ(parse(R"({"r": 2.5, "lora_alpha": 8})"),
            "a.json: field 'r' must be an integer from 1 to 2^30, not 2.5");
  EXPECT_EQ(parse(R"({"lora_alpha": 8})"),
            "a.json: field 'r' must be an integer from 1 to 2^30");
  EXPECT_EQ(parse(R"({"r": 4, "lora_alpha": -1})"),
            "a.json: field 'lora_alpha' must be a positive number, not -1");
  EXPECT_EQ(parse(R"({"r": 4, "lora_alpha": 8, "use_rslora": "yes"})"),
            "a.json: field 'use_rslora' must be true or false, not \"yes\"");
  EXPECT_EQ(parse(R"({"r": 4, "lora_alpha": 8, "fan_in_fan_out": true})"),
            "a.json: field 'fan_in_fan_out' is true; only plain LoRA (W + "
            "scale * B A) can be merged");
  EXPECT_EQ(parse("[1]"), "a.json: not a JSON object");
}

TEST_F(TrainingTest, MetricsResumeDropsLaterRows) {
  std::string error;
  std::string path = (dir / "metrics.csv").string();
  auto log = MetricsLog::open(path, 0, error);
  ASSERT_TRUE(log) << error;
  for (int64_t step = 1; step <= 4; ++step) {
    MetricsRow row;
    row.step = step;
    row.loss = 5.0 - step;
    if (step == 2)
      row.evalLoss = 3.5;
    ASSERT_TRUE(log->append(row, error)) << error;
  }
  auto resumed = MetricsLog::open(path, 2, error);
  ASSERT_TRUE(resumed) << error;
  ASSERT_EQ(resumed->rows().size(), 2u);
  EXPECT_EQ(resumed->rows()[1].evalLoss, 3.5);
  EXPECT_EQ(read(path).substr(0, 9), "step,epoc");
}

TEST_F(TrainingTest, LossCurveIsAValidPng) {
  std::vector<MetricsRow> rows;
  for (int64_t step = 1; step <= 30; ++step) {
    MetricsRow row;
    row.step = step;
    row.loss = 4.0 / step;
    if (step % 10 == 0)
      row.evalLoss = 4.5 / step;
    rows.push_back(row);
  }
  std::string error;
  std::string path = (dir / "loss.png").string();
  ASSERT_TRUE(writeLossCurvePng(path, rows, error)) << error;
  std::string png = read(path);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  // Decoded by libpng: 800×500 RGB, a white background, the curves drawn.
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_begin_read_from_memory(&image, png.data(), png.size()))
      << image.message;
  EXPECT_EQ(image.width, 800u);
  EXPECT_EQ(image.height, 500u);
  image.format = PNG_FORMAT_RGB;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  ASSERT_TRUE(png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr))
      << image.message;
  EXPECT_EQ(pixels[0], 255);
  size_t white = std::count(pixels.begin(), pixels.end(), uint8_t(255));
  EXPECT_GT(white, pixels.size() / 2);
  EXPECT_LT(white, pixels.size());
  EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");
}

} // namespace

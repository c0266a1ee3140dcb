//===- SafetensorsTest.cpp - The runtime's safetensors reader and writer --===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Runtime/Safetensors.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

using namespace tptt::safetensors;

namespace {

class SafetensorsTest : public ::testing::Test {
protected:
  std::string path(const std::string &name) {
    std::string file =
        ::testing::TempDir() + "tptt-" + std::to_string(getpid()) + "-" + name;
    created.push_back(file);
    return file;
  }

  /// Writes a raw file: the 8-byte header length, the header, the data.
  std::string raw(const std::string &name, const std::string &header,
                  size_t dataBytes, uint64_t claimedLength = 0) {
    std::string file = path(name);
    std::ofstream out(file, std::ios::binary);
    uint64_t length = claimedLength ? claimedLength : header.size();
    out.write(reinterpret_cast<const char *>(&length), sizeof(length));
    out << header << std::string(dataBytes, '\0');
    return file;
  }

  ~SafetensorsTest() override {
    for (const std::string &file : created)
      std::remove(file.c_str());
  }

  std::vector<std::string> created;
};

TEST_F(SafetensorsTest, WritesAndReadsBackTensorsAndMetadataInOrder) {
  std::vector<float> values = {1.0f, -2.5f, 3.25f, 0.0f, 5.0f, 6.0f};
  OwnedTensor tensor{"w", DType::F32, {2, 3}, {}};
  tensor.bytes.resize(values.size() * sizeof(float));
  std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  OwnedTensor ids{"a", DType::I64, {1}, std::vector<uint8_t>(8, 0)};
  ids.bytes[0] = 7;
  std::string error, file = path("roundtrip.safetensors");
  ASSERT_TRUE(write(file, {tensor, ids}, {{"case", "{}"}}, error)) << error;

  auto read = File::open(file, error);
  ASSERT_TRUE(read) << error;
  ASSERT_EQ(read->tensors().size(), 2u);
  EXPECT_EQ(read->tensors()[0].name, "w");
  EXPECT_EQ(read->tensors()[1].name, "a");
  const TensorView *w = read->find("w");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(w->elementAsDouble(2), 3.25);
  EXPECT_EQ(read->find("a")->elementAsDouble(0), 7.0);
  EXPECT_EQ(read->metadata().at("case"), "{}");
  EXPECT_EQ(read->find("missing"), nullptr);
}

TEST_F(SafetensorsTest, ConvertsHalfPrecisionTypes) {
  EXPECT_EQ(bf16ToFloat(floatToBf16(1.5f)), 1.5f);
  EXPECT_EQ(floatToBf16(1.0f), 0x3f80);
  // Round to nearest even: 1 + 2^-8 is halfway between two bf16 values.
  EXPECT_EQ(bf16ToFloat(floatToBf16(1.0f + 0.00390625f)), 1.0f);
  EXPECT_EQ(f16ToFloat(0x3c00), 1.0f);
  EXPECT_EQ(f16ToFloat(0xc000), -2.0f);
  EXPECT_EQ(f16ToFloat(0x0001), 5.9604644775390625e-8f);
}

TEST_F(SafetensorsTest, RejectsCorruptHeadersNamingFileAndTensor) {
  std::string error;
  std::string shortFile = raw("short.safetensors", "", 0, /*claimed=*/1000);
  EXPECT_FALSE(File::open(shortFile, error));
  EXPECT_NE(error.find("claims 1000 bytes"), std::string::npos) << error;
  // Over the cap, the message names the cap, not the file's size.
  std::string huge = raw("huge.safetensors", "", 0, /*claimed=*/200u << 20);
  EXPECT_FALSE(File::open(huge, error));
  EXPECT_NE(error.find("claims 209715200 bytes, over the limit of 100 MiB"),
            std::string::npos)
      << error;

  std::string json = raw("json.safetensors", "{\"x\": [1,", 0);
  EXPECT_FALSE(File::open(json, error));
  EXPECT_NE(error.find("not valid JSON"), std::string::npos) << error;
  std::string array = raw("array.safetensors", "[1]", 0);
  EXPECT_FALSE(File::open(array, error));
  EXPECT_NE(error.find("not a JSON object"), std::string::npos) << error;

  std::string dtype =
      raw("dtype.safetensors",
          R"({"x": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}})", 1);
  EXPECT_FALSE(File::open(dtype, error));
  EXPECT_NE(error.find("tensor 'x': unknown dtype \"Q8\""), std::string::npos)
      << error;

  std::string size = raw(
      "size.safetensors",
      R"({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}})", 4);
  EXPECT_FALSE(File::open(size, error));
  EXPECT_NE(error.find("tensor 'x': holds 4 bytes"), std::string::npos)
      << error;

  EXPECT_FALSE(File::open(path("absent.safetensors"), error));
  EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST_F(SafetensorsTest, DeeplyNestedHeaderIsOneErrorNotACrash) {
  // 300 000 nested arrays as a dtype used to overflow the stack when the
  // message printed them.
  std::string error;
  // A header whose one tensor has `dtype` as its dtype.
  auto openWithDtype = [&](const std::string &name, const std::string &dtype) {
    return File::open(raw(name,
                          "{\"w\":{\"dtype\":" + dtype +
                              ",\"shape\":[1],\"data_offsets\":[0,4]}}",
                          4),
                      error);
  };
  std::string deep = std::string(300000, '[') + std::string(300000, ']');
  EXPECT_FALSE(openWithDtype("deep.safetensors", deep));
  EXPECT_NE(error.find("JSON nested deeper than 64 levels"), std::string::npos)
      << error;
  // A long value is quoted briefly.
  EXPECT_FALSE(openWithDtype("wide.safetensors",
                             "\"" + std::string(100000, 'x') + "\""));
  EXPECT_NE(error.find("tensor 'w': unknown dtype \"xxxx"), std::string::npos)
      << error;
  EXPECT_LT(error.size(), 200u) << error;
}

TEST_F(SafetensorsTest, HugeHeadersParseInLinearithmicTime) {
  // 256 k tensors took 42 s when the header was an ordered_json (linear
  // inserts); the bound below is far above what a sorted map takes.
  constexpr int kTensors = 256 * 1024;
  std::string header = "{";
  for (int i = 0; i < kTensors; ++i)
    header += (i ? ",\"t" : "\"t") + std::to_string(i) +
              "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" +
              std::to_string(4 * i) + "," + std::to_string(4 * i + 4) + "]}";
  header += "}";
  std::string file = raw("many.safetensors", header, 4 * kTensors);
  auto start = std::chrono::steady_clock::now();
  std::string error;
  auto read = File::open(file, error);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->tensors().size(), static_cast<size_t>(kTensors));
  EXPECT_EQ(read->tensors()[1].name, "t1");
  EXPECT_EQ(read->find("t200000")->data - read->tensors()[0].data, 800000);
  EXPECT_LT(seconds, 10.0);
}

TEST_F(SafetensorsTest, DuplicateTensorNamesAreRejected) {
  std::string error;
  EXPECT_FALSE(File::open(
      raw("twice.safetensors",
          "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
          8),
      error));
  EXPECT_NE(error.find("the name 'w' appears twice"), std::string::npos)
      << error;
}

TEST_F(SafetensorsTest, FailedWriteLeavesNoFile) {
  std::string error;
  std::string file = ::testing::TempDir() + "no-such-dir/out.safetensors";
  EXPECT_FALSE(write(file, {}, {}, error));
  EXPECT_NE(error.find("cannot create"), std::string::npos) << error;
  EXPECT_NE(access(file.c_str(), F_OK), 0);
}

} // namespace

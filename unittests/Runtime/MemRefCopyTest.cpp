//===- MemRefCopyTest.cpp - The runtime's strided memref copy -------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

struct Unranked {
  int64_t rank;
  void *descriptor;
};

extern "C" void memrefCopy(int64_t elementSize, Unranked *source,
                           Unranked *target);

/// A rank-2 descriptor {allocated, aligned, offset, sizes, strides}.
std::vector<int64_t> descriptor2(float *data, int64_t offset,
                                 std::vector<int64_t> sizes,
                                 std::vector<int64_t> strides) {
  auto address = reinterpret_cast<int64_t>(data);
  return {address, address, offset, sizes[0], sizes[1], strides[0], strides[1]};
}

std::vector<float> iota(size_t n) {
  std::vector<float> values(n);
  for (size_t i = 0; i < n; ++i)
    values[i] = static_cast<float>(i);
  return values;
}

TEST(MemRefCopy, CopiesASliceWithContiguousRows) {
  // Rows 1..2, columns 1..3 of a 4x5 buffer into a 2x3 one.
  std::vector<float> source = iota(20), target(6, -1);
  auto from = descriptor2(source.data(), 6, {2, 3}, {5, 1});
  auto to = descriptor2(target.data(), 0, {2, 3}, {3, 1});
  Unranked s{2, from.data()}, t{2, to.data()};
  memrefCopy(sizeof(float), &s, &t);
  EXPECT_EQ(target, (std::vector<float>{6, 7, 8, 11, 12, 13}));
}

TEST(MemRefCopy, CopiesATransposedView) {
  // The transpose of a 2x3 buffer (strides 1, 3) into a 3x2 one.
  std::vector<float> source = iota(6), target(6, -1);
  auto from = descriptor2(source.data(), 0, {3, 2}, {1, 3});
  auto to = descriptor2(target.data(), 0, {3, 2}, {2, 1});
  Unranked s{2, from.data()}, t{2, to.data()};
  memrefCopy(sizeof(float), &s, &t);
  EXPECT_EQ(target, (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(MemRefCopy, IgnoresEmptyMemRefs) {
  std::vector<float> source = iota(4), target(4, -1);
  auto from = descriptor2(source.data(), 0, {0, 4}, {4, 1});
  auto to = descriptor2(target.data(), 0, {0, 4}, {4, 1});
  Unranked s{2, from.data()}, t{2, to.data()};
  memrefCopy(sizeof(float), &s, &t);
  EXPECT_EQ(target, (std::vector<float>(4, -1)));
}

} // namespace

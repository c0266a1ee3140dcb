//===- MemRefCopy.cpp - Strided memref copies for compiled code -----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// memref.copy between non-contiguous memrefs lowers to a call of
// `memrefCopy(elementSize, source, target)` on unranked descriptors. MLIR
// ships it in libmlir_c_runner_utils; the executables must not depend on
// MLIR libraries, so the runtime provides its own (contiguous rows are
// copied with one memcpy each: decode steps copy their caches this way).
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

/// An unranked memref: its rank and a pointer to the ranked descriptor
/// {allocated, aligned, offset, sizes[rank], strides[rank]}.
struct UnrankedDescriptor {
  int64_t rank;
  void *descriptor;
};

struct RankedView {
  char *aligned;
  int64_t offset;
  const int64_t *sizes;
  const int64_t *strides;
};

RankedView view(const UnrankedDescriptor &memref) {
  auto *words = static_cast<int64_t *>(memref.descriptor);
  RankedView v;
  std::memcpy(&v.aligned, &words[1], sizeof(void *));
  v.offset = words[2];
  v.sizes = words + 3;
  v.strides = words + 3 + memref.rank;
  return v;
}

} // namespace

extern "C" void memrefCopy(int64_t elementSize, UnrankedDescriptor *source,
                           UnrankedDescriptor *target) {
  int64_t rank = source->rank;
  RankedView from = view(*source), to = view(*target);
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d)
    count *= from.sizes[d];
  if (count == 0)
    return;
  // Rows: the innermost dimension, copied with one memcpy when it is
  // contiguous on both sides (the common case: a slice of a larger buffer),
  // element by element otherwise.
  int64_t inner = rank > 0 ? from.sizes[rank - 1] : 1;
  bool contiguousRows =
      rank == 0 || (from.strides[rank - 1] == 1 && to.strides[rank - 1] == 1);
  int64_t outerRank = rank > 0 ? rank - 1 : 0;
  std::vector<int64_t> index(outerRank, 0);
  int64_t readAt = from.offset, writeAt = to.offset;
  for (int64_t row = 0, rows = count / inner; row < rows; ++row) {
    if (contiguousRows) {
      std::memcpy(to.aligned + writeAt * elementSize,
                  from.aligned + readAt * elementSize, inner * elementSize);
    } else {
      for (int64_t i = 0; i < inner; ++i)
        std::memcpy(
            to.aligned + (writeAt + i * to.strides[rank - 1]) * elementSize,
            from.aligned + (readAt + i * from.strides[rank - 1]) * elementSize,
            elementSize);
    }
    // Advance the outer index like an odometer.
    for (int64_t d = outerRank - 1; d >= 0; --d) {
      ++index[d];
      readAt += from.strides[d];
      writeAt += to.strides[d];
      if (index[d] < from.sizes[d])
        break;
      readAt -= from.strides[d] * from.sizes[d];
      writeAt -= to.strides[d] * to.sizes[d];
      index[d] = 0;
    }
  }
}

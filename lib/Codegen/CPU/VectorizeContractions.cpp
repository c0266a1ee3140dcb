//===- VectorizeContractions.cpp - Register tiles for contractions --------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/Transforms/LoweringPatterns.h"
#include "mlir/Dialect/Vector/Transforms/VectorRewritePatterns.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/LoopInvariantCodeMotionUtils.h"

#include <algorithm>

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTVECTORIZECONTRACTIONSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {

/// The largest matrix (in elements) of a matrix-vector product that is cut
/// into register blocks: 16 KiB of f32.
constexpr int64_t kSmallMatrixElements = 64 * 64;

/// The largest divisor of `size` that is at most `limit`.
int64_t largestDivisorUpTo(int64_t size, int64_t limit) {
  for (int64_t tile = std::min(size, limit); tile > 1; --tile)
    if (size % tile == 0)
      return tile;
  return 1;
}

/// The tile sizes (one per loop, 0 for an untiled loop) that cut `op` into
/// register blocks, or nothing when the op does not qualify.
std::optional<SmallVector<int64_t>> registerTileSizes(linalg::LinalgOp op,
                                                      int64_t rows,
                                                      int64_t columns,
                                                      int64_t depth) {
  if (!op.hasPureTensorSemantics() || op.getNumDpsInits() != 1 ||
      op.getNumReductionLoops() != 1 || op.hasDynamicShape() ||
      !isa<FloatType>(getElementTypeOrSelf(op.getDpsInits()[0].getType())))
    return std::nullopt;
  AffineMap output = op.getIndexingMapMatchingResult(op->getResult(0));
  if (!output.isProjectedPermutation() || output.getNumResults() == 0)
    return std::nullopt;
  SmallVector<int64_t> ranges = op.getStaticLoopRanges();
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  unsigned column = output.getDimPosition(output.getNumResults() - 1);
  if (ranges[column] % 8 != 0)
    return std::nullopt;
  // A single output row (a matrix-vector product) gains from blocks only
  // when its matrix is small enough to stay in L1 (the UT transform's rows);
  // a large one (a projection row of the decode step) streams from memory
  // faster row by row, as the plain loops read it.
  std::optional<unsigned> row;
  if (output.getNumResults() > 1)
    row = output.getDimPosition(output.getNumResults() - 2);
  if (!row || ranges[*row] == 1) {
    int64_t matrix = ranges[column];
    for (auto [loop, iterator] : llvm::enumerate(iterators))
      if (iterator == utils::IteratorType::reduction)
        matrix *= ranges[loop];
    if (matrix > kSmallMatrixElements)
      return std::nullopt;
  }

  SmallVector<int64_t> sizes;
  for (auto [loop, range] : llvm::enumerate(ranges)) {
    if (loop == column)
      sizes.push_back(largestDivisorUpTo(range, columns));
    else if (row && loop == *row)
      sizes.push_back(largestDivisorUpTo(range, rows));
    else if (iterators[loop] == utils::IteratorType::reduction)
      sizes.push_back(range <= depth ? 0 : largestDivisorUpTo(range, depth));
    else
      sizes.push_back(1);
    // A tile as large as its loop is no tiling.
    if (sizes.back() == range)
      sizes.back() = 0;
  }
  return sizes;
}

/// Rewrites `block` (a linalg op) into a linalg.generic without its unit
/// loops; `block` becomes that op. Fails when some operand keeps them.
LogicalResult dropUnitLoops(RewriterBase &rewriter, Operation *&block) {
  auto op = cast<linalg::LinalgOp>(block);
  if (!llvm::is_contained(op.getStaticLoopRanges(), 1))
    return success();
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::GenericOp> generic =
      isa<linalg::GenericOp>(block) ? cast<linalg::GenericOp>(block)
                                    : linalg::generalizeNamedOp(rewriter, op);
  if (failed(generic))
    return failure();
  // Rank-reducing slices rather than reshapes: they fold into the vector
  // transfers, which then read and write the operands themselves.
  linalg::ControlDropUnitDims control;
  control.rankReductionStrategy =
      linalg::ControlDropUnitDims::RankReductionStrategy::ExtractInsertSlice;
  FailureOr<linalg::DropUnitDimsResult> dropped =
      linalg::dropUnitDims(rewriter, *generic, control);
  if (failed(dropped)) {
    block = *generic;
    return failure();
  }
  rewriter.replaceOp(*generic, dropped->replacements);
  block = dropped->resultOp;
  return success();
}

struct TpttVectorizeContractionsPass
    : public tptt::impl::TpttVectorizeContractionsPassBase<
          TpttVectorizeContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (columns < 8 || columns % 8 != 0 || rows < 1 || depth < 1) {
      getOperation().emitError("tptt-vectorize-contractions: columns must be "
                               "a positive multiple of 8, rows and depth "
                               "positive");
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::LinalgOp, SmallVector<int64_t>>> work;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (auto sizes = registerTileSizes(op, rows, columns, depth))
        work.emplace_back(op, std::move(*sizes));
    });

    MLIRContext *context = &getContext();
    IRRewriter rewriter(context);
    for (auto &[op, sizes] : work) {
      Operation *block = op;
      if (llvm::any_of(sizes, [](int64_t size) { return size != 0; })) {
        // The reduction loop innermost: a block's accumulator then stays in
        // registers across it.
        SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
        auto order = llvm::to_vector(llvm::seq<int64_t>(0, iterators.size()));
        std::stable_partition(order.begin(), order.end(), [&](int64_t loop) {
          return iterators[loop] == utils::IteratorType::parallel;
        });
        scf::SCFTilingOptions options;
        options.setTileSizes(getAsIndexOpFoldResult(context, sizes));
        options.setInterchange(order);
        rewriter.setInsertionPoint(op);
        FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
            rewriter, cast<TilingInterface>(op.getOperation()), options);
        if (failed(tiled)) {
          op->emitOpError("could not be tiled into register blocks");
          return signalPassFailure();
        }
        rewriter.replaceOp(op, tiled->replacements);
        block = tiled->tiledOps.back();
      }
      // Unit loops (the batch dimensions, tiled to 1) are dropped, so that
      // the vectors have the rank of the block's rows, columns and depth.
      if (failed(dropUnitLoops(rewriter, block)))
        continue;
      // A block the vectorizer does not handle stays scalar loops.
      rewriter.setInsertionPoint(block);
      FailureOr<linalg::VectorizationResult> vectorized = linalg::vectorize(
          rewriter, block, /*inputVectorSizes=*/{},
          /*inputScalableVecDims=*/{}, /*vectorizeNDExtract=*/false,
          /*flatten1DDepthwiseConv=*/false,
          /*assumeDynamicDimsMatchVecSizes=*/false,
          /*createNamedContraction=*/true);
      if (succeeded(vectorized))
        rewriter.replaceOp(block, vectorized->replacements);
    }

    // The accumulator of a block moves out of its reduction loop (before the
    // slices fold into the transfers, which hides the pairs), and blocks read
    // and write their operands in place.
    hoistAccumulators(rewriter);
    RewritePatternSet patterns(context);
    vector::populateVectorReductionToContractPatterns(patterns);
    vector::populateVectorTransferPermutationMapLoweringPatterns(patterns);
    tensor::populateFoldTensorSubsetIntoVectorTransferPatterns(patterns);
    tensor::populateMergeConsecutiveInsertExtractSlicePatterns(patterns);
    vector::TransferReadOp::getCanonicalizationPatterns(patterns, context);
    vector::TransferWriteOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExtractSliceOp::getCanonicalizationPatterns(patterns, context);
    tensor::InsertSliceOp::getCanonicalizationPatterns(patterns, context);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    hoistAccumulators(rewriter);
  }

  void hoistAccumulators(RewriterBase &rewriter) {
    getOperation().walk(
        [&](scf::ForOp loop) { hoistLoopInvariantSubsets(rewriter, loop); });
  }
};

} // namespace

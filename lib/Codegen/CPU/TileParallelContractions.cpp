//===- TileParallelContractions.cpp - Parallel rows for contractions ------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Codegen/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTTILEPARALLELCONTRACTIONSPASS
#include "tptt/Codegen/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;

namespace {
struct TpttTileParallelContractionsPass
    : public tptt::impl::TpttTileParallelContractionsPassBase<
          TpttTileParallelContractionsPass> {
  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> contractions;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() > 0 && op.getNumParallelLoops() > 1 &&
          !op->getParentOfType<scf::ForallOp>() && op.hasPureTensorSemantics())
        contractions.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : contractions) {
      // Tile size 1 on every parallel loop but the innermost loop.
      SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
      SmallVector<OpFoldResult> tileSizes;
      for (auto [index, iterator] : llvm::enumerate(iterators)) {
        bool tiled = iterator == utils::IteratorType::parallel &&
                     index + 1 < iterators.size();
        tileSizes.push_back(rewriter.getIndexAttr(tiled ? 1 : 0));
      }
      scf::SCFTilingOptions options;
      options.setTileSizes(tileSizes);
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      rewriter.setInsertionPoint(op);
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled)) {
        op->emitOpError("could not be tiled into parallel rows");
        return signalPassFailure();
      }
      rewriter.replaceOp(op, tiled->replacements);
    }
  }
};
} // namespace

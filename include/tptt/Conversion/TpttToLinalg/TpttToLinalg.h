//===- TpttToLinalg.h - Lower tptt ops to linalg -----------------*- C++
//-*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_CONVERSION_TPTTTOLINALG_TPTTTOLINALG_H
#define TPTT_CONVERSION_TPTTTOLINALG_TPTTTOLINALG_H

#include <cstdint>

namespace mlir {
class RewritePatternSet;
namespace tptt {

/// Options shared by the lowering patterns.
struct TpttToLinalgOptions {
  /// Chunk length (real tokens) of the linear recurrent operator's schedule;
  /// 0 uses each op's chunk_size.
  int64_t chunkSize = 0;
};

/// tptt.causal_mean and tptt.gates.
void populateGatesLoweringPatterns(RewritePatternSet &patterns);
/// tptt.feature_map and tptt.merge_heads.
void populateFeatureMapLoweringPatterns(RewritePatternSet &patterns);
/// tptt.virtual_token_expand.
void populateVirtualTokenLoweringPatterns(RewritePatternSet &patterns);
/// tptt.delta_product and tptt.delta_product_step.
void populateDeltaProductLoweringPatterns(RewritePatternSet &patterns,
                                          const TpttToLinalgOptions &options);
/// tptt.mag_mix.
void populateMagMixLoweringPatterns(RewritePatternSet &patterns);
/// tptt.linear, tptt.rope and tptt.attention.
void populateBackboneLoweringPatterns(RewritePatternSet &patterns);

/// Every pattern of convert-tptt-to-linalg.
void populateTpttToLinalgPatterns(RewritePatternSet &patterns,
                                  const TpttToLinalgOptions &options);

} // namespace tptt
} // namespace mlir

#endif // TPTT_CONVERSION_TPTTTOLINALG_TPTTTOLINALG_H

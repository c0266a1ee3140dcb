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
  /// Invert the ungated scan's triangular matrices by 16 × 16 blocks (see
  /// buildBlockedTrilInverse) rather than row by row.
  bool blockedTrilInverse = false;
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

/// The backbone backward ops, the loss and the optimizer:
/// tptt.cross_entropy(_grad), tptt.embedding_grad, tptt.linear_weight_grad,
/// tptt.sum_to_last, tptt.rms_norm_grad, tptt.glu_grad,
/// tptt.sum_squares and tptt.adamw.
void populateBackboneGradLoweringPatterns(RewritePatternSet &patterns);
/// The LiZA and attention backward ops: tptt.attention_grad,
/// tptt.merge_heads_grad, tptt.mag_mix_grad, tptt.feature_map_grad,
/// tptt.gates_grad and tptt.virtual_token_expand_grad.
void populateLizaGradLoweringPatterns(RewritePatternSet &patterns);
/// tptt.delta_product_grad.
void populateDeltaProductGradLoweringPatterns(
    RewritePatternSet &patterns, const TpttToLinalgOptions &options);

/// Every pattern of convert-tptt-to-linalg.
void populateTpttToLinalgPatterns(RewritePatternSet &patterns,
                                  const TpttToLinalgOptions &options);

} // namespace tptt
} // namespace mlir

#endif // TPTT_CONVERSION_TPTTTOLINALG_TPTTTOLINALG_H

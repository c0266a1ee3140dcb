//===- TpttOps.cpp - tptt op verifiers, folders and canonicalizations -----===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tptt;

//===----------------------------------------------------------------------===//
// Shape checking
//===----------------------------------------------------------------------===//

namespace {

/// Checks operand and result shapes against named layouts such as
/// [B, H, S, n, d]. Every named dimension is bound to the first static size
/// seen for it; a later static size that differs is an error naming both
/// places. Dynamic sizes are accepted anywhere except for the dimensions
/// declared static (head dimension, order, ...).
class ShapeChecker {
public:
  explicit ShapeChecker(Operation *op) : op(op) {}

  /// Pre-binds `sym` to `size`, e.g. the head count from an attribute.
  void bind(StringRef sym, int64_t size, StringRef origin) {
    bound[sym] = {size, origin.str()};
  }

  /// Declares that `sym` must be a static size wherever it appears.
  void requireStatic(StringRef sym) { staticSyms.insert(sym); }

  /// Checks that `type` is a ranked tensor with `layout.size()` dimensions and
  /// that each dimension agrees with the symbol it is named after ("_" skips).
  LogicalResult check(StringRef name, Type type, ArrayRef<StringRef> layout) {
    auto tensor = cast<RankedTensorType>(type);
    if (tensor.getRank() != static_cast<int64_t>(layout.size()))
      return op->emitOpError()
             << "'" << name << "' must have rank " << layout.size() << " "
             << formatLayout(layout) << ", got " << tensor;
    for (auto [idx, sym] : llvm::enumerate(layout)) {
      if (sym == "_")
        continue;
      int64_t size = tensor.getDimSize(idx);
      if (ShapedType::isDynamic(size)) {
        if (staticSyms.contains(sym))
          return op->emitOpError() << "'" << name << "' dimension " << idx
                                   << " (" << sym << ") must be static";
        continue;
      }
      auto it = bound.find(sym);
      if (it == bound.end()) {
        bound[sym] = {size, ("'" + name + "'").str()};
        continue;
      }
      if (it->second.first != size)
        return op->emitOpError()
               << "'" << name << "' dimension " << idx << " (" << sym << ") is "
               << size << ", but " << it->second.second << " gives " << sym
               << " = " << it->second.first;
    }
    return success();
  }

  /// The static size bound to `sym`, if any.
  std::optional<int64_t> get(StringRef sym) const {
    auto it = bound.find(sym);
    if (it == bound.end())
      return std::nullopt;
    return it->second.first;
  }

private:
  static std::string formatLayout(ArrayRef<StringRef> layout) {
    std::string s = "[";
    llvm::raw_string_ostream os(s);
    llvm::interleaveComma(layout, os);
    os << "]";
    return s;
  }

  Operation *op;
  llvm::StringMap<std::pair<int64_t, std::string>> bound;
  llvm::StringSet<> staticSyms;
};

/// Checks that every named value has the element type of the first one.
LogicalResult
checkSameElementType(Operation *op,
                     ArrayRef<std::pair<StringRef, Value>> namedValues) {
  Value first = namedValues.front().second;
  Type expected = cast<ShapedType>(first.getType()).getElementType();
  for (auto [name, value] : namedValues.drop_front()) {
    if (!value)
      continue;
    Type got = cast<ShapedType>(value.getType()).getElementType();
    if (got != expected)
      return op->emitOpError()
             << "'" << name << "' has element type " << got << ", but '"
             << namedValues.front().first << "' has " << expected;
  }
  return success();
}

LogicalResult checkPositive(Operation *op, StringRef attr, int64_t value) {
  if (value < 1)
    return op->emitOpError() << attr << " must be >= 1, got " << value;
  return success();
}

/// Checks the head-count attributes: both >= 1, H a multiple of Hkv.
LogicalResult checkHeads(Operation *op, int64_t heads, int64_t kvHeads) {
  if (failed(checkPositive(op, "num_heads", heads)) ||
      failed(checkPositive(op, "num_kv_heads", kvHeads)))
    return failure();
  if (heads % kvHeads != 0)
    return op->emitOpError()
           << "num_heads (" << heads << ") must be a multiple of num_kv_heads ("
           << kvHeads << ")";
  return success();
}

/// Derives the head dimension d from a [B, S, Hkv·d] key/value projection
/// and binds H, Hkv and d in `shapes`.
LogicalResult bindProjectionHeads(Operation *op, ShapeChecker &shapes,
                                  StringRef name, Value kv, int64_t heads,
                                  int64_t kvHeads) {
  shapes.bind("H", heads, "num_heads");
  shapes.requireStatic("Hkv*d");
  if (failed(shapes.check(name, kv.getType(), {"B", "S", "Hkv*d"})))
    return failure();
  int64_t features = *shapes.get("Hkv*d");
  if (features % kvHeads != 0)
    return op->emitOpError()
           << "feature dimension of '" << name << "' (" << features
           << ") is not divisible by num_kv_heads (" << kvHeads << ")";
  shapes.bind("d", features / kvHeads, "'" + name.str() + "' / num_kv_heads");
  return success();
}

/// Checks a [B, S] mask operand when present.
LogicalResult checkMask(ShapeChecker &shapes, Value mask, StringRef seq = "S") {
  if (!mask)
    return success();
  return shapes.check("mask", mask.getType(), {"B", seq});
}

} // namespace

//===----------------------------------------------------------------------===//
// CausalMeanOp
//===----------------------------------------------------------------------===//

LogicalResult CausalMeanOp::verify() {
  int64_t width = getWidth();
  if (failed(checkPositive(*this, "width", width)))
    return failure();
  ShapeChecker shapes(*this);
  if (failed(shapes.check("input", getInput().getType(), {"B", "S", "F"})) ||
      failed(shapes.check("result", getType(), {"B", "S", "F"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  if (Value history = getHistory()) {
    if (width == 1)
      return emitOpError("'history' requires width > 1 (a width-1 mean has "
                         "no lags)");
    shapes.bind("width-1", width - 1, "width");
    if (failed(
            shapes.check("history", history.getType(), {"B", "width-1", "F"})))
      return failure();
  }
  return checkSameElementType(*this, {{"input", getInput()},
                                      {"history", getHistory()},
                                      {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// GatesOp
//===----------------------------------------------------------------------===//

LogicalResult GatesOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (failed(checkHeads(*this, heads, kvHeads)))
    return failure();
  ShapeChecker shapes(*this);
  if (failed(bindProjectionHeads(*this, shapes, "k", getK(), heads, kvHeads)) ||
      failed(shapes.check("v", getV().getType(), {"B", "S", "Hkv*d"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  if (static_cast<bool>(getKHistory()) != static_cast<bool>(getVHistory()))
    return emitOpError("'k_history' and 'v_history' must be given together");
  if (getKHistory()) {
    shapes.bind("2", 2, "the width-3 pool");
    if (failed(shapes.check("k_history", getKHistory().getType(),
                            {"B", "2", "Hkv*d"})) ||
        failed(shapes.check("v_history", getVHistory().getType(),
                            {"B", "2", "Hkv*d"})))
      return failure();
  }
  if (failed(shapes.check("alpha", getAlpha().getType(), {"B", "H", "S", "d"})))
    return failure();
  if (getAlpha().getType() != getBeta().getType())
    return emitOpError() << "'alpha' and 'beta' must have the same type, got "
                         << getAlpha().getType() << " and "
                         << getBeta().getType();
  return checkSameElementType(*this, {{"k", getK()},
                                      {"v", getV()},
                                      {"k_history", getKHistory()},
                                      {"v_history", getVHistory()}});
}

//===----------------------------------------------------------------------===//
// FeatureMapOp
//===----------------------------------------------------------------------===//

LogicalResult FeatureMapOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (failed(checkHeads(*this, heads, kvHeads)))
    return failure();
  ShapeChecker shapes(*this);
  if (failed(bindProjectionHeads(*this, shapes, "k", getK(), heads, kvHeads)) ||
      failed(shapes.check("v", getV().getType(), {"B", "S", "Hkv*d"})))
    return failure();
  shapes.bind("H*d", heads * *shapes.get("d"), "num_heads x head_dim");
  if (failed(shapes.check("q", getQ().getType(), {"B", "S", "H*d"})))
    return failure();
  for (auto [name, value] : {std::pair<StringRef, Value>{"q_hat", getQHat()},
                             {"k_hat", getKHat()},
                             {"v_hat", getVHat()}}) {
    if (failed(shapes.check(name, value.getType(), {"B", "H", "S", "d"})))
      return failure();
    if (value.getType() != getQHat().getType())
      return emitOpError() << "'" << name << "' must have the type of 'q_hat' ("
                           << getQHat().getType() << "), got "
                           << value.getType();
  }
  return checkSameElementType(*this,
                              {{"q", getQ()}, {"k", getK()}, {"v", getV()}});
}

//===----------------------------------------------------------------------===//
// VirtualTokenExpandOp
//===----------------------------------------------------------------------===//

LogicalResult VirtualTokenExpandOp::verify() {
  int64_t order = getOrder();
  if (failed(checkPositive(*this, "order", order)))
    return failure();
  ShapeChecker shapes(*this);
  shapes.bind("n", order, "order");
  shapes.requireStatic("d");
  if (failed(
          shapes.check("input", getInput().getType(), {"B", "H", "S", "d"})) ||
      failed(shapes.check("result", getType(), {"B", "H", "S", "n", "d"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  if (Value history = getHistory()) {
    if (order == 1)
      return emitOpError("'history' requires order > 1 (order 1 has no lags)");
    shapes.bind("n-1", order - 1, "order - 1");
    if (failed(
            shapes.check("history", history.getType(), {"B", "H", "n-1", "d"})))
      return failure();
  }
  return checkSameElementType(*this, {{"input", getInput()},
                                      {"history", getHistory()},
                                      {"result", getResult()}});
}

namespace {
/// At order 1 the expansion is the identity with a unit virtual-token axis:
/// rewrite it to tensor.expand_shape so later passes see a plain reshape.
struct ExpandOrderOneToReshape : public OpRewritePattern<VirtualTokenExpandOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(VirtualTokenExpandOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getOrder() != 1)
      return failure();
    SmallVector<ReassociationIndices> reassociation = {{0}, {1}, {2}, {3, 4}};
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, op.getType(), op.getInput(), reassociation);
    return success();
  }
};
} // namespace

void VirtualTokenExpandOp::getCanonicalizationPatterns(
    RewritePatternSet &results, MLIRContext *context) {
  results.add<ExpandOrderOneToReshape>(context);
}

//===----------------------------------------------------------------------===//
// DeltaProductOp
//===----------------------------------------------------------------------===//

int64_t DeltaProductOp::getOrder() {
  return cast<RankedTensorType>(getK().getType()).getDimSize(3);
}

int64_t DeltaProductOp::getHeadDim() {
  return cast<RankedTensorType>(getK().getType()).getDimSize(4);
}

LogicalResult DeltaProductOp::verify() {
  if (failed(checkPositive(*this, "chunk_size", getChunkSize())))
    return failure();
  ShapeChecker shapes(*this);
  shapes.requireStatic("n");
  shapes.requireStatic("d");
  if (failed(shapes.check("k", getK().getType(), {"B", "H", "S", "n", "d"})) ||
      failed(shapes.check("v", getV().getType(), {"B", "H", "S", "n", "d"})))
    return failure();
  bool recurrent = getSemantics() == Semantics::Recurrent;
  // q and the gates are per real token under recurrent, expanded otherwise.
  SmallVector<StringRef> perToken = {"B", "H", "S", "n", "d"};
  if (recurrent)
    perToken.erase(perToken.begin() + 3);
  if (failed(shapes.check("q", getQ().getType(), perToken)) ||
      failed(shapes.check("beta", getBeta().getType(), perToken)))
    return failure();
  if (Value alpha = getAlpha())
    if (failed(shapes.check("alpha", alpha.getType(), perToken)))
      return failure();
  if (getMask() && !recurrent)
    return emitOpError("'mask' is not allowed with tptt-0.12 semantics (the "
                       "reference multiplies v by the mask before the gates)");
  if (failed(checkMask(shapes, getMask())))
    return failure();
  if (Value init = getInitialState())
    if (failed(shapes.check("initial_state", init.getType(),
                            {"B", "H", "d", "d"})))
      return failure();
  if (failed(shapes.check("output", getOutput().getType(),
                          {"B", "H", "S", "d"})) ||
      failed(shapes.check("final_state", getFinalState().getType(),
                          {"B", "H", "d", "d"})))
    return failure();
  return checkSameElementType(*this, {{"q", getQ()},
                                      {"k", getK()},
                                      {"v", getV()},
                                      {"alpha", getAlpha()},
                                      {"beta", getBeta()},
                                      {"initial_state", getInitialState()},
                                      {"output", getOutput()},
                                      {"final_state", getFinalState()}});
}

namespace {
/// α = 1 is no decay at all: drop a constant all-ones `alpha` so that the
/// lowering can use the ungated (pure matmul) chunk form.
struct DropUnitDecay : public OpRewritePattern<DeltaProductOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DeltaProductOp op,
                                PatternRewriter &rewriter) const override {
    DenseFPElementsAttr alpha;
    if (!op.getAlpha() || !matchPattern(op.getAlpha(), m_Constant(&alpha)) ||
        !alpha.isSplat() || !alpha.getSplatValue<APFloat>().isExactlyValue(1.0))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getAlphaMutable().clear(); });
    return success();
  }
};
} // namespace

void DeltaProductOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                                 MLIRContext *context) {
  results.add<DropUnitDecay>(context);
}

//===----------------------------------------------------------------------===//
// DeltaProductStepOp
//===----------------------------------------------------------------------===//

LogicalResult DeltaProductStepOp::verify() {
  if (failed(checkPositive(*this, "chunk_size", getChunkSize())))
    return failure();
  if (getNonlinear() && !getPosition())
    return emitOpError("'position' is required with nonlinear (phi applies "
                       "after tokens with (position + 1) mod chunk_size = 0)");
  if (!getNonlinear() && getPosition())
    return emitOpError("'position' is only used with nonlinear");
  ShapeChecker shapes(*this);
  shapes.requireStatic("n");
  shapes.requireStatic("d");
  if (failed(shapes.check("k", getK().getType(), {"B", "H", "n", "d"})) ||
      failed(shapes.check("v", getV().getType(), {"B", "H", "n", "d"})) ||
      failed(shapes.check("q", getQ().getType(), {"B", "H", "d"})) ||
      failed(shapes.check("beta", getBeta().getType(), {"B", "H", "d"})) ||
      failed(
          shapes.check("state", getState().getType(), {"B", "H", "d", "d"})) ||
      failed(shapes.check("output", getOutput().getType(), {"B", "H", "d"})) ||
      failed(shapes.check("new_state", getNewState().getType(),
                          {"B", "H", "d", "d"})))
    return failure();
  if (Value alpha = getAlpha())
    if (failed(shapes.check("alpha", alpha.getType(), {"B", "H", "d"})))
      return failure();
  if (Value position = getPosition())
    if (failed(shapes.check("position", position.getType(), {"B"})))
      return failure();
  return checkSameElementType(*this, {{"q", getQ()},
                                      {"k", getK()},
                                      {"v", getV()},
                                      {"alpha", getAlpha()},
                                      {"beta", getBeta()},
                                      {"state", getState()},
                                      {"output", getOutput()},
                                      {"new_state", getNewState()}});
}

//===----------------------------------------------------------------------===//
// TrilInverseOp and PhiOp
//===----------------------------------------------------------------------===//

LogicalResult TrilInverseOp::verify() {
  auto type = cast<RankedTensorType>(getInput().getType());
  if (type.getRank() < 2)
    return emitOpError() << "'input' must have rank >= 2 [..., N, N], got "
                         << type;
  int64_t rows = type.getDimSize(type.getRank() - 2);
  int64_t cols = type.getDimSize(type.getRank() - 1);
  if (!ShapedType::isDynamic(rows) && !ShapedType::isDynamic(cols) &&
      rows != cols)
    return emitOpError() << "'input' must be square in its last two "
                            "dimensions, got "
                         << rows << "x" << cols;
  return success();
}

LogicalResult PhiOp::verify() {
  if (cast<RankedTensorType>(getInput().getType()).getRank() < 1)
    return emitOpError("'input' must have rank >= 1 (phi acts on rows)");
  return success();
}

//===----------------------------------------------------------------------===//
// MergeHeadsOp
//===----------------------------------------------------------------------===//

LogicalResult MergeHeadsOp::verify() {
  if (getEps().convertToDouble() <= 0.0)
    return emitOpError() << "eps must be > 0, got "
                         << getEps().convertToDouble();
  ShapeChecker shapes(*this);
  shapes.requireStatic("H");
  shapes.requireStatic("d");
  if (failed(shapes.check("input", getInput().getType(), {"B", "H", "S", "d"})))
    return failure();
  shapes.bind("H*d", *shapes.get("H") * *shapes.get("d"), "'input' (H x d)");
  return shapes.check("result", getType(), {"B", "S", "H*d"});
}

//===----------------------------------------------------------------------===//
// MagMixOp
//===----------------------------------------------------------------------===//

LogicalResult MagMixOp::verify() {
  if (getEps().convertToDouble() <= 0.0)
    return emitOpError() << "eps must be > 0, got "
                         << getEps().convertToDouble();
  ShapeChecker shapes(*this);
  if (failed(shapes.check("soft", getSoft().getType(), {"B", "S", "D"})))
    return failure();
  if (getLin().getType() != getSoft().getType() ||
      getType() != getSoft().getType())
    return emitOpError() << "'soft', 'lin' and the result must have the same "
                            "type, got "
                         << getSoft().getType() << ", " << getLin().getType()
                         << " and " << getType();
  return success();
}

OpFoldResult MagMixOp::fold(FoldAdaptor adaptor) {
  auto mu = dyn_cast_if_present<DenseFPElementsAttr>(adaptor.getMu());
  if (!mu)
    return {};
  APFloat value = mu.getSplatValue<APFloat>();
  // μ = 0: s = soft and l = 0, whatever the gate options: the base model.
  if (value.isZero())
    return getSoft();
  // μ = 1 without cross term or base scaling: s = 0 and out = lin.
  if (value.isExactlyValue(1.0) && !getCrossGate() && !getBaseScaleAttn())
    return getLin();
  return {};
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getType());
  if (input.getRank() < 1)
    return emitOpError("'input' must have rank >= 1");
  ShapeChecker shapes(*this);
  SmallVector<StringRef> lead(input.getRank() - 1, "_");
  SmallVector<StringRef> inLayout(lead), outLayout(lead);
  inLayout.push_back("I");
  outLayout.push_back("O");
  SmallVector<StringRef> weightLayout = {"O", "I"};
  if (getTransposedWeight())
    weightLayout = {"I", "O"};
  if (failed(shapes.check("weight", getWeight().getType(), weightLayout)) ||
      failed(shapes.check("input", input, inLayout)) ||
      failed(shapes.check("result", result, outLayout)))
    return failure();
  if (Value bias = getBias())
    if (failed(shapes.check("bias", bias.getType(), {"O"})))
      return failure();
  for (int64_t i = 0, e = input.getRank() - 1; i < e; ++i)
    if (!ShapedType::isDynamic(input.getDimSize(i)) &&
        !ShapedType::isDynamic(result.getDimSize(i)) &&
        input.getDimSize(i) != result.getDimSize(i))
      return emitOpError() << "result dimension " << i << " is "
                           << result.getDimSize(i) << ", but 'input' has "
                           << input.getDimSize(i);
  return checkSameElementType(*this, {{"input", getInput()},
                                      {"weight", getWeight()},
                                      {"bias", getBias()},
                                      {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("d");
  if (failed(shapes.check("input", getInput().getType(), {"B", "H", "S", "d"})))
    return failure();
  if (*shapes.get("d") % 2 != 0)
    return emitOpError() << "head dimension must be even for rotate-half "
                            "RoPE, got "
                         << *shapes.get("d");
  if (failed(shapes.check("cos", getCos().getType(), {"B", "S", "d"})) ||
      failed(shapes.check("sin", getSin().getType(), {"B", "S", "d"})) ||
      failed(shapes.check("result", getType(), {"B", "H", "S", "d"})))
    return failure();
  return checkSameElementType(*this, {{"input", getInput()},
                                      {"cos", getCos()},
                                      {"sin", getSin()},
                                      {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

LogicalResult AttentionOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("H");
  shapes.requireStatic("Hkv");
  shapes.requireStatic("d");
  if (failed(shapes.check("q", getQ().getType(), {"B", "H", "S", "d"})) ||
      failed(shapes.check("k", getK().getType(), {"B", "Hkv", "T", "d"})) ||
      failed(shapes.check("v", getV().getType(), {"B", "Hkv", "T", "d"})) ||
      failed(checkMask(shapes, getMask(), "T")) ||
      failed(shapes.check("result", getType(), {"B", "H", "S", "d"})))
    return failure();
  if (failed(checkHeads(*this, *shapes.get("H"), *shapes.get("Hkv"))))
    return failure();
  if (std::optional<uint64_t> window = getWindow())
    if (failed(checkPositive(*this, "window", static_cast<int64_t>(*window))))
      return failure();
  if (std::optional<APFloat> scale = getScale())
    if (scale->convertToDouble() <= 0.0)
      return emitOpError() << "scale must be > 0, got "
                           << scale->convertToDouble();
  return checkSameElementType(
      *this,
      {{"q", getQ()}, {"k", getK()}, {"v", getV()}, {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// EmbeddingOp, RmsNormOp, RopeTablesOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("D");
  if (failed(shapes.check("ids", getIds().getType(), {"B", "S"})) ||
      failed(shapes.check("table", getTable().getType(), {"V", "D"})) ||
      failed(shapes.check("result", getType(), {"B", "S", "D"})))
    return failure();
  return success();
}

LogicalResult RmsNormOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  if (input.getRank() < 1)
    return emitOpError("'input' must have rank >= 1");
  if (input != getType())
    return emitOpError() << "result type " << getType()
                         << " must equal the input type " << input;
  ShapeChecker shapes(*this);
  shapes.requireStatic("D");
  SmallVector<StringRef> layout(input.getRank() - 1, "_");
  layout.push_back("D");
  if (failed(shapes.check("input", input, layout)) ||
      failed(shapes.check("weight", getWeight().getType(), {"D"})))
    return failure();
  if (getEps().convertToDouble() <= 0.0)
    return emitOpError() << "eps must be > 0, got "
                         << getEps().convertToDouble();
  return checkSameElementType(*this,
                              {{"input", getInput()}, {"weight", getWeight()}});
}

LogicalResult RopeTablesOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("d");
  if (failed(shapes.check("positions", getPositions().getType(), {"B", "S"})) ||
      failed(shapes.check("cos", getCos().getType(), {"B", "S", "d"})) ||
      failed(shapes.check("sin", getSin().getType(), {"B", "S", "d"})))
    return failure();
  int64_t headDim = *shapes.get("d");
  if (headDim % 2 != 0 ||
      static_cast<int64_t>(getInvFreq().size()) * 2 != headDim)
    return emitOpError() << "needs d/2 inverse frequencies for an even head "
                            "dimension d = "
                         << headDim << ", got " << getInvFreq().size();
  double scaling = getAttentionScaling().convertToDouble();
  if (!std::isfinite(scaling) || scaling <= 0.0)
    return emitOpError() << "needs a finite, positive attention_scaling, got "
                         << scaling;
  std::optional<ArrayRef<double>> longFrequencies = getLongInvFreq();
  std::optional<uint64_t> longAfter = getLongAfter();
  if (longFrequencies.has_value() != longAfter.has_value())
    return emitOpError() << "needs long_inv_freq and long_after together";
  if (longFrequencies && longFrequencies->size() != getInvFreq().size())
    return emitOpError() << "needs as many long_inv_freq as inv_freq ("
                         << getInvFreq().size() << "), got "
                         << longFrequencies->size();
  if (longAfter && failed(checkPositive(*this, "long_after",
                                        static_cast<int64_t>(*longAfter))))
    return failure();
  return checkSameElementType(*this, {{"cos", getCos()}, {"sin", getSin()}});
}

//===----------------------------------------------------------------------===//
// LizaAttentionOp
//===----------------------------------------------------------------------===//

FloatType LizaAttentionOp::getLinearElementType() {
  if (std::optional<Type> precision = getLinearPrecision())
    return cast<FloatType>(*precision);
  return cast<FloatType>(
      cast<RankedTensorType>(getQ().getType()).getElementType());
}

LogicalResult LizaAttentionOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (failed(checkHeads(*this, heads, kvHeads)) ||
      failed(checkPositive(*this, "order", getOrder())) ||
      failed(checkPositive(*this, "chunk_size", getChunkSize())))
    return failure();
  if (std::optional<uint64_t> window = getWindow())
    if (failed(checkPositive(*this, "window", static_cast<int64_t>(*window))))
      return failure();
  if (getLinearElementType().getWidth() < 32 &&
      getSemantics() != Semantics::Recurrent)
    return emitOpError() << "rounds its linear branch to linear_precision "
                         << getLinearElementType()
                         << " under the recurrent semantics only";
  ShapeChecker shapes(*this);
  if (failed(bindProjectionHeads(*this, shapes, "k", getK(), heads, kvHeads)) ||
      failed(shapes.check("v", getV().getType(), {"B", "S", "Hkv*d"})))
    return failure();
  int64_t headDim = *shapes.get("d");
  shapes.bind("H*d", heads * headDim, "num_heads x head_dim");
  if (failed(shapes.check("q", getQ().getType(), {"B", "S", "H*d"})) ||
      failed(shapes.check("cos", getCos().getType(), {"B", "S", "d"})) ||
      failed(shapes.check("sin", getSin().getType(), {"B", "S", "d"})) ||
      failed(shapes.check("o_weight", getOWeight().getType(),
                          getTransposedOWeight()
                              ? ArrayRef<StringRef>{"H*d", "D"}
                              : ArrayRef<StringRef>{"D", "H*d"})) ||
      failed(checkMask(shapes, getMask())) ||
      failed(shapes.check("result", getType(), {"B", "S", "D"})))
    return failure();
  if (Value bias = getOBias())
    if (failed(shapes.check("o_bias", bias.getType(), {"D"})))
      return failure();
  if (headDim % 2 != 0)
    return emitOpError() << "head dimension must be even for rotate-half "
                            "RoPE, got "
                         << headDim;
  return checkSameElementType(*this, {{"q", getQ()},
                                      {"k", getK()},
                                      {"v", getV()},
                                      {"cos", getCos()},
                                      {"sin", getSin()},
                                      {"o_weight", getOWeight()},
                                      {"o_bias", getOBias()},
                                      {"result", getResult()}});
}

//===----------------------------------------------------------------------===//
// Backward and training ops
//===----------------------------------------------------------------------===//

namespace {

/// Checks that the cotangent `grad` of `primal` has its shape and element
/// type (static dimensions must agree).
LogicalResult checkCotangent(Operation *op, StringRef gradName, Value grad,
                             StringRef primalName, Value primal) {
  auto gradType = cast<RankedTensorType>(grad.getType());
  auto primalType = cast<RankedTensorType>(primal.getType());
  if (failed(verifyCompatibleShape(gradType, primalType)) ||
      gradType.getElementType() != primalType.getElementType())
    return op->emitOpError()
           << "'" << gradName << "' has type " << gradType
           << ", which does not match '" << primalName << "' " << primalType;
  return success();
}

} // namespace

LogicalResult
ValueAndGradOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto callee = symbolTable.lookupNearestSymbolFrom<FunctionOpInterface>(
      *this, getCalleeAttr());
  if (!callee)
    return emitOpError() << "'" << getCallee() << "' does not name a function";
  ArrayRef<Type> inputs = callee.getArgumentTypes();
  ArrayRef<Type> outputs = callee.getResultTypes();
  if (TypeRange(getOperands().getTypes()) != TypeRange(inputs))
    return emitOpError() << "operand types do not match the inputs of '"
                         << getCallee() << "'";
  auto loss = outputs.size() == 1 ? dyn_cast<RankedTensorType>(outputs.front())
                                  : RankedTensorType();
  if (!loss || loss.getRank() != 0 || !isa<FloatType>(loss.getElementType()))
    return emitOpError() << "'" << getCallee()
                         << "' must return exactly one 0-d float tensor";
  SmallVector<Type> expected = {loss};
  llvm::SmallDenseSet<int64_t> seen;
  for (int64_t index : getWrt()) {
    if (index < 0 || index >= static_cast<int64_t>(inputs.size()) ||
        !seen.insert(index).second)
      return emitOpError() << "wrt index " << index
                           << " is out of range or repeated";
    auto type = dyn_cast<RankedTensorType>(inputs[index]);
    if (!type || !isa<FloatType>(type.getElementType()))
      return emitOpError() << "wrt index " << index
                           << " is not a float tensor operand";
    expected.push_back(type);
  }
  if (TypeRange(getResultTypes()) != TypeRange(expected))
    return emitOpError() << "results must be the loss type followed by the "
                            "types of the wrt operands";
  return success();
}

LogicalResult CrossEntropyOp::verify() {
  ShapeChecker shapes(*this);
  return success(
      succeeded(
          shapes.check("logits", getLogits().getType(), {"B", "S", "V"})) &&
      succeeded(shapes.check("labels", getLabels().getType(), {"B", "S"})));
}

LogicalResult CrossEntropyGradOp::verify() {
  ShapeChecker shapes(*this);
  if (failed(shapes.check("logits", getLogits().getType(), {"B", "S", "V"})) ||
      failed(shapes.check("labels", getLabels().getType(), {"B", "S"})))
    return failure();
  return checkCotangent(*this, "dlogits", getDlogits(), "logits", getLogits());
}

LogicalResult EmbeddingGradOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("V");
  shapes.requireStatic("D");
  return success(
      succeeded(shapes.check("ids", getIds().getType(), {"B", "S"})) &&
      succeeded(
          shapes.check("dresult", getDresult().getType(), {"B", "S", "D"})) &&
      succeeded(shapes.check("dtable", getType(), {"V", "D"})) &&
      succeeded(checkSameElementType(
          *this, {{"dresult", getDresult()}, {"dtable", getDtable()}})));
}

LogicalResult LinearWeightGradOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  ShapeChecker shapes(*this);
  shapes.requireStatic("I");
  shapes.requireStatic("O");
  SmallVector<StringRef> lead(input.getRank() - 1, "_");
  SmallVector<StringRef> inLayout(lead), outLayout(lead);
  inLayout.push_back("I");
  outLayout.push_back("O");
  if (input.getRank() < 2)
    return emitOpError("'input' must have rank >= 2");
  if (failed(shapes.check("input", input, inLayout)) ||
      failed(shapes.check("dresult", getDresult().getType(), outLayout)) ||
      failed(shapes.check("dweight", getType(),
                          getTransposedWeight()
                              ? ArrayRef<StringRef>{"I", "O"}
                              : ArrayRef<StringRef>{"O", "I"})))
    return failure();
  return checkSameElementType(*this, {{"input", getInput()},
                                      {"dresult", getDresult()},
                                      {"dweight", getDweight()}});
}

LogicalResult SumToLastOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  ShapeChecker shapes(*this);
  shapes.requireStatic("F");
  SmallVector<StringRef> layout(input.getRank() - 1, "_");
  layout.push_back("F");
  if (failed(shapes.check("input", input, layout)) ||
      failed(shapes.check("result", getType(), {"F"})))
    return failure();
  return checkSameElementType(*this,
                              {{"input", getInput()}, {"result", getResult()}});
}

LogicalResult RmsNormGradOp::verify() {
  if (failed(checkCotangent(*this, "dresult", getDresult(), "input",
                            getInput())) ||
      failed(
          checkCotangent(*this, "dinput", getDinput(), "input", getInput())) ||
      failed(checkCotangent(*this, "dweight", getDweight(), "weight",
                            getWeight())))
    return failure();
  auto weight = cast<RankedTensorType>(getWeight().getType());
  auto input = cast<RankedTensorType>(getInput().getType());
  if (weight.getRank() != 1 ||
      weight.getDimSize(0) != input.getDimSize(input.getRank() - 1))
    return emitOpError() << "'weight' " << weight
                         << " must match the last dimension of 'input' "
                         << input;
  return success();
}

namespace {

/// Checks the `cap` of a soft-capping op: finite and positive.
LogicalResult checkCap(Operation *op, double cap) {
  if (!std::isfinite(cap) || cap <= 0.0)
    return op->emitOpError() << "needs a finite, positive cap, got " << cap;
  return success();
}

} // namespace

LogicalResult SoftCapOp::verify() {
  return checkCap(*this, getCap().convertToDouble());
}

LogicalResult SoftCapGradOp::verify() {
  return checkCap(*this, getCap().convertToDouble());
}

LogicalResult GluGradOp::verify() {
  return success(
      succeeded(checkCotangent(*this, "up", getUp(), "gate", getGate())) &&
      succeeded(
          checkCotangent(*this, "dresult", getDresult(), "gate", getGate())) &&
      succeeded(
          checkCotangent(*this, "dgate", getDgate(), "gate", getGate())) &&
      succeeded(checkCotangent(*this, "dup", getDup(), "up", getUp())));
}

LogicalResult AttentionGradOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("d");
  shapes.requireStatic("H");
  shapes.requireStatic("Hkv");
  if (failed(shapes.check("q", getQ().getType(), {"B", "H", "S", "d"})) ||
      failed(shapes.check("k", getK().getType(), {"B", "Hkv", "T", "d"})) ||
      failed(shapes.check("v", getV().getType(), {"B", "Hkv", "T", "d"})) ||
      failed(checkMask(shapes, getMask(), "T")) ||
      failed(checkCotangent(*this, "out", getOut(), "q", getQ())) ||
      failed(checkCotangent(*this, "dout", getDout(), "q", getQ())) ||
      failed(checkCotangent(*this, "dq", getDq(), "q", getQ())) ||
      failed(checkCotangent(*this, "dk", getDk(), "k", getK())) ||
      failed(checkCotangent(*this, "dv", getDv(), "v", getV())))
    return failure();
  if (*shapes.get("H") % *shapes.get("Hkv") != 0)
    return emitOpError("query heads must be a multiple of key/value heads");
  return success();
}

LogicalResult MergeHeadsGradOp::verify() {
  ShapeChecker shapes(*this);
  shapes.requireStatic("H");
  shapes.requireStatic("d");
  if (failed(shapes.check("input", getInput().getType(), {"B", "H", "S", "d"})))
    return failure();
  shapes.bind("H*d", *shapes.get("H") * *shapes.get("d"), "H x d of 'input'");
  if (failed(
          shapes.check("dresult", getDresult().getType(), {"B", "S", "H*d"})))
    return failure();
  return checkCotangent(*this, "dinput", getDinput(), "input", getInput());
}

LogicalResult MagMixGradOp::verify() {
  return success(
      succeeded(checkCotangent(*this, "lin", getLin(), "soft", getSoft())) &&
      succeeded(
          checkCotangent(*this, "dresult", getDresult(), "soft", getSoft())) &&
      succeeded(
          checkCotangent(*this, "dsoft", getDsoft(), "soft", getSoft())) &&
      succeeded(checkCotangent(*this, "dlin", getDlin(), "lin", getLin())));
}

LogicalResult FeatureMapGradOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (failed(checkHeads(*this, heads, kvHeads)))
    return failure();
  ShapeChecker shapes(*this);
  if (failed(bindProjectionHeads(*this, shapes, "k", getK(), heads, kvHeads)))
    return failure();
  shapes.bind("H*d", heads * *shapes.get("d"), "num_heads x head_dim");
  if (failed(shapes.check("q", getQ().getType(), {"B", "S", "H*d"})))
    return failure();
  for (auto [name, value] : {std::pair<StringRef, Value>{"dq_hat", getDqHat()},
                             {"dk_hat", getDkHat()},
                             {"dv_hat", getDvHat()}})
    if (failed(shapes.check(name, value.getType(), {"B", "H", "S", "d"})))
      return failure();
  return success(succeeded(checkCotangent(*this, "dq", getDq(), "q", getQ())) &&
                 succeeded(checkCotangent(*this, "dk", getDk(), "k", getK())) &&
                 succeeded(checkCotangent(*this, "dv", getDv(), "v", getV())));
}

LogicalResult GatesGradOp::verify() {
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (failed(checkHeads(*this, heads, kvHeads)))
    return failure();
  if (getAlphaGate() == GateKind::C && getDalpha())
    return emitOpError("a constant alpha gate (code c) has no 'dalpha'");
  ShapeChecker shapes(*this);
  if (failed(bindProjectionHeads(*this, shapes, "k", getK(), heads, kvHeads)) ||
      failed(shapes.check("v", getV().getType(), {"B", "S", "Hkv*d"})) ||
      failed(
          shapes.check("dbeta", getDbeta().getType(), {"B", "H", "S", "d"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  if (Value dalpha = getDalpha())
    if (failed(shapes.check("dalpha", dalpha.getType(), {"B", "H", "S", "d"})))
      return failure();
  return success(succeeded(checkCotangent(*this, "dk", getDk(), "k", getK())) &&
                 succeeded(checkCotangent(*this, "dv", getDv(), "v", getV())));
}

LogicalResult VirtualTokenExpandGradOp::verify() {
  if (failed(checkPositive(*this, "order", getOrder())))
    return failure();
  ShapeChecker shapes(*this);
  shapes.bind("n", getOrder(), "order");
  shapes.requireStatic("d");
  if (failed(shapes.check("dresult", getDresult().getType(),
                          {"B", "H", "S", "n", "d"})) ||
      failed(shapes.check("dinput", getType(), {"B", "H", "S", "d"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  return checkSameElementType(
      *this, {{"dresult", getDresult()}, {"dinput", getDinput()}});
}

LogicalResult DeltaProductGradOp::verify() {
  if (failed(checkPositive(*this, "chunk_size", getChunkSize())))
    return failure();
  ShapeChecker shapes(*this);
  shapes.requireStatic("n");
  shapes.requireStatic("d");
  bool recurrent = getSemantics() == Semantics::Recurrent;
  // As for tptt.delta_product: q and the gates are expanded under tptt-0.12.
  SmallVector<StringRef> perToken = {"B", "H", "S", "n", "d"};
  if (recurrent)
    perToken.erase(perToken.begin() + 3);
  if (getMask() && !recurrent)
    return emitOpError("'mask' is not allowed with tptt-0.12 semantics");
  if (failed(shapes.check("q", getQ().getType(), perToken)) ||
      failed(shapes.check("k", getK().getType(), {"B", "H", "S", "n", "d"})) ||
      failed(shapes.check("v", getV().getType(), {"B", "H", "S", "n", "d"})) ||
      failed(shapes.check("beta", getBeta().getType(), perToken)) ||
      failed(shapes.check("doutput", getDoutput().getType(),
                          {"B", "H", "S", "d"})) ||
      failed(checkMask(shapes, getMask())))
    return failure();
  if (Value alpha = getAlpha())
    if (failed(shapes.check("alpha", alpha.getType(), perToken)))
      return failure();
  if (static_cast<bool>(getAlpha()) != static_cast<bool>(getDalpha()))
    return emitOpError("has a 'dalpha' result exactly when it has 'alpha'");
  if (failed(checkCotangent(*this, "dq", getDq(), "q", getQ())) ||
      failed(checkCotangent(*this, "dk", getDk(), "k", getK())) ||
      failed(checkCotangent(*this, "dv", getDv(), "v", getV())) ||
      failed(checkCotangent(*this, "dbeta", getDbeta(), "beta", getBeta())))
    return failure();
  if (Value dalpha = getDalpha())
    return checkCotangent(*this, "dalpha", dalpha, "alpha", getAlpha());
  return success();
}

LogicalResult AdamWOp::verify() {
  auto hyper = cast<RankedTensorType>(getHyper().getType());
  if (hyper.getDimSize(0) != 7)
    return emitOpError() << "'hyper' must be tensor<7x...> (lr, beta1, "
                            "beta2, eps, weight_decay, c1, c2), got "
                         << hyper;
  for (auto [name, value] : {std::pair<StringRef, Value>{"grad", getGrad()},
                             {"m", getM()},
                             {"v", getV()},
                             {"new_param", getNewParam()},
                             {"new_m", getNewM()},
                             {"new_v", getNewV()}})
    if (failed(checkCotangent(*this, name, value, "param", getParam())))
      return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Custom assembly: enums as bare keywords
//===----------------------------------------------------------------------===//

static unsigned getMaxEnumVal(GateKind) { return getMaxEnumValForGateKind(); }
static unsigned getMaxEnumVal(Trick) { return getMaxEnumValForTrick(); }
static unsigned getMaxEnumVal(Semantics) { return getMaxEnumValForSemantics(); }
static unsigned getMaxEnumVal(Activation) {
  return getMaxEnumValForActivation();
}

/// Parses an enum attribute written as its bare spelling (`alpha = kv`,
/// `semantics = tptt-0.12`) and names the accepted spellings on error.
template <typename AttrT>
static ParseResult parseEnumKeyword(OpAsmParser &parser, AttrT &attr) {
  using EnumT = decltype(std::declval<AttrT>().getValue());
  SMLoc loc = parser.getCurrentLocation();
  std::string keyword;
  if (failed(parser.parseKeywordOrString(&keyword)))
    return failure();
  std::optional<EnumT> value = symbolizeEnum<EnumT>(keyword);
  if (!value) {
    InFlightDiagnostic diag = parser.emitError(loc)
                              << "unknown " << AttrT::getMnemonic() << " '"
                              << keyword << "', expected one of: ";
    for (uint32_t i = 0; i <= getMaxEnumVal(EnumT{}); ++i)
      diag << (i ? ", " : "") << stringifyEnum(static_cast<EnumT>(i));
    return diag;
  }
  attr = AttrT::get(parser.getContext(), *value);
  return success();
}

template <typename AttrT>
static void printEnumKeyword(OpAsmPrinter &printer, Operation *, AttrT attr) {
  printer.printKeywordOrString(stringifyEnum(attr.getValue()));
}

#define GET_OP_CLASSES
#include "tptt/Dialect/Tptt/IR/TpttOps.cpp.inc"

#include "tptt/Dialect/Tptt/IR/TpttInterfaces.cpp.inc"

//===- Utils.cpp - Helpers shared by the tptt-to-linalg patterns ----------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "Utils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tptt;
using namespace mlir::tptt::lowering;

SmallVector<OpFoldResult> lowering::getSizes(OpBuilder &b, Location loc,
                                             Value value) {
  return tensor::getMixedSizes(b, loc, value);
}

Value lowering::createEmpty(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value lowering::floatConstant(OpBuilder &b, Location loc, Type type,
                              double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

Value lowering::createFilled(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes, Type elementType,
                             double value) {
  Value empty = createEmpty(b, loc, sizes, elementType);
  Value scalar = isa<IndexType>(elementType)
                     ? Value(arith::ConstantIndexOp::create(
                           b, loc, static_cast<int64_t>(value)))
                     : floatConstant(b, loc, elementType, value);
  return linalg::FillOp::create(b, loc, scalar, empty).getResult(0);
}

AffineMap lowering::identityMap(MLIRContext *ctx, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx);
}

AffineMap lowering::projectionMap(MLIRContext *ctx, unsigned rank,
                                  ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned dim : dims)
    exprs.push_back(getAffineDimExpr(dim, ctx));
  return AffineMap::get(rank, 0, exprs, ctx);
}

Value lowering::buildGeneric(OpBuilder &b, Location loc, ValueRange inputs,
                             Value init, ArrayRef<AffineMap> maps,
                             ArrayRef<utils::IteratorType> iterators,
                             GenericBody body) {
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc, body(nb, nloc, args));
             })
      .getResult(0);
}

Value lowering::buildParallelGeneric(OpBuilder &b, Location loc,
                                     ValueRange inputs,
                                     ArrayRef<AffineMap> inputMaps, Value init,
                                     GenericBody body) {
  unsigned rank = cast<RankedTensorType>(init.getType()).getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(identityMap(b.getContext(), rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return buildGeneric(b, loc, inputs, init, maps, iterators, body);
}

Value lowering::buildElementwise(OpBuilder &b, Location loc, ValueRange inputs,
                                 GenericBody body) {
  auto type = cast<RankedTensorType>(inputs.front().getType());
  AffineMap id = identityMap(b.getContext(), type.getRank());
  SmallVector<AffineMap> maps(inputs.size(), id);
  return buildParallelGeneric(b, loc, inputs, maps,
                              createEmpty(b, loc,
                                          getSizes(b, loc, inputs.front()),
                                          type.getElementType()),
                              body);
}

Value lowering::castFloat(OpBuilder &b, Location loc, Value value, Type type) {
  auto from = cast<FloatType>(value.getType());
  auto to = cast<FloatType>(type);
  if (from == to)
    return value;
  if (from.getWidth() < to.getWidth())
    return arith::ExtFOp::create(b, loc, to, value);
  return arith::TruncFOp::create(b, loc, to, value);
}

Value lowering::sigmoid(OpBuilder &b, Location loc, Value x) {
  Type type = x.getType();
  Value one = floatConstant(b, loc, type, 1.0);
  Value negated = arith::NegFOp::create(b, loc, x);
  Value exp = math::ExpOp::create(b, loc, negated);
  Value denominator = arith::AddFOp::create(b, loc, one, exp);
  return arith::DivFOp::create(b, loc, one, denominator);
}

Activated lowering::geluTanh(OpBuilder &b, Location loc, Value z,
                             bool withSlope) {
  Type type = z.getType();
  auto c = [&](double v) { return floatConstant(b, loc, type, v); };
  Value z2 = arith::MulFOp::create(b, loc, z, z);
  Value inner = arith::AddFOp::create(
      b, loc, z,
      arith::MulFOp::create(b, loc, c(0.044715),
                            arith::MulFOp::create(b, loc, z2, z)));
  Value t = math::TanhOp::create(
      b, loc, arith::MulFOp::create(b, loc, c(std::sqrt(2.0 / M_PI)), inner));
  Value onePlus = arith::AddFOp::create(b, loc, c(1.0), t);
  Value halfZ = arith::MulFOp::create(b, loc, c(0.5), z);
  Activated gelu{arith::MulFOp::create(b, loc, halfZ, onePlus), Value()};
  if (!withSlope)
    return gelu;
  Value sech2 = arith::SubFOp::create(b, loc, c(1.0),
                                      arith::MulFOp::create(b, loc, t, t));
  Value dinner = arith::MulFOp::create(
      b, loc, c(std::sqrt(2.0 / M_PI)),
      arith::AddFOp::create(
          b, loc, c(1.0),
          arith::MulFOp::create(b, loc, c(3.0 * 0.044715), z2)));
  gelu.slope = arith::AddFOp::create(
      b, loc, arith::MulFOp::create(b, loc, c(0.5), onePlus),
      arith::MulFOp::create(b, loc, halfZ,
                            arith::MulFOp::create(b, loc, sech2, dinner)));
  return gelu;
}

Activated lowering::gluActivation(OpBuilder &b, Location loc,
                                  Activation activation, Value x,
                                  bool withSlope) {
  if (activation == Activation::GeluTanh)
    return geluTanh(b, loc, x, withSlope);
  Value s = sigmoid(b, loc, x);
  Activated silu{arith::MulFOp::create(b, loc, x, s), Value()};
  if (!withSlope)
    return silu;
  Value one = floatConstant(b, loc, x.getType(), 1.0);
  silu.slope = arith::MulFOp::create(
      b, loc, s,
      arith::AddFOp::create(
          b, loc, one,
          arith::MulFOp::create(b, loc, x,
                                arith::SubFOp::create(b, loc, one, s))));
  return silu;
}

Activated lowering::softCap(OpBuilder &b, Location loc, Value x, double cap,
                            bool withSlope) {
  Value c = floatConstant(b, loc, x.getType(), cap);
  Value t = math::TanhOp::create(b, loc, arith::DivFOp::create(b, loc, x, c));
  Activated result{arith::MulFOp::create(b, loc, t, c), Value()};
  if (withSlope)
    result.slope =
        arith::SubFOp::create(b, loc, floatConstant(b, loc, x.getType(), 1.0),
                              arith::MulFOp::create(b, loc, t, t));
  return result;
}

SequencePacking lowering::buildSequencePacking(OpBuilder &b, Location loc,
                                               Value mask, Value batch,
                                               Value seq, bool reverse) {
  Type index = b.getIndexType();
  MLIRContext *ctx = b.getContext();
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<OpFoldResult> tableSizes = {batch, seq};
  SequencePacking packing;

  if (!mask) {
    // Every token is real: the identity, or i -> S - 1 - i when reversed.
    Value empty = createEmpty(b, loc, tableSizes, index);
    Value table = buildParallelGeneric(
        b, loc, {}, {}, empty, [&](OpBuilder &nb, Location nloc, ValueRange) {
          Value i = linalg::IndexOp::create(nb, nloc, 1);
          if (!reverse)
            return i;
          Value last = arith::SubIOp::create(nb, nloc, seq, one);
          return Value(arith::SubIOp::create(nb, nloc, last, i));
        });
    packing.gather = packing.scatter = table;
    Value lengths = createEmpty(b, loc, {OpFoldResult(batch)}, index);
    packing.length = linalg::FillOp::create(b, loc, seq, lengths).getResult(0);
    return packing;
  }

  // A scan over each sequence: the i-th real token goes to packed position i.
  Value gather = createFilled(b, loc, tableSizes, index, 0);
  Value lengths = createFilled(b, loc, {OpFoldResult(batch)}, index, 0);
  auto outer = scf::ForOp::create(
      b, loc, zero, batch, one, ValueRange{gather, gather, lengths},
      [&](OpBuilder &ob, Location oloc, Value bi, ValueRange outerIters) {
        auto inner = scf::ForOp::create(
            ob, oloc, zero, seq, one,
            ValueRange{zero, outerIters[0], outerIters[1]},
            [&](OpBuilder &ib, Location iloc, Value t, ValueRange iters) {
              Value count = iters[0];
              Value isReal =
                  tensor::ExtractOp::create(ib, iloc, mask, ValueRange{bi, t});
              auto ifOp = scf::IfOp::create(
                  ib, iloc, isReal,
                  [&](OpBuilder &tb, Location tloc) {
                    Value g = tensor::InsertOp::create(tb, tloc, t, iters[1],
                                                       ValueRange{bi, count});
                    Value s = tensor::InsertOp::create(
                        tb, tloc, count, iters[2], ValueRange{bi, t});
                    Value next = arith::AddIOp::create(tb, tloc, count, one);
                    scf::YieldOp::create(tb, tloc, ValueRange{next, g, s});
                  },
                  [&](OpBuilder &eb, Location eloc) {
                    scf::YieldOp::create(eb, eloc, iters);
                  });
              scf::YieldOp::create(ib, iloc, ifOp.getResults());
            });
        Value length = inner.getResult(0);
        Value newLengths =
            tensor::InsertOp::create(ob, oloc, length, outerIters[2], bi);
        scf::YieldOp::create(
            ob, oloc,
            ValueRange{inner.getResult(1), inner.getResult(2), newLengths});
      });
  packing.gather = outer.getResult(0);
  packing.scatter = outer.getResult(1);
  packing.length = outer.getResult(2);
  if (!reverse)
    return packing;

  // Reverse the real tokens only: packed i <-> real token L - 1 - i. Indices
  // stay in range for padding (clamped at 0).
  AffineMap id = identityMap(ctx, 2);
  AffineMap batchOnly = projectionMap(ctx, 2, {0});
  Value forwardGather = packing.gather;
  auto reflect = [&](OpBuilder &nb, Location nloc, Value length, Value i) {
    Value last = arith::SubIOp::create(nb, nloc, length, one);
    Value reflected = arith::SubIOp::create(nb, nloc, last, i);
    return arith::MaxSIOp::create(nb, nloc, reflected, zero).getResult();
  };
  packing.gather = buildParallelGeneric(
      b, loc, {packing.length}, {batchOnly},
      createEmpty(b, loc, tableSizes, index),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value bi = linalg::IndexOp::create(nb, nloc, 0);
        Value i = linalg::IndexOp::create(nb, nloc, 1);
        Value source = reflect(nb, nloc, args[0], i);
        return tensor::ExtractOp::create(nb, nloc, forwardGather,
                                         ValueRange{bi, source})
            .getResult();
      });
  packing.scatter = buildParallelGeneric(
      b, loc, {packing.scatter, packing.length}, {id, batchOnly},
      createEmpty(b, loc, tableSizes, index),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        return reflect(nb, nloc, args[1], args[0]);
      });
  return packing;
}

Value lowering::gatherSequence(OpBuilder &b, Location loc, Value x,
                               unsigned seqDim, Value table) {
  auto type = cast<RankedTensorType>(x.getType());
  Value init = createEmpty(b, loc, getSizes(b, loc, x), type.getElementType());
  return buildParallelGeneric(
      b, loc, {}, {}, init, [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> indices;
        for (int64_t dim = 0; dim < type.getRank(); ++dim)
          indices.push_back(linalg::IndexOp::create(nb, nloc, dim));
        indices[seqDim] = tensor::ExtractOp::create(
            nb, nloc, table, ValueRange{indices[0], indices[seqDim]});
        return tensor::ExtractOp::create(nb, nloc, x, indices).getResult();
      });
}

Value lowering::zeroPadded(OpBuilder &b, Location loc, Value x, unsigned seqDim,
                           Value mask) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = b.getContext();
  unsigned rank = type.getRank();
  Value init = createEmpty(b, loc, getSizes(b, loc, x), type.getElementType());
  return buildParallelGeneric(
      b, loc, {x, mask},
      {identityMap(ctx, rank), projectionMap(ctx, rank, {0, seqDim})}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value zero = floatConstant(nb, nloc, type.getElementType(), 0.0);
        return arith::SelectOp::create(nb, nloc, args[1], args[0], zero)
            .getResult();
      });
}

namespace {
/// An einsum spec split into its operands and output.
struct EinsumSpec {
  StringRef lhs, rhs, output;
};
} // namespace

static EinsumSpec splitSpec(StringRef spec) {
  auto [inputs, output] = spec.split("->");
  auto [lhs, rhs] = inputs.split(',');
  return {lhs, rhs, output};
}

Value lowering::einsumInto(OpBuilder &b, Location loc, StringRef spec,
                           Value lhs, Value rhs, Value acc) {
  EinsumSpec parts = splitSpec(spec);
  StringRef output = parts.output;
  // Loop dimensions: the output letters but the last, the reductions, then
  // the last output letter innermost, so that the loops that linalg emits
  // stream the contiguous output row (an axpy the LLVM vectorizer handles)
  // instead of ending in a scalar dot-product reduction.
  std::string letters = output.drop_back().str();
  for (char c : (parts.lhs + parts.rhs).str())
    if (letters.find(c) == std::string::npos && c != output.back())
      letters.push_back(c);
  letters.push_back(output.back());
  MLIRContext *ctx = b.getContext();
  unsigned rank = letters.size();
  auto mapOf = [&](StringRef operand) {
    SmallVector<unsigned> dims;
    for (char c : operand)
      dims.push_back(letters.find(c));
    return projectionMap(ctx, rank, dims);
  };
  SmallVector<utils::IteratorType> iterators;
  for (char c : letters)
    iterators.push_back(output.contains(c) ? utils::IteratorType::parallel
                                           : utils::IteratorType::reduction);
  return buildGeneric(
      b, loc, {lhs, rhs}, acc,
      {mapOf(parts.lhs), mapOf(parts.rhs), mapOf(output)}, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value product = arith::MulFOp::create(nb, nloc, args[0], args[1]);
        return arith::AddFOp::create(nb, nloc, args[2], product).getResult();
      });
}

Value lowering::einsum(OpBuilder &b, Location loc, StringRef spec, Value lhs,
                       Value rhs) {
  EinsumSpec parts = splitSpec(spec);
  SmallVector<OpFoldResult> lhsSizes = getSizes(b, loc, lhs);
  SmallVector<OpFoldResult> rhsSizes = getSizes(b, loc, rhs);
  SmallVector<OpFoldResult> outSizes;
  for (char c : parts.output) {
    size_t inLhs = parts.lhs.find(c);
    outSizes.push_back(inLhs != StringRef::npos ? lhsSizes[inLhs]
                                                : rhsSizes[parts.rhs.find(c)]);
  }
  Type elementType = cast<RankedTensorType>(lhs.getType()).getElementType();
  return einsumInto(b, loc, spec, lhs, rhs,
                    createFilled(b, loc, outSizes, elementType, 0.0));
}

Value lowering::transposeLast2(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  unsigned rank = type.getRank();
  SmallVector<int64_t> permutation =
      llvm::to_vector(llvm::seq<int64_t>(0, rank));
  std::swap(permutation[rank - 2], permutation[rank - 1]);
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, x);
  std::swap(sizes[rank - 2], sizes[rank - 1]);
  Value init = createEmpty(b, loc, sizes, type.getElementType());
  return linalg::TransposeOp::create(b, loc, x, init, permutation)
      .getResult()[0];
}

SmallVector<double> lowering::dtCoefficients(int64_t order) {
  SmallVector<double> coefficients;
  double binomial = 1.0, scale = std::ldexp(1.0, -(order - 1));
  for (int64_t k = 0; k < order; ++k) {
    coefficients.push_back((k % 2 ? -binomial : binomial) * scale);
    binomial = binomial * static_cast<double>(order - 1 - k) /
               static_cast<double>(k + 1);
  }
  return coefficients;
}

std::pair<SmallVector<double>, SmallVector<double>>
lowering::rotationTable(int64_t order) {
  SmallVector<double> cosines, sines;
  float step = static_cast<float>(2.0 * M_PI / static_cast<double>(order));
  for (int64_t j = 0; j < order; ++j) {
    double theta = static_cast<double>(static_cast<float>(j) * step);
    cosines.push_back(static_cast<float>(std::cos(theta)));
    sines.push_back(static_cast<float>(std::sin(theta)));
  }
  return {cosines, sines};
}

Value lowering::constantTable(OpBuilder &b, Location loc,
                              ArrayRef<double> values, Type elementType) {
  auto type =
      RankedTensorType::get({static_cast<int64_t>(values.size())}, elementType);
  SmallVector<Attribute> attrs;
  for (double value : values)
    attrs.push_back(b.getFloatAttr(elementType, value));
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, attrs));
}

Value lowering::castTensor(OpBuilder &b, Location loc, Value x,
                           Type elementType) {
  auto type = cast<RankedTensorType>(x.getType());
  if (type.getElementType() == elementType)
    return x;
  Value init = createEmpty(b, loc, getSizes(b, loc, x), elementType);
  return buildParallelGeneric(
      b, loc, {x}, {identityMap(b.getContext(), type.getRank())}, init,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        return castFloat(nb, nloc, args[0], elementType);
      });
}

/// fn(lhs, rhs) elementwise over the shape of lhs.
static Value binaryElementwise(OpBuilder &b, Location loc, Value lhs, Value rhs,
                               GenericBody fn) {
  auto type = cast<RankedTensorType>(lhs.getType());
  SmallVector<AffineMap> maps(2, identityMap(b.getContext(), type.getRank()));
  Value init =
      createEmpty(b, loc, getSizes(b, loc, lhs), type.getElementType());
  return buildParallelGeneric(b, loc, {lhs, rhs}, maps, init, fn);
}

Value lowering::addTensors(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return binaryElementwise(
      b, loc, lhs, rhs, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::AddFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

Value lowering::subTensors(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return binaryElementwise(
      b, loc, lhs, rhs, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::SubFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

Value lowering::mulTensors(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  return binaryElementwise(
      b, loc, lhs, rhs, [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::MulFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

void lowering::replaceOpWithCasts(RewriterBase &rewriter, Operation *op,
                                  ValueRange values) {
  SmallVector<Value> replacements;
  for (auto [value, result] : llvm::zip_equal(values, op->getResults()))
    replacements.push_back(value.getType() == result.getType()
                               ? value
                               : tensor::CastOp::create(rewriter, op->getLoc(),
                                                        result.getType(), value)
                                     .getResult());
  rewriter.replaceOp(op, replacements);
}

//===- TpttVjp.cpp - Reverse-mode rules of the tptt ops -------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// One VJP rule per differentiable tptt op (VjpOpInterface). A rule reads the
// primal operands and results of its op, which the backward pass of
// `tptt-differentiate` keeps available, and emits either forward ops (the
// linear projection's input cotangent is a projection, RoPE's is RoPE with
// −sin) or the dedicated backward ops of TpttGradOps.td.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace mlir::tptt;

Value mlir::tptt::createZerosLike(OpBuilder &b, Location loc, Value like) {
  auto type = cast<RankedTensorType>(like.getType());
  Value empty = tensor::EmptyOp::create(
      b, loc, tensor::getMixedSizes(b, loc, like), type.getElementType());
  Value zero =
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
  return linalg::FillOp::create(b, loc, zero, empty).getResult(0);
}

namespace {

/// The cotangent of `result`, or zeros shaped like it when it has none.
Value gradOrZeros(OpBuilder &b, Location loc, Value grad, Value result) {
  return grad ? grad : createZerosLike(b, loc, result);
}

/// Fails with a message naming the operand that has no cotangent rule.
LogicalResult notDifferentiable(Operation *op, StringRef operand,
                                StringRef why) {
  return op->emitOpError() << "cannot be differentiated with respect to '"
                           << operand << "': " << why;
}

} // namespace

LogicalResult EmbeddingOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(2, Value());
  if (needed[1])
    operandGrads[1] =
        EmbeddingGradOp::create(b, getLoc(), getTable().getType(), getIds(),
                                resultGrads[0], getScaleAttr());
  return success();
}

LogicalResult LinearOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  Value dy = resultGrads[0];
  operandGrads.assign(getNumOperands(), Value());
  // x Wᵀ with W [O, I] pulls back as dy W, which is a projection by W read
  // as [I', O'] = [O, I]; and the other way round for a stored Wᵀ.
  if (needed[0])
    operandGrads[0] = LinearOp::create(
        b, loc, getInput().getType(), dy, getWeight(), Value(),
        getTransposedWeight() ? UnitAttr() : b.getUnitAttr(), getScaleAttr());
  if (needed[1])
    operandGrads[1] = LinearWeightGradOp::create(
        b, loc, getWeight().getType(), getInput(), dy,
        getTransposedWeightAttr(), getScaleAttr());
  if (getBias() && needed[2])
    operandGrads[2] = SumToLastOp::create(b, loc, getBias().getType(), dy);
  return success();
}

LogicalResult RmsNormOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &operandGrads) {
  auto grad = RmsNormGradOp::create(
      b, getLoc(), getInput().getType(), getWeight().getType(), getInput(),
      getWeight(), resultGrads[0], getEpsAttr(), getWeightOffsetAttr());
  operandGrads.assign({needed[0] ? grad.getDinput() : Value(),
                       needed[1] ? grad.getDweight() : Value()});
  return success();
}

LogicalResult GluOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                              ArrayRef<bool> needed,
                              SmallVectorImpl<Value> &operandGrads) {
  auto grad = GluGradOp::create(b, getLoc(), getType(), getType(), getGate(),
                                getUp(), resultGrads[0], getActivationAttr());
  operandGrads.assign({needed[0] ? grad.getDgate() : Value(),
                       needed[1] ? grad.getDup() : Value()});
  return success();
}

LogicalResult SoftCapOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign({needed[0]
                           ? SoftCapGradOp::create(b, getLoc(), getInput(),
                                                   resultGrads[0], getCapAttr())
                                 .getResult()
                           : Value()});
  return success();
}

LogicalResult DropoutOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> needed,
                                  SmallVectorImpl<Value> &operandGrads) {
  if (needed[2])
    return notDifferentiable(*this, "rate",
                             "the dropout rate is a hyper-parameter");
  // The same mask and scale on the cotangent.
  Value dx = DropoutOp::create(b, getLoc(), resultGrads[0], getSeed(),
                               getRate(), getStream());
  operandGrads.assign({needed[0] ? dx : Value(), Value(), Value()});
  return success();
}

LogicalResult RopeOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &operandGrads) {
  if (needed[1] || needed[2])
    return notDifferentiable(*this, needed[1] ? "cos" : "sin",
                             "RoPE tables are functions of integer positions");
  // rotate_half is antisymmetric and the tables repeat across the two
  // halves, so the transpose of x ↦ x cos + rotate_half(x) sin is the same
  // map with −sin.
  Location loc = getLoc();
  Value negSin = arith::NegFOp::create(b, loc, getSin());
  operandGrads.assign(
      {needed[0]
           ? RopeOp::create(b, loc, getType(), resultGrads[0], getCos(), negSin)
                 .getResult()
           : Value(),
       Value(), Value()});
  return success();
}

LogicalResult AttentionOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> needed,
                                    SmallVectorImpl<Value> &operandGrads) {
  auto grad = AttentionGradOp::create(
      b, getLoc(), getQ().getType(), getK().getType(), getV().getType(), getQ(),
      getK(), getV(), getResult(), resultGrads[0], getMask(), getWindowAttr(),
      getScaleAttr());
  operandGrads.assign({needed[0] ? grad.getDq() : Value(),
                       needed[1] ? grad.getDk() : Value(),
                       needed[2] ? grad.getDv() : Value()});
  if (getMask())
    operandGrads.push_back(Value());
  return success();
}

LogicalResult MergeHeadsOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     ArrayRef<bool> needed,
                                     SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign(
      {MergeHeadsGradOp::create(b, getLoc(), getInput().getType(), getInput(),
                                resultGrads[0], getEpsAttr())
           .getResult()});
  return success();
}

LogicalResult MagMixOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> needed,
                                 SmallVectorImpl<Value> &operandGrads) {
  if (needed[2])
    return notDifferentiable(*this, "mu",
                             "the MaG weight is a schedule, not a parameter");
  auto grad = MagMixGradOp::create(b, getLoc(), getSoft().getType(),
                                   getLin().getType(), getSoft(), getLin(),
                                   getMu(), resultGrads[0], getCrossGateAttr(),
                                   getBaseScaleAttnAttr(), getEpsAttr());
  operandGrads.assign({needed[0] ? grad.getDsoft() : Value(),
                       needed[1] ? grad.getDlin() : Value(), Value()});
  return success();
}

LogicalResult FeatureMapOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     ArrayRef<bool> needed,
                                     SmallVectorImpl<Value> &operandGrads) {
  Location loc = getLoc();
  auto grad = FeatureMapGradOp::create(
      b, loc, getQ().getType(), getK().getType(), getV().getType(), getQ(),
      getK(), getV(), gradOrZeros(b, loc, resultGrads[0], getQHat()),
      gradOrZeros(b, loc, resultGrads[1], getKHat()),
      gradOrZeros(b, loc, resultGrads[2], getVHat()), getNumHeadsAttr(),
      getNumKvHeadsAttr());
  operandGrads.assign({needed[0] ? grad.getDq() : Value(),
                       needed[1] ? grad.getDk() : Value(),
                       needed[2] ? grad.getDv() : Value()});
  return success();
}

LogicalResult GatesOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                                ArrayRef<bool> needed,
                                SmallVectorImpl<Value> &operandGrads) {
  if ((getKHistory() && needed[2]) || (getVHistory() && needed[3]))
    return notDifferentiable(*this, "history",
                             "decode-step history carries no gradient");
  Location loc = getLoc();
  // A constant decay (code c) has no cotangent to pass on.
  Value dalpha = getAlphaGate() == GateKind::C ? Value() : resultGrads[0];
  auto grad = GatesGradOp::create(
      b, loc, getK().getType(), getV().getType(), getK(), getV(), dalpha,
      gradOrZeros(b, loc, resultGrads[1], getBeta()), getMask(),
      getAlphaGateAttr(), getBetaGateAttr(), getNumHeadsAttr(),
      getNumKvHeadsAttr());
  operandGrads.assign(getNumOperands(), Value());
  operandGrads[0] = needed[0] ? grad.getDk() : Value();
  operandGrads[1] = needed[1] ? grad.getDv() : Value();
  return success();
}

LogicalResult
VirtualTokenExpandOp::buildVjp(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> needed,
                               SmallVectorImpl<Value> &operandGrads) {
  if (getHistory() && needed[1])
    return notDifferentiable(*this, "history",
                             "decode-step history carries no gradient");
  operandGrads.assign(getNumOperands(), Value());
  operandGrads[0] = VirtualTokenExpandGradOp::create(
      b, getLoc(), getInput().getType(), resultGrads[0], getMask(),
      getOrderAttr(), getTrickAttr());
  return success();
}

LogicalResult DeltaProductOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &operandGrads) {
  if (resultGrads[1])
    return notDifferentiable(*this, "final_state",
                             "the backward assumes the final state does not "
                             "reach the loss");
  if (getInitialState())
    return notDifferentiable(*this, "initial_state",
                             "training runs whole sequences from a zero state");
  Location loc = getLoc();
  SmallVector<Type> types = {getQ().getType(), getK().getType(),
                             getV().getType(), getBeta().getType()};
  if (getAlpha())
    types.push_back(getAlpha().getType());
  auto grad = DeltaProductGradOp::create(
      b, loc, types, getQ(), getK(), getV(), getBeta(), getAlpha(), getMask(),
      resultGrads[0], getSemanticsAttr(), getChunkSizeAttr(),
      getNonlinearAttr(), getReverseAttr());
  operandGrads.assign(getNumOperands(), Value());
  for (unsigned i = 0; i < 4; ++i)
    if (needed[i])
      operandGrads[i] = grad.getResult(i);
  if (getAlpha() && needed[4])
    operandGrads[4] = grad.getDalpha();
  return success();
}

LogicalResult CrossEntropyOp::buildVjp(OpBuilder &b,
                                       ArrayRef<Value> resultGrads,
                                       ArrayRef<bool> needed,
                                       SmallVectorImpl<Value> &operandGrads) {
  operandGrads.assign({CrossEntropyGradOp::create(
                           b, getLoc(), getLogits().getType(), getLogits(),
                           getLabels(), resultGrads[0], getIgnoreIndexAttr())
                           .getResult(),
                       Value()});
  return success();
}

//===- Differentiate.cpp - Reverse-mode AD over tptt graphs ---------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Implements tptt.value_and_grad by source transformation, the way JAX
// transposes its primitives: a forward sweep (the function as written), then
// a reverse sweep that visits the ops between the differentiated arguments
// and the loss in reverse order and calls each op's VJP rule. Calls are
// differentiated by generated VJP functions that recompute their callee, so
// the activations of a decoder layer live only while its backward runs.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "tptt/Dialect/Tptt/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir {
namespace tptt {
#define GEN_PASS_DEF_TPTTDIFFERENTIATEPASS
#include "tptt/Dialect/Tptt/Transforms/Passes.h.inc"
} // namespace tptt
} // namespace mlir

using namespace mlir;
using namespace mlir::tptt;

namespace {

bool isFloatTensor(Value value) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  return type && isa<FloatType>(type.getElementType());
}

/// The VJP rules of the upstream ops that tptt graphs use between their
/// tptt ops: elementwise arithmetic on whole tensors, reshapes, slices and
/// transposes. Returns failure (without a diagnostic) for any other op.
LogicalResult buildUpstreamVjp(OpBuilder &b, Operation *op,
                               ArrayRef<Value> resultGrads,
                               SmallVectorImpl<Value> &operandGrads) {
  Location loc = op->getLoc();
  Value dy = resultGrads.empty() ? Value() : resultGrads.front();
  operandGrads.assign(op->getNumOperands(), Value());
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](arith::AddFOp) {
        operandGrads.assign({dy, dy});
        return success();
      })
      .Case([&](arith::SubFOp) {
        operandGrads.assign({dy, arith::NegFOp::create(b, loc, dy)});
        return success();
      })
      .Case([&](arith::MulFOp mul) {
        operandGrads.assign({arith::MulFOp::create(b, loc, dy, mul.getRhs()),
                             arith::MulFOp::create(b, loc, dy, mul.getLhs())});
        return success();
      })
      .Case([&](arith::DivFOp div) {
        // d(a/b) = da/b − a db/b².
        Value da = arith::DivFOp::create(b, loc, dy, div.getRhs());
        Value q = arith::DivFOp::create(b, loc, da, div.getRhs());
        Value db = arith::NegFOp::create(
            b, loc, arith::MulFOp::create(b, loc, q, div.getLhs()));
        operandGrads.assign({da, db});
        return success();
      })
      .Case([&](arith::NegFOp) {
        operandGrads.assign({arith::NegFOp::create(b, loc, dy)});
        return success();
      })
      .Case([&](arith::ExtFOp ext) {
        operandGrads.assign(
            {arith::TruncFOp::create(b, loc, ext.getIn().getType(), dy)});
        return success();
      })
      .Case([&](arith::TruncFOp trunc) {
        operandGrads.assign(
            {arith::ExtFOp::create(b, loc, trunc.getIn().getType(), dy)});
        return success();
      })
      .Case([&](tensor::CastOp cast) {
        operandGrads.assign(
            {tensor::CastOp::create(b, loc, cast.getSource().getType(), dy)});
        return success();
      })
      .Case([&](tensor::ExpandShapeOp expand) {
        operandGrads.assign({tensor::CollapseShapeOp::create(
            b, loc, expand.getSrcType(), dy,
            expand.getReassociationIndices())});
        return success();
      })
      .Case([&](tensor::CollapseShapeOp collapse) {
        operandGrads.assign({tensor::ExpandShapeOp::create(
            b, loc, collapse.getSrcType(), dy,
            collapse.getReassociationIndices(),
            tensor::getMixedSizes(b, loc, collapse.getSrc()))});
        return success();
      })
      .Case([&](tensor::ExtractSliceOp slice) {
        // The cotangent in the slice's place, zeros elsewhere.
        Value source = slice.getSource();
        Type elementType =
            cast<RankedTensorType>(source.getType()).getElementType();
        Value zero =
            arith::ConstantOp::create(b, loc, b.getFloatAttr(elementType, 0.0));
        Value zeros = linalg::FillOp::create(
                          b, loc, ValueRange{zero},
                          ValueRange{tensor::EmptyOp::create(
                              b, loc, tensor::getMixedSizes(b, loc, source),
                              elementType)})
                          .getResult(0);
        operandGrads[0] = tensor::InsertSliceOp::create(
            b, loc, dy, zeros, slice.getMixedOffsets(), slice.getMixedSizes(),
            slice.getMixedStrides());
        return success();
      })
      .Case([&](linalg::TransposeOp transpose) {
        ArrayRef<int64_t> perm = transpose.getPermutation();
        SmallVector<int64_t> inverse(perm.size());
        for (auto [i, p] : llvm::enumerate(perm))
          inverse[p] = i;
        Value input = transpose.getInput();
        Value init = tensor::EmptyOp::create(
            b, loc, tensor::getMixedSizes(b, loc, input),
            cast<RankedTensorType>(input.getType()).getElementType());
        operandGrads[0] = linalg::TransposeOp::create(b, loc, dy, init, inverse)
                              .getResult()[0];
        return success();
      })
      .Default([](Operation *) { return failure(); });
}

/// Generates value-and-gradient and VJP functions in one module.
class Differentiator {
public:
  explicit Differentiator(ModuleOp module) : module(module), symbols(module) {}

  /// `@callee_value_and_grad_<wrt>`: (inputs) -> (loss, d loss / d wrt).
  FailureOr<func::FuncOp> getValueAndGrad(func::FuncOp callee,
                                          ArrayRef<int64_t> wrt);

private:
  /// `@callee_vjp_<mask>`: (inputs, result cotangents) -> (cotangents of the
  /// inputs selected by `mask`).
  FailureOr<func::FuncOp> getVjp(func::FuncOp callee, ArrayRef<bool> mask);

  /// Creates a private function named after `base` with the body of `source`
  /// cloned into it, taking `extraInputs` after the source's inputs.
  func::FuncOp cloneForward(func::FuncOp source, StringRef base,
                            TypeRange extraInputs, IRMapping &mapping);

  /// Runs the reverse sweep over `body` (a cloned forward whose terminator
  /// returns the primal results), seeded with `seeds` (one per returned
  /// value, null = no cotangent), and sets `grads` to the cotangents of the
  /// block arguments selected by `active`.
  LogicalResult reverseSweep(Block &body, ArrayRef<Value> seeds,
                             ArrayRef<bool> active,
                             SmallVectorImpl<Value> &grads);

  /// The VJP of one op; `needed` marks its operands that carry gradients.
  LogicalResult buildOpVjp(OpBuilder &b, Operation *op,
                           ArrayRef<Value> resultGrads, ArrayRef<bool> needed,
                           SmallVectorImpl<Value> &operandGrads);

  ModuleOp module;
  SymbolTable symbols;
  llvm::StringMap<func::FuncOp> generated;
};

std::string maskSuffix(ArrayRef<bool> mask) {
  std::string suffix;
  for (bool bit : mask)
    suffix += bit ? '1' : '0';
  return suffix;
}

func::FuncOp Differentiator::cloneForward(func::FuncOp source, StringRef base,
                                          TypeRange extraInputs,
                                          IRMapping &mapping) {
  OpBuilder b(module.getBodyRegion());
  b.setInsertionPointAfter(source);
  SmallVector<Type> inputs(source.getArgumentTypes());
  llvm::append_range(inputs, extraInputs);
  auto fn = func::FuncOp::create(b, source.getLoc(), base,
                                 b.getFunctionType(inputs, {}));
  fn.setPrivate();
  // The forward's argument attributes (names) carry over.
  for (unsigned i = 0; i < source.getNumArguments(); ++i)
    if (DictionaryAttr attrs = source.getArgAttrDict(i))
      fn.setArgAttrs(i, attrs);
  symbols.insert(fn);
  Block *entry = fn.addEntryBlock();
  for (auto [from, to] :
       llvm::zip(source.getArguments(), entry->getArguments()))
    mapping.map(from, to);
  b.setInsertionPointToEnd(entry);
  for (Operation &op : source.getBody().front())
    b.clone(op, mapping);
  return fn;
}

FailureOr<func::FuncOp> Differentiator::getValueAndGrad(func::FuncOp callee,
                                                        ArrayRef<int64_t> wrt) {
  SmallVector<bool> mask(callee.getNumArguments(), false);
  for (int64_t index : wrt)
    mask[index] = true;
  std::string key =
      (callee.getName() + "_value_and_grad_" + maskSuffix(mask)).str();
  if (func::FuncOp fn = generated.lookup(key))
    return fn;
  IRMapping mapping;
  func::FuncOp fn = cloneForward(callee, key, {}, mapping);
  Block &body = fn.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  Value loss = ret.getOperand(0);
  OpBuilder b(ret);
  auto lossType = cast<RankedTensorType>(loss.getType());
  Value seed = arith::ConstantOp::create(
      b, ret.getLoc(),
      DenseElementsAttr::get(lossType,
                             b.getFloatAttr(lossType.getElementType(), 1.0)));
  SmallVector<Value> grads;
  if (failed(reverseSweep(body, {seed}, mask, grads)))
    return failure();
  SmallVector<Value> results = {loss};
  for (int64_t index : wrt)
    results.push_back(grads[index]);
  b.setInsertionPoint(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  fn.setFunctionType(
      b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
  generated[key] = fn;
  return fn;
}

FailureOr<func::FuncOp> Differentiator::getVjp(func::FuncOp callee,
                                               ArrayRef<bool> mask) {
  std::string key = (callee.getName() + "_vjp_" + maskSuffix(mask)).str();
  if (func::FuncOp fn = generated.lookup(key))
    return fn;
  IRMapping mapping;
  func::FuncOp fn = cloneForward(callee, key, callee.getResultTypes(), mapping);
  Block &body = fn.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> seeds(
      body.getArguments().drop_front(callee.getNumArguments()));
  SmallVector<Value> grads;
  if (failed(reverseSweep(body, seeds, mask, grads)))
    return failure();
  SmallVector<Value> results;
  for (auto [index, wanted] : llvm::enumerate(mask))
    if (wanted)
      results.push_back(grads[index]);
  OpBuilder b(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  fn.setFunctionType(
      b.getFunctionType(fn.getArgumentTypes(), ValueRange(results).getTypes()));
  generated[key] = fn;
  return fn;
}

LogicalResult Differentiator::buildOpVjp(OpBuilder &b, Operation *op,
                                         ArrayRef<Value> resultGrads,
                                         ArrayRef<bool> needed,
                                         SmallVectorImpl<Value> &operandGrads) {
  if (auto vjp = dyn_cast<VjpOpInterface>(op))
    return vjp.buildVjp(b, resultGrads, needed, operandGrads);
  if (auto call = dyn_cast<func::CallOp>(op)) {
    auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal())
      return call.emitOpError("calls a function without a body, which "
                              "cannot be differentiated");
    FailureOr<func::FuncOp> vjp = getVjp(callee, needed);
    if (failed(vjp))
      return failure();
    SmallVector<Value> operands(call.getOperands());
    for (auto [grad, result] : llvm::zip(resultGrads, call.getResults()))
      operands.push_back(grad ? grad
                              : createZerosLike(b, call.getLoc(), result));
    auto vjpCall = func::CallOp::create(b, call.getLoc(), *vjp, operands);
    operandGrads.assign(call.getNumOperands(), Value());
    unsigned next = 0;
    for (auto [index, wanted] : llvm::enumerate(needed))
      if (wanted)
        operandGrads[index] = vjpCall.getResult(next++);
    return success();
  }
  for (Value grad : resultGrads)
    if (!grad)
      return op->emitOpError("has a result without a cotangent, which its "
                             "built-in VJP rule does not handle");
  if (succeeded(buildUpstreamVjp(b, op, resultGrads, operandGrads)))
    return success();
  if (isa<LizaAttentionOp>(op))
    return op->emitOpError("must be decomposed before differentiation");
  return op->emitOpError(
      "lies between the differentiated arguments and the loss but has no VJP "
      "rule");
}

LogicalResult Differentiator::reverseSweep(Block &body, ArrayRef<Value> seeds,
                                           ArrayRef<bool> active,
                                           SmallVectorImpl<Value> &grads) {
  Operation *terminator = body.getTerminator();
  // Forward activity: values that depend on a differentiated argument.
  llvm::DenseSet<Value> varied;
  for (auto [index, arg] : llvm::enumerate(body.getArguments()))
    if (index < active.size() && active[index] && isFloatTensor(arg))
      varied.insert(arg);
  for (Operation &op : body.without_terminator()) {
    if (llvm::none_of(op.getOperands(),
                      [&](Value v) { return varied.contains(v); }))
      continue;
    if (op.getNumRegions() != 0 && !isa<linalg::TransposeOp>(op))
      return op.emitOpError("has regions, which tptt-differentiate does not "
                            "handle on the differentiated path");
    for (Value result : op.getResults())
      if (isFloatTensor(result))
        varied.insert(result);
  }

  // Cotangents, summed over the uses of each value.
  DenseMap<Value, Value> adjoint;
  OpBuilder b(terminator);
  auto accumulate = [&](Value value, Value grad) {
    Value &slot = adjoint[value];
    slot = slot ? arith::AddFOp::create(b, terminator->getLoc(), slot, grad)
                      .getResult()
                : grad;
  };
  for (auto [value, seed] : llvm::zip(terminator->getOperands(), seeds))
    if (seed && varied.contains(value))
      accumulate(value, seed);

  SmallVector<Operation *> ops;
  for (Operation &op : body.without_terminator())
    ops.push_back(&op);
  for (Operation *op : llvm::reverse(ops)) {
    SmallVector<Value> resultGrads;
    bool reaches = false;
    for (Value result : op->getResults()) {
      resultGrads.push_back(adjoint.lookup(result));
      reaches |= static_cast<bool>(resultGrads.back());
    }
    if (!reaches)
      continue;
    SmallVector<bool> needed;
    for (Value operand : op->getOperands())
      needed.push_back(varied.contains(operand));
    SmallVector<Value> operandGrads;
    if (failed(buildOpVjp(b, op, resultGrads, needed, operandGrads)))
      return failure();
    for (auto [operand, wanted, grad] :
         llvm::zip(op->getOperands(), needed, operandGrads)) {
      if (!wanted)
        continue;
      if (!grad)
        return op->emitOpError("its VJP rule gave no cotangent for a "
                               "differentiated operand");
      accumulate(operand, grad);
    }
  }

  grads.clear();
  for (auto [index, arg] : llvm::enumerate(body.getArguments())) {
    if (index >= active.size() || !active[index]) {
      grads.push_back(Value());
      continue;
    }
    Value grad = adjoint.lookup(arg);
    grads.push_back(grad ? grad
                         : createZerosLike(b, terminator->getLoc(), arg));
  }
  return success();
}

struct TpttDifferentiatePass
    : public tptt::impl::TpttDifferentiatePassBase<TpttDifferentiatePass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<ValueAndGradOp> requests;
    module.walk([&](ValueAndGradOp op) { requests.push_back(op); });
    if (requests.empty())
      return;

    RewritePatternSet patterns(&getContext());
    populateDecomposeLizaAttentionPatterns(patterns);
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();

    Differentiator differentiator(module);
    for (ValueAndGradOp op : requests) {
      auto callee = SymbolTable::lookupNearestSymbolFrom<func::FuncOp>(
          op, op.getCalleeAttr());
      if (!callee || callee.isExternal()) {
        op.emitOpError("needs a func.func with a body");
        return signalPassFailure();
      }
      FailureOr<func::FuncOp> fn =
          differentiator.getValueAndGrad(callee, op.getWrt());
      if (failed(fn))
        return signalPassFailure();
      OpBuilder b(op);
      auto call = func::CallOp::create(b, op.getLoc(), *fn, op.getOperands());
      op.replaceAllUsesWith(call.getResults());
      op.erase();
    }
  }
};

} // namespace

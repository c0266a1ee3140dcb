//===- TpttInterfaces.td - tptt op interfaces --------------*- tablegen -*-===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#ifndef TPTT_DIALECT_TPTT_IR_TPTTINTERFACES_TD
#define TPTT_DIALECT_TPTT_IR_TPTTINTERFACES_TD

include "mlir/IR/OpBase.td"

def Tptt_VjpOpInterface : OpInterface<"VjpOpInterface"> {
  let description = [{
    The reverse-mode rule of a differentiable op, like a JAX primitive's
    transpose rule: given the cotangents of its results, build the
    cotangents of its operands. `tptt-differentiate` calls it on every op
    that lies between the differentiated arguments and the loss.
  }];
  let cppNamespace = "::mlir::tptt";
  let methods = [
    InterfaceMethod<[{
        Builds the operand cotangents at the builder's insertion point.
        `resultGrads` has one entry per result: the cotangent, or a null
        value when the result does not reach the loss (a zero cotangent).
        `needed` has one entry per operand. On success `operandGrads` has
        one entry per operand: the cotangent where `needed` is set (null
        only for operands that are not differentiable, such as integer
        ids or masks). On failure the rule has emitted an error on the op.
      }],
      "::llvm::LogicalResult", "buildVjp",
      (ins "::mlir::OpBuilder &":$builder,
           "::llvm::ArrayRef<::mlir::Value>":$resultGrads,
           "::llvm::ArrayRef<bool>":$needed,
           "::llvm::SmallVectorImpl<::mlir::Value> &":$operandGrads)>,
  ];
}

#endif // TPTT_DIALECT_TPTT_IR_TPTTINTERFACES_TD

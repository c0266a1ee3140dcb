//===- TpttOpsTest.cpp - C++ API tests of the tptt dialect ----------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Dialect/Tptt/IR/TpttOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::tptt;

namespace {

class TpttOpsTest : public ::testing::Test {
protected:
  TpttOpsTest() {
    context
        .loadDialect<TpttDialect, func::FuncDialect, tensor::TensorDialect>();
    // Collect diagnostics instead of printing them.
    handler.emplace(&context, [this](Diagnostic &diag) {
      diagnostics.push_back(diag.str());
      return success();
    });
  }

  /// A function body to build ops into; its arguments are `types`.
  Block *makeFunction(TypeRange types) {
    OpBuilder b(&context);
    module = ModuleOp::create(b, UnknownLoc::get(&context));
    b.setInsertionPointToEnd(module->getBody());
    auto func = func::FuncOp::create(b, UnknownLoc::get(&context), "f",
                                     b.getFunctionType(types, {}));
    return func.addEntryBlock();
  }

  RankedTensorType tensor(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, Float32Type::get(&context));
  }

  MLIRContext context;
  std::optional<ScopedDiagnosticHandler> handler;
  std::vector<std::string> diagnostics;
  OwningOpRef<ModuleOp> module;
};

constexpr int64_t kDyn = ShapedType::kDynamic;

TEST_F(TpttOpsTest, EnumsRoundTripThroughTheirSpelling) {
  EXPECT_EQ(stringifyGateKind(GateKind::KV), "kv");
  EXPECT_EQ(symbolizeGateKind("c"), GateKind::C);
  EXPECT_FALSE(symbolizeGateKind("1").has_value());
  EXPECT_EQ(stringifySemantics(Semantics::Tptt012), "tptt-0.12");
  EXPECT_EQ(symbolizeSemantics("recurrent"), Semantics::Recurrent);
  EXPECT_EQ(symbolizeTrick("rdt"), Trick::RDT);
  EXPECT_FALSE(symbolizeTrick("derivative").has_value());
}

TEST_F(TpttOpsTest, BuildsAVerifiedRecurrentDeltaProduct) {
  auto q = tensor({kDyn, 4, kDyn, 8});
  auto kv = tensor({kDyn, 4, kDyn, 2, 8});
  auto state = tensor({kDyn, 4, 8, 8});
  Block *body = makeFunction({q, kv, kv, q});
  OpBuilder b = OpBuilder::atBlockEnd(body);
  // No alpha: the ungated operator.
  auto op = DeltaProductOp::create(
      b, b.getUnknownLoc(), q, state, body->getArgument(0),
      body->getArgument(1), body->getArgument(2), body->getArgument(3),
      /*alpha=*/Value(), /*initial_state=*/Value(), /*mask=*/Value(),
      SemanticsAttr::get(&context, Semantics::Recurrent),
      b.getI64IntegerAttr(64), UnitAttr(), UnitAttr());
  EXPECT_TRUE(succeeded(verify(op))) << llvm::join(diagnostics, "\n");
  EXPECT_EQ(op.getOrder(), 2);
  EXPECT_EQ(op.getHeadDim(), 8);
  EXPECT_TRUE(diagnostics.empty());
}

TEST_F(TpttOpsTest, RejectsGatesOfTheWrongLayoutWithOneClearMessage) {
  auto kv = tensor({2, 7, 16});
  auto gate = tensor({2, 4, 7, 6});
  Block *body = makeFunction({kv, kv});
  OpBuilder b = OpBuilder::atBlockEnd(body);
  auto op =
      GatesOp::create(b, b.getUnknownLoc(), gate, gate, body->getArgument(0),
                      body->getArgument(1), Value(), Value(), Value(),
                      GateKindAttr::get(&context, GateKind::C),
                      GateKindAttr::get(&context, GateKind::K),
                      b.getI64IntegerAttr(4), b.getI64IntegerAttr(2));
  EXPECT_TRUE(failed(verify(op)));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0], "'tptt.gates' op 'alpha' dimension 3 (d) is 6, "
                            "but 'k' / num_kv_heads gives d = 8");
}

TEST_F(TpttOpsTest, ParsesAndPrintsTheSemanticsSpelling) {
  const char *source = R"mlir(
    func.func @f(%q: tensor<1x1x4x2x8xf64>, %s: tensor<1x1x8x8xf64>) {
      %o, %f = tptt.delta_product %q, %q, %q, %q alpha %q init %s
          semantics = "tptt-0.12" chunk_size = 4
          : (tensor<1x1x4x2x8xf64>, tensor<1x1x4x2x8xf64>, tensor<1x1x4x2x8xf64>,
             tensor<1x1x4x2x8xf64>, tensor<1x1x4x2x8xf64>, tensor<1x1x8x8xf64>)
          -> (tensor<1x1x4x8xf64>, tensor<1x1x8x8xf64>)
      return
    }
  )mlir";
  OwningOpRef<ModuleOp> parsed =
      parseSourceString<ModuleOp>(source, ParserConfig(&context));
  ASSERT_TRUE(parsed);
  DeltaProductOp op;
  parsed->walk([&](DeltaProductOp found) { op = found; });
  ASSERT_TRUE(op);
  EXPECT_EQ(op.getSemantics(), Semantics::Tptt012);
  std::string printed;
  llvm::raw_string_ostream os(printed);
  op->print(os);
  EXPECT_NE(printed.find("semantics = \"tptt-0.12\" chunk_size = 4"),
            std::string::npos)
      << printed;
}

} // namespace

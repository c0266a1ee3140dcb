//===- ModelImporter.cpp - A model description becomes tptt IR ------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The decoder of a Llama-family model (Llama, Qwen2, Mistral) in graph-level
// tptt ops, with tptt.liza_attention on the LiZA layers (SEMANTICS.md, "Per
// layer") and the base model's softmax attention on the others.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/ModelImporter.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"

using namespace mlir;
using namespace mlir::tptt;
using namespace ::tptt::model;

namespace {

/// tokens, positions, mask and mag_weight come before the weights.
constexpr unsigned kFixedArguments = 4;

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

/// Builds @tptt_logits, adding weight arguments as the layers ask for them.
class Importer {
public:
  Importer(MLIRContext &context, const ModelSpec &spec,
           const WeightShapeLookup &lookup, std::vector<WeightArgument> &weights,
           std::string &error)
      : b(&context), spec(spec), lookup(lookup),
        weights(weights), error(error) {}

  OwningOpRef<ModuleOp> run() {
    Location loc = b.getUnknownLoc();
    OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
    Type f32 = b.getF32Type();
    int64_t dyn = ShapedType::kDynamic;
    auto ids = RankedTensorType::get({dyn, dyn}, b.getI64Type());
    auto mask = RankedTensorType::get({dyn, dyn}, b.getI1Type());
    auto logits = RankedTensorType::get({dyn, dyn, spec.vocabSize}, f32);
    auto func = func::FuncOp::create(
        loc, kLogitsEntry,
        b.getFunctionType({ids, ids, mask, RankedTensorType::get({}, f32)},
                          {logits}));
    func->setAttr("tptt.entry", b.getUnitAttr());
    module->push_back(func);
    entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    const char *names[] = {"tokens", "positions", "mask", "mag_weight"};
    for (auto [index, name] : llvm::enumerate(names))
      func.setArgAttr(index, "tptt.name", b.getStringAttr(name));
    Value tokens = entry->getArgument(0), positions = entry->getArgument(1);
    maskValue = entry->getArgument(2);
    mu = entry->getArgument(3);

    int64_t hidden = spec.hiddenSize, vocab = spec.vocabSize;
    Value embedTable = weight("model.embed_tokens.weight", {vocab, hidden});
    if (!embedTable)
      return nullptr;
    Value x = EmbeddingOp::create(b, loc, activation(hidden), tokens,
                                  embedTable);
    std::vector<double> frequencies = spec.ropeInverseFrequencies();
    auto table = activation(spec.headDim);
    auto tables = RopeTablesOp::create(b, loc, TypeRange{table, table},
                                       positions, frequencies);
    cos = tables.getCos();
    sin = tables.getSin();

    for (int64_t layer = 0; layer < spec.numLayers; ++layer) {
      x = decoderLayer(layer, x);
      if (!x)
        return nullptr;
    }
    Value norm = weight("model.norm.weight", {hidden});
    Value head = spec.tieWordEmbeddings
                     ? embedTable
                     : weight("lm_head.weight", {vocab, hidden});
    if (!norm || !head)
      return nullptr;
    x = RmsNormOp::create(b, loc, x.getType(), x, norm,
                          b.getF64FloatAttr(spec.rmsNormEps));
    Value out = LinearOp::create(b, loc, logits, x, head, Value());
    func::ReturnOp::create(b, loc, out);

    func.setType(b.getFunctionType(entry->getArgumentTypes(), {logits}));
    for (auto [offset, argument] : llvm::enumerate(weights))
      func.setArgAttr(kFixedArguments + offset, "tptt.name",
                      b.getStringAttr(argument.name));
    if (failed(verify(*module))) {
      error = "internal error: the imported module does not verify";
      return nullptr;
    }
    return module;
  }

private:
  /// [B, S, width] f32.
  RankedTensorType activation(int64_t width) {
    int64_t dyn = ShapedType::kDynamic;
    return RankedTensorType::get({dyn, dyn, width}, b.getF32Type());
  }

  /// A new function argument for the weight `name`, checked to have
  /// `shape`; null (with `error` set) when it is missing or mis-shaped.
  Value weight(const std::string &name, std::vector<int64_t> shape) {
    std::optional<std::vector<int64_t>> found = lookup(name);
    if (!found) {
      error = "missing weight '" + name + "' (expected shape " +
              formatShape(shape) + ")";
      return Value();
    }
    if (*found != shape) {
      error = "weight '" + name + "' has shape " + formatShape(*found) +
              ", but the config needs " + formatShape(shape);
      return Value();
    }
    auto type = RankedTensorType::get(shape, b.getF32Type());
    BlockArgument argument = entry->addArgument(type, b.getUnknownLoc());
    weights.push_back({name, shape});
    return argument;
  }

  /// y = x Wᵀ (+ b) for the projection `prefix`.{weight,bias}.
  Value projection(const std::string &prefix, Value x, int64_t out,
                   int64_t in, bool bias) {
    Value w = weight(prefix + ".weight", {out, in});
    Value bv = bias ? weight(prefix + ".bias", {out}) : Value();
    if (!w || (bias && !bv))
      return Value();
    return LinearOp::create(b, b.getUnknownLoc(), activation(out), x, w, bv);
  }

  Value decoderLayer(int64_t layer, Value x) {
    Location loc = b.getUnknownLoc();
    std::string p = "model.layers." + std::to_string(layer) + ".";
    int64_t hidden = spec.hiddenSize, headDim = spec.headDim;
    int64_t qWidth = spec.numHeads * headDim, kvWidth = spec.numKvHeads * headDim;
    Value ln1 = weight(p + "input_layernorm.weight", {hidden});
    if (!ln1)
      return Value();
    Value h = RmsNormOp::create(b, loc, x.getType(), x, ln1,
                                b.getF64FloatAttr(spec.rmsNormEps));
    Value q = projection(p + "self_attn.q_proj", h, qWidth, hidden, spec.qkvBias);
    Value k = q ? projection(p + "self_attn.k_proj", h, kvWidth, hidden,
                             spec.qkvBias)
                : Value();
    Value v = k ? projection(p + "self_attn.v_proj", h, kvWidth, hidden,
                             spec.qkvBias)
                : Value();
    Value wo = v ? weight(p + "self_attn.o_proj.weight", {hidden, qWidth})
                 : Value();
    Value bo = wo && spec.oBias ? weight(p + "self_attn.o_proj.bias", {hidden})
                                : Value();
    if (!wo || (spec.oBias && !bo))
      return Value();
    std::optional<int64_t> window = spec.attentionWindow(layer);
    IntegerAttr windowAttr = window ? b.getI64IntegerAttr(*window) : IntegerAttr();
    Value attn;
    if (spec.lizaLayers[layer]) {
      FloatType precision = spec.linearPrecision == "float64"
                                ? FloatType(b.getF64Type())
                                : FloatType(b.getF32Type());
      attn = LizaAttentionOp::create(
          b, loc, x.getType(), q, k, v, cos, sin, mu, wo, bo, maskValue,
          spec.numHeads, spec.numKvHeads, spec.order,
          *symbolizeTrick(spec.trick), *symbolizeGateKind(spec.alphaGate),
          *symbolizeGateKind(spec.betaGate), !spec.linear, spec.maxChunkSize,
          *symbolizeSemantics(spec.semantics), spec.crossGate,
          spec.baseScaleAttn, spec.bidirectional, windowAttr,
          TypeAttr::get(precision));
    } else {
      Value merged = buildSoftmaxBranch(b, loc, q, k, v, cos, sin,
                                        spec.numHeads, spec.numKvHeads,
                                        maskValue, windowAttr);
      attn = LinearOp::create(b, loc, x.getType(), merged, wo, bo);
    }
    x = arith::AddFOp::create(b, loc, x, attn);

    Value ln2 = weight(p + "post_attention_layernorm.weight", {hidden});
    if (!ln2)
      return Value();
    h = RmsNormOp::create(b, loc, x.getType(), x, ln2,
                          b.getF64FloatAttr(spec.rmsNormEps));
    int64_t inter = spec.intermediateSize;
    Value gate = projection(p + "mlp.gate_proj", h, inter, hidden, false);
    Value up = gate ? projection(p + "mlp.up_proj", h, inter, hidden, false)
                    : Value();
    if (!up)
      return Value();
    Value act = SwigluOp::create(b, loc, gate, up);
    Value down = projection(p + "mlp.down_proj", act, hidden, inter, false);
    if (!down)
      return Value();
    return arith::AddFOp::create(b, loc, x, down);
  }

  OpBuilder b;
  const ModelSpec &spec;
  const WeightShapeLookup &lookup;
  std::vector<WeightArgument> &weights;
  std::string &error;
  Block *entry = nullptr;
  Value maskValue, mu, cos, sin;
};

} // namespace

namespace tptt {
namespace model {

OwningOpRef<ModuleOp> importModel(MLIRContext &context, const ModelSpec &spec,
                                  const WeightShapeLookup &lookup,
                                  std::vector<WeightArgument> &weights,
                                  std::string &error) {
  context.loadDialect<TpttDialect, arith::ArithDialect, func::FuncDialect>();
  return Importer(context, spec, lookup, weights, error).run();
}

} // namespace model
} // namespace tptt

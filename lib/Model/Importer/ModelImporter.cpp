//===- ModelImporter.cpp - A model description becomes tptt IR ------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// The decoder of a Llama-family model (Llama, Qwen2, Qwen3, Mistral) in
// graph-level tptt ops, with tptt.liza_attention on the LiZA layers
// (SEMANTICS.md, "Per layer") and the base model's softmax attention on the
// others; and its one-token decode step with explicit caches; for training, the
// mean next-token loss (with LoRA adapters when they are what is trained) and a
// training step that differentiates it and applies AdamW.
//
//===----------------------------------------------------------------------===//

#include "tptt/Model/ModelImporter.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/Verifier.h"

#include <map>

using namespace mlir;
using namespace mlir::tptt;
using namespace ::tptt::model;
using namespace ::tptt::interface;

namespace {

constexpr int64_t kDynamic = ShapedType::kDynamic;

std::string formatShape(const std::vector<int64_t> &shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string dtypeOf(Type type) {
  if (type.isF64())
    return "f64";
  if (type.isBF16())
    return "bf16";
  if (type.isInteger(64))
    return "i64";
  if (type.isInteger(1))
    return "i1";
  return "f32";
}

EntryValue describe(const std::string &name, Role role, RankedTensorType type) {
  std::vector<int64_t> shape;
  for (int64_t size : type.getShape())
    shape.push_back(ShapedType::isDynamic(size) ? -1 : size);
  EntryValue value;
  value.name = name;
  value.role = role;
  value.shape = shape;
  value.dtype = dtypeOf(type.getElementType());
  return value;
}

// The attributes that state an entry point's interface on its arguments
// and results (read back by entryPoints).
constexpr const char kNameAttr[] = "tptt.name";
constexpr const char kRoleAttr[] = "tptt.role";
constexpr const char kSourceAttr[] = "tptt.source";
constexpr const char kTransposedAttr[] = "tptt.transposed";
constexpr const char kTrainableAttr[] = "tptt.trainable";

/// Gives the arguments and results of `function` the attributes that
/// describe them: a name, and for arguments their role, the tensor they
/// hold (when not their name), whether it is transposed and trained.
void annotateSignature(func::FuncOp function, const EntryPoint &signature) {
  Builder b(function.getContext());
  for (auto [index, argument] : llvm::enumerate(signature.arguments)) {
    function.setArgAttr(index, kNameAttr, b.getStringAttr(argument.name));
    function.setArgAttr(index, kRoleAttr,
                        b.getStringAttr(roleName(argument.role)));
    if (!argument.source.empty() && argument.source != argument.name)
      function.setArgAttr(index, kSourceAttr, b.getStringAttr(argument.source));
    if (argument.transposed)
      function.setArgAttr(index, kTransposedAttr, b.getUnitAttr());
    if (argument.trainable)
      function.setArgAttr(index, kTrainableAttr, b.getUnitAttr());
  }
  for (auto [index, result] : llvm::enumerate(signature.results))
    function.setResultAttr(index, kNameAttr, b.getStringAttr(result.name));
}

/// Whether the training step of `training` (none: no training) updates the
/// model tensor `source`: all of them for full training, the attention
/// projections of the LiZA layers for LoRA−.
bool trainsWeight(const ModelSpec &spec, const TrainingOptions *training,
                  const std::string &source) {
  if (!training || training->trainable == Trainable::Lora)
    return false;
  if (training->trainable == Trainable::Full)
    return true;
  const std::string layers = "model.layers.";
  if (source.rfind(layers, 0) != 0 ||
      source.find(".self_attn.") == std::string::npos)
    return false;
  size_t layer = 0;
  StringRef(source)
      .drop_front(layers.size())
      .take_until([](char c) { return c == '.'; })
      .getAsInteger(10, layer);
  return layer < spec.lizaLayers.size() && spec.lizaLayers[layer];
}

/// How the entry points hold the weights: `type`, except the ones that the
/// compiled training step (`training`, for every entry point) updates.
struct WeightLayout {
  WeightType type = WeightType::F32;
  const TrainingOptions *training = nullptr;
};

/// Builds one entry point, adding arguments as the layers ask for them.
class EntryBuilder {
public:
  EntryBuilder(ModuleOp module, const ModelSpec &spec,
               const WeightShapeLookup &lookup, std::string &error,
               WeightLayout layout, const TrainingOptions *training = nullptr)
      : b(module.getContext()), module(module), spec(spec), lookup(lookup),
        error(error), layout(layout), training(training),
        here(b.getUnknownLoc()) {}

  /// @tptt_loss: the full-sequence forward (with the LoRA adapters being
  /// trained) and the mean cross-entropy of `labels` (the next token of
  /// each position; −100 where nothing is predicted).
  std::optional<EntryPoint> buildLoss() {
    begin(Entry::Loss);
    Value tokens = input(value::kTokens, tensor({kDynamic, kDynamic}, i64()));
    Value positions =
        input(value::kPositions, tensor({kDynamic, kDynamic}, i64()));
    mask = input(value::kMask, tensor({kDynamic, kDynamic}, i1()));
    Value labels = input(value::kLabels, tensor({kDynamic, kDynamic}, i64()));
    mu = input(value::kMagWeight, tensor({}, f32()));
    if (training->trainable == Trainable::Lora && training->lora.dropout > 0) {
      dropoutSeed = input(value::kDropoutSeed, tensor({}, i64()));
      dropoutRate = input(value::kDropoutRate, tensor({}, f32()));
    }
    Value logits = forward(tokens, positions);
    if (!logits)
      return std::nullopt;
    Value loss =
        CrossEntropyOp::create(b, here, tensor({}, f32()), logits, labels);
    return finish({{value::kLoss, loss}});
  }

  /// @tptt_logits, the full-sequence forward; with `withCaches`
  /// @tptt_prefill, which also returns the caches a decode step continues
  /// from.
  std::optional<EntryPoint> buildFullSequence(bool withCaches) {
    prefilling = withCaches;
    begin(withCaches ? Entry::Prefill : Entry::Logits);
    Value tokens = input(value::kTokens, tensor({kDynamic, kDynamic}, i64()));
    Value positions =
        input(value::kPositions, tensor({kDynamic, kDynamic}, i64()));
    mask = input(value::kMask, tensor({kDynamic, kDynamic}, i1()));
    mu = input(value::kMagWeight, tensor({}, f32()));
    window = linearStepWindow(spec.order);
    return finishWithCaches(forward(tokens, positions));
  }

  /// @tptt_decode_step: one token per sequence on top of the caches.
  std::optional<EntryPoint> buildDecodeStep() {
    decoding = true;
    begin(Entry::DecodeStep);
    Value tokens = input(value::kTokens, tensor({kDynamic, 1}, i64()));
    Value positions = input(value::kPositions, tensor({kDynamic, 1}, i64()));
    mask = input(value::kKeyMask, tensor({kDynamic, kDynamic}, i1()));
    window = linearStepWindow(spec.order);
    windowMask = input(value::kWindowMask, tensor({kDynamic, window}, i1()));
    mu = input(value::kMagWeight, tensor({}, f32()));
    Location loc = here;
    position = tensor::CollapseShapeOp::create(
        b, loc, tensor({kDynamic}, i64()), positions,
        SmallVector<ReassociationIndices>{{0, 1}});
    return finishWithCaches(forward(tokens, positions));
  }

private:
  /// Until it goes out of scope, the ops built carry the location of the
  /// Hugging Face module `name` (e.g. model.layers.3.self_attn), so that a
  /// diagnostic names the layer.
  class ModuleScope {
  public:
    ModuleScope(EntryBuilder &builder, const std::string &name)
        : builder(builder), saved(builder.here) {
      builder.here = NameLoc::get(builder.b.getStringAttr(name));
    }
    ~ModuleScope() { builder.here = saved; }

  private:
    EntryBuilder &builder;
    Location saved;
  };

  Type f32() { return b.getF32Type(); }
  Type i64() { return b.getI64Type(); }
  Type i1() { return b.getI1Type(); }
  RankedTensorType tensor(ArrayRef<int64_t> shape, Type elementType) {
    return RankedTensorType::get(shape, elementType);
  }
  /// [B, S, width] f32 (S = 1 when decoding).
  RankedTensorType activation(int64_t width) {
    return tensor({kDynamic, decoding ? 1 : kDynamic, width}, f32());
  }
  /// linear_precision.
  FloatType linearType() {
    if (spec.linearPrecision == "float64")
      return b.getF64Type();
    if (spec.linearPrecision == "bfloat16")
      return b.getBF16Type();
    return b.getF32Type();
  }

  void begin(Entry which) {
    function =
        func::FuncOp::create(here, entryName(which), b.getFunctionType({}, {}));
    module.push_back(function);
    entry = function.addEntryBlock();
    b.setInsertionPointToStart(entry);
    signature = EntryPoint{which, {}, {}};
  }

  /// A new argument of the entry point; inside a layer also one of the
  /// layer function, which receives it through the call.
  Value argument(const std::string &name, Role role, RankedTensorType type) {
    signature.arguments.push_back(describe(name, role, type));
    Value value = entry->addArgument(type, here);
    if (!layerBlock)
      return value;
    layerOperands->push_back(value);
    return layerBlock->addArgument(type, here);
  }

  /// Returns the logits and the caches the layers produced (none for
  /// @tptt_logits), or nothing when `logits` is null (`error` is set).
  std::optional<EntryPoint> finishWithCaches(Value logits) {
    if (!logits)
      return std::nullopt;
    std::vector<std::pair<std::string, Value>> results = {
        {value::kLogits, logits}};
    results.insert(results.end(), cacheResults.begin(), cacheResults.end());
    return finish(results);
  }

  /// Returns `results`, fixes the function type and names every argument.
  EntryPoint finish(ArrayRef<std::pair<std::string, Value>> results) {
    SmallVector<Value> values;
    SmallVector<Type> types;
    for (const auto &[name, value] : results) {
      values.push_back(value);
      types.push_back(value.getType());
      signature.results.push_back(describe(
          name, Role::Result, cast<RankedTensorType>(value.getType())));
    }
    func::ReturnOp::create(b, here, values);
    function.setType(b.getFunctionType(entry->getArgumentTypes(), types));
    annotateSignature(function, signature);
    return signature;
  }

  /// A new argument for the model tensor `source`, checked to have `shape`
  /// ([out, in] for a projection, stored transposed when `transposed`) and
  /// named `name` (default: `source`); null (with `error` set) when it is
  /// missing or mis-shaped.
  Value weight(const std::string &source, std::vector<int64_t> shape,
               bool transposed = false, std::string name = "") {
    std::optional<std::vector<int64_t>> found = lookup(source);
    if (!found) {
      error = "missing weight '" + source + "' (expected shape " +
              formatShape(shape) + ")";
      return Value();
    }
    if (*found != shape) {
      error = "weight '" + source + "' has shape " + formatShape(*found) +
              ", but the config needs " + formatShape(shape);
      return Value();
    }
    if (transposed)
      std::swap(shape[0], shape[1]);
    name = name.empty() ? source : name;
    bool trained = trainsWeight(spec, layout.training, source);
    Type elementType = layout.type == WeightType::BF16 && !trained
                           ? Type(b.getBF16Type())
                           : f32();
    Value value = argument(name, Role::Weight, tensor(shape, elementType));
    signature.arguments.back().source = source;
    signature.arguments.back().transposed = transposed;
    signature.arguments.back().trainable = trainsWeight(spec, training, source);
    return value;
  }

  /// `w` in f32 (widened where it is a bf16 weight).
  Value widened(Value w) {
    auto type = cast<RankedTensorType>(w.getType());
    if (type.getElementType().isF32())
      return w;
    return arith::ExtFOp::create(b, here, tensor(type.getShape(), f32()), w);
  }

  /// The LoRA matrices of the projection `prefix` (e.g.
  /// model.layers.0.self_attn.q_proj) when they are trained: Aᵀ [in, r]
  /// and B [out, r], named as PEFT names them.
  std::optional<std::pair<Value, Value>> loraAdapter(const std::string &prefix,
                                                     int64_t out, int64_t in) {
    if (!training || training->trainable != Trainable::Lora)
      return std::nullopt;
    const LoraSpec &lora = training->lora;
    std::string module = prefix.substr(prefix.rfind('.') + 1);
    if (std::find(lora.targetModules.begin(), lora.targetModules.end(),
                  module) == lora.targetModules.end())
      return std::nullopt;
    std::string name = "base_model.model." + prefix;
    auto adapterArgument = [&](const std::string &suffix, RankedTensorType type,
                               bool transposed) {
      Value value = argument(name + suffix, Role::Adapter, type);
      signature.arguments.back().source = name + suffix;
      signature.arguments.back().transposed = transposed;
      signature.arguments.back().trainable = true;
      return value;
    };
    Value a = adapterArgument(".lora_A.weight", tensor({in, lora.rank}, f32()),
                              /*transposed=*/true);
    Value bm = adapterArgument(".lora_B.weight",
                               tensor({out, lora.rank}, f32()), false);
    return std::make_pair(a, bm);
  }

  /// lora_alpha / r.
  FloatAttr loraScale() {
    return b.getF64FloatAttr(training->lora.alpha /
                             static_cast<double>(training->lora.rank));
  }

  /// An input given per call.
  Value input(const char *name, RankedTensorType type) {
    return argument(name, Role::Input, type);
  }

  /// The cache `kind` of layer `layer` as an argument (its new value is a
  /// result, see cacheResult).
  Value cache(int64_t layer, CacheKind kind, RankedTensorType type) {
    return argument(cacheName(layer, kind), Role::Cache, type);
  }
  void cacheResult(int64_t layer, CacheKind kind, Value value) {
    cacheResults.push_back({cacheName(layer, kind), value});
  }

  Value forward(Value tokens, Value positions) {
    int64_t hidden = spec.hiddenSize, vocab = spec.vocabSize;
    Value embedTable = weight("model.embed_tokens.weight", {vocab, hidden});
    if (!embedTable)
      return Value();
    Value x;
    {
      ModuleScope scope(*this, "model.embed_tokens");
      x = EmbeddingOp::create(b, here, activation(hidden), tokens, embedTable,
                              b.getF64FloatAttr(spec.embeddingScale));
    }
    std::tie(cos, sin) = ropeTables("model.rotary_emb", spec.rope, positions);
    if (spec.slidingRope)
      std::tie(localCos, localSin) =
          ropeTables("model.rotary_emb_local", *spec.slidingRope, positions);
    for (int64_t layer = 0; layer < spec.numLayers; ++layer) {
      x = decoderLayer(layer, x);
      if (!x)
        return Value();
    }
    x = rmsNorm("model.norm", x);
    if (!x)
      return Value();
    // A tied head reads the embedding table, transposed for the product:
    // stored once more that way for inference, transposed in the graph when
    // the table is trained (so that both uses update one tensor).
    ModuleScope scope(*this, "lm_head");
    Value head;
    if (spec.tieWordEmbeddings &&
        trainsWeight(spec, training, "model.embed_tokens.weight")) {
      Value init = tensor::EmptyOp::create(
          b, here, ArrayRef<int64_t>{hidden, vocab}, f32());
      head = linalg::TransposeOp::create(b, here, embedTable, init,
                                         ArrayRef<int64_t>{1, 0})
                 .getResult()[0];
    } else {
      head = weight(spec.tieWordEmbeddings ? "model.embed_tokens.weight"
                                           : "lm_head.weight",
                    {vocab, hidden}, /*transposed=*/true, "lm_head.weight");
    }
    if (!head)
      return Value();
    auto logits = tensor({kDynamic, decoding ? 1 : kDynamic, vocab}, f32());
    Value y =
        LinearOp::create(b, here, logits, x, head, Value(), b.getUnitAttr());
    if (spec.finalLogitSoftcapping)
      y = SoftCapOp::create(b, here, y,
                            b.getF64FloatAttr(*spec.finalLogitSoftcapping));
    return y;
  }

  /// The RoPE cos and sin tables of `rope` at `positions` (module `name`).
  std::pair<Value, Value> ropeTables(const std::string &name,
                                     const RopeSpec &rope, Value positions) {
    ModuleScope scope(*this, name);
    auto table = activation(spec.headDim);
    std::vector<double> longFrequencies =
        rope.longInverseFrequencies(spec.headDim);
    bool longrope = !longFrequencies.empty();
    auto tables = RopeTablesOp::create(
        b, here, TypeRange{table, table}, positions,
        b.getDenseF64ArrayAttr(rope.inverseFrequencies(spec.headDim)),
        b.getF64FloatAttr(rope.attentionScaling()),
        longrope ? b.getDenseF64ArrayAttr(longFrequencies)
                 : DenseF64ArrayAttr(),
        longrope ? b.getI64IntegerAttr(rope.originalMaxPositions)
                 : IntegerAttr());
    return {tables.getCos(), tables.getSin()};
  }

  /// The RMSNorm `name` (weight `name`.weight [D]) of `x` [..., D]; null
  /// (with `error` set) when the weight is missing or mis-shaped.
  Value rmsNorm(const std::string &name, Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    Value w = weight(name + ".weight", {type.getShape().back()});
    if (!w)
      return Value();
    return RmsNormOp::create(b, NameLoc::get(b.getStringAttr(name)), type, x, w,
                             b.getF64FloatAttr(spec.rmsNormEps),
                             b.getF64FloatAttr(spec.normWeightOffset));
  }

  /// The softmax attention's scale attribute (null: 1/√head_dim).
  FloatAttr attentionScale() {
    return spec.attentionScale ? b.getF64FloatAttr(*spec.attentionScale)
                               : FloatAttr();
  }

  /// y = x Wᵀ (+ b) for the projection `prefix`.{weight,bias}.
  Value projection(const std::string &prefix, Value x, int64_t out, int64_t in,
                   bool bias) {
    Value w = weight(prefix + ".weight", {out, in}, /*transposed=*/true);
    Value bv = w && bias ? weight(prefix + ".bias", {out}) : Value();
    if (!w || (bias && !bv))
      return Value();
    ModuleScope scope(*this, prefix);
    Value y =
        LinearOp::create(b, here, activation(out), x, w, bv, b.getUnitAttr());
    return withAdapter(x, y, loraAdapter(prefix, out, in));
  }

  /// The RMSNorm `prefix` (q_norm or k_norm, weight [head_dim]) of each of
  /// the `heads` heads of `x` [B, S, heads·d] (Qwen3).
  Value headNorm(const std::string &prefix, Value x, int64_t heads) {
    int64_t headDim = spec.headDim;
    ModuleScope scope(*this, prefix);
    auto type = cast<RankedTensorType>(x.getType());
    auto split =
        tensor({type.getDimSize(0), type.getDimSize(1), heads, headDim},
               type.getElementType());
    SmallVector<ReassociationIndices> groups = {{0}, {1}, {2, 3}};
    Value perHead =
        tensor::ExpandShapeOp::create(b, here, split, x, groups).getResult();
    Value normed = rmsNorm(prefix, perHead);
    if (!normed)
      return Value();
    return tensor::CollapseShapeOp::create(b, here, type, normed, groups);
  }

  /// y + (lora_alpha / r) · (dropout(x) Aᵀ) Bᵀ: the output `y` of a
  /// projection of `x` with its LoRA adapter, if any.
  Value withAdapter(Value x, Value y,
                    std::optional<std::pair<Value, Value>> lora) {
    if (!lora)
      return y;
    Location loc = here;
    if (dropoutSeed)
      x = DropoutOp::create(b, loc, x, dropoutSeed, dropoutRate,
                            dropoutSites++);
    Value down = LinearOp::create(b, loc, activation(training->lora.rank), x,
                                  lora->first, Value(), b.getUnitAttr());
    Value up = LinearOp::create(b, loc, y.getType(), down, lora->second,
                                Value(), UnitAttr(), loraScale());
    return arith::AddFOp::create(b, loc, y, up);
  }

  LinearBranchOptions branchOptions() {
    LinearBranchOptions options;
    options.numHeads = spec.numHeads;
    options.numKvHeads = spec.numKvHeads;
    options.order = spec.order;
    options.trick = *symbolizeTrick(spec.trick);
    options.alphaGate = *symbolizeGateKind(spec.alphaGate);
    options.betaGate = *symbolizeGateKind(spec.betaGate);
    options.nonlinear = !spec.linear;
    options.chunkSize = spec.maxChunkSize;
    options.semantics = *symbolizeSemantics(spec.semantics);
    options.bidirectional = spec.bidirectional;
    options.linearType = linearType();
    return options;
  }

  /// `rows` with `row` (size 1 along `dim`) appended along `dim`.
  Value appendRow(Value rows, Value row, int64_t dim) {
    Location loc = here;
    auto type = cast<RankedTensorType>(rows.getType());
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, rows);
    SmallVector<int64_t> shape(type.getShape());
    if (ShapedType::isDynamic(shape[dim])) {
      Value grown = arith::AddIOp::create(
          b, loc, tensor::DimOp::create(b, loc, rows, dim),
          arith::ConstantIndexOp::create(b, loc, 1));
      sizes[dim] = grown;
    } else {
      sizes[dim] = b.getIndexAttr(shape[dim] + 1);
      shape[dim] += 1;
    }
    Value grown = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
    grown = tensor::CastOp::create(b, loc, tensor(shape, type.getElementType()),
                                   grown);
    SmallVector<OpFoldResult> zero(type.getRank(), b.getIndexAttr(0));
    SmallVector<OpFoldResult> ones(type.getRank(), b.getIndexAttr(1));
    grown = tensor::InsertSliceOp::create(
        b, loc, rows, grown, zero, tensor::getMixedSizes(b, loc, rows), ones);
    SmallVector<OpFoldResult> at(type.getRank(), b.getIndexAttr(0));
    at[dim] = tensor::getMixedSizes(b, loc, rows)[dim];
    return tensor::InsertSliceOp::create(
        b, loc, row, grown, at, tensor::getMixedSizes(b, loc, row), ones);
  }

  /// Indices [offset, offset + width) of `x` along dimension `dim` (static
  /// offset and width; the other dimensions whole).
  Value sliceAlong(Value x, unsigned dim, int64_t offset, int64_t width) {
    Location loc = here;
    auto type = cast<RankedTensorType>(x.getType());
    SmallVector<OpFoldResult> offsets(type.getRank(), b.getIndexAttr(0));
    offsets[dim] = b.getIndexAttr(offset);
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
    sizes[dim] = b.getIndexAttr(width);
    SmallVector<OpFoldResult> ones(type.getRank(), b.getIndexAttr(1));
    SmallVector<int64_t> shape(type.getShape());
    shape[dim] = width;
    return tensor::ExtractSliceOp::create(
        b, loc, tensor(shape, type.getElementType()), x, offsets, sizes, ones);
  }

  /// The last `count` rows of `rows` along dimension 1 (static sizes).
  Value lastRows(Value rows, int64_t count) {
    int64_t total = cast<RankedTensorType>(rows.getType()).getDimSize(1);
    return sliceAlong(rows, 1, total - count, count);
  }

  /// [B, 1, G·d] → [B, G, 1, d] (reshapes only: the token axis has size 1).
  Value tokenHeads(Value x, int64_t groups) {
    Location loc = here;
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, tensor({kDynamic, groups * spec.headDim}, f32()), x,
        SmallVector<ReassociationIndices>{{0}, {1, 2}});
    return tensor::ExpandShapeOp::create(
        b, loc, tensor({kDynamic, groups, 1, spec.headDim}, f32()), flat,
        SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
  }

  /// The attention of one decode step: the new token's keys and values join
  /// the cache (returned as results), q attends over all of them.
  Value decodeAttention(int64_t layer, Value q, Value k, Value v, Value wo,
                        Value bo, IntegerAttr windowAttr) {
    Location loc = here;
    int64_t kvHeads = spec.numKvHeads, headDim = spec.headDim;
    auto cacheType = tensor({kDynamic, kvHeads, kDynamic, headDim}, f32());
    Value kCache = cache(layer, CacheKind::Keys, cacheType);
    Value vCache = cache(layer, CacheKind::Values, cacheType);
    Value qHeads = tokenHeads(q, spec.numHeads);
    Value kHeads = tokenHeads(k, kvHeads);
    Value qRot = RopeOp::create(b, loc, qHeads.getType(), qHeads, cos, sin);
    Value kRot = RopeOp::create(b, loc, kHeads.getType(), kHeads, cos, sin);
    Value keys = appendRow(kCache, kRot, 2);
    Value values = appendRow(vCache, tokenHeads(v, kvHeads), 2);
    keys = tensor::CastOp::create(b, loc, cacheType, keys);
    values = tensor::CastOp::create(b, loc, cacheType, values);
    cacheResult(layer, CacheKind::Keys, keys);
    cacheResult(layer, CacheKind::Values, values);
    Value attn = AttentionOp::create(b, loc, qRot.getType(), qRot, keys, values,
                                     mask, windowAttr, attentionScale());
    Value flat = tensor::CollapseShapeOp::create(
        b, loc, tensor({kDynamic, spec.numHeads * headDim}, f32()), attn,
        SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
    Value merged = tensor::ExpandShapeOp::create(
        b, loc, activation(spec.numHeads * headDim), flat,
        SmallVector<ReassociationIndices>{{0}, {1, 2}});
    return LinearOp::create(b, loc, activation(spec.hiddenSize), merged, wo, bo,
                            b.getUnitAttr());
  }

  /// The linear branch of one decode step, after o_proj.
  Value decodeLinear(int64_t layer, Value q, Value k, Value v, Value wo,
                     Value bo) {
    Location loc = here;
    int64_t kvWidth = spec.numKvHeads * spec.headDim, headDim = spec.headDim;
    Value state = cache(layer, CacheKind::State,
                        tensor({kDynamic, spec.numHeads, headDim, headDim},
                               branchOptions().computeType()));
    auto rowsType = tensor({kDynamic, window - 1, kvWidth}, f32());
    Value kRows = cache(layer, CacheKind::KeyWindow, rowsType);
    Value vRows = cache(layer, CacheKind::ValueWindow, rowsType);
    Value kWindow = appendRow(kRows, k, 1);
    Value vWindow = appendRow(vRows, v, 1);
    LinearStep step = buildLinearStep(b, loc, branchOptions(), q, kWindow,
                                      vWindow, windowMask, state, position);
    cacheResult(layer, CacheKind::State, step.state);
    cacheResult(layer, CacheKind::KeyWindow, lastRows(kWindow, window - 1));
    cacheResult(layer, CacheKind::ValueWindow, lastRows(vWindow, window - 1));
    return LinearOp::create(b, loc, activation(spec.hiddenSize), step.merged,
                            wo, bo, b.getUnitAttr());
  }

  /// Layer `layer` as a call of a private function of its own (identical
  /// ones are merged afterwards, see mergeIdenticalLayers): the weights and
  /// caches it asks for become arguments of both the entry point and the
  /// layer function.
  Value decoderLayer(int64_t layer, Value x) {
    ModuleScope scope(*this, "model.layers." + std::to_string(layer));
    Location loc = here;
    std::string name = (decoding     ? "decode_layer_"
                        : prefilling ? "prefill_layer_"
                        : training   ? "train_layer_"
                                     : "layer_") +
                       std::to_string(layer);
    auto layerFunction =
        func::FuncOp::create(loc, name, b.getFunctionType({}, {}));
    layerFunction.setPrivate();
    module.push_back(layerFunction);
    Block *body = layerFunction.addEntryBlock();
    OpBuilder::InsertPoint entryPoint = b.saveInsertionPoint();
    SmallVector<Value> callOperands;
    // A sliding layer of a backbone with a local RoPE reads its tables.
    Value globalCos = cos, globalSin = sin;
    if (spec.slidingRope && spec.windowLayers[layer]) {
      cos = localCos;
      sin = localSin;
    }
    SmallVector<Value *> shared = {&x,    &cos,         &sin,
                                   &mask, &windowMask,  &position,
                                   &mu,   &dropoutSeed, &dropoutRate};
    SmallVector<Value> saved;
    for (Value *value : shared) {
      saved.push_back(*value);
      if (!*value)
        continue;
      // Each layer draws its dropout masks from seed + layer.
      callOperands.push_back(
          value == &dropoutSeed
              ? arith::AddIOp::create(
                    b, loc, dropoutSeed,
                    arith::ConstantOp::create(
                        b, loc,
                        DenseElementsAttr::get(tensor({}, i64()),
                                               b.getI64IntegerAttr(layer))))
                    .getResult()
              : *value);
      *value = body->addArgument(value->getType(), loc);
    }
    dropoutSites = 0;
    layerBlock = body;
    layerOperands = &callOperands;
    size_t firstCache = cacheResults.size();
    b.setInsertionPointToStart(body);
    Value out = layerBody(layer, x);
    layerBlock = nullptr;
    for (auto [value, old] : llvm::zip(shared, saved))
      *value = old;
    cos = globalCos;
    sin = globalSin;
    if (!out)
      return Value();
    SmallVector<Value> results = {out};
    for (size_t i = firstCache; i < cacheResults.size(); ++i)
      results.push_back(cacheResults[i].second);
    func::ReturnOp::create(b, loc, results);
    layerFunction.setType(b.getFunctionType(body->getArgumentTypes(),
                                            ValueRange(results).getTypes()));
    b.restoreInsertionPoint(entryPoint);
    auto call = func::CallOp::create(b, loc, layerFunction, callOperands);
    for (size_t i = firstCache; i < cacheResults.size(); ++i)
      cacheResults[i].second = call.getResult(1 + i - firstCache);
    return call.getResult(0);
  }

  /// The attention of a prefill: both branches as in the full forward, with
  /// the caches a decode step continues from as results — the keys after
  /// RoPE and the values, and on LiZA layers the final linear state and the
  /// raw k/v rows of the last W − 1 tokens.
  /// `qSoft` and `kSoft` are what the softmax branch reads (q and k after
  /// q_norm and k_norm, when the backbone has them).
  Value prefillAttention(int64_t layer, Value q, Value k, Value v, Value qSoft,
                         Value kSoft, Value wo, Value bo,
                         IntegerAttr windowAttr, bool liza) {
    Location loc = here;
    Value keys, values;
    Value merged = buildSoftmaxBranch(
        b, loc, qSoft, kSoft, v, cos, sin, spec.numHeads, spec.numKvHeads, mask,
        windowAttr, attentionScale(), &keys, &values);
    cacheResult(layer, CacheKind::Keys, keys);
    cacheResult(layer, CacheKind::Values, values);
    auto out = activation(spec.hiddenSize);
    Value soft = LinearOp::create(b, loc, out, merged, wo, bo, b.getUnitAttr());
    if (!liza)
      return soft;
    Value state;
    Value lin =
        buildLinearBranch(b, loc, branchOptions(), q, k, v, mask, &state);
    lin = LinearOp::create(b, loc, out, lin, wo, bo, b.getUnitAttr());
    cacheResult(layer, CacheKind::State, state);
    cacheResult(layer, CacheKind::KeyWindow, lastRowsOf(k, window - 1));
    cacheResult(layer, CacheKind::ValueWindow, lastRowsOf(v, window - 1));
    return MagMixOp::create(b, loc, out, soft, lin, mu,
                            spec.crossGate ? b.getUnitAttr() : UnitAttr(),
                            spec.baseScaleAttn ? b.getUnitAttr() : UnitAttr(),
                            b.getF64FloatAttr(1e-5));
  }

  /// The last `count` rows of `rows` [B, S, F] (S dynamic) as [B, count, F];
  /// rows before the sequence are zero (a decode step's window mask never
  /// reads them).
  Value lastRowsOf(Value rows, int64_t count) {
    Location loc = here;
    auto type = cast<RankedTensorType>(rows.getType());
    Type elementType = type.getElementType();
    SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, rows);
    Value seq = tensor::DimOp::create(b, loc, rows, 1);
    SmallVector<OpFoldResult> paddedSizes = sizes;
    paddedSizes[1] =
        arith::AddIOp::create(b, loc, seq,
                              arith::ConstantIndexOp::create(b, loc, count))
            .getResult();
    Value zero =
        arith::ConstantOp::create(b, loc, b.getFloatAttr(elementType, 0.0));
    Value padded =
        linalg::FillOp::create(b, loc, ValueRange{zero},
                               ValueRange{tensor::EmptyOp::create(
                                   b, loc, paddedSizes, elementType)})
            .getResult(0);
    SmallVector<OpFoldResult> ones(3, b.getIndexAttr(1));
    SmallVector<OpFoldResult> at = {b.getIndexAttr(0), b.getIndexAttr(count),
                                    b.getIndexAttr(0)};
    padded =
        tensor::InsertSliceOp::create(b, loc, rows, padded, at, sizes, ones);
    SmallVector<OpFoldResult> last = {b.getIndexAttr(0), seq,
                                      b.getIndexAttr(0)};
    SmallVector<OpFoldResult> lastSizes = sizes;
    lastSizes[1] = b.getIndexAttr(count);
    return tensor::ExtractSliceOp::create(
        b, loc, tensor({kDynamic, count, type.getDimSize(2)}, elementType),
        padded, last, lastSizes, ones);
  }

  Value layerBody(int64_t layer, Value x) {
    std::string p = "model.layers." + std::to_string(layer) + ".";
    int64_t hidden = spec.hiddenSize, headDim = spec.headDim;
    int64_t qWidth = spec.numHeads * headDim,
            kvWidth = spec.numKvHeads * headDim;
    Value h = rmsNorm(p + "input_layernorm", x);
    if (!h)
      return Value();
    Value q, k, v;
    if (spec.fusedProjections) {
      // Phi-3: one projection, its output split as [q; k; v].
      Value qkv = projection(p + "self_attn.qkv_proj", h, qWidth + 2 * kvWidth,
                             hidden, /*bias=*/false);
      if (qkv) {
        q = sliceAlong(qkv, 2, 0, qWidth);
        k = sliceAlong(qkv, 2, qWidth, kvWidth);
        v = sliceAlong(qkv, 2, qWidth + kvWidth, kvWidth);
      }
    } else {
      q = projection(p + "self_attn.q_proj", h, qWidth, hidden, spec.qkvBias);
      k = q ? projection(p + "self_attn.k_proj", h, kvWidth, hidden,
                         spec.qkvBias)
            : Value();
      v = k ? projection(p + "self_attn.v_proj", h, kvWidth, hidden,
                         spec.qkvBias)
            : Value();
    }
    // The softmax attention reads q and k after q_norm and k_norm (Qwen3);
    // LiZA's linear branch the raw projections.
    Value qSoft = q, kSoft = k;
    if (v && spec.qkNorm) {
      qSoft = headNorm(p + "self_attn.q_norm", q, spec.numHeads);
      kSoft = qSoft ? headNorm(p + "self_attn.k_norm", k, spec.numKvHeads)
                    : Value();
    }
    Value wo = kSoft ? weight(p + "self_attn.o_proj.weight", {hidden, qWidth},
                              /*transposed=*/true)
                     : Value();
    Value bo = wo && spec.oBias ? weight(p + "self_attn.o_proj.bias", {hidden})
                                : Value();
    if (!wo || (spec.oBias && !bo))
      return Value();
    std::optional<ModuleScope> scope(std::in_place, *this, p + "self_attn");
    // Both branches share o_proj. Without dropout its adapter joins the
    // weight itself, Woᵀ + (lora_alpha / r) · Aᵀ Bᵀ; with dropout each
    // branch's input draws its own mask, as two calls of a PEFT layer do.
    std::optional<std::pair<Value, Value>> oAdapter =
        loraAdapter(p + "self_attn.o_proj", hidden, qWidth);
    if (oAdapter && !dropoutSeed) {
      wo = widened(wo);
      Value delta =
          LinearOp::create(b, here, wo.getType(), oAdapter->first,
                           oAdapter->second, Value(), UnitAttr(), loraScale());
      wo = arith::AddFOp::create(b, here, wo, delta);
      oAdapter.reset();
    }
    auto outputProjection = [&](Value merged) {
      Value y = LinearOp::create(b, here, x.getType(), merged, wo, bo,
                                 b.getUnitAttr());
      return withAdapter(merged, y, oAdapter);
    };
    std::optional<int64_t> attentionWindow = spec.attentionWindow(layer);
    IntegerAttr windowAttr =
        attentionWindow ? b.getI64IntegerAttr(*attentionWindow) : IntegerAttr();
    bool liza = spec.lizaLayers[layer];
    Value attn;
    if (decoding) {
      attn = decodeAttention(layer, qSoft, kSoft, v, wo, bo, windowAttr);
      if (liza) {
        Value lin = decodeLinear(layer, q, k, v, wo, bo);
        attn =
            MagMixOp::create(b, here, attn.getType(), attn, lin, mu,
                             spec.crossGate ? b.getUnitAttr() : UnitAttr(),
                             spec.baseScaleAttn ? b.getUnitAttr() : UnitAttr(),
                             b.getF64FloatAttr(1e-5));
      }
    } else if (prefilling) {
      attn = prefillAttention(layer, q, k, v, qSoft, kSoft, wo, bo, windowAttr,
                              liza);
    } else if (liza && (oAdapter || spec.qkNorm || spec.attentionScale)) {
      // tptt.liza_attention reads one q and k in both branches and scales
      // the softmax by 1/√d: with q/k norms, another scale, or an o_proj
      // adapter with dropout, the branches are built apart.
      Value soft = outputProjection(buildSoftmaxBranch(
          b, here, qSoft, kSoft, v, cos, sin, spec.numHeads, spec.numKvHeads,
          mask, windowAttr, attentionScale()));
      Value lin = outputProjection(
          buildLinearBranch(b, here, branchOptions(), q, k, v, mask));
      attn = MagMixOp::create(b, here, x.getType(), soft, lin, mu,
                              spec.crossGate ? b.getUnitAttr() : UnitAttr(),
                              spec.baseScaleAttn ? b.getUnitAttr() : UnitAttr(),
                              b.getF64FloatAttr(1e-5));
    } else if (liza) {
      attn = buildLizaAttention(b, here, x.getType(), branchOptions(), q, k, v,
                                cos, sin, mu, wo, bo, mask, spec.crossGate,
                                spec.baseScaleAttn, windowAttr,
                                /*transposedOWeight=*/true);
    } else {
      attn = outputProjection(buildSoftmaxBranch(
          b, here, qSoft, kSoft, v, cos, sin, spec.numHeads, spec.numKvHeads,
          mask, windowAttr, attentionScale()));
    }
    scope.reset();
    // Gemma normalizes the attention's output before the residual, and the
    // MLP's input and output with norms of their own; Llama has one norm
    // (post_attention_layernorm) before the MLP.
    if (spec.sandwichNorms)
      attn = rmsNorm(p + "post_attention_layernorm", attn);
    if (!attn)
      return Value();
    x = arith::AddFOp::create(b, here, x, attn);
    h = rmsNorm(p + (spec.sandwichNorms ? "pre_feedforward_layernorm"
                                        : "post_attention_layernorm"),
                x);
    if (!h)
      return Value();
    int64_t inter = spec.intermediateSize;
    Value gate, up;
    if (spec.fusedProjections) {
      // Phi-3: one projection, its output split as [gate; up].
      Value gateUp =
          projection(p + "mlp.gate_up_proj", h, 2 * inter, hidden, false);
      if (gateUp) {
        gate = sliceAlong(gateUp, 2, 0, inter);
        up = sliceAlong(gateUp, 2, inter, inter);
      }
    } else {
      gate = projection(p + "mlp.gate_proj", h, inter, hidden, false);
      up = gate ? projection(p + "mlp.up_proj", h, inter, hidden, false)
                : Value();
    }
    if (!up)
      return Value();
    Value act = GluOp::create(
        b, NameLoc::get(b.getStringAttr(p + "mlp.act_fn")), gate, up,
        spec.activation == "gelu_pytorch_tanh" ? Activation::GeluTanh
                                               : Activation::Silu);
    Value down = projection(p + "mlp.down_proj", act, hidden, inter, false);
    if (down && spec.sandwichNorms)
      down = rmsNorm(p + "post_feedforward_layernorm", down);
    if (!down)
      return Value();
    return arith::AddFOp::create(b, here, x, down);
  }

  OpBuilder b;
  ModuleOp module;
  const ModelSpec &spec;
  const WeightShapeLookup &lookup;
  std::string &error;
  WeightLayout layout;
  const TrainingOptions *training;
  func::FuncOp function;
  Block *entry = nullptr;
  /// While a layer function is built: its block, and the entry values its
  /// call passes.
  Block *layerBlock = nullptr;
  SmallVector<Value> *layerOperands = nullptr;
  EntryPoint signature;
  bool decoding = false;
  bool prefilling = false;
  int64_t window = 0;
  Value mask, windowMask, position, mu, cos, sin;
  /// The RoPE tables of the sliding layers when the backbone gives them a
  /// RoPE of their own (null otherwise).
  Value localCos, localSin;
  /// The LoRA dropout's seed and rate (null without dropout), and the
  /// number of dropout sites of the layer being built: the `stream` of the
  /// next one.
  Value dropoutSeed, dropoutRate;
  int64_t dropoutSites = 0;
  std::vector<std::pair<std::string, Value>> cacheResults;
  /// The location of the ops being built (see ModuleScope).
  Location here;
};

/// Widens every use of a bf16 weight to f32 with an arith.extf of its own,
/// next to the op that reads it, so that elementwise fusion moves each into
/// the loop that reads the weight (the weight is never materialized in
/// f32). Calls (and tptt.value_and_grad) pass the weight on as it is;
/// tptt.embedding reads its table in any float type.
void widenWeightUses(ModuleOp module) {
  OpBuilder b(module.getContext());
  module.walk([&](func::FuncOp function) {
    if (function.isExternal())
      return;
    for (BlockArgument argument : function.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(argument.getType());
      if (!type || !type.getElementType().isBF16())
        continue;
      auto wide = RankedTensorType::get(type.getShape(), b.getF32Type());
      for (OpOperand &use : llvm::make_early_inc_range(argument.getUses())) {
        Operation *user = use.getOwner();
        if (isa<func::CallOp, ValueAndGradOp, EmbeddingOp, arith::ExtFOp>(user))
          continue;
        b.setInsertionPoint(user);
        use.set(arith::ExtFOp::create(b, argument.getLoc(), wide, argument));
      }
    }
  });
}

/// Keeps one of every set of layer functions with the same body (layers of
/// the same kind differ only in the weights they are given), so that the
/// code is compiled once per kind of layer rather than once per layer.
void mergeIdenticalLayers(ModuleOp module) {
  std::map<std::string, func::FuncOp> kept;
  SmallVector<func::FuncOp> duplicates;
  for (func::FuncOp function : module.getOps<func::FuncOp>()) {
    if (!function.isPrivate())
      continue;
    // The body printed without the function's own name, nor the locations
    // (which name the layer), whatever the printing options are.
    std::string text;
    llvm::raw_string_ostream os(text);
    std::string name = function.getSymName().str();
    function.setSymName("layer");
    function->print(os,
                    OpPrintingFlags().useLocalScope().enableDebugInfo(false));
    function.setSymName(name);
    auto [it, inserted] = kept.try_emplace(text, function);
    if (inserted)
      continue;
    if (failed(SymbolTable::replaceAllSymbolUses(
            function, it->second.getSymNameAttr(), module)))
      continue;
    duplicates.push_back(function);
  }
  for (func::FuncOp function : duplicates)
    function.erase();
}

/// @tptt_train_step: the arguments of @tptt_loss, then the optimizer's
/// hyper-parameters [lr, β1, β2, ε, weight_decay, 1 − β1ᵗ, 1 − β2ᵗ], the
/// clipping norm (+inf: none) and both AdamW moments of every trainable
/// tensor. Returns the loss, the gradient's global norm (before clipping),
/// and the new trainable tensors and moments.
void buildTrainStep(ModuleOp module, func::FuncOp loss,
                    const EntryPoint &lossEntry) {
  MLIRContext *ctx = module.getContext();
  OpBuilder b(ctx);
  Location loc = NameLoc::get(b.getStringAttr("optimizer"));
  auto scalar = RankedTensorType::get({}, b.getF32Type());
  EntryPoint entry{Entry::TrainStep, lossEntry.arguments, {}};
  SmallVector<Type> inputs(loss.getArgumentTypes());
  SmallVector<int64_t> wrt;
  for (auto [index, argument] : llvm::enumerate(lossEntry.arguments))
    if (argument.trainable)
      wrt.push_back(index);
  auto addInput = [&](EntryValue value, Type type) {
    entry.arguments.push_back(std::move(value));
    inputs.push_back(type);
  };
  auto hyperType = RankedTensorType::get({7}, b.getF32Type());
  addInput(describe(value::kOptimizerHyper, Role::Input, hyperType), hyperType);
  addInput(describe(value::kMaxGradNorm, Role::Input, scalar), scalar);
  for (auto moment : {firstMomentName, secondMomentName})
    for (int64_t index : wrt) {
      const EntryValue &param = lossEntry.arguments[index];
      EntryValue value = describe(moment(param.name), Role::Optimizer,
                                  cast<RankedTensorType>(inputs[index]));
      value.source = param.name;
      addInput(value, inputs[index]);
    }

  auto fn = func::FuncOp::create(loc, entryName(Entry::TrainStep),
                                 b.getFunctionType(inputs, {}));
  module.push_back(fn);
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  size_t numLossArgs = loss.getNumArguments(), count = wrt.size();
  SmallVector<Type> gradTypes = {scalar};
  for (int64_t index : wrt)
    gradTypes.push_back(inputs[index]);
  auto valueAndGrad =
      ValueAndGradOp::create(b, loc, gradTypes, loss.getSymName(),
                             body->getArguments().take_front(numLossArgs), wrt);
  Value hyper = body->getArgument(numLossArgs);
  Value maxNorm = body->getArgument(numLossArgs + 1);

  // Global-norm clipping: g ← g · min(1, max_norm / (‖g‖ + 1e-6)).
  auto constant = [&](double value) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(scalar, b.getF32FloatAttr(value)));
  };
  Value sum = constant(0.0);
  for (Value grad : valueAndGrad.getResults().drop_front())
    sum = arith::AddFOp::create(b, loc, sum,
                                SumSquaresOp::create(b, loc, scalar, grad));
  Value norm = math::SqrtOp::create(b, loc, sum);
  Value ratio = arith::DivFOp::create(
      b, loc, maxNorm, arith::AddFOp::create(b, loc, norm, constant(1e-6)));
  Value clip = arith::MinimumFOp::create(b, loc, constant(1.0), ratio);

  std::vector<std::pair<std::string, Value>> results = {
      {value::kLoss, valueAndGrad.getResult(0)}, {value::kGradNorm, norm}};
  SmallVector<Value> newMoments(2 * count);
  for (auto [i, index] : llvm::enumerate(wrt)) {
    Value param = body->getArgument(index);
    auto update = AdamWOp::create(
        b, loc, TypeRange{param.getType(), param.getType(), param.getType()},
        param, valueAndGrad.getResult(1 + i),
        body->getArgument(numLossArgs + 2 + i),
        body->getArgument(numLossArgs + 2 + count + i), hyper, clip);
    results.push_back({lossEntry.arguments[index].name, update.getNewParam()});
    newMoments[i] = update.getNewM();
    newMoments[count + i] = update.getNewV();
  }
  for (size_t i = 0; i < 2 * count; ++i)
    results.push_back(
        {entry.arguments[numLossArgs + 2 + i].name, newMoments[i]});

  SmallVector<Value> values;
  for (const auto &[name, value] : results) {
    values.push_back(value);
    entry.results.push_back(
        describe(name, Role::Result, cast<RankedTensorType>(value.getType())));
  }
  func::ReturnOp::create(b, loc, values);
  fn.setType(b.getFunctionType(inputs, ValueRange(values).getTypes()));
  annotateSignature(fn, entry);
}

} // namespace

namespace tptt {
namespace model {

OwningOpRef<ModuleOp> importModel(MLIRContext &context, const ModelSpec &spec,
                                  const WeightShapeLookup &lookup,
                                  std::string &error,
                                  const TrainingOptions *training,
                                  WeightType weights) {
  context.loadDialect<TpttDialect, arith::ArithDialect, func::FuncDialect,
                      linalg::LinalgDialect, math::MathDialect,
                      tensor::TensorDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  WeightLayout layout{weights, training};
  if (!EntryBuilder(*module, spec, lookup, error, layout)
           .buildFullSequence(false))
    return nullptr;
  if (spec.semantics == "recurrent" && !spec.bidirectional) {
    if (!EntryBuilder(*module, spec, lookup, error, layout)
             .buildFullSequence(true) ||
        !EntryBuilder(*module, spec, lookup, error, layout).buildDecodeStep())
      return nullptr;
  }
  if (training) {
    std::optional<EntryPoint> loss =
        EntryBuilder(*module, spec, lookup, error, layout, training)
            .buildLoss();
    if (!loss)
      return nullptr;
    auto lossFunction =
        module->lookupSymbol<func::FuncOp>(entryName(Entry::Loss));
    buildTrainStep(*module, lossFunction, *loss);
  }
  widenWeightUses(*module);
  mergeIdenticalLayers(*module);
  if (failed(verify(*module))) {
    error = "internal error: the imported module does not verify";
    return nullptr;
  }
  return module;
}

std::vector<EntryPoint> entryPoints(ModuleOp module) {
  std::vector<EntryPoint> entries;
  auto text = [](DictionaryAttr attrs, StringRef name) -> std::string {
    auto value = attrs ? attrs.getAs<StringAttr>(name) : StringAttr();
    return value ? value.str() : std::string();
  };
  for (Entry which : kEntries) {
    auto function = module.lookupSymbol<func::FuncOp>(entryName(which));
    if (!function)
      continue;
    EntryPoint &point = entries.emplace_back();
    point.entry = which;
    for (auto [index, type] : llvm::enumerate(function.getArgumentTypes())) {
      DictionaryAttr attrs = function.getArgAttrDict(index);
      EntryValue value =
          describe(text(attrs, kNameAttr),
                   roleNamed(text(attrs, kRoleAttr)).value_or(Role::Input),
                   cast<RankedTensorType>(type));
      value.source = text(attrs, kSourceAttr);
      if (value.source.empty() &&
          (value.role == Role::Weight || value.role == Role::Adapter))
        value.source = value.name;
      value.transposed = attrs && attrs.get(kTransposedAttr);
      value.trainable = attrs && attrs.get(kTrainableAttr);
      point.arguments.push_back(std::move(value));
    }
    for (auto [index, type] : llvm::enumerate(function.getResultTypes()))
      point.results.push_back(
          describe(text(function.getResultAttrDict(index), kNameAttr),
                   Role::Result, cast<RankedTensorType>(type)));
  }
  return entries;
}

} // namespace model
} // namespace tptt

//===- ModelInterfaceTest.cpp - The compiled model's interface ------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
//===----------------------------------------------------------------------===//

#include "tptt/Interface/ModelInterface.h"

#include <gtest/gtest.h>

using namespace tptt::interface;
using json = nlohmann::json;

namespace {

EntryValue value(const std::string &name, Role role, std::vector<int64_t> shape,
                 const std::string &dtype) {
  EntryValue v;
  v.name = name;
  v.role = role;
  v.shape = std::move(shape);
  v.dtype = dtype;
  return v;
}

/// A model with every optional part: CUDA code, an adapter, LoRA training
/// and all five entry points.
ModelInterface fullModel() {
  ModelInterface m;
  m.architecture = "LlamaForCausalLM";
  m.numLayers = 2;
  m.hiddenSize = 16;
  m.numHeads = 2;
  m.numKvHeads = 1;
  m.headDim = 8;
  m.vocabSize = 24;
  m.maxPositions = 64;
  m.lizaLayers = {0, 1};
  m.operatorMode = "delta_product";
  m.order = 2;
  m.alphaGate = "c";
  m.betaGate = "k";
  m.trick = "dt";
  m.semantics = "recurrent";
  m.magWeight = 0.5;
  m.maxSelfAttnLength = 32;
  m.bosTokenId = 1;
  m.eosTokenIds = {2, 3};
  m.config = {{"model_type", "llama"}};
  m.target = "cuda";
  m.cuda = CudaCode{"sm_90", "+ptx80", "fatbin"};
  m.weightsLocation = "embedded";
  m.weightType = WeightType::BF16;
  m.adapter = "adapter (4 LoRA pairs, merged)";
  m.tokenizer = true;
  m.parameters = 1234;
  EntryValue head = value("lm_head.weight", Role::Weight, {16, 24}, "bf16");
  head.source = "model.embed_tokens.weight";
  head.transposed = true;
  m.weights = {head};
  m.training = Training{Trainable::Lora, LoraTraining{4, 8.0, 0.1, {"q_proj"}}};
  EntryValue adapter =
      value("base_model.model.q.lora_A.weight", Role::Adapter, {16, 4}, "f32");
  adapter.source = adapter.name;
  adapter.transposed = true;
  adapter.trainable = true;
  EntryValue moment =
      value(firstMomentName(adapter.name), Role::Optimizer, {16, 4}, "f32");
  moment.source = adapter.name;
  for (Entry entry : kEntries) {
    EntryPoint point;
    point.entry = entry;
    point.arguments = {value(value::kTokens, Role::Input, {-1, -1}, "i64"),
                       head};
    if (entry == Entry::DecodeStep)
      point.arguments.push_back(value(cacheName(0, CacheKind::State),
                                      Role::Cache, {-1, 2, 8, 8}, "f64"));
    if (entry == Entry::TrainStep)
      point.arguments.insert(point.arguments.end(), {adapter, moment});
    point.results = {value(value::kLogits, Role::Result, {-1, -1, 24}, "f32")};
    m.entries.push_back(point);
  }
  m.windowRows = 3;
  m.cacheRows = 32;
  return m;
}

TEST(ModelInterfaceTest, ManifestRoundTripsThroughJson) {
  ModelInterface m = fullModel();
  json manifest = m.toJson();
  std::string error;
  std::optional<ModelInterface> read =
      ModelInterface::fromJson(manifest, error);
  ASSERT_TRUE(read) << error;
  EXPECT_EQ(read->toJson(), manifest);
  ASSERT_EQ(read->entries.size(), 5u);
  const EntryPoint *step = read->entryPoint(Entry::TrainStep);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->arguments, m.entryPoint(Entry::TrainStep)->arguments);
  EXPECT_EQ(read->weights, m.weights);
  ASSERT_TRUE(read->training && read->training->lora);
  EXPECT_EQ(read->training->lora->targetModules,
            std::vector<std::string>{"q_proj"});
  EXPECT_EQ(read->cuda->ptxFeatures, "+ptx80");
  EXPECT_EQ(*read->adapter, *m.adapter);
  EXPECT_EQ(read->weightType, WeightType::BF16);
}

TEST(ModelInterfaceTest, AMinimalModelHasNoOptionalParts) {
  ModelInterface m = fullModel();
  m.cuda.reset();
  m.adapter.reset();
  m.training.reset();
  m.maxSelfAttnLength.reset();
  m.bosTokenId.reset();
  m.entries.resize(1);
  std::string error;
  std::optional<ModelInterface> read =
      ModelInterface::fromJson(m.toJson(), error);
  ASSERT_TRUE(read) << error;
  EXPECT_FALSE(read->cuda || read->adapter || read->training ||
               read->maxSelfAttnLength || read->bosTokenId);
  EXPECT_TRUE(read->entryPoint(Entry::Logits));
  EXPECT_FALSE(read->entryPoint(Entry::DecodeStep));
}

TEST(ModelInterfaceTest, CorruptManifestsNameTheKey) {
  json manifest = fullModel().toJson();
  auto errorOf = [&](const std::function<void(json &)> &corrupt) {
    json copy = manifest;
    corrupt(copy);
    std::string error;
    EXPECT_FALSE(ModelInterface::fromJson(copy, error));
    return error;
  };
  EXPECT_EQ(errorOf([](json &m) { m.erase("vocab_size"); }),
            "the manifest's 'vocab_size' is missing");
  EXPECT_EQ(errorOf([](json &m) { m["order"] = "2"; }),
            "the manifest's 'order' is not an integer");
  EXPECT_EQ(errorOf([](json &m) { m["weight_type"] = "f8"; }),
            "the manifest's 'weight_type' has the unknown value 'f8'");
  EXPECT_EQ(errorOf([](json &m) {
              m["entries"]["tptt_logits"]["arguments"][1]["kind"] = "x";
            }),
            "the manifest's 'entries.tptt_logits.arguments[1].kind' has the "
            "unknown value 'x'");
  EXPECT_EQ(errorOf([](json &m) { m["entries"]["tptt_other"] = json(); }),
            "the manifest's 'entries.tptt_other' is not an entry point");
  EXPECT_EQ(errorOf([](json &m) { m["weights"] = json::array(); }),
            "the manifest's 'entries.tptt_logits' takes the weight "
            "'lm_head.weight', which 'weights' does not list");
  EXPECT_EQ(errorOf([](json &m) { m["training"]["lora"].erase("r"); }),
            "the manifest's 'training.lora.r' is missing");
  std::string error;
  EXPECT_FALSE(ModelInterface::fromJson(json::array(), error));
  EXPECT_EQ(error, "the manifest is not a JSON object");
}

TEST(ModelInterfaceTest, NamesRoundTrip) {
  for (Entry entry : kEntries)
    EXPECT_EQ(entryNamed(entryName(entry)), entry);
  EXPECT_EQ(entryName(Entry::DecodeStep), std::string("tptt_decode_step"));
  EXPECT_FALSE(entryNamed("tptt_decode"));
  for (Trainable trainable :
       {Trainable::Lora, Trainable::LoraMinus, Trainable::Full})
    EXPECT_EQ(trainableNamed(trainableName(trainable)), trainable);
  EXPECT_EQ(trainableNamed("lora-minus"), Trainable::LoraMinus);
  EXPECT_FALSE(trainableNamed("lora_minus"));
  EXPECT_EQ(weightTypeNamed("bf16"), WeightType::BF16);
  EXPECT_FALSE(weightTypeNamed("f16"));
  EXPECT_EQ(roleNamed("optimizer"), Role::Optimizer);
}

TEST(ModelInterfaceTest, CacheNamesSayTheirKind) {
  EXPECT_EQ(cacheName(3, CacheKind::Keys), "layers.3.k");
  EXPECT_EQ(cacheName(12, CacheKind::ValueWindow), "layers.12.v_window");
  for (CacheKind kind : {CacheKind::Keys, CacheKind::Values, CacheKind::State,
                         CacheKind::KeyWindow, CacheKind::ValueWindow})
    EXPECT_EQ(cacheKindOf(cacheName(7, kind)), kind);
  for (const char *name : {"layers..k", "layers.x.k", "layers.1.q",
                           "model.layers.1.k", "layers.1", "logits"})
    EXPECT_FALSE(cacheKindOf(name)) << name;
  EXPECT_EQ(firstMomentName("w"), "adam.m.w");
  EXPECT_EQ(secondMomentName("w"), "adam.v.w");
}

} // namespace

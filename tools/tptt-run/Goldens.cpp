//===- Goldens.cpp - Run a directory of golden cases ----------------------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// Each case is a safetensors file whose `case` metadata (JSON) names its
// kind and parameters (see shared/goldens/README.md). The case's function is
// built with the tptt ops (the linear branch with the same builder as the
// compiler), compiled through the CPU pipeline and compared with the
// expected tensors.
//
//===----------------------------------------------------------------------===//

#include "Goldens.h"
#include "Runner.h"

#include "tptt/Compiler/Compiler.h"
#include "tptt/Runtime/ModuleLibrary.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "tptt/Dialect/Tptt/IR/TpttOps.h"
#include "tptt/Dialect/Tptt/Transforms/LizaBuilders.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <type_traits>

using namespace mlir;
using namespace mlir::tptt;
using namespace tpttrun;
using json = nlohmann::json;

namespace {

/// The parameter `key` of the JSON object `object` as a T (bool, int64_t,
/// double, std::string or a json object), or `fallback` when it is absent
/// and one is given. A missing or mistyped parameter is reported in `why`
/// (the first problem wins) and gives T(): nlohmann's own typed getters
/// abort on a mismatch when built without exceptions.
template <typename T>
T param(const json &object, const char *key, std::string &why,
        std::optional<T> fallback = std::nullopt) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (fallback)
      return *fallback;
    if (why.empty())
      why = "missing parameter '" + std::string(key) + "'";
    return T();
  }
  bool fits;
  const char *expected;
  if constexpr (std::is_same_v<T, bool>) {
    fits = it->is_boolean();
    expected = "a boolean";
  } else if constexpr (std::is_same_v<T, int64_t>) {
    fits = it->is_number_integer();
    expected = "an integer";
  } else if constexpr (std::is_same_v<T, double>) {
    fits = it->is_number();
    expected = "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    fits = it->is_string();
    expected = "a string";
  } else {
    static_assert(std::is_same_v<T, json>, "unsupported parameter type");
    fits = it->is_object();
    expected = "an object";
  }
  if (!fits) {
    if (why.empty())
      why = "parameter '" + std::string(key) + "' is " + it->dump() + ", not " +
            expected;
    return T();
  }
  return it->template get<T>();
}

/// Whether every one of `values` is positive; otherwise reports `what`.
bool positive(std::initializer_list<int64_t> values, const char *what,
              std::string &why) {
  for (int64_t value : values)
    if (value <= 0) {
      if (why.empty())
        why = std::string(what) + " must be positive";
      return false;
    }
  return true;
}

/// Whether `view` has rank `rank`; otherwise reports it.
bool hasRank(const ::tptt::safetensors::TensorView &view, size_t rank,
             std::string &why) {
  if (view.shape.size() == rank)
    return true;
  if (why.empty())
    why = "tensor '" + view.name + "' must have rank " + std::to_string(rank) +
          ", not " + std::to_string(view.shape.size());
  return false;
}

/// A golden case turned into a function, its inputs and its expectations.
struct BuiltCase {
  OwningOpRef<ModuleOp> module;
  FunctionType type;
  std::vector<Tensor> inputs;
  /// The case tensor each input comes from.
  std::vector<std::string> inputNames;
  /// The expected tensors, in result order.
  std::vector<const ::tptt::safetensors::TensorView *> expected;
  /// When set, only positions [b, s] with a nonzero mask are compared (the
  /// recurrent semantics leaves padded outputs unspecified).
  const ::tptt::safetensors::TensorView *compareMask = nullptr;
};

/// Builds the function of one case: `body` receives the arguments (one per
/// input, in order) and returns the results.
class CaseBuilder {
public:
  CaseBuilder(MLIRContext &context, FloatType precision)
      : precision(precision), context(context), builder(&context) {}

  /// Adds an input: the tensor converted to the case precision, or to i1
  /// when `asMask`.
  void input(const ::tptt::safetensors::TensorView &view, bool asMask = false) {
    built.inputNames.push_back(view.name);
    if (asMask) {
      Tensor mask = Tensor::zeros(view.shape, "i1");
      for (int64_t i = 0; i < view.numElements(); ++i)
        mask.bytes[i] = view.elementAsDouble(i) != 0.0;
      built.inputs.push_back(std::move(mask));
      return;
    }
    built.inputs.push_back(convertTensor(view, precision));
  }

  /// Adds an input already in host memory, made from the case tensor
  /// `name`.
  void input(const std::string &name, Tensor tensor) {
    built.inputNames.push_back(name);
    built.inputs.push_back(std::move(tensor));
  }

  void expect(const ::tptt::safetensors::TensorView *view) {
    built.expected.push_back(view);
  }

  BuiltCase finish(const std::function<SmallVector<Value>(OpBuilder &, Location,
                                                          ValueRange)> &body) {
    Location loc = UnknownLoc::get(&context);
    built.module = ModuleOp::create(loc);
    builder.setInsertionPointToEnd(built.module->getBody());
    SmallVector<Type> argTypes;
    for (const Tensor &tensor : built.inputs)
      argTypes.push_back(RankedTensorType::get(
          tensor.shape, elementTypeOf(tensor.dtype, &context)));
    auto func = func::FuncOp::create(builder, loc, "golden",
                                     builder.getFunctionType(argTypes, {}));
    Block *entry = func.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    SmallVector<Value> results = body(builder, loc, entry->getArguments());
    func::ReturnOp::create(builder, loc, results);
    built.type =
        builder.getFunctionType(argTypes, ValueRange(results).getTypes());
    func.setType(built.type);
    return std::move(built);
  }

  FloatType precision;

  RankedTensorType tensorType(llvm::ArrayRef<int64_t> shape) const {
    return RankedTensorType::get(shape, precision);
  }

private:
  MLIRContext &context;
  OpBuilder builder;
  BuiltCase built;
};

/// Slot `slot` of dimension 2 of a [B, H, n, d, d] tensor, in `precision`.
Tensor sliceSlot(const ::tptt::safetensors::TensorView &view, int64_t slot,
                 FloatType precision) {
  int64_t batchHeads = view.shape[0] * view.shape[1];
  int64_t slots = view.shape[2], block = view.shape[3] * view.shape[4];
  Tensor all = convertTensor(view, precision);
  size_t width = Tensor::width(all.dtype);
  Tensor slice{{view.shape[0], view.shape[1], view.shape[3], view.shape[4]},
               all.dtype,
               {},
               nullptr};
  for (int64_t bh = 0; bh < batchHeads; ++bh) {
    const uint8_t *from = all.data() + ((bh * slots + slot) * block) * width;
    slice.bytes.insert(slice.bytes.end(), from, from + block * width);
  }
  return slice;
}

/// Looks up a tensor of the case or reports it missing.
const ::tptt::safetensors::TensorView *
require(const ::tptt::safetensors::File &file, llvm::StringRef name,
        std::string &why) {
  const ::tptt::safetensors::TensorView *view = file.find(name.str());
  if (!view && why.empty())
    why = "missing tensor '" + name.str() + "'";
  return view;
}

/// Builds the case described by `params` (checked to be a JSON object) on
/// the tensors of `file`, or reports in `why` what is wrong with it. The
/// checks here are those the builders rely on; everything else about the
/// shapes is left to the op verifiers.
std::optional<BuiltCase> buildCase(MLIRContext &context,
                                   const ::tptt::safetensors::File &file,
                                   const json &params, FloatType precision,
                                   std::string &why) {
  CaseBuilder cb(context, precision);
  std::string kind = param<std::string>(params, "kind", why);
  if (!why.empty())
    return std::nullopt;
  auto dims = [](const ::tptt::safetensors::TensorView *v) { return v->shape; };

  if (kind == "operator" || kind == "recurrent_operator") {
    bool reference = kind == "operator";
    const auto *q = require(file, "q", why), *k = require(file, "k", why),
               *v = require(file, "v", why),
               *alpha = require(file, "alpha", why),
               *beta = require(file, "beta", why),
               *out = require(file, "out", why),
               *state = require(file, "final_state", why);
    bool nonlinear = !param<bool>(params, "linear", why);
    int64_t chunk = param<int64_t>(params, "max_chunk_size", why);
    if (!why.empty() || !hasRank(*k, 5, why) ||
        !positive({chunk}, "max_chunk_size", why))
      return std::nullopt;
    const auto *init = file.find("initial_state");
    int64_t order = k->shape[3];
    // The reference's state has one slot per virtual token; the last one
    // carries over.
    if (init && reference &&
        (!hasRank(*init, 5, why) || init->shape[2] != order)) {
      if (why.empty())
        why = "'initial_state' must have " + std::to_string(order) +
              " slots (the order of 'k')";
      return std::nullopt;
    }
    for (const auto *view : {q, k, v, beta, alpha})
      cb.input(*view);
    if (init) {
      if (reference)
        cb.input(init->name, sliceSlot(*init, order - 1, precision));
      else
        cb.input(*init);
    }
    cb.expect(out);
    cb.expect(state);
    auto outShape = dims(out), stateShape = dims(state);
    return cb.finish([&](OpBuilder &b, Location loc, ValueRange args) {
      auto op = DeltaProductOp::create(
          b, loc, cb.tensorType(outShape), cb.tensorType(stateShape), args[0],
          args[1], args[2], args[3], args[4], init ? args[5] : Value(), Value(),
          SemanticsAttr::get(b.getContext(), reference ? Semantics::Tptt012
                                                       : Semantics::Recurrent),
          b.getI64IntegerAttr(chunk), nonlinear ? b.getUnitAttr() : UnitAttr(),
          UnitAttr());
      return SmallVector<Value>{op.getOutput(), op.getFinalState()};
    });
  }

  if (kind == "expander") {
    const auto *x = require(file, "x", why), *out = require(file, "out", why);
    int64_t order = param<int64_t>(params, "n", why);
    std::string mode = param<std::string>(params, "mode", why);
    if (!why.empty())
      return std::nullopt;
    std::optional<Trick> trick = symbolizeTrick(mode);
    if (!trick) {
      why = "unknown expander mode '" + mode + "'";
      return std::nullopt;
    }
    cb.input(*x);
    cb.expect(out);
    auto outShape = dims(out);
    return cb.finish([&](OpBuilder &b, Location loc, ValueRange args) {
      Value e = VirtualTokenExpandOp::create(
          b, loc, cb.tensorType(outShape), args[0], Value(), Value(),
          b.getI64IntegerAttr(order), TrickAttr::get(b.getContext(), *trick));
      return SmallVector<Value>{e};
    });
  }

  if (kind == "pool" || kind == "unlinear" || kind == "solver") {
    const char *inName = kind == "solver" ? "L" : "x";
    const char *outName = kind == "solver" ? "T" : "out";
    const auto *x = require(file, inName, why),
               *out = require(file, outName, why);
    int64_t width =
        kind == "pool" ? param<int64_t>(params, "kernel", why) : int64_t(0);
    double scale =
        kind == "unlinear" ? param<double>(params, "scale", why, 2.0) : 2.0;
    if (!why.empty())
      return std::nullopt;
    if (scale != 2.0) {
      why = "tptt.phi has scale 2; the case asks for " +
            params.find("scale")->dump();
      return std::nullopt;
    }
    cb.input(*x);
    cb.expect(out);
    auto type = cb.tensorType(dims(x));
    return cb.finish([&](OpBuilder &b, Location loc, ValueRange args) {
      Value r;
      if (kind == "pool")
        r = CausalMeanOp::create(b, loc, type, args[0], Value(), Value(),
                                 b.getI64IntegerAttr(width));
      else if (kind == "unlinear")
        r = PhiOp::create(b, loc, type, args[0]);
      else
        r = TrilInverseOp::create(b, loc, type, args[0]);
      return SmallVector<Value>{r};
    });
  }

  if (kind == "linear_attention") {
    const char *names[] = {"x",
                           "param.q_proj.weight",
                           "param.q_proj.bias",
                           "param.k_proj.weight",
                           "param.k_proj.bias",
                           "param.v_proj.weight",
                           "param.v_proj.bias",
                           "param.out_proj.weight",
                           "param.out_proj.bias",
                           "out"};
    std::vector<const ::tptt::safetensors::TensorView *> views;
    for (const char *name : names)
      views.push_back(require(file, name, why));
    const auto *mask = file.find("attention_mask");
    json config = param<json>(params, "recurrent_config", why);
    LinearBranchOptions options;
    options.numHeads = param<int64_t>(params, "heads", why);
    options.numKvHeads = param<int64_t>(params, "kv_heads", why);
    options.chunkSize = param<int64_t>(params, "max_chunk_size", why);
    options.bidirectional = param<bool>(params, "bidirectional", why);
    std::string semantics =
        param<std::string>(params, "semantics", why, std::string("tptt-0.12"));
    options.order = param<int64_t>(config, "order", why);
    options.nonlinear = !param<bool>(config, "linear", why);
    std::string trick = param<std::string>(config, "trick", why),
                alphaGate = param<std::string>(config, "alpha_gate", why),
                betaGate = param<std::string>(config, "beta_gate", why);
    if (!why.empty() ||
        !positive({options.numHeads, options.numKvHeads, options.order,
                   options.chunkSize},
                  "heads, kv_heads, order and max_chunk_size", why))
      return std::nullopt;
    // The projections and the branch builder index these ranks.
    for (size_t i = 0; i + 1 < views.size(); ++i)
      if (!hasRank(*views[i], i == 0 ? 3 : (i % 2 ? 2 : 1), why))
        return std::nullopt;
    if (mask && !hasRank(*mask, 2, why))
      return std::nullopt;
    std::optional<Trick> trickKind = symbolizeTrick(trick);
    std::optional<GateKind> alphaKind = symbolizeGateKind(alphaGate);
    std::optional<GateKind> betaKind = symbolizeGateKind(betaGate);
    std::optional<Semantics> semanticsKind = symbolizeSemantics(semantics);
    if (!trickKind || !alphaKind || !betaKind || !semanticsKind) {
      why = "unknown trick, gate or semantics in " + params.dump();
      return std::nullopt;
    }
    options.trick = *trickKind;
    options.alphaGate = *alphaKind;
    options.betaGate = *betaKind;
    options.semantics = *semanticsKind;
    options.linearType = precision;
    for (size_t i = 0; i + 1 < views.size(); ++i)
      cb.input(*views[i]);
    if (mask)
      cb.input(*mask, /*asMask=*/true);
    cb.expect(views.back());
    BuiltCase built =
        cb.finish([&](OpBuilder &b, Location loc, ValueRange args) {
          auto project = [&](Value x, Value weight, Value bias) -> Value {
            auto xType = cast<RankedTensorType>(x.getType());
            auto wType = cast<RankedTensorType>(weight.getType());
            auto type = RankedTensorType::get(
                {xType.getDimSize(0), xType.getDimSize(1), wType.getDimSize(0)},
                precision);
            return LinearOp::create(b, loc, type, x, weight, bias);
          };
          Value q = project(args[0], args[1], args[2]);
          Value k = project(args[0], args[3], args[4]);
          Value v = project(args[0], args[5], args[6]);
          Value merged = buildLinearBranch(b, loc, options, q, k, v,
                                           mask ? args[9] : Value());
          return SmallVector<Value>{project(merged, args[7], args[8])};
        });
    if (mask && options.semantics == Semantics::Recurrent)
      built.compareMask = mask;
    return built;
  }

  why = "unknown golden kind '" + kind + "'";
  return std::nullopt;
}

/// The case files of `directory`: index.json's order when present (`listed`
/// is then true), else every *.safetensors in name order.
std::vector<std::string> caseFiles(const std::string &directory, bool &listed,
                                   std::string &error) {
  std::vector<std::string> files;
  std::string index = directory + "/index.json";
  std::ifstream in(index);
  listed = static_cast<bool>(in);
  if (listed) {
    std::stringstream text;
    text << in.rdbuf();
    json parsed = json::parse(text.str(), nullptr, false);
    auto cases = parsed.is_object() ? parsed.find("cases") : parsed.end();
    if (cases == parsed.end() || !cases->is_array()) {
      error = index + ": not a golden index (expected {\"cases\": [...]})";
      return {};
    }
    for (const json &entry : *cases) {
      std::string name = entry.is_object()
                             ? param<std::string>(entry, "name", error)
                             : std::string();
      if (name.empty()) {
        error = index + ": every case needs a \"name\": " + entry.dump();
        return {};
      }
      files.push_back(directory + "/" + name + ".safetensors");
    }
    return files;
  }
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(directory, ec), end;
       it != end && !ec; it.increment(ec))
    if (llvm::sys::path::extension(it->path()) == ".safetensors")
      files.push_back(it->path());
  if (ec) {
    error = directory + ": " + ec.message();
    return {};
  }
  std::sort(files.begin(), files.end());
  return files;
}

/// Runs the case of `file` (its `case` metadata parsed as `params`) and
/// returns the largest relative error over its expected tensors, or
/// INFINITY with the reason in `why`.
double runCase(MLIRContext &context, const ::tptt::safetensors::File &file,
               const json &params, FloatType precision, int64_t numThreads,
               TpttTarget target, std::string &why) {
  // The diagnostics of a malformed case or a failed lowering become its
  // reason, on its one line.
  std::string diagnostic;
  ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error && diagnostic.empty())
      diagnostic = diag.str();
    return success();
  });
  std::optional<BuiltCase> built =
      buildCase(context, file, params, precision, why);
  if (!built)
    return INFINITY;
  // A malformed case builds invalid IR: report it, do not compile it.
  if (failed(verify(built->module.get()))) {
    why = "the case's tensors do not fit its kind: " + diagnostic;
    return INFINITY;
  }
  // The cases are small: O2 (which vectorizes too) compiles them faster.
  auto runner =
      Runner::compile(built->module.get(), numThreads, /*optLevel=*/2, target);
  if (!runner) {
    why = llvm::toString(runner.takeError());
    if (!diagnostic.empty())
      why += ": " + diagnostic;
    return INFINITY;
  }
  auto results = (*runner)->call("golden", built->type, built->inputs);
  if (!results) {
    why = llvm::toString(results.takeError());
    return INFINITY;
  }
  double worst = 0.0;
  for (auto [got, expected] : llvm::zip(*results, built->expected))
    worst = std::max(worst, ::tptt::runtime::relativeError(
                                got, *expected, built->compareMask, why));
  return worst;
}

/// A case file: opened, its `case` metadata parsed. `skip` when the file is
/// not a golden case (no metadata, no index listing it).
struct CaseFile {
  std::string name;
  std::unique_ptr<::tptt::safetensors::File> file;
  json params;
  bool skip = false;
  std::string why;
};

CaseFile openCase(const std::string &path, bool listed) {
  CaseFile opened;
  opened.name = llvm::sys::path::stem(path).str();
  opened.file = ::tptt::safetensors::File::open(path, opened.why);
  if (!opened.file)
    return opened;
  auto caseText = opened.file->metadata().find("case");
  // Without an index, a file without a `case` is not a golden case (model
  // weights, say); one the index lists is a broken case.
  if (caseText == opened.file->metadata().end()) {
    if (!listed) {
      llvm::errs() << "tptt-run: note: " << path
                   << ": no `case` metadata, not a golden case; skipped\n";
      opened.skip = true;
    }
    opened.why = "no `case` metadata";
    return opened;
  }
  opened.params = json::parse(caseText->second, nullptr, false);
  if (!opened.params.is_object())
    opened.why = "the `case` metadata is not a JSON object";
  return opened;
}

/// A case of the ahead-of-time mode: its function in the module library.
struct CompiledCase {
  CaseFile source;
  std::optional<BuiltCase> built;
  std::string function;
};

/// The function name of case `index` called `name`: a C identifier.
std::string functionName(const std::string &name) {
  std::string function = "golden_";
  for (char c : name)
    function += llvm::isAlnum(c) ? c : '_';
  return function;
}

/// Writes `tensors` to `path`; false with `why` on failure.
bool writeTensors(const std::string &path,
                  std::vector<::tptt::safetensors::OwnedTensor> tensors,
                  std::string &why) {
  return ::tptt::safetensors::write(path, tensors, {}, why);
}

/// Writes the inputs and expected results of `compiled` into `directory`
/// and runs it with tptt-run-module; the largest relative error, or
/// INFINITY with `why`.
double runCompiledCase(const CompiledCase &compiled,
                       const std::string &directory, const std::string &library,
                       double tolerance, const std::string &device, bool run,
                       json &listing, std::string &why) {
  const BuiltCase &built = *compiled.built;
  std::string inputs =
      directory + "/" + compiled.source.name + ".inputs.safetensors";
  std::string expected =
      directory + "/" + compiled.source.name + ".expected.safetensors";
  std::vector<::tptt::safetensors::OwnedTensor> inputTensors, expectedTensors;
  std::string mask;
  for (auto [index, input] : llvm::enumerate(built.inputs)) {
    std::string name = "arg" + std::to_string(index);
    if (built.compareMask && built.inputNames[index] == built.compareMask->name)
      mask = name;
    inputTensors.push_back({name,
                            *::tptt::runtime::safetensorsDtype(input.dtype),
                            input.shape, input.bytes});
  }
  for (auto [index, view] : llvm::enumerate(built.expected))
    expectedTensors.push_back({"result" + std::to_string(index),
                               view->dtype,
                               view->shape,
                               {view->data, view->data + view->bytes}});
  if (!writeTensors(inputs, std::move(inputTensors), why) ||
      !writeTensors(expected, std::move(expectedTensors), why))
    return INFINITY;
  json entry = {{"name", compiled.source.name},
                {"function", compiled.function},
                {"inputs", llvm::sys::path::filename(inputs).str()},
                {"expected", llvm::sys::path::filename(expected).str()},
                {"tolerance", tolerance}};
  if (!mask.empty())
    entry["mask"] = mask;
  listing.push_back(entry);
  if (!run)
    return 0.0;

  std::string self = llvm::sys::fs::getMainExecutable(nullptr, nullptr);
  llvm::SmallString<256> runner(llvm::sys::path::parent_path(self));
  llvm::sys::path::append(runner, "tptt-run-module");
  std::string toleranceText = llvm::formatv("{0:e}", tolerance).str();
  llvm::SmallVector<llvm::StringRef> args = {
      runner,     library,      "--function", compiled.function, "--inputs",
      inputs,     "--expected", expected,     "--tolerance",     toleranceText,
      "--device", device,       "--json"};
  if (!mask.empty())
    args.append({"--mask", mask});
  std::string out = directory + "/" + compiled.source.name + ".out";
  std::string err = directory + "/" + compiled.source.name + ".err";
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(out), llvm::StringRef(err)};
  std::string message;
  int status = llvm::sys::ExecuteAndWait(runner, args, std::nullopt, redirects,
                                         0, 0, &message);
  auto read = [](const std::string &path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  std::string output = read(out), errors = read(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  if (status != 0 && status != 1) {
    why = !errors.empty() ? llvm::StringRef(errors).rtrim().str()
                          : runner.str().str() + " failed" +
                                (message.empty() ? "" : ": " + message);
    return INFINITY;
  }
  json report = json::parse(output, nullptr, false);
  auto worst =
      report.is_object() ? report.find("max_relative_error") : report.end();
  if (worst == report.end() || !worst->is_number()) {
    why = "tptt-run-module printed no comparison: " + output;
    return INFINITY;
  }
  return worst->get<double>();
}

/// The ahead-of-time mode: every case a function of one module library,
/// compiled with the compile session, each run by tptt-run-module.
int runGoldensAot(const std::vector<std::string> &paths, bool listed,
                  const GoldenOptions &options) {
  ::tptt::compiler::CompileOptions compileOptions;
  compileOptions.target = options.target;
  compileOptions.numThreads = options.numThreads;
  llvm::SmallString<256> directory(options.aotDir);
  bool temporary = directory.empty();
  std::error_code ec =
      temporary
          ? llvm::sys::fs::createUniqueDirectory("tptt-goldens", directory)
          : llvm::sys::fs::create_directories(directory);
  if (ec) {
    llvm::errs() << "tptt-run: error: " << directory << ": " << ec.message()
                 << "\n";
    return 2;
  }
  std::string library = (directory + "/goldens.so").str();
  compileOptions.outputPath = library;
  ::tptt::compiler::Session session(compileOptions);
  MLIRContext &context = session.getContext();
  FloatType precision = options.precision == "f32"
                            ? FloatType(Float32Type::get(&context))
                            : FloatType(Float64Type::get(&context));
  double tolerance = options.precision == "f32" ? 1e-5 : 1e-10;

  // Build every case; the good ones go into one module.
  std::vector<CompiledCase> cases;
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&context));
  for (const std::string &path : paths) {
    CompiledCase compiled{openCase(path, listed), std::nullopt, ""};
    if (compiled.source.skip)
      continue;
    if (compiled.source.why.empty()) {
      std::string diagnostic;
      ScopedDiagnosticHandler capture(&context, [&](Diagnostic &diag) {
        if (diag.getSeverity() == DiagnosticSeverity::Error &&
            diagnostic.empty())
          diagnostic = diag.str();
        return success();
      });
      compiled.built =
          buildCase(context, *compiled.source.file, compiled.source.params,
                    precision, compiled.source.why);
      if (compiled.built && failed(verify(compiled.built->module.get()))) {
        compiled.source.why =
            "the case's tensors do not fit its kind: " + diagnostic;
        compiled.built.reset();
      }
    }
    if (compiled.built) {
      compiled.function = functionName(compiled.source.name);
      auto function = *compiled.built->module->getOps<func::FuncOp>().begin();
      auto copy = cast<func::FuncOp>(function->clone());
      copy.setName(compiled.function);
      module->getBody()->push_back(copy);
    }
    cases.push_back(std::move(compiled));
  }
  if (cases.empty()) {
    llvm::errs() << "tptt-run: error: no golden cases (safetensors files with "
                    "a `case` metadata; subdirectories are not searched)\n";
    return 2;
  }
  std::string compileError;
  if (!module->getBody()->empty()) {
    llvm::errs() << "tptt-run: compiling "
                 << module->getBody()->getOperations().size()
                 << " cases ahead of time into " << library << "\n";
    if (llvm::Error error =
            ::tptt::compiler::compileModule(session, std::move(module)))
      compileError = "the module library did not compile: " +
                     llvm::toString(std::move(error));
  }

  int passed = 0, failed = 0;
  json listing = json::array();
  std::string device = options.target == TpttTarget::CUDA ? "cuda" : "cpu";
  for (CompiledCase &compiled : cases) {
    std::string why = compiled.source.why;
    double worst = INFINITY;
    if (compiled.built && compileError.empty())
      worst =
          runCompiledCase(compiled, directory.str().str(), library, tolerance,
                          device, !options.compileOnly, listing, why);
    else if (why.empty())
      why = compileError;
    if (options.compileOnly && why.empty())
      continue;
    bool ok = why.empty() && worst <= tolerance;
    (ok ? passed : failed)++;
    llvm::outs() << (ok ? "PASS " : "FAIL ") << compiled.source.name << " "
                 << llvm::format("%.3g", worst) << "\n";
    llvm::outs().flush();
    if (!why.empty())
      llvm::errs() << "tptt-run: " << compiled.source.name << ": " << why
                   << "\n";
  }
  if (!temporary) {
    std::ofstream out((directory + "/cases.json").str());
    out << json{{"library", "goldens.so"},
                {"precision", options.precision},
                {"cases", listing}}
               .dump(1)
        << "\n";
    if (!out)
      failed++;
  } else {
    llvm::sys::fs::remove_directories(directory);
  }
  if (options.compileOnly) {
    llvm::outs() << listing.size() << " cases compiled into " << library << ", "
                 << failed << " failed\n";
    return failed ? 1 : 0;
  }
  llvm::outs() << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

} // namespace

int tpttrun::runGoldens(MLIRContext &context, const std::string &directory,
                        const GoldenOptions &options) {
  std::string error;
  bool listed = false;
  std::vector<std::string> files = caseFiles(directory, listed, error);
  if (!error.empty()) {
    llvm::errs() << "tptt-run: error: " << error << "\n";
    return 2;
  }
  if (options.aot)
    return runGoldensAot(files, listed, options);
  FloatType precision = options.precision == "f32"
                            ? FloatType(Float32Type::get(&context))
                            : FloatType(Float64Type::get(&context));
  double tolerance = options.precision == "f32" ? 1e-5 : 1e-10;
  int passed = 0, failed = 0;
  for (const std::string &path : files) {
    CaseFile opened = openCase(path, listed);
    if (opened.skip)
      continue;
    std::string why = opened.why;
    double worst = INFINITY;
    if (why.empty())
      worst = runCase(context, *opened.file, opened.params, precision,
                      options.numThreads, options.target, why);
    bool ok = why.empty() && worst <= tolerance;
    (ok ? passed : failed)++;
    llvm::outs() << (ok ? "PASS " : "FAIL ") << opened.name << " "
                 << llvm::format("%.3g", worst) << "\n";
    llvm::outs().flush();
    if (!why.empty())
      llvm::errs() << "tptt-run: " << opened.name << ": " << why << "\n";
  }
  if (passed + failed == 0) {
    llvm::errs() << "tptt-run: error: " << directory
                 << ": no golden cases (safetensors files with a `case` "
                    "metadata; subdirectories are not searched)\n";
    return 2;
  }
  llvm::outs() << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

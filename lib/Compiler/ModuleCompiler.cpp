//===- ModuleCompiler.cpp - A module of functions becomes a library -------===//
//
// Part of the tptt project: an MLIR compiler for TPTT models.
//
// `tptt-compile f.mlir -o f.so`: the public functions of a module of
// tptt/linalg/func ops on ranked tensors, compiled ahead of time into a
// module library (Runtime/ModuleLibrary.h) whose manifest types them.
//
//===----------------------------------------------------------------------===//

#include "tptt/Compiler/Compiler.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinTypes.h"

using namespace tptt::compiler;
using tptt::runtime::ModuleManifest;
using tptt::runtime::TensorSignature;

namespace {

/// The runtime's dtype of an MLIR element type, if it has one.
std::optional<std::string> dtypeOf(mlir::Type type) {
  if (type.isF64())
    return "f64";
  if (type.isF32())
    return "f32";
  if (type.isF16())
    return "f16";
  if (type.isBF16())
    return "bf16";
  for (auto [width, name] : {std::pair<unsigned, const char *>{64, "i64"},
                             {32, "i32"},
                             {8, "i8"},
                             {1, "i1"}})
    if (type.isSignlessInteger(width))
      return std::string(name);
  return std::nullopt;
}

constexpr llvm::StringLiteral kNameAttr = "tptt.name";

} // namespace

llvm::Expected<ModuleManifest>
tptt::compiler::describeFunctions(mlir::ModuleOp module,
                                  mlir::tptt::TpttTarget target) {
  ModuleManifest manifest;
  manifest.devices = {"cpu"};
  if (target == mlir::tptt::TpttTarget::CUDA)
    manifest.devices.insert(manifest.devices.begin(), "cuda");
  for (auto function : module.getOps<mlir::func::FuncOp>()) {
    if (function.isDeclaration() || !function.isPublic())
      continue;
    runtime::FunctionSignature signature{function.getName().str(), {}, {}};
    mlir::FunctionType type = function.getFunctionType();
    for (bool result : {false, true}) {
      llvm::ArrayRef<mlir::Type> types =
          result ? type.getResults() : type.getInputs();
      for (auto [index, t] : llvm::enumerate(types)) {
        auto tensor = llvm::dyn_cast<mlir::RankedTensorType>(t);
        std::optional<std::string> dtype =
            tensor ? dtypeOf(tensor.getElementType()) : std::nullopt;
        std::string what = result ? "result" : "argument";
        if (!dtype) {
          std::string text;
          llvm::raw_string_ostream os(text);
          os << t;
          return llvm::createStringError(
              llvm::inconvertibleErrorCode(),
              "@" + signature.name + ": " + what + " #" +
                  std::to_string(index) + " is " + text +
                  "; a compiled function takes and returns ranked tensors of "
                  "f64, f32, f16, bf16, i64, i32, i8 or i1");
        }
        auto name =
            result
                ? function.getResultAttrOfType<mlir::StringAttr>(index,
                                                                 kNameAttr)
                : function.getArgAttrOfType<mlir::StringAttr>(index, kNameAttr);
        TensorSignature tensorSignature{name ? name.str()
                                             : (result ? "result" : "arg") +
                                                   std::to_string(index),
                                        *dtype,
                                        {}};
        for (int64_t size : tensor.getShape())
          tensorSignature.shape.push_back(
              mlir::ShapedType::isDynamic(size) ? runtime::kDynamicSize : size);
        (result ? signature.results : signature.arguments)
            .push_back(std::move(tensorSignature));
      }
    }
    manifest.functions.push_back(std::move(signature));
  }
  if (manifest.functions.empty())
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the module has no public function to "
                                   "compile");
  return manifest;
}

llvm::Error
tptt::compiler::compileModule(Session &session,
                              mlir::OwningOpRef<mlir::ModuleOp> module) {
  const CompileOptions &options = session.getOptions();
  llvm::Expected<ModuleManifest> manifest =
      describeFunctions(*module, options.target);
  if (!manifest)
    return manifest.takeError();
  // The names are the manifest's; the LLVM translation does not know the
  // attribute.
  auto nameAttr = mlir::StringAttr::get(&session.getContext(), kNameAttr);
  std::vector<std::string> entries;
  for (auto function : module->getOps<mlir::func::FuncOp>()) {
    for (unsigned i = 0; i < function.getNumArguments(); ++i)
      function.removeArgAttr(i, nameAttr);
    for (unsigned i = 0; i < function.getNumResults(); ++i)
      function.removeResultAttr(i, nameAttr);
  }
  for (const runtime::FunctionSignature &function : manifest->functions)
    entries.push_back(function.name);
  llvm::Expected<Session::Lowered> lowered =
      session.lower(std::move(module), entries);
  if (!lowered)
    return lowered.takeError();
  if (lowered->stopped)
    return llvm::Error::success();
  return session.emit(*lowered, {{"tptt_module_manifest", manifest->toJson()}},
                      target::LinkKind::ModuleLibrary, options.outputPath);
}

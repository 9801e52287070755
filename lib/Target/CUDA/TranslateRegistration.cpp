//===- TranslateRegistration.cpp - The CUDA target's translations ---------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The translations of a module prepared by dlm-prepare-for-cuda, registered
// for mlir-translate-style drivers (dlm-translate), as upstream registers
// its targets' (mlir/lib/Target/Cpp/TranslateRegistration.cpp):
//
//   --dlm-to-cuda     kernels.cu
//   --dlm-to-plan     plan.json
//   --dlm-to-params   params.json
//   --dlm-to-bundle --bundle-dir=DIR [--bundle-source=F.dlm]
//                     [--bundle-param-order=P]
//                     writes the bundle to DIR and prints its manifest.json;
//                     P is `dlmc --list-params` output
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;

static void registerDialects(DialectRegistry &registry) {
  registry.insert<mlir::dlm::DLMDialect, func::FuncDialect>();
}

/// The module a translation was given: the top-level op.
static FailureOr<ModuleOp> getModule(Operation *op) {
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    return op->emitError("expected a builtin.module");
  return module;
}

/// Registers a translation that prints one JSON file of the bundle of the
/// module.
static void
registerBundleFile(StringRef name, StringRef description,
                   llvm::json::Value (*get)(const ::dlm::Bundle &)) {
  TranslateFromMLIRRegistration registration(
      name, description,
      [get](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        if (failed(module))
          return failure();
        FailureOr<::dlm::Bundle> bundle = mlir::dlm::buildBundle(*module);
        if (failed(bundle))
          return failure();
        ::dlm::printBundleJSON(get(*bundle), os);
        return success();
      },
      registerDialects);
}

void mlir::dlm::registerToCUDATranslations() {
  static llvm::cl::opt<std::string> bundleDir(
      "bundle-dir", llvm::cl::desc("The directory --dlm-to-bundle writes"),
      llvm::cl::value_desc("dir"));
  static llvm::cl::opt<std::string> bundleSource(
      "bundle-source",
      llvm::cl::desc("The .dlm file --dlm-to-bundle records in manifest.json"),
      llvm::cl::value_desc("file"));
  static llvm::cl::opt<std::string> bundleParamOrder(
      "bundle-param-order",
      llvm::cl::desc("`dlmc --list-params` output: the order of params.json"),
      llvm::cl::value_desc("file"));

  TranslateFromMLIRRegistration cuda(
      "dlm-to-cuda", "kernels.cu of a module prepared for CUDA",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        return failed(module) ? failure() : emitCUDA(*module, os);
      },
      registerDialects);
  registerBundleFile("dlm-to-plan", "plan.json of a module prepared for CUDA",
                     ::dlm::getPlanJSON);
  registerBundleFile("dlm-to-params",
                     "params.json of a module prepared for CUDA",
                     ::dlm::getParamsJSON);
  TranslateFromMLIRRegistration bundle(
      "dlm-to-bundle",
      "write the bundle of a module prepared for CUDA to --bundle-dir and "
      "print its manifest.json",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        if (failed(module))
          return failure();
        if (bundleDir.empty())
          return op->emitError("--dlm-to-bundle needs --bundle-dir=DIR");
        BundleOptions options;
        if (!bundleSource.empty()) {
          auto source = llvm::MemoryBuffer::getFile(bundleSource);
          if (!source)
            return op->emitError("cannot read ") << bundleSource;
          options.sourcePath = bundleSource;
          options.sourceText = (*source)->getBuffer().str();
        }
        if (!bundleParamOrder.empty()) {
          auto order = llvm::MemoryBuffer::getFile(bundleParamOrder);
          if (!order)
            return op->emitError("cannot read ") << bundleParamOrder;
          SmallVector<StringRef> lines;
          (*order)->getBuffer().split(lines, '\n', -1, /*KeepEmpty=*/false);
          for (StringRef line : lines)
            options.paramOrder.push_back(line.split(' ').first.str());
        }
        FailureOr<::dlm::Bundle> bundle = buildBundle(*module, options);
        if (failed(bundle))
          return failure();
        if (llvm::Error error = ::dlm::writeBundle(
                *bundle, bundleDir,
                [&](const llvm::Twine &message) { op->emitWarning(message); }))
          return op->emitError(llvm::toString(std::move(error)));
        ::dlm::printBundleJSON(::dlm::getManifestJSON(*bundle), os);
        return success();
      },
      registerDialects);
}

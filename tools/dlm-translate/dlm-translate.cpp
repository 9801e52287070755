//===- dlm-translate.cpp - mlir-translate with the dlm CUDA target --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The tool the CUDA target's lit tests drive, on .mlir files that
// dlm-prepare-for-cuda has prepared:
//
//   dlm-translate --dlm-to-cuda   file.mlir   kernels.cu
//   dlm-translate --dlm-to-plan   file.mlir   plan.json
//   dlm-translate --dlm-to-params file.mlir   params.json
//   dlm-translate --dlm-to-bundle --bundle-dir=DIR [--bundle-source=F.dlm]
//                 [--bundle-param-order=P]    writes the bundle to DIR and
//                 file.mlir                   prints its manifest.json; P is
//                                             `dlmc --list-params` output
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"
#include "mlir/Tools/mlir-translate/Translation.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;

static llvm::cl::opt<std::string>
    bundleDir("bundle-dir",
              llvm::cl::desc("The directory --dlm-to-bundle writes"),
              llvm::cl::value_desc("dir"));

static llvm::cl::opt<std::string> bundleSource(
    "bundle-source",
    llvm::cl::desc("The .dlm file --dlm-to-bundle records in manifest.json"),
    llvm::cl::value_desc("file"));

static llvm::cl::opt<std::string> bundleParamOrder(
    "bundle-param-order",
    llvm::cl::desc("`dlmc --list-params` output: the order of params.json"),
    llvm::cl::value_desc("file"));

static void registerDialects(DialectRegistry &registry) {
  registry.insert<dlm::DLMDialect, func::FuncDialect>();
}

/// The module a translation was given: the top-level op.
static FailureOr<ModuleOp> getModule(Operation *op) {
  auto module = dyn_cast<ModuleOp>(op);
  if (!module)
    return op->emitError("expected a builtin.module");
  return module;
}

static LogicalResult printJSON(FailureOr<llvm::json::Value> value,
                               raw_ostream &os) {
  if (failed(value))
    return failure();
  dlm::printBundleJSON(*value, os);
  return success();
}

int main(int argc, char **argv) {
  TranslateFromMLIRRegistration cuda(
      "dlm-to-cuda", "kernels.cu of a module prepared for CUDA",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        return failed(module) ? failure() : dlm::emitCUDA(*module, os);
      },
      registerDialects);
  TranslateFromMLIRRegistration plan(
      "dlm-to-plan", "plan.json of a module prepared for CUDA",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        return failed(module) ? failure()
                              : printJSON(dlm::buildPlan(*module), os);
      },
      registerDialects);
  TranslateFromMLIRRegistration params(
      "dlm-to-params", "params.json of a module prepared for CUDA",
      [](Operation *op, raw_ostream &os) -> LogicalResult {
        FailureOr<ModuleOp> module = getModule(op);
        return failed(module) ? failure()
                              : printJSON(dlm::buildParams(*module), os);
      },
      registerDialects);
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
        dlm::BundleOptions options;
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
        if (failed(dlm::writeBundle(*module, bundleDir, options)))
          return failure();
        SmallString<256> path(bundleDir);
        llvm::sys::path::append(path, "manifest.json");
        auto manifest = llvm::MemoryBuffer::getFile(path);
        if (!manifest)
          return op->emitError("cannot read back ") << path;
        os << (*manifest)->getBuffer();
        return success();
      },
      registerDialects);

  return failed(
      mlirTranslateMain(argc, argv, "dlm translation driver: the CUDA target"));
}

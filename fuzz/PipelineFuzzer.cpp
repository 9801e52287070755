//===- PipelineFuzzer.cpp - libFuzzer target for the whole compiler -------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every input that parses and elaborates goes on through the fusion
// pipeline, memory planning, dlm-prepare-for-cuda and the CUDA emitter, as
// `dlmc -o DIR` would take it, both with and without fusion. Besides crashes
// and sanitizer reports, it checks that a failing step says why (an error
// diagnostic) and that the emitted source is not empty.
//
//===----------------------------------------------------------------------===//

#include "FuzzContext.h"
#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/MLIRGen.h"
#include "dlm/Frontend/Parser.h"
#include "dlm/Target/CUDA/CUDAEmitter.h"
#include "dlm/Target/CUDA/Passes.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

namespace {
[[noreturn]] void fail(const char *what) {
  std::fprintf(stderr, "%s\n", what);
  std::abort();
}

/// Compiles `module` as dlmc does and emits its kernels.
void compile(mlir::ModuleOp module, bool fuse, unsigned &errors) {
  mlir::PassManager pm(module.getContext(), mlir::ModuleOp::getOperationName());
  if (fuse)
    mlir::dlm::buildFusionPipeline(pm);
  pm.addPass(mlir::dlm::createPrepareForCUDA());
  unsigned before = errors;
  if (mlir::failed(pm.run(module))) {
    if (errors == before)
      fail("the pipeline failed without an error diagnostic");
    return;
  }
  std::string source;
  llvm::raw_string_ostream os(source);
  if (mlir::failed(mlir::dlm::emitCUDA(module, os))) {
    if (errors == before)
      fail("the emitter failed without an error diagnostic");
    return;
  }
  if (source.empty())
    fail("the emitter produced nothing");
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext &context = dlm::getFuzzContext(2000);
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size),
          "fuzz.dlm"),
      llvm::SMLoc());
  unsigned errors = 0;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    if (diag.getSeverity() == mlir::DiagnosticSeverity::Error)
      ++errors;
    return mlir::success();
  });

  std::unique_ptr<dlm::FileAST> ast = dlm::parseFile(sourceMgr, &context);
  if (!ast)
    return 0;
  for (bool fuse : {true, false}) {
    mlir::OwningOpRef<mlir::ModuleOp> module =
        dlm::mlirGen(context, sourceMgr, *ast);
    if (!module)
      return 0;
    compile(*module, fuse, errors);
  }
  return 0;
}

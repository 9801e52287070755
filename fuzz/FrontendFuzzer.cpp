//===- FrontendFuzzer.cpp - libFuzzer target for the .dlm frontend --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Feeds arbitrary bytes through the whole frontend: lexer, parser,
// elaboration into the dlm dialect and the verifier. Besides crashes,
// sanitizer reports and hangs, it checks one property: a failure always comes
// with at least one error diagnostic, and a success is a verified module.
//
//===----------------------------------------------------------------------===//

#include "FuzzContext.h"
#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/MLIRGen.h"
#include "dlm/Frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext &context = dlm::getFuzzContext(5000);
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
    // Render the message as dlmc would, to exercise the printing paths.
    std::string text = diag.str();
    (void)text;
    return mlir::success();
  });

  std::unique_ptr<dlm::FileAST> ast = dlm::parseFile(sourceMgr, &context);
  if (!ast) {
    if (errors == 0) {
      std::fprintf(stderr, "parser failed without an error diagnostic\n");
      std::abort();
    }
    return 0;
  }
  std::string dump;
  llvm::raw_string_ostream dumpStream(dump);
  dlm::dumpAST(*ast, sourceMgr, dumpStream);

  mlir::OwningOpRef<mlir::ModuleOp> module =
      dlm::mlirGen(context, sourceMgr, *ast);
  if (!module) {
    if (errors == 0) {
      std::fprintf(stderr, "elaboration failed without an error diagnostic\n");
      std::abort();
    }
    return 0;
  }
  if (errors != 0 || mlir::failed(mlir::verify(*module))) {
    std::fprintf(stderr, "elaboration succeeded with errors or an invalid "
                         "module\n");
    std::abort();
  }
  std::string printed;
  llvm::raw_string_ostream printStream(printed);
  module->print(printStream);
  return 0;
}

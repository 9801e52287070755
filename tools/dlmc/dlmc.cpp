//===- dlmc.cpp - The dlm compiler driver ---------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlmc reads a .dlm file and prints one stage of the pipeline:
//
//   dlmc model.dlm --emit=ast        the parsed syntax tree
//   dlmc model.dlm --emit=mlir       the model in the dlm dialect
//   dlmc model.dlm --list-params     the weight tensors the model expects
//
// Errors are printed as `file:line:col: error: message` with the source line
// and a caret; the exit code is then 1 and nothing is written to `-o`.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/MLIRGen.h"
#include "dlm/Frontend/Parser.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

namespace {
enum class Emit { AST, MLIR };

cl::OptionCategory dlmcCategory("dlmc options");

cl::opt<std::string> inputFilename(cl::Positional,
                                   cl::desc("<input .dlm file>"),
                                   cl::init("-"), cl::cat(dlmcCategory));

cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: -)"),
                                    cl::value_desc("filename"), cl::init("-"),
                                    cl::cat(dlmcCategory));

cl::opt<Emit> emitAction(
    "emit", cl::desc("What to produce"), cl::init(Emit::MLIR),
    cl::values(clEnumValN(Emit::AST, "ast", "the parsed syntax tree"),
               clEnumValN(Emit::MLIR, "mlir", "the model in the dlm dialect")),
    cl::cat(dlmcCategory));

cl::opt<bool> listParams(
    "list-params",
    cl::desc("Print the weight tensors the model expects, one per line, in "
             "program order: `<name> f32[d0,d1,...]`"),
    cl::init(false), cl::cat(dlmcCategory));

cl::opt<unsigned> maxErrors("max-errors",
                            cl::desc("Stop after this many errors (0: no "
                                     "limit)"),
                            cl::init(20), cl::cat(dlmcCategory));

/// Prints `<name> f32[d0,d1,...]` for every dlm.param of the forward
/// function, in the order elaboration created them (program order).
void printParams(mlir::ModuleOp module, raw_ostream &os) {
  module.walk([&](mlir::dlm::ParamOp param) {
    auto type = cast<mlir::RankedTensorType>(param.getType());
    os << param.getName() << " f32[";
    interleave(type.getShape(), os, ",");
    os << "]\n";
  });
}

int run() {
  unsigned limit = maxErrors == 0 ? ~0u : unsigned(maxErrors);

  std::string errorMessage;
  std::unique_ptr<MemoryBuffer> input =
      mlir::openInputFile(inputFilename, &errorMessage);
  if (!input) {
    errs() << "dlmc: error: " << errorMessage << "\n";
    return 1;
  }

  mlir::DialectRegistry registry;
  registry.insert<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);

  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(input), SMLoc());
  mlir::SourceMgrDiagnosticHandler diagHandler(sourceMgr, &context);

  std::unique_ptr<dlm::FileAST> ast =
      dlm::parseFile(sourceMgr, &context, limit);
  if (!ast)
    return 1;

  std::unique_ptr<ToolOutputFile> output =
      mlir::openOutputFile(outputFilename, &errorMessage);
  if (!output) {
    errs() << "dlmc: error: " << errorMessage << "\n";
    return 1;
  }

  if (emitAction == Emit::AST && !listParams) {
    dlm::dumpAST(*ast, sourceMgr, output->os());
    output->keep();
    return 0;
  }

  mlir::OwningOpRef<mlir::ModuleOp> module =
      dlm::mlirGen(context, sourceMgr, *ast, limit);
  if (!module)
    return 1;

  if (listParams) {
    printParams(*module, output->os());
    output->keep();
    return 0;
  }

  // The (for now empty) pipeline runs through a PassManager so that MLIR's
  // instrumentation options (--mlir-print-ir-after-all, --mlir-timing, ...)
  // apply to dlmc as they do to mlir-opt.
  mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
  if (failed(mlir::applyPassManagerCLOptions(pm)))
    return 1;
  mlir::DefaultTimingManager tm;
  mlir::applyDefaultTimingManagerCLOptions(tm);
  mlir::TimingScope timing = tm.getRootScope();
  pm.enableTiming(timing);
  if (failed(pm.run(*module)))
    return 1;

  mlir::OpPrintingFlags flags;
  module->print(output->os(), flags);
  output->keep();
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::registerDefaultTimingManagerCLOptions();
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "dlm compiler (dlmc) version " << DLM_VERSION << "\n"
       << "  built with LLVM/MLIR " << LLVM_VERSION_STRING << "\n";
  });
  // libLLVM registers hundreds of backend options; show only dlmc's own and
  // MLIR's (--mlir-print-ir-after-all, --mlir-print-debuginfo, ...).
  for (auto &entry : cl::getRegisteredOptions()) {
    StringRef name = entry.getKey();
    cl::Option *option = entry.getValue();
    bool keep = name.starts_with("mlir-") || name == "help" ||
                name == "version" || name == "color" ||
                is_contained(option->Categories, &dlmcCategory);
    if (!keep)
      option->setHiddenFlag(cl::ReallyHidden);
  }
  cl::ParseCommandLineOptions(argc, argv,
                              "dlmc: compiles .dlm models to the dlm dialect\n");
  return run();
}

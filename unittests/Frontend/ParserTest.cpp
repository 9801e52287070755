//===- ParserTest.cpp - Tests of the .dlm parser --------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/Parser.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include "gtest/gtest.h"

using namespace dlm;

namespace {

/// The example of the language design brief.
const char *const designExample = R"dlm(# comments run to the end of the line

block conv_block(channels) {          # D2L's conv_block: BN -> ReLU -> 3x3 conv
    batchnorm
    relu
    conv(channels, kernel=3, padding=1)
}

block dense_block(layers, growth) {
    repeat layers {
        dense { conv_block(growth) }  # y = concat(x, body(x)) along channels
    }
}

block transition(out) {
    batchnorm
    relu
    conv(out, kernel=1)
    avgpool(kernel=2, stride=2)
}

block residual_unit(out, stride=1, project=false) {
    residual {                        # y = body(x) + shortcut(x)
        conv(out, kernel=3, padding=1, stride=stride)
        batchnorm
        relu
        conv(out, kernel=3, padding=1)
        batchnorm
    } shortcut {                      # empty or absent shortcut = identity
        if project { conv(out, kernel=1, stride=stride) }
    }
    relu
}

model densenet(x: f32[1, 1, 96, 96]) {
    conv(64, kernel=7, stride=2, padding=3)
    batchnorm
    relu
    maxpool(kernel=3, stride=2, padding=1)
    repeat i in 0..4 {
        dense_block(4, 32)
        if i != 3 { transition(channels / 2) }
    }
    batchnorm
    relu
    global_avgpool
    flatten
    linear(10)
}
)dlm";

/// One reported diagnostic.
struct Diag {
  unsigned line = 0, column = 0;
  std::string message;
  std::vector<std::string> notes;
};

std::ostream &operator<<(std::ostream &os, const Diag &diag) {
  return os << diag.line << ":" << diag.column << ": " << diag.message;
}

/// Parses sources and records what the parser reported.
class ParserTest : public ::testing::Test {
protected:
  ParserTest()
      : handler(&context, [this](mlir::Diagnostic &diag) {
          Diag recorded;
          if (auto loc = llvm::dyn_cast<mlir::FileLineColLoc>(diag.getLocation())) {
            EXPECT_EQ(loc.getFilename().getValue(), "test.dlm");
            recorded.line = loc.getLine();
            recorded.column = loc.getColumn();
          } else {
            ADD_FAILURE() << "diagnostic without a file location: "
                          << diag.str();
          }
          EXPECT_EQ(diag.getSeverity(), mlir::DiagnosticSeverity::Error);
          recorded.message = diag.str();
          for (mlir::Diagnostic &note : diag.getNotes())
            recorded.notes.push_back(note.str());
          diags.push_back(std::move(recorded));
          return mlir::success();
        }) {}

  /// Parses `source`; checks that the result is null exactly when something
  /// was reported, and that at most `maxErrors` errors were.
  const FileAST *parse(llvm::StringRef source, unsigned maxErrors = 20) {
    diags.clear();
    auto buffer = llvm::MemoryBuffer::getMemBufferCopy(source, "test.dlm");
    // Each parse gets a fresh SourceMgr; the old ones stay alive because the
    // ASTs point into their buffers.
    sourceMgrs.push_back(std::make_unique<llvm::SourceMgr>());
    sourceMgrs.back()->AddNewSourceBuffer(std::move(buffer), llvm::SMLoc());
    file = parseFile(*sourceMgrs.back(), &context, maxErrors);
    EXPECT_EQ(file == nullptr, !diags.empty())
        << "the result must be null exactly when an error was reported";
    if (maxErrors != 0) {
      EXPECT_LE(diags.size(), maxErrors);
    }
    return file.get();
  }

  /// Parses `source`, which must be valid.
  const FileAST &parseValid(llvm::StringRef source) {
    const FileAST *result = parse(source);
    for (const Diag &diag : diags)
      ADD_FAILURE() << "unexpected error " << diag;
    static const FileAST empty;
    return result ? *result : empty;
  }

  /// The AST dump of `source`, which must be valid.
  std::string dump(llvm::StringRef source) {
    const FileAST &ast = parseValid(source);
    std::string text;
    llvm::raw_string_ostream os(text);
    dumpAST(ast, *sourceMgrs.back(), os);
    return text;
  }

  /// The dump of a model whose body is `body`, without the model line and
  /// with the body's indentation removed.
  std::string dumpBody(llvm::StringRef body) {
    std::string text = dump(("model m() {\n" + body + "\n}\n").str());
    std::string result;
    llvm::StringRef rest(text);
    rest = rest.split('\n').second; // the model line
    while (!rest.empty()) {
      auto [line, tail] = rest.split('\n');
      result += line.drop_front(2).str() + "\n";
      rest = tail;
    }
    return result;
  }

  /// The location of the source text `text` in the last parsed buffer, as
  /// "line:col", for checking ranges.
  std::string position(llvm::SMLoc loc) {
    auto [line, col] = sourceMgrs.back()->getLineAndColumn(loc);
    return std::to_string(line) + ":" + std::to_string(col);
  }

  /// The source text covered by `range`.
  static llvm::StringRef text(llvm::SMRange range) {
    return llvm::StringRef(range.Start.getPointer(),
                           range.End.getPointer() - range.Start.getPointer());
  }

  mlir::MLIRContext context;
  std::vector<Diag> diags;
  mlir::ScopedDiagnosticHandler handler;
  std::vector<std::unique_ptr<llvm::SourceMgr>> sourceMgrs;
  std::unique_ptr<FileAST> file;
};

TEST_F(ParserTest, DumpDesignExample) {
  llvm::errs() << dump(designExample);
}

} // namespace

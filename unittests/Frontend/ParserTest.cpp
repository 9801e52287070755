//===- ParserTest.cpp - Tests of the .dlm parser --------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/Parser.h"
#include "dlm/Frontend/AST.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include "gtest/gtest.h"

#include <iterator>
#include <random>
#include <sstream>

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
          if (auto loc =
                  llvm::dyn_cast<mlir::FileLineColLoc>(diag.getLocation())) {
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

  /// Where `loc` is in the last parsed buffer, as "line:col".
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

//===----------------------------------------------------------------------===//
// Valid input
//===----------------------------------------------------------------------===//

TEST_F(ParserTest, DesignExampleDump) {
  EXPECT_EQ(dump(designExample), R"(block conv_block @3:7
  param channels @3:18
  call batchnorm @4:5
  call relu @5:5
  call conv @6:5
    arg channels @6:10
    arg kernel = 3 @6:20
    arg padding = 1 @6:30
block dense_block @9:7
  param layers @9:19
  param growth @9:27
  repeat layers @10:5
    dense @11:9
      call conv_block @11:17
        arg growth @11:28
block transition @15:7
  param out @15:18
  call batchnorm @16:5
  call relu @17:5
  call conv @18:5
    arg out @18:10
    arg kernel = 1 @18:15
  call avgpool @19:5
    arg kernel = 2 @19:13
    arg stride = 2 @19:23
block residual_unit @22:7
  param out @22:21
  param stride = 1 @22:26
  param project = false @22:36
  residual @23:5
    body
      call conv @24:9
        arg out @24:14
        arg kernel = 3 @24:19
        arg padding = 1 @24:29
        arg stride = stride @24:40
      call batchnorm @25:9
      call relu @26:9
      call conv @27:9
        arg out @27:14
        arg kernel = 3 @27:19
        arg padding = 1 @27:29
      call batchnorm @28:9
    shortcut @29:7
      if project @30:9
        then
          call conv @30:22
            arg out @30:27
            arg kernel = 1 @30:32
            arg stride = stride @30:42
  call relu @32:5
model densenet @35:7
  input x: f32[1, 1, 96, 96] @35:16
  call conv @36:5
    arg 64 @36:10
    arg kernel = 7 @36:14
    arg stride = 2 @36:24
    arg padding = 3 @36:34
  call batchnorm @37:5
  call relu @38:5
  call maxpool @39:5
    arg kernel = 3 @39:13
    arg stride = 2 @39:23
    arg padding = 1 @39:33
  repeat i in 0..4 @40:5
    call dense_block @41:9
      arg 4 @41:21
      arg 32 @41:24
    if (i != 3) @42:9
      then
        call transition @42:21
          arg (channels / 2) @42:32
  call batchnorm @44:5
  call relu @45:5
  call global_avgpool @46:5
  call flatten @47:5
  call linear @48:5
    arg 10 @48:12
)");
}

TEST_F(ParserTest, DesignExampleStructure) {
  const FileAST &ast = parseValid(designExample);
  ASSERT_EQ(ast.blocks.size(), 4u);
  ASSERT_EQ(ast.models.size(), 1u);
  EXPECT_EQ(ast.blocks[0]->name, "conv_block");
  EXPECT_EQ(ast.blocks[1]->name, "dense_block");
  EXPECT_EQ(ast.blocks[2]->name, "transition");
  EXPECT_EQ(ast.blocks[3]->name, "residual_unit");

  // block residual_unit(out, stride=1, project=false)
  const BlockDeclAST &unit = *ast.blocks[3];
  ASSERT_EQ(unit.params.size(), 3u);
  EXPECT_EQ(unit.params[0].name, "out");
  EXPECT_EQ(unit.params[0].defaultValue, nullptr);
  auto *strideDefault =
      llvm::dyn_cast<IntExprAST>(unit.params[1].defaultValue.get());
  ASSERT_NE(strideDefault, nullptr);
  EXPECT_EQ(strideDefault->getValue(), 1);
  auto *projectDefault =
      llvm::dyn_cast<BoolExprAST>(unit.params[2].defaultValue.get());
  ASSERT_NE(projectDefault, nullptr);
  EXPECT_FALSE(projectDefault->getValue());
  ASSERT_EQ(unit.body.size(), 2u);
  auto *residual = llvm::dyn_cast<ResidualStmtAST>(unit.body[0].get());
  ASSERT_NE(residual, nullptr);
  EXPECT_EQ(residual->getBody().size(), 5u);
  ASSERT_EQ(residual->getShortcut().size(), 1u);
  EXPECT_EQ(text(residual->getShortcutRange()), "shortcut");
  auto *ifStmt = llvm::dyn_cast<IfStmtAST>(residual->getShortcut()[0].get());
  ASSERT_NE(ifStmt, nullptr);
  EXPECT_TRUE(llvm::isa<NameExprAST>(ifStmt->getCond()));
  EXPECT_EQ(ifStmt->getThen().size(), 1u);
  EXPECT_TRUE(ifStmt->getElse().empty());

  // model densenet(x: f32[1, 1, 96, 96])
  const ModelDeclAST &model = *ast.models[0];
  EXPECT_EQ(model.name, "densenet");
  ASSERT_EQ(model.inputs.size(), 1u);
  EXPECT_EQ(model.inputs[0].name, "x");
  EXPECT_EQ(model.inputs[0].type.elementType, "f32");
  EXPECT_EQ(model.inputs[0].type.dims, (std::vector<int64_t>{1, 1, 96, 96}));
  ASSERT_EQ(model.inputs[0].type.dimRanges.size(), 4u);
  EXPECT_EQ(text(model.inputs[0].type.dimRanges[2]), "96");
  ASSERT_EQ(model.body.size(), 10u);

  auto *conv = llvm::dyn_cast<CallStmtAST>(model.body[0].get());
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->getCallee(), "conv");
  ASSERT_EQ(conv->getArgs().size(), 4u);
  EXPECT_TRUE(conv->getArgs()[0].name.empty());
  EXPECT_EQ(conv->getArgs()[1].name, "kernel");
  EXPECT_EQ(conv->getArgs()[3].name, "padding");
  EXPECT_FALSE(conv->getAlias());

  auto *repeat = llvm::dyn_cast<RepeatStmtAST>(model.body[4].get());
  ASSERT_NE(repeat, nullptr);
  EXPECT_TRUE(repeat->hasVar());
  EXPECT_EQ(repeat->getVar(), "i");
  EXPECT_EQ(repeat->getCount(), nullptr);
  ASSERT_TRUE(repeat->getBegin() && repeat->getEnd());
  EXPECT_EQ(llvm::cast<IntExprAST>(repeat->getBegin())->getValue(), 0);
  EXPECT_EQ(llvm::cast<IntExprAST>(repeat->getEnd())->getValue(), 4);
  ASSERT_EQ(repeat->getBody().size(), 2u);
  auto *cond = llvm::dyn_cast<BinaryExprAST>(
      &llvm::cast<IfStmtAST>(repeat->getBody()[1].get())->getCond());
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ(cond->getOp(), BinaryExprAST::Ne);
  EXPECT_EQ(position(cond->getOpLoc()), "42:14");

  auto *linear = llvm::dyn_cast<CallStmtAST>(model.body[9].get());
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->getCallee(), "linear");
}

/// Every example model of the repository parses.
TEST_F(ParserTest, RepositoryExamples) {
#ifndef DLM_SOURCE_DIR
  GTEST_SKIP() << "DLM_SOURCE_DIR is not defined";
#else
  std::error_code ec;
  std::string dir = std::string(DLM_SOURCE_DIR) + "/examples";
  unsigned count = 0;
  for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
       it.increment(ec)) {
    if (llvm::sys::path::extension(it->path()) != ".dlm")
      continue;
    auto buffer = llvm::MemoryBuffer::getFile(it->path());
    ASSERT_TRUE(bool(buffer)) << it->path();
    SCOPED_TRACE(it->path());
    const FileAST &ast = parseValid((*buffer)->getBuffer());
    EXPECT_EQ(ast.models.size(), 1u);
    ++count;
  }
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_GT(count, 0u);
#endif
}

TEST_F(ParserTest, Inception) {
  EXPECT_EQ(dumpBody(R"(concat {
    branch { conv(c1, kernel=1); relu }
    branch {
        maxpool(kernel=3, stride=1, padding=1)
        conv(c4, kernel=1)
    }
})"),
            R"(concat @2:1
  branch @3:5
    call conv @3:14
      arg c1 @3:19
      arg kernel = 1 @3:23
    call relu @3:34
  branch @4:5
    call maxpool @5:9
      arg kernel = 3 @5:17
      arg stride = 1 @5:27
      arg padding = 1 @5:37
    call conv @6:9
      arg c4 @6:14
      arg kernel = 1 @6:18
)");
}

TEST_F(ParserTest, Statements) {
  EXPECT_EQ(dumpBody(R"(relu(); relu;; sigmoid
conv(64) as stem
repeat n * 2 { }
repeat i in a + 1 .. b - 1 { flatten }
repeat (i) { }
if a { relu } else if b { sigmoid } else { flatten }
residual { relu }
residual { relu } shortcut { }
dense { })"),
            R"(call relu @2:1
call relu @2:9
call sigmoid @2:16
call conv as stem @3:1
  arg 64 @3:6
repeat (n * 2) @4:1
repeat i in (a + 1)..(b - 1) @5:1
  call flatten @5:30
repeat i @6:1
if a @7:1
  then
    call relu @7:8
  else
    if b @7:20
      then
        call sigmoid @7:27
      else
        call flatten @7:44
residual @8:1
  body
    call relu @8:12
residual @9:1
  body
    call relu @9:12
  shortcut @9:19
dense @10:1
)");
}

TEST_F(ParserTest, ExpressionPrecedence) {
  EXPECT_EQ(dumpBody("f(a or b and not c == d + e * -f, "
                     "1 - 2 - 3, 1 - (2 - 3), -7 / 2 % 3, not not x, "
                     "a < b or c >= d and e <= f, --1, (((x))))"),
            R"(call f @2:1
  arg (a or (b and (not (c == (d + (e * (-f))))))) @2:3
  arg ((1 - 2) - 3) @2:35
  arg (1 - (2 - 3)) @2:46
  arg (((-7) / 2) % 3) @2:59
  arg (not (not x)) @2:71
  arg ((a < b) or ((c >= d) and (e <= f))) @2:82
  arg (-(-1)) @2:110
  arg x @2:118
)");
}

TEST_F(ParserTest, Literals) {
  EXPECT_EQ(dumpBody("f(0, 9223372036854775807, 1e-5, 0.5, 1.5e3, 2e0, 0.1, "
                     "true, false, 1e-400)"),
            R"(call f @2:1
  arg 0 @2:3
  arg 9223372036854775807 @2:6
  arg 1e-05 @2:27
  arg 0.5 @2:33
  arg 1500.0 @2:38
  arg 2.0 @2:45
  arg 0.1 @2:50
  arg true @2:55
  arg false @2:61
  arg 0.0 @2:68
)");
  const FileAST &ast = parseValid("model m() { f(1e-5, 0.1) }");
  ASSERT_EQ(ast.models.size(), 1u);
  auto &args = llvm::cast<CallStmtAST>(ast.models[0]->body[0].get())->getArgs();
  EXPECT_EQ(llvm::cast<FloatExprAST>(args[0].value.get())->getValue(), 1e-5);
  EXPECT_EQ(llvm::cast<FloatExprAST>(args[1].value.get())->getValue(), 0.1);
}

TEST_F(ParserTest, SourceOrderInDump) {
  EXPECT_EQ(dump(R"(model m(a: f32[1, 2], b: i8[3]) { }
block b() { }
block c(x, y = x * 2) { }
model n() { })"),
            R"(model m @1:7
  input a: f32[1, 2] @1:9
  input b: i8[3] @1:23
block b @2:7
block c @3:7
  param x @3:9
  param y = (x * 2) @3:12
model n @4:7
)");
}

TEST_F(ParserTest, EmptyFile) {
  EXPECT_TRUE(parseValid("").blocks.empty());
  EXPECT_TRUE(parseValid("  # nothing here\n\n").models.empty());
}

TEST_F(ParserTest, Ranges) {
  const FileAST &ast = parseValid(R"(block b(p, stride = 1 + 2) {
    conv(64, kernel=(3)) as stem
    repeat i in 0..4 { relu }
    concat { branch { relu } }
    residual { } shortcut { relu }
}
model m(x: f32[1, 3]) { b((1 + 2) * 3, -x) }
)");
  ASSERT_EQ(ast.blocks.size(), 1u);
  ASSERT_EQ(ast.models.size(), 1u);
  const BlockDeclAST &block = *ast.blocks[0];
  EXPECT_EQ(text(block.nameRange), "b");
  EXPECT_TRUE(text(block.range).starts_with("block b(p"));
  EXPECT_TRUE(text(block.range).ends_with("relu }\n}"));
  EXPECT_EQ(text(block.params[0].range), "p");
  EXPECT_EQ(text(block.params[1].range), "stride = 1 + 2");
  EXPECT_EQ(text(block.params[1].defaultValue->getRange()), "1 + 2");

  auto *call = llvm::cast<CallStmtAST>(block.body[0].get());
  EXPECT_EQ(text(call->getRange()), "conv(64, kernel=(3)) as stem");
  EXPECT_EQ(text(call->getCalleeRange()), "conv");
  EXPECT_EQ(text(call->getAliasRange()), "stem");
  EXPECT_EQ(text(call->getArgs()[0].value->getRange()), "64");
  EXPECT_FALSE(call->getArgs()[0].nameRange.Start.isValid());
  EXPECT_EQ(text(call->getArgs()[1].nameRange), "kernel");
  // The parentheses are not a node: the literal's range is its own text.
  EXPECT_EQ(text(call->getArgs()[1].value->getRange()), "3");

  auto *repeat = llvm::cast<RepeatStmtAST>(block.body[1].get());
  EXPECT_EQ(text(repeat->getRange()), "repeat i in 0..4 { relu }");
  EXPECT_EQ(text(repeat->getVarRange()), "i");
  EXPECT_EQ(position(repeat->getLoc()), "3:5");

  auto *concat = llvm::cast<ConcatStmtAST>(block.body[2].get());
  EXPECT_EQ(text(concat->getRange()), "concat { branch { relu } }");
  EXPECT_EQ(text(concat->getBranches()[0].range), "branch { relu }");

  auto *residual = llvm::cast<ResidualStmtAST>(block.body[3].get());
  EXPECT_EQ(text(residual->getRange()), "residual { } shortcut { relu }");
  EXPECT_EQ(text(residual->getShortcutRange()), "shortcut");

  const ModelDeclAST &model = *ast.models[0];
  EXPECT_EQ(text(model.range), "model m(x: f32[1, 3]) { b((1 + 2) * 3, -x) }");
  EXPECT_EQ(text(model.nameRange), "m");
  EXPECT_EQ(text(model.inputs[0].range), "x: f32[1, 3]");
  EXPECT_EQ(text(model.inputs[0].type.range), "f32[1, 3]");
  EXPECT_EQ(text(model.inputs[0].type.elementTypeRange), "f32");
  auto *modelCall = llvm::cast<CallStmtAST>(model.body[0].get());
  const ExprAST &product = *modelCall->getArgs()[0].value;
  EXPECT_EQ(text(product.getRange()), "(1 + 2) * 3");
  auto &sum = llvm::cast<BinaryExprAST>(product).getLHS();
  EXPECT_EQ(text(sum.getRange()), "1 + 2");
  EXPECT_EQ(text(modelCall->getArgs()[1].value->getRange()), "-x");
  EXPECT_EQ(text(llvm::cast<UnaryExprAST>(*modelCall->getArgs()[1].value)
                     .getOperand()
                     .getRange()),
            "x");
}

TEST_F(ParserTest, NestingAtTheLimit) {
  // The model body is level 1; 255 more bodies reach the limit exactly.
  std::string deepBodies = "model m() {";
  for (unsigned i = 1; i < maxNestingDepth; ++i)
    deepBodies += " dense {";
  deepBodies += std::string(maxNestingDepth, '}');
  parseValid(deepBodies);

  std::string deepParens = "model m() { f(" +
                           std::string(maxNestingDepth, '(') + "1" +
                           std::string(maxNestingDepth, ')') + ") }";
  parseValid(deepParens);

  // A left-leaning chain of 255 operators: a tree of height 256.
  std::string chain = "model m() { f(1";
  for (unsigned i = 1; i < maxNestingDepth; ++i)
    chain += " + 1";
  chain += ") }";
  parseValid(chain);
}

//===----------------------------------------------------------------------===//
// Errors
//===----------------------------------------------------------------------===//

/// The diagnostics of the last parse as "line:col: message" lines.
#define EXPECT_DIAGS(...)                                                      \
  do {                                                                         \
    std::vector<std::string> actual;                                           \
    for (const Diag &diag : diags) {                                           \
      std::ostringstream os;                                                   \
      os << diag;                                                              \
      actual.push_back(os.str());                                              \
    }                                                                          \
    EXPECT_EQ(actual, (std::vector<std::string>{__VA_ARGS__}));                \
  } while (false)

TEST_F(ParserTest, MissingExpression) {
  EXPECT_EQ(parse("model m() {\n    conv(64, kernel=)\n}\n"), nullptr);
  EXPECT_DIAGS("2:21: expected expression, found ')'");
}

TEST_F(ParserTest, SeveralErrorsAreAllReported) {
  EXPECT_EQ(parse(R"(model m(x: f32[1, 3, 8, 8]) {
    conv(64, kernel=)
    relu
    conv(64 kernel=3)
    repeat 2 { relu $ }
    batchnorm(eps=1e999)
    conv(64, kernel=3,
         padding=1 1,
         stride=2)
    linear(10
    flatten
}
block b(a, 1) { relu( }
model n() { conv(1, k=2, 3) }
)"),
            nullptr);
  EXPECT_DIAGS("2:21: expected expression, found ')'",
               "4:13: expected ',' or ')' in the argument list, found 'kernel'",
               "5:21: invalid character '$'",
               "6:19: floating-point literal out of range",
               "8:20: expected ',' or ')' in the argument list, found '1'",
               "11:5: expected ',' or ')' in the argument list, found "
               "'flatten'",
               "13:12: expected parameter name, found '1'",
               "13:23: expected expression, found '}'",
               "14:26: positional argument after named argument");
}

TEST_F(ParserTest, Notes) {
  EXPECT_EQ(parse("model m() {\n  conv(1\n  relu\n}"), nullptr);
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags[0].message,
            "expected ',' or ')' in the argument list, found 'relu'");
  ASSERT_EQ(diags[0].notes.size(), 1u);
  EXPECT_EQ(diags[0].notes[0], "to match this '('");
}

TEST_F(ParserTest, UnterminatedBodies) {
  // One missing `}` is one error, however many bodies it leaves open.
  EXPECT_EQ(parse("model m() {\n  repeat 2 {\n    dense {\n      relu\n"),
            nullptr);
  EXPECT_DIAGS(
      "5:1: expected '}' at the end of the body of 'dense', found end of file");
  ASSERT_EQ(diags[0].notes.size(), 1u);
  EXPECT_EQ(diags[0].notes[0], "to match this '{'");

  // A body left open before the next declaration.
  EXPECT_EQ(parse("block b() {\n  relu\nmodel m() { relu $ }\n"), nullptr);
  EXPECT_DIAGS(
      "3:1: expected '}' at the end of the body of 'block', found 'model'",
      "3:18: invalid character '$'");
}

TEST_F(ParserTest, StrayTokensAtTopLevel) {
  EXPECT_EQ(parse("}\nconv(3)\nmodel m() { relu }\n}\n"), nullptr);
  EXPECT_DIAGS("1:1: unmatched '}'", "4:1: unmatched '}'");
  EXPECT_EQ(parse("conv(3) block b() { }"), nullptr);
  EXPECT_DIAGS("1:1: expected 'block' or 'model' declaration, found 'conv'");
}

TEST_F(ParserTest, MisplacedKeywords) {
  EXPECT_EQ(parse("model m() {\n  else { relu }\n}"), nullptr);
  EXPECT_DIAGS("2:3: 'else' without a preceding 'if'");
  EXPECT_EQ(parse("model m() {\n  shortcut { relu }\n}"), nullptr);
  EXPECT_DIAGS("2:3: 'shortcut' must directly follow the body of a 'residual'");
  EXPECT_EQ(parse("model m() {\n  branch { relu }\n}"), nullptr);
  EXPECT_DIAGS("2:3: 'branch' is only allowed inside 'concat'");
  EXPECT_EQ(parse("model m() {\n  in\n}"), nullptr);
  EXPECT_DIAGS("2:3: expected statement, found 'in'");
  // After an error, parsing resumes at the first statement at the start of a
  // line: the rest of line 2 and all of line 3 are skipped.
  EXPECT_EQ(parse("model m() {\n  relu ) relu\n  = relu\n  conv(,)\n}"),
            nullptr);
  EXPECT_DIAGS("2:8: expected statement, found ')'",
               "4:8: expected expression, found ','");
}

TEST_F(ParserTest, LiteralErrors) {
  EXPECT_EQ(parse("model m(x: f32[99999999999999999999]) {\n"
                  "  f(9223372036854775808, 1e400, 64abc, 1e, .5)\n}"),
            nullptr);
  EXPECT_DIAGS("1:16: integer literal too large",
               "2:5: integer literal too large",
               "2:26: floating-point literal out of range",
               "2:33: invalid character 'a' in number",
               "2:40: expected digits in the exponent of number",
               "2:44: a number must start with a digit: write 0.5, not .5");
}

TEST_F(ParserTest, ConcatErrors) {
  EXPECT_EQ(parse("model m() {\n  concat { }\n  concat { relu branch { } }\n"
                  "  concat { branch relu }\n}"),
            nullptr);
  EXPECT_DIAGS("2:3: 'concat' needs at least one 'branch'",
               "3:12: expected 'branch' or '}' in 'concat', found 'relu'",
               "4:19: expected '{' to begin the body of 'branch', found "
               "'relu'");
}

TEST_F(ParserTest, ChainedComparison) {
  EXPECT_EQ(parse("model m() { if 1 < 2 < 3 { } }"), nullptr);
  EXPECT_DIAGS("1:22: comparison operators cannot be chained; combine "
               "comparisons with 'and'");
}

TEST_F(ParserTest, HeaderErrors) {
  EXPECT_EQ(parse(R"(block (a) { }
block b(a b) { relu( }
model m(x f32[1]) { }
model m(x: f32) { }
model m(x: f32[]) { }
model m(x: f32[1, -2]) { }
model m(x: [1]) { }
model m(x: f32[1, 2) { }
model m { }
)"),
            nullptr);
  EXPECT_DIAGS("1:7: expected block name after 'block', found '('",
               "2:11: expected ',' or ')' in the parameter list, found 'b'",
               "2:22: expected expression, found '}'",
               "3:11: expected ':' and a type after the input name, found "
               "'f32'",
               "4:15: expected '[' and the dimensions after the element type, "
               "found ')'",
               "5:16: expected integer dimension, found ']'",
               "6:19: expected integer dimension, found '-'",
               "7:12: expected tensor type such as 'f32[1, 3, 32, 32]', found "
               "'['",
               "8:20: expected ',' or ']' in the dimensions, found ')'",
               "9:9: expected '(' after the model name, found '{'");
}

TEST_F(ParserTest, StatementErrors) {
  EXPECT_EQ(parse(R"(model m() {
  conv(64) as
  repeat i in 0.. { }
  repeat i in 0 4 { }
  if a { } else relu
  repeat 3 relu
  dense relu }
)"),
            nullptr);
  EXPECT_DIAGS("3:3: expected name after 'as', found 'repeat'",
               "3:19: expected expression, found '{'",
               "4:17: expected '..' in the range of 'repeat', as in 'repeat i "
               "in 0..4', found '4'",
               "5:17: expected '{' or 'if' after 'else', found 'relu'",
               "6:12: expected '{' to begin the body of 'repeat', found 'relu'",
               "7:9: expected '{' to begin the body of 'dense', found 'relu'");
}

TEST_F(ParserTest, MaxErrors) {
  std::string source = "model m() {\n";
  for (int i = 0; i < 30; ++i)
    source += "  conv(,)\n";
  source += "}\n";
  parse(source);
  EXPECT_EQ(diags.size(), 20u);
  parse(source, /*maxErrors=*/3);
  EXPECT_DIAGS("2:8: expected expression, found ','",
               "3:8: expected expression, found ','",
               "4:8: expected expression, found ','");
  parse(source, /*maxErrors=*/0);
  EXPECT_EQ(diags.size(), 30u);
}

TEST_F(ParserTest, NestingTooDeep) {
  // Bodies: the error, and the braces still match (the later error is
  // found at its place).
  std::string bodies = "model m() {";
  for (unsigned i = 0; i < maxNestingDepth; ++i)
    bodies += "\ndense {";
  bodies += std::string(maxNestingDepth, '}') + "\n relu $ }";
  EXPECT_EQ(parse(bodies), nullptr);
  EXPECT_DIAGS("257:8: nesting too deep: bodies nest at most 256 levels",
               "258:7: invalid character '$'");

  std::string parens = "model m() {\n f(" +
                       std::string(maxNestingDepth + 1, '(') + "1" +
                       std::string(maxNestingDepth + 1, ')') + ")\n $ }";
  EXPECT_EQ(parse(parens), nullptr);
  EXPECT_DIAGS("2:260: nesting too deep: expressions nest at most 256 levels",
               "3:2: invalid character '$'");

  std::string negations =
      "model m() {\n f(" + std::string(2 * maxNestingDepth, '-') + "1)\n $ }";
  EXPECT_EQ(parse(negations), nullptr);
  EXPECT_DIAGS("2:260: nesting too deep: expressions nest at most 256 levels",
               "3:2: invalid character '$'");

  std::string chain = "model m() {\n f(1";
  for (unsigned i = 0; i < 2 * maxNestingDepth; ++i)
    chain += "+1";
  chain += ")\n $ }";
  EXPECT_EQ(parse(chain), nullptr);
  EXPECT_DIAGS("2:515: nesting too deep: expressions nest at most 256 levels",
               "3:2: invalid character '$'");

  std::string elseIfs = "model m() {\n if a { }";
  for (unsigned i = 0; i < 2 * maxNestingDepth; ++i)
    elseIfs += " else if a { }";
  elseIfs += "\n $ }";
  EXPECT_EQ(parse(elseIfs), nullptr);
  EXPECT_DIAGS("2:3572: nesting too deep: bodies nest at most 256 levels",
               "3:2: invalid character '$'");
}

//===----------------------------------------------------------------------===//
// Adversarial input: no crash, no hang, and errors iff null.
//===----------------------------------------------------------------------===//

TEST_F(ParserTest, EveryTruncationOfTheExample) {
  llvm::StringRef example(designExample);
  for (size_t size = 0; size <= example.size(); ++size) {
    parse(example.take_front(size));
    for (const Diag &diag : diags) {
      EXPECT_GE(diag.line, 1u);
      EXPECT_GE(diag.column, 1u);
    }
  }
}

TEST_F(ParserTest, RandomBytes) {
  std::mt19937 rng(12345);
  for (int round = 0; round < 2000; ++round) {
    std::string source(rng() % 256, '\0');
    for (char &c : source)
      c = static_cast<char>(rng());
    parse(source);
  }
}

TEST_F(ParserTest, RandomTokenSoup) {
  // Random sequences of the language's own pieces reach deeper than random
  // bytes.
  const char *pieces[] = {"block",
                          "model",
                          "repeat",
                          "in",
                          "if",
                          "else",
                          "residual",
                          "shortcut",
                          "dense",
                          "concat",
                          "branch",
                          "as",
                          "true",
                          "false",
                          "and",
                          "or",
                          "not",
                          "x",
                          "conv",
                          "f32",
                          "(",
                          ")",
                          "{",
                          "}",
                          "[",
                          "]",
                          ",",
                          ":",
                          ";",
                          "=",
                          "..",
                          "+",
                          "-",
                          "*",
                          "/",
                          "%",
                          "==",
                          "!=",
                          "<",
                          "<=",
                          ">",
                          ">=",
                          "0",
                          "64",
                          "1e-5",
                          "0.5",
                          "99999999999999999999",
                          "\n",
                          " ",
                          "#c\n",
                          "$",
                          ".",
                          "!",
                          "1e"};
  std::mt19937 rng(54321);
  for (int round = 0; round < 3000; ++round) {
    std::string source;
    for (unsigned n = rng() % 80; n != 0; --n) {
      source += pieces[rng() % std::size(pieces)];
      source += ' ';
    }
    parse(source);
  }
}

TEST_F(ParserTest, RandomMutationsOfTheExample) {
  std::mt19937 rng(777);
  std::string example(designExample);
  const char alphabet[] = "(){}[],:;=.+-*/%<>!#$ \n0123456789eaxz_";
  for (int round = 0; round < 2000; ++round) {
    std::string source = example;
    for (unsigned n = 1 + rng() % 4; n != 0; --n) {
      size_t pos = rng() % source.size();
      switch (rng() % 3) {
      case 0:
        source[pos] = alphabet[rng() % (sizeof(alphabet) - 1)];
        break;
      case 1:
        source.erase(pos, 1 + rng() % 8);
        break;
      default:
        source.insert(pos, 1, alphabet[rng() % (sizeof(alphabet) - 1)]);
        break;
      }
      if (source.empty())
        source = "x";
    }
    parse(source);
  }
}

TEST_F(ParserTest, HugeInputs) {
  const size_t n = 100000;
  parse("model m() { f(" + std::string(n, '(') + "1" + std::string(n, ')') +
        ") }");
  EXPECT_FALSE(diags.empty());
  parse("model m() { f(" + std::string(n, '(') + ") }");
  EXPECT_FALSE(diags.empty());
  parse("model m() { f(" + std::string(n, '-') + "1) }");
  EXPECT_FALSE(diags.empty());
  std::string nots = "model m() { if ";
  for (size_t i = 0; i < n; ++i)
    nots += "not ";
  parse(nots + "a { } }");
  EXPECT_FALSE(diags.empty());
  std::string sum = "model m() { f(1";
  for (size_t i = 0; i < n; ++i)
    sum += "+1";
  parse(sum + ") }");
  EXPECT_FALSE(diags.empty());
  parse("model m() {" + std::string(n, '{'));
  EXPECT_FALSE(diags.empty());
  parse(std::string(n, '}'));
  EXPECT_FALSE(diags.empty());
  std::string repeats = "model m() {";
  for (size_t i = 0; i < n; ++i)
    repeats += " repeat 1 {";
  parse(repeats);
  EXPECT_FALSE(diags.empty());
  std::string elseIfs = "model m() { if a { }";
  for (size_t i = 0; i < n; ++i)
    elseIfs += " else if a { }";
  parse(elseIfs + " }");
  EXPECT_FALSE(diags.empty());
  parse("model m() { f(" + std::string(n, '7') + ") }");
  EXPECT_DIAGS("1:15: integer literal too large");
  parse("model m() { f(" + std::string(n, '7') + ".5) }");
  EXPECT_DIAGS("1:15: floating-point literal out of range");
  parse("model m() { " + std::string(n, 'x') + " }");
  EXPECT_TRUE(diags.empty());
  std::string statements = "model m() {";
  for (size_t i = 0; i < n; ++i)
    statements += " relu";
  parse(statements + " }");
  EXPECT_TRUE(diags.empty());
  parse(std::string(n, '$'));
  EXPECT_EQ(diags.size(), 20u);
  parse(std::string("model m() {\0}", 13));
  EXPECT_DIAGS("1:12: invalid character 0x00");
}

} // namespace

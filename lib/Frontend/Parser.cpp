//===- Parser.cpp - Parser for .dlm files ---------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Recursive descent with one token of lookahead (two where the grammar needs
// it: `repeat i in` and named arguments `name = value`).
//
// Errors come in two kinds. A *fatal* one leaves the parser somewhere inside a
// construct it cannot finish: the parse function returns null / failure and
// the innermost enclosing body (or the top level) skips tokens to a point
// where parsing can resume. A *non-fatal* one (an integer literal that is too
// large, a positional argument after a named one, ...) is reported and the
// parse goes on as if nothing happened. Either way the file's AST is dropped.
//
// Bodies never fail: a body always parses up to its closing `}` (or to the
// end of file, or to a top-level keyword), recovering after each bad
// statement. So an error deep inside a body never disturbs the braces of the
// bodies around it.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/Parser.h"
#include "dlm/Frontend/Lexer.h"
#include "dlm/Frontend/SourceLocation.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Support/LogicalResult.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>

using namespace dlm;
using llvm::SMLoc;
using llvm::SMRange;
using mlir::failure;
using mlir::LogicalResult;
using mlir::success;

namespace {

/// An expression being built, with the height of its tree (a literal or a
/// name has height 1). Null `expr` means failure.
struct ExprResult {
  ExprPtr expr;
  unsigned height = 0;

  explicit operator bool() const { return expr != nullptr; }
};

/// What reporting an error returns: it converts to failure() for a fatal error
/// (`return emitError(...)`), and may be ignored for a non-fatal one.
struct ErrorReported {
  operator LogicalResult() const { return failure(); }
};

/// Counts one level of nesting for as long as it lives.
class DepthGuard {
public:
  explicit DepthGuard(unsigned &counter) : depth(counter) { ++depth; }
  ~DepthGuard() { --depth; }
  DepthGuard(const DepthGuard &) = delete;
  DepthGuard &operator=(const DepthGuard &) = delete;

private:
  unsigned &depth;
};

class Parser {
public:
  Parser(const llvm::SourceMgr &sourceMgr, mlir::MLIRContext *context,
         unsigned maxErrors)
      : sourceMgr(sourceMgr), context(context), maxErrors(maxErrors),
        lexer(sourceMgr) {
    llvm::StringRef buffer =
        sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer();
    eofToken = Token(Token::eof, llvm::StringRef(buffer.end(), 0),
                     /*atStartOfLine=*/false);
    lexNext();
  }

  std::unique_ptr<FileAST> parseFile();

private:
  //===--------------------------------------------------------------------===//
  // Tokens
  //===--------------------------------------------------------------------===//

  /// Lexes into curTok, reporting and skipping malformed tokens.
  void lexNext();

  /// Moves past the current token.
  void consumeToken() {
    prevEnd = curTok.getEndLoc();
    lexNext();
  }

  /// Consumes the current token if it is a `kind`.
  bool consumeIf(Token::Kind kind) {
    if (!curTok.is(kind))
      return false;
    consumeToken();
    return true;
  }

  /// The value of an `integer` token; reports one that does not fit in
  /// int64_t and returns 0 for it.
  int64_t parseInteger(const Token &tok);

  /// The token after the current one (malformed tokens skipped silently).
  Token peekToken() const;

  /// Consumes a `kind` token, or reports "expected <kind> <where>".
  LogicalResult expect(Token::Kind kind, const llvm::Twine &where);

  /// The range from `start` to the end of the last consumed token.
  SMRange rangeFrom(SMLoc start) const { return SMRange(start, prevEnd); }

  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  /// Reports an error at `loc`, with an optional note at `noteLoc`.
  ///
  /// A second error at the location of the previous one is dropped: when an
  /// unclosed body runs into the end of the file, every enclosing body would
  /// otherwise report the same missing `}`. After `maxErrors` errors the parser
  /// stops: from then on the current token is always the end of file.
  ErrorReported emitError(SMLoc loc, const llvm::Twine &message,
                          SMLoc noteLoc = SMLoc(),
                          const llvm::Twine &note = "");

  /// Reports "expected <what>, found <current token>" at the current token.
  ErrorReported emitExpected(const llvm::Twine &what, SMLoc noteLoc = SMLoc(),
                             const llvm::Twine &note = "");

  /// How the current token is named in "found ..." messages.
  std::string describeCurrentToken() const;

  //===--------------------------------------------------------------------===//
  // Error recovery
  //===--------------------------------------------------------------------===//

  /// Whether the current token can begin a statement.
  bool atStatementStart() const;

  /// After a statement starting at `stmtStart` failed: skips to the next
  /// likely statement start within the current body.
  void recoverInBody(const char *stmtStart);

  /// After a declaration starting at `declStart` failed: skips to the next
  /// `block` or `model` keyword.
  void recoverAtTopLevel(const char *declStart);

  /// Skips tokens up to (not including) the `}` that balances the braces
  /// skipped so far; stops early at the end of file or a top-level keyword.
  void skipToClosingBrace();

  //===--------------------------------------------------------------------===//
  // Declarations
  //===--------------------------------------------------------------------===//

  std::unique_ptr<BlockDeclAST> parseBlockDecl();
  std::unique_ptr<ModelDeclAST> parseModelDecl();
  LogicalResult parseParam(ParamAST &param);
  LogicalResult parseInput(InputAST &input);
  LogicalResult parseTensorType(TensorTypeAST &type);
  /// After an error in a declaration's header: skips to the `{` of its body
  /// and parses the body anyway, to report the errors in it too.
  void recoverDeclBody(llvm::StringRef what);

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  Body parseBody();
  LogicalResult parseBracedBody(llvm::StringRef what, Body &body);
  StmtPtr parseStatement();
  StmtPtr parseCall();
  /// `previous` are the call's arguments before this one, for hints.
  LogicalResult parseArg(ArgAST &arg, llvm::StringRef callee,
                         llvm::ArrayRef<ArgAST> previous);
  StmtPtr parseRepeat();
  StmtPtr parseIf();
  StmtPtr parseResidual();
  StmtPtr parseDense();
  StmtPtr parseConcat();

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  ExprResult parseExpr();
  ExprResult parseOr();
  ExprResult parseAnd();
  ExprResult parseNot();
  ExprResult parseComparison();
  ExprResult parseAdditive();
  ExprResult parseMultiplicative();
  ExprResult parseUnary();
  ExprResult parsePrimary();

  /// Builds `lhs op rhs`, checking the height of the resulting tree.
  ExprResult makeBinary(SMLoc start, BinaryExprAST::Op op, SMLoc opLoc,
                        ExprResult lhs, ExprResult rhs);
  /// Builds `op operand`, checking the height of the resulting tree.
  ExprResult makeUnary(SMLoc start, UnaryExprAST::Op op, ExprResult operand);

  //===--------------------------------------------------------------------===//
  // State
  //===--------------------------------------------------------------------===//

  const llvm::SourceMgr &sourceMgr;
  mlir::MLIRContext *context;
  const unsigned maxErrors;

  Lexer lexer;
  Token curTok;
  Token eofToken;
  /// One past the last character of the last consumed token.
  SMLoc prevEnd;

  unsigned numErrors = 0;
  bool stopped = false;
  SMLoc lastErrorLoc;

  unsigned bodyDepth = 0;
  unsigned exprDepth = 0;
};

} // namespace

//===----------------------------------------------------------------------===//
// Tokens
//===----------------------------------------------------------------------===//

void Parser::lexNext() {
  while (!stopped) {
    curTok = lexer.lexToken();
    if (!curTok.is(Token::error))
      return;
    emitError(curTok.getLoc(), lexer.getErrorMessage());
    // A malformed number (`64abc`, `1e`) stands where a number was meant:
    // parse it as one, so that its absence causes no second error.
    // parseInteger() does not report it again.
    if (!stopped && llvm::isDigit(curTok.getSpelling().front())) {
      curTok =
          Token(Token::integer, curTok.getSpelling(), curTok.isAtStartOfLine());
      return;
    }
  }
  curTok = eofToken;
}

int64_t Parser::parseInteger(const Token &tok) {
  int64_t value = 0;
  if (!tok.getSpelling().getAsInteger(10, value))
    return value;
  // Not a decimal integer that fits: too large, or a malformed number that
  // lexNext() has reported already.
  if (llvm::all_of(tok.getSpelling(), llvm::isDigit))
    emitError(tok.getLoc(), "integer literal too large");
  return 0;
}

Token Parser::peekToken() const {
  if (stopped || curTok.is(Token::eof))
    return eofToken;
  Lexer lookahead = lexer;
  Token tok;
  do
    tok = lookahead.lexToken();
  while (tok.is(Token::error) && !llvm::isDigit(tok.getSpelling().front()));
  // As in lexNext(), a malformed number stands for a number.
  if (tok.is(Token::error))
    return Token(Token::integer, tok.getSpelling(), tok.isAtStartOfLine());
  return tok;
}

LogicalResult Parser::expect(Token::Kind kind, const llvm::Twine &where) {
  if (consumeIf(kind))
    return success();
  return emitExpected(Token::getDescription(kind) + " " + where);
}

//===----------------------------------------------------------------------===//
// Diagnostics
//===----------------------------------------------------------------------===//

ErrorReported Parser::emitError(SMLoc loc, const llvm::Twine &message,
                                SMLoc noteLoc, const llvm::Twine &note) {
  if (stopped || (numErrors != 0 && loc == lastErrorLoc))
    return {};
  lastErrorLoc = loc;
  {
    mlir::InFlightDiagnostic diag =
        mlir::emitError(getLocation(sourceMgr, context, loc)) << message;
    if (noteLoc.isValid())
      diag.attachNote(getLocation(sourceMgr, context, noteLoc)) << note;
  }
  if (++numErrors == maxErrors) {
    stopped = true;
    curTok = eofToken;
  }
  return {};
}

ErrorReported Parser::emitExpected(const llvm::Twine &what, SMLoc noteLoc,
                                   const llvm::Twine &note) {
  return emitError(curTok.getLoc(),
                   "expected " + what + ", found " + describeCurrentToken(),
                   noteLoc, note);
}

std::string Parser::describeCurrentToken() const {
  if (curTok.is(Token::eof))
    return "end of file";
  llvm::StringRef spelling = curTok.getSpelling();
  const size_t maxShown = 32;
  if (spelling.size() > maxShown)
    return ("'" + spelling.take_front(maxShown) + "...'").str();
  return ("'" + spelling + "'").str();
}

//===----------------------------------------------------------------------===//
// Error recovery
//===----------------------------------------------------------------------===//

bool Parser::atStatementStart() const {
  return curTok.isAny(Token::identifier, Token::kw_repeat, Token::kw_if,
                      Token::kw_residual, Token::kw_dense, Token::kw_concat);
}

/// Counts the parentheses opened and not closed in [begin, end).
static unsigned countOpenParens(const char *begin, const char *end) {
  Lexer lexer(llvm::StringRef(begin, end - begin));
  unsigned open = 0;
  for (Token tok = lexer.lexToken(); !tok.is(Token::eof);
       tok = lexer.lexToken()) {
    if (tok.is(Token::l_paren))
      ++open;
    else if (tok.is(Token::r_paren) && open != 0)
      --open;
    else if (tok.isAny(Token::l_brace, Token::r_brace))
      open = 0;
  }
  return open;
}

/// Newlines mean nothing to the grammar, but people write one statement per
/// line, so after an error the first statement-like token at the start of a
/// line (outside skipped braces) is where parsing resumes. Inside parentheses
/// left open by the failed statement, an identifier at the start of a line is
/// more likely an argument (`kernel=3,` on its own line) than a statement, so
/// there it must also look like the start of a call.
void Parser::recoverInBody(const char *stmtStart) {
  // Nothing to skip (and no need to look back) at the end of the body.
  if (curTok.isAny(Token::eof, Token::kw_block, Token::kw_model,
                   Token::r_brace))
    return;
  unsigned parens = countOpenParens(stmtStart, curTok.getLoc().getPointer());
  unsigned braces = 0;
  bool skippedAny = curTok.getLoc().getPointer() != stmtStart;
  while (true) {
    switch (curTok.getKind()) {
    case Token::eof:
    case Token::kw_block:
    case Token::kw_model:
      return;
    case Token::r_brace:
      if (braces == 0)
        return;
      --braces;
      parens = 0;
      break;
    case Token::l_brace:
      ++braces;
      parens = 0;
      break;
    case Token::semicolon:
      if (braces == 0) {
        consumeToken();
        return;
      }
      break;
    case Token::l_paren:
      ++parens;
      break;
    case Token::r_paren:
      if (parens != 0)
        --parens;
      break;
    default:
      if (braces != 0 || !skippedAny || !curTok.isAtStartOfLine() ||
          !atStatementStart())
        break;
      if (parens == 0 || !curTok.is(Token::identifier))
        return;
      Token next = peekToken();
      if (next.isAtStartOfLine() ||
          next.isAny(Token::eof, Token::l_paren, Token::l_brace, Token::r_brace,
                     Token::semicolon, Token::kw_as))
        return;
      break;
    }
    consumeToken();
    skippedAny = true;
  }
}

void Parser::recoverAtTopLevel(const char *declStart) {
  bool skippedAny = curTok.getLoc().getPointer() != declStart;
  while (!curTok.is(Token::eof)) {
    if (skippedAny && curTok.isAny(Token::kw_block, Token::kw_model))
      return;
    consumeToken();
    skippedAny = true;
  }
}

void Parser::skipToClosingBrace() {
  unsigned braces = 0;
  while (!curTok.isAny(Token::eof, Token::kw_block, Token::kw_model)) {
    if (curTok.is(Token::r_brace)) {
      if (braces == 0)
        return;
      --braces;
    } else if (curTok.is(Token::l_brace)) {
      ++braces;
    }
    consumeToken();
  }
}

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

/// file ::= (block_decl | model_decl)*
std::unique_ptr<FileAST> Parser::parseFile() {
  auto file = std::make_unique<FileAST>();
  while (!curTok.is(Token::eof)) {
    const char *declStart = curTok.getLoc().getPointer();
    if (curTok.is(Token::kw_block)) {
      if (auto block = parseBlockDecl()) {
        file->blocks.push_back(std::move(block));
        continue;
      }
    } else if (curTok.is(Token::kw_model)) {
      if (auto model = parseModelDecl()) {
        file->models.push_back(std::move(model));
        continue;
      }
    } else if (curTok.is(Token::r_brace)) {
      emitError(curTok.getLoc(), "unmatched '}'");
    } else {
      emitExpected("'block' or 'model' declaration");
    }
    recoverAtTopLevel(declStart);
  }
  if (numErrors != 0)
    return nullptr;
  return file;
}

void Parser::recoverDeclBody(llvm::StringRef what) {
  while (!curTok.isAny(Token::eof, Token::kw_block, Token::kw_model,
                       Token::l_brace, Token::r_brace))
    consumeToken();
  if (!curTok.is(Token::l_brace))
    return;
  Body ignored;
  (void)parseBracedBody(what, ignored);
}

/// block_decl ::= `block` IDENT `(` [param {`,` param}] `)` `{` body `}`
std::unique_ptr<BlockDeclAST> Parser::parseBlockDecl() {
  auto block = std::make_unique<BlockDeclAST>();
  SMLoc start = curTok.getLoc();
  consumeToken(); // `block`

  auto parseHeader = [&]() -> LogicalResult {
    if (!curTok.is(Token::identifier))
      return emitExpected("block name after 'block'");
    block->name = curTok.getSpelling().str();
    block->nameRange = curTok.getRange();
    consumeToken();

    SMLoc lparen = curTok.getLoc();
    if (failed(expect(Token::l_paren, "after the block name")))
      return failure();
    if (!curTok.is(Token::r_paren)) {
      do {
        ParamAST param;
        if (failed(parseParam(param)))
          return failure();
        block->params.push_back(std::move(param));
      } while (consumeIf(Token::comma));
    }
    if (!consumeIf(Token::r_paren))
      return emitExpected("',' or ')' in the parameter list", lparen,
                          "to match this '('");
    return success();
  };

  if (failed(parseHeader())) {
    recoverDeclBody("block");
    return nullptr;
  }
  if (failed(parseBracedBody("block", block->body)))
    return nullptr;
  block->range = rangeFrom(start);
  return block;
}

/// param ::= IDENT [`=` expr]
LogicalResult Parser::parseParam(ParamAST &param) {
  if (!curTok.is(Token::identifier))
    return emitExpected("parameter name");
  SMLoc start = curTok.getLoc();
  param.name = curTok.getSpelling().str();
  consumeToken();
  if (consumeIf(Token::equal)) {
    ExprResult value = parseExpr();
    if (!value)
      return failure();
    param.defaultValue = std::move(value.expr);
  }
  param.range = rangeFrom(start);
  return success();
}

/// model_decl ::= `model` IDENT `(` [input {`,` input}] `)` `{` body `}`
std::unique_ptr<ModelDeclAST> Parser::parseModelDecl() {
  auto model = std::make_unique<ModelDeclAST>();
  SMLoc start = curTok.getLoc();
  consumeToken(); // `model`

  auto parseHeader = [&]() -> LogicalResult {
    if (!curTok.is(Token::identifier))
      return emitExpected("model name after 'model'");
    model->name = curTok.getSpelling().str();
    model->nameRange = curTok.getRange();
    consumeToken();

    SMLoc lparen = curTok.getLoc();
    if (failed(expect(Token::l_paren, "after the model name")))
      return failure();
    if (!curTok.is(Token::r_paren)) {
      do {
        InputAST input;
        if (failed(parseInput(input)))
          return failure();
        model->inputs.push_back(std::move(input));
      } while (consumeIf(Token::comma));
    }
    if (!consumeIf(Token::r_paren))
      return emitExpected("',' or ')' in the input list", lparen,
                          "to match this '('");
    return success();
  };

  if (failed(parseHeader())) {
    recoverDeclBody("model");
    return nullptr;
  }
  if (failed(parseBracedBody("model", model->body)))
    return nullptr;
  model->range = rangeFrom(start);
  return model;
}

/// input ::= IDENT `:` tensor_type
LogicalResult Parser::parseInput(InputAST &input) {
  if (!curTok.is(Token::identifier))
    return emitExpected("input name");
  SMLoc start = curTok.getLoc();
  input.name = curTok.getSpelling().str();
  consumeToken();
  if (failed(expect(Token::colon, "and a type after the input name")))
    return failure();
  if (failed(parseTensorType(input.type)))
    return failure();
  input.range = rangeFrom(start);
  return success();
}

/// tensor_type ::= IDENT `[` INT {`,` INT} `]`
///
/// Any identifier is accepted as the element type; elaboration checks it.
LogicalResult Parser::parseTensorType(TensorTypeAST &type) {
  if (!curTok.is(Token::identifier))
    return emitExpected("tensor type such as 'f32[1, 3, 32, 32]'");
  SMLoc start = curTok.getLoc();
  type.elementType = curTok.getSpelling().str();
  type.elementTypeRange = curTok.getRange();
  consumeToken();

  SMLoc lsquare = curTok.getLoc();
  if (failed(expect(Token::l_square, "and the dimensions after the element "
                                     "type")))
    return failure();
  do {
    if (curTok.is(Token::identifier)) {
      // f32[N, 1, 28, 28]: sizes are numbers; stand in 1 and go on.
      emitError(curTok.getLoc(),
                "a dimension must be a number, not the name '" +
                    curTok.getSpelling() + "'" +
                    (type.dims.empty()
                         ? "; write the batch size as a number, e.g. "
                           "f32[1, ...], and change it at compile time with "
                           "dlmc --batch N"
                         : ""));
      type.dims.push_back(1);
      type.dimRanges.push_back(curTok.getRange());
      consumeToken();
      continue;
    }
    if (!curTok.is(Token::integer))
      return emitExpected("integer dimension");
    type.dims.push_back(parseInteger(curTok));
    type.dimRanges.push_back(curTok.getRange());
    consumeToken();
  } while (consumeIf(Token::comma));
  if (!consumeIf(Token::r_square))
    return emitExpected("',' or ']' in the dimensions", lsquare,
                        "to match this '['");
  type.range = rangeFrom(start);
  return success();
}

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

/// body ::= { stmt [`;`] }
///
/// Stray `;` are accepted too. Parses up to (not including) the `}` that
/// closes the body; also stops at the end of file and at `block` / `model`,
/// which cannot appear in a body (the caller reports the missing `}`).
Body Parser::parseBody() {
  Body body;
  DepthGuard guard(bodyDepth);
  if (bodyDepth > maxNestingDepth) {
    emitError(curTok.getLoc(), "nesting too deep: bodies nest at most " +
                                   llvm::Twine(maxNestingDepth) + " levels");
    skipToClosingBrace();
    return body;
  }

  while (true) {
    switch (curTok.getKind()) {
    case Token::r_brace:
    case Token::eof:
    case Token::kw_block:
    case Token::kw_model:
      return body;
    case Token::semicolon:
      consumeToken();
      continue;
    default:
      break;
    }
    const char *stmtStart = curTok.getLoc().getPointer();
    if (StmtPtr stmt = parseStatement())
      body.push_back(std::move(stmt));
    else
      recoverInBody(stmtStart);
  }
}

/// Parses `{` body `}` for the construct `what` ("repeat", "branch", ...).
LogicalResult Parser::parseBracedBody(llvm::StringRef what, Body &body) {
  SMLoc lbrace = curTok.getLoc();
  if (failed(expect(Token::l_brace,
                    "to begin the body of '" + llvm::Twine(what) + "'")))
    return failure();
  body = parseBody();
  if (!consumeIf(Token::r_brace))
    return emitExpected("'}' at the end of the body of '" + llvm::Twine(what) +
                            "'",
                        lbrace, "to match this '{'");
  return success();
}

/// stmt ::= call | repeat | if | residual | dense | concat | scale
StmtPtr Parser::parseStatement() {
  switch (curTok.getKind()) {
  case Token::identifier:
    return parseCall();
  case Token::kw_repeat:
    return parseRepeat();
  case Token::kw_if:
    return parseIf();
  case Token::kw_residual:
    return parseResidual();
  case Token::kw_dense:
    return parseDense();
  case Token::kw_concat:
    return parseConcat();
  case Token::kw_else:
    emitError(curTok.getLoc(), "'else' without a preceding 'if'");
    return nullptr;
  case Token::kw_shortcut:
    emitError(curTok.getLoc(),
              "'shortcut' must directly follow the body of a 'residual'");
    return nullptr;
  case Token::kw_branch:
    emitError(curTok.getLoc(), "'branch' is only allowed inside 'concat'");
    return nullptr;
  default:
    emitExpected("statement");
    return nullptr;
  }
}

/// call ::= IDENT [`(` [arg {`,` arg}] `)`] [`as` IDENT]
///
/// A positional argument after a named one is an error.
StmtPtr Parser::parseCall() {
  SMLoc start = curTok.getLoc();
  std::string callee = curTok.getSpelling().str();
  SMRange calleeRange = curTok.getRange();
  consumeToken();

  // scale ::= `scale` `{` body `}`: a keyword only before a brace, so that
  // `scale` stays free as a block or parameter name.
  if (callee == "scale" && curTok.is(Token::l_brace)) {
    Body body;
    if (failed(parseBracedBody("scale", body)))
      return nullptr;
    return std::make_unique<ScaleStmtAST>(rangeFrom(start), std::move(body));
  }

  std::vector<ArgAST> args;
  if (curTok.is(Token::l_paren)) {
    SMLoc lparen = curTok.getLoc();
    consumeToken();
    if (!curTok.is(Token::r_paren)) {
      bool sawNamed = false;
      do {
        SMLoc argStart = curTok.getLoc();
        ArgAST arg;
        if (failed(parseArg(arg, callee, args)))
          return nullptr;
        if (!arg.name.empty())
          sawNamed = true;
        else if (sawNamed)
          emitError(argStart, "positional argument after named argument");
        args.push_back(std::move(arg));
      } while (consumeIf(Token::comma));
    }
    if (!consumeIf(Token::r_paren)) {
      emitExpected("',' or ')' in the argument list", lparen,
                   "to match this '('");
      return nullptr;
    }
  }

  std::optional<std::string> alias;
  SMRange aliasRange;
  if (consumeIf(Token::kw_as)) {
    if (!curTok.is(Token::identifier)) {
      emitExpected("name after 'as'");
      return nullptr;
    }
    alias = curTok.getSpelling().str();
    aliasRange = curTok.getRange();
    consumeToken();
  }
  return std::make_unique<CallStmtAST>(rangeFrom(start), callee, calleeRange,
                                       std::move(args), std::move(alias),
                                       aliasRange);
}

/// arg ::= expr | IDENT `=` expr
LogicalResult Parser::parseArg(ArgAST &arg, llvm::StringRef callee,
                               llvm::ArrayRef<ArgAST> previous) {
  if (curTok.is(Token::identifier) && peekToken().is(Token::equal)) {
    arg.name = curTok.getSpelling().str();
    arg.nameRange = curTok.getRange();
    consumeToken(); // name
    consumeToken(); // `=`
  }
  // nn.GELU(approximate="tanh"): the one string argument; it reads as a
  // bool (approximate="tanh" is approximate=true).
  if (arg.name == "approximate" && curTok.is(Token::string)) {
    Token tok = curTok;
    llvm::StringRef word = tok.getSpelling().drop_front().drop_back();
    consumeToken();
    if (word != "tanh" && word != "none")
      emitError(tok.getLoc(), "approximate must be \"none\" or \"tanh\", "
                              "got \"" +
                                  word + "\"");
    arg.value = std::make_unique<BoolExprAST>(tok.getRange(), word == "tanh");
    return success();
  }
  // PyTorch's padding="same" / "valid": say which integer to write.
  if (arg.name == "padding" && curTok.is(Token::string)) {
    Token tok = curTok;
    llvm::StringRef word = tok.getSpelling().drop_front().drop_back();
    std::optional<int64_t> kernel;
    for (const ArgAST &a : previous) {
      bool isKernel =
          a.name == "kernel" || (a.name.empty() && &a == previous.data() &&
                                 (callee == "maxpool" || callee == "avgpool"));
      if (auto *k = llvm::dyn_cast<IntExprAST>(a.value.get()); k && isKernel)
        kernel = k->getValue();
    }
    std::string hint;
    if (word == "valid")
      hint = "; PyTorch's \"valid\" is padding=0";
    else if (kernel && *kernel > 0 && *kernel % 2 == 1)
      hint = "; \"same\" for kernel " + std::to_string(*kernel) +
             " at stride 1 is padding=" + std::to_string((*kernel - 1) / 2) +
             " ((kernel - 1) / 2)";
    else
      hint = "; \"same\" for an odd kernel k at stride 1 is padding=(k - 1) / "
             "2, e.g. padding=1 for kernel 3";
    emitError(tok.getLoc(),
              "padding must be an integer, not a string" + llvm::Twine(hint));
    consumeToken();
    arg.value = std::make_unique<IntExprAST>(tok.getRange(), 0);
    return success();
  }
  ExprResult value = parseExpr();
  if (!value)
    return failure();
  arg.value = std::move(value.expr);
  return success();
}

/// repeat ::= `repeat` expr `{` body `}`
///          | `repeat` IDENT `in` expr `..` expr `{` body `}`
StmtPtr Parser::parseRepeat() {
  SMLoc start = curTok.getLoc();
  consumeToken(); // `repeat`

  std::string var;
  SMRange varRange;
  ExprPtr count, begin, end;
  if (curTok.is(Token::identifier) && peekToken().is(Token::kw_in)) {
    var = curTok.getSpelling().str();
    varRange = curTok.getRange();
    consumeToken(); // IDENT
    consumeToken(); // `in`
    ExprResult first = parseExpr();
    if (!first)
      return nullptr;
    if (failed(expect(Token::dotdot, "in the range of 'repeat', as in "
                                     "'repeat i in 0..4'")))
      return nullptr;
    ExprResult last = parseExpr();
    if (!last)
      return nullptr;
    begin = std::move(first.expr);
    end = std::move(last.expr);
  } else {
    ExprResult n = parseExpr();
    if (!n)
      return nullptr;
    count = std::move(n.expr);
  }

  Body body;
  if (failed(parseBracedBody("repeat", body)))
    return nullptr;
  return std::make_unique<RepeatStmtAST>(
      rangeFrom(start), std::move(var), varRange, std::move(count),
      std::move(begin), std::move(end), std::move(body));
}

/// if ::= `if` expr `{` body `}` [`else` (`{` body `}` | if)]
StmtPtr Parser::parseIf() {
  SMLoc start = curTok.getLoc();
  consumeToken(); // `if`

  ExprResult cond = parseExpr();
  if (!cond)
    return nullptr;
  Body thenBody, elseBody;
  if (failed(parseBracedBody("if", thenBody)))
    return nullptr;

  if (consumeIf(Token::kw_else)) {
    if (curTok.is(Token::kw_if)) {
      // `else if` nests: it counts as one level of body nesting. Leave room
      // for the nested if's own body, so that a long chain gets one error,
      // here, rather than one for a body and one for the chain.
      DepthGuard guard(bodyDepth);
      if (bodyDepth >= maxNestingDepth) {
        emitError(curTok.getLoc(), "nesting too deep: bodies nest at most " +
                                       llvm::Twine(maxNestingDepth) +
                                       " levels");
        return nullptr;
      }
      StmtPtr elseIf = parseIf();
      if (!elseIf)
        return nullptr;
      elseBody.push_back(std::move(elseIf));
    } else if (curTok.is(Token::l_brace)) {
      if (failed(parseBracedBody("else", elseBody)))
        return nullptr;
    } else {
      emitExpected("'{' or 'if' after 'else'");
      return nullptr;
    }
  }
  return std::make_unique<IfStmtAST>(rangeFrom(start), std::move(cond.expr),
                                     std::move(thenBody), std::move(elseBody));
}

/// residual ::= `residual` `{` body `}` [`shortcut` `{` body `}`]
StmtPtr Parser::parseResidual() {
  SMLoc start = curTok.getLoc();
  consumeToken(); // `residual`

  Body body, shortcut;
  SMRange shortcutRange;
  if (failed(parseBracedBody("residual", body)))
    return nullptr;
  if (curTok.is(Token::kw_shortcut)) {
    shortcutRange = curTok.getRange();
    consumeToken();
    if (failed(parseBracedBody("shortcut", shortcut)))
      return nullptr;
  }
  return std::make_unique<ResidualStmtAST>(rangeFrom(start), std::move(body),
                                           std::move(shortcut), shortcutRange);
}

/// dense ::= `dense` `{` body `}`
StmtPtr Parser::parseDense() {
  SMLoc start = curTok.getLoc();
  consumeToken(); // `dense`

  Body body;
  if (failed(parseBracedBody("dense", body)))
    return nullptr;
  return std::make_unique<DenseStmtAST>(rangeFrom(start), std::move(body));
}

/// concat ::= `concat` `{` branch {branch} `}`
/// branch ::= `branch` `{` body `}`
StmtPtr Parser::parseConcat() {
  SMLoc start = curTok.getLoc();
  SMRange keywordRange = curTok.getRange();
  consumeToken(); // `concat`

  SMLoc lbrace = curTok.getLoc();
  if (failed(expect(Token::l_brace, "to begin the branches of 'concat'")))
    return nullptr;

  unsigned errorsBefore = numErrors;
  std::vector<BranchAST> branches;
  while (!curTok.isAny(Token::r_brace, Token::eof, Token::kw_block,
                       Token::kw_model)) {
    if (consumeIf(Token::semicolon))
      continue;
    if (curTok.is(Token::kw_branch)) {
      SMLoc branchStart = curTok.getLoc();
      consumeToken();
      BranchAST branch;
      if (succeeded(parseBracedBody("branch", branch.body))) {
        branch.range = rangeFrom(branchStart);
        branches.push_back(std::move(branch));
        continue;
      }
      // The branch's `{` was missing (the next iteration reports nothing new
      // at the same token and skips it), or its body ran into the end of the
      // file or a top-level keyword (the loop ends).
      continue;
    }
    // Anything else: report it and skip to the next `branch` or to the `}`
    // that closes the concat.
    emitExpected("'branch' or '}' in 'concat'");
    unsigned braces = 0;
    do {
      if (curTok.is(Token::l_brace))
        ++braces;
      else if (curTok.is(Token::r_brace))
        --braces;
      consumeToken();
    } while (!curTok.isAny(Token::eof, Token::kw_block, Token::kw_model) &&
             !(braces == 0 && curTok.isAny(Token::kw_branch, Token::r_brace)));
  }
  if (!consumeIf(Token::r_brace)) {
    emitExpected("'}' at the end of 'concat'", lbrace, "to match this '{'");
    return nullptr;
  }
  if (branches.empty() && numErrors == errorsBefore)
    emitError(keywordRange.Start, "'concat' needs at least one 'branch'");
  return std::make_unique<ConcatStmtAST>(rangeFrom(start), std::move(branches));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ExprResult Parser::makeBinary(SMLoc start, BinaryExprAST::Op op, SMLoc opLoc,
                              ExprResult lhs, ExprResult rhs) {
  ExprResult result;
  result.height = std::max(lhs.height, rhs.height) + 1;
  if (result.height > maxNestingDepth) {
    emitError(opLoc, "nesting too deep: expressions nest at most " +
                         llvm::Twine(maxNestingDepth) + " levels");
    return {};
  }
  result.expr = std::make_unique<BinaryExprAST>(
      rangeFrom(start), op, opLoc, std::move(lhs.expr), std::move(rhs.expr));
  return result;
}

ExprResult Parser::makeUnary(SMLoc start, UnaryExprAST::Op op,
                             ExprResult operand) {
  ExprResult result;
  result.height = operand.height + 1;
  if (result.height > maxNestingDepth) {
    emitError(start, "nesting too deep: expressions nest at most " +
                         llvm::Twine(maxNestingDepth) + " levels");
    return {};
  }
  result.expr = std::make_unique<UnaryExprAST>(rangeFrom(start), op,
                                               std::move(operand.expr));
  return result;
}

/// expr ::= or_expr
ExprResult Parser::parseExpr() { return parseOr(); }

/// or_expr ::= and_expr {`or` and_expr}
ExprResult Parser::parseOr() {
  SMLoc start = curTok.getLoc();
  ExprResult lhs = parseAnd();
  while (lhs && curTok.is(Token::kw_or)) {
    SMLoc opLoc = curTok.getLoc();
    consumeToken();
    ExprResult rhs = parseAnd();
    if (!rhs)
      return {};
    lhs = makeBinary(start, BinaryExprAST::Or, opLoc, std::move(lhs),
                     std::move(rhs));
  }
  return lhs;
}

/// and_expr ::= not_expr {`and` not_expr}
ExprResult Parser::parseAnd() {
  SMLoc start = curTok.getLoc();
  ExprResult lhs = parseNot();
  while (lhs && curTok.is(Token::kw_and)) {
    SMLoc opLoc = curTok.getLoc();
    consumeToken();
    ExprResult rhs = parseNot();
    if (!rhs)
      return {};
    lhs = makeBinary(start, BinaryExprAST::And, opLoc, std::move(lhs),
                     std::move(rhs));
  }
  return lhs;
}

/// not_expr ::= `not` not_expr | comparison
ExprResult Parser::parseNot() {
  if (!curTok.is(Token::kw_not))
    return parseComparison();
  SMLoc start = curTok.getLoc();
  DepthGuard guard(exprDepth);
  if (exprDepth > maxNestingDepth) {
    emitError(start, "nesting too deep: expressions nest at most " +
                         llvm::Twine(maxNestingDepth) + " levels");
    return {};
  }
  consumeToken(); // `not`
  ExprResult operand = parseNot();
  if (!operand)
    return {};
  return makeUnary(start, UnaryExprAST::Not, std::move(operand));
}

/// The comparison operator spelled by `tok`, if it is one.
static std::optional<BinaryExprAST::Op> getComparisonOp(const Token &tok) {
  switch (tok.getKind()) {
  case Token::equal_equal:
    return BinaryExprAST::Eq;
  case Token::not_equal:
    return BinaryExprAST::Ne;
  case Token::less:
    return BinaryExprAST::Lt;
  case Token::less_equal:
    return BinaryExprAST::Le;
  case Token::greater:
    return BinaryExprAST::Gt;
  case Token::greater_equal:
    return BinaryExprAST::Ge;
  default:
    return std::nullopt;
  }
}

/// comparison ::= additive [(`==` | `!=` | `<` | `<=` | `>` | `>=`) additive]
///
/// Comparisons do not chain: `a < b < c` is an error (reported once; the
/// parse goes on as if they associated to the left).
ExprResult Parser::parseComparison() {
  SMLoc start = curTok.getLoc();
  ExprResult lhs = parseAdditive();
  bool first = true;
  while (lhs) {
    std::optional<BinaryExprAST::Op> op = getComparisonOp(curTok);
    if (!op)
      break;
    SMLoc opLoc = curTok.getLoc();
    if (!first)
      emitError(opLoc, "comparison operators cannot be chained; combine "
                       "comparisons with 'and'");
    first = false;
    consumeToken();
    ExprResult rhs = parseAdditive();
    if (!rhs)
      return {};
    lhs = makeBinary(start, *op, opLoc, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

/// additive ::= multiplicative {(`+` | `-`) multiplicative}
ExprResult Parser::parseAdditive() {
  SMLoc start = curTok.getLoc();
  ExprResult lhs = parseMultiplicative();
  while (lhs && curTok.isAny(Token::plus, Token::minus)) {
    BinaryExprAST::Op op =
        curTok.is(Token::plus) ? BinaryExprAST::Add : BinaryExprAST::Sub;
    SMLoc opLoc = curTok.getLoc();
    consumeToken();
    ExprResult rhs = parseMultiplicative();
    if (!rhs)
      return {};
    lhs = makeBinary(start, op, opLoc, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

/// multiplicative ::= unary {(`*` | `/` | `%`) unary}
ExprResult Parser::parseMultiplicative() {
  SMLoc start = curTok.getLoc();
  ExprResult lhs = parseUnary();
  while (lhs && curTok.isAny(Token::star, Token::slash, Token::percent)) {
    BinaryExprAST::Op op = curTok.is(Token::star)    ? BinaryExprAST::Mul
                           : curTok.is(Token::slash) ? BinaryExprAST::Div
                                                     : BinaryExprAST::Mod;
    SMLoc opLoc = curTok.getLoc();
    consumeToken();
    ExprResult rhs = parseUnary();
    if (!rhs)
      return {};
    lhs = makeBinary(start, op, opLoc, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

/// unary ::= `-` unary | primary
ExprResult Parser::parseUnary() {
  if (!curTok.is(Token::minus))
    return parsePrimary();
  SMLoc start = curTok.getLoc();
  DepthGuard guard(exprDepth);
  if (exprDepth > maxNestingDepth) {
    emitError(start, "nesting too deep: expressions nest at most " +
                         llvm::Twine(maxNestingDepth) + " levels");
    return {};
  }
  consumeToken(); // `-`
  ExprResult operand = parseUnary();
  if (!operand)
    return {};
  return makeUnary(start, UnaryExprAST::Neg, std::move(operand));
}

/// primary ::= INT | FLOAT | `true` | `false` | IDENT
///           | IDENT `(` [expr (`,` expr)* [`,`]] `)`   (a built-in function)
///           | `(` expr `)` | `(` expr (`,` expr)+ [`,`] `)`   (a tuple)
ExprResult Parser::parsePrimary() {
  Token tok = curTok;
  ExprResult result;
  result.height = 1;
  switch (tok.getKind()) {
  case Token::integer: {
    int64_t value = parseInteger(tok);
    consumeToken();
    result.expr = std::make_unique<IntExprAST>(tok.getRange(), value);
    return result;
  }
  case Token::floating: {
    double value = 0;
    if (tok.getSpelling().getAsDouble(value) || !std::isfinite(value)) {
      emitError(tok.getLoc(), "floating-point literal out of range");
      value = 0;
    }
    consumeToken();
    result.expr = std::make_unique<FloatExprAST>(tok.getRange(), value);
    return result;
  }
  case Token::kw_true:
  case Token::kw_false:
    consumeToken();
    result.expr =
        std::make_unique<BoolExprAST>(tok.getRange(), tok.is(Token::kw_true));
    return result;
  case Token::identifier: {
    consumeToken();
    if (!curTok.is(Token::l_paren)) {
      result.expr =
          std::make_unique<NameExprAST>(tok.getRange(), tok.getSpelling());
      return result;
    }
    // A call of a built-in function: `min(a, b)`.
    DepthGuard guard(exprDepth);
    if (exprDepth > maxNestingDepth) {
      emitError(tok.getLoc(), "nesting too deep: expressions nest at most " +
                                  llvm::Twine(maxNestingDepth) + " levels");
      return {};
    }
    SMLoc open = curTok.getLoc();
    consumeToken(); // `(`
    std::vector<ExprPtr> args;
    unsigned height = 0;
    if (!curTok.is(Token::r_paren)) {
      do {
        if (curTok.is(Token::r_paren)) // a trailing comma
          break;
        ExprResult arg = parseExpr();
        if (!arg)
          return {};
        height = std::max(height, arg.height);
        args.push_back(std::move(arg.expr));
      } while (consumeIf(Token::comma));
    }
    if (!consumeIf(Token::r_paren)) {
      emitExpected("')'", open, "to match this '('");
      return {};
    }
    result.height = height + 1;
    result.expr = std::make_unique<CallExprAST>(
        rangeFrom(tok.getLoc()), tok.getSpelling(), tok.getRange(),
        std::move(args));
    return result;
  }
  case Token::string:
    emitError(tok.getLoc(), "strings are not part of the language; values "
                            "are integers, floats and bools");
    consumeToken();
    result.expr = std::make_unique<IntExprAST>(tok.getRange(), 0);
    return result;
  case Token::l_paren: {
    DepthGuard guard(exprDepth);
    if (exprDepth > maxNestingDepth) {
      emitError(tok.getLoc(), "nesting too deep: expressions nest at most " +
                                  llvm::Twine(maxNestingDepth) + " levels");
      return {};
    }
    consumeToken(); // `(`
    ExprResult inner = parseExpr();
    if (!inner)
      return {};
    if (curTok.is(Token::comma)) {
      // A tuple: `(1, 7)`, elements separated by commas, a trailing comma
      // allowed.
      std::vector<ExprPtr> elements;
      unsigned height = inner.height;
      elements.push_back(std::move(inner.expr));
      while (consumeIf(Token::comma)) {
        if (curTok.is(Token::r_paren))
          break;
        ExprResult element = parseExpr();
        if (!element)
          return {};
        height = std::max(height, element.height);
        elements.push_back(std::move(element.expr));
      }
      if (!consumeIf(Token::r_paren)) {
        emitExpected("')'", tok.getLoc(), "to match this '('");
        return {};
      }
      ExprResult tuple;
      tuple.height = height + 1;
      tuple.expr = std::make_unique<TupleExprAST>(rangeFrom(tok.getLoc()),
                                                  std::move(elements));
      return tuple;
    }
    if (!consumeIf(Token::r_paren)) {
      emitExpected("')'", tok.getLoc(), "to match this '('");
      return {};
    }
    return inner;
  }
  default:
    emitExpected("expression");
    return {};
  }
}

//===----------------------------------------------------------------------===//
// Entry point
//===----------------------------------------------------------------------===//

std::unique_ptr<FileAST> dlm::parseFile(const llvm::SourceMgr &sourceMgr,
                                        mlir::MLIRContext *context,
                                        unsigned maxErrors) {
  Parser parser(sourceMgr, context, maxErrors);
  return parser.parseFile();
}

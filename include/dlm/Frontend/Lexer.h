//===- Lexer.h - Lexer for .dlm files ---------------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The lexer turns the main buffer of an llvm::SourceMgr into tokens whose
// spellings point into that buffer, as MLIR's PDLL lexer does. It never
// reports anything itself: a malformed piece of text becomes an `error` token
// and the lexer remembers why, so that the parser can report it through MLIR's
// diagnostic engine (or skip it silently while looking ahead).
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FRONTEND_LEXER_H
#define DLM_FRONTEND_LEXER_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"

#include <string>

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace dlm {

/// One token of a .dlm file: its kind and its text in the source buffer.
class Token {
public:
  enum Kind {
    // Markers.
    eof,
    error,

    // Names and literals.
    identifier, // conv, x, _tmp1
    integer,    // 64
    floating,   // 0.5, 1e-5, 1.5e3
    string,     // "same": not in the language; lexed for a helpful error

    // Keywords.
    kw_and,
    kw_as,
    kw_block,
    kw_branch,
    kw_concat,
    kw_dense,
    kw_else,
    kw_false,
    kw_if,
    kw_in,
    kw_model,
    kw_not,
    kw_or,
    kw_repeat,
    kw_residual,
    kw_shortcut,
    kw_true,

    // Punctuation.
    l_paren,   // (
    r_paren,   // )
    l_brace,   // {
    r_brace,   // }
    l_square,  // [
    r_square,  // ]
    comma,     // ,
    colon,     // :
    semicolon, // ;
    equal,     // =
    dotdot,    // ..

    // Operators.
    plus,          // +
    minus,         // -
    star,          // *
    slash,         // /
    percent,       // %
    equal_equal,   // ==
    not_equal,     // !=
    less,          // <
    less_equal,    // <=
    greater,       // >
    greater_equal, // >=
  };

  Token() : kind(eof) {}
  Token(Kind kind, llvm::StringRef spelling, bool atStartOfLine)
      : kind(kind), spelling(spelling), atStartOfLine(atStartOfLine) {}

  Kind getKind() const { return kind; }
  bool is(Kind k) const { return kind == k; }
  template <typename... Kinds> bool isAny(Kind k, Kinds... others) const {
    return is(k) || isAny(others...);
  }
  bool isAny() const { return false; }
  bool isKeyword() const { return kind >= kw_and && kind <= kw_true; }

  /// The token's text; empty for `eof`.
  llvm::StringRef getSpelling() const { return spelling; }

  /// The first character of the token.
  llvm::SMLoc getLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data());
  }
  /// One past the last character of the token.
  llvm::SMLoc getEndLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data() + spelling.size());
  }
  llvm::SMRange getRange() const { return {getLoc(), getEndLoc()}; }

  /// True when only whitespace and comments precede the token on its line.
  /// Newlines mean nothing to the grammar; the parser uses this to find a
  /// likely statement start when it recovers from an error.
  bool isAtStartOfLine() const { return atStartOfLine; }

  /// How a token of kind `k` is named in diagnostics: "'('", "identifier", ...
  static llvm::StringRef getDescription(Kind k);

  /// The keyword kind spelled `name`, or `identifier` if it is none.
  static Kind getKeywordKind(llvm::StringRef name);

private:
  Kind kind;
  llvm::StringRef spelling;
  bool atStartOfLine = false;
};

/// Splits a buffer into tokens. Comments (`#` to the end of the line) and
/// whitespace, newlines included, separate tokens and are dropped.
///
/// The lexer is a small value: copying it and lexing from the copy is how the
/// parser looks more than one token ahead.
class Lexer {
public:
  /// Lexes the main buffer of `sourceMgr`.
  explicit Lexer(const llvm::SourceMgr &sourceMgr);
  /// Lexes `buffer`, which must stay alive as long as the tokens.
  explicit Lexer(llvm::StringRef buffer);

  /// Returns the next token. At the end of the buffer, returns `eof` forever.
  Token lexToken();

  /// Why the last `error` token returned by lexToken() is malformed.
  llvm::StringRef getErrorMessage() const { return errorMessage; }

private:
  Token formToken(Token::Kind kind, const char *tokStart);
  Token emitError(const char *tokStart, const llvm::Twine &message);

  Token lexIdentifierOrKeyword(const char *tokStart);
  Token lexNumber(const char *tokStart);

  /// Skips whitespace and comments; records whether a newline was crossed.
  void skipWhitespace();

  const char *curPtr;
  const char *bufferEnd;
  /// Whether a newline (or the start of the buffer) precedes the next token.
  bool atStartOfLine = true;
  std::string errorMessage;
};

} // namespace dlm

#endif // DLM_FRONTEND_LEXER_H

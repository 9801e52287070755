//===- Lexer.cpp - Lexer for .dlm files -----------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/Lexer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

using namespace dlm;

//===----------------------------------------------------------------------===//
// Token
//===----------------------------------------------------------------------===//

llvm::StringRef Token::getDescription(Kind k) {
  switch (k) {
  case eof:
    return "end of file";
  case error:
    return "invalid token";
  case identifier:
    return "identifier";
  case integer:
    return "integer";
  case floating:
    return "number";
  case string:
    return "string";
  case kw_and:
    return "'and'";
  case kw_as:
    return "'as'";
  case kw_block:
    return "'block'";
  case kw_branch:
    return "'branch'";
  case kw_concat:
    return "'concat'";
  case kw_dense:
    return "'dense'";
  case kw_else:
    return "'else'";
  case kw_false:
    return "'false'";
  case kw_if:
    return "'if'";
  case kw_in:
    return "'in'";
  case kw_model:
    return "'model'";
  case kw_not:
    return "'not'";
  case kw_or:
    return "'or'";
  case kw_repeat:
    return "'repeat'";
  case kw_residual:
    return "'residual'";
  case kw_shortcut:
    return "'shortcut'";
  case kw_true:
    return "'true'";
  case l_paren:
    return "'('";
  case r_paren:
    return "')'";
  case l_brace:
    return "'{'";
  case r_brace:
    return "'}'";
  case l_square:
    return "'['";
  case r_square:
    return "']'";
  case comma:
    return "','";
  case colon:
    return "':'";
  case semicolon:
    return "';'";
  case equal:
    return "'='";
  case dotdot:
    return "'..'";
  case plus:
    return "'+'";
  case minus:
    return "'-'";
  case star:
    return "'*'";
  case slash:
    return "'/'";
  case percent:
    return "'%'";
  case equal_equal:
    return "'=='";
  case not_equal:
    return "'!='";
  case less:
    return "'<'";
  case less_equal:
    return "'<='";
  case greater:
    return "'>'";
  case greater_equal:
    return "'>='";
  }
  return "token";
}

Token::Kind Token::getKeywordKind(llvm::StringRef name) {
  return llvm::StringSwitch<Kind>(name)
      .Case("and", kw_and)
      .Case("as", kw_as)
      .Case("block", kw_block)
      .Case("branch", kw_branch)
      .Case("concat", kw_concat)
      .Case("dense", kw_dense)
      .Case("else", kw_else)
      .Case("false", kw_false)
      .Case("if", kw_if)
      .Case("in", kw_in)
      .Case("model", kw_model)
      .Case("not", kw_not)
      .Case("or", kw_or)
      .Case("repeat", kw_repeat)
      .Case("residual", kw_residual)
      .Case("shortcut", kw_shortcut)
      .Case("true", kw_true)
      .Default(identifier);
}

//===----------------------------------------------------------------------===//
// Lexer
//===----------------------------------------------------------------------===//

Lexer::Lexer(const llvm::SourceMgr &sourceMgr)
    : Lexer(sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBuffer()) {
}

Lexer::Lexer(llvm::StringRef buffer)
    : curPtr(buffer.begin()), bufferEnd(buffer.end()) {}

Token Lexer::formToken(Token::Kind kind, const char *tokStart) {
  Token tok(kind, llvm::StringRef(tokStart, curPtr - tokStart), atStartOfLine);
  atStartOfLine = false;
  return tok;
}

Token Lexer::emitError(const char *tokStart, const llvm::Twine &message) {
  errorMessage = message.str();
  return formToken(Token::error, tokStart);
}

static bool isIdentifierStart(char c) { return llvm::isAlpha(c) || c == '_'; }

static bool isIdentifierChar(char c) { return llvm::isAlnum(c) || c == '_'; }

void Lexer::skipWhitespace() {
  while (curPtr != bufferEnd) {
    switch (*curPtr) {
    case '\n':
      atStartOfLine = true;
      ++curPtr;
      break;
    case ' ':
    case '\t':
    case '\r':
    case '\v':
    case '\f':
      ++curPtr;
      break;
    case '#':
      // A comment runs to the end of the line; the newline itself is left
      // for the next iteration.
      while (curPtr != bufferEnd && *curPtr != '\n')
        ++curPtr;
      break;
    default:
      return;
    }
  }
}

Token Lexer::lexToken() {
  skipWhitespace();
  const char *tokStart = curPtr;
  if (curPtr == bufferEnd)
    return formToken(Token::eof, tokStart);

  char c = *curPtr++;
  if (isIdentifierStart(c))
    return lexIdentifierOrKeyword(tokStart);
  if (llvm::isDigit(c))
    return lexNumber(tokStart);

  auto next = [&](char expected) {
    if (curPtr != bufferEnd && *curPtr == expected) {
      ++curPtr;
      return true;
    }
    return false;
  };

  switch (c) {
  case '(':
    return formToken(Token::l_paren, tokStart);
  case ')':
    return formToken(Token::r_paren, tokStart);
  case '{':
    return formToken(Token::l_brace, tokStart);
  case '}':
    return formToken(Token::r_brace, tokStart);
  case '[':
    return formToken(Token::l_square, tokStart);
  case ']':
    return formToken(Token::r_square, tokStart);
  case ',':
    return formToken(Token::comma, tokStart);
  case ':':
    return formToken(Token::colon, tokStart);
  case ';':
    return formToken(Token::semicolon, tokStart);
  case '+':
    return formToken(Token::plus, tokStart);
  case '-':
    return formToken(Token::minus, tokStart);
  case '*':
    return formToken(Token::star, tokStart);
  case '/':
    return formToken(Token::slash, tokStart);
  case '%':
    return formToken(Token::percent, tokStart);
  case '=':
    return formToken(next('=') ? Token::equal_equal : Token::equal, tokStart);
  case '<':
    return formToken(next('=') ? Token::less_equal : Token::less, tokStart);
  case '>':
    return formToken(next('=') ? Token::greater_equal : Token::greater,
                     tokStart);
  case '"':
  case '\'':
    // Not part of the language: lexed whole (to the closing quote or the end
    // of the line) so that the parser can explain, e.g. `padding="same"`.
    while (curPtr != bufferEnd && *curPtr != '\n' && *curPtr != c)
      ++curPtr;
    if (curPtr != bufferEnd && *curPtr == c)
      ++curPtr;
    return formToken(Token::string, tokStart);
  case '!':
    if (next('='))
      return formToken(Token::not_equal, tokStart);
    return emitError(tokStart, "unexpected '!'; use 'not' for negation");
  case '.':
    if (next('.'))
      return formToken(Token::dotdot, tokStart);
    if (curPtr != bufferEnd && llvm::isDigit(*curPtr))
      return emitError(tokStart,
                       "a number must start with a digit: write 0.5, not .5");
    return emitError(tokStart, "unexpected '.'");
  default:
    break;
  }

  // Anything else is an invalid character. Take a whole run of non-ASCII
  // bytes at once, so that one UTF-8 character gives one error.
  if (static_cast<unsigned char>(c) >= 0x80) {
    while (curPtr != bufferEnd && static_cast<unsigned char>(*curPtr) >= 0x80)
      ++curPtr;
    return emitError(tokStart, "invalid character (non-ASCII text outside a "
                               "comment)");
  }
  if (llvm::isPrint(c))
    return emitError(tokStart,
                     llvm::Twine("invalid character '") + llvm::Twine(c) + "'");
  std::string hex;
  llvm::raw_string_ostream os(hex);
  os << llvm::format_hex(static_cast<unsigned char>(c), 4);
  return emitError(tokStart, "invalid character " + hex);
}

/// identifier ::= [A-Za-z_][A-Za-z0-9_]*
Token Lexer::lexIdentifierOrKeyword(const char *tokStart) {
  while (curPtr != bufferEnd && isIdentifierChar(*curPtr))
    ++curPtr;
  llvm::StringRef spelling(tokStart, curPtr - tokStart);
  return formToken(Token::getKeywordKind(spelling), tokStart);
}

/// integer  ::= digit+
/// floating ::= digit+ `.` digit+ [exponent] | digit+ exponent
/// exponent ::= (`e` | `E`) [`+` | `-`] digit+
///
/// A `.` that is followed by another `.` is not part of the number: `0..4` is
/// `0`, `..`, `4`.
Token Lexer::lexNumber(const char *tokStart) {
  auto atDigit = [&](const char *p) {
    return p < bufferEnd && llvm::isDigit(*p);
  };
  // Consumes the rest of a malformed number, so that it is one error token.
  auto skipRestOfNumber = [&] {
    while (curPtr != bufferEnd && (isIdentifierChar(*curPtr) ||
                                   (*curPtr == '.' && atDigit(curPtr + 1)) ||
                                   ((*curPtr == '+' || *curPtr == '-') &&
                                    (curPtr[-1] == 'e' || curPtr[-1] == 'E'))))
      ++curPtr;
  };

  while (atDigit(curPtr))
    ++curPtr;

  bool isFloat = false;
  if (curPtr != bufferEnd && *curPtr == '.' &&
      !(curPtr + 1 != bufferEnd && curPtr[1] == '.')) {
    ++curPtr;
    if (!atDigit(curPtr)) {
      skipRestOfNumber();
      return emitError(tokStart, "expected a digit after '.' in number");
    }
    while (atDigit(curPtr))
      ++curPtr;
    isFloat = true;
  }

  if (curPtr != bufferEnd && (*curPtr == 'e' || *curPtr == 'E')) {
    const char *p = curPtr + 1;
    if (p != bufferEnd && (*p == '+' || *p == '-'))
      ++p;
    if (!atDigit(p)) {
      curPtr = p;
      skipRestOfNumber();
      return emitError(tokStart, "expected digits in the exponent of number");
    }
    curPtr = p;
    while (atDigit(curPtr))
      ++curPtr;
    isFloat = true;
  }

  if (curPtr != bufferEnd && isIdentifierChar(*curPtr)) {
    char bad = *curPtr;
    skipRestOfNumber();
    return emitError(tokStart, llvm::Twine("invalid character '") +
                                   llvm::Twine(bad) + "' in number");
  }
  return formToken(isFloat ? Token::floating : Token::integer, tokStart);
}

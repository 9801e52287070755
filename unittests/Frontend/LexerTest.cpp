//===- LexerTest.cpp - Tests of the .dlm lexer ----------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/Lexer.h"

#include "gtest/gtest.h"

#include <string>
#include <utility>
#include <vector>

using namespace dlm;

namespace {

using Lexed = std::vector<std::pair<Token::Kind, std::string>>;

/// Lexes `source` to the end; error tokens are kept.
Lexed lex(llvm::StringRef source) {
  Lexer lexer(source);
  Lexed tokens;
  for (Token tok = lexer.lexToken(); !tok.is(Token::eof);
       tok = lexer.lexToken())
    tokens.emplace_back(tok.getKind(), tok.getSpelling().str());
  return tokens;
}

/// The kinds of the tokens of `source`.
std::vector<Token::Kind> kinds(llvm::StringRef source) {
  std::vector<Token::Kind> result;
  for (auto &[kind, spelling] : lex(source))
    result.push_back(kind);
  return result;
}

/// The first error message when lexing `source`, or "" if there is none.
std::string firstError(llvm::StringRef source) {
  Lexer lexer(source);
  for (Token tok = lexer.lexToken(); !tok.is(Token::eof);
       tok = lexer.lexToken())
    if (tok.is(Token::error))
      return lexer.getErrorMessage().str();
  return "";
}

TEST(LexerTest, Integers) {
  EXPECT_EQ(lex("0 64 007 123456789012345678901234567890"),
            (Lexed{{Token::integer, "0"},
                   {Token::integer, "64"},
                   {Token::integer, "007"},
                   {Token::integer, "123456789012345678901234567890"}}));
}

TEST(LexerTest, Floats) {
  EXPECT_EQ(lex("1e-5 0.5 1.5e3 2E+7 3.25 1e0"),
            (Lexed{{Token::floating, "1e-5"},
                   {Token::floating, "0.5"},
                   {Token::floating, "1.5e3"},
                   {Token::floating, "2E+7"},
                   {Token::floating, "3.25"},
                   {Token::floating, "1e0"}}));
}

TEST(LexerTest, RangeIsNotAFloat) {
  EXPECT_EQ(lex("0..4"), (Lexed{{Token::integer, "0"},
                                {Token::dotdot, ".."},
                                {Token::integer, "4"}}));
  EXPECT_EQ(lex("a..b"), (Lexed{{Token::identifier, "a"},
                                {Token::dotdot, ".."},
                                {Token::identifier, "b"}}));
  EXPECT_EQ(lex("1.5..2"), (Lexed{{Token::floating, "1.5"},
                                  {Token::dotdot, ".."},
                                  {Token::integer, "2"}}));
  EXPECT_EQ(lex("0 .. n-1"), (Lexed{{Token::integer, "0"},
                                    {Token::dotdot, ".."},
                                    {Token::identifier, "n"},
                                    {Token::minus, "-"},
                                    {Token::integer, "1"}}));
}

TEST(LexerTest, MalformedNumbers) {
  EXPECT_EQ(kinds("1e"), (std::vector<Token::Kind>{Token::error}));
  EXPECT_EQ(kinds("1e+"), (std::vector<Token::Kind>{Token::error}));
  EXPECT_EQ(kinds("1."), (std::vector<Token::Kind>{Token::error}));
  EXPECT_EQ(kinds("1.x"), (std::vector<Token::Kind>{Token::error}));
  // A malformed number is one error token, whatever follows in it.
  EXPECT_EQ(lex("64abc 1"),
            (Lexed{{Token::error, "64abc"}, {Token::integer, "1"}}));
  EXPECT_EQ(lex("0x1F"), (Lexed{{Token::error, "0x1F"}}));
  EXPECT_EQ(lex("1e5x"), (Lexed{{Token::error, "1e5x"}}));
  EXPECT_EQ(lex("1ex-3"), (Lexed{{Token::error, "1ex"},
                                 {Token::minus, "-"},
                                 {Token::integer, "3"}}));
  EXPECT_EQ(lex(".5"), (Lexed{{Token::error, "."}, {Token::integer, "5"}}));
  EXPECT_EQ(firstError("64abc"), "invalid character 'a' in number");
  EXPECT_EQ(firstError("1e"), "expected digits in the exponent of number");
  EXPECT_EQ(firstError(".5"),
            "a number must start with a digit: write 0.5, not .5");
}

TEST(LexerTest, Keywords) {
  EXPECT_EQ(kinds("block model repeat in if else residual shortcut dense "
                  "concat branch as true false and or not"),
            (std::vector<Token::Kind>{
                Token::kw_block, Token::kw_model, Token::kw_repeat,
                Token::kw_in, Token::kw_if, Token::kw_else, Token::kw_residual,
                Token::kw_shortcut, Token::kw_dense, Token::kw_concat,
                Token::kw_branch, Token::kw_as, Token::kw_true, Token::kw_false,
                Token::kw_and, Token::kw_or, Token::kw_not}));
  // Layer names and near-keywords are identifiers.
  EXPECT_EQ(kinds("conv relu batchnorm blocks Model _if in2 iN"),
            std::vector<Token::Kind>(8, Token::identifier));
}

TEST(LexerTest, Identifiers) {
  EXPECT_EQ(lex("a _b c1_2 __"), (Lexed{{Token::identifier, "a"},
                                        {Token::identifier, "_b"},
                                        {Token::identifier, "c1_2"},
                                        {Token::identifier, "__"}}));
}

TEST(LexerTest, Punctuation) {
  EXPECT_EQ(kinds("( ) { } [ ] , : ; = .. + - * / % == != < <= > >="),
            (std::vector<Token::Kind>{
                Token::l_paren,      Token::r_paren,     Token::l_brace,
                Token::r_brace,      Token::l_square,    Token::r_square,
                Token::comma,        Token::colon,       Token::semicolon,
                Token::equal,        Token::dotdot,      Token::plus,
                Token::minus,        Token::star,        Token::slash,
                Token::percent,      Token::equal_equal, Token::not_equal,
                Token::less,         Token::less_equal,  Token::greater,
                Token::greater_equal}));
  // Maximal munch without spaces.
  EXPECT_EQ(kinds("a<=b==c!=d>=e=f"),
            (std::vector<Token::Kind>{
                Token::identifier, Token::less_equal, Token::identifier,
                Token::equal_equal, Token::identifier, Token::not_equal,
                Token::identifier, Token::greater_equal, Token::identifier,
                Token::equal, Token::identifier}));
}

TEST(LexerTest, Comments) {
  EXPECT_EQ(lex("# a comment\nrelu # another { } $\n# last line"),
            (Lexed{{Token::identifier, "relu"}}));
  EXPECT_EQ(lex("#"), Lexed{});
  EXPECT_EQ(lex(""), Lexed{});
  // Non-ASCII text is fine in comments.
  EXPECT_EQ(lex("# résumé ✓\nx"), (Lexed{{Token::identifier, "x"}}));
}

TEST(LexerTest, InvalidCharacters) {
  EXPECT_EQ(lex("a $ b"), (Lexed{{Token::identifier, "a"},
                                 {Token::error, "$"},
                                 {Token::identifier, "b"}}));
  EXPECT_EQ(firstError("$"), "invalid character '$'");
  EXPECT_EQ(firstError(llvm::StringRef("\0", 1)), "invalid character 0x00");
  EXPECT_EQ(firstError("\x01"), "invalid character 0x01");
  EXPECT_EQ(firstError("!x"), "unexpected '!'; use 'not' for negation");
  EXPECT_EQ(firstError("a.b"), "unexpected '.'");
  // A UTF-8 character is one error token.
  EXPECT_EQ(lex("é x"), (Lexed{{Token::error, "é"}, {Token::identifier, "x"}}));
}

TEST(LexerTest, StartOfLine) {
  Lexer lexer("a b\n  c # comment\n\n d e");
  std::vector<bool> atStart;
  for (Token tok = lexer.lexToken(); !tok.is(Token::eof);
       tok = lexer.lexToken())
    atStart.push_back(tok.isAtStartOfLine());
  EXPECT_EQ(atStart, (std::vector<bool>{true, false, true, true, false}));
}

TEST(LexerTest, TokenRanges) {
  llvm::StringRef source = "conv(64)";
  Lexer lexer(source);
  Token conv = lexer.lexToken();
  EXPECT_EQ(conv.getLoc().getPointer(), source.data());
  EXPECT_EQ(conv.getEndLoc().getPointer(), source.data() + 4);
  Token lparen = lexer.lexToken();
  Token number = lexer.lexToken();
  EXPECT_EQ(lparen.getLoc().getPointer(), source.data() + 4);
  EXPECT_EQ(number.getRange().Start.getPointer(), source.data() + 5);
  EXPECT_EQ(number.getRange().End.getPointer(), source.data() + 7);
  lexer.lexToken();
  Token eof = lexer.lexToken();
  EXPECT_TRUE(eof.is(Token::eof));
  EXPECT_EQ(eof.getLoc().getPointer(), source.data() + source.size());
  // The end of file is sticky.
  EXPECT_TRUE(lexer.lexToken().is(Token::eof));
}

TEST(LexerTest, Descriptions) {
  EXPECT_EQ(Token::getDescription(Token::r_brace), "'}'");
  EXPECT_EQ(Token::getDescription(Token::identifier), "identifier");
  EXPECT_EQ(Token::getDescription(Token::kw_branch), "'branch'");
  EXPECT_EQ(Token::getKeywordKind("shortcut"), Token::kw_shortcut);
  EXPECT_EQ(Token::getKeywordKind("conv"), Token::identifier);
}

} // namespace

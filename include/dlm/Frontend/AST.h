//===- AST.h - Abstract syntax tree of .dlm files ---------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The AST is what the parser produces and what elaboration (MLIRGen) walks.
// It mirrors the source: nothing is evaluated, no block is expanded. Nodes own
// their children through unique_ptr and carry the source range they came from
// so that every later diagnostic can point at the user's text.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_FRONTEND_AST_H
#define DLM_FRONTEND_AST_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

/// Base class of expressions: literals, names and operators.
class ExprAST {
public:
  enum Kind { Int, Float, Bool, Name, Unary, Binary, Tuple, Call };

  ExprAST(Kind kind, llvm::SMRange range) : kind(kind), range(range) {}
  virtual ~ExprAST() = default;

  Kind getKind() const { return kind; }
  llvm::SMRange getRange() const { return range; }
  llvm::SMLoc getLoc() const { return range.Start; }

private:
  const Kind kind;
  llvm::SMRange range;
};

using ExprPtr = std::unique_ptr<ExprAST>;

/// An integer literal such as `64`.
class IntExprAST : public ExprAST {
public:
  IntExprAST(llvm::SMRange range, int64_t value)
      : ExprAST(Int, range), value(value) {}
  int64_t getValue() const { return value; }
  static bool classof(const ExprAST *e) { return e->getKind() == Int; }

private:
  int64_t value;
};

/// A floating-point literal such as `1e-5` or `0.5`.
class FloatExprAST : public ExprAST {
public:
  FloatExprAST(llvm::SMRange range, double value)
      : ExprAST(Float, range), value(value) {}
  double getValue() const { return value; }
  static bool classof(const ExprAST *e) { return e->getKind() == Float; }

private:
  double value;
};

/// `true` or `false`.
class BoolExprAST : public ExprAST {
public:
  BoolExprAST(llvm::SMRange range, bool value)
      : ExprAST(Bool, range), value(value) {}
  bool getValue() const { return value; }
  static bool classof(const ExprAST *e) { return e->getKind() == Bool; }

private:
  bool value;
};

/// A reference to a block parameter, a loop variable or one of the built-ins
/// `channels`, `height`, `width`.
class NameExprAST : public ExprAST {
public:
  NameExprAST(llvm::SMRange range, llvm::StringRef name)
      : ExprAST(Name, range), name(name.str()) {}
  llvm::StringRef getName() const { return name; }
  static bool classof(const ExprAST *e) { return e->getKind() == Name; }

private:
  std::string name;
};

/// `-e` or `not e`.
class UnaryExprAST : public ExprAST {
public:
  enum Op { Neg, Not };
  UnaryExprAST(llvm::SMRange range, Op op, ExprPtr operand)
      : ExprAST(Unary, range), op(op), operand(std::move(operand)) {}
  Op getOp() const { return op; }
  const ExprAST &getOperand() const { return *operand; }
  static bool classof(const ExprAST *e) { return e->getKind() == Unary; }

private:
  Op op;
  ExprPtr operand;
};

/// `lhs op rhs`. `/` and `%` are floor division and modulo, as Python's `//`
/// and `%`.
class BinaryExprAST : public ExprAST {
public:
  enum Op { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or };
  BinaryExprAST(llvm::SMRange range, Op op, llvm::SMLoc opLoc, ExprPtr lhs,
                ExprPtr rhs)
      : ExprAST(Binary, range), op(op), opLoc(opLoc), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  Op getOp() const { return op; }
  /// Where the operator token is: division by zero points here.
  llvm::SMLoc getOpLoc() const { return opLoc; }
  const ExprAST &getLHS() const { return *lhs; }
  const ExprAST &getRHS() const { return *rhs; }
  static bool classof(const ExprAST *e) { return e->getKind() == Binary; }

  /// The operator's spelling in the source: "+", "and", ...
  static llvm::StringRef getSpelling(Op op);

private:
  Op op;
  llvm::SMLoc opLoc;
  ExprPtr lhs, rhs;
};

/// `(a, b)`: a tuple of two or more elements, for a layer argument that takes
/// a height and a width (`kernel=(1, 7)`), or a block argument passed on.
class TupleExprAST : public ExprAST {
public:
  TupleExprAST(llvm::SMRange range, std::vector<ExprPtr> elements)
      : ExprAST(Tuple, range), elements(std::move(elements)) {}
  llvm::ArrayRef<ExprPtr> getElements() const { return elements; }
  static bool classof(const ExprAST *e) { return e->getKind() == Tuple; }

private:
  std::vector<ExprPtr> elements;
};

/// `f(a, b, ...)`: a call of a built-in function (`int`, `round`, `min`,
/// `max`), Python's.
class CallExprAST : public ExprAST {
public:
  CallExprAST(llvm::SMRange range, llvm::StringRef callee,
              llvm::SMRange calleeRange, std::vector<ExprPtr> args)
      : ExprAST(Call, range), callee(callee.str()), calleeRange(calleeRange),
        args(std::move(args)) {}
  llvm::StringRef getCallee() const { return callee; }
  llvm::SMRange getCalleeRange() const { return calleeRange; }
  llvm::ArrayRef<ExprPtr> getArgs() const { return args; }
  static bool classof(const ExprAST *e) { return e->getKind() == Call; }

private:
  std::string callee;
  llvm::SMRange calleeRange;
  std::vector<ExprPtr> args;
};

//===----------------------------------------------------------------------===//
// Statements
//===----------------------------------------------------------------------===//

class StmtAST;
using StmtPtr = std::unique_ptr<StmtAST>;
using Body = std::vector<StmtPtr>;

/// One argument of a call: positional when `name` is empty.
struct ArgAST {
  std::string name;
  llvm::SMRange nameRange; // empty for positional arguments
  ExprPtr value;
};

/// Base class of statements. A body is a sequence of statements, each one
/// consuming the previous one's output.
class StmtAST {
public:
  enum Kind { Call, Repeat, If, Residual, Dense, Concat, Scale };

  StmtAST(Kind kind, llvm::SMRange range) : kind(kind), range(range) {}
  virtual ~StmtAST() = default;

  Kind getKind() const { return kind; }
  llvm::SMRange getRange() const { return range; }
  llvm::SMLoc getLoc() const { return range.Start; }

private:
  const Kind kind;
  llvm::SMRange range;
};

/// A layer or block call: `relu`, `conv(64, kernel=3, padding=1)`,
/// `dense_block(4, 32) as stage1`. Whether `callee` names a layer or a block
/// is decided by elaboration.
class CallStmtAST : public StmtAST {
public:
  CallStmtAST(llvm::SMRange range, llvm::StringRef callee,
              llvm::SMRange calleeRange, std::vector<ArgAST> args,
              std::optional<std::string> alias, llvm::SMRange aliasRange)
      : StmtAST(Call, range), callee(callee.str()), calleeRange(calleeRange),
        args(std::move(args)), alias(std::move(alias)), aliasRange(aliasRange) {
  }

  llvm::StringRef getCallee() const { return callee; }
  llvm::SMRange getCalleeRange() const { return calleeRange; }
  const std::vector<ArgAST> &getArgs() const { return args; }
  /// The name given with `as NAME`, if any.
  const std::optional<std::string> &getAlias() const { return alias; }
  llvm::SMRange getAliasRange() const { return aliasRange; }
  static bool classof(const StmtAST *s) { return s->getKind() == Call; }

private:
  std::string callee;
  llvm::SMRange calleeRange;
  std::vector<ArgAST> args;
  std::optional<std::string> alias;
  llvm::SMRange aliasRange;
};

/// `repeat N { body }` (no variable) or `repeat i in a..b { body }`.
class RepeatStmtAST : public StmtAST {
public:
  /// Count form: `var` empty, `count` set, `begin`/`end` null.
  /// Range form: `var` set, `begin` and `end` set, `count` null.
  RepeatStmtAST(llvm::SMRange range, std::string var, llvm::SMRange varRange,
                ExprPtr count, ExprPtr begin, ExprPtr end, Body body)
      : StmtAST(Repeat, range), var(std::move(var)), varRange(varRange),
        count(std::move(count)), begin(std::move(begin)), end(std::move(end)),
        body(std::move(body)) {}

  bool hasVar() const { return !var.empty(); }
  llvm::StringRef getVar() const { return var; }
  llvm::SMRange getVarRange() const { return varRange; }
  const ExprAST *getCount() const { return count.get(); }
  const ExprAST *getBegin() const { return begin.get(); }
  const ExprAST *getEnd() const { return end.get(); }
  const Body &getBody() const { return body; }
  static bool classof(const StmtAST *s) { return s->getKind() == Repeat; }

private:
  std::string var;
  llvm::SMRange varRange;
  ExprPtr count, begin, end;
  Body body;
};

/// `if cond { then } else { else }`; `else if` nests an IfStmtAST as the only
/// statement of the else body.
class IfStmtAST : public StmtAST {
public:
  IfStmtAST(llvm::SMRange range, ExprPtr cond, Body thenBody, Body elseBody)
      : StmtAST(If, range), cond(std::move(cond)),
        thenBody(std::move(thenBody)), elseBody(std::move(elseBody)) {}
  const ExprAST &getCond() const { return *cond; }
  const Body &getThen() const { return thenBody; }
  const Body &getElse() const { return elseBody; }
  static bool classof(const StmtAST *s) { return s->getKind() == If; }

private:
  ExprPtr cond;
  Body thenBody, elseBody;
};

/// `residual { body } shortcut { path }`: y = body(x) + shortcut(x). An absent
/// or empty shortcut is the identity.
class ResidualStmtAST : public StmtAST {
public:
  ResidualStmtAST(llvm::SMRange range, Body body, Body shortcut,
                  llvm::SMRange shortcutRange)
      : StmtAST(Residual, range), body(std::move(body)),
        shortcut(std::move(shortcut)), shortcutRange(shortcutRange) {}
  const Body &getBody() const { return body; }
  const Body &getShortcut() const { return shortcut; }
  /// The `shortcut` keyword's range; empty when the shortcut is absent.
  llvm::SMRange getShortcutRange() const { return shortcutRange; }
  static bool classof(const StmtAST *s) { return s->getKind() == Residual; }

private:
  Body body, shortcut;
  llvm::SMRange shortcutRange;
};

/// `dense { body }`: y = concat(x, body(x)) along channels.
class DenseStmtAST : public StmtAST {
public:
  DenseStmtAST(llvm::SMRange range, Body body)
      : StmtAST(Dense, range), body(std::move(body)) {}
  const Body &getBody() const { return body; }
  static bool classof(const StmtAST *s) { return s->getKind() == Dense; }

private:
  Body body;
};

/// `scale { body }`: y = x * body(x), the body's [N, C, 1, 1] result
/// broadcast over height and width (squeeze-and-excitation's channel
/// gating). `scale` is a keyword only where a `{` follows it.
class ScaleStmtAST : public StmtAST {
public:
  ScaleStmtAST(llvm::SMRange range, Body body)
      : StmtAST(Scale, range), body(std::move(body)) {}
  const Body &getBody() const { return body; }
  static bool classof(const StmtAST *s) { return s->getKind() == Scale; }

private:
  Body body;
};

/// One `branch { ... }` of a concat.
struct BranchAST {
  llvm::SMRange range;
  Body body;
};

/// `concat { branch { .. } branch { .. } }`: every branch reads the input;
/// their outputs are joined along channels in order.
class ConcatStmtAST : public StmtAST {
public:
  ConcatStmtAST(llvm::SMRange range, std::vector<BranchAST> branches)
      : StmtAST(Concat, range), branches(std::move(branches)) {}
  const std::vector<BranchAST> &getBranches() const { return branches; }
  static bool classof(const StmtAST *s) { return s->getKind() == Concat; }

private:
  std::vector<BranchAST> branches;
};

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

/// A block parameter, with an optional default value.
struct ParamAST {
  std::string name;
  llvm::SMRange range;
  ExprPtr defaultValue; // null when the parameter has no default
};

/// `block name(params) { body }`.
struct BlockDeclAST {
  std::string name;
  llvm::SMRange nameRange;
  llvm::SMRange range;
  std::vector<ParamAST> params;
  Body body;
};

/// A tensor type as written: `f32[1, 1, 96, 96]`.
struct TensorTypeAST {
  std::string elementType; // "f32"
  llvm::SMRange elementTypeRange;
  std::vector<int64_t> dims;
  std::vector<llvm::SMRange> dimRanges;
  llvm::SMRange range;
};

/// A model input: `x: f32[1, 1, 96, 96]`.
struct InputAST {
  std::string name;
  llvm::SMRange range;
  TensorTypeAST type;
};

/// `model name(inputs) { body }`.
struct ModelDeclAST {
  std::string name;
  llvm::SMRange nameRange;
  llvm::SMRange range;
  std::vector<InputAST> inputs;
  Body body;
};

/// A whole .dlm file: its blocks and models in source order.
struct FileAST {
  std::vector<std::unique_ptr<BlockDeclAST>> blocks;
  std::vector<std::unique_ptr<ModelDeclAST>> models;
};

/// Prints the AST as an indented tree with `line:col` locations (the output
/// of `dlmc --emit=ast`).
void dumpAST(const FileAST &file, const llvm::SourceMgr &sourceMgr,
             llvm::raw_ostream &os);

} // namespace dlm

#endif // DLM_FRONTEND_AST_H

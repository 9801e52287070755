//===- ASTDump.cpp - Print the .dlm AST as an indented tree ---------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The output of `dlmc --emit=ast`: one node per line, children indented by two
// spaces, each line ending in the `@line:col` of the node. Expressions are
// printed inline in source syntax, every operator application in parentheses,
// so that the tree shows how precedence was resolved:
//
//   model densenet @33:7
//     input x: f32[1, 1, 96, 96] @33:16
//     call conv @34:5
//       arg 64 @34:10
//       arg kernel = 7 @34:14
//     repeat i in 0..4 @39:5
//       if (i != 3) @41:9
//         then
//           call transition @41:24
//             arg (channels / 2) @41:35
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/SourceLocation.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace dlm;

llvm::StringRef BinaryExprAST::getSpelling(Op op) {
  switch (op) {
  case Add:
    return "+";
  case Sub:
    return "-";
  case Mul:
    return "*";
  case Div:
    return "/";
  case Mod:
    return "%";
  case Eq:
    return "==";
  case Ne:
    return "!=";
  case Lt:
    return "<";
  case Le:
    return "<=";
  case Gt:
    return ">";
  case Ge:
    return ">=";
  case And:
    return "and";
  case Or:
    return "or";
  }
  return "?";
}

/// Prints `value` as Python's repr() does: the fewest digits that read back
/// as the same double, positional notation for exponents in [-4, 16), and
/// always recognizably a float: `1500.0`, `0.1`, `1e-05`, `1e+16`.
static void printFloat(llvm::raw_ostream &os, double value) {
  if (!std::isfinite(value)) {
    os << (std::isnan(value) ? "nan" : value < 0 ? "-inf" : "inf");
    return;
  }
  char buffer[64];
  int digits = 1;
  for (; digits < 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, value);
  int exponent = std::atoi(std::strchr(buffer, 'e') + 1);
  if (exponent < -4 || exponent >= 16) {
    os << buffer;
    return;
  }
  std::snprintf(buffer, sizeof(buffer), "%.*f",
                std::max(digits - 1 - exponent, 1), value);
  os << buffer;
}

namespace {
/// Walks the AST, printing one line per node.
class ASTPrinter {
public:
  ASTPrinter(const llvm::SourceMgr &sourceMgr, llvm::raw_ostream &os)
      : sourceMgr(sourceMgr), os(os) {}

  void print(const FileAST &file);

private:
  void print(const BlockDeclAST &block);
  void print(const ModelDeclAST &model);
  void print(const Body &body);
  void print(const StmtAST &stmt);
  void printExpr(const ExprAST &expr);

  /// Starts a line at the current indentation.
  llvm::raw_ostream &line() { return os.indent(2 * indent); }
  /// Ends a line with ` @line:col`.
  void endLine(llvm::SMLoc loc);

  /// Indents the lines printed while it lives by one more level.
  struct Nest {
    explicit Nest(ASTPrinter &printer) : printer(printer) { ++printer.indent; }
    ~Nest() { --printer.indent; }
    ASTPrinter &printer;
  };

  const llvm::SourceMgr &sourceMgr;
  llvm::raw_ostream &os;
  unsigned indent = 0;
};
} // namespace

void ASTPrinter::endLine(llvm::SMLoc loc) {
  unsigned bufferID =
      loc.isValid() ? sourceMgr.FindBufferContainingLoc(loc) : 0;
  if (bufferID == 0) {
    os << " @?\n";
    return;
  }
  auto [lineNo, column] = getLineAndColumn(sourceMgr, loc, bufferID);
  os << " @" << lineNo << ":" << column << "\n";
}

void ASTPrinter::print(const FileAST &file) {
  // Blocks and models are kept apart in the AST; print them in source order.
  auto blockIt = file.blocks.begin(), blockEnd = file.blocks.end();
  auto modelIt = file.models.begin(), modelEnd = file.models.end();
  while (blockIt != blockEnd || modelIt != modelEnd) {
    if (modelIt == modelEnd ||
        (blockIt != blockEnd && (*blockIt)->range.Start.getPointer() <
                                    (*modelIt)->range.Start.getPointer()))
      print(**blockIt++);
    else
      print(**modelIt++);
  }
}

void ASTPrinter::print(const BlockDeclAST &block) {
  line() << "block " << block.name;
  endLine(block.nameRange.Start);
  Nest nest(*this);
  for (const ParamAST &param : block.params) {
    line() << "param " << param.name;
    if (param.defaultValue) {
      os << " = ";
      printExpr(*param.defaultValue);
    }
    endLine(param.range.Start);
  }
  print(block.body);
}

void ASTPrinter::print(const ModelDeclAST &model) {
  line() << "model " << model.name;
  endLine(model.nameRange.Start);
  Nest nest(*this);
  for (const InputAST &input : model.inputs) {
    line() << "input " << input.name << ": " << input.type.elementType << "[";
    llvm::interleaveComma(input.type.dims, os);
    os << "]";
    endLine(input.range.Start);
  }
  print(model.body);
}

void ASTPrinter::print(const Body &body) {
  for (const StmtPtr &stmt : body)
    print(*stmt);
}

void ASTPrinter::print(const StmtAST &stmt) {
  llvm::TypeSwitch<const StmtAST *>(&stmt)
      .Case([&](const CallStmtAST *call) {
        line() << "call " << call->getCallee();
        if (call->getAlias())
          os << " as " << *call->getAlias();
        endLine(call->getLoc());
        Nest nest(*this);
        for (const ArgAST &arg : call->getArgs()) {
          line() << "arg ";
          if (!arg.name.empty())
            os << arg.name << " = ";
          printExpr(*arg.value);
          endLine(arg.name.empty() ? arg.value->getLoc() : arg.nameRange.Start);
        }
      })
      .Case([&](const RepeatStmtAST *repeat) {
        line() << "repeat ";
        if (repeat->hasVar()) {
          os << repeat->getVar() << " in ";
          printExpr(*repeat->getBegin());
          os << "..";
          printExpr(*repeat->getEnd());
        } else {
          printExpr(*repeat->getCount());
        }
        endLine(repeat->getLoc());
        Nest nest(*this);
        print(repeat->getBody());
      })
      .Case([&](const IfStmtAST *ifStmt) {
        line() << "if ";
        printExpr(ifStmt->getCond());
        endLine(ifStmt->getLoc());
        Nest nest(*this);
        line() << "then\n";
        {
          Nest nestThen(*this);
          print(ifStmt->getThen());
        }
        if (!ifStmt->getElse().empty()) {
          line() << "else\n";
          Nest nestElse(*this);
          print(ifStmt->getElse());
        }
      })
      .Case([&](const ResidualStmtAST *residual) {
        line() << "residual";
        endLine(residual->getLoc());
        Nest nest(*this);
        line() << "body\n";
        {
          Nest nestBody(*this);
          print(residual->getBody());
        }
        if (residual->getShortcutRange().Start.isValid()) {
          line() << "shortcut";
          endLine(residual->getShortcutRange().Start);
          Nest nestShortcut(*this);
          print(residual->getShortcut());
        }
      })
      .Case([&](const DenseStmtAST *dense) {
        line() << "dense";
        endLine(dense->getLoc());
        Nest nest(*this);
        print(dense->getBody());
      })
      .Case([&](const ScaleStmtAST *scale) {
        line() << "scale";
        endLine(scale->getLoc());
        Nest nest(*this);
        print(scale->getBody());
      })
      .Case([&](const ConcatStmtAST *concat) {
        line() << "concat";
        endLine(concat->getLoc());
        Nest nest(*this);
        for (const BranchAST &branch : concat->getBranches()) {
          line() << "branch";
          endLine(branch.range.Start);
          Nest nestBranch(*this);
          print(branch.body);
        }
      });
}

void ASTPrinter::printExpr(const ExprAST &expr) {
  llvm::TypeSwitch<const ExprAST *>(&expr)
      .Case([&](const IntExprAST *e) { os << e->getValue(); })
      .Case([&](const FloatExprAST *e) { printFloat(os, e->getValue()); })
      .Case([&](const BoolExprAST *e) {
        os << (e->getValue() ? "true" : "false");
      })
      .Case([&](const NameExprAST *e) { os << e->getName(); })
      .Case([&](const UnaryExprAST *e) {
        os << (e->getOp() == UnaryExprAST::Neg ? "(-" : "(not ");
        printExpr(e->getOperand());
        os << ")";
      })
      .Case([&](const BinaryExprAST *e) {
        os << "(";
        printExpr(e->getLHS());
        os << " " << BinaryExprAST::getSpelling(e->getOp()) << " ";
        printExpr(e->getRHS());
        os << ")";
      })
      .Case([&](const TupleExprAST *e) {
        os << "(";
        llvm::interleaveComma(e->getElements(), os,
                              [&](const ExprPtr &x) { printExpr(*x); });
        os << ")";
      })
      .Case([&](const CallExprAST *e) {
        os << e->getCallee() << "(";
        llvm::interleaveComma(e->getArgs(), os,
                              [&](const ExprPtr &x) { printExpr(*x); });
        os << ")";
      });
}

void dlm::dumpAST(const FileAST &file, const llvm::SourceMgr &sourceMgr,
                  llvm::raw_ostream &os) {
  ASTPrinter(sourceMgr, os).print(file);
}

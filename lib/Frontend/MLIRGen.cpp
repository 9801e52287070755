//===- MLIRGen.cpp - Elaborate the .dlm AST into the dlm dialect ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Elaboration walks the model body statement by statement, carrying the MLIR
// value that flows between statements. Block calls are expanded in place
// (with a fresh variable environment and a new naming scope), `repeat` is
// unrolled, `if` is decided, and every layer becomes dlm.param ops for its
// weights followed by the layer's op. See docs/language.md for the language
// and docs/naming.md for the parameter-naming rule implemented here.
//
// Error recovery: a statement that fails is treated as the identity so that
// later, independent errors (an unknown layer, a bad argument) are still
// reported. Once a statement has failed, the shapes flowing further are
// unreliable, so shape errors after it are suppressed rather than reported
// as noise.
//
//===----------------------------------------------------------------------===//

#include "dlm/Frontend/MLIRGen.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Dialect/DLM/ShapeRules.h"
#include "dlm/Frontend/AST.h"
#include "dlm/Frontend/SourceLocation.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <tuple>

using namespace dlm;
using llvm::ArrayRef;
using llvm::SMLoc;
using llvm::SMRange;
using llvm::StringRef;
using mlir::failed;
using mlir::failure;
using mlir::FailureOr;
using mlir::LogicalResult;
using mlir::succeeded;
using mlir::success;
using mlir::dlm::formatShape;
using mlir::dlm::OptLoc;
using mlir::dlm::Shape;

namespace {

//===----------------------------------------------------------------------===//
// Values of the expression language
//===----------------------------------------------------------------------===//

/// An evaluated expression: an integer, a float, a bool or a tuple of
/// values.
struct Value {
  enum Kind { Int, Float, Bool, Tuple } kind = Int;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::vector<Value> elements; // a tuple's

  static Value ofInt(int64_t v) { return {Int, v, 0, false, {}}; }
  static Value ofFloat(double v) { return {Float, 0, v, false, {}}; }
  static Value ofBool(bool v) { return {Bool, 0, 0, v, {}}; }
  static Value ofTuple(std::vector<Value> v) {
    return {Tuple, 0, 0, false, std::move(v)};
  }

  bool isNumber() const { return kind == Int || kind == Float; }
  double asDouble() const { return kind == Int ? double(i) : f; }
  /// Whether this is a tuple of two integers: a (height, width) pair.
  bool isIntPair() const {
    return kind == Tuple && elements.size() == 2 && elements[0].kind == Int &&
           elements[1].kind == Int;
  }
  /// An integer or a pair of integers as (height, width).
  std::array<int64_t, 2> asPair() const {
    if (kind == Tuple)
      return {elements[0].i, elements[1].i};
    return {i, i};
  }

  static StringRef kindName(Kind kind) {
    switch (kind) {
    case Int:
      return "int";
    case Float:
      return "float";
    case Bool:
      return "bool";
    case Tuple:
      return "tuple";
    }
    llvm_unreachable("unknown value kind");
  }
  StringRef kindName() const { return kindName(kind); }
  /// How a value is written: `3`, `0.5`, `true`, `(1, 7)`.
  std::string str() const {
    switch (kind) {
    case Int:
      return std::to_string(i);
    case Float: {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%g", f);
      return buffer;
    }
    case Bool:
      return b ? "true" : "false";
    case Tuple: {
      std::vector<std::string> parts;
      for (const Value &e : elements)
        parts.push_back(e.str());
      return "(" + llvm::join(parts, ", ") + (parts.size() == 1 ? ",)" : ")");
    }
    }
    llvm_unreachable("unknown value kind");
  }
};

/// A variable: a block parameter or a loop variable.
struct Binding {
  std::string name;
  Value value;
};

//===----------------------------------------------------------------------===//
// Layer signatures
//===----------------------------------------------------------------------===//

/// A formal parameter of a layer or block: name, kind and default.
struct Formal {
  std::string name;
  Value::Kind kind;     // for layers; blocks accept any kind
  bool required;        // no default
  bool defaultsToFirst; // stride defaults to the kernel
  Value defaultValue;
  /// An Int formal that also takes a (height, width) pair: `kernel=(1, 7)`.
  bool pair = false;
};

enum class Layer {
  Conv,
  BatchNorm,
  Relu,
  Sigmoid,
  Relu6,
  Hardtanh,
  Tanh,
  Silu,
  Hardswish,
  Hardsigmoid,
  Gelu,
  LeakyRelu,
  Softmax,
  MaxPool,
  AvgPool,
  AdaptiveAvgPool,
  AdaptiveMaxPool,
  GlobalAvgPool,
  Flatten,
  Linear,
  Dropout
};

struct LayerSignature {
  Layer layer;
  const char *name;
  std::vector<Formal> formals;
  /// How many leading arguments may be positional (0 or 1); the rest are
  /// keyword-only, so that PyTorch's positional habits (`nn.Conv2d(1, 6, 5)`,
  /// `nn.BatchNorm2d(6)`) are refused instead of silently misread.
  unsigned numPositional = 0;
  /// What the positional argument is, for diagnostics: "out channels".
  const char *positionalWhat = "";
  /// The PyTorch module and the names of its positional parameters, in
  /// order, for the hint that rewrites a PyTorch-style call; "" where dlm
  /// infers the value (the input channels).
  const char *torchModule = "";
  std::vector<const char *> torchOrder = {};
};

Formal required(const char *name, Value::Kind kind) {
  return {name, kind, true, false, {}};
}
Formal optional(const char *name, Value value) {
  return {name, value.kind, false, false, value};
}
/// A size that is one integer or a (height, width) pair.
Formal pairFormal(Formal formal) {
  formal.pair = true;
  return formal;
}

/// The built-in layers and their PyTorch-like signatures.
const std::vector<LayerSignature> &layerSignatures() {
  static const std::vector<LayerSignature> signatures = [] {
    Formal stride = pairFormal({"stride", Value::Int, false, true, {}});
    Formal kernel = pairFormal(required("kernel", Value::Int));
    Formal padding = pairFormal(optional("padding", Value::ofInt(0)));
    std::vector<LayerSignature> s;
    s.push_back({Layer::Conv,
                 "conv",
                 {required("out", Value::Int), kernel,
                  pairFormal(optional("stride", Value::ofInt(1))), padding,
                  optional("bias", Value::ofBool(true)),
                  optional("groups", Value::ofInt(1)),
                  pairFormal(optional("dilation", Value::ofInt(1)))},
                 1,
                 "out channels",
                 "nn.Conv2d",
                 {"", "out", "kernel", "stride", "padding", "dilation",
                  "groups", "bias"}});
    s.push_back({Layer::BatchNorm,
                 "batchnorm",
                 {optional("eps", Value::ofFloat(1e-5)),
                  optional("momentum", Value::ofFloat(0.1))},
                 0,
                 "",
                 "nn.BatchNorm2d",
                 {"", "eps", "momentum"}});
    s.push_back({Layer::Relu, "relu", {}});
    s.push_back({Layer::Sigmoid, "sigmoid", {}});
    s.push_back({Layer::Relu6, "relu6", {}});
    s.push_back({Layer::Softmax, "softmax", {}});
    s.push_back({Layer::Hardtanh,
                 "hardtanh",
                 {optional("min", Value::ofFloat(-1.0)),
                  optional("max", Value::ofFloat(1.0))},
                 0,
                 "",
                 "nn.Hardtanh",
                 {"min", "max"}});
    s.push_back({Layer::Tanh, "tanh", {}});
    s.push_back({Layer::Silu, "silu", {}});
    s.push_back({Layer::Hardswish, "hardswish", {}});
    s.push_back({Layer::Hardsigmoid, "hardsigmoid", {}});
    s.push_back({Layer::Gelu,
                 "gelu",
                 {optional("approximate", Value::ofBool(false))},
                 0,
                 "",
                 "nn.GELU",
                 {"approximate"}});
    s.push_back({Layer::LeakyRelu,
                 "leaky_relu",
                 {optional("slope", Value::ofFloat(0.01))},
                 1,
                 "negative slope",
                 "nn.LeakyReLU",
                 {"slope"}});
    s.push_back(
        {Layer::MaxPool,
         "maxpool",
         {kernel, stride, padding, optional("ceil_mode", Value::ofBool(false))},
         1,
         "kernel size",
         "nn.MaxPool2d",
         {"kernel", "stride", "padding", "dilation", "return_indices",
          "ceil_mode"}});
    s.push_back(
        {Layer::AvgPool,
         "avgpool",
         {kernel, stride, padding, optional("ceil_mode", Value::ofBool(false)),
          optional("count_include_pad", Value::ofBool(true))},
         1,
         "kernel size",
         "nn.AvgPool2d",
         {"kernel", "stride", "padding", "ceil_mode", "count_include_pad"}});
    // adaptive_avgpool(7) or adaptive_avgpool(6, 7): PyTorch's
    // output_size, one number for a square output or height and width.
    Formal width = {"width", Value::Int, false, true, {}};
    for (auto [layer, name, module] :
         {std::tuple{Layer::AdaptiveAvgPool, "adaptive_avgpool",
                     "nn.AdaptiveAvgPool2d"},
          std::tuple{Layer::AdaptiveMaxPool, "adaptive_maxpool",
                     "nn.AdaptiveMaxPool2d"}})
      s.push_back({layer,
                   name,
                   {pairFormal(required("size", Value::Int)), width},
                   2,
                   "the output height and width",
                   module,
                   {"size", "width"}});
    s.push_back({Layer::GlobalAvgPool, "global_avgpool", {}});
    s.push_back({Layer::Flatten, "flatten", {}});
    s.push_back(
        {Layer::Linear,
         "linear",
         {required("out", Value::Int), optional("bias", Value::ofBool(true))},
         1,
         "out features",
         "nn.Linear",
         {"", "out", "bias"}});
    s.push_back({Layer::Dropout,
                 "dropout",
                 {optional("p", Value::ofFloat(0.5))},
                 1,
                 "drop probability p",
                 "nn.Dropout",
                 {"p"}});
    return s;
  }();
  return signatures;
}

const LayerSignature *lookupLayer(StringRef name) {
  for (const LayerSignature &sig : layerSignatures())
    if (name == sig.name)
      return &sig;
  return nullptr;
}

/// The candidate `word` is most likely a typo of: the closest one within an
/// edit distance of a third of the word (at least 1), or one that differs
/// only in case; "" when none is that close.
std::string closestMatch(StringRef word, ArrayRef<std::string> candidates) {
  unsigned limit = std::max<unsigned>(1, word.size() / 3);
  unsigned best = limit + 1;
  std::string match;
  for (const std::string &candidate : candidates) {
    if (candidate == word)
      continue;
    unsigned distance =
        word.equals_insensitive(candidate)
            ? 0
            : word.edit_distance(candidate, /*AllowReplacements=*/true, limit);
    if (distance < best) {
      best = distance;
      match = candidate;
    }
  }
  return match;
}

/// "; did you mean 'conv'?" for the closest match, or "".
std::string didYouMean(StringRef word, ArrayRef<std::string> candidates) {
  std::string match = closestMatch(word, candidates);
  return match.empty() ? "" : "; did you mean '" + match + "'?";
}

//===----------------------------------------------------------------------===//
// Naming scopes
//===----------------------------------------------------------------------===//

/// The model body and each block call open a naming scope. Within it, the
/// n-th call of a callee gets the segment `<callee><n>` (or its `as` name).
struct NameScope {
  std::string prefix; // "" for the model, else "a.b." with the dot
  llvm::StringMap<unsigned> counters;
};

/// The most statements (counting each unrolled iteration) one elaboration
/// may execute: a bound that keeps absurd inputs from running for ever.
constexpr unsigned kMaxSteps = 1000000;

/// How deeply block calls may nest (a chain of distinct blocks, each calling
/// the next; a block calling itself is refused as recursion).
constexpr unsigned kMaxCallDepth = 256;

/// How deeply statements may nest in one elaboration, counting through block
/// calls: the parser bounds the nesting inside one declaration, this bounds
/// the sum over a chain of calls. Elaboration recurses once per level, so
/// both limits keep deep input from exhausting the stack.
constexpr unsigned kMaxElaborationDepth = 512;

//===----------------------------------------------------------------------===//
// The elaborator
//===----------------------------------------------------------------------===//

class MLIRGenImpl {
public:
  MLIRGenImpl(mlir::MLIRContext &context, const llvm::SourceMgr &sourceMgr,
              unsigned maxErrors, std::optional<int64_t> batch)
      : context(context), sourceMgr(sourceMgr), builder(&context),
        maxErrors(maxErrors), batch(batch) {}

  mlir::OwningOpRef<mlir::ModuleOp> generate(const FileAST &file);

private:
  mlir::MLIRContext &context;
  const llvm::SourceMgr &sourceMgr;
  mlir::OpBuilder builder;
  unsigned maxErrors;
  /// The batch that replaces the input type's first dimension (--batch).
  std::optional<int64_t> batch;
  unsigned numErrors = 0;
  unsigned steps = 0;
  /// Statements being elaborated, innermost last, through block calls.
  unsigned depth = 0;
  /// Set when elaboration must stop (error limit or step limit).
  bool aborted = false;
  /// Set after a statement failed: the shapes flowing on are unreliable.
  bool shapesUnreliable = false;
  /// Errors already reported (position and message), so that an error
  /// inside a block is reported once, not once per call.
  llvm::StringSet<> reported;

  llvm::StringMap<const BlockDeclAST *> blocks;
  /// Blocks being expanded, innermost last (recursion detection).
  std::vector<const BlockDeclAST *> callStack;
  /// The location of each enclosing block call, innermost last.
  std::vector<mlir::Location> callerLocs;
  std::vector<Binding> env;
  std::vector<NameScope> nameScopes;
  /// Full parameter names already defined, with where.
  llvm::StringMap<SMLoc> paramNames;

  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  /// The location of `loc` as seen through the enclosing block calls.
  mlir::Location loc(SMLoc where) {
    mlir::Location l = getLocation(sourceMgr, &context, where);
    if (callerLocs.empty())
      return l;
    return mlir::CallSiteLoc::get(l, callerLocs.back());
  }

  /// Whether the error `message` at `where` should be emitted: not when it
  /// was already reported (the same block error seen through another call),
  /// nor past the error limit.
  bool shouldReport(SMLoc where, StringRef message) {
    if (aborted)
      return false;
    std::string key =
        std::to_string(reinterpret_cast<uintptr_t>(where.getPointer()));
    if (!reported.insert(key + ":" + message.str()).second)
      return false;
    if (++numErrors <= maxErrors)
      return true;
    aborted = true;
    mlir::emitError(loc(where))
        << "too many errors (" << maxErrors << "), stopping";
    return false;
  }

  /// Reports an error at `where` (once per source position) and fails.
  template <typename... Args>
  LogicalResult error(SMLoc where, const Args &...args) {
    std::string message;
    llvm::raw_string_ostream os(message);
    (os << ... << args);
    if (shouldReport(where, message))
      mlir::emitError(loc(where)) << message;
    return failure();
  }

  /// Counts one unit of elaboration work; fails when a model is absurdly
  /// large (e.g. `repeat 1000000000 { relu }`).
  LogicalResult step(SMLoc where) {
    if (++steps <= kMaxSteps)
      return success();
    aborted = true;
    if (steps == kMaxSteps + 1)
      mlir::emitError(loc(where)) << "model too large: elaboration exceeded "
                                  << kMaxSteps << " statements";
    ++numErrors;
    return failure();
  }

  /// Runs a shape rule silently; on failure, runs it again with a location
  /// so that it reports (unless shapes are already unreliable).
  template <typename Rule> FailureOr<Shape> checkShape(SMLoc where, Rule rule) {
    FailureOr<Shape> shape = rule(std::nullopt);
    if (succeeded(shape))
      return shape;
    if (!shapesUnreliable && shouldReport(where, "shape rule"))
      (void)rule(loc(where));
    return failure();
  }

  //===--------------------------------------------------------------------===//
  // Expressions
  //===--------------------------------------------------------------------===//

  FailureOr<Value> eval(const ExprAST &expr, mlir::Value input);
  FailureOr<Value> evalBinary(const BinaryExprAST &expr, mlir::Value input);
  FailureOr<Value> evalCall(const CallExprAST &expr, mlir::Value input);
  FailureOr<Value> lookupName(const NameExprAST &expr, mlir::Value input);

  //===--------------------------------------------------------------------===//
  // Statements
  //===--------------------------------------------------------------------===//

  mlir::Value genBody(const Body &body, mlir::Value input);
  FailureOr<mlir::Value> genStmt(const StmtAST &stmt, mlir::Value input);
  FailureOr<mlir::Value> genCall(const CallStmtAST &call, mlir::Value input);
  FailureOr<mlir::Value> genBlockCall(const CallStmtAST &call,
                                      const BlockDeclAST &block,
                                      mlir::Value input);
  FailureOr<mlir::Value> genLayer(const CallStmtAST &call,
                                  const LayerSignature &sig,
                                  ArrayRef<Value> args, mlir::Value input);
  FailureOr<mlir::Value> genRepeat(const RepeatStmtAST &stmt,
                                   mlir::Value input);
  FailureOr<mlir::Value> genIf(const IfStmtAST &stmt, mlir::Value input);
  FailureOr<mlir::Value> genResidual(const ResidualStmtAST &stmt,
                                     mlir::Value input);
  FailureOr<mlir::Value> genDense(const DenseStmtAST &stmt, mlir::Value input);
  FailureOr<mlir::Value> genScale(const ScaleStmtAST &stmt, mlir::Value input);
  FailureOr<mlir::Value> genConcat(const ConcatStmtAST &stmt,
                                   mlir::Value input);
  /// dlm.concat of `inputs` (already checked to agree but in channels).
  FailureOr<mlir::Value> buildConcat(SMLoc where, mlir::ValueRange inputs);

  /// The chain of block calls being expanded, ending with a call of `callee`:
  /// `'a' -> 'b' -> ... -> 'callee'`, the middle elided when long.
  std::string describeChain(const BlockDeclAST &callee) const {
    constexpr size_t kEnds = 3;
    std::string chain;
    auto append = [&](const BlockDeclAST &block) {
      if (!chain.empty())
        chain += " -> ";
      chain += "'" + block.name + "'";
    };
    for (auto [i, block] : llvm::enumerate(callStack)) {
      if (i < kEnds || i + kEnds >= callStack.size())
        append(*block);
      else if (i == kEnds)
        chain += " -> ...";
    }
    append(callee);
    return chain;
  }

  /// Refuses more positional arguments than `sig` takes, with the call
  /// rewritten by name (in PyTorch's order where the call looks like one).
  LogicalResult checkPositional(const CallStmtAST &call,
                                const LayerSignature &sig);

  /// Binds the arguments of `call` to `formals`, positional first, then
  /// named; an unbound formal stays empty. Layers check kinds; blocks
  /// (`checkKinds` false) take any kind.
  FailureOr<std::vector<std::optional<Value>>>
  bindArgs(const CallStmtAST &call, StringRef what, ArrayRef<Formal> formals,
           bool checkKinds, mlir::Value input);

  /// The naming segment of `call` in the current scope (`conv3`, or the
  /// `as` name); advances the scope's counter.
  std::string nextSegment(const CallStmtAST &call);
  /// Creates `dlm.param "<prefix><segment>.<suffix>"`, diagnosing duplicates.
  FailureOr<mlir::Value> param(const CallStmtAST &call, StringRef segment,
                               StringRef suffix, ArrayRef<int64_t> shape);

  /// The `weight` and, if `biasShape` is given, `bias` params of a conv or
  /// linear layer; the call's naming segment advances once.
  FailureOr<std::pair<mlir::Value, mlir::Value>>
  weightAndBias(const CallStmtAST &call, ArrayRef<int64_t> weightShape,
                const Shape *biasShape) {
    std::string segment = nextSegment(call);
    FailureOr<mlir::Value> weight = param(call, segment, "weight", weightShape);
    if (failed(weight))
      return failure();
    if (!biasShape)
      return std::make_pair(*weight, mlir::Value());
    FailureOr<mlir::Value> bias = param(call, segment, "bias", *biasShape);
    if (failed(bias))
      return failure();
    return std::make_pair(*weight, *bias);
  }

  /// Refuses a tensor of more than kMaxTensorBytes (or whose size overflows
  /// int64), so that no later size computation can overflow.
  LogicalResult checkSize(SMLoc where, StringRef what,
                          ArrayRef<int64_t> shape) {
    if (mlir::dlm::checkedTensorBytes(shape))
      return success();
    return error(where, what, " f32", formatShape(shape),
                 " is too large: a tensor may hold at most 2^40 bytes");
  }

  mlir::RankedTensorType tensorType(ArrayRef<int64_t> shape) {
    return mlir::RankedTensorType::get(shape, builder.getF32Type());
  }
  static ArrayRef<int64_t> shapeOf(mlir::Value value) {
    return llvm::cast<mlir::RankedTensorType>(value.getType()).getShape();
  }
  /// A float the way a user would write it: `0.1`, `1e-05`.
  static std::string formatFloat(double value) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", value);
    return buffer;
  }
  /// `f32[1, 64, 48, 48]`, the way the language writes types.
  static std::string typeString(mlir::Value value) {
    return "f32" + formatShape(shapeOf(value));
  }
};

} // namespace

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

FailureOr<Value> MLIRGenImpl::lookupName(const NameExprAST &expr,
                                         mlir::Value input) {
  StringRef name = expr.getName();
  for (const Binding &binding : llvm::reverse(env))
    if (binding.name == name)
      return binding.value;

  ArrayRef<int64_t> shape = shapeOf(input);
  if (name == "channels")
    return Value::ofInt(shape[1]);
  if (name == "height" || name == "width") {
    if (shape.size() != 4)
      return error(expr.getLoc(), "'", name,
                   "' is only defined for [N, C, H, W] "
                   "inputs, but the input here is ",
                   typeString(input));
    return Value::ofInt(shape[name == "height" ? 2 : 3]);
  }
  if (name == "True" || name == "False")
    return error(expr.getLoc(), "unknown name '", name, "'; dlm writes '",
                 name.lower(), "', in lower case");
  std::vector<std::string> candidates = {"channels", "height", "width"};
  for (const Binding &binding : env)
    candidates.push_back(binding.name);
  return error(expr.getLoc(), "unknown name '", name, "'",
               didYouMean(name, candidates));
}

FailureOr<Value> MLIRGenImpl::eval(const ExprAST &expr, mlir::Value input) {
  if (auto *e = llvm::dyn_cast<IntExprAST>(&expr))
    return Value::ofInt(e->getValue());
  if (auto *e = llvm::dyn_cast<FloatExprAST>(&expr))
    return Value::ofFloat(e->getValue());
  if (auto *e = llvm::dyn_cast<BoolExprAST>(&expr))
    return Value::ofBool(e->getValue());
  if (auto *e = llvm::dyn_cast<NameExprAST>(&expr))
    return lookupName(*e, input);
  if (auto *e = llvm::dyn_cast<UnaryExprAST>(&expr)) {
    FailureOr<Value> operand = eval(e->getOperand(), input);
    if (failed(operand))
      return failure();
    if (e->getOp() == UnaryExprAST::Not) {
      if (operand->kind != Value::Bool)
        return error(e->getLoc(), "'not' expects a bool, got ",
                     operand->kindName());
      return Value::ofBool(!operand->b);
    }
    if (!operand->isNumber())
      return error(e->getLoc(), "'-' expects a number, got ",
                   operand->kindName());
    if (operand->kind == Value::Float)
      return Value::ofFloat(-operand->f);
    if (operand->i == std::numeric_limits<int64_t>::min())
      return error(e->getLoc(), "integer overflow in '-'");
    return Value::ofInt(-operand->i);
  }
  if (auto *e = llvm::dyn_cast<TupleExprAST>(&expr)) {
    std::vector<Value> elements;
    for (const ExprPtr &element : e->getElements()) {
      FailureOr<Value> v = eval(*element, input);
      if (failed(v))
        return failure();
      elements.push_back(std::move(*v));
    }
    return Value::ofTuple(std::move(elements));
  }
  if (auto *e = llvm::dyn_cast<CallExprAST>(&expr))
    return evalCall(*e, input);
  return evalBinary(llvm::cast<BinaryExprAST>(expr), input);
}

FailureOr<Value> MLIRGenImpl::evalCall(const CallExprAST &expr,
                                       mlir::Value input) {
  StringRef callee = expr.getCallee();
  SMLoc where = expr.getCalleeRange().Start;
  static const std::vector<std::string> functions = {"int", "round", "min",
                                                     "max"};
  if (!llvm::is_contained(functions, callee)) {
    std::string hint = didYouMean(callee, functions);
    if (hint.empty())
      hint = "; the functions are: " + llvm::join(functions, ", ");
    if (lookupLayer(callee) || blocks.count(callee))
      hint = "; '" + callee.str() +
             "' is a layer or block, a statement of its own, not a value";
    return error(where, "unknown function '", callee, "'", hint);
  }
  std::vector<Value> args;
  for (const ExprPtr &arg : expr.getArgs()) {
    FailureOr<Value> v = eval(*arg, input);
    if (failed(v))
      return failure();
    args.push_back(std::move(*v));
  }

  if (callee == "min" || callee == "max") {
    // min(a, b, ...) or min(tuple), as Python's: the first extreme element.
    std::vector<Value> items = args;
    if (args.size() == 1 && args[0].kind == Value::Tuple)
      items = args[0].elements;
    if (items.empty() || (args.size() == 1 && args[0].kind != Value::Tuple))
      return error(where, callee,
                   "() expects two or more numbers, or a tuple of them");
    for (const Value &item : items)
      if (!item.isNumber())
        return error(where, callee, "() expects numbers, got ",
                     item.kindName());
    bool isMin = callee == "min";
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
      const Value &a = items[i], &b = items[best];
      bool bothInt = a.kind == Value::Int && b.kind == Value::Int;
      bool less = bothInt ? a.i < b.i : a.asDouble() < b.asDouble();
      bool greater = bothInt ? a.i > b.i : a.asDouble() > b.asDouble();
      if (isMin ? less : greater)
        best = i;
    }
    return items[best];
  }

  // int(x) and round(x): one number (or bool) in, an integer out.
  if (args.size() != 1)
    return error(where, callee, "() takes one argument, got ", args.size());
  const Value &x = args[0];
  if (x.kind == Value::Int)
    return x;
  if (x.kind == Value::Bool)
    return Value::ofInt(x.b ? 1 : 0);
  if (x.kind != Value::Float)
    return error(where, callee, "() expects a number, got ", x.kindName());
  // int() truncates toward zero; round() rounds half to even, as Python 3.
  double r = callee == "int" ? std::trunc(x.f) : std::nearbyint(x.f);
  if (!(r >= -9.2233720368547758e18 && r < 9.2233720368547758e18))
    return error(where, callee, "(", x.str(), ") does not fit an integer");
  return Value::ofInt(int64_t(r));
}

FailureOr<Value> MLIRGenImpl::evalBinary(const BinaryExprAST &expr,
                                         mlir::Value input) {
  using Op = BinaryExprAST::Op;
  Op op = expr.getOp();
  StringRef spelling = BinaryExprAST::getSpelling(op);

  FailureOr<Value> lhs = eval(expr.getLHS(), input);
  if (failed(lhs))
    return failure();

  // `and` / `or` short-circuit, as in Python.
  if (op == Op::And || op == Op::Or) {
    if (lhs->kind != Value::Bool)
      return error(expr.getOpLoc(), "'", spelling, "' expects bools, got ",
                   lhs->kindName());
    if (lhs->b == (op == Op::Or))
      return *lhs;
    FailureOr<Value> rhs = eval(expr.getRHS(), input);
    if (failed(rhs))
      return failure();
    if (rhs->kind != Value::Bool)
      return error(expr.getOpLoc(), "'", spelling, "' expects bools, got ",
                   rhs->kindName());
    return *rhs;
  }

  FailureOr<Value> rhs = eval(expr.getRHS(), input);
  if (failed(rhs))
    return failure();

  if ((op == Op::Eq || op == Op::Ne) &&
      (lhs->kind == Value::Tuple || rhs->kind == Value::Tuple)) {
    // Tuples compare equal when they hold equal values, as in Python.
    std::function<bool(const Value &, const Value &)> same =
        [&](const Value &a, const Value &b) {
          if (a.kind == Value::Tuple || b.kind == Value::Tuple)
            return a.kind == b.kind && a.elements.size() == b.elements.size() &&
                   llvm::all_of(
                       llvm::zip(a.elements, b.elements), [&](auto pair) {
                         return same(std::get<0>(pair), std::get<1>(pair));
                       });
          if (a.kind == Value::Bool || b.kind == Value::Bool)
            return a.kind == b.kind && a.b == b.b;
          return a.kind == Value::Int && b.kind == Value::Int
                     ? a.i == b.i
                     : a.asDouble() == b.asDouble();
        };
    return Value::ofBool(same(*lhs, *rhs) == (op == Op::Eq));
  }
  if (op == Op::Eq || op == Op::Ne) {
    if ((lhs->kind == Value::Bool) != (rhs->kind == Value::Bool))
      return error(expr.getOpLoc(), "cannot compare ", lhs->kindName(),
                   " with ", rhs->kindName());
    bool equal = lhs->kind == Value::Bool ? lhs->b == rhs->b
                 : lhs->kind == Value::Int && rhs->kind == Value::Int
                     ? lhs->i == rhs->i
                     : lhs->asDouble() == rhs->asDouble();
    return Value::ofBool(equal == (op == Op::Eq));
  }

  if (!lhs->isNumber() || !rhs->isNumber())
    return error(expr.getOpLoc(), "'", spelling, "' expects numbers, got ",
                 lhs->kindName(), " and ", rhs->kindName());

  if (op == Op::Lt || op == Op::Le || op == Op::Gt || op == Op::Ge) {
    bool bothInt = lhs->kind == Value::Int && rhs->kind == Value::Int;
    auto less = [&](const Value &a, const Value &b) {
      return bothInt ? a.i < b.i : a.asDouble() < b.asDouble();
    };
    switch (op) {
    case Op::Lt:
      return Value::ofBool(less(*lhs, *rhs));
    case Op::Gt:
      return Value::ofBool(less(*rhs, *lhs));
    case Op::Le:
      return Value::ofBool(!less(*rhs, *lhs));
    default:
      return Value::ofBool(!less(*lhs, *rhs));
    }
  }

  if (lhs->kind == Value::Int && rhs->kind == Value::Int) {
    int64_t a = lhs->i, b = rhs->i;
    std::optional<int64_t> result;
    switch (op) {
    case Op::Add:
      result = llvm::checkedAdd(a, b);
      break;
    case Op::Sub:
      result = llvm::checkedSub(a, b);
      break;
    case Op::Mul:
      result = llvm::checkedMul(a, b);
      break;
    case Op::Div:
    case Op::Mod: {
      if (b == 0)
        return error(expr.getOpLoc(), "division by zero");
      if (a == std::numeric_limits<int64_t>::min() && b == -1) {
        if (op == Op::Mod)
          return Value::ofInt(0);
        break; // overflow
      }
      // Python's floor division and modulo.
      int64_t q = a / b, r = a % b;
      if (r != 0 && ((r < 0) != (b < 0))) {
        --q;
        r += b;
      }
      result = op == Op::Div ? q : r;
      break;
    }
    default:
      llvm_unreachable("not an arithmetic operator");
    }
    if (!result)
      return error(expr.getOpLoc(), "integer overflow in '", spelling, "'");
    return Value::ofInt(*result);
  }

  double a = lhs->asDouble(), b = rhs->asDouble(), result = 0;
  switch (op) {
  case Op::Add:
    result = a + b;
    break;
  case Op::Sub:
    result = a - b;
    break;
  case Op::Mul:
    result = a * b;
    break;
  case Op::Div:
  case Op::Mod:
    if (b == 0)
      return error(expr.getOpLoc(), "division by zero");
    result = op == Op::Div ? a / b : a - std::floor(a / b) * b;
    break;
  default:
    llvm_unreachable("not an arithmetic operator");
  }
  if (!std::isfinite(result))
    return error(expr.getOpLoc(), "floating-point overflow in '", spelling,
                 "'");
  return Value::ofFloat(result);
}

//===----------------------------------------------------------------------===//
// Calls
//===----------------------------------------------------------------------===//

FailureOr<std::vector<std::optional<Value>>>
MLIRGenImpl::bindArgs(const CallStmtAST &call, StringRef what,
                      ArrayRef<Formal> formals, bool checkKinds,
                      mlir::Value input) {
  std::vector<std::optional<Value>> bound(formals.size());
  bool ok = true;
  size_t position = 0;
  for (const ArgAST &arg : call.getArgs()) {
    size_t index;
    SMLoc where = arg.value->getLoc();
    if (arg.name.empty()) {
      index = position++;
      if (index >= formals.size()) {
        ok = false;
        (void)error(where, what, " takes ", formals.size(), " argument",
                    formals.size() == 1 ? "" : "s", ", got ",
                    call.getArgs().size());
        break;
      }
    } else {
      where = arg.nameRange.Start;
      auto it = llvm::find_if(
          formals, [&](const Formal &f) { return f.name == arg.name; });
      if (it == formals.end()) {
        ok = false;
        std::vector<std::string> names;
        for (const Formal &f : formals)
          names.push_back(f.name);
        std::string hint = didYouMean(arg.name, names);
        if (hint.empty())
          hint = formals.empty()
                     ? std::string(" (it takes none)")
                     : "; expected one of: " + llvm::join(names, ", ");
        (void)error(where, "unknown argument '", arg.name, "' of ", what, hint);
        continue;
      }
      index = it - formals.begin();
      if (bound[index]) {
        ok = false;
        (void)error(where, "argument '", arg.name, "' of ", what,
                    " is given twice");
        continue;
      }
    }
    FailureOr<Value> value = eval(*arg.value, input);
    if (failed(value)) {
      ok = false;
      continue;
    }
    const Formal &formal = formals[index];
    if (checkKinds && formal.pair && value->kind == Value::Tuple) {
      if (!value->isIntPair()) {
        ok = false;
        (void)error(arg.value->getLoc(), "argument '", formal.name, "' of ",
                    what,
                    " must be an int or a pair of ints (height, width), "
                    "got ",
                    value->str());
        continue;
      }
    } else if (checkKinds && value->kind != formal.kind) {
      // Integers are accepted where a float is expected.
      if (formal.kind == Value::Float && value->kind == Value::Int) {
        *value = Value::ofFloat(double(value->i));
      } else {
        ok = false;
        (void)error(arg.value->getLoc(), "argument '", formal.name, "' of ",
                    what, " must be ", Value::kindName(formal.kind),
                    formal.pair ? " or a pair of ints (height, width)" : "",
                    ", got ", value->kindName());
        continue;
      }
    }
    bound[index] = *value;
  }
  if (!ok)
    return failure();
  for (auto [i, formal] : llvm::enumerate(formals))
    if (!bound[i] && formal.required)
      return error(call.getLoc(), what, " needs the argument '", formal.name,
                   "'");
  return bound;
}

/// The source text of `expr`.
static StringRef sourceText(const ExprAST &expr) {
  SMRange range = expr.getRange();
  return StringRef(range.Start.getPointer(),
                   range.End.getPointer() - range.Start.getPointer());
}

LogicalResult MLIRGenImpl::checkPositional(const CallStmtAST &call,
                                           const LayerSignature &sig) {
  std::vector<const ExprAST *> positional;
  for (const ArgAST &arg : call.getArgs())
    if (arg.name.empty())
      positional.push_back(arg.value.get());
  // Layers without arguments keep bindArgs' "takes 0 arguments".
  if (positional.size() <= sig.numPositional || sig.formals.empty())
    return success();

  // Read the positional arguments in PyTorch's order where the call looks
  // like a PyTorch one, else in the order of dlm's signature.
  bool torch = true;
  switch (sig.layer) {
  case Layer::Conv: // nn.Conv2d(in, out, kernel); conv(out, kernel) else
    torch = positional.size() >= 3;
    break;
  case Layer::Linear: // nn.Linear(in, out); linear(out, bias) else
    torch = !llvm::isa<BoolExprAST>(positional[1]);
    break;
  case Layer::BatchNorm: // nn.BatchNorm2d(C); batchnorm(eps) else
    torch = !llvm::isa<FloatExprAST>(positional[0]);
    break;
  default: // pools and dropout: PyTorch's order is dlm's
    break;
  }
  std::vector<std::string> order;
  if (torch)
    order.assign(sig.torchOrder.begin(), sig.torchOrder.end());
  else
    for (const Formal &f : sig.formals)
      order.push_back(f.name);

  // The call rewritten: the positional argument, then the others by name.
  bool rewritable = positional.size() <= order.size();
  std::vector<std::string> parts;
  llvm::StringSet<> named;
  for (auto [i, expr] : llvm::enumerate(positional)) {
    if (!rewritable)
      break;
    const std::string &name = order[i];
    if (name.empty()) // inferred from the input
      continue;
    bool isFirst = sig.numPositional == 1 && name == sig.formals[0].name;
    parts.push_back(isFirst ? sourceText(*expr).str()
                            : name + "=" + sourceText(*expr).str());
    if (!isFirst)
      named.insert(name);
  }
  for (const ArgAST &arg : call.getArgs()) {
    if (arg.name.empty())
      continue;
    if (!named.insert(arg.name).second)
      rewritable = false; // given both ways: no single spelling to offer
    parts.push_back(arg.name + "=" + sourceText(*arg.value).str());
  }
  std::string rewrite = sig.name;
  if (!parts.empty())
    rewrite += "(" + llvm::join(parts, ", ") + ")";

  std::string message;
  llvm::raw_string_ostream os(message);
  os << "'" << sig.name << "' takes ";
  if (sig.numPositional == 0)
    os << "no positional argument";
  else if (sig.numPositional == 2)
    os << "at most two positional arguments (" << sig.positionalWhat << ")";
  else
    os << "one positional argument (" << sig.positionalWhat
       << "), the others by name";
  if (sig.layer == Layer::BatchNorm && torch) {
    os << ": the channel count of " << sig.torchModule << "("
       << sourceText(*positional[0]) << ") is inferred from the input";
    if (rewritable)
      os << "; write "
         << (parts.empty() ? "batchnorm or batchnorm(eps=...)" : rewrite);
  } else if (rewritable && torch && !sig.torchOrder.front()[0]) {
    std::vector<std::string> given;
    for (const ExprAST *expr : positional)
      given.push_back(sourceText(*expr).str());
    os << "; " << sig.torchModule << "(" << llvm::join(given, ", ")
       << ") is written " << rewrite << " (the input's size is inferred)";
  } else if (rewritable) {
    os << "; write " << rewrite << "?";
  }
  return error(positional[sig.numPositional]->getLoc(), message);
}

std::string MLIRGenImpl::nextSegment(const CallStmtAST &call) {
  NameScope &scope = nameScopes.back();
  unsigned n = ++scope.counters[call.getCallee()];
  if (call.getAlias())
    return *call.getAlias();
  return (call.getCallee() + llvm::Twine(n)).str();
}

FailureOr<mlir::Value> MLIRGenImpl::param(const CallStmtAST &call,
                                          StringRef segment, StringRef suffix,
                                          ArrayRef<int64_t> shape) {
  std::string name = (nameScopes.back().prefix + segment + "." + suffix).str();
  if (failed(checkSize(call.getLoc(), "parameter '" + name + "'", shape)))
    return failure();
  auto [it, inserted] = paramNames.try_emplace(name, call.getLoc());
  if (!inserted) {
    SMLoc where = call.getAlias() ? call.getAliasRange().Start : call.getLoc();
    std::string message = "duplicate parameter name '" + name + "'";
    if (shouldReport(where, message)) {
      mlir::InFlightDiagnostic diag = mlir::emitError(loc(where)) << message;
      diag.attachNote(getLocation(sourceMgr, &context, it->second))
          << "first defined here";
    }
    return failure();
  }
  return builder
      .create<mlir::dlm::ParamOp>(loc(call.getLoc()), tensorType(shape),
                                  builder.getStringAttr(name))
      .getResult();
}

FailureOr<mlir::Value> MLIRGenImpl::genCall(const CallStmtAST &call,
                                            mlir::Value input) {
  StringRef callee = call.getCallee();
  if (const BlockDeclAST *block = blocks.lookup(callee))
    return genBlockCall(call, *block, input);

  const LayerSignature *sig = lookupLayer(callee);
  if (!sig) {
    std::vector<std::string> layers, candidates;
    for (const LayerSignature &s : layerSignatures())
      layers.push_back(s.name);
    candidates = layers;
    for (const auto &entry : blocks)
      candidates.push_back(entry.getKey().str());
    std::string hint = didYouMean(callee, candidates);
    if (hint.empty())
      hint = "; layers are: " + llvm::join(layers, ", ");
    return error(call.getLoc(), "unknown layer or block '", callee, "'", hint);
  }
  if (failed(checkPositional(call, *sig)))
    return failure();
  FailureOr<std::vector<std::optional<Value>>> bound =
      bindArgs(call, "'" + callee.str() + "'", sig->formals,
               /*checkKinds=*/true, input);
  if (failed(bound))
    return failure();
  std::vector<Value> args;
  for (auto [value, formal] : llvm::zip(*bound, sig->formals))
    args.push_back(value                    ? *value
                   : formal.defaultsToFirst ? args.front()
                                            : formal.defaultValue);
  return genLayer(call, *sig, args, input);
}

FailureOr<mlir::Value> MLIRGenImpl::genBlockCall(const CallStmtAST &call,
                                                 const BlockDeclAST &block,
                                                 mlir::Value input) {
  if (llvm::is_contained(callStack, &block))
    return error(call.getLoc(), "recursive call of block '", block.name,
                 "'; blocks may not call themselves, directly or through "
                 "other blocks");
  if (callStack.size() >= kMaxCallDepth)
    return error(call.getLoc(), "block calls nested more than ", kMaxCallDepth,
                 " deep: ", describeChain(block));

  std::vector<Formal> formals;
  for (const ParamAST &p : block.params)
    formals.push_back({p.name, Value::Int, !p.defaultValue, false, {}});
  FailureOr<std::vector<std::optional<Value>>> args =
      bindArgs(call, "block '" + block.name + "'", formals,
               /*checkKinds=*/false, input);
  if (failed(args))
    return failure();

  // A block sees its parameters only, not the caller's variables. Defaults
  // are evaluated left to right, and may use the earlier parameters and the
  // built-ins of the input shape.
  std::vector<Binding> blockEnv;
  mlir::Location callLoc = loc(call.getLoc());
  std::swap(env, blockEnv);
  callStack.push_back(&block);
  callerLocs.push_back(callLoc);
  auto restore = llvm::make_scope_exit([&] {
    std::swap(env, blockEnv);
    callStack.pop_back();
    callerLocs.pop_back();
  });
  bool ok = true;
  for (auto [value, p] : llvm::zip(*args, block.params)) {
    if (!value) {
      FailureOr<Value> d = eval(*p.defaultValue, input);
      if (failed(d)) {
        ok = false;
        continue;
      }
      value = *d;
    }
    env.push_back({p.name, *value});
  }
  if (!ok)
    return failure();

  std::string segment = nextSegment(call);
  nameScopes.push_back({nameScopes.back().prefix + segment + ".", {}});
  auto popScope = llvm::make_scope_exit([&] { nameScopes.pop_back(); });
  return genBody(block.body, input);
}

FailureOr<mlir::Value> MLIRGenImpl::genLayer(const CallStmtAST &call,
                                             const LayerSignature &sig,
                                             ArrayRef<Value> args,
                                             mlir::Value input) {
  using namespace mlir::dlm;
  mlir::Location l = loc(call.getLoc());
  ArrayRef<int64_t> in = shapeOf(input);

  // Value checks that do not depend on the input shape.
  // (A pair's elements are checked each.)
  auto positive = [&](size_t index, StringRef what) -> LogicalResult {
    std::array<int64_t, 2> v = args[index].asPair();
    if (v[0] > 0 && v[1] > 0)
      return success();
    return error(call.getLoc(), sig.name, " ", what, " must be positive, got ",
                 args[index].str());
  };
  auto nonNegative = [&](size_t index, StringRef what) -> LogicalResult {
    std::array<int64_t, 2> v = args[index].asPair();
    if (v[0] >= 0 && v[1] >= 0)
      return success();
    return error(call.getLoc(), sig.name, " ", what,
                 " must be non-negative, got ", args[index].str());
  };

  switch (sig.layer) {
  case Layer::Conv: {
    if (failed(positive(0, "output channels")) ||
        failed(positive(1, "kernel size")) || failed(positive(2, "stride")) ||
        failed(nonNegative(3, "padding")) || failed(positive(5, "groups")) ||
        failed(positive(6, "dilation")))
      return failure();
    int64_t out = args[0].i, groups = args[5].i;
    std::array<int64_t, 2> k = args[1].asPair();
    bool hasBias = args[4].b;
    std::array<int64_t, 2> stride = args[2].asPair();
    std::array<int64_t, 2> padding = args[3].asPair();
    std::array<int64_t, 2> dilation = args[6].asPair();
    if (in.size() != 4) {
      Shape weight = {out, 1, k[0], k[1]};
      (void)checkShape(call.getLoc(), [&](OptLoc at) {
        return inferConv2dShape(at, in, weight, std::nullopt, stride, padding,
                                groups, dilation);
      });
      return failure();
    }
    if (in[1] % groups != 0 || out % groups != 0)
      return error(call.getLoc(), "conv groups (", groups,
                   ") must divide the input channels (", in[1],
                   ") and the output channels (", out, ")");
    Shape weight = {out, in[1] / groups, k[0], k[1]};
    Shape bias = {out};
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferConv2dShape(at, in, weight,
                              hasBias ? std::optional<ArrayRef<int64_t>>(bias)
                                      : std::nullopt,
                              stride, padding, groups, dilation);
    });
    if (failed(result))
      return failure();
    FailureOr<std::pair<mlir::Value, mlir::Value>> wb =
        weightAndBias(call, weight, hasBias ? &bias : nullptr);
    if (failed(wb))
      return failure();
    auto [w, b] = *wb;
    return builder
        .create<Conv2dOp>(l, tensorType(*result), input, w, b,
                          builder.getDenseI64ArrayAttr(stride),
                          builder.getDenseI64ArrayAttr(padding),
                          builder.getI64IntegerAttr(groups),
                          dilation == std::array<int64_t, 2>{1, 1}
                              ? mlir::DenseI64ArrayAttr()
                              : builder.getDenseI64ArrayAttr(dilation))
        .getResult();
  }
  case Layer::BatchNorm: {
    double eps = args[0].asDouble();
    // The dialect's constraint on epsilon (DLM_EpsilonAttr), reported at
    // the statement.
    if (!(eps > 0))
      return error(call.getLoc(), "batchnorm eps must be positive, got ",
                   formatFloat(eps));
    int64_t c = in.size() >= 2 ? in[1] : 0;
    Shape stat = {c};
    ArrayRef<int64_t> stats[] = {stat, stat, stat, stat};
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferBatchNormShape(at, in, stats);
    });
    if (failed(result))
      return failure();
    std::string segment = nextSegment(call);
    mlir::Value operands[4];
    const char *suffixes[] = {"weight", "bias", "running_mean", "running_var"};
    for (int i = 0; i < 4; ++i) {
      FailureOr<mlir::Value> p = param(call, segment, suffixes[i], stat);
      if (failed(p))
        return failure();
      operands[i] = *p;
    }
    return builder
        .create<BatchNormOp>(l, tensorType(*result), input, operands[0],
                             operands[1], operands[2], operands[3],
                             builder.getF64FloatAttr(eps))
        .getResult();
  }
  case Layer::Relu:
    nextSegment(call);
    return builder.create<ReluOp>(l, input).getResult();
  case Layer::Sigmoid:
    nextSegment(call);
    return builder.create<SigmoidOp>(l, input).getResult();
  case Layer::Softmax:
    if (in.size() != 2)
      return error(call.getLoc(),
                   "softmax expects an [N, F] input (a final "
                   "layer, after flatten and linear), got ",
                   mlir::dlm::formatShape(in));
    nextSegment(call);
    return builder.create<SoftmaxOp>(l, input).getResult();
  case Layer::Relu6:
  case Layer::Hardtanh:
  case Layer::Tanh:
  case Layer::Silu:
  case Layer::Hardswish:
  case Layer::Hardsigmoid:
  case Layer::Gelu:
  case Layer::LeakyRelu: {
    Activation kind;
    llvm::SmallVector<double, 2> params;
    switch (sig.layer) {
    case Layer::Relu6:
      kind = Activation::Relu6;
      break;
    case Layer::Hardtanh: {
      double lo = args[0].asDouble(), hi = args[1].asDouble();
      // nn.Hardtanh asserts max_val > min_val.
      if (!(lo < hi))
        return error(call.getLoc(), "hardtanh min (", formatFloat(lo),
                     ") must be less than max (", formatFloat(hi), ")");
      kind = Activation::Hardtanh;
      params = {lo, hi};
      break;
    }
    case Layer::Tanh:
      kind = Activation::Tanh;
      break;
    case Layer::Silu:
      kind = Activation::Silu;
      break;
    case Layer::Hardswish:
      kind = Activation::Hardswish;
      break;
    case Layer::Hardsigmoid:
      kind = Activation::Hardsigmoid;
      break;
    case Layer::Gelu:
      kind = args[0].b ? Activation::GeluTanh : Activation::Gelu;
      break;
    default: {
      double slope = args[0].asDouble();
      if (!std::isfinite(slope))
        return error(call.getLoc(), "leaky_relu slope must be finite, got ",
                     formatFloat(slope));
      kind = Activation::LeakyRelu;
      params = {slope};
      break;
    }
    }
    nextSegment(call);
    return builder
        .create<ActivationOp>(
            l, input.getType(), ActivationAttr::get(&context, kind), input,
            params.empty() ? mlir::DenseF64ArrayAttr()
                           : builder.getDenseF64ArrayAttr(params))
        .getResult();
  }
  case Layer::MaxPool:
  case Layer::AvgPool: {
    if (failed(positive(0, "kernel size")) || failed(positive(1, "stride")) ||
        failed(nonNegative(2, "padding")))
      return failure();
    std::array<int64_t, 2> kernel = args[0].asPair();
    std::array<int64_t, 2> stride = args[1].asPair();
    std::array<int64_t, 2> padding = args[2].asPair();
    bool isMax = sig.layer == Layer::MaxPool;
    bool ceilMode = args[3].b;
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferPool2dShape(at, sig.name, in, kernel, stride, padding,
                              ceilMode);
    });
    if (failed(result))
      return failure();
    nextSegment(call);
    auto k = builder.getDenseI64ArrayAttr(kernel);
    auto s = builder.getDenseI64ArrayAttr(stride);
    auto p = builder.getDenseI64ArrayAttr(padding);
    mlir::UnitAttr ceil = ceilMode ? builder.getUnitAttr() : mlir::UnitAttr();
    if (isMax)
      return builder
          .create<MaxPool2dOp>(l, tensorType(*result), input, k, s, p, ceil)
          .getResult();
    // count_include_pad is recorded only when it is not the default.
    mlir::BoolAttr includePad =
        args[4].b ? mlir::BoolAttr() : builder.getBoolAttr(false);
    return builder
        .create<AvgPool2dOp>(l, tensorType(*result), input, k, s, p, ceil,
                             includePad)
        .getResult();
  }
  case Layer::AdaptiveAvgPool:
  case Layer::AdaptiveMaxPool: {
    // adaptive_avgpool((6, 7)) as PyTorch's output_size, or
    // adaptive_avgpool(6, 7); the width defaults to the first argument.
    if (args[0].kind == Value::Tuple && args[1].kind != Value::Tuple)
      return error(call.getLoc(), sig.name,
                   " takes the output size as a pair or as height and width, "
                   "not both");
    if (failed(positive(0, "output size")) ||
        failed(positive(1, "output width")))
      return failure();
    std::array<int64_t, 2> size = args[0].kind == Value::Tuple
                                      ? args[0].asPair()
                                      : std::array{args[0].i, args[1].i};
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferAdaptivePool2dShape(at, sig.name, in, size);
    });
    if (failed(result))
      return failure();
    nextSegment(call);
    auto s = builder.getDenseI64ArrayAttr(size);
    if (sig.layer == Layer::AdaptiveMaxPool)
      return builder
          .create<AdaptiveMaxPool2dOp>(l, tensorType(*result), input, s)
          .getResult();
    return builder.create<AdaptiveAvgPool2dOp>(l, tensorType(*result), input, s)
        .getResult();
  }
  case Layer::GlobalAvgPool: {
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferGlobalAvgPoolShape(at, in);
    });
    if (failed(result))
      return failure();
    nextSegment(call);
    return builder.create<GlobalAvgPoolOp>(l, tensorType(*result), input)
        .getResult();
  }
  case Layer::Flatten: {
    FailureOr<Shape> result = checkShape(
        call.getLoc(), [&](OptLoc at) { return inferFlattenShape(at, in); });
    if (failed(result))
      return failure();
    nextSegment(call);
    return builder.create<FlattenOp>(l, tensorType(*result), input).getResult();
  }
  case Layer::Linear: {
    if (failed(positive(0, "output features")))
      return failure();
    int64_t out = args[0].i;
    bool hasBias = args[1].b;
    int64_t features = in.size() == 2 ? in[1] : 1;
    Shape weight = {out, features};
    Shape bias = {out};
    FailureOr<Shape> result = checkShape(call.getLoc(), [&](OptLoc at) {
      return inferLinearShape(at, in, weight,
                              hasBias ? std::optional<ArrayRef<int64_t>>(bias)
                                      : std::nullopt);
    });
    if (failed(result))
      return failure();
    FailureOr<std::pair<mlir::Value, mlir::Value>> wb =
        weightAndBias(call, weight, hasBias ? &bias : nullptr);
    if (failed(wb))
      return failure();
    auto [w, b] = *wb;
    return builder.create<LinearOp>(l, tensorType(*result), input, w, b)
        .getResult();
  }
  case Layer::Dropout: {
    double p = args[0].asDouble();
    if (!(p >= 0 && p < 1))
      return error(call.getLoc(), "dropout probability must be in [0, 1), got ",
                   formatFloat(p));
    nextSegment(call);
    return builder
        .create<DropoutOp>(l, input.getType(), input,
                           builder.getF64FloatAttr(p))
        .getResult();
  }
  }
  llvm_unreachable("unknown layer");
}

//===----------------------------------------------------------------------===//
// Control flow and combinators
//===----------------------------------------------------------------------===//

FailureOr<mlir::Value> MLIRGenImpl::genRepeat(const RepeatStmtAST &stmt,
                                              mlir::Value input) {
  int64_t begin = 0, end = 0;
  auto evalInt = [&](const ExprAST &e, StringRef what) -> FailureOr<int64_t> {
    FailureOr<Value> v = eval(e, input);
    if (failed(v))
      return failure();
    if (v->kind != Value::Int)
      return error(e.getLoc(), what, " must be an int, got ", v->kindName());
    return v->i;
  };
  if (!stmt.hasVar()) {
    FailureOr<int64_t> count = evalInt(*stmt.getCount(), "repeat count");
    if (failed(count))
      return failure();
    if (*count < 0)
      return error(stmt.getCount()->getLoc(),
                   "repeat count must be non-negative, got ", *count);
    end = *count;
  } else {
    FailureOr<int64_t> b = evalInt(*stmt.getBegin(), "range start");
    FailureOr<int64_t> e = evalInt(*stmt.getEnd(), "range end");
    if (failed(b) || failed(e))
      return failure();
    begin = *b;
    end = *e;
  }

  mlir::Value value = input;
  for (int64_t i = begin; i < end && !aborted; ++i) {
    if (failed(step(stmt.getLoc())))
      return failure();
    if (stmt.hasVar())
      env.push_back({stmt.getVar().str(), Value::ofInt(i)});
    value = genBody(stmt.getBody(), value);
    if (stmt.hasVar())
      env.pop_back();
  }
  return value;
}

FailureOr<mlir::Value> MLIRGenImpl::genIf(const IfStmtAST &stmt,
                                          mlir::Value input) {
  FailureOr<Value> cond = eval(stmt.getCond(), input);
  if (failed(cond))
    return failure();
  if (cond->kind != Value::Bool)
    return error(stmt.getCond().getLoc(), "if condition must be a bool, got ",
                 cond->kindName());
  return genBody(cond->b ? stmt.getThen() : stmt.getElse(), input);
}

FailureOr<mlir::Value> MLIRGenImpl::genResidual(const ResidualStmtAST &stmt,
                                                mlir::Value input) {
  mlir::Value body = genBody(stmt.getBody(), input);
  mlir::Value shortcut = genBody(stmt.getShortcut(), input);
  if (body.getType() != shortcut.getType()) {
    if (shapesUnreliable)
      return failure();
    return error(stmt.getLoc(), "residual body produces ", typeString(body),
                 " but the shortcut produces ", typeString(shortcut),
                 "; they must match to be added",
                 stmt.getShortcut().empty()
                     ? " (the shortcut is the identity: give it a projection)"
                     : "");
  }
  return builder.create<mlir::dlm::AddOp>(loc(stmt.getLoc()), body, shortcut)
      .getResult();
}

/// Whether two shapes can be concatenated on channels: both [N, C, H, W]
/// with the same N, H and W.
static bool concatenable(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  return a.size() == 4 && b.size() == 4 && a[0] == b[0] && a[2] == b[2] &&
         a[3] == b[3];
}

FailureOr<mlir::Value> MLIRGenImpl::genDense(const DenseStmtAST &stmt,
                                             mlir::Value input) {
  mlir::Value body = genBody(stmt.getBody(), input);
  if (!concatenable(shapeOf(input), shapeOf(body))) {
    if (shapesUnreliable)
      return failure();
    return error(stmt.getLoc(), "dense body turns ", typeString(input),
                 " into ", typeString(body),
                 "; to be concatenated on channels, both must be "
                 "[N, C, H, W] with the same N, H and W");
  }
  return buildConcat(stmt.getLoc(), {input, body});
}

FailureOr<mlir::Value> MLIRGenImpl::genScale(const ScaleStmtAST &stmt,
                                             mlir::Value input) {
  mlir::Value gate = genBody(stmt.getBody(), input);
  if (shapesUnreliable)
    return failure();
  ArrayRef<int64_t> in = shapeOf(input), g = shapeOf(gate);
  // The usual slip: a gate that ends [N, C] (flatten, linear).
  if (in.size() == 4 && g.size() == 2 && g[0] == in[0] && g[1] == in[1])
    return error(stmt.getLoc(), "scale body turns ", typeString(input),
                 " into ", typeString(gate),
                 "; the gate must be [N, C, 1, 1]: pool with "
                 "adaptive_avgpool(1) and use 1x1 convs, not flatten and "
                 "linear, as torchvision's SqueezeExcitation");
  FailureOr<Shape> result = checkShape(stmt.getLoc(), [&](OptLoc at) {
    return mlir::dlm::inferChannelScaleShape(at, in, g);
  });
  if (failed(result))
    return failure();
  return builder
      .create<mlir::dlm::ChannelScaleOp>(loc(stmt.getLoc()),
                                         tensorType(*result), input, gate)
      .getResult();
}

FailureOr<mlir::Value> MLIRGenImpl::buildConcat(SMLoc where,
                                                mlir::ValueRange inputs) {
  llvm::SmallVector<ArrayRef<int64_t>> shapes;
  for (mlir::Value v : inputs)
    shapes.push_back(shapeOf(v));
  FailureOr<Shape> result = checkShape(where, [&](OptLoc at) {
    return mlir::dlm::inferConcatShape(at, shapes);
  });
  if (failed(result))
    return failure();
  return builder
      .create<mlir::dlm::ConcatOp>(loc(where), tensorType(*result), inputs)
      .getResult();
}

FailureOr<mlir::Value> MLIRGenImpl::genConcat(const ConcatStmtAST &stmt,
                                              mlir::Value input) {
  llvm::SmallVector<mlir::Value> branches;
  for (const BranchAST &branch : stmt.getBranches())
    branches.push_back(genBody(branch.body, input));
  if (branches.empty())
    return error(stmt.getLoc(), "concat needs at least one branch");
  for (auto [i, branch] : llvm::enumerate(branches)) {
    if (!concatenable(shapeOf(branches[0]), shapeOf(branch))) {
      if (shapesUnreliable)
        return failure();
      return error(stmt.getBranches()[i].range.Start, "branch ", i + 1,
                   " of concat produces ", typeString(branch),
                   " but branch 1 produces ", typeString(branches[0]),
                   "; branches must agree in all but the channel dimension");
    }
  }
  return buildConcat(stmt.getLoc(), branches);
}

FailureOr<mlir::Value> MLIRGenImpl::genStmt(const StmtAST &stmt,
                                            mlir::Value input) {
  if (failed(step(stmt.getLoc())))
    return failure();
  ++depth;
  auto leave = llvm::make_scope_exit([&] { --depth; });
  if (depth > kMaxElaborationDepth) {
    // Stop: every statement at this depth would fail the same way.
    (void)error(stmt.getLoc(), "statements nested more than ",
                kMaxElaborationDepth,
                " deep, counting the bodies of the blocks called");
    aborted = true;
    return failure();
  }
  FailureOr<mlir::Value> result = [&]() -> FailureOr<mlir::Value> {
    switch (stmt.getKind()) {
    case StmtAST::Call:
      return genCall(llvm::cast<CallStmtAST>(stmt), input);
    case StmtAST::Repeat:
      return genRepeat(llvm::cast<RepeatStmtAST>(stmt), input);
    case StmtAST::If:
      return genIf(llvm::cast<IfStmtAST>(stmt), input);
    case StmtAST::Residual:
      return genResidual(llvm::cast<ResidualStmtAST>(stmt), input);
    case StmtAST::Dense:
      return genDense(llvm::cast<DenseStmtAST>(stmt), input);
    case StmtAST::Concat:
      return genConcat(llvm::cast<ConcatStmtAST>(stmt), input);
    case StmtAST::Scale:
      return genScale(llvm::cast<ScaleStmtAST>(stmt), input);
    }
    llvm_unreachable("unknown statement kind");
  }();
  if (succeeded(result) && *result != input &&
      failed(checkSize(stmt.getLoc(), "result", shapeOf(*result))))
    return failure();
  return result;
}

mlir::Value MLIRGenImpl::genBody(const Body &body, mlir::Value input) {
  mlir::Value value = input;
  for (const StmtPtr &stmt : body) {
    if (aborted)
      break;
    FailureOr<mlir::Value> result = genStmt(*stmt, value);
    if (succeeded(result)) {
      value = *result;
      continue;
    }
    // Recover: treat the statement as the identity and go on, but stop
    // trusting shapes from here.
    shapesUnreliable = true;
  }
  return value;
}

//===----------------------------------------------------------------------===//
// The file
//===----------------------------------------------------------------------===//

mlir::OwningOpRef<mlir::ModuleOp> MLIRGenImpl::generate(const FileAST &file) {
  // Blocks: unique names that do not shadow layers, unique parameters.
  for (const auto &block : file.blocks) {
    if (lookupLayer(block->name)) {
      (void)error(block->nameRange.Start, "block '", block->name,
                  "' has the name of a built-in layer");
      continue;
    }
    auto [it, inserted] = blocks.try_emplace(block->name, block.get());
    if (!inserted) {
      std::string message = "duplicate block '" + block->name + "'";
      if (shouldReport(block->nameRange.Start, message))
        mlir::emitError(loc(block->nameRange.Start))
                .append(message)
                .attachNote(loc(it->second->nameRange.Start))
            << "first defined here";
      continue;
    }
    llvm::StringMap<SMLoc> params;
    for (const ParamAST &p : block->params) {
      auto [pit, fresh] = params.try_emplace(p.name, p.range.Start);
      if (!fresh)
        (void)error(p.range.Start, "duplicate parameter '", p.name,
                    "' of block '", block->name, "'");
    }
  }

  if (file.models.empty()) {
    SMLoc start = SMLoc::getFromPointer(
        sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID())->getBufferStart());
    (void)error(start, "no model in this file; declare one with "
                       "`model name(x: f32[N, C, H, W]) { ... }`");
    return nullptr;
  }
  for (const auto &extra : llvm::drop_begin(file.models))
    (void)error(extra->nameRange.Start,
                "more than one model in this file "
                "(the first is '",
                file.models.front()->name, "')");

  const ModelDeclAST &model = *file.models.front();
  if (model.inputs.size() != 1) {
    (void)error(model.nameRange.Start, "model '", model.name,
                "' must have exactly one input, got ", model.inputs.size());
    return nullptr;
  }
  unsigned errorsBeforeInput = numErrors;
  const TensorTypeAST &inputType = model.inputs.front().type;
  if (inputType.elementType != "f32")
    (void)error(inputType.elementTypeRange.Start, "unsupported element type '",
                inputType.elementType, "'; only f32 is supported");
  bool batched = inputType.dims.size() == 4 || inputType.dims.size() == 2;
  if (!batched && batch)
    (void)error(inputType.range.Start,
                "--batch replaces the batch dimension, the first of an "
                "f32[N, C, H, W] or f32[N, F] input; this input has ",
                inputType.dims.size(), " dimension",
                inputType.dims.size() == 1 ? "" : "s",
                ", so it has no batch dimension to replace");
  else if (!batched)
    (void)error(inputType.range.Start,
                "model input must be f32[N, C, H, W] or f32[N, F], got ",
                inputType.dims.size(), " dimension",
                inputType.dims.size() == 1 ? "" : "s");
  for (auto [i, dim] : llvm::enumerate(inputType.dims))
    if (dim <= 0 && !(i == 0 && batch))
      (void)error(inputType.dimRanges[i].Start,
                  "dimensions must be positive, got ", dim);
  if (batch && *batch <= 0)
    (void)error(inputType.range.Start, "--batch must be positive, got ",
                *batch);
  if (numErrors != errorsBeforeInput)
    return nullptr;
  std::vector<int64_t> inputDims = inputType.dims;
  if (batch)
    inputDims[0] = *batch;
  // After the batch override: --batch may make the input too large.
  if (failed(checkSize(inputType.range.Start, "input", inputDims)))
    return nullptr;

  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(loc(model.nameRange.Start), StringRef(model.name));
  builder.setInsertionPointToEnd(module->getBody());
  auto inputTensor = tensorType(inputDims);
  auto func = builder.create<mlir::func::FuncOp>(
      loc(model.range.Start), "forward",
      builder.getFunctionType({inputTensor}, {}));
  mlir::Block *entry = func.addEntryBlock();
  builder.setInsertionPointToStart(entry);

  nameScopes.push_back({"", {}});
  mlir::Value output = genBody(model.body, entry->getArgument(0));
  if (numErrors)
    return nullptr;

  builder.create<mlir::func::ReturnOp>(loc(model.range.Start), output);
  func.setFunctionType(
      builder.getFunctionType({inputTensor}, {output.getType()}));

  if (failed(mlir::verify(*module)))
    return nullptr;
  return module;
}

mlir::OwningOpRef<mlir::ModuleOp> dlm::mlirGen(mlir::MLIRContext &context,
                                               const llvm::SourceMgr &sourceMgr,
                                               const FileAST &file,
                                               unsigned maxErrors,
                                               std::optional<int64_t> batch) {
  context.loadDialect<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
  return MLIRGenImpl(context, sourceMgr, maxErrors, batch).generate(file);
}

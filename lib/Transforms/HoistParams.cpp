//===- HoistParams.cpp - Move weight-only computation into @init ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_HOISTPARAMS
#include "dlm/Transforms/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;

namespace {
struct HoistParamsPass : mlir::dlm::impl::HoistParamsBase<HoistParamsPass> {
  void runOnOperation() override;
};
} // namespace

/// The operand a derived value is named after: the tensor it modifies (the
/// weight or bias a BatchNorm is folded into, the BN scale of a prologue).
static Value namingOperand(Operation *op) {
  if (auto derivation = dyn_cast<ParamDerivationOpInterface>(op))
    return derivation.getDerivedFrom();
  return op->getNumOperands() ? op->getOperand(0) : Value();
}

/// A name for the value `op` derives: `<parameter it modifies>#<op>`.
static std::string derivedName(Operation *op) {
  std::string base = "derived";
  for (Operation *current = op; current;) {
    if (auto param = dyn_cast<ParamOp>(current)) {
      base = param.getName().str();
      break;
    }
    Value next = namingOperand(current);
    current = next ? next.getDefiningOp() : nullptr;
  }
  return base + "#" + op->getName().stripDialect().str();
}

void HoistParamsPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward) {
    module.emitError("dlm-hoist-params expects a func.func @forward");
    return signalPassFailure();
  }
  if (module.lookupSymbol("init")) {
    module.emitError("dlm-hoist-params found an existing @init");
    return signalPassFailure();
  }

  // Weight-only ops: pure, not params themselves, with every operand
  // produced by a param or another weight-only op.
  llvm::SetVector<Operation *> weightOnly;
  forward.walk([&](Operation *op) {
    if (isParam(op) || op->getNumOperands() == 0 ||
        op->hasTrait<OpTrait::IsTerminator>() || !isPure(op))
      return;
    bool onlyWeights = llvm::all_of(op->getOperands(), [&](Value v) {
      Operation *def = v.getDefiningOp();
      return def && (isParam(def) || weightOnly.contains(def));
    });
    if (onlyWeights)
      weightOnly.insert(op);
  });
  if (weightOnly.empty())
    return;

  // The values forward still needs: weight-only results used by other ops.
  SmallVector<Value> exported;
  for (Operation *op : weightOnly)
    for (Value result : op->getResults())
      if (llvm::any_of(result.getUsers(), [&](Operation *user) {
            return !weightOnly.contains(user);
          }))
        exported.push_back(result);

  // Build @init: clones of the params and weight-only ops, in order.
  OpBuilder builder(module.getBodyRegion());
  builder.setInsertionPoint(forward);
  SmallVector<Type> resultTypes;
  for (Value v : exported)
    resultTypes.push_back(v.getType());
  auto init = builder.create<func::FuncOp>(
      forward.getLoc(), "init", builder.getFunctionType({}, resultTypes));
  builder.setInsertionPointToStart(init.addEntryBlock());
  IRMapping mapping;
  for (Operation *op : weightOnly)
    for (Value operand : op->getOperands())
      if (auto param = operand.getDefiningOp<ParamOp>();
          param && !mapping.contains(operand))
        builder.clone(*param, mapping);
  for (Operation *op : weightOnly)
    builder.clone(*op, mapping);
  SmallVector<Value> returned;
  for (Value v : exported)
    returned.push_back(mapping.lookup(v));
  builder.create<func::ReturnOp>(forward.getLoc(), returned);

  // Name the results and read them in forward as params.
  llvm::StringSet<> used;
  forward.walk([&](ParamOp p) { used.insert(p.getName()); });
  SmallVector<Attribute> names;
  for (Value v : exported) {
    std::string name = derivedName(v.getDefiningOp());
    std::string unique = name;
    for (unsigned i = 2; used.contains(unique); ++i)
      unique = name + std::to_string(i);
    used.insert(unique);
    names.push_back(builder.getStringAttr(unique));
    OpBuilder at(v.getDefiningOp());
    Value param =
        at.create<ParamOp>(v.getLoc(), v.getType(), at.getStringAttr(unique));
    v.replaceAllUsesWith(param);
  }
  init->setAttr("dlm.result_names", builder.getArrayAttr(names));

  // Erase the now-dead weight-only ops and params of forward.
  for (Operation *op : llvm::reverse(weightOnly))
    op->erase();
  forward.walk([](ParamOp p) {
    if (p->use_empty())
      p->erase();
  });
}

//===- TestMiscompile.cpp - A deliberately wrong pass, for tests ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-test-miscompile is what a buggy fusion pass might be: it drops the
// activation of the first fused kernel that has one, which changes the
// model's output. `dlmc --check-passes --test-miscompile` must report it
// (test/Reference/check-passes).
//
//===----------------------------------------------------------------------===//

#include "TestPasses.h"

#include "dlm/Dialect/DLM/DLMOps.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;

namespace {
struct TestMiscompilePass
    : public PassWrapper<TestMiscompilePass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestMiscompilePass)

  StringRef getArgument() const final { return "dlm-test-miscompile"; }
  StringRef getDescription() const final {
    return "Testing only: drop the activation of the first fused kernel";
  }

  void runOnOperation() override {
    auto none = dlm::ActivationAttr::get(&getContext(), dlm::Activation::None);
    getOperation().walk([&](Operation *op) {
      if (!isa<dlm::FusedConv2dOp, dlm::FusedLinearOp>(op))
        return WalkResult::advance();
      auto activation = op->getAttrOfType<dlm::ActivationAttr>("activation");
      if (!activation || activation == none)
        return WalkResult::advance();
      op->setAttr("activation", none);
      return WalkResult::interrupt();
    });
  }
};
} // namespace

std::unique_ptr<Pass> mlir::dlm::test::createTestMiscompilePass() {
  return std::make_unique<TestMiscompilePass>();
}

void mlir::dlm::test::registerTestPasses() {
  PassRegistration<TestMiscompilePass>();
}

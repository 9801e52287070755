//===- TensorSizesTest.cpp - Tensor sizes are checked before they multiply ===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// checkedTensorBytes at its bounds, and verifyTensorSizes as the memory plan,
// the kernel report and the CUDA target see it: a tensor whose size
// overflows int64 or exceeds 2^40 bytes is an error at the op, never a wrap.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/ShapeRules.h"
#include "dlm/Report/KernelReport.h"
#include "dlm/Transforms/MemoryPlan.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace mlir;
using namespace mlir::dlm;

namespace {

TEST(TensorSizesTest, CheckedTensorBytesAtTheBounds) {
  EXPECT_EQ(checkedTensorBytes({}), 4);
  EXPECT_EQ(checkedTensorBytes({1, 3, 224, 224}), 4 * 3 * 224 * 224);
  EXPECT_EQ(checkedTensorBytes({0, int64_t(1) << 62}), 0);
  // 2^38 elements are exactly 2^40 bytes; one element more is too many.
  EXPECT_EQ(checkedTensorBytes({int64_t(1) << 19, int64_t(1) << 19}),
            kMaxTensorBytes);
  EXPECT_EQ(checkedTensorBytes({(int64_t(1) << 38) + 1}), std::nullopt);
  // Within int64 as elements, not as bytes; and past int64 altogether.
  EXPECT_EQ(checkedTensorBytes({int64_t(1) << 62}), std::nullopt);
  EXPECT_EQ(checkedTensorBytes({1, 1, int64_t(1) << 32, int64_t(1) << 32}),
            std::nullopt);
  EXPECT_EQ(checkedTensorBytes({4, ShapedType::kDynamic}), std::nullopt);
}

class VerifyTensorSizesTest : public ::testing::Test {
protected:
  VerifyTensorSizesTest()
      : handler(&context, [this](Diagnostic &diag) {
          errors.push_back(diag.str());
          return success();
        }) {
    context.loadDialect<DLMDialect, func::FuncDialect>();
  }

  OwningOpRef<ModuleOp> parse(const std::string &text) {
    return parseSourceString<ModuleOp>(text, &context);
  }

  MLIRContext context;
  ScopedDiagnosticHandler handler;
  std::vector<std::string> errors;
};

TEST_F(VerifyTensorSizesTest, SmallTensorsPass) {
  OwningOpRef<ModuleOp> module = parse(R"(
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %a = dlm.relu %x : tensor<1x4xf32>
      return %a : tensor<1x4xf32>
    })");
  ASSERT_TRUE(module);
  EXPECT_TRUE(succeeded(verifyTensorSizes(*module)));
  FailureOr<KernelStats> stats = computeStats(*module);
  ASSERT_TRUE(succeeded(stats));
  EXPECT_EQ(stats->kernels, 1u);
  EXPECT_TRUE(errors.empty());
}

TEST_F(VerifyTensorSizesTest, HugeArgumentIsAnErrorInTheReport) {
  OwningOpRef<ModuleOp> module = parse(R"(
    func.func @forward(%x: tensor<1x1x4294967296x4294967296xf32>)
        -> tensor<1x1x4294967296x4294967296xf32> {
      %a = dlm.relu %x : tensor<1x1x4294967296x4294967296xf32>
      return %a : tensor<1x1x4294967296x4294967296xf32>
    })");
  ASSERT_TRUE(module);
  EXPECT_TRUE(failed(computeStats(*module)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "argument 0 of 'tensor<1x1x4294967296x4294967296xf32>' "
                       "is not static or is too large: a tensor may hold at "
                       "most 2^40 bytes");
}

TEST_F(VerifyTensorSizesTest, HugeParamIsAnErrorInTheReport) {
  // The param is not in @forward's plan but in the report's param bytes.
  OwningOpRef<ModuleOp> module = parse(R"(
    func.func @init() {
      %w = dlm.param "fc.weight" : tensor<1048576x524288xf32>
      return
    }
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %a = dlm.relu %x : tensor<1x4xf32>
      return %a : tensor<1x4xf32>
    })");
  ASSERT_TRUE(module);
  EXPECT_TRUE(failed(computeStats(*module)));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "result 'tensor<1048576x524288xf32>' is not static or "
                       "is too large: a tensor may hold at most 2^40 bytes");
}

} // namespace

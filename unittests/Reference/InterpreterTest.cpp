//===- InterpreterTest.cpp - Tests of the reference interpreter -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The interpreter on IR parsed from text: numbers, located errors (an
// unknown op, a missing weight, a wrong input), the memory it keeps alive,
// and collectParams().
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/Interpreter.h"

#include "dlm/Dialect/DLM/DLMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <string>

using namespace dlm;

namespace {

class InterpreterTest : public ::testing::Test {
protected:
  InterpreterTest() {
    context.loadDialect<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
  }

  /// Parses \p source into a module; fails the test if it does not parse.
  mlir::OwningOpRef<mlir::ModuleOp> parse(llvm::StringRef source) {
    auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    EXPECT_TRUE(module) << "the test's IR does not parse";
    return module;
  }

  /// Runs @forward of \p module on \p input, collecting diagnostics.
  mlir::FailureOr<std::vector<Tensor>> run(mlir::ModuleOp module,
                                           const Tensor &input) {
    mlir::ScopedDiagnosticHandler handler(
        &context, [&](mlir::Diagnostic &diag) {
          std::string text;
          llvm::raw_string_ostream os(text);
          os << diag.getLocation() << ": " << diag;
          diagnostics.push_back(text);
          return mlir::success();
        });
    mlir::func::FuncOp forward = lookupForward(module);
    if (!forward)
      return mlir::failure();
    Interpreter interpreter(weights);
    auto result = interpreter.run(forward, input.view());
    stats = interpreter.getStats();
    return result;
  }

  mlir::MLIRContext context;
  WeightSet weights;
  InterpreterStats stats;
  std::vector<std::string> diagnostics;
};

TEST_F(InterpreterTest, RunsConvAndLinear) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x1x2x2xf32>) -> tensor<1x2xf32> {
      %w = dlm.param "conv.weight" : tensor<2x1x1x1xf32>
      %y = dlm.conv2d %x, %w {padding = array<i64: 0, 0>, stride = array<i64: 2, 2>}
          : (tensor<1x1x2x2xf32>, tensor<2x1x1x1xf32>) -> tensor<1x2x1x1xf32>
      %f = dlm.flatten %y : (tensor<1x2x1x1xf32>) -> tensor<1x2xf32>
      %lw = dlm.param "fc.weight" : tensor<2x2xf32>
      %lb = dlm.param "fc.bias" : tensor<2xf32>
      %z = dlm.linear %f, %lw, %lb
          : (tensor<1x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x2xf32>
      return %z : tensor<1x2xf32>
    })mlir");
  ASSERT_FALSE(bool(weights.add("conv.weight", Tensor({2, 1, 1, 1}, {3, -1}))));
  ASSERT_FALSE(bool(weights.add("fc.weight", Tensor({2, 2}, {1, 1, 1, -1}))));
  ASSERT_FALSE(bool(weights.add("fc.bias", Tensor({2}, {0.5f, 0}))));
  // Stride 2 keeps x[0][0] = 5: conv gives [15, -5], linear [10.5, 20].
  auto result = run(*module, Tensor({1, 1, 2, 2}, {5, 6, 7, 8}));
  ASSERT_TRUE(mlir::succeeded(result));
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ((*result)[0].data, (std::vector<float>{10.5f, 20}));
  EXPECT_TRUE(diagnostics.empty());
}

TEST_F(InterpreterTest, UnknownOpIsALocatedError) {
  auto module = parse(R"mlir(
    func.func private @helper(tensor<1x4xf32>) -> tensor<1x4xf32>
    func.func @forward(%x: tensor<1x4xf32>) -> tensor<1x4xf32> {
      %y = dlm.relu %x : tensor<1x4xf32>
      %z = func.call @helper(%y) : (tensor<1x4xf32>) -> tensor<1x4xf32> loc("model.dlm":7:3)
      return %z : tensor<1x4xf32>
    })mlir");
  auto result = run(*module, Tensor({1, 4}, {1, 2, 3, 4}));
  EXPECT_TRUE(mlir::failed(result));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0], "loc(\"model.dlm\":7:3): the reference "
                            "interpreter cannot execute 'func.call'");
}

TEST_F(InterpreterTest, MissingWeightIsALocatedError) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %w = dlm.param "fc.weight" : tensor<2x2xf32> loc("model.dlm":3:5)
      %y = dlm.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir");
  auto result = run(*module, Tensor({1, 2}, {1, 2}));
  EXPECT_TRUE(mlir::failed(result));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0],
            "loc(\"model.dlm\":3:5): no weight named 'fc.weight'");
}

TEST_F(InterpreterTest, WeightOfAnotherShapeIsAnError) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %w = dlm.param "fc.weight" : tensor<2x2xf32> loc("model.dlm":3:5)
      %y = dlm.linear %x, %w : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    })mlir");
  ASSERT_FALSE(bool(weights.add("fc.weight", Tensor({4}, {1, 2, 3, 4}))));
  EXPECT_TRUE(mlir::failed(run(*module, Tensor({1, 2}, {1, 2}))));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0], "loc(\"model.dlm\":3:5): weight 'fc.weight' is "
                            "f32[4] but the model expects f32[2,2]");
}

TEST_F(InterpreterTest, InputOfAnotherShapeIsAnError) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %y = dlm.relu %x : tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    } loc("model.dlm":1:1))mlir");
  EXPECT_TRUE(mlir::failed(run(*module, Tensor({2, 2}, {1, 2, 3, 4}))));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0], "loc(\"model.dlm\":1:1): input #0 is f32[2,2] "
                            "but @forward expects f32[1,2]");
}

TEST_F(InterpreterTest, NoForwardFunction) {
  auto module = parse(R"mlir(
    func.func @main(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      return %x : tensor<1x2xf32>
    })mlir");
  EXPECT_TRUE(mlir::failed(run(*module, Tensor({1, 2}, {1, 2}))));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(diagnostics[0].find("the module has no function @forward"),
            std::string::npos);
}

TEST_F(InterpreterTest, ChainReusesOneBuffer) {
  // Only the first relu allocates (the input belongs to the caller); each
  // later op is the last user of its input and works in place.
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x1000xf32>) -> tensor<1x1000xf32> {
      %a = dlm.relu %x : tensor<1x1000xf32>
      %b = dlm.sigmoid %a : tensor<1x1000xf32>
      %c = dlm.dropout %b {p = 5.000000e-01 : f64} : tensor<1x1000xf32>
      %d = dlm.relu %c : tensor<1x1000xf32>
      %e = dlm.add %d, %d : tensor<1x1000xf32>
      return %e : tensor<1x1000xf32>
    })mlir");
  Tensor input({1, 1000}, std::vector<float>(1000, 0.0f));
  input.data[0] = -3;
  auto result = run(*module, input);
  ASSERT_TRUE(mlir::succeeded(result));
  // relu(-3) = 0 -> sigmoid 0.5 -> doubled.
  EXPECT_EQ((*result)[0].data[0], 1.0f);
  // `add %d, %d` uses %d twice, so it cannot overwrite it: one copy.
  EXPECT_EQ(stats.peakBytes, 2 * 4000);
  EXPECT_EQ(stats.numOps, 6);
}

TEST_F(InterpreterTest, ValuesLiveUntilTheirLastUse) {
  // %a is used again by the add, so %b cannot reuse its buffer: two
  // buffers are alive at once. The add then overwrites %b (its last use)
  // and %a is freed.
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x1000xf32>) -> tensor<1x1000xf32> {
      %a = dlm.relu %x : tensor<1x1000xf32>
      %b = dlm.sigmoid %a : tensor<1x1000xf32>
      %c = dlm.add %a, %b : tensor<1x1000xf32>
      %d = dlm.relu %c : tensor<1x1000xf32>
      %e = dlm.relu %d : tensor<1x1000xf32>
      return %e : tensor<1x1000xf32>
    })mlir");
  Tensor input({1, 1000}, std::vector<float>(1000, 2.0f));
  auto result = run(*module, input);
  ASSERT_TRUE(mlir::succeeded(result));
  float want = 2.0f + 1.0f / (1.0f + std::exp(-2.0f));
  EXPECT_FLOAT_EQ((*result)[0].data[999], want);
  EXPECT_EQ(stats.peakBytes, 2 * 4000);
}

TEST_F(InterpreterTest, CollectParamsInOrderWithRoles) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x1x4x4xf32>) -> tensor<1x2xf32> {
      %w = dlm.param "c.weight" : tensor<3x1x3x3xf32>
      %b = dlm.param "c.bias" : tensor<3xf32>
      %y = dlm.conv2d %x, %w, %b {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
          : (tensor<1x1x4x4xf32>, tensor<3x1x3x3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
      %g = dlm.param "n.weight" : tensor<3xf32>
      %s = dlm.param "n.bias" : tensor<3xf32>
      %m = dlm.param "n.running_mean" : tensor<3xf32>
      %v = dlm.param "n.running_var" : tensor<3xf32>
      %n = dlm.batch_norm %y, %g, %s, %m, %v
          : (tensor<1x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<1x3x4x4xf32>
      %p = dlm.global_avg_pool %n : (tensor<1x3x4x4xf32>) -> tensor<1x3x1x1xf32>
      %f = dlm.flatten %p : (tensor<1x3x1x1xf32>) -> tensor<1x3xf32>
      %lw = dlm.param "l.weight" : tensor<2x3xf32>
      %z = dlm.linear %f, %lw : (tensor<1x3xf32>, tensor<2x3xf32>) -> tensor<1x2xf32>
      return %z : tensor<1x2xf32>
    })mlir");
  auto params = collectParams(*module);
  ASSERT_TRUE(mlir::succeeded(params));
  std::vector<std::pair<std::string, ParamRole>> got;
  for (const ParamSpec &spec : *params)
    got.push_back({spec.name, spec.role});
  std::vector<std::pair<std::string, ParamRole>> want = {
      {"c.weight", ParamRole::Weight},
      {"c.bias", ParamRole::Bias},
      {"n.weight", ParamRole::Scale},
      {"n.bias", ParamRole::Shift},
      {"n.running_mean", ParamRole::Mean},
      {"n.running_var", ParamRole::Variance},
      {"l.weight", ParamRole::Weight}};
  EXPECT_EQ(got, want);
  EXPECT_EQ((*params)[0].shape, (std::vector<int64_t>{3, 1, 3, 3}));
}

TEST_F(InterpreterTest, CollectParamsRejectsOneNameWithTwoShapes) {
  auto module = parse(R"mlir(
    func.func @forward(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
      %a = dlm.param "w" : tensor<2x2xf32>
      %b = dlm.param "w" : tensor<2x2xf32>
      %c = dlm.param "w" : tensor<4xf32> loc("model.dlm":9:1)
      return %x : tensor<1x2xf32>
    })mlir");
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &diag) {
    diagnostics.push_back(diag.str());
    return mlir::success();
  });
  EXPECT_TRUE(mlir::failed(collectParams(*module)));
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_EQ(diagnostics[0],
            "parameter 'w' is used as f32[4] here but as f32[2,2] before");
}

} // namespace

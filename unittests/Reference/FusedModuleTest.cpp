//===- FusedModuleTest.cpp - Running fused modules and checking passes ----===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The reference executor on modules after the fusion pipeline, parsed from
// text: a hand-written fused module with @init against its unfused form on
// random weights and input, collectParams() and runInit() on it, and the
// --check-passes instrumentation around test passes that keep or break the
// numbers.
//
//===----------------------------------------------------------------------===//

#include "dlm/Reference/CheckPasses.h"
#include "dlm/Reference/Interpreter.h"
#include "dlm/Reference/Kernels.h"

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include "gtest/gtest.h"

#include <functional>
#include <string>

using namespace dlm;

namespace {

/// BatchNorm -> ReLU -> padded 3x3 conv -> global pool -> flatten -> linear
/// -> sigmoid, as the frontend writes it.
constexpr llvm::StringLiteral kUnfused = R"mlir(
  module @m {
    func.func @forward(%x: tensor<1x3x5x5xf32>) -> tensor<1x2xf32> {
      %g = dlm.param "bn.weight" : tensor<3xf32>
      %s = dlm.param "bn.bias" : tensor<3xf32>
      %m = dlm.param "bn.running_mean" : tensor<3xf32>
      %v = dlm.param "bn.running_var" : tensor<3xf32>
      %n = dlm.batch_norm %x, %g, %s, %m, %v
          : (tensor<1x3x5x5xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>,
             tensor<3xf32>) -> tensor<1x3x5x5xf32>
      %r = dlm.relu %n : tensor<1x3x5x5xf32>
      %w = dlm.param "conv.weight" : tensor<4x3x3x3xf32>
      %b = dlm.param "conv.bias" : tensor<4xf32>
      %c = dlm.conv2d %r, %w, %b {padding = array<i64: 1, 1>, stride = array<i64: 1, 1>}
          : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x5x5xf32>
      %p = dlm.global_avg_pool %c : (tensor<1x4x5x5xf32>) -> tensor<1x4x1x1xf32>
      %f = dlm.flatten %p : (tensor<1x4x1x1xf32>) -> tensor<1x4xf32>
      %lw = dlm.param "fc.weight" : tensor<2x4xf32>
      %l = dlm.linear %f, %lw : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
      %y = dlm.sigmoid %l : tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    }
  })mlir";

/// The same model after the fusion pipeline, written by hand: @init derives
/// the prologue from the BatchNorm's statistics, @forward is two kernels.
/// `@PRE_RELU@` is replaced by `pre_relu, ` (correct) or nothing (wrong).
constexpr llvm::StringLiteral kFused = R"mlir(
  module @m {
    func.func @init() -> (tensor<3xf32>, tensor<3xf32>)
        attributes {dlm.result_names = ["bn.weight#bn_scale", "bn.weight#fold_bn_bias"]} {
      %g = dlm.param "bn.weight" : tensor<3xf32>
      %v = dlm.param "bn.running_var" : tensor<3xf32>
      %s = dlm.param "bn.bias" : tensor<3xf32>
      %m = dlm.param "bn.running_mean" : tensor<3xf32>
      %a = dlm.bn_scale %g, %v {epsilon = 1.0e-05 : f64} : tensor<3xf32>
      %b = dlm.fold_bn_bias %g, %s, %m, %v {epsilon = 1.0e-05 : f64} : tensor<3xf32>
      return %a, %b : tensor<3xf32>, tensor<3xf32>
    }
    func.func @forward(%x: tensor<1x3x5x5xf32>) -> tensor<1x2xf32> {
      %w = dlm.param "conv.weight" : tensor<4x3x3x3xf32>
      %b = dlm.param "conv.bias" : tensor<4xf32>
      %a = dlm.param "bn.weight#bn_scale" : tensor<3xf32>
      %sh = dlm.param "bn.weight#fold_bn_bias" : tensor<3xf32>
      %c = dlm.fused_conv2d %x, %w, %b : tensor<4xf32>
          prologue(%a, %sh : tensor<3xf32>, tensor<3xf32>)
          {padding = array<i64: 1, 1>, @PRE_RELU@stride = array<i64: 1, 1>}
          : (tensor<1x3x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<1x4x5x5xf32>
      %lw = dlm.param "fc.weight" : tensor<2x4xf32>
      %y = dlm.fused_linear %c, %lw {activation = #dlm<activation sigmoid>, global_pool}
          : (tensor<1x4x5x5xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
      return %y : tensor<1x2xf32>
    }
  })mlir";

std::string fusedSource(bool preRelu) {
  std::string text = kFused.str();
  size_t at = text.find("@PRE_RELU@");
  text.replace(at, 10, preRelu ? "pre_relu, " : "");
  return text;
}

class FusedModuleTest : public ::testing::Test {
protected:
  FusedModuleTest()
      : handler(&context, [this](mlir::Diagnostic &diag) {
          diagnostics.push_back(diag.str());
          return mlir::success();
        }) {
    context.loadDialect<mlir::dlm::DLMDialect, mlir::func::FuncDialect>();
    context.disableMultithreading();
  }

  mlir::OwningOpRef<mlir::ModuleOp> parse(llvm::StringRef source) {
    auto module = mlir::parseSourceString<mlir::ModuleOp>(source, &context);
    EXPECT_TRUE(module) << "the test's IR does not parse";
    return module;
  }

  /// Random checkpoint weights for the unfused module's params.
  WeightSet randomCheckpoint() {
    auto unfused = parse(kUnfused);
    auto params = collectParams(*unfused);
    EXPECT_TRUE(mlir::succeeded(params));
    return makeRandomWeights(*params, 5);
  }

  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler handler;
  std::vector<std::string> diagnostics;
  Tensor input = makeRandomInput({1, 3, 5, 5}, 1);
};

//===----------------------------------------------------------------------===//
// collectParams, runInit, runModule
//===----------------------------------------------------------------------===//

TEST_F(FusedModuleTest, CollectParamsLeavesOutInitResults) {
  auto fused = parse(fusedSource(true));
  auto params = collectParams(*fused);
  ASSERT_TRUE(mlir::succeeded(params));
  std::vector<std::pair<std::string, ParamRole>> got;
  for (const ParamSpec &spec : *params)
    got.push_back({spec.name, spec.role});
  // @init's params, then those of @forward that @init does not compute;
  // roles come from the derivations and the fused kernels.
  std::vector<std::pair<std::string, ParamRole>> want = {
      {"bn.weight", ParamRole::Scale},
      {"bn.running_var", ParamRole::Variance},
      {"bn.bias", ParamRole::Shift},
      {"bn.running_mean", ParamRole::Mean},
      {"conv.weight", ParamRole::Weight},
      {"conv.bias", ParamRole::Bias},
      {"fc.weight", ParamRole::Weight}};
  EXPECT_EQ(got, want);

  // The same specs, by name, as the unfused module's: the same checkpoint
  // and, by role, the same random weights.
  auto unfused = parse(kUnfused);
  auto unfusedParams = collectParams(*unfused);
  ASSERT_TRUE(mlir::succeeded(unfusedParams));
  WeightSet a = makeRandomWeights(*params, 3);
  WeightSet b = makeRandomWeights(*unfusedParams, 3);
  ASSERT_EQ(a.size(), b.size());
  for (const TensorView &view : a.tensors()) {
    const TensorView *other = b.lookup(view.name);
    ASSERT_NE(other, nullptr) << view.name;
    EXPECT_EQ(view.values(), other->values()) << view.name;
  }

  // On @forward alone, only the checkpoint params of @forward.
  auto forward = lookupForward(*fused);
  auto forwardParams = collectParams(forward);
  ASSERT_TRUE(mlir::succeeded(forwardParams));
  ASSERT_EQ(forwardParams->size(), 3u);
  EXPECT_EQ((*forwardParams)[0].name, "conv.weight");
}

TEST_F(FusedModuleTest, RunInitAddsItsResultsByName) {
  auto fused = parse(fusedSource(true));
  WeightSet checkpoint = randomCheckpoint();
  WeightSet weights = checkpoint.borrow();
  ASSERT_TRUE(mlir::succeeded(runInit(*fused, weights)));
  EXPECT_EQ(weights.size(), checkpoint.size() + 2);
  EXPECT_EQ(checkpoint.lookup("bn.weight#bn_scale"), nullptr);
  const TensorView *scale = weights.lookup("bn.weight#bn_scale");
  ASSERT_NE(scale, nullptr);
  Tensor want = reference::bnScale(*checkpoint.lookup("bn.weight"),
                                   *checkpoint.lookup("bn.running_var"), 1e-5);
  EXPECT_EQ(scale->values(), llvm::ArrayRef<float>(want.data));
  EXPECT_NE(weights.lookup("bn.weight#fold_bn_bias"), nullptr);
  EXPECT_TRUE(diagnostics.empty());

  // A module without @init adds nothing.
  auto unfused = parse(kUnfused);
  WeightSet same = checkpoint.borrow();
  EXPECT_TRUE(mlir::succeeded(runInit(*unfused, same)));
  EXPECT_EQ(same.size(), checkpoint.size());
}

TEST_F(FusedModuleTest, RunInitErrors) {
  auto run = [&](llvm::StringRef source) {
    diagnostics.clear();
    auto module = parse(source);
    WeightSet weights;
    EXPECT_FALSE(bool(weights.add("w", Tensor({2}, {1, 2}))));
    EXPECT_TRUE(mlir::failed(runInit(*module, weights)));
    return diagnostics.empty() ? std::string() : diagnostics.front();
  };
  EXPECT_EQ(run(R"mlir(
    func.func @init() -> tensor<2xf32> {
      %w = dlm.param "w" : tensor<2xf32>
      return %w : tensor<2xf32>
    })mlir"),
            "@init needs a 'dlm.result_names' array of 1 string(s), one per "
            "result");
  EXPECT_EQ(run(R"mlir(
    func.func @init() -> tensor<2xf32> attributes {dlm.result_names = ["a", "b"]} {
      %w = dlm.param "w" : tensor<2xf32>
      return %w : tensor<2xf32>
    })mlir"),
            "@init needs a 'dlm.result_names' array of 1 string(s), one per "
            "result");
  EXPECT_EQ(run(R"mlir(
    func.func @init() -> tensor<2xf32> attributes {dlm.result_names = ["w"]} {
      %w = dlm.param "w" : tensor<2xf32>
      return %w : tensor<2xf32>
    })mlir"),
            "cannot add the result 'w' of @init: weight 'w' is defined twice");
  EXPECT_EQ(run(R"mlir(
    func.func @init(%x: tensor<2xf32>) -> tensor<2xf32> attributes {dlm.result_names = ["v"]} {
      return %x : tensor<2xf32>
    })mlir"),
            "@init must take no arguments, it takes 1");
  EXPECT_EQ(run(R"mlir(
    func.func @init() -> tensor<2xf32> attributes {dlm.result_names = ["v"]} {
      %w = dlm.param "missing" : tensor<2xf32>
      return %w : tensor<2xf32>
    })mlir"),
            "no weight named 'missing'");
}

TEST_F(FusedModuleTest, FusedModuleAgreesWithUnfused) {
  WeightSet checkpoint = randomCheckpoint();
  auto unfused = parse(kUnfused);
  auto fused = parse(fusedSource(true));
  auto want = runModule(*unfused, checkpoint, input.view());
  auto got = runModule(*fused, checkpoint, input.view());
  ASSERT_TRUE(mlir::succeeded(want));
  ASSERT_TRUE(mlir::succeeded(got));
  OutputDifference difference = compareOutputs(*got, *want);
  EXPECT_TRUE(difference.isWithinTolerance()) << difference.maxAbsError;
  EXPECT_GT(difference.maxAbsReference, 0.0);
  // runModule leaves the checkpoint alone.
  EXPECT_EQ(checkpoint.lookup("bn.weight#bn_scale"), nullptr);
}

TEST_F(FusedModuleTest, WrongFusedModuleIsCaught) {
  // Without pre_relu the fused module skips the ReLU: compareOutputs sees it.
  WeightSet checkpoint = randomCheckpoint();
  auto unfused = parse(kUnfused);
  auto wrong = parse(fusedSource(false));
  auto want = runModule(*unfused, checkpoint, input.view());
  auto got = runModule(*wrong, checkpoint, input.view());
  ASSERT_TRUE(mlir::succeeded(want));
  ASSERT_TRUE(mlir::succeeded(got));
  OutputDifference difference = compareOutputs(*got, *want);
  EXPECT_FALSE(difference.isWithinTolerance())
      << "max |error| " << difference.maxAbsError;
}

TEST(CompareOutputsTest, ShapesAndNaN) {
  Tensor a({1, 2}, {1, -4}), b({2, 1}, {1, -4});
  OutputDifference same = compareOutputs({a}, {a});
  EXPECT_EQ(same.maxAbsError, 0);
  EXPECT_EQ(same.maxAbsReference, 4);
  EXPECT_DOUBLE_EQ(same.getTolerance(), 4e-4 + 1e-5);
  EXPECT_FALSE(compareOutputs({a}, {b}).isWithinTolerance());
  EXPECT_FALSE(compareOutputs({a, a}, {a}).isWithinTolerance());
  Tensor nan({1, 2}, {std::nanf(""), -4});
  EXPECT_FALSE(compareOutputs({nan}, {a}).isWithinTolerance());
  Tensor close({1, 2}, {1.0003f, -4});
  EXPECT_TRUE(compareOutputs({close}, {a}).isWithinTolerance());
  Tensor far({1, 2}, {1.0005f, -4});
  EXPECT_FALSE(compareOutputs({far}, {a}).isWithinTolerance());
}

//===----------------------------------------------------------------------===//
// The --check-passes instrumentation
//===----------------------------------------------------------------------===//

/// A module pass that calls a function on the module: the test's stand-ins
/// for real passes.
struct LambdaModulePass
    : public mlir::PassWrapper<LambdaModulePass,
                               mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LambdaModulePass)
  LambdaModulePass(std::string argument,
                   std::function<void(mlir::ModuleOp)> body)
      : argument(std::move(argument)), body(std::move(body)) {}
  llvm::StringRef getArgument() const final { return argument; }
  void runOnOperation() override { body(getOperation()); }
  std::string argument;
  std::function<void(mlir::ModuleOp)> body;
};

/// The same on each func.func.
struct LambdaFuncPass
    : public mlir::PassWrapper<LambdaFuncPass,
                               mlir::OperationPass<mlir::func::FuncOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LambdaFuncPass)
  LambdaFuncPass(std::string argument,
                 std::function<void(mlir::func::FuncOp)> body)
      : argument(std::move(argument)), body(std::move(body)) {}
  llvm::StringRef getArgument() const final { return argument; }
  void runOnOperation() override { body(getOperation()); }
  std::string argument;
  std::function<void(mlir::func::FuncOp)> body;
};

TEST_F(FusedModuleTest, CheckPassesReportsEachPass) {
  WeightSet checkpoint = randomCheckpoint();
  auto module = parse(fusedSource(true));
  std::string lines;
  llvm::raw_string_ostream os(lines);
  auto instrumentation = CheckPassesInstrumentation::create(
      *module, checkpoint, {makeRandomInput({1, 3, 5, 5}, 1)}, os);
  ASSERT_TRUE(mlir::succeeded(instrumentation));
  CheckPassesInstrumentation *checker = instrumentation->get();
  double maxY = compareOutputs(checker->getReference(), checker->getReference())
                    .maxAbsReference;
  ASSERT_GT(maxY, 0.0);

  mlir::PassManager pm(&context);
  // Changes nothing.
  pm.addPass(
      std::make_unique<LambdaModulePass>("no-op", [](mlir::ModuleOp) {}));
  // Has no argument: checked all the same, named by its class.
  pm.addPass(std::make_unique<LambdaModulePass>("", [](mlir::ModuleOp) {}));
  // Changes the IR (an attribute) but not the numbers.
  pm.addPass(std::make_unique<LambdaModulePass>("mark", [](mlir::ModuleOp m) {
    m->setAttr("test.mark", mlir::UnitAttr::get(m.getContext()));
  }));
  // A pass per function: checked once, after it ran on @forward.
  std::vector<std::string> seen;
  pm.addNestedPass<mlir::func::FuncOp>(std::make_unique<LambdaFuncPass>(
      "per-function", [&](mlir::func::FuncOp f) {
        seen.push_back(f.getSymName().str());
        f->setAttr("test.mark", mlir::UnitAttr::get(f.getContext()));
      }));
  // Breaks the numbers: the prologue loses its ReLU.
  pm.addPass(
      std::make_unique<LambdaModulePass>("drop-pre-relu", [](mlir::ModuleOp m) {
        m.walk([](mlir::dlm::FusedConv2dOp op) { op.setPreRelu(false); });
      }));
  // Makes the module unrunnable: @forward reads a tensor nobody has.
  pm.addPass(
      std::make_unique<LambdaModulePass>("rename-param", [](mlir::ModuleOp m) {
        m.walk([](mlir::dlm::ParamOp op) {
          if (op.getName() == "fc.weight")
            op.setName("fc.missing");
        });
      }));
  pm.addInstrumentation(std::move(*instrumentation));
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));

  EXPECT_EQ(seen, (std::vector<std::string>{"init", "forward"}));
  // Every line quotes the reference's largest magnitude.
  std::string y = " (max |y| " + formatMagnitude(maxY) + ")";
  llvm::SmallVector<llvm::StringRef> split;
  llvm::StringRef(lines).split(split, '\n', -1, false);
  std::vector<std::string> got(split.begin(), split.end());
  ASSERT_EQ(got.size(), 6u) << lines;
  EXPECT_EQ(got[0],
            "check-passes: after no-op: max-abs-err 0" + y + " ok (unchanged)");
  EXPECT_TRUE(llvm::StringRef(got[1]).ends_with(
      "LambdaModulePass: max-abs-err 0" + y + " ok (unchanged)"))
      << got[1];
  EXPECT_EQ(got[2], "check-passes: after mark: max-abs-err 0" + y + " ok");
  EXPECT_EQ(got[3],
            "check-passes: after per-function: max-abs-err 0" + y + " ok");
  EXPECT_TRUE(llvm::StringRef(got[4]).starts_with(
      "check-passes: after drop-pre-relu: max-abs-err "))
      << got[4];
  EXPECT_TRUE(llvm::StringRef(got[4]).ends_with(y + " FAIL")) << got[4];
  EXPECT_EQ(got[5],
            "check-passes: after rename-param: cannot run the module FAIL");
  EXPECT_EQ(checker->getNumChecks(), 6u);
  EXPECT_EQ(checker->getNumFailed(), 2u);
  EXPECT_TRUE(checker->hasFailed());

  ASSERT_EQ(diagnostics.size(), 3u);
  EXPECT_TRUE(llvm::StringRef(diagnostics[0])
                  .starts_with("check-passes: pass 'drop-pre-relu' changed "
                               "the model's output: max |error| "))
      << diagnostics[0];
  EXPECT_EQ(diagnostics[1], "no weight named 'fc.missing'");
  EXPECT_EQ(diagnostics[2], "check-passes: the reference executor cannot run "
                            "the module after pass 'rename-param'");
}

} // namespace

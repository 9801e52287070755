//===- DriverTest.cpp - The pipeline as a library -------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The driver library on a small model given as a string: parsing and
// elaboration (and their failures), the params in --list-params order, the
// pass pipeline with its hooks, the in-memory bundle, the numbers of the
// reference executor on the unfused and fused modules and of the emulator
// on the bundle, input and weight files, and NVRTC (which needs no GPU).
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Driver.h"

#include "dlm/Reference/Interpreter.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/Weights.h"

#include "TestUtils.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassInstrumentation.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace dlm;
using namespace dlm::test;

namespace {

/// A conv with a BatchNorm to fold (so the bundle has init launches), a
/// pool and a classifier; test/Target/CUDA/Inputs/tiny.dlm.
constexpr llvm::StringLiteral kTiny = R"dlm(model tiny(x: f32[1, 2, 8, 8]) {
    conv(4, kernel=3, padding=1)
    batchnorm
    relu
    maxpool(kernel=2, stride=2)
    flatten
    linear(3)
}
)dlm";

/// `dlmc tiny.dlm --list-params`.
const std::vector<std::pair<std::string, std::vector<int64_t>>> kTinyParams = {
    {"conv1.weight", {4, 2, 3, 3}},   {"conv1.bias", {4}},
    {"batchnorm1.weight", {4}},       {"batchnorm1.bias", {4}},
    {"batchnorm1.running_mean", {4}}, {"batchnorm1.running_var", {4}},
    {"linear1.weight", {3, 64}},      {"linear1.bias", {3}},
};

const std::vector<int64_t> kTinyInputShape = {1, 2, 8, 8};
const std::vector<int64_t> kTinyOutputShape = {1, 3};

/// The (name, shape) pairs of \p params.
std::vector<std::pair<std::string, std::vector<int64_t>>>
namesAndShapes(llvm::ArrayRef<ParamSpec> params) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> result;
  for (const ParamSpec &param : params)
    result.emplace_back(param.name, param.shape);
  return result;
}

/// Loads \p text as "tiny.dlm", parses and elaborates it; a test failure if
/// either fails.
void elaborate(Compilation &c, llvm::StringRef text = kTiny) {
  c.loadSource("tiny.dlm", text);
  ASSERT_NE(c.parse(), nullptr);
  ASSERT_TRUE(c.elaborate());
}

/// Elaborates kTiny and runs the pipeline of \p fusion (and
/// dlm-prepare-for-cuda if \p prepare).
/// Compiles \p c; a module prepared for CUDA gets IEEE FP32 kernels, which
/// the reference executor matches to 1e-4 (TensorCoreConvTest checks the
/// tensor-core precisions against their own tolerances).
void compile(Compilation &c, Fusion fusion, bool prepare) {
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  PipelineOptions options;
  options.fusion = fusion;
  options.prepareForCUDA = prepare;
  options.precision = kFP32Precision.str();
  ASSERT_TRUE(mlir::succeeded(c.runPipeline(options)));
}

/// Expects \p actual to hold the values of \p expected, each within
/// \p tolerance relative to the largest magnitude of \p expected.
void expectClose(const Tensor &actual, const Tensor &expected, double tolerance,
                 llvm::StringRef what) {
  ASSERT_EQ(actual.shape, expected.shape) << what.str();
  ASSERT_EQ(actual.data.size(), expected.data.size()) << what.str();
  double scale = 0;
  for (float v : expected.data)
    scale = std::max(scale, double(std::fabs(v)));
  ASSERT_GT(scale, 0) << what.str() << ": the expected output is all zeros";
  for (size_t i = 0; i < expected.data.size(); ++i)
    EXPECT_NEAR(actual.data[i], expected.data[i], tolerance * scale)
        << what.str() << " at element " << i;
}

/// Sets an environment variable for the lifetime of the object and then
/// restores it.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const std::string &value) : name(name) {
    if (const char *old = std::getenv(name))
      previous = old;
    ::setenv(name, value.c_str(), /*overwrite=*/1);
  }
  ~ScopedEnv() {
    if (previous)
      ::setenv(name, previous->c_str(), 1);
    else
      ::unsetenv(name);
  }

private:
  const char *name;
  std::optional<std::string> previous;
};

/// The messages printed to stderr while \p fn runs.
template <typename Fn> std::string captureStderr(Fn fn) {
  testing::internal::CaptureStderr();
  fn();
  llvm::errs().flush();
  return testing::internal::GetCapturedStderr();
}

//===----------------------------------------------------------------------===//
// Parsing and elaboration
//===----------------------------------------------------------------------===//

TEST(DriverTest, ParseAndElaborate) {
  Compilation c;
  c.loadSource("tiny.dlm", kTiny);
  EXPECT_EQ(c.getSourceName().str(), "tiny.dlm");
  EXPECT_EQ(c.getSourceText().str(), kTiny.str());
  EXPECT_EQ(c.getAST(), nullptr);

  const FileAST *ast = c.parse();
  ASSERT_NE(ast, nullptr);
  EXPECT_EQ(c.getAST(), ast);

  mlir::ModuleOp module = c.elaborate();
  ASSERT_TRUE(module);
  EXPECT_EQ(c.getModule(), module);
  EXPECT_TRUE(lookupForward(module));
  EXPECT_TRUE(mlir::succeeded(mlir::verify(module)));
}

TEST(DriverTest, ParamsInListParamsOrder) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  EXPECT_EQ(namesAndShapes(c.getParams()), kTinyParams);

  // Roles decide how random weights are drawn.
  llvm::ArrayRef<ParamSpec> params = c.getParams();
  ASSERT_EQ(params.size(), kTinyParams.size());
  EXPECT_EQ(params[0].role, ParamRole::Weight);
  EXPECT_EQ(params[1].role, ParamRole::Bias);
  EXPECT_EQ(params[5].role, ParamRole::Variance);
  for (const ParamSpec &param : params)
    EXPECT_EQ(param.dtype, DType::F32) << param.name;
}

TEST(DriverTest, ParamsFixedAtElaboration) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  // The passes fold the BatchNorm into the conv and hoist the params, but
  // the checkpoint the model expects stays as written.
  EXPECT_EQ(namesAndShapes(c.getParams()), kTinyParams);
}

TEST(DriverTest, InputShapes) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  std::vector<std::vector<int64_t>> expected = {kTinyInputShape};
  EXPECT_EQ(c.getInputShapes(), expected);

  // After the pipeline too.
  PipelineOptions options;
  options.prepareForCUDA = true;
  ASSERT_TRUE(mlir::succeeded(c.runPipeline(options)));
  EXPECT_EQ(c.getInputShapes(), expected);
}

TEST(DriverTest, InputShapesOfAnotherModel) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c, R"dlm(model m(x: f32[2, 3, 5, 7]) {
    relu
}
)dlm"));
  std::vector<std::vector<int64_t>> expected = {{2, 3, 5, 7}};
  EXPECT_EQ(c.getInputShapes(), expected);
  EXPECT_TRUE(c.getParams().empty());
}

TEST(DriverTest, ParseErrorReturnsNull) {
  Compilation c;
  c.loadSource("bad.dlm", "model bad(x: f32[1, 2, 8, 8]) { conv(4, kernel=3 }");
  const FileAST *ast = nullptr;
  std::string errors = captureStderr([&] { ast = c.parse(); });
  EXPECT_EQ(ast, nullptr);
  EXPECT_ERROR_HAS(errors, "bad.dlm:1:", "error:");
  // Nothing to elaborate.
  EXPECT_FALSE(c.elaborate());
  EXPECT_FALSE(c.getModule());
}

TEST(DriverTest, ElaborationErrorReturnsNull) {
  Compilation c;
  c.loadSource("bad.dlm",
               "model bad(x: f32[1, 2, 8, 8]) {\n    linear(3)\n}\n");
  ASSERT_NE(c.parse(), nullptr);
  mlir::ModuleOp module;
  std::string errors = captureStderr([&] { module = c.elaborate(); });
  EXPECT_FALSE(module);
  EXPECT_FALSE(c.getModule());
  EXPECT_TRUE(c.getParams().empty());
  EXPECT_ERROR_HAS(errors, "bad.dlm:2:5: error:", "linear");
}

TEST(DriverTest, ShapeErrorReturnsNull) {
  Compilation c;
  c.loadSource("bad.dlm", "model bad(x: f32[1, 2, 8, 8]) {\n"
                          "    maxpool(kernel=16, stride=2)\n}\n");
  ASSERT_NE(c.parse(), nullptr);
  mlir::ModuleOp module;
  std::string errors = captureStderr([&] { module = c.elaborate(); });
  EXPECT_FALSE(module);
  EXPECT_ERROR_HAS(errors, "bad.dlm:2:5: error:", "maxpool");
}

TEST(DriverTest, LoadFile) {
  TempDir dir;
  std::string path = dir.file("tiny.dlm");
  ASSERT_NO_FATAL_FAILURE(writeFile(path, kTiny));
  Compilation c;
  ASSERT_EQ(errorMessage(c.loadFile(path)), "");
  EXPECT_EQ(c.getSourceName().str(), path);
  EXPECT_EQ(c.getSourceText().str(), kTiny.str());
  ASSERT_NE(c.parse(), nullptr);
  ASSERT_TRUE(c.elaborate());
  EXPECT_EQ(namesAndShapes(c.getParams()), kTinyParams);
}

TEST(DriverTest, LoadMissingFile) {
  TempDir dir;
  std::string path = dir.file("missing.dlm");
  Compilation c;
  EXPECT_ERROR_HAS(errorMessage(c.loadFile(path)), "missing.dlm");
}

//===----------------------------------------------------------------------===//
// The pipeline and the bundle
//===----------------------------------------------------------------------===//

/// The names of the passes that run, in order.
class RecordPasses : public mlir::PassInstrumentation {
public:
  explicit RecordPasses(std::vector<std::string> &names) : names(names) {}
  void runBeforePass(mlir::Pass *pass, mlir::Operation *) override {
    names.push_back(pass->getArgument().str());
  }

private:
  std::vector<std::string> &names;
};

/// A pass that counts its runs and fails if told to.
struct CountingPass
    : public mlir::PassWrapper<CountingPass,
                               mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CountingPass)

  CountingPass(int &runs, bool fail) : runs(runs), fail(fail) {}
  CountingPass(const CountingPass &other) = default;

  llvm::StringRef getArgument() const override { return "test-counting"; }
  void runOnOperation() override {
    ++runs;
    if (fail)
      signalPassFailure();
  }

  int &runs;
  bool fail;
};

/// The index of \p name in \p names, or -1.
int indexOf(llvm::ArrayRef<std::string> names, llvm::StringRef name) {
  auto it = llvm::find(names, name);
  return it == names.end() ? -1 : int(it - names.begin());
}

TEST(DriverTest, PipelineRunsHooksInOrder) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  std::vector<std::string> ran;
  int configured = 0;
  int counted = 0;
  PipelineOptions options;
  options.fusion = Fusion::All;
  options.prepareForCUDA = true;
  options.extraPasses = [&](mlir::OpPassManager &pm) {
    pm.addPass(std::make_unique<CountingPass>(counted, /*fail=*/false));
    pm.addPass(mlir::createCanonicalizerPass());
  };
  options.configure = [&](mlir::PassManager &pm) {
    ++configured;
    pm.addInstrumentation(std::make_unique<RecordPasses>(ran));
    return mlir::success();
  };
  ASSERT_TRUE(mlir::succeeded(c.runPipeline(options)));
  EXPECT_EQ(configured, 1);
  EXPECT_EQ(counted, 1);

  // dlm-fusion, then the extra passes, then dlm-prepare-for-cuda.
  int fold = indexOf(ran, "dlm-fold-batchnorm");
  int form = indexOf(ran, "dlm-form-kernels");
  int plan = indexOf(ran, "dlm-plan-memory");
  int extra = indexOf(ran, "test-counting");
  int prepare = indexOf(ran, "dlm-prepare-for-cuda");
  ASSERT_GE(fold, 0) << llvm::join(ran, ",");
  ASSERT_GE(extra, 0) << llvm::join(ran, ",");
  ASSERT_GE(prepare, 0) << llvm::join(ran, ",");
  EXPECT_LT(fold, form);
  EXPECT_LT(form, plan);
  EXPECT_LT(plan, extra);
  EXPECT_LT(extra, prepare);
  EXPECT_EQ(ran.back(), "dlm-prepare-for-cuda");
  EXPECT_GE(indexOf(llvm::ArrayRef(ran).drop_front(extra), "canonicalize"), 1)
      << "the canonicalizer of extraPasses did not run after the counter";
}

TEST(DriverTest, NoFusionRunsOnlyExtraPasses) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  std::vector<std::string> ran;
  int counted = 0;
  PipelineOptions options;
  options.fusion = Fusion::None;
  options.extraPasses = [&](mlir::OpPassManager &pm) {
    pm.addPass(std::make_unique<CountingPass>(counted, /*fail=*/false));
  };
  options.configure = [&](mlir::PassManager &pm) {
    pm.addInstrumentation(std::make_unique<RecordPasses>(ran));
    return mlir::success();
  };
  ASSERT_TRUE(mlir::succeeded(c.runPipeline(options)));
  EXPECT_EQ(counted, 1);
  EXPECT_EQ(ran, std::vector<std::string>{"test-counting"});
}

TEST(DriverTest, ConfigureFailureStopsPipeline) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  int counted = 0;
  PipelineOptions options;
  options.extraPasses = [&](mlir::OpPassManager &pm) {
    pm.addPass(std::make_unique<CountingPass>(counted, /*fail=*/false));
  };
  options.configure = [](mlir::PassManager &) { return mlir::failure(); };
  EXPECT_TRUE(mlir::failed(c.runPipeline(options)));
  EXPECT_EQ(counted, 0) << "a pass ran although configure failed";
}

TEST(DriverTest, FailingExtraPassFailsPipeline) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  int counted = 0;
  std::vector<std::string> ran;
  PipelineOptions options;
  options.prepareForCUDA = true;
  options.extraPasses = [&](mlir::OpPassManager &pm) {
    pm.addPass(std::make_unique<CountingPass>(counted, /*fail=*/true));
  };
  options.configure = [&](mlir::PassManager &pm) {
    pm.addInstrumentation(std::make_unique<RecordPasses>(ran));
    return mlir::success();
  };
  EXPECT_TRUE(mlir::failed(c.runPipeline(options)));
  EXPECT_EQ(counted, 1);
  EXPECT_EQ(indexOf(ran, "dlm-prepare-for-cuda"), -1)
      << "a pass after the failing one ran";
}

TEST(DriverTest, BuildBundle) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));
  ASSERT_EQ(errorMessage(verifyBundle(*bundle)), "");

  EXPECT_EQ(bundle->model, "tiny");
  EXPECT_TRUE(bundle->directory.empty());
  EXPECT_EQ(bundle->manifest.version, kBundleFormatVersion);
  EXPECT_EQ(bundle->manifest.sourcePath, "tiny.dlm");
  EXPECT_EQ(bundle->manifest.sourceSha256.size(), 64u);
  EXPECT_GT(bundle->arenaBytes, 0u);

  // One input, one output.
  ASSERT_EQ(bundle->inputs.size(), 1u);
  EXPECT_EQ(bundle->inputs[0].name, "input");
  EXPECT_EQ(bundle->inputs[0].shape, kTinyInputShape);
  EXPECT_EQ(bundle->inputs[0].dtype, DType::F32);
  ASSERT_EQ(bundle->outputs.size(), 1u);
  EXPECT_EQ(bundle->outputs[0].tensor.shape, kTinyOutputShape);

  // The checkpoint as written, although the passes reordered the params.
  EXPECT_EQ(namesAndShapes(bundle->params), kTinyParams);

  // init (the folded BatchNorm) first, then forward.
  ASSERT_EQ(bundle->phases.size(), 2u);
  EXPECT_EQ(bundle->phases[0].name, kInitPhase);
  EXPECT_EQ(bundle->phases[1].name, kForwardPhase);
  const Phase *forward = bundle->findPhase(kForwardPhase);
  ASSERT_NE(forward, nullptr);
  EXPECT_EQ(forward->inputs, std::vector<std::string>{"input"});
  EXPECT_EQ(forward->outputs.size(), 1u);
  EXPECT_FALSE(bundle->phases[0].launches.empty());
  // conv+bn+relu, maxpool, linear (flatten is a view).
  EXPECT_EQ(forward->launches.size(), 3u);
  EXPECT_EQ(bundle->derived.size(), 2u);

  // The kernels listed are exactly those launched, each defined in
  // kernels.cu with as many parameters as each launch passes.
  llvm::StringSet<> listed, launched;
  for (const KernelSpec &kernel : bundle->kernels) {
    EXPECT_TRUE(listed.insert(kernel.name).second) << kernel.name;
    EXPECT_NE(bundle->kernelsSource.find("__global__"), std::string::npos);
    EXPECT_NE(bundle->kernelsSource.find(" " + kernel.name + "("),
              std::string::npos)
        << kernel.name << " is not defined in kernels.cu";
  }
  for (const Phase &phase : bundle->phases)
    for (const Launch &launch : phase.launches) {
      launched.insert(launch.kernel);
      const KernelSpec *kernel = bundle->findKernel(launch.kernel);
      ASSERT_NE(kernel, nullptr) << launch.kernel;
      EXPECT_EQ(launch.args.size(), kernel->params.size()) << launch.kernel;
    }
  EXPECT_EQ(listed.size(), launched.size());
  for (const auto &name : launched)
    EXPECT_TRUE(listed.contains(name.getKey())) << name.getKey().str();
  EXPECT_FALSE(bundle->libraryHeader.empty());
}

TEST(DriverTest, BuildBundleRoundTrips) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));
  TempDir dir;
  std::string path = dir.file("bundle");
  ASSERT_EQ(errorMessage(writeBundle(*bundle, path)), "");
  llvm::Expected<Bundle> read = readBundle(path);
  ASSERT_TRUE(bool(read)) << llvm::toString(read.takeError());
  EXPECT_EQ(read->kernelsSource, bundle->kernelsSource);
  EXPECT_EQ(namesAndShapes(read->params), kTinyParams);
  EXPECT_EQ(read->phases.size(), bundle->phases.size());
}

//===----------------------------------------------------------------------===//
// Numbers
//===----------------------------------------------------------------------===//

TEST(DriverTest, ReferenceAndEmulatorAgree) {
  Compilation unfused;
  ASSERT_NO_FATAL_FAILURE(compile(unfused, Fusion::None, /*prepare=*/false));
  Compilation fused;
  ASSERT_NO_FATAL_FAILURE(compile(fused, Fusion::All, /*prepare=*/false));
  Compilation prepared;
  ASSERT_NO_FATAL_FAILURE(compile(prepared, Fusion::All, /*prepare=*/true));

  // The pipeline did run: the fused module folds the BatchNorm in @init.
  EXPECT_FALSE(unfused.getModule().lookupSymbol("init"));
  EXPECT_TRUE(fused.getModule().lookupSymbol("init"));

  WeightSet weights = makeRandomWeights(unfused.getParams(), 1);
  ASSERT_EQ(weights.size(), kTinyParams.size());
  std::vector<std::vector<int64_t>> shapes = unfused.getInputShapes();
  ASSERT_EQ(shapes.size(), 1u);
  Tensor input = makeRandomInput(shapes[0], 0);
  std::vector<TensorView> inputs = {input.view("input")};

  mlir::FailureOr<std::vector<Tensor>> expected =
      runReference(unfused.getModule(), weights, inputs);
  ASSERT_TRUE(mlir::succeeded(expected));
  ASSERT_EQ(expected->size(), 1u);
  EXPECT_EQ((*expected)[0].shape, kTinyOutputShape);

  // The fused module on the reference executor (its @init folds the
  // BatchNorm into the conv).
  mlir::FailureOr<std::vector<Tensor>> fusedOut =
      runReference(fused.getModule(), weights, inputs);
  ASSERT_TRUE(mlir::succeeded(fusedOut));
  ASSERT_EQ(fusedOut->size(), 1u);
  expectClose((*fusedOut)[0], (*expected)[0], 1e-4, "fused reference");
  // The checkpoint is left as it was.
  EXPECT_EQ(weights.size(), kTinyParams.size());

  // The bundle on the emulator.
  mlir::FailureOr<Bundle> bundle = prepared.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));
  TempDir cache;
  ExecutorOptions options;
  options.cacheDir = cache.file("cache");
  std::string ranOn;
  llvm::Expected<std::vector<Tensor>> emuOut =
      runBundle("emu", *bundle, weights, inputs, options, &ranOn);
  ASSERT_TRUE(bool(emuOut)) << llvm::toString(emuOut.takeError());
  EXPECT_EQ(ranOn, "emu");
  ASSERT_EQ(emuOut->size(), 1u);
  expectClose((*emuOut)[0], (*expected)[0], 1e-4, "emulator");

  // An unnamed input stands for the only one.
  std::vector<TensorView> unnamed = {input.view()};
  llvm::Expected<std::vector<Tensor>> again =
      runBundle("emu", *bundle, weights, unnamed, options);
  ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].data, (*emuOut)[0].data);

  // Other weights give other numbers: the weights are really bound.
  WeightSet other = makeRandomWeights(unfused.getParams(), 2);
  llvm::Expected<std::vector<Tensor>> otherOut =
      runBundle("emu", *bundle, other, inputs, options);
  ASSERT_TRUE(bool(otherOut)) << llvm::toString(otherOut.takeError());
  ASSERT_EQ(otherOut->size(), 1u);
  EXPECT_NE((*otherOut)[0].data, (*emuOut)[0].data);

  // An input of another shape is refused.
  Tensor wrong = makeRandomInput({1, 2, 4, 4}, 0);
  std::vector<TensorView> wrongInputs = {wrong.view("input")};
  EXPECT_ERROR_HAS(
      errorMessage(runBundle("emu", *bundle, weights, wrongInputs, options)),
      "input");
}

TEST(DriverTest, RunOnDevices) {
  Compilation unfused;
  ASSERT_NO_FATAL_FAILURE(compile(unfused, Fusion::None, /*prepare=*/false));
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  WeightSet weights = makeRandomWeights(c.getParams(), 7);
  Tensor input = makeRandomInput(kTinyInputShape, 8);
  std::vector<TensorView> inputs = {input.view("input")};
  TempDir cache;
  ExecutorOptions options;
  options.cacheDir = cache.file("cache");

  std::string ranOn;
  llvm::Expected<std::vector<Tensor>> expected =
      unfused.run("reference", weights, inputs, options, &ranOn);
  ASSERT_TRUE(bool(expected)) << llvm::toString(expected.takeError());
  EXPECT_EQ(ranOn, "reference");
  ASSERT_EQ(expected->size(), 1u);

  llvm::Expected<std::vector<Tensor>> emu =
      c.run("emu", weights, inputs, options, &ranOn);
  ASSERT_TRUE(bool(emu)) << llvm::toString(emu.takeError());
  EXPECT_EQ(ranOn, "emu");
  ASSERT_EQ(emu->size(), 1u);
  expectClose((*emu)[0], (*expected)[0], 1e-4, "emulator");
}

TEST(DriverTest, PrintParams) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  std::string text;
  llvm::raw_string_ostream os(text);
  c.printParams(os);
  os.flush();
  // `dlmc tiny.dlm --list-params`.
  EXPECT_EQ(text, "conv1.weight f32[4,2,3,3]\n"
                  "conv1.bias f32[4]\n"
                  "batchnorm1.weight f32[4]\n"
                  "batchnorm1.bias f32[4]\n"
                  "batchnorm1.running_mean f32[4]\n"
                  "batchnorm1.running_var f32[4]\n"
                  "linear1.weight f32[3,64]\n"
                  "linear1.bias f32[3]\n");
}

TEST(DriverTest, RunBundleUnknownDevice) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));
  WeightSet weights = makeRandomWeights(c.getParams(), 1);
  Tensor input = makeRandomInput(kTinyInputShape, 0);
  std::vector<TensorView> inputs = {input.view("input")};
  TempDir cache;
  ExecutorOptions options;
  options.cacheDir = cache.file("cache");
  EXPECT_ERROR_HAS(
      errorMessage(runBundle("tpu", *bundle, weights, inputs, options)), "tpu");
}

TEST(DriverTest, RunReferenceMissingWeight) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::None, /*prepare=*/false));
  WeightSet weights; // conv1.weight and the rest are missing
  Tensor input = makeRandomInput(kTinyInputShape, 0);
  std::vector<TensorView> inputs = {input.view("input")};
  mlir::FailureOr<std::vector<Tensor>> result;
  std::string errors = captureStderr(
      [&] { result = runReference(c.getModule(), weights, inputs); });
  EXPECT_TRUE(mlir::failed(result));
  EXPECT_ERROR_HAS(errors, "conv1.weight");
}

//===----------------------------------------------------------------------===//
// Inputs and weights
//===----------------------------------------------------------------------===//

TEST(DriverTest, LoadInput) {
  TempDir dir;
  std::string path = dir.file("x.npy");
  Tensor x = makeRandomInput(kTinyInputShape, 3);
  ASSERT_EQ(errorMessage(writeNpyFile(path, x)), "");
  llvm::Expected<Tensor> loaded = loadInput(path, kTinyInputShape, "tiny");
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
  EXPECT_EQ(loaded->shape, kTinyInputShape);
  EXPECT_EQ(loaded->data, x.data);
}

TEST(DriverTest, LoadInputOfWrongShape) {
  TempDir dir;
  std::string path = dir.file("wrong.npy");
  Tensor x = makeRandomInput({1, 2, 4, 4}, 3);
  ASSERT_EQ(errorMessage(writeNpyFile(path, x)), "");
  EXPECT_ERROR_HAS(errorMessage(loadInput(path, kTinyInputShape, "tiny")),
                   "wrong.npy", "f32[1,2,4,4]", "f32[1,2,8,8]", "tiny");
}

TEST(DriverTest, LoadInputMissingFile) {
  TempDir dir;
  EXPECT_ERROR_HAS(
      errorMessage(loadInput(dir.file("missing.npy"), kTinyInputShape, "tiny")),
      "missing.npy");
}

TEST(DriverTest, LoadWeights) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  WeightSet written = makeRandomWeights(c.getParams(), 5);
  ASSERT_EQ(errorMessage(writeWeights(path, written)), "");

  std::vector<std::string> warnings;
  auto warn = [&](const llvm::Twine &message) {
    warnings.push_back(message.str());
  };
  llvm::Expected<WeightSet> loaded =
      loadWeights(c.getParams(), path, /*strict=*/true, warn);
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(loaded->size(), kTinyParams.size());
  for (const TensorView &view : written.tensors()) {
    const TensorView *got = loaded->lookup(view.name);
    ASSERT_NE(got, nullptr) << view.name;
    EXPECT_EQ(got->shape, view.shape) << view.name;
    EXPECT_EQ(got->values(), view.values()) << view.name;
  }

  // A model that expects fewer tensors: a warning, or an error if strict.
  std::vector<ParamSpec> fewer(c.getParams().begin(), c.getParams().end());
  fewer.pop_back();
  llvm::Expected<WeightSet> lenient =
      loadWeights(fewer, path, /*strict=*/false, warn);
  ASSERT_TRUE(bool(lenient)) << llvm::toString(lenient.takeError());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("linear1.bias"), std::string::npos) << warnings[0];
  EXPECT_ERROR_HAS(
      errorMessage(loadWeights(fewer, path, /*strict=*/true, warn)),
      "linear1.bias");
}

TEST(DriverTest, LoadWeightsMissingFile) {
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(elaborate(c));
  TempDir dir;
  int warned = 0;
  EXPECT_ERROR_HAS(
      errorMessage(loadWeights(c.getParams(), dir.file("missing.safetensors"),
                               /*strict=*/false,
                               [&](const llvm::Twine &) { ++warned; })),
      "missing.safetensors");
  EXPECT_EQ(warned, 0);
}

//===----------------------------------------------------------------------===//
// NVRTC
//===----------------------------------------------------------------------===//

TEST(DriverTest, CompileKernelsToPTX) {
  TempDir cache;
  ScopedEnv env("DLM_CACHE_DIR", cache.file("cache"));
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));
  ASSERT_FALSE(bundle->kernels.empty());

  llvm::Expected<std::string> ptx = compileKernels(
      c.getModule(), "compute_90", /*cubin=*/false, /*verbose=*/false);
  ASSERT_TRUE(bool(ptx)) << llvm::toString(ptx.takeError());
  EXPECT_NE(ptx->find(".entry"), std::string::npos);
  EXPECT_NE(ptx->find(".target sm_90"), std::string::npos);
  for (const KernelSpec &kernel : bundle->kernels)
    EXPECT_NE(ptx->find(".entry " + kernel.name + "("), std::string::npos)
        << kernel.name << " is not in the PTX";
  // Through the cache $DLM_CACHE_DIR names.
  EXPECT_TRUE(llvm::sys::fs::is_directory(cache.file("cache/nvrtc")));

  // sm_XX asks for the same PTX (from the cache).
  llvm::Expected<std::string> again = compileKernels(
      c.getModule(), "sm_90", /*cubin=*/false, /*verbose=*/false);
  ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
  EXPECT_EQ(*again, *ptx);

  // A CUBIN needs a real architecture; a bad name is refused.
  EXPECT_ERROR_HAS(errorMessage(compileKernels(c.getModule(), "compute_90",
                                               /*cubin=*/true,
                                               /*verbose=*/false)),
                   "compute_90");
  EXPECT_ERROR_HAS(errorMessage(compileKernels(c.getModule(), "gfx90a",
                                               /*cubin=*/false,
                                               /*verbose=*/false)),
                   "gfx90a");
}

TEST(DriverTest, KernelResources) {
  TempDir cache;
  ScopedEnv env("DLM_CACHE_DIR", cache.file("cache"));
  Compilation c;
  ASSERT_NO_FATAL_FAILURE(compile(c, Fusion::All, /*prepare=*/true));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  ASSERT_TRUE(mlir::succeeded(bundle));

  llvm::Expected<llvm::StringMap<KernelResources>> resources =
      getKernelResources(c.getModule(), "sm_90");
  ASSERT_TRUE(bool(resources)) << llvm::toString(resources.takeError());
  EXPECT_EQ(resources->size(), bundle->kernels.size());
  for (const KernelSpec &kernel : bundle->kernels) {
    auto it = resources->find(kernel.name);
    ASSERT_NE(it, resources->end()) << kernel.name;
    EXPECT_GT(it->second.registers, 0u) << kernel.name;
  }
}

} // namespace

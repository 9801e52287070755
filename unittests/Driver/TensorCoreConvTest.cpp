//===- TensorCoreConvTest.cpp - Tensor-core convolutions on the emulator --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// --precision=tf32|bf16 (PipelineOptions::precision): small models whose
// convolutions take the tensor-core templates of dlm_tc_conv.cuh
// (conv2dTF32, conv2dBF16), run on the CPU emulator, whose mma.sync rounds
// its operands as the hardware does, against the reference executor on the
// unfused model. Each shape exercises a tile tail (M, N or K not a multiple
// of the block tile), stride and padding, 1x1 and 7x7 kernels, groups and
// the fused prologue and epilogue; the error must be within the tolerance of
// docs/cuda.md ("Tensor-core convolutions") and, for TF32, above what FP32
// gives (the rounding really happens). fp32 keeps today's kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Driver/Driver.h"

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Weights.h"

#include "TestUtils.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <vector>

using namespace dlm;
using namespace dlm::test;

namespace {

/// Tolerances relative to max |y| (docs/cuda.md): TF32 keeps 11
/// significant bits (u = 2^-11), as FP16 does, BF16 8 (u = 2^-8); a
/// product of two rounded operands is off by at most 2u relative, and a
/// one- or two-layer model's largest error stays below 8u of max |y|.
constexpr double kTF32Tolerance = 8.0 / 2048;
constexpr double kBF16Tolerance = 8.0 / 256;
constexpr double kFP16Tolerance = 8.0 / 2048;
/// What FP32 SIMT kernels reach (the emulator tests of test/Target/CUDA).
constexpr double kFP32Tolerance = 1e-4;

/// One model: its text and the number of its convolutions that must take
/// a tensor-core template.
struct Case {
  const char *name;
  const char *text;
  int tensorCoreConvs;
};

const Case kCases[] = {
    // Odd everything: M = 2 * 13 * 11 = 286, O = 5, K = 3 * 9 = 27.
    {"odd", R"dlm(model odd(x: f32[2, 3, 13, 11]) {
    conv(5, kernel=3, padding=1)
})dlm",
     1},
    // 7x7 stride 2 padding 3 (ResNet's stem): K = 147, O = 17.
    {"stem", R"dlm(model stem(x: f32[1, 3, 23, 21]) {
    conv(17, kernel=7, stride=2, padding=3)
    relu
})dlm",
     1},
    // 1x1 with 64 < O: two column blocks, the second a tail; K = 19.
    {"pointwise", R"dlm(model pointwise(x: f32[1, 19, 9, 7]) {
    conv(70, kernel=1)
})dlm",
     1},
    // A strided 1x1 and a 5x5 without bias.
    {"strided", R"dlm(model strided(x: f32[1, 6, 15, 15]) {
    conv(9, kernel=1, stride=2)
    conv(11, kernel=5, padding=2, bias=false)
})dlm",
     2},
    // Folded BatchNorm and ReLU, a residual add, a pool after (2x2).
    {"epilogue", R"dlm(model epilogue(x: f32[1, 8, 12, 12]) {
    residual {
        conv(8, kernel=3, padding=1)
        batchnorm
        relu
        conv(8, kernel=3, padding=1)
        batchnorm
    }
    relu
    conv(12, kernel=3, padding=1)
    avgpool(kernel=2, stride=2)
})dlm",
     3},
    // DenseNet's pre-activation prologue (BN + ReLU on load, zero padding
    // after it) and its transition (pool first).
    {"prologue", R"dlm(model prologue(x: f32[1, 6, 10, 10]) {
    batchnorm
    relu
    conv(10, kernel=3, padding=1)
    batchnorm
    relu
    conv(7, kernel=1)
    avgpool(kernel=2, stride=2)
})dlm",
     2},
    // A late layer at batch 1 (M = 9, K = 1152): too few blocks for 132
    // SMs, so the cost model splits K among warps of each block.
    {"late", R"dlm(model late(x: f32[1, 128, 3, 3]) {
    conv(96, kernel=3, padding=1)
    batchnorm
    relu
})dlm",
     1},
    // Larger images: 64- and 128-row tiles (M = 2304 and 1024).
    {"wide", R"dlm(model wide(x: f32[1, 8, 48, 48]) {
    conv(64, kernel=3, padding=1)
    relu
})dlm",
     1},
    {"tall", R"dlm(model tall(x: f32[1, 16, 32, 32]) {
    conv(64, kernel=3, padding=1)
})dlm",
     1},
    // Groups (not depthwise) stay on tensor cores; depthwise falls back.
    {"groups", R"dlm(model groups(x: f32[1, 8, 9, 9]) {
    conv(12, kernel=3, padding=1, groups=4)
    conv(12, kernel=3, padding=1, groups=12)
})dlm",
     1},
};

/// Points $DLM_CACHE_DIR at \p dir while it lives.
class ScopedCacheDir {
public:
  explicit ScopedCacheDir(const std::string &dir) {
    if (const char *old = std::getenv("DLM_CACHE_DIR"))
      previous = old;
    ::setenv("DLM_CACHE_DIR", dir.c_str(), 1);
  }
  ~ScopedCacheDir() {
    if (previous)
      ::setenv("DLM_CACHE_DIR", previous->c_str(), 1);
    else
      ::unsetenv("DLM_CACHE_DIR");
  }

private:
  std::optional<std::string> previous;
};

/// Compiles \p text with \p precision (dlm-prepare-for-cuda included).
void compile(Compilation &c, llvm::StringRef name, llvm::StringRef text,
             llvm::StringRef precision, Fusion fusion = Fusion::All,
             bool prepare = true) {
  c.loadSource((name + ".dlm").str(), text);
  ASSERT_NE(c.parse(), nullptr);
  ASSERT_TRUE(c.elaborate());
  PipelineOptions options;
  options.fusion = fusion;
  options.prepareForCUDA = prepare;
  options.precision = precision.str();
  ASSERT_TRUE(mlir::succeeded(c.runPipeline(options)));
}

/// max |a - b| / max |b|.
double relativeError(const Tensor &a, const Tensor &b) {
  EXPECT_EQ(a.shape, b.shape);
  double scale = 0, error = 0;
  for (size_t i = 0; i < b.data.size() && i < a.data.size(); ++i) {
    scale = std::max(scale, double(std::fabs(b.data[i])));
    error = std::max(error, double(std::fabs(a.data[i] - b.data[i])));
  }
  EXPECT_GT(scale, 0);
  return error / scale;
}

/// How many times \p needle occurs in \p text.
int count(llvm::StringRef text, llvm::StringRef needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != llvm::StringRef::npos;
       at = text.find(needle, at + 1))
    ++n;
  return n;
}

/// Runs the case at \p precision on the emulator; returns its error
/// relative to the reference executor on the unfused model.
double runCase(const Case &test, llvm::StringRef precision,
               std::string *kernels = nullptr) {
  Compilation reference;
  compile(reference, test.name, test.text, "fp32", Fusion::None,
          /*prepare=*/false);
  Compilation c;
  compile(c, test.name, test.text, precision);
  WeightSet weights = makeRandomWeights(reference.getParams(), 7);
  Tensor input = makeRandomInput(reference.getInputShapes()[0], 3);
  std::vector<TensorView> inputs = {input.view("input")};
  mlir::FailureOr<std::vector<Tensor>> expected =
      runReference(reference.getModule(), weights, inputs);
  EXPECT_TRUE(mlir::succeeded(expected));
  mlir::FailureOr<Bundle> bundle = c.buildBundle();
  EXPECT_TRUE(mlir::succeeded(bundle));
  if (failed(expected) || failed(bundle))
    return INFINITY;
  EXPECT_EQ(bundle->manifest.precision, precision.str());
  if (kernels)
    *kernels = bundle->kernelsSource;
  TempDir cache;
  ExecutorOptions options;
  options.cacheDir = cache.file("cache");
  llvm::Expected<std::vector<Tensor>> out =
      runBundle("emu", *bundle, weights, inputs, options);
  EXPECT_TRUE(bool(out)) << llvm::toString(out.takeError());
  if (!out)
    return INFINITY;
  return relativeError((*out)[0], (*expected)[0]);
}

class TensorCoreConvTest : public testing::TestWithParam<Case> {};

/// Runs the case at the tensor-core \p precision, whose template is
/// \p tmpl: every convolution but a depthwise one must be one of its
/// kernels (a launch line of kernels.cu names its template once per
/// kernel), and its error must be within \p tolerance. Returns the error.
double runTensorCores(const Case &test, llvm::StringRef precision,
                      llvm::StringRef tmpl, double tolerance) {
  std::string kernels;
  double error = runCase(test, precision, &kernels);
  EXPECT_EQ(count(kernels, ("dlm::" + tmpl + "<").str()), test.tensorCoreConvs)
      << kernels;
  EXPECT_LE(error, tolerance) << test.name << " at " << precision.str();
  return error;
}

TEST_P(TensorCoreConvTest, TF32WithinToleranceAndRounded) {
  const Case &test = GetParam();
  double tf32 = runTensorCores(test, "tf32", "conv2dTF32", kTF32Tolerance);
  double fp32 = runCase(test, "fp32");
  EXPECT_LE(fp32, kFP32Tolerance) << test.name;
  // The operands really were rounded to TF32: its error is well above
  // FP32's (TF32's rounding is 2^13 times coarser).
  EXPECT_GT(tf32, 8 * fp32 + 1e-6) << test.name;
}

TEST_P(TensorCoreConvTest, BF16WithinTolerance) {
  const Case &test = GetParam();
  double bf16 = runTensorCores(test, "bf16", "conv2dBF16", kBF16Tolerance);
  EXPECT_GT(bf16, 1e-4) << test.name;
}

TEST_P(TensorCoreConvTest, FP16WithinToleranceAndFinerThanBF16) {
  const Case &test = GetParam();
  double fp16 = runTensorCores(test, "fp16", "conv2dFP16", kFP16Tolerance);
  // FP16 keeps 3 more mantissa bits than BF16: its error is well below
  // BF16's, and above FP32's.
  double bf16 = runCase(test, "bf16");
  EXPECT_LT(2 * fp16, bf16) << test.name;
  EXPECT_GT(fp16, 1e-5) << test.name;
}

INSTANTIATE_TEST_SUITE_P(Shapes, TensorCoreConvTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case> &info) {
                           return std::string(info.param.name);
                         });

/// nvdisasm from the toolkit, $DLM_NVDISASM or PATH (PyPI's
/// nvidia-cuda-nvdisasm wheel has one); empty if there is none.
std::string findNvdisasm() {
  if (const char *env = std::getenv("DLM_NVDISASM"))
    if (llvm::sys::fs::can_execute(env))
      return env;
  std::string inToolkit = std::string(DLM_CUDA_BIN_DIR) + "/nvdisasm";
  if (llvm::sys::fs::can_execute(inToolkit))
    return inToolkit;
  llvm::ErrorOr<std::string> onPath = llvm::sys::findProgramByName("nvdisasm");
  return onPath ? *onPath : "";
}

/// The SASS of \p cubin by \p tool, or "" after a test failure.
std::string disassemble(const std::string &tool, llvm::StringRef cubin) {
  TempDir dir;
  std::string cubinPath = dir.file("k.cubin"), sass = dir.file("k.sass");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(cubinPath, ec);
    EXPECT_FALSE(ec) << ec.message();
    os << cubin;
  }
  llvm::StringRef args[] = {tool, cubinPath};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(sass), std::nullopt};
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(tool, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/120, /*MemoryLimit=*/0,
                                     &message);
  EXPECT_EQ(rc, 0) << message;
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> text =
      llvm::MemoryBuffer::getFile(sass);
  EXPECT_TRUE(bool(text));
  return text ? (*text)->getBuffer().str() : "";
}

/// The generated tensor-core kernels compile under NVRTC for sm_80 and
/// sm_90: their PTX holds the mma of their precision, ptxas reports their
/// registers and shared memory, and where nvdisasm is found their SASS
/// holds HMMA (skipped, after the compiles, where it is not).
TEST(TensorCorePrecisionTest, NvrtcCompilesForSm80AndSm90) {
  TempDir cache;
  ScopedCacheDir env(cache.file("cache"));
  std::string tool = findNvdisasm();
  struct Expected {
    const char *precision, *mma, *hmma;
  };
  for (auto [precision, mma, hmma] :
       {Expected{"tf32", "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32",
                 "HMMA.1688.F32.TF32"},
        Expected{"bf16", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32",
                 "HMMA.16816.F32.BF16"},
        Expected{"fp16", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32",
                 "HMMA.16816.F32"}}) {
    Compilation c;
    compile(c, "epilogue", kCases[4].text, precision);
    for (const char *arch : {"sm_80", "sm_90"}) {
      SCOPED_TRACE(std::string(precision) + " " + arch);
      llvm::Expected<std::string> ptx =
          compileKernels(c.getModule(), arch, /*cubin=*/false,
                         /*verbose=*/false);
      ASSERT_TRUE(bool(ptx)) << llvm::toString(ptx.takeError());
      EXPECT_NE(ptx->find(mma), std::string::npos);
      // K = 8 * 9 is a multiple of 4: the weights go by cp.async.
      EXPECT_NE(ptx->find("cp.async.cg.shared.global"), std::string::npos);
      EXPECT_NE(ptx->find("cp.async.wait_group 0"), std::string::npos);
      // BF16 / FP16 stage A as 16-bit values and read it by ldmatrix; TF32
      // by 32-bit loads.
      bool half = llvm::StringRef(precision) != "tf32";
      EXPECT_EQ(ptx->find("ldmatrix.sync.aligned.m8n8.x4.shared.b16") !=
                    std::string::npos,
                half);
      llvm::Expected<llvm::StringMap<KernelResources>> resources =
          getKernelResources(c.getModule(), arch);
      ASSERT_TRUE(bool(resources)) << llvm::toString(resources.takeError());
      for (const auto &entry : *resources) {
        EXPECT_GT(entry.second.registers, 0u) << entry.first().str();
        EXPECT_LE(entry.second.registers, 255u) << entry.first().str();
      }
      llvm::Expected<std::string> cubin =
          compileKernels(c.getModule(), arch, /*cubin=*/true,
                         /*verbose=*/false);
      ASSERT_TRUE(bool(cubin)) << llvm::toString(cubin.takeError());
      if (tool.empty())
        continue;
      std::string sass = disassemble(tool, *cubin);
      EXPECT_NE(sass.find(hmma), std::string::npos) << sass.substr(0, 2000);
      EXPECT_NE(sass.find("LDGSTS.E.BYPASS.128"), std::string::npos);
      EXPECT_EQ(sass.find("LDSM.16.M88.4") != std::string::npos, half);
    }
  }
  if (tool.empty())
    GTEST_SKIP() << "kernels compiled; no nvdisasm to read their SASS (set "
                    "DLM_NVDISASM or put PyPI's nvidia-cuda-nvdisasm on PATH)";
}

// The cases run (above, on the emulator) every kind of tile the cost model
// picks for them: one slice of K (K < 32), and two and four slices in the
// block; 32-, 64- and 128-row tiles.
TEST(TensorCorePrecisionTest, CasesCoverTheTiles) {
  std::set<int64_t> slices, rows;
  for (const Case &test : kCases) {
    Compilation c;
    compile(c, test.name, test.text, "tf32");
    c.getModule().walk([&](mlir::Operation *op) {
      auto variant = op->getAttrOfType<mlir::StringAttr>("dlm.variant");
      auto tile = op->getAttrOfType<mlir::DenseI64ArrayAttr>("dlm.tile");
      if (!variant || variant.getValue() != "conv2dTF32" || !tile)
        return;
      ASSERT_EQ(tile.size(), 4u);
      rows.insert(tile[0]);
      slices.insert(tile[3]);
    });
  }
  EXPECT_EQ(slices, (std::set<int64_t>{1, 2, 4}));
  EXPECT_EQ(rows, (std::set<int64_t>{32, 64, 128}));
}

TEST(TensorCorePrecisionTest, DefaultIsTF32AndFP32KeepsSIMT) {
  // The default is tf32 (as PyTorch's cuDNN convolutions): the same
  // kernels.cu as an explicit tf32, recorded in the manifest. fp32 has no
  // tensor-core template, and its manifest says nothing of precision.
  EXPECT_EQ(PipelineOptions().precision, "tf32");
  for (const Case &test : kCases) {
    Compilation d, tf32, fp32;
    d.loadSource((std::string(test.name) + ".dlm"), test.text);
    ASSERT_NE(d.parse(), nullptr);
    ASSERT_TRUE(d.elaborate());
    PipelineOptions options;
    options.prepareForCUDA = true; // precision left at its default
    ASSERT_TRUE(mlir::succeeded(d.runPipeline(options)));
    compile(tf32, test.name, test.text, "tf32");
    compile(fp32, test.name, test.text, "fp32");
    mlir::FailureOr<Bundle> a = d.buildBundle(), t = tf32.buildBundle(),
                            f = fp32.buildBundle();
    ASSERT_TRUE(mlir::succeeded(a) && mlir::succeeded(t) && mlir::succeeded(f));
    EXPECT_EQ(a->kernelsSource, t->kernelsSource);
    EXPECT_EQ(a->manifest.precision, "tf32");
    EXPECT_NE(a->kernelsSource.find("conv2dTF32"), std::string::npos);
    EXPECT_EQ(f->manifest.precision, "fp32");
    EXPECT_EQ(toJSON(f->manifest).getAsObject()->get("precision"), nullptr);
    for (const char *tc : {"conv2dTF32", "conv2dBF16", "conv2dFP16"})
      EXPECT_EQ(f->kernelsSource.find(tc), std::string::npos);
    EXPECT_FALSE(fp32.getModule()->hasAttr("dlm.precision"));
  }
}

TEST(TensorCorePrecisionTest, DepthwiseFallbackRecorded) {
  Compilation c;
  compile(c, "groups", kCases[9].text, "tf32");
  int fallbacks = 0, tensorCores = 0;
  c.getModule().walk([&](mlir::Operation *op) {
    auto precision = op->getAttrOfType<mlir::StringAttr>("dlm.precision");
    if (!precision || op == c.getModule().getOperation())
      return;
    if (precision.getValue() == "tf32") {
      ++tensorCores;
      EXPECT_FALSE(op->hasAttr("dlm.fallback"));
    } else {
      ++fallbacks;
      EXPECT_EQ(precision.getValue(), "fp32");
      auto reason = op->getAttrOfType<mlir::StringAttr>("dlm.fallback");
      ASSERT_TRUE(reason);
      EXPECT_EQ(reason.getValue(), "depthwise");
    }
  });
  EXPECT_EQ(tensorCores, 1);
  EXPECT_EQ(fallbacks, 1);
  auto precision =
      c.getModule()->getAttrOfType<mlir::StringAttr>("dlm.precision");
  ASSERT_TRUE(precision);
  EXPECT_EQ(precision.getValue(), "tf32");
}

TEST(TensorCorePrecisionTest, UnknownPrecisionRefused) {
  Compilation c;
  c.loadSource("odd.dlm", kCases[0].text);
  ASSERT_NE(c.parse(), nullptr);
  ASSERT_TRUE(c.elaborate());
  std::string messages;
  llvm::raw_string_ostream os(messages);
  c.setDiagnosticStream(os);
  PipelineOptions options;
  options.prepareForCUDA = true;
  options.precision = "fp8";
  EXPECT_TRUE(mlir::failed(c.runPipeline(options)));
  EXPECT_NE(messages.find("unknown precision 'fp8' (expected fp32, tf32, "
                          "bf16 or fp16)"),
            std::string::npos)
      << messages;
}

TEST(TensorCorePrecisionTest, ManifestRoundTrip) {
  BundleManifest manifest;
  manifest.precision = "tf32";
  llvm::json::Value value = toJSON(manifest);
  ASSERT_NE(value.getAsObject()->get("precision"), nullptr);
  BundleManifest back;
  llvm::json::Path::Root root;
  ASSERT_TRUE(fromJSON(value, back, root));
  EXPECT_EQ(back.precision, "tf32");
  (*value.getAsObject())["precision"] = "fp4";
  llvm::json::Path::Root bad;
  EXPECT_FALSE(fromJSON(value, back, bad));
  // The message spells out kPrecisions (json::Path::report takes a literal).
  std::string message = llvm::toString(bad.getError());
  EXPECT_NE(message.find("(expected " + getPrecisionList() + ")"),
            std::string::npos)
      << message;
  for (llvm::StringRef precision : kPrecisions) {
    (*value.getAsObject())["precision"] = precision;
    llvm::json::Path::Root good;
    EXPECT_TRUE(fromJSON(value, back, good)) << precision.str();
    EXPECT_EQ(back.precision, precision.str());
  }
}

} // namespace

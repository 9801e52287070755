//===- EmuBundleTest.cpp - Reading bundles --------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// readBundle() on the hand-written bundle Inputs/emu-bundle and on copies of
// it with one thing broken each: every error names the file and the field.
//
//===----------------------------------------------------------------------===//

#include "TestUtils.h"

#include "dlm/Runtime/Bundle.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

using namespace dlm;
using namespace dlm::test;
using llvm::consumeError;
using llvm::Expected;

namespace {

const char *const kBundleFiles[] = {"kernels.cu", "dlm_kernels.cuh",
                                    "plan.json", "params.json",
                                    "manifest.json"};

std::string fixtureDir() {
  llvm::SmallString<256> path(DLM_TEST_INPUTS_DIR);
  llvm::sys::path::append(path, "emu-bundle");
  return std::string(path);
}

std::string readText(const std::string &path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path);
  EXPECT_TRUE(bool(buffer)) << path;
  return buffer ? (*buffer)->getBuffer().str() : "";
}

void writeText(const std::string &path, llvm::StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  os << text;
}

/// A copy of the fixture bundle in a temporary directory, to break.
class BundleCopy {
public:
  BundleCopy() {
    for (const char *name : kBundleFiles) {
      llvm::SmallString<256> from(fixtureDir());
      llvm::sys::path::append(from, name);
      writeText(file(name), readText(std::string(from)));
    }
  }
  std::string path() const { return dir.file(""); }
  std::string file(llvm::StringRef name) const { return dir.file(name); }

  /// Replaces the first \p from in file \p name by \p to.
  void edit(llvm::StringRef name, llvm::StringRef from, llvm::StringRef to) {
    std::string text = readText(file(name));
    size_t at = text.find(from.str());
    ASSERT_NE(at, std::string::npos)
        << "'" << from.str() << "' in " << name.str();
    text.replace(at, from.size(), to.str());
    writeText(file(name), text);
  }

  /// The error message of reading the bundle ("" if it reads).
  std::string readError() { return errorMessage(readBundle(path())); }

private:
  TempDir dir;
};

TEST(EmuBundleTest, ReadsTheFixture) {
  Expected<Bundle> bundle = readBundle(fixtureDir());
  ASSERT_TRUE(bool(bundle)) << errorMessage(bundle.takeError());
  EXPECT_EQ(bundle->model, "tiny");
  EXPECT_EQ(bundle->arenaBytes, 256u);
  EXPECT_EQ(bundle->inputShape, (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_EQ(bundle->outputShape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(bundle->output.kind, BufferKind::Arena);
  EXPECT_EQ(bundle->output.offset, 128u);
  EXPECT_EQ(bundle->kernelNames,
            (std::vector<std::string>{"dlm_k0", "dlm_k1", "dlm_k2"}));
  ASSERT_EQ(bundle->params.size(), 2u);
  EXPECT_EQ(bundle->params[0].name, "scale.weight");
  EXPECT_EQ(bundle->params[1].shape, (std::vector<int64_t>{2}));
  ASSERT_EQ(bundle->derived.size(), 1u);
  EXPECT_EQ(bundle->derived[0].name, "scale.weight#doubled");
  ASSERT_EQ(bundle->init.size(), 1u);
  ASSERT_EQ(bundle->forward.size(), 2u);
  const Launch &k1 = bundle->forward[0];
  EXPECT_EQ(k1.kernel, "dlm_k1");
  EXPECT_EQ(k1.grid, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(k1.block, (std::array<uint32_t, 3>{4, 4, 1}));
  EXPECT_EQ(k1.getBlockThreads(), 16u);
  EXPECT_EQ(k1.getNumBlocks(), 2u);
  EXPECT_EQ(k1.ops, "mul > add > relu");
  EXPECT_EQ(k1.source, "3:5");
  ASSERT_EQ(k1.args.size(), 4u);
  EXPECT_EQ(k1.args[0].kind, BufferKind::Input);
  EXPECT_EQ(k1.args[1].kind, BufferKind::Derived);
  EXPECT_EQ(k1.args[1].name, "scale.weight#doubled");
  EXPECT_EQ(k1.args[2].kind, BufferKind::Param);
  EXPECT_EQ(k1.args[3].kind, BufferKind::Arena);
  EXPECT_NE(bundle->kernelsSource.find("dlm_k2_emu"), std::string::npos);
  EXPECT_NE(bundle->libraryHeader.find("blockSum"), std::string::npos);
  EXPECT_NE(bundle->manifest.find("tiny.dlm"), std::string::npos);
  EXPECT_TRUE(bundle->findParam("scale.bias"));
  EXPECT_FALSE(bundle->findParam("scale.weight#doubled"));
}

TEST(EmuBundleTest, MissingDirectoryAndFiles) {
  EXPECT_ERROR_HAS(errorMessage(readBundle("/nonexistent/bundle")),
                   "'/nonexistent/bundle': cannot open the bundle directory");
  BundleCopy copy;
  EXPECT_ERROR_HAS(errorMessage(readBundle(copy.file("plan.json"))),
                   "plan.json': not a bundle directory");
  for (const char *name :
       {"kernels.cu", "dlm_kernels.cuh", "plan.json", "params.json"}) {
    BundleCopy broken;
    ASSERT_FALSE(llvm::sys::fs::remove(broken.file(name)));
    EXPECT_ERROR_HAS(broken.readError(), name, "o such file or directory");
  }
  // The manifest is optional.
  ASSERT_FALSE(llvm::sys::fs::remove(copy.file("manifest.json")));
  EXPECT_EQ(copy.readError(), "");
}

TEST(EmuBundleTest, BadJSON) {
  {
    BundleCopy copy;
    copy.edit("plan.json", "\"version\": 1,", "\"version\": 1,,");
    EXPECT_ERROR_HAS(copy.readError(), "plan.json': invalid JSON");
  }
  {
    BundleCopy copy;
    writeText(copy.file("params.json"), "[1, 2]");
    EXPECT_ERROR_HAS(copy.readError(),
                     "params.json': the top level is not a JSON object");
  }
  {
    BundleCopy copy;
    copy.edit("plan.json", "\"model\": \"tiny\",",
              "\"model\": \"tiny\", \"model\": \"other\",");
    EXPECT_ERROR_HAS(copy.readError(),
                     "plan.json': JSON key 'model' appears twice");
  }
  {
    BundleCopy copy;
    writeText(copy.file("manifest.json"),
              std::string(100, '[') + std::string(100, ']'));
    EXPECT_ERROR_HAS(copy.readError(), "manifest.json': JSON nests deeper");
  }
}

/// Each case: a replacement in plan.json and the expected message parts.
struct PlanCase {
  const char *from, *to;
  std::vector<const char *> expected;
};

TEST(EmuBundleTest, PlanErrorsNameTheField) {
  std::vector<PlanCase> cases = {
      {"\"version\": 1", "\"version\": 2", {"plan version 2 is not supported"}},
      {"\"arena_bytes\": 256",
       "\"arena_bytes\": -1",
       {"'arena_bytes' must be an integer from 0 to"}},
      {"\"arena_bytes\": 256,", "", {"missing 'arena_bytes'"}},
      {"\"shape\": [1, 2, 4, 4]",
       "\"shape\": [1, -2, 4, 4]",
       {"input: 'shape' has a dimension that is not a non-negative integer"}},
      {"\"shape\": [1, 2, 4, 4]",
       "\"shape\": [4294967296, 4294967296, 4294967296]",
       {"input: 'shape' [4294967296, 4294967296, 4294967296] has too many "
        "elements"}},
      {"\"kind\": \"arena\", \"offset\": 128}}",
       "\"kind\": \"arena\", \"offset\": 252}}",
       {"output: buffer: the output (8 bytes at arena offset 252) runs past "
        "the end of the arena (256 bytes)"}},
      {"\"kind\": \"arena\", \"offset\": 128}}",
       "\"kind\": \"param\", \"name\": \"scale.bias\"}}",
       {"output: buffer: the output must be read from the arena or the "
        "input, not a param"}},
      {"{\"kind\": \"arena\", \"offset\": 128}]",
       "{\"kind\": \"arena\", \"offset\": 256}]",
       {"forward[1]: args[1]: arena offset 256 is outside the arena (256 "
        "bytes)"}},
      {"{\"kind\": \"arena\", \"offset\": 128}]",
       "{\"kind\": \"arena\", \"offset\": 130}]",
       {"forward[1]: args[1]: arena offset 130 is not a multiple of 4"}},
      {"{\"kind\": \"input\"}",
       "{\"kind\": \"texture\"}",
       {"forward[0]: args[0]: unknown argument kind 'texture' (expected "
        "input, arena, param or derived)"}},
      {"{\"kind\": \"input\"}", "{}", {"forward[0]: args[0]: missing 'kind'"}},
      {"{\"kind\": \"input\"}",
       "7",
       {"forward[0]: args[0]: must be an object, not 7"}},
      {"\"name\": \"scale.bias\"}",
       "\"name\": \"scale.gamma\"}",
       {"forward[0]: args[2]: param 'scale.gamma' is not listed in "
        "params.json"}},
      {"{\"kind\": \"derived\", \"name\": \"scale.weight#doubled\"}]",
       "{\"kind\": \"derived\", \"name\": \"nope\"}]",
       {"init[0]: args[1]: derived tensor 'nope' is not listed in "
        "'derived'"}},
      {"{\"kind\": \"param\", \"name\": \"scale.weight\"}",
       "{\"kind\": \"input\"}",
       {"init[0]: args[0]: an init launch cannot read the input"}},
      {"\"kernel\": \"dlm_k1\"",
       "\"kernel\": \"dlm_k9\"",
       {"forward[0]: kernel 'dlm_k9' is not defined in kernels.cu"}},
      {"\"kernel\": \"dlm_k1\",", "", {"forward[0]: missing 'kernel'"}},
      {"\"block\": [4, 4, 1]",
       "\"block\": [2048, 1, 1]",
       {"forward[0]: block [2048, 1, 1] exceeds the limits (1024 threads"}},
      {"\"block\": [4, 4, 1]",
       "\"block\": [1, 1, 128]",
       {"forward[0]: block [1, 1, 128] exceeds the limits"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 0, 1], \"block\": [4, 4, 1]",
       {"forward[0]: 'grid' has a zero dimension"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 1], \"block\": [4, 4, 1]",
       {"forward[0]: 'grid' must be an array [x, y, z], not [2,1]"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [1, 70000, 1], \"block\": [4, 4, 1]",
       {"forward[0]: grid [1, 70000, 1] exceeds the limits"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 1.5, 1], \"block\": [4, 4, 1]",
       {"forward[0]: 'grid[1]' must be an integer"}},
      {"\"shared_bytes\": 0,\n     \"args\": [{\"kind\": \"input\"}",
       "\"shared_bytes\": \"none\",\n     \"args\": [{\"kind\": \"input\"}",
       {"forward[0]: 'shared_bytes' must be an integer"}},
      {"\"ops\": \"sum\"",
       "\"ops\": 3",
       {"forward[1]: 'ops' must be a string"}},
      {"\"forward\": [", "\"backward\": [", {"missing 'forward'"}},
      {"\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2]}]",
       "\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2]}, "
       "{\"name\": \"scale.weight#doubled\", \"shape\": [2]}]",
       {"derived[1]: derived tensor 'scale.weight#doubled' is listed twice"}},
      {"\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2]}]",
       "\"derived\": {}",
       {"'derived' must be an array, not {}"}},
  };
  for (const PlanCase &c : cases) {
    SCOPED_TRACE(std::string(c.from) + " -> " + c.to);
    BundleCopy copy;
    copy.edit("plan.json", c.from, c.to);
    std::string message = copy.readError();
    EXPECT_NE(message.find("plan.json': "), std::string::npos) << message;
    for (const char *part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos)
          << "missing \"" << part << "\" in: " << message;
  }
}

TEST(EmuBundleTest, ParamsErrors) {
  {
    BundleCopy copy;
    copy.edit("params.json", "{\"name\": \"scale.bias\", \"shape\": [2]}",
              "{\"name\": \"scale.weight\", \"shape\": [2]}");
    EXPECT_ERROR_HAS(copy.readError(),
                     "params.json': params[1]: parameter 'scale.weight' is "
                     "listed twice");
  }
  {
    BundleCopy copy;
    copy.edit("params.json", "\"shape\": [2]", "\"shape\": 2");
    EXPECT_ERROR_HAS(copy.readError(),
                     "params.json': params[0]: 'shape' must be an array of "
                     "dimensions, not 2");
  }
  {
    BundleCopy copy;
    copy.edit("params.json", "\"name\": \"scale.weight\"", "\"name\": \"\"");
    EXPECT_ERROR_HAS(copy.readError(), "params[0]: 'name' is empty");
  }
}

TEST(EmuBundleTest, KernelDefinitions) {
  EXPECT_EQ(findKernelDefinitions(R"cu(
// extern "C" __global__ void in_a_comment(float *x) {}
/* __global__ void in_a_block_comment() {} */
const char *s = "__global__ void in_a_string() {}";
extern "C" __global__ void declared_only(float *x);
extern "C" __global__ void __launch_bounds__(256, 2)
    bounded(const float *__restrict__ a, float *b) { b[0] = a[0]; }
template <int N> __global__ void templated(float (*x)[N]) {}
extern "C" __global__ void
spread_over
(float *x)
{
}
__device__ void not_a_kernel(float *x) {}
)cu"),
            (std::vector<std::string>{"bounded", "templated", "spread_over"}));
  EXPECT_EQ(findKernelDefinitions(""), std::vector<std::string>{});
  EXPECT_EQ(findKernelDefinitions("__global__"), std::vector<std::string>{});
  EXPECT_EQ(findKernelDefinitions("__global__ void f("),
            std::vector<std::string>{});
}

TEST(EmuBundleTest, UnknownKeysAreIgnored) {
  BundleCopy copy;
  copy.edit("plan.json", "\"version\": 1,",
            "\"version\": 1, \"peak_bytes\": 136, \"notes\": [1, {}],");
  EXPECT_EQ(copy.readError(), "");
}

} // namespace

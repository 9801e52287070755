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

#include <array>

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
  ASSERT_EQ(bundle->inputs.size(), 1u);
  EXPECT_EQ(bundle->inputs[0].name, "input");
  EXPECT_EQ(bundle->inputs[0].shape, (std::vector<int64_t>{1, 2, 4, 4}));
  EXPECT_EQ(bundle->inputs[0].dtype, DType::F32);
  ASSERT_EQ(bundle->outputs.size(), 1u);
  EXPECT_EQ(bundle->outputs[0].tensor.shape, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(bundle->outputs[0].buffer.kind, BufferKind::Arena);
  EXPECT_EQ(bundle->outputs[0].buffer.offset, 128u);
  ASSERT_EQ(bundle->kernels.size(), 3u);
  EXPECT_EQ(bundle->kernels[1].name, "dlm_k1");
  ASSERT_EQ(bundle->kernels[1].params.size(), 4u);
  EXPECT_EQ(bundle->kernels[1].params[3].access, Access::Write);
  EXPECT_FALSE(bundle->kernels[1].params[0].writes());
  ASSERT_EQ(bundle->params.size(), 2u);
  EXPECT_EQ(bundle->params[0].name, "scale.weight");
  EXPECT_EQ(bundle->params[0].role, ParamRole::Scale);
  EXPECT_FALSE(bundle->params[0].isMutable);
  EXPECT_EQ(bundle->params[1].shape, (std::vector<int64_t>{2}));
  ASSERT_EQ(bundle->derived.size(), 1u);
  EXPECT_EQ(bundle->derived[0].name, "scale.weight#doubled");
  ASSERT_EQ(bundle->phases.size(), 2u);
  const Phase *init = bundle->findPhase("init");
  const Phase *forward = bundle->findPhase("forward");
  ASSERT_TRUE(init && forward);
  EXPECT_EQ(init->launches.size(), 1u);
  ASSERT_EQ(forward->launches.size(), 2u);
  EXPECT_EQ(forward->inputs, (std::vector<std::string>{"input"}));
  EXPECT_EQ(forward->outputs, (std::vector<std::string>{"output"}));
  const Launch &k1 = forward->launches[0];
  EXPECT_EQ(k1.kernel, "dlm_k1");
  EXPECT_EQ(k1.grid, (std::array<uint32_t, 3>{2, 1, 1}));
  EXPECT_EQ(k1.block, (std::array<uint32_t, 3>{4, 4, 1}));
  EXPECT_EQ(k1.getBlockThreads(), 16u);
  EXPECT_EQ(k1.getNumBlocks(), 2u);
  EXPECT_EQ(k1.ops, "mul > add > relu");
  EXPECT_EQ(k1.source, "3:5");
  ASSERT_EQ(k1.args.size(), 4u);
  EXPECT_EQ(k1.args[0].kind, BufferKind::Input);
  EXPECT_EQ(k1.args[0].name, "input");
  EXPECT_EQ(k1.args[1].kind, BufferKind::Derived);
  EXPECT_EQ(k1.args[1].name, "scale.weight#doubled");
  EXPECT_EQ(k1.args[2].kind, BufferKind::Param);
  EXPECT_EQ(k1.args[3].kind, BufferKind::Arena);
  EXPECT_NE(bundle->kernelsSource.find("dlm_k2_emu"), std::string::npos);
  EXPECT_NE(bundle->libraryHeader.find("blockSum"), std::string::npos);
  EXPECT_EQ(bundle->manifest.sourcePath, "tiny.dlm");
  EXPECT_TRUE(bundle->findParam("scale.bias"));
  EXPECT_FALSE(bundle->findParam("scale.weight#doubled"));
}

TEST(EmuBundleTest, WriteThenReadGivesTheSameBundle) {
  Expected<Bundle> bundle = readBundle(fixtureDir());
  ASSERT_TRUE(bool(bundle)) << errorMessage(bundle.takeError());
  TempDir dir;
  std::string out = dir.file("out");
  ASSERT_EQ(errorMessage(writeBundle(*bundle, out)), "");
  Expected<Bundle> again = readBundle(out);
  ASSERT_TRUE(bool(again)) << errorMessage(again.takeError());
  // The same schema both ways: every file's JSON is the same.
  EXPECT_EQ(getPlanJSON(*again), getPlanJSON(*bundle));
  EXPECT_EQ(getParamsJSON(*again), getParamsJSON(*bundle));
  // ... but for the SHA-256s of the files, which writeBundle adds.
  EXPECT_TRUE(bundle->manifest.fileSha256.empty());
  ASSERT_EQ(again->manifest.fileSha256.size(), 4u);
  EXPECT_EQ(again->manifest.fileSha256[0].first, "kernels.cu");
  again->manifest.fileSha256.clear();
  EXPECT_EQ(getManifestJSON(*again), getManifestJSON(*bundle));
  EXPECT_EQ(again->kernelsSource, bundle->kernelsSource);
  EXPECT_EQ(again->libraryHeader, bundle->libraryHeader);
  // An invalid bundle is not written.
  bundle->phases[1].launches[0].kernel = "dlm_k9";
  EXPECT_ERROR_HAS(errorMessage(writeBundle(*bundle, dir.file("bad"))),
                   "the bundle is not valid: kernel 'dlm_k9' is not listed");
  EXPECT_FALSE(llvm::sys::fs::exists(dir.file("bad")));
}

TEST(EmuBundleTest, MissingDirectoryAndFiles) {
  EXPECT_ERROR_HAS(errorMessage(readBundle("/nonexistent/bundle")),
                   "'/nonexistent/bundle': cannot open the bundle directory");
  BundleCopy copy;
  EXPECT_ERROR_HAS(errorMessage(readBundle(copy.file("plan.json"))),
                   "plan.json': not a bundle directory");
  for (const char *name : kBundleFiles) {
    BundleCopy broken;
    ASSERT_FALSE(llvm::sys::fs::remove(broken.file(name)));
    EXPECT_ERROR_HAS(broken.readError(), name, "o such file or directory");
  }
}

TEST(EmuBundleTest, BadJSON) {
  {
    BundleCopy copy;
    copy.edit("plan.json", "\"version\": 3,", "\"version\": 3,,");
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

TEST(EmuBundleTest, OtherVersionsAndFormats) {
  {
    BundleCopy copy;
    copy.edit("manifest.json", "\"version\": 3", "\"version\": 1");
    EXPECT_ERROR_HAS(copy.readError(),
                     "manifest.json': bundle format version 1 is not "
                     "supported: this runtime reads version 3; recompile");
  }
  {
    BundleCopy copy;
    copy.edit("plan.json", "\"version\": 3", "\"version\": 4");
    EXPECT_ERROR_HAS(copy.readError(),
                     "plan.json': bundle format version 4 is not supported");
  }
  {
    BundleCopy copy;
    copy.edit("plan.json", "\"version\": 3,", "");
    EXPECT_ERROR_HAS(copy.readError(), "plan.json': missing 'version'");
  }
  {
    BundleCopy copy;
    copy.edit("manifest.json", "\"dlm-bundle\"", "\"zip\"");
    EXPECT_ERROR_HAS(copy.readError(),
                     "manifest.json': format 'zip' is not a dlm bundle's");
  }
}

/// Each case: a replacement in plan.json and the expected message parts.
struct PlanCase {
  const char *from, *to;
  std::vector<const char *> expected;
};

TEST(EmuBundleTest, PlanErrorsNameTheField) {
  const char *arg128 = "{\"kind\": \"arena\", \"offset\": 128}]";
  const char *out128 = "\"buffer\": {\"kind\": \"arena\", \"offset\": 128}";
  std::vector<PlanCase> cases = {
      {"\"arena_bytes\": 256",
       "\"arena_bytes\": -1",
       {"expected a non-negative integer at plan.arena_bytes"}},
      {"\"arena_bytes\": 256,", "", {"missing value at plan.arena_bytes"}},
      {"\"shape\": [1, 2, 4, 4]",
       "\"shape\": [1, -2, 4, 4]",
       {"a dimension must be a non-negative integer at "
        "plan.inputs[0].shape[1]"}},
      {"\"shape\": [1, 2, 4, 4]",
       "\"shape\": [4294967296, 4294967296, 4294967296]",
       {"the shape has too many elements at plan.inputs[0].shape"}},
      {"\"dtype\": \"f32\"}]",
       "\"dtype\": \"f64\"}]",
       {"expected a dtype: \"f32\", \"f16\" or \"bf16\" at "
        "plan.inputs[0].dtype"}},
      {out128,
       "\"buffer\": {\"kind\": \"arena\", \"offset\": 252}",
       {"output 'output' (8 bytes) does not fit its buffer (4 bytes from "
        "there) at plan.outputs[0].buffer"}},
      {out128,
       "\"buffer\": {\"kind\": \"input\", \"name\": \"x\"}",
       {"input 'x' is not listed in 'inputs' at plan.outputs[0].buffer"}},
      {arg128,
       "{\"kind\": \"arena\", \"offset\": 256}]",
       {"arena offset 256 is outside the arena (256 bytes) at "
        "plan.phases[1].launches[1].args[1]"}},
      {arg128,
       "{\"kind\": \"arena\", \"offset\": 130}]",
       {"arena offset 130 is not a multiple of 4 at "
        "plan.phases[1].launches[1].args[1]"}},
      {"{\"kind\": \"input\", \"name\": \"input\"}",
       "{\"kind\": \"texture\", \"name\": \"input\"}",
       {"expected a buffer kind: \"input\", \"arena\", \"param\" or "
        "\"derived\" at plan.phases[1].launches[0].args[0].kind"}},
      {"{\"kind\": \"input\", \"name\": \"input\"}",
       "{}",
       {"missing value at plan.phases[1].launches[0].args[0].kind"}},
      {"{\"kind\": \"input\", \"name\": \"input\"}",
       "7",
       {"expected an object at plan.phases[1].launches[0].args[0]"}},
      {"\"name\": \"scale.bias\"}",
       "\"name\": \"scale.gamma\"}",
       {"param 'scale.gamma' is not listed in params.json at "
        "plan.phases[1].launches[0].args[2]"}},
      {"{\"kind\": \"derived\", \"name\": \"scale.weight#doubled\"}]",
       "{\"kind\": \"derived\", \"name\": \"nope\"}]",
       {"derived tensor 'nope' is not listed in 'derived' at "
        "plan.phases[0].launches[0].args[1]"}},
      {"{\"kind\": \"param\", \"name\": \"scale.weight\"}",
       "{\"kind\": \"input\", \"name\": \"input\"}",
       {"an init launch cannot read an input (init runs once, before any "
        "input) at plan.phases[0].launches[0].args[0]"}},
      {"\"inputs\": [\"input\"], \"outputs\": [\"output\"]",
       "\"inputs\": [], \"outputs\": [\"output\"]",
       {"input 'input' is not an input of phase 'forward' at "
        "plan.phases[1].launches[0].args[0]"}},
      {"\"inputs\": [\"input\"], \"outputs\": [\"output\"]",
       "\"inputs\": [\"input\"], \"outputs\": [\"logits\"]",
       {"output 'logits' is not listed in 'outputs' at "
        "plan.phases[1].outputs[0]"}},
      {"\"kernel\": \"dlm_k1\"",
       "\"kernel\": \"dlm_k9\"",
       {"kernel 'dlm_k9' is not listed in 'kernels' at "
        "plan.phases[1].launches[0].kernel"}},
      {"\"kernel\": \"dlm_k1\",",
       "",
       {"missing value at plan.phases[1].launches[0].kernel"}},
      {"{\"name\": \"bias\", \"dtype\": \"f32\", \"access\": \"read\", "
       "\"bytes\": 8},",
       "",
       {"4 arguments for kernel 'dlm_k1', which has 3 parameters at "
        "plan.phases[1].launches[0].args"}},
      {"{\"name\": \"x\", \"dtype\": \"f32\", \"access\": \"read\",",
       "{\"name\": \"x\", \"dtype\": \"f32\", \"access\": \"write\",",
       {"kernel 'dlm_k1' writes parameter 'x', bound to an input ('input') "
        "at plan.phases[1].launches[0].args[0]"}},
      {"{\"name\": \"x\", \"dtype\": \"f32\", \"access\": \"read\",",
       "{\"name\": \"x\", \"dtype\": \"f32\", \"access\": \"peek\",",
       {"expected \"read\", \"write\" or \"readwrite\" at "
        "plan.kernels[1].params[0].access"}},
      {"\"block\": [4, 4, 1]",
       "\"block\": [2048, 1, 1]",
       {"block [2048, 1, 1] exceeds the limits (1024 threads",
        "at plan.phases[1].launches[0].block"}},
      {"\"block\": [4, 4, 1]",
       "\"block\": [1, 1, 128]",
       {"block [1, 1, 128] exceeds the limits"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 0, 1], \"block\": [4, 4, 1]",
       {"a dimension must be positive at plan.phases[1].launches[0].grid[1]"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 1], \"block\": [4, 4, 1]",
       {"expected an array [x, y, z] at plan.phases[1].launches[0].grid"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [1, 70000, 1], \"block\": [4, 4, 1]",
       {"grid [1, 70000, 1] exceeds the limits"}},
      {"\"grid\": [2, 1, 1], \"block\": [4, 4, 1]",
       "\"grid\": [2, 1.5, 1], \"block\": [4, 4, 1]",
       {"expected an integer from 0 to 2^32-1 at "
        "plan.phases[1].launches[0].grid[1]"}},
      {"\"shared_bytes\": 0,\n       \"args\": [{\"kind\": \"input\"",
       "\"shared_bytes\": \"none\",\n       \"args\": [{\"kind\": \"input\"",
       {"expected an integer from 0 to 2^32-1 at "
        "plan.phases[1].launches[0].shared_bytes"}},
      {"\"ops\": \"sum\"",
       "\"ops\": 3",
       {"expected string at plan.phases[1].launches[1].ops"}},
      {"\"phases\": [", "\"stages\": [", {"missing value at plan.phases"}},
      {"{\"name\": \"init\"",
       "{\"name\": \"\"",
       {"a name must not be empty at plan.phases[0].name"}},
      {"{\"name\": \"forward\"",
       "{\"name\": \"init\"",
       {"phase 'init' is declared twice at plan.phases[1]"}},
      {"\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2], "
       "\"dtype\": \"f32\"}]",
       "\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2]}, "
       "{\"name\": \"scale.weight#doubled\", \"shape\": [2]}]",
       {"derived tensor 'scale.weight#doubled' is declared twice at "
        "plan.derived[1]"}},
      {"\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2], "
       "\"dtype\": \"f32\"}]",
       "\"derived\": {}",
       {"expected array at plan.derived"}},
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
    copy.edit("params.json", "{\"name\": \"scale.bias\"",
              "{\"name\": \"scale.weight\"");
    EXPECT_ERROR_HAS(copy.readError(),
                     "plan.json': parameter 'scale.weight' is declared twice "
                     "at params[1]");
  }
  {
    BundleCopy copy;
    copy.edit("params.json", "\"shape\": [2]", "\"shape\": 2");
    EXPECT_ERROR_HAS(copy.readError(),
                     "params.json': expected array at params.params[0].shape");
  }
  {
    BundleCopy copy;
    copy.edit("params.json", "\"name\": \"scale.weight\"", "\"name\": \"\"");
    EXPECT_ERROR_HAS(copy.readError(),
                     "a name must not be empty at params.params[0].name");
  }
  {
    BundleCopy copy;
    copy.edit("params.json", "\"mutable\": false}", "\"mutable\": \"yes\"}");
    EXPECT_ERROR_HAS(copy.readError(),
                     "expected boolean at params.params[0].mutable");
  }
}

/// A tampered copy of the fixture: edits (file, from, to) and the parts of
/// the message readBundle must give.
struct TamperCase {
  const char *what;
  std::vector<std::array<const char *, 3>> edits;
  std::vector<const char *> expected;
};

// Each of these ran a kernel out of bounds before plan.json carried byte
// extents and kernels.cu its kernel table (issue 13): a heap overflow, NaN
// output or SEGV under the emulator.
TEST(EmuBundleTest, TamperedBundlesAreRefused) {
  std::vector<TamperCase> cases = {
      {"an arena offset inside the arena but near its end",
       {{"plan.json", "{\"kind\": \"arena\", \"offset\": 128}]",
         "{\"kind\": \"arena\", \"offset\": 252}]"}},
       {"plan.json': kernel 'dlm_k2' writes 8 bytes through parameter 'y' "
        "from arena offset 252, but the arena has 256 bytes (only 4 from "
        "there) at plan.phases[1].launches[1].args[1]"}},
      {"an arena smaller than the kernels use",
       {{"plan.json", "\"arena_bytes\": 256", "\"arena_bytes\": 64"},
        {"plan.json", "\"buffer\": {\"kind\": \"arena\", \"offset\": 128}",
         "\"buffer\": {\"kind\": \"arena\", \"offset\": 0}"}},
       {"kernel 'dlm_k1' writes 128 bytes through parameter 'y' from arena "
        "offset 0, but the arena has 64 bytes (only 64 from there) at "
        "plan.phases[1].launches[0].args[3]"}},
      {"a param swapped for a smaller one",
       {{"params.json", "{\"name\": \"scale.bias\"",
         "{\"name\": \"other\", \"shape\": [1]}, {\"name\": \"scale.bias\""},
        {"plan.json", "{\"kind\": \"param\", \"name\": \"scale.bias\"}",
         "{\"kind\": \"param\", \"name\": \"other\"}"}},
       {"kernel 'dlm_k1' reads 8 bytes through parameter 'bias', but param "
        "'other' is f32[1] (4 bytes) at plan.phases[1].launches[0].args[2]"}},
      {"a derived tensor of another size",
       {{"plan.json",
         "\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [2]",
         "\"derived\": [{\"name\": \"scale.weight#doubled\", \"shape\": [3]"}},
       {"kernel 'dlm_k0' writes 8 bytes through parameter 'out', but derived "
        "tensor 'scale.weight#doubled' is f32[3] (12 bytes) at "
        "plan.phases[0].launches[0].args[1]"}},
      {"params that agree with params.json but not with kernels.cu",
       {{"params.json", "{\"name\": \"scale.bias\", \"shape\": [2]",
         "{\"name\": \"scale.bias\", \"shape\": [1]"},
        {"plan.json",
         "{\"name\": \"bias\", \"dtype\": \"f32\", "
         "\"access\": \"read\", \"bytes\": 8}",
         "{\"name\": \"bias\", \"dtype\": \"f32\", \"access\": \"read\", "
         "\"bytes\": 4}"}},
       {"kernels.cu:", "kernel 'dlm_k1' reads 8 bytes through parameter "
                       "'bias' (#2) in kernels.cu, but plan.json says 4"}},
      {"missing args, consistently in plan.json",
       {{"plan.json",
         "{\"name\": \"bias\", \"dtype\": \"f32\", "
         "\"access\": \"read\", \"bytes\": 8},",
         ""},
        {"plan.json", "{\"kind\": \"param\", \"name\": \"scale.bias\"},", ""}},
       {"kernels.cu:", "kernel 'dlm_k1' takes 4 pointers in kernels.cu but 3 "
                       "in plan.json"}},
      {"a huge grid within CUDA's limits",
       {{"plan.json", "\"grid\": [2, 1, 1], \"block\": [16, 1, 1]",
         "\"grid\": [2147483647, 1, 1], \"block\": [16, 1, 1]"}},
       {"plan.json: launch forward[1] (kernel 'dlm_k2') has grid "
        "[2147483647,1,1] and block [16,1,1], but the kernel was generated "
        "for grid [2,1,1] and block [16,1,1] (kernels.cu:"}},
      {"a block beyond __launch_bounds__",
       {{"plan.json", "\"grid\": [1, 1, 1], \"block\": [32, 1, 1]",
         "\"grid\": [1, 1, 1], \"block\": [64, 1, 1]"},
        {"kernels.cu", "dlm_k0 grid=1,1,1 block=32,1,1",
         "dlm_k0 grid=1,1,1 block=64,1,1"}},
       {"plan.json: launch init[0] (kernel 'dlm_k0') has 64 threads a block, "
        "more than the kernel's __launch_bounds__(32) in kernels.cu"}},
      {"a kernel without a line in the table",
       {{"kernels.cu", "// dlm-kernel dlm_k2 ", "// dlm-kernel dlm_k9 "}},
       {"kernels.cu: kernel 'dlm_k2' of plan.json has no line in the kernel "
        "table of kernels.cu"}},
      {"a malformed table line",
       {{"kernels.cu", "dlm_k2 grid=2,1,1", "dlm_k2 grid=2,1"}},
       {"kernels.cu:", "a malformed kernel table line"}},
      {"an absolute #include",
       {{"kernels.cu", "#include \"dlm_kernels.cuh\"",
         "#include \"dlm_kernels.cuh\"\n#include \"/etc/passwd\""}},
       {"kernels.cu:5: refusing '#include': '/etc/passwd' is an absolute "
        "path; a bundle includes only its own files"}},
      {"an #include out of the bundle",
       {{"kernels.cu", "#include \"dlm_kernels.cuh\"",
         "#  /* hidden */ include <../../../../etc/passwd>"}},
       {"kernels.cu:4: refusing '#include': '../../../../etc/passwd' leaves "
        "the bundle directory"}},
      {"an #include through a macro",
       {{"kernels.cu", "#include \"dlm_kernels.cuh\"",
         "#define F \"/etc/passwd\"\n#include F"}},
       {"kernels.cu:5: refusing '#include': only \"file\" and <file> forms"}},
      {"an #include split over lines",
       {{"kernels.cu", "#include \"dlm_kernels.cuh\"",
         "#inc\\\nlude \"/etc/shadow\""}},
       {"refusing '#include': '/etc/shadow' is an absolute path"}},
      {"an absolute #include in the header",
       {{"dlm_kernels.cuh", "#pragma once",
         "#pragma once\n %: include \"/etc/hostname\""}},
       {"dlm_kernels.cuh:", "'/etc/hostname' is an absolute path"}},
  };
  for (const TamperCase &c : cases) {
    SCOPED_TRACE(c.what);
    BundleCopy copy;
    for (const auto &edit : c.edits)
      copy.edit(edit[0], edit[1], edit[2]);
    std::string message = copy.readError();
    for (const char *part : c.expected)
      EXPECT_NE(message.find(part), std::string::npos)
          << "missing \"" << part << "\" in: " << message;
  }
}

TEST(EmuBundleTest, FilesAreCheckedAgainstTheManifest) {
  // The fixture rewritten by writeBundle carries every file's SHA-256.
  Expected<Bundle> bundle = readBundle(fixtureDir());
  ASSERT_TRUE(bool(bundle)) << errorMessage(bundle.takeError());
  TempDir dir;
  std::string out = dir.file("b");
  ASSERT_EQ(errorMessage(writeBundle(*bundle, out)), "");
  std::string manifest = readText(out + "/manifest.json");
  EXPECT_NE(manifest.find("\"file_sha256\": {\"dlm_kernels.cuh\":"),
            std::string::npos)
      << manifest;
  ASSERT_EQ(errorMessage(readBundle(out)), "");

  // One byte of kernels.cu changed: refused before anything is parsed.
  std::string kernels = readText(out + "/kernels.cu");
  writeText(out + "/kernels.cu", kernels + " ");
  EXPECT_ERROR_HAS(errorMessage(readBundle(out)),
                   "kernels.cu': the file does not match its SHA-256 in "
                   "manifest.json");
  writeText(out + "/kernels.cu", kernels);
  std::string plan = readText(out + "/plan.json");
  writeText(out + "/plan.json", plan + "\n");
  EXPECT_ERROR_HAS(errorMessage(readBundle(out)),
                   "plan.json': the file does not match its SHA-256");
  writeText(out + "/plan.json", plan);
  ASSERT_EQ(errorMessage(readBundle(out)), "");

  // A hash missing, or for a file that is not the bundle's, or malformed.
  size_t at = manifest.find("\"params.json\":");
  ASSERT_NE(at, std::string::npos);
  std::string renamed = manifest;
  renamed.replace(at, 13, "\"params.jsn\"");
  writeText(out + "/manifest.json", renamed);
  EXPECT_ERROR_HAS(errorMessage(readBundle(out)),
                   "'file_sha256' lists 'params.jsn', which is not a file of "
                   "a bundle");
  std::string bad = manifest;
  at = bad.find("\"kernels.cu\":\"");
  ASSERT_NE(at, std::string::npos) << bad;
  bad.replace(at + 14, 1, "X");
  writeText(out + "/manifest.json", bad);
  EXPECT_ERROR_HAS(errorMessage(readBundle(out)),
                   "expected a SHA-256 in lower-case hex at "
                   "manifest.file_sha256.kernels.cu");
}

TEST(EmuBundleTest, UnknownKeysAreIgnored) {
  BundleCopy copy;
  copy.edit("plan.json", "\"version\": 3,",
            "\"version\": 3, \"peak_bytes\": 136, \"notes\": [1, {}],");
  EXPECT_EQ(copy.readError(), "");
}

} // namespace

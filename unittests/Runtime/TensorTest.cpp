//===- TensorTest.cpp - Tests of the host tensor helpers ------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Tensor.h"

#include "TestUtils.h"

#include "llvm/Config/llvm-config.h"

#ifdef LLVM_ON_UNIX
#include <csignal>
#include <sys/resource.h>
#endif

using namespace dlm;
using namespace dlm::test;

namespace {

TEST(TensorTest, CheckedNumElements) {
  EXPECT_EQ(checkedNumElements({}), 1);
  EXPECT_EQ(checkedNumElements({2, 3, 4}), 24);
  EXPECT_EQ(checkedNumElements({2, 0, 4}), 0);
  EXPECT_EQ(checkedNumElements({2, -1}), std::nullopt);
  EXPECT_EQ(checkedNumElements({INT64_MAX}), INT64_MAX);
  EXPECT_EQ(checkedNumElements({INT64_MAX, 2}), std::nullopt);
  EXPECT_EQ(checkedNumElements({int64_t(1) << 32, int64_t(1) << 31}),
            std::nullopt);
}

TEST(TensorTest, FormatShape) {
  EXPECT_EQ(formatShape({}), "[]");
  EXPECT_EQ(formatShape({3}), "[3]");
  EXPECT_EQ(formatShape({1, 3, 96, 96}), "[1, 3, 96, 96]");
}

TEST(TensorTest, Views) {
  Tensor tensor({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(tensor.numElements(), 4);
  TensorView view = tensor.view("x");
  EXPECT_EQ(view.name, "x");
  EXPECT_EQ(view.shape, tensor.shape);
  EXPECT_EQ(view.data, tensor.data.data());
  EXPECT_EQ(view.values().vec(), tensor.data);
  EXPECT_EQ(Tensor().numElements(), 1);
}

TEST(TensorTest, WriteFileAtomically) {
  TempDir dir;
  std::string path = dir.file("f.txt");
  ASSERT_EQ(errorMessage(writeFileAtomically(path,
                                             [](llvm::raw_ostream &os) {
                                               os << "old";
                                               return llvm::Error::success();
                                             })),
            "");
  EXPECT_EQ(readFile(path), "old");

  // A writer that fails halfway leaves the old file and no temporary.
  std::string message =
      errorMessage(writeFileAtomically(path, [](llvm::raw_ostream &os) {
        os << "new, but only partly";
        os.flush();
        return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                       "disk on fire");
      }));
  EXPECT_ERROR_HAS(message, path.c_str(), "disk on fire");
  EXPECT_EQ(readFile(path), "old");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.txt"});

  ASSERT_EQ(errorMessage(writeFileAtomically(path,
                                             [](llvm::raw_ostream &os) {
                                               os << "new";
                                               return llvm::Error::success();
                                             })),
            "");
  EXPECT_EQ(readFile(path), "new");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"f.txt"});

  std::string nowhere = dir.file("missing/f.txt");
  EXPECT_ERROR_HAS(
      errorMessage(writeFileAtomically(
          nowhere, [](llvm::raw_ostream &) { return llvm::Error::success(); })),
      nowhere.c_str());
}

TEST(TensorTest, AtomicOutputFile) {
  TempDir dir;
  std::string path = dir.file("out.txt");
  {
    std::error_code error;
    llvm::raw_fd_ostream(path, error) << "old";
    ASSERT_FALSE(error);
  }

  // Written but dropped without commit() (an error after opening -o): the
  // old file, byte for byte, and no temporary.
  {
    llvm::Expected<std::unique_ptr<AtomicOutputFile>> file =
        AtomicOutputFile::create(path);
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    (*file)->os() << "half of the new contents";
    (*file)->os().flush();
    EXPECT_EQ(readFile(path), "old");
    EXPECT_EQ(dir.list().size(), 2u);
  }
  EXPECT_EQ(readFile(path), "old");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.txt"});

  // Committed: the new contents, and still one file.
  {
    llvm::Expected<std::unique_ptr<AtomicOutputFile>> file =
        AtomicOutputFile::create(path);
    ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
    (*file)->os() << "new";
    ASSERT_EQ(errorMessage((*file)->commit()), "");
  }
  EXPECT_EQ(readFile(path), "new");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.txt"});

  // A directory is not a file to replace.
  llvm::Expected<std::unique_ptr<AtomicOutputFile>> onDir =
      AtomicOutputFile::create(dir.file(""));
  ASSERT_FALSE(bool(onDir));
  EXPECT_ERROR_HAS(errorMessage(onDir.takeError()), "is a directory");
}

#ifdef LLVM_ON_UNIX
TEST(TensorTest, WriteErrorsAreReported) {
  // Make writes past 1 KiB fail with EFBIG, as a full disk would fail them.
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit small = old;
  small.rlim_cur = 1024;
  auto oldHandler = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);

  TempDir dir;
  std::string path = dir.file("f.bin");
  std::string message =
      errorMessage(writeFileAtomically(path, [](llvm::raw_ostream &os) {
        os << std::string(4096, 'x');
        return llvm::Error::success();
      }));

  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, oldHandler);
  EXPECT_ERROR_HAS(message, path.c_str(), "File too large");
  EXPECT_EQ(dir.list(), std::vector<std::string>{});
}
#endif

} // namespace

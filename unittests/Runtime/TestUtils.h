//===- TestUtils.h - Helpers of the runtime unit tests ----------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_UNITTESTS_RUNTIME_TESTUTILS_H
#define DLM_UNITTESTS_RUNTIME_TESTUTILS_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

namespace dlm {
namespace test {

/// The message of \p error, or "" for success.
inline std::string errorMessage(llvm::Error error) {
  return error ? llvm::toString(std::move(error)) : "";
}

/// The error message of \p value, or "" if it holds a value.
template <typename T> std::string errorMessage(llvm::Expected<T> &&value) {
  return value ? "" : llvm::toString(value.takeError());
}

/// Expects that \p message contains each of \p parts.
#define EXPECT_ERROR_HAS(message, ...)                                         \
  do {                                                                         \
    std::string msg_ = (message);                                              \
    EXPECT_FALSE(msg_.empty()) << "expected an error";                         \
    for (const char *part_ : {__VA_ARGS__})                                    \
      EXPECT_NE(msg_.find(part_), std::string::npos)                           \
          << "missing \"" << part_ << "\" in: " << msg_;                       \
  } while (false)

/// A directory under the system temporary directory, removed with everything
/// in it when the object dies.
class TempDir {
public:
  TempDir() {
    std::error_code ec =
        llvm::sys::fs::createUniqueDirectory("dlm-runtime-test", path);
    EXPECT_FALSE(ec) << ec.message();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(path); }

  /// The path of \p name in the directory.
  std::string file(const llvm::Twine &name) const {
    llvm::SmallString<128> result(path);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }

  /// The names of the files in the directory, sorted.
  std::vector<std::string> list() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(path, ec), end; !ec && it != end;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    std::sort(names.begin(), names.end());
    return names;
  }

private:
  llvm::SmallString<128> path;
};

/// The contents of the file \p path ("" and a test failure if unreadable).
inline std::string readFile(const llvm::Twine &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  EXPECT_TRUE(bool(buffer)) << "cannot read " << path.str();
  return buffer ? (*buffer)->getBuffer().str() : "";
}

/// Writes \p contents to the file \p path.
inline void writeFile(const llvm::Twine &path, llvm::StringRef contents) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path.str(), ec);
  ASSERT_FALSE(ec) << ec.message();
  os << contents;
}

/// The path of the fixture \p name under unittests/Runtime/Inputs.
inline std::string inputPath(llvm::StringRef name) {
  return (llvm::Twine(DLM_TEST_INPUTS_DIR) + "/" + name).str();
}

} // namespace test
} // namespace dlm

#endif // DLM_UNITTESTS_RUNTIME_TESTUTILS_H

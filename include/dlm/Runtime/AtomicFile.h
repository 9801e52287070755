//===- AtomicFile.h - Output files that are never half written --*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Every file dlm writes goes through a temporary file beside its destination
// (same directory, so same file system) that is renamed over it only once
// everything is written: a reader, or a process killed at any point, sees the
// old file or the complete new one, never a truncated one, and an error
// leaves an existing file as it was. rename(2) is atomic on POSIX file
// systems; the temporary's name is `<path>.tmp-XXXXXXXX`, and one left by a
// SIGKILL (which nothing can catch) is harmless and may be deleted.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_ATOMICFILE_H
#define DLM_RUNTIME_ATOMICFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>

namespace dlm {

/// An output file written atomically: os() streams into a temporary file
/// beside the destination, commit() renames it over the destination, and
/// destroying the object without commit() removes the temporary and leaves
/// the destination untouched (a failed compile keeps the previous output).
///
/// Two destinations are written directly: `-` (standard output) and an
/// existing file that is not a regular file (`/dev/null`, a FIFO), which
/// cannot be replaced by a rename. A symbolic link is followed: the file it
/// names is replaced, the link stays.
class AtomicOutputFile {
public:
  /// Opens the temporary file for \p path; the error names \p path.
  static llvm::Expected<std::unique_ptr<AtomicOutputFile>>
  create(llvm::StringRef path);

  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile &) = delete;
  AtomicOutputFile &operator=(const AtomicOutputFile &) = delete;

  /// The stream to write the contents to.
  llvm::raw_ostream &os() { return *stream; }

  /// The destination, as given to create().
  llvm::StringRef getPath() const { return path; }

  /// Flushes the stream into the temporary; a write error (a full disk) is
  /// returned, naming the destination, and commit() will fail too. For
  /// writing several files all or none: flush each, then commit each.
  llvm::Error flush();

  /// Flushes the stream and renames the temporary over the destination. On
  /// a write error (a full disk) the temporary is removed, the destination
  /// is untouched and the error names it. Call at most once.
  llvm::Error commit();

private:
  AtomicOutputFile(std::string path) : path(std::move(path)) {}

  std::string path;
  /// Where the temporary is renamed to: path, or the file a link names.
  std::string target;
  std::optional<llvm::sys::fs::TempFile> temp;
  std::unique_ptr<llvm::raw_fd_ostream> stream;
  bool committed = false;
};

/// Writes a file so that readers see either the old file or the complete new
/// one, never a partial one: \p write streams the contents into an
/// AtomicOutputFile, which is committed only if \p write and every write and
/// flush succeeded. On any failure the temporary file is removed and \p path
/// is left untouched; the error names \p path.
llvm::Error
writeFileAtomically(llvm::StringRef path,
                    llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write);

/// Testing only: when the environment variable DLM_TEST_KILL_AT equals
/// \p point, the process kills itself with SIGKILL, as a crash or an `kill
/// -9` would at that point. The points: `file-rename` (an AtomicOutputFile
/// written but not renamed), `bundle-rename` (a bundle's staging directory
/// written but not renamed), `bundle-swap` (the old bundle moved aside, the
/// new one not yet renamed into place, where rename exchange is unavailable).
void testKillPoint(llvm::StringRef point);

} // namespace dlm

#endif // DLM_RUNTIME_ATOMICFILE_H

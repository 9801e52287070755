//===- AtomicFile.cpp - Output files that are never half written ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/AtomicFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <csignal>

using namespace llvm;

namespace dlm {

void testKillPoint(StringRef point) {
  std::optional<std::string> at = sys::Process::GetEnv("DLM_TEST_KILL_AT");
  if (!at || *at != point)
    return;
  errs().flush();
#ifdef SIGKILL
  std::raise(SIGKILL);
#endif
  std::abort();
}

Expected<std::unique_ptr<AtomicOutputFile>>
AtomicOutputFile::create(StringRef path) {
  std::unique_ptr<AtomicOutputFile> file(new AtomicOutputFile(path.str()));
  auto openDirectly = [&]() -> Expected<std::unique_ptr<AtomicOutputFile>> {
    std::error_code error;
    file->stream =
        std::make_unique<raw_fd_ostream>(path, error, sys::fs::OF_None);
    if (error)
      return createFileError(path, errorCodeToError(error));
    return std::move(file);
  };
  if (path == "-")
    return openDirectly();

  // Follow a symbolic link to the file it names, so that the link stays.
  file->target = path.str();
  sys::fs::file_status linkStatus;
  if (!sys::fs::status(path, linkStatus, /*Follow=*/false) &&
      sys::fs::is_symlink_file(linkStatus)) {
    SmallString<256> real;
    if (std::error_code error = sys::fs::real_path(path, real))
      return createFileError(path, errorCodeToError(error));
    file->target = std::string(real);
  }
  // A device or a FIFO cannot be replaced by a rename; write it directly.
  sys::fs::file_status status;
  if (!sys::fs::status(file->target, status) &&
      !sys::fs::is_regular_file(status)) {
    if (sys::fs::is_directory(status))
      return createFileError(path,
                             createStringError(inconvertibleErrorCode(),
                                               "is a directory, not a file"));
    return openDirectly();
  }

  // A unique name beside the destination, so that the rename stays within one
  // file system. TempFile also removes the file on the signals it can catch.
  Expected<sys::fs::TempFile> temp = sys::fs::TempFile::create(
      file->target + ".tmp-%%%%%%%%", sys::fs::all_read | sys::fs::all_write);
  if (!temp)
    return createFileError(path, temp.takeError());
  file->temp.emplace(std::move(*temp));
  // A replaced file keeps its permissions.
  sys::fs::file_status old;
  if (!sys::fs::status(file->target, old))
    (void)sys::fs::setPermissions(file->temp->FD, old.permissions());
  file->stream =
      std::make_unique<raw_fd_ostream>(file->temp->FD, /*shouldClose=*/false);
  return std::move(file);
}

AtomicOutputFile::~AtomicOutputFile() {
  if (stream) {
    stream->flush();
    // The stream must not be destroyed with a pending error.
    stream->clear_error();
    stream.reset();
  }
  if (temp && !committed)
    consumeError(temp->discard());
}

Error AtomicOutputFile::flush() {
  stream->flush();
  if (std::error_code error = stream->error())
    return createFileError(path, errorCodeToError(error));
  return Error::success();
}

Error AtomicOutputFile::commit() {
  assert(!committed && "committed twice");
  committed = true;
  stream->flush();
  std::error_code error = stream->error();
  stream->clear_error();
  if (!temp) {
    if (error)
      return createFileError(path, errorCodeToError(error));
    return Error::success();
  }
  if (error) {
    Error result = createFileError(path, errorCodeToError(error));
    if (Error discardError = temp->discard())
      return joinErrors(std::move(result), std::move(discardError));
    return result;
  }
  testKillPoint("file-rename");
  if (Error keepError = temp->keep(target))
    return createFileError(path, std::move(keepError));
  return Error::success();
}

Error writeFileAtomically(StringRef path,
                          function_ref<Error(raw_ostream &)> write) {
  Expected<std::unique_ptr<AtomicOutputFile>> file =
      AtomicOutputFile::create(path);
  if (!file)
    return file.takeError();
  if (Error error = write((*file)->os()))
    return createFileError(path, std::move(error));
  return (*file)->commit();
}

} // namespace dlm

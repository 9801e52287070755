//===- Metrics.cpp - Training metrics: a CSV log, a progress bar ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Metrics.h"

#include "dlm/Runtime/AtomicFile.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Process.h"

#include <cmath>

using namespace llvm;

namespace dlm {

/// Writes \p value with printf's \p format, or `nan` / `inf` / `-inf`.
static void writeNumber(raw_ostream &os, std::optional<double> value,
                        const char *format) {
  if (!value)
    return;
  if (std::isnan(*value)) {
    os << "nan";
    return;
  }
  if (std::isinf(*value)) {
    os << (*value < 0 ? "-inf" : "inf");
    return;
  }
  os << llvm::format(format, *value);
}

void writeMetricsRow(raw_ostream &os, const MetricsRow &row) {
  os << row.epoch << ',';
  if (row.step)
    os << *row.step;
  os << ',';
  writeNumber(os, row.loss, "%.6g");
  os << ',';
  writeNumber(os, row.trainAcc, "%.6g");
  os << ',';
  writeNumber(os, row.testAcc, "%.6g");
  os << ',';
  writeNumber(os, row.lr, "%.6g");
  os << ',';
  writeNumber(os, row.seconds, "%.3f");
  os << '\n';
}

Expected<std::unique_ptr<MetricsLog>> MetricsLog::create(StringRef path) {
  std::unique_ptr<MetricsLog> log(new MetricsLog(path.str()));
  if (Error error = log->flush())
    return std::move(error);
  return std::move(log);
}

Error MetricsLog::flush() {
  return writeFileAtomically(path, [&](raw_ostream &os) {
    os << kMetricsHeader << '\n';
    for (const MetricsRow &row : rows)
      writeMetricsRow(os, row);
    return Error::success();
  });
}

ProgressBar::ProgressBar(StringRef label, int64_t total, raw_ostream &os,
                         std::optional<bool> enabled)
    : label(label.str()), total(total), os(os),
      enabled(enabled ? *enabled : sys::Process::StandardErrIsDisplayed()) {}

ProgressBar::~ProgressBar() {
  if (drawn)
    finish();
}

void ProgressBar::update(int64_t done, StringRef suffix) {
  if (!enabled)
    return;
  constexpr int64_t kWidth = 30;
  int64_t filled = total <= 0
                       ? kWidth
                       : std::min<int64_t>(kWidth, std::max<int64_t>(0, done) *
                                                       kWidth / total);
  std::string line;
  raw_string_ostream text(line);
  text << label << " [" << std::string(size_t(filled), '#')
       << std::string(size_t(kWidth - filled), '.') << "] " << done << '/'
       << total;
  if (!suffix.empty())
    text << ' ' << suffix;
  size_t width = line.size();
  if (width < lastWidth)
    line.append(lastWidth - width, ' ');
  lastWidth = width;
  os << '\r' << line;
  os.flush();
  drawn = true;
}

void ProgressBar::finish() {
  if (!enabled || !drawn)
    return;
  os << '\n';
  os.flush();
  drawn = false;
  lastWidth = 0;
}

} // namespace dlm

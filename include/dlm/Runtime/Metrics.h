//===- Metrics.h - Training metrics: a CSV log, a progress bar --*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// What `dlmc --train` reports as it goes (docs/training.md, "Metrics"):
//
// - MetricsLog keeps the rows of `--log metrics.csv`, with the columns
//   `epoch,step,loss,train_acc,test_acc,lr,seconds`, and rewrites the whole
//   file atomically (dlm::AtomicOutputFile) on every flush(): a run killed at
//   any point leaves the rows of its last flush, never a half-written line.
//   scripts/plot_training.py draws the book's curves from it.
// - ProgressBar shows the steps of an epoch on standard error when it is a
//   terminal, and prints nothing otherwise (a log file, CI).
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_METRICS_H
#define DLM_RUNTIME_METRICS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace dlm {

/// One row of the metrics log. A field left empty is written as an empty
/// CSV field: per-step rows have a step and a loss but no accuracies,
/// per-epoch rows no step.
struct MetricsRow {
  /// The epoch, counting from 1 as the book prints them.
  int64_t epoch = 0;
  /// The step within the epoch, counting from 1; empty for an epoch's row.
  std::optional<int64_t> step;
  /// The mean training loss (over the epoch, or of the step).
  std::optional<double> loss;
  /// The training accuracy over the epoch, in [0, 1].
  std::optional<double> trainAcc;
  /// The test accuracy after the epoch, in [0, 1].
  std::optional<double> testAcc;
  /// The learning rate used.
  std::optional<double> lr;
  /// Seconds since training started.
  std::optional<double> seconds;
};

/// The CSV header line, without its newline.
constexpr const char *kMetricsHeader =
    "epoch,step,loss,train_acc,test_acc,lr,seconds";

/// Writes \p row as one CSV line with its newline: integers as such,
/// `seconds` with three decimals, the other numbers with six significant
/// digits (`nan` and `inf` as Python's float() reads them).
void writeMetricsRow(llvm::raw_ostream &os, const MetricsRow &row);

/// The rows of a metrics file, rewritten whole and atomically on each
/// flush().
class MetricsLog {
public:
  /// Creates the log and writes \p path with the header alone, so that an
  /// unwritable path fails before training starts; the error names it.
  static llvm::Expected<std::unique_ptr<MetricsLog>>
  create(llvm::StringRef path);

  /// Adds a row; it reaches the file at the next flush().
  void addRow(const MetricsRow &row) { rows.push_back(row); }

  /// Replaces the file by the header and every row so far; on failure the
  /// previous file stays and the error names the path.
  llvm::Error flush();

  llvm::ArrayRef<MetricsRow> getRows() const { return rows; }
  llvm::StringRef getPath() const { return path; }

private:
  explicit MetricsLog(std::string path) : path(std::move(path)) {}

  std::string path;
  std::vector<MetricsRow> rows;
};

/// A one-line progress bar, `label [#####.....] 12/235 suffix`, redrawn in
/// place with a carriage return. It prints only if enabled: by default when
/// standard error is a terminal (llvm::sys::Process::StandardErrIsDisplayed).
class ProgressBar {
public:
  /// A bar for \p total steps, printing to \p os if \p enabled (default:
  /// whether standard error is a terminal).
  ProgressBar(llvm::StringRef label, int64_t total,
              llvm::raw_ostream &os = llvm::errs(),
              std::optional<bool> enabled = std::nullopt);
  /// Ends the line if anything was drawn and not finished.
  ~ProgressBar();

  /// Redraws the bar at \p done of the total steps, with \p suffix (e.g.
  /// `loss 0.512`) after the count.
  void update(int64_t done, llvm::StringRef suffix = "");

  /// Ends the bar's line.
  void finish();

  bool isEnabled() const { return enabled; }

private:
  std::string label;
  int64_t total;
  llvm::raw_ostream &os;
  bool enabled;
  bool drawn = false;
  /// The width of the last line drawn, to blank what a shorter line leaves.
  size_t lastWidth = 0;
};

} // namespace dlm

#endif // DLM_RUNTIME_METRICS_H

//===- MetricsTest.cpp - Tests of the metrics log and progress bar --------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Metrics.h"

#include "TestUtils.h"

#include <cmath>

using namespace dlm;
using namespace dlm::test;

namespace {

std::string readAll(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  return buffer ? (*buffer)->getBuffer().str() : "<missing>";
}

TEST(MetricsTest, Rows) {
  std::string text;
  llvm::raw_string_ostream os(text);
  MetricsRow epoch;
  epoch.epoch = 1;
  epoch.loss = 0.4691234567;
  epoch.trainAcc = 0.823;
  epoch.testAcc = 0.779;
  epoch.lr = 0.9;
  epoch.seconds = 12.34567;
  writeMetricsRow(os, epoch);
  MetricsRow step;
  step.epoch = 2;
  step.step = 17;
  step.loss = NAN;
  writeMetricsRow(os, step);
  EXPECT_EQ(text, "1,,0.469123,0.823,0.779,0.9,12.346\n"
                  "2,17,nan,,,,\n");
}

TEST(MetricsTest, LogIsRewrittenAtomically) {
  TempDir dir;
  std::string path = dir.file("metrics.csv");
  llvm::Expected<std::unique_ptr<MetricsLog>> log = MetricsLog::create(path);
  ASSERT_TRUE(bool(log)) << llvm::toString(log.takeError());
  EXPECT_EQ(readAll(path), std::string(kMetricsHeader) + "\n");
  MetricsRow row;
  row.epoch = 1;
  row.loss = 0.5;
  (*log)->addRow(row);
  // Not on disk before flush().
  EXPECT_EQ(readAll(path), std::string(kMetricsHeader) + "\n");
  ASSERT_EQ(errorMessage((*log)->flush()), "");
  EXPECT_EQ(readAll(path), std::string(kMetricsHeader) + "\n1,,0.5,,,,\n");
  // Only the file itself: no temporaries left beside it.
  EXPECT_EQ(dir.list(), std::vector<std::string>{"metrics.csv"});
}

TEST(MetricsTest, UnwritablePathFailsEarly) {
  TempDir dir;
  std::string path = dir.file("no-such-dir/metrics.csv");
  EXPECT_ERROR_HAS(errorMessage(MetricsLog::create(path)), path.c_str());
}

TEST(ProgressBarTest, DrawsOnlyWhenEnabled) {
  std::string text;
  llvm::raw_string_ostream os(text);
  {
    ProgressBar bar("epoch 1", 4, os, /*enabled=*/true);
    bar.update(1, "loss 2.3");
    bar.update(4);
  }
  EXPECT_EQ(text, "\repoch 1 [#######.......................] 1/4 loss 2.3"
                  "\repoch 1 [##############################] 4/4         "
                  "\n");
  std::string quiet;
  llvm::raw_string_ostream qs(quiet);
  {
    ProgressBar bar("epoch 1", 4, qs, /*enabled=*/false);
    bar.update(2);
    bar.finish();
  }
  EXPECT_EQ(quiet, "");
}

} // namespace

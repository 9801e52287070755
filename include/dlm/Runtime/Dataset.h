//===- Dataset.h - Training data: IDX, .npy, resizing, batches --*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The data side of `dlmc --train` (docs/training.md, "Data"):
//
// - readIDX() reads the IDX files MNIST and Fashion-MNIST come as, gzipped or
//   not; loadFashionMNIST() turns Debian's dataset-fashion-mnist files into a
//   Dataset the way d2l's `ToTensor` does (uint8 / 255 as float32, [N, 1, 28,
//   28]).
// - loadNpyDataset() reads a user's own data from two .npy files.
// - resizeBilinear() is d2l's optional `Resize` (28 to 96 or 224 pixels).
// - BatchSampler shuffles the examples each epoch, portably and seeded, and
//   cuts them into minibatches of a fixed size; gatherBatch() copies one out.
//
// Every malformed file is an llvm::Error naming the file, never a crash.
// Nothing here depends on MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_RUNTIME_DATASET_H
#define DLM_RUNTIME_DATASET_H

#include "dlm/Runtime/Tensor.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBufferRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace dlm {

/// A labelled set of examples.
struct Dataset {
  /// The examples, float32: [N, C, H, W] for images, [N, F] for features.
  Tensor images;
  /// One class index per example, each in [0, numClasses).
  std::vector<int64_t> labels;
  /// The number of classes.
  int64_t numClasses = 0;

  /// The number of examples, N.
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

//===----------------------------------------------------------------------===//
// IDX files
//===----------------------------------------------------------------------===//

/// The most bytes an IDX file may hold once decompressed (1 GiB; Fashion-
/// MNIST's training images are 47 MB). It bounds what a gzip bomb can make
/// the reader allocate.
constexpr uint64_t kMaxIDXBytes = uint64_t(1) << 30;

/// The most dimensions an IDX array may have here.
constexpr unsigned kMaxIDXRank = 8;

/// An unsigned-byte IDX array (http://yann.lecun.com/exdb/mnist/): magic
/// `00 00 08 R` (big-endian; 0x00000803 for [N, H, W] images, 0x00000801 for
/// [N] labels), R big-endian uint32 dimensions, then the bytes in C order.
struct IDXArray {
  /// Dimensions, outermost first; between 1 and kMaxIDXRank of them.
  std::vector<int64_t> shape;
  /// Exactly the product of the dimensions.
  std::vector<uint8_t> data;
};

/// Reads the IDX file at \p path, gzip-compressed (recognized by its first
/// two bytes, 1f 8b) or not. Errors name \p path and say what is wrong: a
/// truncated or corrupt gzip stream, data past \p maxBytes once decompressed,
/// a bad magic number (another element type than unsigned byte, a rank of 0
/// or more than kMaxIDXRank), dimensions whose product overflows, or a file
/// shorter or longer than its dimensions say.
llvm::Expected<IDXArray> readIDX(llvm::StringRef path,
                                 uint64_t maxBytes = kMaxIDXBytes);

/// Parses IDX contents, gzipped or not, as readIDX(); the buffer's
/// identifier is the name used in errors.
llvm::Expected<IDXArray> parseIDX(llvm::MemoryBufferRef buffer,
                                  uint64_t maxBytes = kMaxIDXBytes);

//===----------------------------------------------------------------------===//
// Datasets
//===----------------------------------------------------------------------===//

/// Where Debian's package dataset-fashion-mnist installs the data.
constexpr const char *kFashionMNISTDir = "/usr/share/datasets/fashion-mnist";

/// Loads Fashion-MNIST's \p split ("train": 60,000 examples, "test": 10,000)
/// from \p dir, which holds `{train,t10k}-{images-idx3,labels-idx1}-ubyte`
/// with or without `.gz`: images as float32 [N, 1, H, W] scaled to [0, 1]
/// (x / 255, torchvision's ToTensor), labels as int64 in [0, 10). A missing
/// file is an error naming it and the package that provides it; images and
/// labels of different counts, and labels outside [0, 10), are errors too.
llvm::Expected<Dataset> loadFashionMNIST(llvm::StringRef dir,
                                         llvm::StringRef split);

/// Loads a dataset from two .npy files: \p imagesPath holds float32 [N, C, H,
/// W] or [N, F], \p labelsPath int64 or int32 [N] class indices. With \p
/// numClasses 0 the number of classes is the largest label plus one;
/// otherwise every label must be below it. Errors name the file: a wrong
/// dtype or rank says what was expected, different counts name both, a
/// negative label names its index and value.
llvm::Expected<Dataset> loadNpyDataset(llvm::StringRef imagesPath,
                                       llvm::StringRef labelsPath,
                                       int64_t numClasses = 0);

/// Checks that every label is in [0, \p numClasses); the error names the
/// first label outside, by index and value.
llvm::Error checkLabels(llvm::ArrayRef<int64_t> labels, int64_t numClasses);

/// Resizes \p images, [N, C, h, w], to [N, C, \p height, \p width] by
/// bilinear interpolation with half-pixel centers and no antialiasing: as
/// torch.nn.functional.interpolate(mode='bilinear', align_corners=False,
/// antialias=False), which for the book's upscaling (28 to 96 or 224) is
/// also what torchvision's Resize does to a PIL image (docs/training.md).
/// Output pixel i reads the input at s = max(0, (i + 0.5) * h / height -
/// 0.5), blending rows floor(s) and min(floor(s) + 1, h - 1) by the
/// fraction of s, and likewise along the width. Fails if \p images is not of
/// rank 4 or the size is not positive. Resize each batch after gatherBatch():
/// all of Fashion-MNIST's training set at 96 x 96 would take 2.2 GB.
llvm::Expected<Tensor> resizeBilinear(const Tensor &images, int64_t height,
                                      int64_t width);

//===----------------------------------------------------------------------===//
// Minibatches
//===----------------------------------------------------------------------===//

/// The order of a training run's examples: each epoch a permutation of [0,
/// N) (or the identity without shuffling), cut into N / batchSize batches of
/// exactly batchSize examples. The last partial batch is dropped, as
/// PyTorch's DataLoader(drop_last=True) does: a compiled training step has a
/// fixed batch dimension. Different epochs drop different examples.
///
/// The permutation of epoch e is a Fisher-Yates shuffle of the identity
/// driven by SplitMix64 (dlm/Runtime/Random.h) seeded with the user's seed
/// and e, so it is the same on every machine and independent of the epochs
/// drawn before.
class BatchSampler {
public:
  /// Fails if \p batchSize is not positive or \p numExamples is smaller
  /// than one batch.
  static llvm::Expected<BatchSampler>
  create(int64_t numExamples, int64_t batchSize, bool shuffle, uint64_t seed);

  /// Draws the order of epoch \p epoch (counting from 0).
  void startEpoch(int64_t epoch);

  /// The number of full batches in an epoch.
  int64_t getNumBatches() const { return numExamples / batchSize; }
  int64_t getBatchSize() const { return batchSize; }
  int64_t getNumExamples() const { return numExamples; }

  /// The example indices of batch \p i of the current epoch.
  llvm::ArrayRef<int64_t> getBatch(int64_t i) const {
    return llvm::ArrayRef<int64_t>(order).slice(i * batchSize, batchSize);
  }

  /// The current epoch's order of all examples.
  llvm::ArrayRef<int64_t> getOrder() const { return order; }

private:
  BatchSampler(int64_t numExamples, int64_t batchSize, bool shuffle,
               uint64_t seed);

  int64_t numExamples;
  int64_t batchSize;
  bool shuffle;
  uint64_t seed;
  std::vector<int64_t> order;
};

/// Copies the examples \p indices of \p dataset into \p images (shape [B,
/// ...] with B = indices.size(), its buffer reused) and \p labels. Fails if
/// an index is outside the dataset.
llvm::Error gatherBatch(const Dataset &dataset, llvm::ArrayRef<int64_t> indices,
                        Tensor &images, std::vector<int64_t> &labels);

} // namespace dlm

#endif // DLM_RUNTIME_DATASET_H

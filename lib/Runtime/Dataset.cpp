//===- Dataset.cpp - Training data: IDX, .npy, resizing, batches ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// gzip goes through zlib's inflate (inflateInit2 with 16 + MAX_WBITS reads
// the gzip wrapper and checks its CRC), into a buffer that grows up to the
// caller's bound; concatenated gzip members are read one after another, as
// gunzip does. The IDX header is then checked against the decompressed size
// with overflow-checked arithmetic.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Dataset.h"

#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/Random.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace llvm;

namespace dlm {

/// Makes an error whose message is \p message; the caller adds the path.
static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// gzip
//===----------------------------------------------------------------------===//

/// Whether \p contents starts as a gzip stream does.
static bool isGzip(StringRef contents) {
  return contents.size() >= 2 && uint8_t(contents[0]) == 0x1f &&
         uint8_t(contents[1]) == 0x8b;
}

/// Decompresses the gzip stream \p contents (one member or several
/// concatenated) into \p out, failing past \p maxBytes.
static Error gunzip(StringRef contents, uint64_t maxBytes,
                    std::vector<uint8_t> &out) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK)
    return makeError("cannot initialize zlib's inflate");
  auto end = make_scope_exit([&] { inflateEnd(&stream); });

  const Bytef *next = reinterpret_cast<const Bytef *>(contents.data());
  uint64_t left = contents.size();
  out.clear();
  // One byte more than allowed, to tell data that ends at the limit from data
  // that goes past it.
  uint64_t limit = maxBytes == UINT64_MAX ? maxBytes : maxBytes + 1;
  // Start from the size the gzip trailer states (the last member's, modulo
  // 2^32: only a hint), bounded by deflate's largest ratio (1032:1) so that a
  // small file cannot make a large allocation; grow by doubling.
  uint64_t hint = 4096;
  if (contents.size() >= 18)
    hint = std::max<uint64_t>(
        hint, uint64_t(support::endian::read32le(contents.end() - 4)) + 1);
  hint = std::min<uint64_t>(hint, uint64_t(contents.size()) * 1032 + 4096);
  out.resize(size_t(std::min<uint64_t>(hint, limit)));
  size_t produced = 0;
  while (true) {
    // Feed at most 1 GiB at a time: avail_in is an unsigned int.
    if (stream.avail_in == 0 && left > 0) {
      uInt chunk = uInt(std::min<uint64_t>(left, uint64_t(1) << 30));
      stream.next_in = const_cast<Bytef *>(next);
      stream.avail_in = chunk;
      next += chunk;
      left -= chunk;
    }
    if (produced > maxBytes)
      return makeError(formatv("decompressed data exceeds the limit of {0} "
                               "bytes",
                               maxBytes));
    if (produced == out.size())
      out.resize(size_t(std::min<uint64_t>(uint64_t(out.size()) * 2, limit)));
    size_t room = std::min<size_t>(out.size() - produced, size_t(1) << 30);
    stream.next_out = out.data() + produced;
    stream.avail_out = uInt(room);
    int rc = inflate(&stream, Z_NO_FLUSH);
    produced += room - stream.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow, as `cat a.gz b.gz` makes.
      if (stream.avail_in == 0 && left == 0)
        break;
      const char *rest = reinterpret_cast<const char *>(stream.next_in);
      if (stream.avail_in < 2 || !isGzip(StringRef(rest, stream.avail_in)))
        return makeError(formatv("{0} bytes of trailing data after the gzip "
                                 "stream",
                                 stream.avail_in + left));
      if (inflateReset(&stream) != Z_OK)
        return makeError("cannot reset zlib's inflate");
      continue;
    }
    if (rc == Z_OK)
      continue;
    if (rc == Z_BUF_ERROR && stream.avail_in == 0 && left == 0)
      return makeError("gzip data is truncated");
    if (rc == Z_BUF_ERROR)
      continue; // No progress possible without more room: grow the buffer.
    if (rc == Z_DATA_ERROR)
      return makeError(Twine("gzip data is corrupt: ") +
                       (stream.msg ? stream.msg : "invalid data"));
    if (rc == Z_MEM_ERROR)
      return makeError("out of memory while decompressing");
    return makeError(formatv("zlib's inflate failed with code {0}", rc));
  }
  if (produced > maxBytes)
    return makeError(
        formatv("decompressed data exceeds the limit of {0} bytes", maxBytes));
  out.resize(produced);
  return Error::success();
}

//===----------------------------------------------------------------------===//
// IDX
//===----------------------------------------------------------------------===//

/// Reads the header of decompressed IDX contents into \p array's shape and
/// checks the size of the data; returns the header's size. Errors do not name
/// the file.
static Expected<size_t> parseIDXHeader(ArrayRef<uint8_t> bytes,
                                       IDXArray &array) {
  if (bytes.size() < 4)
    return makeError(formatv("file is {0} bytes long and ends inside the "
                             "4-byte magic number",
                             bytes.size()));
  uint32_t magic = support::endian::read32be(bytes.data());
  unsigned type = bytes[2], rank = bytes[3];
  if (bytes[0] != 0 || bytes[1] != 0)
    return makeError(formatv("bad magic number {0:x-8}: not an IDX file (IDX "
                             "files start with two zero bytes)",
                             magic));
  if (type != 0x08)
    return makeError(formatv("bad magic number {0:x-8}: element type {1:x-2} "
                             "is not unsigned byte (08), the only type "
                             "supported",
                             magic, type));
  if (rank == 0 || rank > kMaxIDXRank)
    return makeError(formatv("bad magic number {0:x-8}: {1} dimensions (1 to "
                             "{2} supported)",
                             magic, rank, kMaxIDXRank));
  size_t headerSize = 4 + 4 * size_t(rank);
  if (bytes.size() < headerSize)
    return makeError(formatv("file is truncated: {0} bytes, but its {1} "
                             "dimensions need a header of {2}",
                             bytes.size(), rank, headerSize));
  for (unsigned i = 0; i < rank; ++i)
    array.shape.push_back(support::endian::read32be(bytes.data() + 4 + 4 * i));
  std::optional<int64_t> numBytes = checkedNumElements(array.shape);
  if (!numBytes)
    return makeError("dimensions " + formatShape(array.shape) +
                     " overflow a 64-bit size");
  uint64_t dataSize = bytes.size() - headerSize;
  if (uint64_t(*numBytes) > dataSize)
    return makeError("file is truncated: dimensions " +
                     formatShape(array.shape) + " need " + Twine(*numBytes) +
                     " bytes of data but the file has " + Twine(dataSize));
  if (uint64_t(*numBytes) < dataSize)
    return makeError(
        "file has " + Twine(dataSize) + " bytes of data but dimensions " +
        formatShape(array.shape) + " need only " + Twine(*numBytes));
  return headerSize;
}

/// Reads IDX contents, gzipped or not; errors do not name the file.
static Expected<IDXArray> parseIDXFile(StringRef contents, uint64_t maxBytes) {
  IDXArray array;
  if (isGzip(contents)) {
    std::vector<uint8_t> bytes;
    if (Error error = gunzip(contents, maxBytes, bytes))
      return std::move(error);
    Expected<size_t> headerSize = parseIDXHeader(bytes, array);
    if (!headerSize)
      return headerSize.takeError();
    // Keep the buffer: moving the data down is cheaper than a copy.
    bytes.erase(bytes.begin(), bytes.begin() + *headerSize);
    array.data = std::move(bytes);
    return std::move(array);
  }
  if (contents.size() > maxBytes)
    return makeError(formatv("file has {0} bytes, more than the limit of {1}",
                             contents.size(), maxBytes));
  ArrayRef<uint8_t> bytes(reinterpret_cast<const uint8_t *>(contents.data()),
                          contents.size());
  Expected<size_t> headerSize = parseIDXHeader(bytes, array);
  if (!headerSize)
    return headerSize.takeError();
  array.data.assign(bytes.begin() + *headerSize, bytes.end());
  return std::move(array);
}

Expected<IDXArray> parseIDX(MemoryBufferRef buffer, uint64_t maxBytes) {
  Expected<IDXArray> array = parseIDXFile(buffer.getBuffer(), maxBytes);
  if (!array)
    return createFileError(buffer.getBufferIdentifier(), array.takeError());
  return array;
}

Expected<IDXArray> readIDX(StringRef path, uint64_t maxBytes) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  return parseIDX((*buffer)->getMemBufferRef(), maxBytes);
}

//===----------------------------------------------------------------------===//
// Datasets
//===----------------------------------------------------------------------===//

Error checkLabels(ArrayRef<int64_t> labels, int64_t numClasses) {
  for (size_t i = 0, e = labels.size(); i < e; ++i)
    if (labels[i] < 0 || labels[i] >= numClasses)
      return makeError(formatv("label {0} of example {1} is outside [0, {2}) "
                               "({2} classes)",
                               labels[i], i, numClasses));
  return Error::success();
}

/// The path of the Fashion-MNIST file \p name in \p dir: `name.gz` if it
/// exists, else `name`; an error naming both if neither does.
static Expected<std::string> findFashionMNISTFile(StringRef dir,
                                                  StringRef name) {
  SmallString<128> raw(dir);
  sys::path::append(raw, name);
  SmallString<128> gz(raw);
  gz += ".gz";
  if (sys::fs::exists(gz))
    return std::string(gz);
  if (sys::fs::exists(raw))
    return std::string(raw);
  std::string hint = "; `apt install dataset-fashion-mnist` (or "
                     "scripts/deps.sh) installs Fashion-MNIST";
  if (dir != kFashionMNISTDir)
    hint += std::string(" under ") + kFashionMNISTDir;
  return createFileError(
      gz, makeError("Fashion-MNIST file not found (nor " + raw + ")" + hint));
}

Expected<Dataset> loadFashionMNIST(StringRef dir, StringRef split) {
  StringRef prefix;
  if (split == "train")
    prefix = "train";
  else if (split == "test")
    prefix = "t10k";
  else
    return makeError("unknown Fashion-MNIST split '" + split +
                     "' (expected 'train' or 'test')");
  Expected<std::string> imagesPath =
      findFashionMNISTFile(dir, (prefix + "-images-idx3-ubyte").str());
  if (!imagesPath)
    return imagesPath.takeError();
  Expected<std::string> labelsPath =
      findFashionMNISTFile(dir, (prefix + "-labels-idx1-ubyte").str());
  if (!labelsPath)
    return labelsPath.takeError();

  Expected<IDXArray> images = readIDX(*imagesPath);
  if (!images)
    return images.takeError();
  if (images->shape.size() != 3)
    return createFileError(
        *imagesPath, makeError("expected images of shape [N, H, W], found " +
                               formatShape(images->shape)));
  Expected<IDXArray> labels = readIDX(*labelsPath);
  if (!labels)
    return labels.takeError();
  if (labels->shape.size() != 1)
    return createFileError(*labelsPath,
                           makeError("expected labels of shape [N], found " +
                                     formatShape(labels->shape)));
  if (labels->shape[0] != images->shape[0])
    return makeError(formatv("{0} has {1} labels but {2} has {3} images",
                             *labelsPath, labels->shape[0], *imagesPath,
                             images->shape[0]));

  Dataset dataset;
  dataset.numClasses = 10;
  dataset.labels.assign(labels->data.begin(), labels->data.end());
  if (Error error = checkLabels(dataset.labels, dataset.numClasses))
    return createFileError(*labelsPath, std::move(error));
  dataset.images.shape = {images->shape[0], 1, images->shape[1],
                          images->shape[2]};
  dataset.images.data.resize(images->data.size());
  // ToTensor divides by 255 in float32.
  std::transform(images->data.begin(), images->data.end(),
                 dataset.images.data.begin(),
                 [](uint8_t v) { return float(v) / 255.0f; });
  return std::move(dataset);
}

Expected<Dataset> loadNpyDataset(StringRef imagesPath, StringRef labelsPath,
                                 int64_t numClasses) {
  Expected<Tensor> images = readNpy(imagesPath);
  if (!images)
    return images.takeError();
  if (images->shape.size() != 4 && images->shape.size() != 2)
    return createFileError(imagesPath,
                           makeError("expected images of shape [N, C, H, W] or "
                                     "features of shape [N, F], found " +
                                     formatShape(images->shape)));
  Expected<NpyIntArray> labels = readNpyInt(labelsPath);
  if (!labels)
    return labels.takeError();
  if (labels->shape.size() != 1)
    return createFileError(labelsPath,
                           makeError("expected labels of shape [N], found " +
                                     formatShape(labels->shape)));
  if (labels->shape[0] != images->shape[0])
    return makeError(formatv("{0} has {1} labels but {2} has {3} examples",
                             labelsPath, labels->shape[0], imagesPath,
                             images->shape[0]));
  if (labels->shape[0] == 0)
    return createFileError(labelsPath, makeError("the dataset is empty"));

  Dataset dataset;
  dataset.labels = std::move(labels->data);
  for (size_t i = 0, e = dataset.labels.size(); i < e; ++i)
    if (dataset.labels[i] < 0)
      return createFileError(
          labelsPath, makeError(formatv("label {0} of example {1} is "
                                        "negative; labels are class indices",
                                        dataset.labels[i], i)));
  int64_t maxLabel =
      *std::max_element(dataset.labels.begin(), dataset.labels.end());
  if (numClasses == 0)
    numClasses = maxLabel + 1;
  else if (Error error = checkLabels(dataset.labels, numClasses))
    return createFileError(labelsPath, std::move(error));
  dataset.numClasses = numClasses;
  dataset.images = std::move(*images);
  return std::move(dataset);
}

//===----------------------------------------------------------------------===//
// Resizing
//===----------------------------------------------------------------------===//

namespace {
/// Where output index i of a resize from \p in to \p out samples: the two
/// input indices and the weight of the second.
struct Tap {
  int64_t i0, i1;
  float lambda;
};
} // namespace

/// The taps of a half-pixel-center resize, as PyTorch's
/// area_pixel_compute_source_index (align_corners=False) computes them in
/// float: s = max(0, scale * (i + 0.5) - 0.5) with scale = in / out.
static std::vector<Tap> computeTaps(int64_t in, int64_t out) {
  std::vector<Tap> taps(out);
  float scale = float(in) / float(out);
  for (int64_t i = 0; i < out; ++i) {
    float s = std::max(scale * (float(i) + 0.5f) - 0.5f, 0.0f);
    int64_t i0 = std::min<int64_t>(int64_t(s), in - 1);
    int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    taps[i] = {i0, i1, s - float(i0)};
  }
  return taps;
}

Expected<Tensor> resizeBilinear(const Tensor &images, int64_t height,
                                int64_t width) {
  if (images.shape.size() != 4)
    return makeError("cannot resize a tensor of shape " +
                     formatShape(images.shape) +
                     ": expected images of shape [N, C, H, W]");
  if (height <= 0 || width <= 0)
    return makeError(formatv("cannot resize images to {0}x{1}: the size must "
                             "be positive",
                             height, width));
  int64_t n = images.shape[0], c = images.shape[1], h = images.shape[2],
          w = images.shape[3];
  std::optional<int64_t> size = checkedNumElements({n, c, height, width});
  if (!size)
    return makeError(formatv("cannot resize images to {0}x{1}: the result's "
                             "size overflows",
                             height, width));
  Tensor result({n, c, height, width}, std::vector<float>(size_t(*size)));
  if (*size == 0 || h == 0 || w == 0)
    return std::move(result);
  std::vector<Tap> rows = computeTaps(h, height), cols = computeTaps(w, width);
  for (int64_t plane = 0; plane < n * c; ++plane) {
    const float *src = images.data.data() + plane * h * w;
    float *dst = result.data.data() + plane * height * width;
    for (int64_t y = 0; y < height; ++y) {
      const Tap &r = rows[y];
      const float *row0 = src + r.i0 * w, *row1 = src + r.i1 * w;
      for (int64_t x = 0; x < width; ++x) {
        const Tap &t = cols[x];
        // The order of PyTorch's CPU kernel: blend along the width in each
        // row, then the two rows.
        float top = (1 - t.lambda) * row0[t.i0] + t.lambda * row0[t.i1];
        float bottom = (1 - t.lambda) * row1[t.i0] + t.lambda * row1[t.i1];
        dst[y * width + x] = (1 - r.lambda) * top + r.lambda * bottom;
      }
    }
  }
  return std::move(result);
}

//===----------------------------------------------------------------------===//
// Minibatches
//===----------------------------------------------------------------------===//

BatchSampler::BatchSampler(int64_t numExamples, int64_t batchSize, bool shuffle,
                           uint64_t seed)
    : numExamples(numExamples), batchSize(batchSize), shuffle(shuffle),
      seed(seed) {
  startEpoch(0);
}

Expected<BatchSampler> BatchSampler::create(int64_t numExamples,
                                            int64_t batchSize, bool shuffle,
                                            uint64_t seed) {
  if (batchSize <= 0)
    return makeError(formatv("batch size {0} is not positive", batchSize));
  if (numExamples < batchSize)
    return makeError(formatv("{0} examples are fewer than one batch of {1}: "
                             "the compiled step has a fixed batch size, so "
                             "there would be nothing to train on",
                             numExamples, batchSize));
  return BatchSampler(numExamples, batchSize, shuffle, seed);
}

void BatchSampler::startEpoch(int64_t epoch) {
  order.resize(size_t(numExamples));
  std::iota(order.begin(), order.end(), int64_t(0));
  if (!shuffle)
    return;
  SplitMix64 rng(deriveSeed(seed, "shuffle") + uint64_t(epoch));
  // Fisher-Yates: position i takes a uniformly chosen one of [0, i].
  for (int64_t i = numExamples - 1; i > 0; --i)
    std::swap(order[i], order[rng.uniformInt(uint64_t(i) + 1)]);
}

Error gatherBatch(const Dataset &dataset, ArrayRef<int64_t> indices,
                  Tensor &images, std::vector<int64_t> &labels) {
  if (dataset.images.shape.empty())
    return makeError("the dataset has no examples");
  int64_t n = dataset.size();
  int64_t stride = n == 0 ? 0 : dataset.images.numElements() / n;
  images.shape = dataset.images.shape;
  images.shape[0] = int64_t(indices.size());
  images.data.resize(indices.size() * size_t(stride));
  labels.resize(indices.size());
  for (size_t b = 0, e = indices.size(); b < e; ++b) {
    int64_t i = indices[b];
    if (i < 0 || i >= n)
      return makeError(formatv("example index {0} is outside the dataset of "
                               "{1} examples",
                               i, n));
    std::copy_n(dataset.images.data.begin() + i * stride, stride,
                images.data.begin() + b * stride);
    labels[b] = dataset.labels[i];
  }
  return Error::success();
}

} // namespace dlm

//===- DatasetTest.cpp - Tests of the training data layer -----------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// readIDX on hand-made files (raw and gzipped, good and each kind of
// malformed), the two dataset loaders, resizeBilinear against PyTorch's
// interpolate (numbers from scripts/torch_dataset_reference.py, committed as
// Inputs/DatasetReference.inc), the batch sampler and gatherBatch, and — when
// Debian's dataset-fashion-mnist is installed — the real Fashion-MNIST files.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Dataset.h"

#include "dlm/Runtime/Npy.h"

#include "DatasetChecks.h"
#include "TestUtils.h"

#include "llvm/Support/Endian.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>

using namespace dlm;
using namespace dlm::test;

namespace {

//===----------------------------------------------------------------------===//
// Hand-made files
//===----------------------------------------------------------------------===//

/// The bytes of an IDX file: magic 00 00 \p type \p dims.size(), the
/// dimensions, then \p data.
std::string makeIDX(std::vector<uint32_t> dims, llvm::StringRef data,
                    uint8_t type = 0x08) {
  std::string bytes = {0, 0, char(type), char(dims.size())};
  for (uint32_t d : dims) {
    char be[4];
    llvm::support::endian::write32be(be, d);
    bytes.append(be, 4);
  }
  bytes += data;
  return bytes;
}

/// \p bytes compressed as one gzip member (deflate with a gzip wrapper).
std::string gzip(llvm::StringRef bytes) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED,
                         16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&stream, bytes.size()) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(bytes.data()));
  stream.avail_in = bytes.size();
  stream.next_out = reinterpret_cast<Bytef *>(out.data());
  stream.avail_out = out.size();
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

void writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec) << ec.message();
  os << bytes;
}

/// The bytes of \p n images of \p h x \p w whose pixel i is i % 251.
std::string pixels(size_t n) {
  std::string data(n, '\0');
  for (size_t i = 0; i < n; ++i)
    data[i] = char(i % 251);
  return data;
}

/// readIDX on \p bytes written to a file; the error message or "".
std::string idxError(const TempDir &dir, llvm::StringRef bytes,
                     uint64_t maxBytes = kMaxIDXBytes) {
  std::string path = dir.file("bad-idx");
  writeFile(path, bytes);
  llvm::Expected<IDXArray> array = readIDX(path, maxBytes);
  std::string message = errorMessage(array.takeError());
  if (!message.empty()) {
    EXPECT_NE(message.find(path), std::string::npos) << message;
  }
  return message;
}

TEST(IDXTest, ReadsRawAndGzipped) {
  TempDir dir;
  std::string images = makeIDX({2, 3, 4}, pixels(24));
  for (bool compressed : {false, true}) {
    std::string path = dir.file(compressed ? "images.gz" : "images");
    writeFile(path, compressed ? gzip(images) : images);
    llvm::Expected<IDXArray> array = readIDX(path);
    ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
    EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 3, 4}));
    ASSERT_EQ(array->data.size(), 24u);
    EXPECT_EQ(array->data[23], 23);
  }
  // Labels, and a rank-1 file whose data is empty.
  llvm::Expected<IDXArray> labels = parseIDX(llvm::MemoryBufferRef(
      makeIDX({3}, llvm::StringRef("\x01\x09\x00", 3)), "labels"));
  ASSERT_TRUE(bool(labels)) << llvm::toString(labels.takeError());
  EXPECT_EQ(labels->data, (std::vector<uint8_t>{1, 9, 0}));
  llvm::Expected<IDXArray> empty =
      parseIDX(llvm::MemoryBufferRef(makeIDX({0}, ""), "empty"));
  ASSERT_TRUE(bool(empty)) << llvm::toString(empty.takeError());
  EXPECT_TRUE(empty->data.empty());
}

TEST(IDXTest, ReadsConcatenatedGzipMembers) {
  // `cat a.gz b.gz` is one valid gzip file holding a followed by b.
  std::string idx = makeIDX({2, 2, 2}, pixels(8));
  std::string bytes = gzip(idx.substr(0, 5)) + gzip(idx.substr(5));
  llvm::Expected<IDXArray> array =
      parseIDX(llvm::MemoryBufferRef(bytes, "two-members.gz"));
  ASSERT_TRUE(bool(array)) << llvm::toString(array.takeError());
  EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 2, 2}));
}

TEST(IDXTest, MalformedFiles) {
  TempDir dir;
  std::string good = makeIDX({2, 3, 4}, pixels(24));

  EXPECT_ERROR_HAS(idxError(dir, ""), "ends inside the 4-byte magic number");
  EXPECT_ERROR_HAS(idxError(dir, llvm::StringRef("\0\0\x08", 3)),
                   "ends inside the 4-byte magic number");
  EXPECT_ERROR_HAS(idxError(dir, "PK\x03\x04 a zip file"), "bad magic number",
                   "not an IDX file");
  EXPECT_ERROR_HAS(idxError(dir, makeIDX({2}, "ab", 0x0D)),
                   "bad magic number 00000d01", "element type 0d",
                   "unsigned byte");
  EXPECT_ERROR_HAS(idxError(dir, makeIDX({}, "")), "0 dimensions");
  EXPECT_ERROR_HAS(idxError(dir, makeIDX(std::vector<uint32_t>(9, 1), "a")),
                   "9 dimensions");
  // The header itself is truncated.
  EXPECT_ERROR_HAS(idxError(dir, good.substr(0, 10)), "truncated",
                   "need a header of 16");
  // Data shorter and longer than the dimensions say.
  EXPECT_ERROR_HAS(idxError(dir, good.substr(0, good.size() - 1)), "truncated",
                   "[2, 3, 4] need 24 bytes", "has 23");
  EXPECT_ERROR_HAS(idxError(dir, good + "x"), "25 bytes of data",
                   "need only 24");
  // Dimensions whose product overflows int64: 4 x 2^32-1 ... .
  EXPECT_ERROR_HAS(
      idxError(dir, makeIDX({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "")),
      "overflow a 64-bit size");
  // A huge but representable size is not allocated: the file is too short.
  EXPECT_ERROR_HAS(idxError(dir, makeIDX({60000, 0xFFFFFFFFu}, "abc")),
                   "truncated", "has 3");

  // gzip: truncated, corrupt, trailing garbage, over the size limit.
  std::string gz = gzip(good);
  EXPECT_ERROR_HAS(idxError(dir, gz.substr(0, gz.size() / 2)),
                   "gzip data is truncated");
  EXPECT_ERROR_HAS(idxError(dir, gz.substr(0, 2)), "gzip data is truncated");
  std::string corrupt = gz;
  corrupt[12] ^= 0x55;
  corrupt[13] ^= 0xAA;
  EXPECT_ERROR_HAS(idxError(dir, corrupt), "gzip data is corrupt");
  std::string badCrc = gz;
  badCrc[badCrc.size() - 6] ^= 1; // The CRC-32 of the trailer.
  EXPECT_ERROR_HAS(idxError(dir, badCrc), "gzip data is corrupt");
  // A trailer that claims 4 GiB - 1: only a hint for the buffer, bounded by
  // the compressed size, and then a failed length check.
  std::string lying = gz;
  for (size_t i = lying.size() - 4; i < lying.size(); ++i)
    lying[i] = '\xFF';
  EXPECT_ERROR_HAS(idxError(dir, lying), "gzip data is corrupt");
  EXPECT_ERROR_HAS(idxError(dir, gz + "junk"), "trailing data");
  EXPECT_ERROR_HAS(idxError(dir, gzip(makeIDX({1 << 20}, pixels(1 << 20))),
                            /*maxBytes=*/4096),
                   "exceeds the limit of 4096 bytes");
  EXPECT_ERROR_HAS(idxError(dir, good, /*maxBytes=*/16), "more than the limit");
  // Exactly at the limit is fine.
  EXPECT_EQ(idxError(dir, gz, /*maxBytes=*/good.size()), "");
  // A gzip stream holding a malformed IDX file.
  EXPECT_ERROR_HAS(idxError(dir, gzip(good.substr(0, 20))), "truncated",
                   "need 24 bytes");

  std::string missing = dir.file("missing.gz");
  EXPECT_ERROR_HAS(errorMessage(readIDX(missing)), missing.c_str());
}

TEST(IDXTest, FuzzSeedsAndRegressions) {
  // The inputs of dlm-fuzz-idx (fuzz/), through the fuzz target's checks.
  size_t seeds = 0;
  for (const char *kind : {"corpus", "regressions"}) {
    std::string directory =
        std::string(DLM_FUZZ_DIR) + "/" + kind + "/dlm-fuzz-idx";
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(directory, ec), end;
         !ec && it != end; it.increment(ec)) {
      auto buffer =
          llvm::MemoryBuffer::getFile(it->path(), /*IsText=*/false,
                                      /*RequiresNullTerminator=*/false);
      if (!buffer)
        continue;
      seeds += kind[0] == 'c';
      EXPECT_EQ(fuzz::checkIDXInput((*buffer)->getBuffer()), "") << it->path();
    }
  }
  EXPECT_GT(seeds, 0u);
}

//===----------------------------------------------------------------------===//
// Fashion-MNIST from hand-made files
//===----------------------------------------------------------------------===//

/// Writes a small Fashion-MNIST split to \p dir: \p n images of 2x3.
void writeFashion(const TempDir &dir, llvm::StringRef prefix, uint32_t n,
                  llvm::StringRef labels, bool compressed) {
  std::string images = makeIDX({n, 2, 3}, pixels(n * 6));
  std::string labelFile = makeIDX({uint32_t(labels.size())}, labels);
  std::string suffix = compressed ? ".gz" : "";
  writeFile(dir.file(prefix + "-images-idx3-ubyte" + suffix),
            compressed ? gzip(images) : images);
  writeFile(dir.file(prefix + "-labels-idx1-ubyte" + suffix),
            compressed ? gzip(labelFile) : labelFile);
}

TEST(FashionMNISTTest, LoadsScaledImages) {
  TempDir dir;
  writeFashion(dir, "train", 3, llvm::StringRef("\x09\x00\x03", 3), true);
  writeFashion(dir, "t10k", 2, llvm::StringRef("\x01\x02", 2), false);
  llvm::Expected<Dataset> train = loadFashionMNIST(dir.file(""), "train");
  ASSERT_TRUE(bool(train)) << llvm::toString(train.takeError());
  EXPECT_EQ(train->images.shape, (std::vector<int64_t>{3, 1, 2, 3}));
  EXPECT_EQ(train->labels, (std::vector<int64_t>{9, 0, 3}));
  EXPECT_EQ(train->numClasses, 10);
  EXPECT_EQ(train->size(), 3);
  EXPECT_EQ(train->images.data[0], 0.0f);
  EXPECT_EQ(train->images.data[5], 5.0f / 255.0f);
  llvm::Expected<Dataset> test = loadFashionMNIST(dir.file(""), "test");
  ASSERT_TRUE(bool(test)) << llvm::toString(test.takeError());
  EXPECT_EQ(test->labels, (std::vector<int64_t>{1, 2}));
}

TEST(FashionMNISTTest, Errors) {
  TempDir dir;
  std::string message = errorMessage(loadFashionMNIST(dir.file(""), "train"));
  EXPECT_ERROR_HAS(message, "train-images-idx3-ubyte.gz",
                   "apt install dataset-fashion-mnist", "scripts/deps.sh");
  EXPECT_ERROR_HAS(errorMessage(loadFashionMNIST(dir.file(""), "valid")),
                   "unknown Fashion-MNIST split 'valid'");
  // Counts that differ name both files.
  writeFashion(dir, "train", 3, llvm::StringRef("\x01\x02", 2), false);
  EXPECT_ERROR_HAS(errorMessage(loadFashionMNIST(dir.file(""), "train")),
                   "has 2 labels", "has 3 images", "train-labels-idx1-ubyte",
                   "train-images-idx3-ubyte");
  // A label past the ten classes.
  writeFashion(dir, "t10k", 2, llvm::StringRef("\x01\x0A", 2), false);
  EXPECT_ERROR_HAS(errorMessage(loadFashionMNIST(dir.file(""), "test")),
                   "t10k-labels-idx1-ubyte", "label 10 of example 1",
                   "[0, 10)");
}

//===----------------------------------------------------------------------===//
// .npy datasets
//===----------------------------------------------------------------------===//

/// An .npy file of dtype \p descr, shape \p shape (as Python writes it) and
/// raw data \p data.
std::string makeNpy(llvm::StringRef descr, llvm::StringRef shape,
                    llvm::StringRef data) {
  std::string dict = "{'descr': '" + descr.str() +
                     "', 'fortran_order': False, 'shape': " + shape.str() +
                     ", }";
  while ((10 + dict.size() + 1) % 64)
    dict += ' ';
  dict += '\n';
  std::string bytes = "\x93NUMPY\x01";
  bytes += '\0';
  bytes += char(dict.size() & 0xFF);
  bytes += char(dict.size() >> 8);
  return bytes + dict + data.str();
}

template <typename T> std::string rawBytes(std::vector<T> values) {
  return std::string(reinterpret_cast<const char *>(values.data()),
                     values.size() * sizeof(T));
}

TEST(NpyDatasetTest, LoadsImagesAndLabels) {
  TempDir dir;
  std::string images = dir.file("x.npy"), labels64 = dir.file("y64.npy"),
              labels32 = dir.file("y32.npy");
  ASSERT_FALSE(
      bool(writeNpyFile(images, {3, 1, 2, 2}, std::vector<float>(12, 0.5f))));
  writeFile(labels64,
            makeNpy("<i8", "(3,)", rawBytes(std::vector<int64_t>{2, 0, 4})));
  writeFile(labels32,
            makeNpy("<i4", "(3,)", rawBytes(std::vector<int32_t>{1, 1, 0})));
  llvm::Expected<Dataset> a = loadNpyDataset(images, labels64);
  ASSERT_TRUE(bool(a)) << llvm::toString(a.takeError());
  EXPECT_EQ(a->labels, (std::vector<int64_t>{2, 0, 4}));
  EXPECT_EQ(a->numClasses, 5);
  EXPECT_EQ(a->images.shape, (std::vector<int64_t>{3, 1, 2, 2}));
  llvm::Expected<Dataset> b = loadNpyDataset(images, labels32, 10);
  ASSERT_TRUE(bool(b)) << llvm::toString(b.takeError());
  EXPECT_EQ(b->labels, (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(b->numClasses, 10);
  // Features [N, F].
  std::string features = dir.file("f.npy");
  ASSERT_FALSE(
      bool(writeNpyFile(features, {3, 4}, std::vector<float>(12, 1.0f))));
  llvm::Expected<Dataset> c = loadNpyDataset(features, labels64);
  ASSERT_TRUE(bool(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->images.shape, (std::vector<int64_t>{3, 4}));
}

TEST(NpyDatasetTest, Errors) {
  TempDir dir;
  std::string images = dir.file("x.npy"), labels = dir.file("y.npy");
  ASSERT_FALSE(bool(writeNpyFile(images, {3, 4}, std::vector<float>(12))));
  writeFile(labels,
            makeNpy("<i8", "(3,)", rawBytes(std::vector<int64_t>{0, -2, 1})));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels)), "y.npy",
                   "label -2 of example 1 is negative");
  writeFile(labels,
            makeNpy("<i8", "(3,)", rawBytes(std::vector<int64_t>{0, 7, 1})));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels, 5)), "y.npy",
                   "label 7 of example 1", "[0, 5)");
  // Float labels, labels of rank 2, N mismatch.
  ASSERT_FALSE(bool(writeNpyFile(labels, {3}, std::vector<float>(3))));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels)), "y.npy",
                   "expected dtype '<i8' (int64), '<i4' (int32)", "'<f4'");
  writeFile(labels,
            makeNpy("<i8", "(3, 1)", rawBytes(std::vector<int64_t>{0, 1, 2})));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels)), "y.npy",
                   "expected labels of shape [N], found [3, 1]");
  writeFile(labels,
            makeNpy("<i4", "(2,)", rawBytes(std::vector<int32_t>{0, 1})));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels)),
                   "y.npy has 2 labels", "x.npy has 3 examples");
  // float64 images get the astype hint; images of rank 3 say what is expected.
  std::string f64 = dir.file("x64.npy");
  writeFile(f64, makeNpy("<f8", "(1, 2)", rawBytes(std::vector<double>{1, 2})));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(f64, labels)), "x64.npy",
                   "float64", "x.astype(np.float32)");
  ASSERT_FALSE(bool(writeNpyFile(images, {2, 2, 2}, std::vector<float>(8))));
  EXPECT_ERROR_HAS(errorMessage(loadNpyDataset(images, labels)), "x.npy",
                   "[N, C, H, W] or", "[N, F]", "found [2, 2, 2]");
}

TEST(NpyDatasetTest, CheckLabels) {
  EXPECT_EQ(errorMessage(checkLabels({0, 9, 3}, 10)), "");
  EXPECT_ERROR_HAS(errorMessage(checkLabels({0, 9, 3}, 9)),
                   "label 9 of example 1", "[0, 9)");
  EXPECT_ERROR_HAS(errorMessage(checkLabels({-1}, 9)), "label -1 of example 0");
}

//===----------------------------------------------------------------------===//
// Resizing against torch.nn.functional.interpolate
//===----------------------------------------------------------------------===//

struct ResizeReference {
  const char *name;
  int64_t n, c, h, w, outH, outW;
  double sum;
  std::vector<int64_t> indices;
  std::vector<float> values;
};

struct FashionFacts {
  const char *split;
  int64_t count, height, width, firstImageSum, pixelSum;
  std::vector<int64_t> firstLabels;
  std::vector<int64_t> classCounts;
};

const ResizeReference kResizeReferences[] = {
#define DLM_SECTION_RESIZE
#include "DatasetReference.inc"
#undef DLM_SECTION_RESIZE
};

/// The reference script's input: pixel i is ((i * 37 + 11) % 101) / 100.
Tensor patternImages(int64_t n, int64_t c, int64_t h, int64_t w) {
  Tensor t({n, c, h, w}, std::vector<float>(size_t(n * c * h * w)));
  for (size_t i = 0; i < t.data.size(); ++i)
    t.data[i] = float((int64_t(i) * 37 + 11) % 101) / 100.0f;
  return t;
}

TEST(ResizeTest, MatchesTorchInterpolate) {
  for (const ResizeReference &ref : kResizeReferences) {
    SCOPED_TRACE(ref.name);
    llvm::Expected<Tensor> out = resizeBilinear(
        patternImages(ref.n, ref.c, ref.h, ref.w), ref.outH, ref.outW);
    ASSERT_TRUE(bool(out)) << llvm::toString(out.takeError());
    EXPECT_EQ(out->shape,
              (std::vector<int64_t>{ref.n, ref.c, ref.outH, ref.outW}));
    ASSERT_EQ(ref.indices.size(), ref.values.size());
    for (size_t k = 0; k < ref.indices.size(); ++k)
      EXPECT_NEAR(out->data[ref.indices[k]], ref.values[k], 1e-6)
          << "pixel " << ref.indices[k];
    double sum = std::accumulate(out->data.begin(), out->data.end(), 0.0);
    EXPECT_NEAR(sum, ref.sum, 1e-6 * double(out->data.size()));
  }
}

TEST(ResizeTest, Errors) {
  Tensor flat({2, 4}, std::vector<float>(8));
  EXPECT_ERROR_HAS(errorMessage(resizeBilinear(flat, 3, 3)), "[2, 4]",
                   "[N, C, H, W]");
  EXPECT_ERROR_HAS(
      errorMessage(resizeBilinear(patternImages(1, 1, 2, 2), 0, 3)),
      "must be positive");
  llvm::Expected<Tensor> empty = resizeBilinear(Tensor({0, 1, 2, 2}, {}), 4, 4);
  ASSERT_TRUE(bool(empty));
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{0, 1, 4, 4}));
}

//===----------------------------------------------------------------------===//
// Minibatches
//===----------------------------------------------------------------------===//

TEST(BatchSamplerTest, DropsTheLastPartialBatch) {
  llvm::Expected<BatchSampler> sampler =
      BatchSampler::create(10, 4, /*shuffle=*/false, 0);
  ASSERT_TRUE(bool(sampler)) << llvm::toString(sampler.takeError());
  EXPECT_EQ(sampler->getNumBatches(), 2);
  EXPECT_EQ(sampler->getBatch(0), llvm::ArrayRef<int64_t>({0, 1, 2, 3}));
  EXPECT_EQ(sampler->getBatch(1), llvm::ArrayRef<int64_t>({4, 5, 6, 7}));
}

TEST(BatchSamplerTest, ShufflesPortablyPerEpoch) {
  llvm::Expected<BatchSampler> a = BatchSampler::create(1000, 256, true, 42);
  llvm::Expected<BatchSampler> b = BatchSampler::create(1000, 256, true, 42);
  llvm::Expected<BatchSampler> other =
      BatchSampler::create(1000, 256, true, 43);
  ASSERT_TRUE(a && b && other);
  // A permutation, not the identity, the same for the same seed and epoch.
  std::vector<int64_t> order = a->getOrder().vec();
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(1000);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(order, identity);
  EXPECT_EQ(b->getOrder().vec(), order);
  EXPECT_NE(other->getOrder().vec(), order);
  // Epoch 1 differs from epoch 0 and does not depend on the epochs before.
  a->startEpoch(1);
  b->startEpoch(5);
  b->startEpoch(1);
  EXPECT_NE(a->getOrder().vec(), order);
  EXPECT_EQ(a->getOrder().vec(), b->getOrder().vec());
  a->startEpoch(0);
  EXPECT_EQ(a->getOrder().vec(), order);
}

TEST(BatchSamplerTest, PortableOrder) {
  llvm::Expected<BatchSampler> sampler = BatchSampler::create(8, 2, true, 7);
  ASSERT_TRUE(bool(sampler));
  // Fixed by Random.h's SplitMix64 and the Fisher-Yates loop of Dataset.cpp
  // (recomputed independently in Python when this test was written);
  // a change here changes every training run's order.
  EXPECT_EQ(sampler->getOrder().vec(),
            (std::vector<int64_t>{0, 2, 4, 5, 6, 1, 7, 3}));
}

TEST(BatchSamplerTest, ShuffleIsRoughlyUniform) {
  // Where example 0 lands over many epochs: every position about as often.
  llvm::Expected<BatchSampler> sampler = BatchSampler::create(5, 1, true, 1);
  ASSERT_TRUE(bool(sampler));
  int counts[5] = {};
  for (int epoch = 0; epoch < 5000; ++epoch) {
    sampler->startEpoch(epoch);
    llvm::ArrayRef<int64_t> order = sampler->getOrder();
    ++counts[std::find(order.begin(), order.end(), 0) - order.begin()];
  }
  for (int count : counts)
    EXPECT_NEAR(count, 1000, 150);
}

TEST(BatchSamplerTest, Errors) {
  EXPECT_ERROR_HAS(errorMessage(BatchSampler::create(100, 256, true, 0)),
                   "100 examples are fewer than one batch of 256");
  EXPECT_ERROR_HAS(errorMessage(BatchSampler::create(100, 0, true, 0)),
                   "batch size 0 is not positive");
}

TEST(GatherBatchTest, CopiesExamples) {
  Dataset data;
  data.images = Tensor({4, 1, 1, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  data.labels = {10, 11, 12, 13};
  data.numClasses = 14;
  Tensor images;
  std::vector<int64_t> labels;
  ASSERT_EQ(errorMessage(gatherBatch(data, {3, 0}, images, labels)), "");
  EXPECT_EQ(images.shape, (std::vector<int64_t>{2, 1, 1, 2}));
  EXPECT_EQ(images.data, (std::vector<float>{6, 7, 0, 1}));
  EXPECT_EQ(labels, (std::vector<int64_t>{13, 10}));
  EXPECT_ERROR_HAS(errorMessage(gatherBatch(data, {4}, images, labels)),
                   "example index 4 is outside the dataset of 4 examples");
}

//===----------------------------------------------------------------------===//
// The real Fashion-MNIST (Debian's dataset-fashion-mnist)
//===----------------------------------------------------------------------===//

const FashionFacts kFashionFacts[] = {
#define DLM_SECTION_FASHION
#include "DatasetReference.inc"
#undef DLM_SECTION_FASHION
};

TEST(FashionMNISTTest, RealFiles) {
  if (!llvm::sys::fs::exists(std::string(kFashionMNISTDir) +
                             "/train-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << kFashionMNISTDir
                 << " not found (apt install dataset-fashion-mnist)";
  for (const FashionFacts &facts : kFashionFacts) {
    SCOPED_TRACE(facts.split);
    llvm::Expected<Dataset> data =
        loadFashionMNIST(kFashionMNISTDir, facts.split);
    ASSERT_TRUE(bool(data)) << llvm::toString(data.takeError());
    EXPECT_EQ(
        data->images.shape,
        (std::vector<int64_t>{facts.count, 1, facts.height, facts.width}));
    EXPECT_EQ(data->size(), facts.count);
    EXPECT_EQ(data->numClasses, 10);
    EXPECT_EQ(
        llvm::ArrayRef(data->labels).take_front(facts.firstLabels.size()).vec(),
        facts.firstLabels);
    std::vector<int64_t> counts(10);
    for (int64_t label : data->labels)
      ++counts[label];
    EXPECT_EQ(counts, facts.classCounts);
    // The pixels, back as bytes: exact, since v / 255 * 255 rounds to v.
    int64_t first = 0, total = 0;
    int64_t perImage = facts.height * facts.width;
    for (size_t i = 0; i < data->images.data.size(); ++i) {
      int64_t v = int64_t(std::lround(data->images.data[i] * 255.0f));
      total += v;
      if (int64_t(i) < perImage)
        first += v;
    }
    EXPECT_EQ(first, facts.firstImageSum);
    EXPECT_EQ(total, facts.pixelSum);
  }
}

} // namespace

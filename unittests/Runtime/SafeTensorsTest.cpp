//===- SafeTensorsTest.cpp - Tests of the .safetensors reader and writer --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/SafeTensors.h"

#include "TestUtils.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/JSON.h"

#include <cstring>

using namespace dlm;
using namespace dlm::test;
using llvm::StringRef;

namespace {

/// A safetensors file made of \p header and \p data.
std::string makeFile(StringRef header, StringRef data = "") {
  char length[8];
  llvm::support::endian::write64le(length, header.size());
  return std::string(length, 8) + header.str() + data.str();
}

/// The bytes of \p values as little-endian float32.
std::string floatBytes(std::vector<float> values) {
  std::string bytes(values.size() * 4, '\0');
  for (size_t i = 0; i < values.size(); ++i) {
    uint32_t bits;
    std::memcpy(&bits, &values[i], 4);
    llvm::support::endian::write32le(&bytes[4 * i], bits);
  }
  return bytes;
}

/// Parses \p bytes as the file "bad.safetensors".
llvm::Expected<std::unique_ptr<SafeTensorsFile>> parseBytes(StringRef bytes) {
  return SafeTensorsFile::parse(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "bad.safetensors"));
}

/// The error of parsing \p header and \p data, which names the file.
std::string parseError(StringRef header, StringRef data = "") {
  std::string message = errorMessage(parseBytes(makeFile(header, data)));
  EXPECT_NE(message.find("bad.safetensors"), std::string::npos) << message;
  return message;
}

/// A header entry.
std::string entry(StringRef name, StringRef dtype, StringRef shape,
                  StringRef offsets) {
  return ("\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape +
          ",\"data_offsets\":" + offsets + "}")
      .str();
}

std::vector<float> values(const TensorView &view) {
  return std::vector<float>(view.data, view.data + view.numElements());
}

//===----------------------------------------------------------------------===//
// Round trips and layout
//===----------------------------------------------------------------------===//

TEST(SafeTensorsTest, RoundTripThroughAFile) {
  TempDir dir;
  std::vector<float> weight = {1, -2, 3.5f, 4, 5, 6}, bias = {0.25f, -0.125f},
                     scale = {7};
  std::vector<TensorView> views = {
      {"conv.weight", {2, 1, 1, 3}, weight.data()},
      {"conv.bias", {2}, bias.data()},
      {"scale", {}, scale.data()},
      {"empty", {0, 3}, nullptr},
  };
  std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "\xc3\xbcnicode \"quoted\"\n"}};
  std::string path = dir.file("model.safetensors");
  ASSERT_EQ(errorMessage(writeSafeTensorsFile(path, views, metadata)), "");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"model.safetensors"});

  auto file = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->getPath(), path);
  EXPECT_EQ((*file)->getMetadata(), metadata);
  std::vector<std::string> names;
  for (const SafeTensorsEntry &e : (*file)->entries())
    names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv.bias", "conv.weight",
                                             "empty", "scale"}));

  auto w = (*file)->getTensor("conv.weight");
  ASSERT_TRUE(bool(w)) << llvm::toString(w.takeError());
  EXPECT_EQ(w->name, "conv.weight");
  EXPECT_EQ(w->shape, (std::vector<int64_t>{2, 1, 1, 3}));
  EXPECT_EQ(values(*w), weight);
  auto s = (*file)->getTensor("scale");
  ASSERT_TRUE(bool(s));
  EXPECT_EQ(s->shape, std::vector<int64_t>{});
  EXPECT_EQ(values(*s), scale);
  auto e = (*file)->getTensor("empty");
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(e->shape, (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(e->numElements(), 0);

  auto all = (*file)->getAllTensors();
  ASSERT_TRUE(bool(all));
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].name, "conv.bias");
  EXPECT_EQ(values((*all)[0]), bias);
}

TEST(SafeTensorsTest, WriterIsDeterministicAndAligned) {
  std::vector<float> a = {1, 2}, b = {3};
  std::vector<TensorView> forward = {{"a", {2}, a.data()},
                                     {"b", {1}, b.data()}};
  std::vector<TensorView> backward = {forward[1], forward[0]};
  std::string first, second;
  llvm::raw_string_ostream firstOS(first), secondOS(second);
  ASSERT_EQ(errorMessage(writeSafeTensors(firstOS, forward)), "");
  ASSERT_EQ(errorMessage(writeSafeTensors(secondOS, backward)), "");
  EXPECT_EQ(first, second);

  // Sorted keys, data laid out by name, spaces up to an 8-byte boundary.
  std::string header =
      "{\"a\":{\"data_offsets\":[0,8],\"dtype\":\"F32\",\"shape\":[2]},"
      "\"b\":{\"data_offsets\":[8,12],\"dtype\":\"F32\",\"shape\":[1]}}";
  header.append((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(first, makeFile(header, floatBytes({1, 2, 3})));
  EXPECT_EQ((8 + header.size()) % 8, 0u);
}

TEST(SafeTensorsTest, ReadsTheReferenceLayout) {
  // Written in the safetensors library's layout by Inputs/make_inputs.py.
  auto file = SafeTensorsFile::open(inputPath("checkpoint.safetensors"));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->getMetadata(),
            (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ((*file)->entries().size(), 3u);

  auto weight = (*file)->getTensor("conv.weight");
  ASSERT_TRUE(bool(weight)) << llvm::toString(weight.takeError());
  EXPECT_EQ(weight->shape, (std::vector<int64_t>{2, 1, 1, 2}));
  EXPECT_EQ(values(*weight), (std::vector<float>{1, 2, 3, 4}));
  auto bias = (*file)->getTensor("bn.bias");
  ASSERT_TRUE(bool(bias));
  EXPECT_EQ(values(*bias), (std::vector<float>{0.5f, -0.5f}));

  // An I64 tensor is listed but its data cannot be read as F32.
  const SafeTensorsEntry *counter = (*file)->find("bn.num_batches_tracked");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->dtype, SafeTensorsDType::I64);
  EXPECT_EQ(counter->shape, std::vector<int64_t>{});
  EXPECT_EQ(counter->floats, nullptr);
  EXPECT_EQ(llvm::support::endian::read64le(counter->bytes), 100u);
  EXPECT_ERROR_HAS(
      errorMessage((*file)->getTensor("bn.num_batches_tracked")),
      "checkpoint.safetensors",
      "dtype I64 of tensor 'bn.num_batches_tracked' is not supported yet");
  EXPECT_ERROR_HAS(errorMessage((*file)->getAllTensors()),
                   "dtype I64 of tensor 'bn.num_batches_tracked'");
}

TEST(SafeTensorsTest, OtherDTypesAreRecognisedButNotSupported) {
  std::string header = "{" + entry("half", "F16", "[2]", "[0,4]") + "," +
                       entry("brain", "BF16", "[2]", "[4,8]") + "," +
                       entry("double", "F64", "[1]", "[8,16]") + "," +
                       entry("flag", "BOOL", "[3]", "[16,19]") + "}";
  auto file = parseBytes(makeFile(header, std::string(19, '\0')));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  for (auto [name, dtype] :
       {std::make_pair("half", "F16"), std::make_pair("brain", "BF16"),
        std::make_pair("double", "F64"), std::make_pair("flag", "BOOL")}) {
    std::string expected = std::string("dtype ") + dtype + " of tensor '" +
                           name + "' is not supported yet";
    EXPECT_ERROR_HAS(errorMessage((*file)->getTensor(name)), "bad.safetensors",
                     expected.c_str());
  }
  EXPECT_ERROR_HAS(errorMessage((*file)->getTensor("missing")),
                   "bad.safetensors", "no tensor named 'missing'");
  EXPECT_EQ((*file)->find("missing"), nullptr);
}

TEST(SafeTensorsTest, LargeFilesAreMemoryMappedNotCopied) {
  TempDir dir;
  std::vector<float> big(1 << 16);
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = float(i);
  std::string path = dir.file("big.safetensors");
  ASSERT_EQ(errorMessage(writeSafeTensorsFile(
                path, {TensorView{"big", {256, 256}, big.data()}})),
            "");
  auto file = SafeTensorsFile::open(path);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_TRUE((*file)->isMemoryMapped());
  const SafeTensorsEntry *entry = (*file)->find("big");
  ASSERT_NE(entry, nullptr);
  // Aligned data is used in place.
  EXPECT_EQ(static_cast<const void *>(entry->floats),
            static_cast<const void *>(entry->bytes));
  EXPECT_EQ(std::vector<float>(entry->floats, entry->floats + big.size()), big);
}

TEST(SafeTensorsTest, MisalignedDataIsCopied) {
  // 8 + 58 bytes of header: the data starts 2 bytes past a 4-byte boundary.
  std::string header = "{" + entry("w", "F32", "[3]", "[0,12]") + "}";
  ASSERT_LE(header.size(), 58u);
  header.append(58 - header.size(), ' ');
  std::string bytes = makeFile(header, floatBytes({1.5f, -2, 3}));
  auto file = parseBytes(bytes);
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  const SafeTensorsEntry *w = (*file)->find("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->floats) % alignof(float), 0u);
  EXPECT_EQ(std::vector<float>(w->floats, w->floats + 3),
            (std::vector<float>{1.5f, -2, 3}));

  // Data at an aligned offset in a buffer that starts at an odd address.
  header = "{" + entry("w", "F32", "[3]", "[0,12]") + "}";
  header.append(64 - 8 - header.size(), ' ');
  std::string storage = " " + makeFile(header, floatBytes({1.5f, -2, 3}));
  auto odd = SafeTensorsFile::parse(llvm::MemoryBuffer::getMemBuffer(
      StringRef(storage).drop_front(), "odd", false));
  ASSERT_TRUE(bool(odd)) << llvm::toString(odd.takeError());
  auto view = (*odd)->getTensor("w");
  ASSERT_TRUE(bool(view));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(view->data) % alignof(float), 0u);
  EXPECT_EQ(values(*view), (std::vector<float>{1.5f, -2, 3}));
}

TEST(SafeTensorsTest, EmptyFile) {
  auto file = parseBytes(makeFile("{}      "));
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_TRUE((*file)->entries().empty());
}

//===----------------------------------------------------------------------===//
// Reader errors
//===----------------------------------------------------------------------===//

TEST(SafeTensorsTest, MissingFile) {
  EXPECT_ERROR_HAS(
      errorMessage(SafeTensorsFile::open("/nonexistent/w.safetensors")),
      "/nonexistent/w.safetensors", "o such file or directory");
}

TEST(SafeTensorsTest, HeaderLengthErrors) {
  EXPECT_ERROR_HAS(errorMessage(parseBytes("abc")), "bad.safetensors",
                   "file is 3 bytes long, too short for the 8-byte header "
                   "length");
  std::string huge(8, '\0');
  llvm::support::endian::write64le(&huge[0], 100'000'001);
  EXPECT_ERROR_HAS(errorMessage(parseBytes(huge + "{}")),
                   "header length 100000001 exceeds the limit of 100000000");
  llvm::support::endian::write64le(&huge[0], UINT64_MAX);
  EXPECT_ERROR_HAS(errorMessage(parseBytes(huge + "{}")),
                   "header length 18446744073709551615 exceeds the limit");
  std::string past(8, '\0');
  llvm::support::endian::write64le(&past[0], 50);
  EXPECT_ERROR_HAS(errorMessage(parseBytes(past + "{}")),
                   "header length 50 runs past the end of the file (2 bytes "
                   "after the header length)");
}

TEST(SafeTensorsTest, HeaderSyntaxErrors) {
  EXPECT_ERROR_HAS(parseError("{not json"), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError(""), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\xff\":1}"), "header is not valid JSON",
                   "UTF-8");
  EXPECT_ERROR_HAS(parseError("[1, 2]"),
                   "header is not a JSON object but [1,2]");
  // Deep nesting is refused before the recursive JSON parser sees it.
  EXPECT_ERROR_HAS(parseError(std::string(100, '[') + std::string(100, ']')),
                   "header nests deeper than 64 levels");
  EXPECT_ERROR_HAS(parseError(std::string(1'000'000, '[')),
                   "header nests deeper than 64 levels");
  EXPECT_ERROR_HAS(parseError("{\"a\":" + std::string(70, '{')),
                   "header nests deeper than 64 levels");
}

// The header is read member by member (issue 13: as one json::Value, 1.5
// million zero-size tensors took 7 GB): names with escapes, whitespace
// anywhere and values of every JSON kind come out as json::parse reads them,
// and what is not valid JSON still gets json::parse's message.
TEST(SafeTensorsTest, HeaderMembersOneByOne) {
  std::string header =
      " {\n \"a\\u0062\" : {\"dtype\" : \"F32\", \"shape\": [ 1 ],"
      "\"data_offsets\":[0,4]} ,\t\"__metadata__\":{\"k\":\"v}\\\"\"},"
      "\"z\\\"q\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]}}  ";
  auto file = parseBytes(makeFile(header, floatBytes({1.5f, -2})));
  ASSERT_TRUE(bool(file)) << errorMessage(file.takeError());
  ASSERT_EQ((*file)->entries().size(), 2u);
  EXPECT_EQ((*file)->entries()[0].name, "ab");
  EXPECT_EQ((*file)->entries()[1].name, "z\"q");
  EXPECT_EQ((*file)->getMetadata().at("k"), "v}\"");
  llvm::Expected<TensorView> zq = (*file)->getTensor("z\"q");
  ASSERT_TRUE(bool(zq)) << errorMessage(zq.takeError());
  EXPECT_EQ(values(*zq), std::vector<float>{-2});

  // Many zero-size tensors: linear, and each name found.
  std::string many = "{";
  for (int i = 0; i < 20000; ++i)
    many +=
        (i ? "," : "") + entry("t" + std::to_string(i), "F32", "[0]", "[0,0]");
  many += "}";
  auto big = parseBytes(makeFile(many));
  ASSERT_TRUE(bool(big)) << errorMessage(big.takeError());
  EXPECT_EQ((*big)->entries().size(), 20000u);
  EXPECT_TRUE((*big)->find("t19999"));

  // Not JSON inside a member, or between members: json::parse's message.
  EXPECT_ERROR_HAS(parseError("{\"a\": {\"dtype\": F32}}"),
                   "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\": 1 2}"), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\": 1,}"), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\": [1} }"), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\": 1} x"), "header is not valid JSON");
  EXPECT_ERROR_HAS(parseError("{\"a\": 7}"),
                   "tensor 'a' is described by 7 instead of a JSON object");
}

TEST(SafeTensorsTest, DuplicateKeys) {
  std::string a = entry("a", "F32", "[1]", "[0,4]");
  std::string data = floatBytes({1});
  EXPECT_ERROR_HAS(parseError("{" + a + "," + a + "}", data),
                   "tensor 'a' appears twice in the header");
  // The same name spelled with an escape.
  EXPECT_ERROR_HAS(
      parseError("{" + a + "," + entry("\\u0061", "F32", "[1]", "[0,4]") + "}",
                 data),
      "tensor 'a' appears twice in the header");
  EXPECT_ERROR_HAS(
      parseError("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],"
                 "\"data_offsets\":[0,4]}}",
                 data),
      "key 'dtype' appears twice in the header entry of tensor 'a'");
  EXPECT_ERROR_HAS(parseError("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}"),
                   "key 'k' appears twice in '__metadata__'");
  EXPECT_ERROR_HAS(parseError("{\"a\":{\"shape\":[{\"x\":1,\"x\":2}]}}"),
                   "key 'x' appears twice in an object of the header");
  EXPECT_ERROR_HAS(parseError("{\"__metadata__\":{},\"__metadata__\":{}}"),
                   "header has two '__metadata__' entries");
}

TEST(SafeTensorsTest, MetadataErrors) {
  EXPECT_ERROR_HAS(parseError("{\"__metadata__\":3}"),
                   "'__metadata__' is not a JSON object of strings but 3");
  EXPECT_ERROR_HAS(parseError("{\"__metadata__\":{\"k\":1}}"),
                   "'__metadata__' value of key 'k' is not a string but 1");
}

TEST(SafeTensorsTest, EntryErrors) {
  std::string data = floatBytes({1});
  EXPECT_ERROR_HAS(parseError("{\"a\":[1]}", data),
                   "tensor 'a' is described by [1] instead of a JSON object");
  EXPECT_ERROR_HAS(parseError("{\"\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4]}}",
                              data),
                   "header has a tensor with an empty name");
  EXPECT_ERROR_HAS(parseError("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
                              "\"data_offsets\":[0,4],\"extra\":1}}",
                              data),
                   "tensor 'a' has unknown key 'extra'");
  EXPECT_ERROR_HAS(
      parseError("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data),
      "tensor 'a' has no 'dtype'");
  EXPECT_ERROR_HAS(
      parseError("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data),
      "tensor 'a' has no 'shape'");
  EXPECT_ERROR_HAS(
      parseError("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", data),
      "tensor 'a' has no 'data_offsets'");
}

TEST(SafeTensorsTest, DTypeErrors) {
  std::string data = floatBytes({1});
  EXPECT_ERROR_HAS(
      parseError("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}",
                 data),
      "tensor 'a' has dtype 4, which is not a string");
  EXPECT_ERROR_HAS(
      parseError("{" + entry("a", "Q8", "[1]", "[0,4]") + "}", data),
      "tensor 'a' has unknown dtype 'Q8'");
  EXPECT_ERROR_HAS(
      parseError("{" + entry("a", "f32", "[1]", "[0,4]") + "}", data),
      "tensor 'a' has unknown dtype 'f32'");
}

TEST(SafeTensorsTest, ShapeErrors) {
  std::string data = floatBytes({1});
  auto shapeError = [&](StringRef shape) {
    return parseError("{" + entry("a", "F32", shape, "[0,4]") + "}", data);
  };
  EXPECT_ERROR_HAS(shapeError("3"), "tensor 'a' has shape 3, which is not an "
                                    "array");
  EXPECT_ERROR_HAS(shapeError("[-1]"), "tensor 'a' has shape [-1], whose "
                                       "dimension -1 is not a non-negative "
                                       "64-bit integer");
  EXPECT_ERROR_HAS(shapeError("[1.5]"), "dimension 1.5 is not a non-negative");
  EXPECT_ERROR_HAS(shapeError("[\"1\"]"), "dimension \"1\" is not");
  EXPECT_ERROR_HAS(shapeError("[1e30]"), "is not a non-negative 64-bit");
  EXPECT_ERROR_HAS(shapeError("[18446744073709551615]"),
                   "dimension 18446744073709551615 is not a non-negative");
  // Products that overflow.
  EXPECT_ERROR_HAS(shapeError("[4294967296,4294967296]"),
                   "tensor 'a' has shape [4294967296, 4294967296] whose size "
                   "in bytes overflows");
  EXPECT_ERROR_HAS(shapeError("[4611686018427387904]"),
                   "tensor 'a' has shape [4611686018427387904] whose size in "
                   "bytes overflows");
}

TEST(SafeTensorsTest, DataOffsetsErrors) {
  std::string data = floatBytes({1, 2});
  auto offsetsError = [&](StringRef shape, StringRef offsets) {
    return parseError("{" + entry("a", "F32", shape, offsets) + "}", data);
  };
  EXPECT_ERROR_HAS(offsetsError("[1]", "[0]"),
                   "tensor 'a' has data_offsets [0], which is not a pair "
                   "[begin, end] of non-negative integers");
  EXPECT_ERROR_HAS(offsetsError("[1]", "[0,4,8]"), "which is not a pair");
  EXPECT_ERROR_HAS(offsetsError("[1]", "[-4,0]"), "which is not a pair");
  EXPECT_ERROR_HAS(offsetsError("[1]", "{}"), "which is not a pair");
  EXPECT_ERROR_HAS(offsetsError("[1]", "[8,4]"),
                   "tensor 'a' has data_offsets [8, 4] whose begin is after "
                   "its end");
  EXPECT_ERROR_HAS(offsetsError("[3]", "[0,12]"),
                   "tensor 'a' has data_offsets [0, 12] that run past the end "
                   "of the data section (8 bytes)");
  EXPECT_ERROR_HAS(offsetsError("[3]", "[0,8]"),
                   "tensor 'a' of dtype F32 and shape [3] needs 12 bytes but "
                   "its data_offsets [0, 8] span 8");
  EXPECT_ERROR_HAS(
      parseError("{" + entry("h", "F16", "[3]", "[0,8]") + "}", data),
      "tensor 'h' of dtype F16 and shape [3] needs 6 bytes but its "
      "data_offsets [0, 8] span 8");
}

TEST(SafeTensorsTest, OverlapsAndHoles) {
  std::string data = floatBytes({1, 2, 3});
  EXPECT_ERROR_HAS(parseError("{" + entry("a", "F32", "[2]", "[0,8]") + "," +
                                  entry("b", "F32", "[2]", "[4,12]") + "}",
                              data),
                   "tensors 'a' [0, 8) and 'b' [4, 12) overlap in the data "
                   "section");
  EXPECT_ERROR_HAS(parseError("{" + entry("a", "F32", "[3]", "[0,12]") + "," +
                                  entry("b", "F32", "[3]", "[0,12]") + "}",
                              data),
                   "tensors 'a' [0, 12) and 'b' [0, 12) overlap");
  EXPECT_ERROR_HAS(parseError("{" + entry("a", "F32", "[1]", "[0,4]") + "," +
                                  entry("b", "F32", "[1]", "[8,12]") + "}",
                              data),
                   "bytes [4, 8) of the data section before tensor 'b' belong "
                   "to no tensor (the format allows no holes)");
  EXPECT_ERROR_HAS(
      parseError("{" + entry("a", "F32", "[2]", "[0,8]") + "}", data),
      "bytes [8, 12) at the end of the data section belong to no tensor");
  EXPECT_ERROR_HAS(parseError("{}", data),
                   "bytes [0, 12) at the end of the data section belong to no "
                   "tensor");
}

//===----------------------------------------------------------------------===//
// Writer errors and atomicity
//===----------------------------------------------------------------------===//

/// The error of writing \p views to a string.
std::string writeError(std::vector<TensorView> views,
                       std::map<std::string, std::string> metadata = {}) {
  std::string out;
  llvm::raw_string_ostream os(out);
  std::string message = errorMessage(writeSafeTensors(os, views, metadata));
  EXPECT_EQ(out, "") << "nothing is written on failure";
  return message;
}

TEST(SafeTensorsTest, WriterErrors) {
  std::vector<float> data = {1, 2};
  EXPECT_ERROR_HAS(writeError({{"", {2}, data.data()}}),
                   "cannot write a tensor without a name");
  EXPECT_ERROR_HAS(writeError({{"__metadata__", {2}, data.data()}}),
                   "cannot write a tensor named '__metadata__'");
  EXPECT_ERROR_HAS(
      writeError({{"a", {2}, data.data()}, {"a", {1}, data.data()}}),
      "cannot write tensor 'a' twice");
  EXPECT_ERROR_HAS(writeError({{"bad\xff", {2}, data.data()}}),
                   "its name is not valid UTF-8");
  EXPECT_ERROR_HAS(writeError({{"a", {2}, data.data()}}, {{"k", "\xff"}}),
                   "cannot write metadata 'k': it is not valid UTF-8");
  EXPECT_ERROR_HAS(writeError({{"a", {2, -1}, data.data()}}),
                   "cannot write tensor 'a' of shape [2, -1]: a dimension is "
                   "negative or the size overflows");
  EXPECT_ERROR_HAS(writeError({{"a", {4611686018427387904}, data.data()}}),
                   "a dimension is negative or the size overflows");
  EXPECT_ERROR_HAS(writeError({{"a", {2}, nullptr}}),
                   "cannot write tensor 'a': it has elements but no data");
}

TEST(SafeTensorsTest, FailedWritesLeaveNothingBehind) {
  TempDir dir;
  std::vector<float> data = {1, 2};
  std::string path = dir.file("w.safetensors");
  ASSERT_EQ(errorMessage(writeSafeTensorsFile(
                path, {TensorView{"a", {2}, data.data()}})),
            "");
  std::string before = readFile(path);

  // An invalid request fails before touching the file.
  EXPECT_ERROR_HAS(errorMessage(writeSafeTensorsFile(
                       path, {TensorView{"a", {2}, data.data()},
                              TensorView{"a", {2}, data.data()}})),
                   path.c_str(), "cannot write tensor 'a' twice");
  EXPECT_EQ(readFile(path), before);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"w.safetensors"});

  // An unwritable destination.
  std::string nowhere = dir.file("missing/w.safetensors");
  EXPECT_ERROR_HAS(errorMessage(writeSafeTensorsFile(
                       nowhere, {TensorView{"a", {2}, data.data()}})),
                   nowhere.c_str());
  EXPECT_EQ(dir.list(), std::vector<std::string>{"w.safetensors"});
}

} // namespace

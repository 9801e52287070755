//===- NpyTest.cpp - Tests of the .npy reader and writer ------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Npy.h"

#include "TestUtils.h"

#include "llvm/Support/Endian.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace dlm;
using namespace dlm::test;
using llvm::StringRef;

namespace {

/// An .npy file with format version \p major.0 whose header is \p header
/// (unpadded) and whose data is \p data.
std::string makeNpy(StringRef header, StringRef data, unsigned major = 1) {
  std::string bytes = "\x93NUMPY";
  bytes += char(major);
  bytes += char(0);
  char length[4];
  if (major == 1) {
    llvm::support::endian::write16le(length, header.size());
    bytes.append(length, 2);
  } else {
    llvm::support::endian::write32le(length, header.size());
    bytes.append(length, 4);
  }
  return bytes + header.str() + data.str();
}

/// Parses \p bytes as the file "bad.npy".
llvm::Expected<Tensor> parseBytes(StringRef bytes) {
  return parseNpy(llvm::MemoryBufferRef(bytes, "bad.npy"));
}

/// The error of parsing \p bytes, which names the file.
std::string parseError(StringRef bytes) {
  std::string message = errorMessage(parseBytes(bytes));
  EXPECT_NE(message.find("bad.npy"), std::string::npos) << message;
  return message;
}

/// The error of parsing a file with header \p header and \p dataBytes bytes of
/// data.
std::string headerError(StringRef header, size_t dataBytes = 24) {
  return parseError(makeNpy(header, std::string(dataBytes, '\0')));
}

/// A header with shape \p shape.
std::string headerWithShape(StringRef shape) {
  return ("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape +
          ", }\n")
      .str();
}

const std::vector<float> k2x3 = {-1, -0.5f, 0, 0.5f, 1, 1.5f};

//===----------------------------------------------------------------------===//
// Files written by numpy
//===----------------------------------------------------------------------===//

TEST(NpyTest, ReadsFilesWrittenByNumpy) {
  for (const char *name : {"f32_2x3.npy", "f32_2x3_v2.npy", "f32_2x3_v3.npy"}) {
    auto tensor = readNpy(inputPath(name));
    ASSERT_TRUE(bool(tensor))
        << name << ": " << llvm::toString(tensor.takeError());
    EXPECT_EQ(tensor->shape, (std::vector<int64_t>{2, 3})) << name;
    EXPECT_EQ(tensor->data, k2x3) << name;
  }

  auto scalar = readNpy(inputPath("f32_scalar.npy"));
  ASSERT_TRUE(bool(scalar)) << llvm::toString(scalar.takeError());
  EXPECT_EQ(scalar->shape, std::vector<int64_t>{});
  EXPECT_EQ(scalar->data, std::vector<float>{2.5f});

  auto image = readNpy(inputPath("f32_1x3x2x2.npy"));
  ASSERT_TRUE(bool(image)) << llvm::toString(image.takeError());
  EXPECT_EQ(image->shape, (std::vector<int64_t>{1, 3, 2, 2}));
  ASSERT_EQ(image->data.size(), 12u);
  for (size_t i = 0; i < 12; ++i)
    EXPECT_EQ(image->data[i], float(i));

  auto empty = readNpy(inputPath("f32_2x0.npy"));
  ASSERT_TRUE(bool(empty)) << llvm::toString(empty.takeError());
  EXPECT_EQ(empty->shape, (std::vector<int64_t>{2, 0}));
  EXPECT_TRUE(empty->data.empty());
}

TEST(NpyTest, WritesWhatNumpySaveWrites) {
  struct Case {
    const char *file;
    std::vector<int64_t> shape;
    std::vector<float> data;
  };
  std::vector<float> arange12(12);
  for (size_t i = 0; i < 12; ++i)
    arange12[i] = float(i);
  for (const Case &c :
       {Case{"f32_2x3.npy", {2, 3}, k2x3}, Case{"f32_scalar.npy", {}, {2.5f}},
        Case{"f32_1x3x2x2.npy", {1, 3, 2, 2}, arange12},
        Case{"f32_2x0.npy", {2, 0}, {}}}) {
    std::string bytes;
    llvm::raw_string_ostream os(bytes);
    ASSERT_EQ(errorMessage(writeNpy(os, c.shape, c.data)), "") << c.file;
    EXPECT_EQ(bytes, readFile(inputPath(c.file))) << c.file;
  }
}

TEST(NpyTest, RoundTripThroughAFile) {
  TempDir dir;
  std::vector<float> data(1 * 3 * 96 * 96);
  for (size_t i = 0; i < data.size(); ++i)
    data[i] = std::sin(float(i));
  data[0] = std::numeric_limits<float>::infinity();
  data[1] = -0.0f;
  data[2] = std::numeric_limits<float>::quiet_NaN();
  std::string path = dir.file("input.npy");
  ASSERT_EQ(errorMessage(writeNpyFile(path, {1, 3, 96, 96}, data)), "");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"input.npy"});
  auto tensor = readNpy(path);
  ASSERT_TRUE(bool(tensor)) << llvm::toString(tensor.takeError());
  EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 3, 96, 96}));
  ASSERT_EQ(tensor->data.size(), data.size());
  EXPECT_EQ(std::memcmp(tensor->data.data(), data.data(), data.size() * 4), 0);

  // The header is padded so that the data starts at a multiple of 64.
  std::string bytes = readFile(path);
  EXPECT_EQ((bytes.size() - data.size() * 4) % 64, 0u);

  Tensor small({2, 3}, k2x3);
  ASSERT_EQ(errorMessage(writeNpyFile(dir.file("small.npy"), small)), "");
  auto back = readNpy(dir.file("small.npy"));
  ASSERT_TRUE(bool(back));
  EXPECT_EQ(back->shape, small.shape);
  EXPECT_EQ(back->data, small.data);
}

//===----------------------------------------------------------------------===//
// Header syntax
//===----------------------------------------------------------------------===//

TEST(NpyTest, HeaderVariantsAreAccepted) {
  std::string data(12, '\0');
  for (const char *header : {
           "{'shape': (3,), 'fortran_order': False, 'descr': '<f4'}",
           "{\"descr\" : \"<f4\" ,\n\t'fortran_order':False,'shape':( 3 , ) , "
           "}   \n",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }",
           "  {'descr':'<f4','fortran_order':False,'shape':(3,),}",
       }) {
    auto tensor = parseBytes(makeNpy(header, data));
    ASSERT_TRUE(bool(tensor))
        << header << ": " << llvm::toString(tensor.takeError());
    EXPECT_EQ(tensor->shape, std::vector<int64_t>{3}) << header;
  }
  for (unsigned major : {2u, 3u}) {
    auto tensor = parseBytes(makeNpy(headerWithShape("(1, 3)"), data, major));
    ASSERT_TRUE(bool(tensor)) << llvm::toString(tensor.takeError());
    EXPECT_EQ(tensor->shape, (std::vector<int64_t>{1, 3}));
  }
  auto scalar = parseBytes(makeNpy(headerWithShape("()"), data.substr(8)));
  ASSERT_TRUE(bool(scalar)) << llvm::toString(scalar.takeError());
  EXPECT_EQ(scalar->shape, std::vector<int64_t>{});
  auto image = parseBytes(makeNpy(headerWithShape("(1, 3, 96, 96)"),
                                  std::string(3 * 96 * 96 * 4, '\0')));
  ASSERT_TRUE(bool(image)) << llvm::toString(image.takeError());
  EXPECT_EQ(image->shape, (std::vector<int64_t>{1, 3, 96, 96}));
}

TEST(NpyTest, PrefixErrors) {
  EXPECT_ERROR_HAS(parseError(""),
                   "not an .npy file: it starts with \"\" instead of "
                   "\"\\x93NUMPY\"");
  EXPECT_ERROR_HAS(parseError("PK\x03\x04 a zip file"),
                   "not an .npy file: it starts with \"PK\\03\\04 a\"");
  EXPECT_ERROR_HAS(parseError("\x93NUMPY\x01"),
                   "file ends inside the format version");
  EXPECT_ERROR_HAS(parseError(StringRef("\x93NUMPY\x04\x00", 8)),
                   "unsupported .npy format version 4.0 (supported: 1.0, 2.0, "
                   "3.0)");
  EXPECT_ERROR_HAS(parseError(StringRef("\x93NUMPY\x01\x01", 8)),
                   "unsupported .npy format version 1.1");
  EXPECT_ERROR_HAS(parseError(StringRef("\x93NUMPY\x01\x00\x10", 9)),
                   "file is 9 bytes long and ends inside the header length");
  EXPECT_ERROR_HAS(parseError(StringRef("\x93NUMPY\x02\x00\x10\x00\x00", 11)),
                   "file is 11 bytes long and ends inside the header length");
  EXPECT_ERROR_HAS(parseError(makeNpy(std::string(70000, ' '), "", 2)),
                   "header length 70000 exceeds the limit of 65536 bytes");
  std::string cut = makeNpy(headerWithShape("(2, 3)"), "");
  EXPECT_ERROR_HAS(parseError(StringRef(cut).drop_back(5)),
                   "header length 60 runs past the end of the file (55 bytes "
                   "after the header length)");
}

TEST(NpyTest, MalformedHeaders) {
  EXPECT_ERROR_HAS(headerError("{'descr' '<f4'}"), "malformed header",
                   "expected ':' after key 'descr', found \"'\" at byte 9");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4}"), "unterminated string");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4'"),
                   "expected ',' or '}', found the end");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4'} x"),
                   "unexpected text after the dictionary");
  EXPECT_ERROR_HAS(headerError("{'descr': float32}"), "expected a value");
  EXPECT_ERROR_HAS(headerError("{'descr': Truest}"), "expected a value");
  EXPECT_ERROR_HAS(headerError("{3: 4}"), "expected a string key or '}'");
  EXPECT_ERROR_HAS(headerError("{'shape': (1 2)}"), "expected ',' or ')'");
  EXPECT_ERROR_HAS(headerError("{'shape': (-)}"), "expected a digit");
  EXPECT_ERROR_HAS(headerError("{'shape': " + std::string(1000, '(') + "}"),
                   "nesting deeper than 16 levels");
  EXPECT_ERROR_HAS(headerError("[1, 2]"), "header \"[1, 2]\" is not a "
                                          "dictionary");
  EXPECT_ERROR_HAS(headerError(""), "expected a value, found the end");
}

TEST(NpyTest, HeaderKeyErrors) {
  EXPECT_ERROR_HAS(
      headerError("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), "
                  "'extra': 1}"),
      "header has unknown key 'extra' (expected 'descr', 'fortran_order' and "
      "'shape')");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4', 'descr': '<f4', "
                               "'fortran_order': False, 'shape': (6,)}"),
                   "key 'descr' appears twice in the header");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4', 'fortran_order': False}"),
                   "header has no 'shape' key");
  EXPECT_ERROR_HAS(headerError("{'shape': (6,), 'fortran_order': False}"),
                   "header has no 'descr' key");
  EXPECT_ERROR_HAS(headerError("{'descr': '<f4', 'shape': (6,)}"),
                   "header has no 'fortran_order' key");
}

//===----------------------------------------------------------------------===//
// What the header says
//===----------------------------------------------------------------------===//

TEST(NpyTest, DTypeErrors) {
  EXPECT_ERROR_HAS(errorMessage(readNpy(inputPath("f64.npy"))), "f64.npy",
                   "expected dtype '<f4' (float32), found '<f8' (little-endian "
                   "float64)");
  EXPECT_ERROR_HAS(errorMessage(readNpy(inputPath("i32.npy"))), "i32.npy",
                   "expected dtype '<f4' (float32), found '<i4' (little-endian "
                   "int32)");
  EXPECT_ERROR_HAS(errorMessage(readNpy(inputPath("f32_big_endian.npy"))),
                   "f32_big_endian.npy",
                   "expected dtype '<f4' (float32), found '>f4' (big-endian "
                   "float32)");
  auto descrError = [](StringRef descr) {
    return headerError(
        ("{'descr': " + descr + ", 'fortran_order': False, 'shape': (6,), }")
            .str());
  };
  EXPECT_ERROR_HAS(descrError("'|f4'"),
                   "expected dtype '<f4' (float32), found '|f4' (float32 "
                   "without byte order)");
  EXPECT_ERROR_HAS(descrError("'|u1'"), "found '|u1' (uint8)");
  EXPECT_ERROR_HAS(descrError("'=f4'"),
                   "found '=f4' (float32 in native byte order)");
  EXPECT_ERROR_HAS(descrError("'f4'"), "found 'f4' (float32 in native byte "
                                       "order)");
  EXPECT_ERROR_HAS(descrError("'|b1'"), "found '|b1' (bool)");
  EXPECT_ERROR_HAS(descrError("'<U8'"), "found '<U8'");
  EXPECT_ERROR_HAS(descrError("[('x', '<f4')]"),
                   "expected dtype '<f4' (float32), found [('x', '<f4')] (a "
                   "structured dtype)");
  EXPECT_ERROR_HAS(descrError("None"),
                   "expected dtype '<f4' (float32), found None");
}

TEST(NpyTest, FortranOrderErrors) {
  EXPECT_ERROR_HAS(errorMessage(readNpy(inputPath("f32_fortran.npy"))),
                   "f32_fortran.npy",
                   "the array is in Fortran (column-major) order; only C "
                   "order is supported");
  EXPECT_ERROR_HAS(
      headerError("{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}"),
      "'fortran_order' is 0, not True or False");
}

TEST(NpyTest, ShapeErrors) {
  EXPECT_ERROR_HAS(headerError(headerWithShape("[2, 3]")),
                   "shape [2, 3] is not a tuple");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(6)")),
                   "shape (6) is not a tuple");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(2, -3)")),
                   "shape (2, -3) has dimension -3, which is not a "
                   "non-negative 64-bit integer");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(99999999999999999999,)")),
                   "has dimension 99999999999999999999, which is not");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(9223372036854775808,)")),
                   "has dimension 9223372036854775808, which is not");
  EXPECT_ERROR_HAS(headerError(headerWithShape("('2',)")),
                   "has dimension '2', which is not");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(4611686018427387904,)")),
                   "shape (4611686018427387904,) has a size in bytes that "
                   "overflows");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(4294967296, 4294967296)")),
                   "has a size in bytes that overflows");
  std::string rank65 = "(";
  for (int i = 0; i < 65; ++i)
    rank65 += "1, ";
  rank65 += ")";
  EXPECT_ERROR_HAS(headerError(headerWithShape(rank65)),
                   "shape has 65 dimensions, more than 64");
}

TEST(NpyTest, DataSizeErrors) {
  EXPECT_ERROR_HAS(headerError(headerWithShape("(2, 3)"), 20),
                   "data is truncated: shape (2, 3) needs 24 bytes but the "
                   "file has 20 after the header");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(2, 3)"), 28),
                   "file has 28 bytes after the header but shape (2, 3) needs "
                   "only 24");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(3,)"), 0),
                   "shape (3,) needs 12 bytes but the file has 0");
  EXPECT_ERROR_HAS(headerError(headerWithShape("()"), 2),
                   "shape () needs 4 bytes but the file has 2");
  EXPECT_ERROR_HAS(headerError(headerWithShape("(0,)"), 4),
                   "file has 4 bytes after the header but shape (0,) needs "
                   "only 0");
}

TEST(NpyTest, IntegerArrays) {
  // readNpyInt: int64, int32 and uint8, widened to int64, little-endian.
  auto parseInts = [](StringRef descr, StringRef shape, StringRef data) {
    std::string header =
        ("{'descr': '" + descr +
         "', 'fortran_order': False, 'shape': " + shape + ", }\n")
            .str();
    return parseNpyInt(
        llvm::MemoryBufferRef(makeNpy(header, data), "labels.npy"));
  };
  auto i8 = parseInts("<i8", "(2,)",
                      StringRef("\x09\0\0\0\0\0\0\0\xFF\xFF\xFF\xFF\xFF\xFF"
                                "\xFF\xFF",
                                16));
  ASSERT_TRUE(bool(i8)) << llvm::toString(i8.takeError());
  EXPECT_EQ(i8->shape, (std::vector<int64_t>{2}));
  EXPECT_EQ(i8->data, (std::vector<int64_t>{9, -1}));
  auto i4 =
      parseInts("<i4", "(1, 2)", StringRef("\x03\0\0\0\xFE\xFF\xFF\xFF", 8));
  ASSERT_TRUE(bool(i4)) << llvm::toString(i4.takeError());
  EXPECT_EQ(i4->data, (std::vector<int64_t>{3, -2}));
  auto u1 = parseInts("|u1", "(3,)", StringRef("\x00\x07\xFF", 3));
  ASSERT_TRUE(bool(u1)) << llvm::toString(u1.takeError());
  EXPECT_EQ(u1->data, (std::vector<int64_t>{0, 7, 255}));
  // Sizes are checked by the element size; other dtypes say what is accepted.
  EXPECT_ERROR_HAS(
      errorMessage(parseInts("<i4", "(3,)", StringRef("\0\0\0\0", 4))),
      "labels.npy", "shape (3,) needs 12 bytes");
  EXPECT_ERROR_HAS(
      errorMessage(parseInts("<f4", "(1,)", StringRef("\0\0\0\0", 4))),
      "labels.npy",
      "expected dtype '<i8' (int64), '<i4' (int32) or '|u1' "
      "(uint8), found '<f4' (little-endian float32)");
  EXPECT_ERROR_HAS(errorMessage(parseInts(">i8", "(1,)", std::string(8, '\0'))),
                   "big-endian int64");
  // The float reader's float64 message hints at the fix.
  EXPECT_ERROR_HAS(
      errorMessage(parseNpy(llvm::MemoryBufferRef(
          makeNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n",
                  std::string(8, '\0')),
          "x.npy"))),
      "x.astype(np.float32)");
}

TEST(NpyTest, MissingFile) {
  EXPECT_ERROR_HAS(errorMessage(readNpy("/nonexistent/in.npy")),
                   "/nonexistent/in.npy", "o such file or directory");
}

//===----------------------------------------------------------------------===//
// Writer errors and atomicity
//===----------------------------------------------------------------------===//

/// The error of writing an array to a string.
std::string writeError(std::vector<int64_t> shape, std::vector<float> data) {
  std::string out;
  llvm::raw_string_ostream os(out);
  std::string message = errorMessage(writeNpy(os, shape, data));
  EXPECT_EQ(out, "") << "nothing is written on failure";
  return message;
}

TEST(NpyTest, WriterErrors) {
  EXPECT_ERROR_HAS(writeError({2, 3}, {1, 2, 3, 4, 5}),
                   "cannot write an array of shape [2, 3] from 5 values (6 "
                   "needed)");
  EXPECT_ERROR_HAS(writeError({2, -3}, {}),
                   "cannot write an array of shape [2, -3]: a dimension is "
                   "negative or the size overflows");
  EXPECT_ERROR_HAS(writeError({4611686018427387904}, {}),
                   "a dimension is negative or the size overflows");
  EXPECT_ERROR_HAS(writeError(std::vector<int64_t>(65, 1), {1}),
                   "cannot write an array of rank 65, more than 64");
}

TEST(NpyTest, FailedWritesLeaveNothingBehind) {
  TempDir dir;
  std::string path = dir.file("out.npy");
  ASSERT_EQ(errorMessage(writeNpyFile(path, {2}, {1, 2})), "");
  std::string before = readFile(path);
  EXPECT_ERROR_HAS(errorMessage(writeNpyFile(path, {3}, {1, 2})), path.c_str(),
                   "from 2 values (3 needed)");
  EXPECT_EQ(readFile(path), before);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.npy"});

  std::string nowhere = dir.file("missing/out.npy");
  EXPECT_ERROR_HAS(errorMessage(writeNpyFile(nowhere, {2}, {1, 2})),
                   nowhere.c_str());
  EXPECT_EQ(dir.list(), std::vector<std::string>{"out.npy"});
}

} // namespace

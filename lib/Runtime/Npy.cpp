//===- Npy.cpp - Reading and writing NumPy .npy files ---------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// numpy reads the header with ast.literal_eval; here a small recursive-descent
// parser accepts the same literals numpy writes (strings, True/False/None,
// integers, tuples, lists, dicts) with a bound on nesting, and the meaning of
// the three keys is checked afterwards.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Npy.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SwapByteOrder.h"

#include <cstring>

using namespace llvm;

namespace dlm {

static constexpr StringLiteral kMagic("\x93NUMPY");

/// Makes an error whose message is \p message; the caller adds the path.
static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Quotes \p text for a message, escaping unprintable bytes and shortening it
/// if long.
static std::string quote(StringRef text, size_t maxLength = 80) {
  std::string result;
  raw_string_ostream os(result);
  os << '"';
  printEscapedString(text.take_front(maxLength), os);
  if (text.size() > maxLength)
    os << "...";
  os << '"';
  return result;
}

//===----------------------------------------------------------------------===//
// The header's Python literals
//===----------------------------------------------------------------------===//

namespace {
/// A value of the Python literal language of .npy headers.
struct PyValue {
  enum class Kind { String, Bool, None, Int, Tuple, List, Dict };
  Kind kind = Kind::None;
  /// The literal as written in the header, for messages.
  StringRef source;
  /// String: the decoded contents.
  std::string string;
  /// Bool: the value.
  bool boolean = false;
  /// Int: the value; std::nullopt if it does not fit in int64_t.
  std::optional<int64_t> integer;
  /// Tuple, List: the elements. Dict: the values.
  std::vector<PyValue> items;
  /// Dict: the keys, which are strings, parallel to items.
  std::vector<std::string> keys;
};

/// A recursive-descent parser of one Python literal.
class LiteralParser {
public:
  explicit LiteralParser(StringRef text) : text(text) {}

  /// Parses the whole text as one literal surrounded by whitespace.
  Expected<PyValue> parse() {
    PyValue value;
    if (!parseValue(value, 0))
      return makeError(message);
    skipSpace();
    if (pos != text.size()) {
      fail("unexpected text after the dictionary");
      return makeError(message);
    }
    return std::move(value);
  }

private:
  /// How deep literals may nest; a valid header nests two levels.
  static constexpr unsigned kMaxDepth = 16;

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void skipSpace() {
    while (!atEnd() && StringRef(" \t\r\n\f\v").contains(text[pos]))
      ++pos;
  }

  /// Records an error at the current position; returns false.
  bool fail(const Twine &what) {
    message = formatv("malformed header {0}: {1} at byte {2}", quote(text),
                      what.str(), pos)
                  .str();
    return false;
  }

  /// Records "expected X, found Y"; returns false.
  bool expected(StringRef what) {
    if (atEnd())
      return fail(Twine("expected ") + what + ", found the end");
    return fail(Twine("expected ") + what + ", found " +
                quote(text.substr(pos, 1)));
  }

  /// value ::= string | integer | 'True' | 'False' | 'None'
  ///         | '(' items ')' | '[' items ']' | '{' entries '}'
  bool parseValue(PyValue &value, unsigned depth) {
    skipSpace();
    size_t start = pos;
    bool ok = parseValueImpl(value, depth);
    value.source = text.slice(start, pos);
    return ok;
  }

  bool parseValueImpl(PyValue &value, unsigned depth) {
    char c = peek();
    if (c == '\'' || c == '"')
      return parseString(value);
    if (isDigit(c) || c == '-' || c == '+')
      return parseInteger(value);
    if (c == '(' || c == '[' || c == '{') {
      if (depth >= kMaxDepth)
        return fail(formatv("nesting deeper than {0} levels", kMaxDepth));
      if (c == '{')
        return parseDict(value, depth);
      return parseSequence(value, depth);
    }
    for (auto [word, kind, boolean] :
         {std::make_tuple(StringLiteral("True"), PyValue::Kind::Bool, true),
          std::make_tuple(StringLiteral("False"), PyValue::Kind::Bool, false),
          std::make_tuple(StringLiteral("None"), PyValue::Kind::None, false)}) {
      if (text.substr(pos).starts_with(word) &&
          !isAlnum(peekAt(pos + word.size())) &&
          peekAt(pos + word.size()) != '_') {
        pos += word.size();
        value.kind = kind;
        value.boolean = boolean;
        return true;
      }
    }
    return expected("a value");
  }

  char peekAt(size_t i) const { return i < text.size() ? text[i] : '\0'; }

  /// string ::= "'" chars "'" | '"' chars '"'   (backslash escapes a char)
  bool parseString(PyValue &value) {
    char delimiter = text[pos++];
    value.kind = PyValue::Kind::String;
    while (true) {
      if (atEnd() || peek() == '\n')
        return fail("unterminated string");
      char c = text[pos++];
      if (c == delimiter)
        return true;
      if (c == '\\') {
        if (atEnd())
          return fail("unterminated string");
        c = text[pos++];
      }
      value.string += c;
    }
  }

  /// integer ::= ['-' | '+'] digit+ ['L' | 'l']   (the suffix from Python 2)
  bool parseInteger(PyValue &value) {
    value.kind = PyValue::Kind::Int;
    bool negative = false;
    if (peek() == '-' || peek() == '+')
      negative = text[pos++] == '-';
    if (!isDigit(peek()))
      return expected("a digit");
    uint64_t magnitude = 0;
    bool overflow = false;
    while (isDigit(peek())) {
      unsigned digit = text[pos++] - '0';
      if (magnitude > (UINT64_MAX - digit) / 10)
        overflow = true;
      else
        magnitude = magnitude * 10 + digit;
    }
    if (peek() == 'L' || peek() == 'l')
      ++pos;
    if (overflow || magnitude > uint64_t(INT64_MAX))
      value.integer = std::nullopt;
    else
      value.integer = negative ? -int64_t(magnitude) : int64_t(magnitude);
    return true;
  }

  /// items ::= [value (',' value)* [',']]
  /// `(x)` is a parenthesized value, not a tuple, as in Python.
  bool parseSequence(PyValue &value, unsigned depth) {
    char open = text[pos++];
    char close = open == '(' ? ')' : ']';
    bool sawComma = false;
    while (true) {
      skipSpace();
      if (peek() == close)
        break;
      PyValue item;
      if (!parseValue(item, depth + 1))
        return false;
      value.items.push_back(std::move(item));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        sawComma = true;
        continue;
      }
      if (peek() != close)
        return expected(close == ')' ? "',' or ')'" : "',' or ']'");
    }
    ++pos;
    if (open == '[') {
      value.kind = PyValue::Kind::List;
      return true;
    }
    if (value.items.size() == 1 && !sawComma) {
      PyValue inner = std::move(value.items.front());
      value = std::move(inner);
      return true;
    }
    value.kind = PyValue::Kind::Tuple;
    return true;
  }

  /// entries ::= [string ':' value (',' string ':' value)* [',']]
  bool parseDict(PyValue &value, unsigned depth) {
    ++pos;
    value.kind = PyValue::Kind::Dict;
    while (true) {
      skipSpace();
      if (peek() == '}')
        break;
      if (peek() != '\'' && peek() != '"')
        return expected("a string key or '}'");
      PyValue key;
      if (!parseString(key))
        return false;
      skipSpace();
      if (peek() != ':')
        return expected("':' after key '" + key.string + "'");
      ++pos;
      PyValue item;
      if (!parseValue(item, depth + 1))
        return false;
      value.keys.push_back(std::move(key.string));
      value.items.push_back(std::move(item));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() != '}')
        return expected("',' or '}'");
    }
    ++pos;
    return true;
  }

  StringRef text;
  size_t pos = 0;
  std::string message;
};
} // namespace

/// Describes a dtype string such as '<f8' for a message.
static std::string describeDescr(StringRef descr) {
  if (descr.size() < 2)
    return "";
  char order = descr[0];
  StringRef rest = descr.drop_front();
  if (!StringRef("<>|=").contains(order)) {
    order = '=';
    rest = descr;
  }
  if (rest.empty())
    return "";
  unsigned bytes;
  if (rest.drop_front().getAsInteger(10, bytes) || bytes == 0 || bytes > 64)
    return "";
  std::string kind;
  switch (rest[0]) {
  case 'f':
    kind = "float";
    break;
  case 'i':
    kind = "int";
    break;
  case 'u':
    kind = "uint";
    break;
  case 'c':
    kind = "complex";
    break;
  case 'b':
    return bytes == 1 ? "bool" : "";
  default:
    return "";
  }
  kind += std::to_string(bytes * 8);
  if (bytes == 1)
    return kind;
  if (order == '<')
    return "little-endian " + kind;
  if (order == '>')
    return "big-endian " + kind;
  if (order == '|')
    return kind + " without byte order";
  return kind + " in native byte order";
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

/// Parses and checks the header dictionary \p header; returns the shape.
static Expected<std::vector<int64_t>> parseHeader(StringRef header) {
  Expected<PyValue> parsed = LiteralParser(header).parse();
  if (!parsed)
    return parsed.takeError();
  if (parsed->kind != PyValue::Kind::Dict)
    return makeError("header " + quote(header) + " is not a dictionary");

  const PyValue *descr = nullptr, *fortranOrder = nullptr, *shape = nullptr;
  for (auto [key, value] : llvm::zip_equal(parsed->keys, parsed->items)) {
    const PyValue **slot = key == "descr"           ? &descr
                           : key == "fortran_order" ? &fortranOrder
                           : key == "shape"         ? &shape
                                                    : nullptr;
    if (!slot)
      return makeError("header has unknown key '" + key +
                       "' (expected 'descr', 'fortran_order' and 'shape')");
    if (*slot)
      return makeError("key '" + key + "' appears twice in the header");
    *slot = &value;
  }
  for (auto [name, slot] : {std::make_pair("descr", descr),
                            std::make_pair("fortran_order", fortranOrder),
                            std::make_pair("shape", shape)})
    if (!slot)
      return makeError(Twine("header has no '") + name + "' key");

  if (descr->kind != PyValue::Kind::String)
    return makeError(
        "expected dtype '<f4' (float32), found " + descr->source.str() +
        (descr->kind == PyValue::Kind::List ? " (a structured dtype)" : ""));
  if (descr->string != "<f4") {
    std::string description = describeDescr(descr->string);
    return makeError("expected dtype '<f4' (float32), found '" + descr->string +
                     "'" +
                     (description.empty() ? "" : " (" + description + ")") +
                     "; save x.astype(np.float32) instead");
  }

  if (fortranOrder->kind != PyValue::Kind::Bool)
    return makeError("'fortran_order' is " + fortranOrder->source.str() +
                     ", not True or False");
  if (fortranOrder->boolean)
    return makeError("the array is in Fortran (column-major) order; only C "
                     "order is supported (save "
                     "numpy.ascontiguousarray(a) instead)");

  if (shape->kind != PyValue::Kind::Tuple)
    return makeError("shape " + shape->source.str() + " is not a tuple");
  if (shape->items.size() > kMaxNpyRank)
    return makeError(formatv("shape has {0} dimensions, more than {1}",
                             shape->items.size(), kMaxNpyRank));
  std::vector<int64_t> dims;
  for (const PyValue &dim : shape->items) {
    if (dim.kind != PyValue::Kind::Int || !dim.integer || *dim.integer < 0)
      return makeError("shape " + shape->source.str() + " has dimension " +
                       dim.source.str() +
                       ", which is not a non-negative 64-bit integer");
    dims.push_back(*dim.integer);
  }
  return dims;
}

/// Formats a shape the way Python prints a tuple, for messages.
static std::string formatTuple(ArrayRef<int64_t> shape) {
  std::string result = "(";
  raw_string_ostream os(result);
  llvm::interleaveComma(shape, os);
  os << (shape.size() == 1 ? ",)" : ")");
  return result;
}

/// Reads the contents of an .npy file; errors do not name the file.
static Expected<Tensor> parseContents(StringRef contents) {
  if (!contents.starts_with(kMagic))
    return makeError("not an .npy file: it starts with " +
                     quote(contents.take_front(kMagic.size())) +
                     " instead of \"\\x93NUMPY\"");
  if (contents.size() < kMagic.size() + 2)
    return makeError("file ends inside the format version");
  unsigned major = static_cast<unsigned char>(contents[6]);
  unsigned minor = static_cast<unsigned char>(contents[7]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    return makeError(formatv("unsupported .npy format version {0}.{1} "
                             "(supported: 1.0, 2.0, 3.0)",
                             major, minor));
  size_t lengthSize = major == 1 ? 2 : 4;
  size_t prefixSize = 8 + lengthSize;
  if (contents.size() < prefixSize)
    return makeError(formatv("file is {0} bytes long and ends inside the "
                             "header length",
                             contents.size()));
  uint64_t headerSize = major == 1
                            ? support::endian::read16le(contents.data() + 8)
                            : support::endian::read32le(contents.data() + 8);
  if (headerSize > kMaxNpyHeaderSize)
    return makeError(formatv("header length {0} exceeds the limit of {1} bytes",
                             headerSize, kMaxNpyHeaderSize));
  if (headerSize > contents.size() - prefixSize)
    return makeError(formatv("header length {0} runs past the end of the file "
                             "({1} bytes after the header length)",
                             headerSize, contents.size() - prefixSize));
  StringRef header = contents.substr(prefixSize, headerSize);
  StringRef data = contents.substr(prefixSize + headerSize);

  Expected<std::vector<int64_t>> shape = parseHeader(header);
  if (!shape)
    return shape.takeError();

  std::optional<int64_t> numElements = checkedNumElements(*shape);
  std::optional<int64_t> numBytes;
  if (numElements)
    numBytes = checkedMul<int64_t>(*numElements, sizeof(float));
  if (!numBytes)
    return makeError("shape " + formatTuple(*shape) +
                     " has a size in bytes that overflows");
  if (static_cast<uint64_t>(*numBytes) > data.size())
    return makeError("data is truncated: shape " + formatTuple(*shape) +
                     " needs " + Twine(*numBytes) + " bytes but the file has " +
                     Twine(data.size()) + " after the header");
  if (static_cast<uint64_t>(*numBytes) < data.size())
    return makeError("file has " + Twine(data.size()) +
                     " bytes after the header but shape " +
                     formatTuple(*shape) + " needs only " + Twine(*numBytes));

  Tensor tensor;
  tensor.shape = std::move(*shape);
  tensor.data.resize(static_cast<size_t>(*numElements));
  if (!sys::IsBigEndianHost) {
    if (*numBytes > 0)
      std::memcpy(tensor.data.data(), data.data(), *numBytes);
  } else {
    for (size_t i = 0, e = tensor.data.size(); i < e; ++i) {
      uint32_t bits = support::endian::read32le(data.data() + 4 * i);
      std::memcpy(&tensor.data[i], &bits, sizeof(float));
    }
  }
  return std::move(tensor);
}

Expected<Tensor> parseNpy(MemoryBufferRef buffer) {
  Expected<Tensor> tensor = parseContents(buffer.getBuffer());
  if (!tensor)
    return createFileError(buffer.getBufferIdentifier(), tensor.takeError());
  return tensor;
}

Expected<Tensor> readNpy(StringRef path) {
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  return parseNpy((*buffer)->getMemBufferRef());
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

/// Checks a request to write an array and returns its complete header: magic,
/// version, length and the padded dictionary.
static Expected<std::string> makeHeader(ArrayRef<int64_t> shape,
                                        ArrayRef<float> data) {
  if (shape.size() > kMaxNpyRank)
    return makeError(formatv("cannot write an array of rank {0}, more than {1}",
                             shape.size(), kMaxNpyRank));
  std::optional<int64_t> numElements = checkedNumElements(shape);
  if (!numElements || !checkedMul<int64_t>(*numElements, sizeof(float)))
    return makeError("cannot write an array of shape " + formatShape(shape) +
                     ": a dimension is negative or the size overflows");
  if (static_cast<uint64_t>(*numElements) != data.size())
    return makeError("cannot write an array of shape " + formatShape(shape) +
                     " from " + Twine(data.size()) + " values (" +
                     Twine(*numElements) + " needed)");

  // As numpy.lib.format._write_array_header: sorted keys, then spaces so that
  // the header can be rewritten in place when the first axis grows.
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " +
                     formatTuple(shape) + ", }";
  if (!shape.empty())
    dict.append(21 - std::to_string(shape.front()).size(), ' ');

  // As _wrap_header: pad with spaces and a newline to a multiple of 64 bytes.
  // With at most kMaxNpyRank dimensions the header stays far below the 64 KiB
  // that version 1.0 can describe, so version 2.0 is never needed.
  constexpr size_t kAlign = 64;
  size_t withNewline = dict.size() + 1;
  size_t padding = kAlign - (8 + 2 + withNewline) % kAlign;
  assert(withNewline + padding <= UINT16_MAX && "header too long for 1.0");
  std::string header(kMagic);
  header += char(1);
  header += char(0);
  char length[2];
  support::endian::write16le(length, withNewline + padding);
  header.append(length, sizeof(length));
  header += dict;
  header.append(padding, ' ');
  header += '\n';
  return header;
}

/// Writes a checked header and the data.
static void write(raw_ostream &os, StringRef header, ArrayRef<float> data) {
  os << header;
  if (!sys::IsBigEndianHost) {
    if (!data.empty())
      os.write(reinterpret_cast<const char *>(data.data()),
               data.size() * sizeof(float));
    return;
  }
  for (float value : data) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof(float));
    char bytes[4];
    support::endian::write32le(bytes, bits);
    os.write(bytes, sizeof(bytes));
  }
}

Error writeNpy(raw_ostream &os, ArrayRef<int64_t> shape, ArrayRef<float> data) {
  Expected<std::string> header = makeHeader(shape, data);
  if (!header)
    return header.takeError();
  write(os, *header, data);
  return Error::success();
}

Error writeNpyFile(StringRef path, ArrayRef<int64_t> shape,
                   ArrayRef<float> data) {
  Expected<std::string> header = makeHeader(shape, data);
  if (!header)
    return createFileError(path, header.takeError());
  return writeFileAtomically(path, [&](raw_ostream &os) {
    write(os, *header, data);
    return Error::success();
  });
}

} // namespace dlm

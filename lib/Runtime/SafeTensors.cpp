//===- SafeTensors.cpp - Reading and writing .safetensors files -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The reader trusts nothing in the file: every length and offset is checked
// against the file before it is used, and every size computation is checked
// for overflow. The JSON header goes through two scans of our own around
// llvm::json::parse: one before it, bounding the nesting depth (the parser
// recurses once per level and would overflow the stack on a header of a
// million '['), and one after it, finding duplicate keys (the parser keeps the
// last of them silently).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/SafeTensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/SwapByteOrder.h"

#include <cstring>

using namespace llvm;

namespace dlm {

//===----------------------------------------------------------------------===//
// Dtypes
//===----------------------------------------------------------------------===//

namespace {
struct DTypeInfo {
  SafeTensorsDType dtype;
  StringLiteral name;
  unsigned size;
};
} // namespace

static constexpr DTypeInfo kDTypes[] = {
    {SafeTensorsDType::Bool, "BOOL", 1},
    {SafeTensorsDType::U8, "U8", 1},
    {SafeTensorsDType::I8, "I8", 1},
    {SafeTensorsDType::F8_E5M2, "F8_E5M2", 1},
    {SafeTensorsDType::F8_E4M3, "F8_E4M3", 1},
    {SafeTensorsDType::I16, "I16", 2},
    {SafeTensorsDType::U16, "U16", 2},
    {SafeTensorsDType::F16, "F16", 2},
    {SafeTensorsDType::BF16, "BF16", 2},
    {SafeTensorsDType::I32, "I32", 4},
    {SafeTensorsDType::U32, "U32", 4},
    {SafeTensorsDType::F32, "F32", 4},
    {SafeTensorsDType::F64, "F64", 8},
    {SafeTensorsDType::I64, "I64", 8},
    {SafeTensorsDType::U64, "U64", 8},
};

static const DTypeInfo &getInfo(SafeTensorsDType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return info;
  llvm_unreachable("every dtype is in the table");
}

StringRef getSafeTensorsDTypeName(SafeTensorsDType dtype) {
  return getInfo(dtype).name;
}

unsigned getSafeTensorsDTypeSize(SafeTensorsDType dtype) {
  return getInfo(dtype).size;
}

std::optional<SafeTensorsDType> parseSafeTensorsDType(StringRef name) {
  for (const DTypeInfo &info : kDTypes)
    if (info.name == name)
      return info.dtype;
  return std::nullopt;
}

int64_t SafeTensorsEntry::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

//===----------------------------------------------------------------------===//
// Scanning the JSON text
//===----------------------------------------------------------------------===//

/// How deep a header may nest. A valid header nests three levels (the
/// object, an entry, its shape); the bound only has to keep the recursive
/// JSON parser far from the end of the stack.
static constexpr unsigned kMaxHeaderDepth = 64;

namespace {
/// What scanJSON() found.
struct JSONScan {
  /// The nesting depth went past the bound given to scanJSON().
  bool tooDeep = false;
  /// The first key found twice in one object, with the key that names that
  /// object in its parent (empty for the top-level object) and the depth of
  /// the object (1 for the top level).
  std::optional<std::string> duplicateKey;
  std::string duplicateOwner;
  unsigned duplicateDepth = 0;
};
} // namespace

/// Scans the JSON text \p text for nesting deeper than \p maxDepth and for
/// keys repeated within one object, without recursion. It never reads out of
/// \p text whatever it holds; its findings are only meaningful if \p text is
/// valid JSON, and it stops at the first finding.
static JSONScan scanJSON(StringRef text, unsigned maxDepth) {
  struct Frame {
    bool isObject;
    std::string owner;
    StringSet<> keys;
  };
  JSONScan result;
  SmallVector<Frame, 8> stack;
  // The last key seen: the owner of an object or array that follows it.
  std::string lastKey;
  size_t i = 0, e = text.size();
  while (i < e) {
    char c = text[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < e && text[j] != '"')
        j += text[j] == '\\' ? 2 : 1;
      if (j >= e)
        break; // Unterminated string: the parser will say so.
      StringRef literal = text.slice(i, j + 1);
      i = j + 1;
      size_t next = text.find_first_not_of(" \t\r\n", i);
      bool isKey = next != StringRef::npos && text[next] == ':' &&
                   !stack.empty() && stack.back().isObject;
      if (!isKey)
        continue;
      // Most keys have no escapes: no parser needed (one allocation less per
      // key of a header of millions).
      std::optional<json::Value> decoded;
      std::optional<StringRef> key;
      StringRef inner = literal.drop_front().drop_back();
      if (!inner.contains('\\')) {
        key = inner;
      } else {
        Expected<json::Value> parsed = json::parse(literal);
        if (!parsed) {
          consumeError(parsed.takeError());
          continue;
        }
        decoded = std::move(*parsed);
        key = decoded->getAsString();
      }
      if (!key)
        continue;
      lastKey = key->str();
      if (!stack.back().keys.insert(*key).second) {
        result.duplicateKey = lastKey;
        result.duplicateOwner = stack.back().owner;
        result.duplicateDepth = stack.size();
        return result;
      }
      continue;
    }
    if (c == '{' || c == '[') {
      if (stack.size() >= maxDepth) {
        result.tooDeep = true;
        return result;
      }
      // An object inside an array belongs to the array's owner.
      std::string owner = !stack.empty() && !stack.back().isObject
                              ? stack.back().owner
                              : lastKey;
      stack.push_back(Frame{c == '{', std::move(owner), {}});
    } else if (c == '}' || c == ']') {
      if (!stack.empty())
        stack.pop_back();
    }
    ++i;
  }
  return result;
}

namespace {
/// A member of the header's top-level object: its name and the text of its
/// value.
struct HeaderMember {
  std::string name;
  StringRef value;
};
} // namespace

/// The end of the JSON string literal that starts at \p i of \p text (one
/// past its closing quote), or npos.
static size_t skipString(StringRef text, size_t i) {
  size_t j = i + 1, e = text.size();
  while (j < e && text[j] != '"')
    j += text[j] == '\\' ? 2 : 1;
  return j < e ? j + 1 : StringRef::npos;
}

/// Splits \p text, a JSON object, into its members without building their
/// values: a header of 1.5 million tensors as one json::Value takes several
/// KiB a tensor (every json::Object is a DenseMap of at least 64 buckets),
/// each member's value parsed on its own takes only its own. Returns false
/// if \p text is not an object of members with well-formed keys and
/// balanced values; the caller then parses it whole, for json::parse's
/// message. The values are only delimited here, not checked.
static bool splitTopLevelObject(StringRef text,
                                std::vector<HeaderMember> &members) {
  auto skipSpace = [&](size_t i) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' ||
                               text[i] == '\n' || text[i] == '\r'))
      ++i;
    return i;
  };
  size_t i = skipSpace(0), e = text.size();
  if (i >= e || text[i] != '{')
    return false;
  i = skipSpace(i + 1);
  if (i < e && text[i] == '}')
    return skipSpace(i + 1) == e;
  while (true) {
    if (i >= e || text[i] != '"')
      return false;
    size_t keyEnd = skipString(text, i);
    if (keyEnd == StringRef::npos)
      return false;
    StringRef literal = text.slice(i, keyEnd);
    std::string name;
    StringRef inner = literal.drop_front().drop_back();
    if (!inner.contains('\\') && json::isUTF8(inner)) {
      name = inner.str();
    } else {
      Expected<json::Value> decoded = json::parse(literal);
      if (!decoded) {
        consumeError(decoded.takeError());
        return false;
      }
      name = decoded->getAsString()->str();
    }
    i = skipSpace(keyEnd);
    if (i >= e || text[i] != ':')
      return false;
    i = skipSpace(i + 1);
    size_t start = i;
    if (i >= e)
      return false;
    if (text[i] == '{' || text[i] == '[') {
      unsigned depth = 0;
      while (i < e) {
        char c = text[i];
        if (c == '"') {
          i = skipString(text, i);
          if (i == StringRef::npos)
            return false;
          continue;
        }
        if (c == '{' || c == '[')
          ++depth;
        else if ((c == '}' || c == ']') && --depth == 0) {
          ++i;
          break;
        }
        ++i;
      }
      if (depth != 0)
        return false;
    } else if (text[i] == '"') {
      i = skipString(text, i);
      if (i == StringRef::npos)
        return false;
    } else {
      while (i < e && text[i] != ',' && text[i] != '}' && text[i] != ' ' &&
             text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
        ++i;
    }
    members.push_back({std::move(name), text.slice(start, i)});
    i = skipSpace(i);
    if (i < e && text[i] == ',') {
      i = skipSpace(i + 1);
      continue;
    }
    if (i < e && text[i] == '}')
      return skipSpace(i + 1) == e;
    return false;
  }
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

/// Formats a JSON value for a message, shortened if long.
static std::string formatJSON(const json::Value &value) {
  std::string text = formatv("{0}", value).str();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

std::optional<int64_t> getJSONInteger(const json::Value &value) {
  std::optional<double> number = value.getAsNumber();
  // llvm::json converts a double to int64_t if it is at most
  // double(INT64_MAX), which is 2^63 and out of range: undefined behaviour.
  constexpr double kBound = 9223372036854775808.0; // 2^63
  if (!number || !(*number >= -kBound && *number < kBound))
    return std::nullopt;
  return value.getAsInteger();
}

/// Reads a non-negative integer that fits in `int64_t` from \p value.
static std::optional<int64_t> getNonNegativeInteger(const json::Value &value) {
  std::optional<int64_t> n = getJSONInteger(value);
  if (!n || *n < 0)
    return std::nullopt;
  return n;
}

Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::open(StringRef path) {
  // Large files are memory-mapped, small ones read.
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(path, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  return parse(std::move(*buffer));
}

Expected<std::unique_ptr<SafeTensorsFile>>
SafeTensorsFile::parse(std::unique_ptr<MemoryBuffer> buffer) {
  std::unique_ptr<SafeTensorsFile> file(new SafeTensorsFile);
  file->buffer = std::move(buffer);
  if (Error error = file->validate())
    return createFileError(file->getPath(), std::move(error));
  return std::move(file);
}

/// Makes an error whose message is \p message; the caller adds the path.
static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

Error SafeTensorsFile::validate() {
  StringRef contents = buffer->getBuffer();

  // The header length and the header.
  if (contents.size() < 8)
    return makeError(formatv("file is {0} bytes long, too short for the "
                             "8-byte header length of a safetensors file",
                             contents.size()));
  // torch.save writes a zip archive (`PK\x03\x04`): say so rather than
  // reading its first bytes as a header length.
  if (contents.starts_with(StringRef("PK\x03\x04", 4)))
    return makeError("this is a zip archive, as torch.save writes (.pt, "
                     ".pth), not a safetensors file; convert the state_dict "
                     "with safetensors.torch.save_file (docs/weights.md)");
  uint64_t headerSize = support::endian::read64le(
      reinterpret_cast<const void *>(contents.data()));
  if (headerSize > kMaxSafeTensorsHeaderSize)
    return makeError(formatv("header length {0} exceeds the limit of {1} bytes",
                             headerSize, kMaxSafeTensorsHeaderSize));
  if (headerSize > contents.size() - 8)
    return makeError(formatv("header length {0} runs past the end of the file "
                             "({1} bytes after the header length)",
                             headerSize, contents.size() - 8));
  StringRef headerText = contents.substr(8, headerSize);
  StringRef data = contents.substr(8 + headerSize);

  JSONScan scan = scanJSON(headerText, kMaxHeaderDepth);
  if (scan.tooDeep)
    return makeError(
        formatv("header nests deeper than {0} levels", kMaxHeaderDepth));
  // The members one by one where the header is an object (every header
  // that is not an error), else the whole header, for json::parse's message.
  std::vector<HeaderMember> members;
  bool split = splitTopLevelObject(headerText, members);
  for (size_t i = 0; split && i < members.size(); ++i) {
    Expected<json::Value> value = json::parse(members[i].value);
    if (!value) {
      consumeError(value.takeError());
      split = false;
    }
  }
  std::optional<json::Value> whole;
  if (!split) {
    Expected<json::Value> header = json::parse(headerText);
    if (!header)
      return makeError("header is not valid JSON: " +
                       toString(header.takeError()));
    whole = std::move(*header);
  }
  if (scan.duplicateKey) {
    const std::string &key = *scan.duplicateKey;
    if (scan.duplicateDepth == 1) {
      if (key == "__metadata__")
        return makeError("header has two '__metadata__' entries");
      return makeError("tensor '" + key + "' appears twice in the header");
    }
    if (scan.duplicateDepth == 2 && scan.duplicateOwner == "__metadata__")
      return makeError("key '" + key + "' appears twice in '__metadata__'");
    if (scan.duplicateDepth == 2)
      return makeError("key '" + key +
                       "' appears twice in the header entry of tensor '" +
                       scan.duplicateOwner + "'");
    return makeError("key '" + key +
                     "' appears twice in an object of the "
                     "header");
  }
  const json::Object *object = whole ? whole->getAsObject() : nullptr;
  if (whole && !object)
    return makeError("header is not a JSON object but " + formatJSON(*whole));

  // Entries, in any dtype, visited by name so that the first error reported
  // does not depend on the hash order of the JSON object.
  if (object) {
    members.clear();
    for (const auto &member : *object)
      members.push_back({member.first.str(), StringRef()});
  }
  llvm::sort(members, [](const HeaderMember &a, const HeaderMember &b) {
    return a.name < b.name;
  });
  for (const HeaderMember &member : members) {
    StringRef name = member.name;
    std::optional<json::Value> parsed;
    if (!object) {
      Expected<json::Value> value = json::parse(member.value);
      if (!value) // checked above
        return makeError("header is not valid JSON: " +
                         toString(value.takeError()));
      parsed = std::move(*value);
    }
    const json::Value &value = object ? *object->get(name) : *parsed;
    if (name == "__metadata__") {
      const json::Object *map = value.getAsObject();
      if (!map)
        return makeError("'__metadata__' is not a JSON object of strings but " +
                         formatJSON(value));
      for (const auto &[key, item] : *map) {
        std::optional<StringRef> string = item.getAsString();
        if (!string)
          return makeError("'__metadata__' value of key '" + StringRef(key) +
                           "' is not a string but " + formatJSON(item));
        metadata[key.str()] = string->str();
      }
      continue;
    }

    if (name.empty())
      return makeError("header has a tensor with an empty name");
    std::string what = ("tensor '" + name + "'").str();
    const json::Object *fields = value.getAsObject();
    if (!fields)
      return makeError(what + " is described by " + formatJSON(value) +
                       " instead of a JSON object");
    for (const auto &field : *fields) {
      StringRef fieldName = field.first;
      if (fieldName != "dtype" && fieldName != "shape" &&
          fieldName != "data_offsets")
        return makeError(what + " has unknown key '" + fieldName +
                         "' (expected 'dtype', 'shape' and 'data_offsets')");
    }

    SafeTensorsEntry entry;
    entry.name = name.str();

    const json::Value *dtypeValue = fields->get("dtype");
    if (!dtypeValue)
      return makeError(what + " has no 'dtype'");
    std::optional<StringRef> dtypeName = dtypeValue->getAsString();
    if (!dtypeName)
      return makeError(what + " has dtype " + formatJSON(*dtypeValue) +
                       ", which is not a string");
    std::optional<SafeTensorsDType> dtype = parseSafeTensorsDType(*dtypeName);
    if (!dtype)
      return makeError(what + " has unknown dtype '" + *dtypeName + "'");
    entry.dtype = *dtype;

    const json::Value *shapeValue = fields->get("shape");
    if (!shapeValue)
      return makeError(what + " has no 'shape'");
    const json::Array *shapeArray = shapeValue->getAsArray();
    if (!shapeArray)
      return makeError(what + " has shape " + formatJSON(*shapeValue) +
                       ", which is not an array");
    for (const json::Value &dim : *shapeArray) {
      std::optional<int64_t> n = getNonNegativeInteger(dim);
      if (!n)
        return makeError(what + " has shape " + formatJSON(*shapeValue) +
                         ", whose dimension " + formatJSON(dim) +
                         " is not a non-negative 64-bit integer");
      entry.shape.push_back(*n);
    }

    const json::Value *offsetsValue = fields->get("data_offsets");
    if (!offsetsValue)
      return makeError(what + " has no 'data_offsets'");
    const json::Array *offsets = offsetsValue->getAsArray();
    std::optional<int64_t> begin, end;
    if (offsets && offsets->size() == 2) {
      begin = getNonNegativeInteger((*offsets)[0]);
      end = getNonNegativeInteger((*offsets)[1]);
    }
    if (!begin || !end)
      return makeError(what + " has data_offsets " + formatJSON(*offsetsValue) +
                       ", which is not a pair [begin, end] of non-negative "
                       "integers");
    if (*begin > *end)
      return makeError(what + " has data_offsets [" + Twine(*begin) + ", " +
                       Twine(*end) + "] whose begin is after its end");
    entry.begin = *begin;
    entry.end = *end;
    if (entry.end > data.size())
      return makeError(what + " has data_offsets [" + Twine(entry.begin) +
                       ", " + Twine(entry.end) +
                       "] that run past the end of the data section (" +
                       Twine(data.size()) + " bytes)");

    unsigned elementSize = getSafeTensorsDTypeSize(entry.dtype);
    std::optional<int64_t> numElements = checkedNumElements(entry.shape);
    std::optional<int64_t> numBytes;
    if (numElements)
      numBytes = checkedMul<int64_t>(*numElements, elementSize);
    if (!numBytes)
      return makeError(what + " has shape " + formatShape(entry.shape) +
                       " whose size in bytes overflows");
    if (static_cast<uint64_t>(*numBytes) != entry.end - entry.begin)
      return makeError(what + " of dtype " + *dtypeName + " and shape " +
                       formatShape(entry.shape) + " needs " + Twine(*numBytes) +
                       " bytes but its data_offsets [" + Twine(entry.begin) +
                       ", " + Twine(entry.end) + "] span " +
                       Twine(entry.end - entry.begin));
    entry.bytes = data.data() + entry.begin;
    entryList.push_back(std::move(entry));
  }

  // The ranges must tile the data section: no overlap, no holes.
  std::vector<const SafeTensorsEntry *> byOffset;
  for (const SafeTensorsEntry &entry : entryList)
    byOffset.push_back(&entry);
  llvm::sort(byOffset,
             [](const SafeTensorsEntry *a, const SafeTensorsEntry *b) {
               return std::tie(a->begin, a->end, a->name) <
                      std::tie(b->begin, b->end, b->name);
             });
  uint64_t covered = 0;
  const SafeTensorsEntry *previous = nullptr;
  for (const SafeTensorsEntry *entry : byOffset) {
    if (entry->begin < covered)
      return makeError("tensors '" + previous->name + "' [" +
                       Twine(previous->begin) + ", " + Twine(previous->end) +
                       ") and '" + entry->name + "' [" + Twine(entry->begin) +
                       ", " + Twine(entry->end) +
                       ") overlap in the data "
                       "section");
    if (entry->begin > covered)
      return makeError("bytes [" + Twine(covered) + ", " + Twine(entry->begin) +
                       ") of the data section before "
                       "tensor '" +
                       entry->name +
                       "' belong to no tensor (the format allows no holes)");
    covered = entry->end;
    previous = entry;
  }
  if (covered != data.size())
    return makeError("bytes [" + Twine(covered) + ", " + Twine(data.size()) +
                     ") at the end of the data section belong to no tensor "
                     "(the format allows no holes)");

  // F32 data: in place if aligned, else (or on a big-endian host) copied.
  for (SafeTensorsEntry &entry : entryList) {
    if (entry.dtype != SafeTensorsDType::F32)
      continue;
    bool aligned =
        reinterpret_cast<uintptr_t>(entry.bytes) % alignof(float) == 0;
    if (aligned && !sys::IsBigEndianHost) {
      entry.floats = reinterpret_cast<const float *>(entry.bytes);
      continue;
    }
    size_t n = static_cast<size_t>(entry.numElements());
    std::unique_ptr<float[]> copy(new float[n]);
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits = support::endian::read32le(entry.bytes + 4 * i);
      std::memcpy(&copy[i], &bits, sizeof(float));
    }
    entry.floats = copy.get();
    alignedCopies.push_back(std::move(copy));
  }

  llvm::sort(entryList,
             [](const SafeTensorsEntry &a, const SafeTensorsEntry &b) {
               return a.name < b.name;
             });
  return Error::success();
}

const SafeTensorsEntry *SafeTensorsFile::find(StringRef name) const {
  auto it = llvm::partition_point(
      entryList, [&](const SafeTensorsEntry &e) { return e.name < name; });
  if (it == entryList.end() || it->name != name)
    return nullptr;
  return &*it;
}

Expected<TensorView> SafeTensorsFile::getTensor(StringRef name) const {
  const SafeTensorsEntry *entry = find(name);
  if (!entry)
    return createFileError(getPath(),
                           makeError("no tensor named '" + name + "'"));
  if (entry->dtype != SafeTensorsDType::F32)
    return createFileError(
        getPath(), makeError("dtype " + getSafeTensorsDTypeName(entry->dtype) +
                             " of tensor '" + name +
                             "' is not supported yet (only F32 is)"));
  return TensorView{entry->name, entry->shape, entry->floats};
}

Expected<std::vector<TensorView>> SafeTensorsFile::getAllTensors() const {
  std::vector<TensorView> views;
  for (const SafeTensorsEntry &entry : entryList) {
    Expected<TensorView> view = getTensor(entry.name);
    if (!view)
      return view.takeError();
    views.push_back(std::move(*view));
  }
  return views;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {
/// One tensor to write: F32 data of a TensorView or I64 values.
struct WriteEntry {
  const std::string *name;
  const std::vector<int64_t> *shape;
  const float *floats = nullptr;
  const int64_t *ints = nullptr;
};

/// A validated request to write tensors: the header text and the tensors in
/// the order of their data.
struct SafeTensorsLayout {
  std::string header;
  std::vector<WriteEntry> sorted;
};
} // namespace

/// Validates \p tensors, \p ints and \p metadata and lays them out.
static Expected<SafeTensorsLayout>
layOut(ArrayRef<TensorView> tensors,
       const std::map<std::string, std::string> &metadata,
       ArrayRef<Int64TensorToWrite> ints = {}) {
  SafeTensorsLayout layout;
  std::vector<WriteEntry> &sorted = layout.sorted;
  for (const TensorView &tensor : tensors)
    sorted.push_back({&tensor.name, &tensor.shape, tensor.data, nullptr});
  for (const Int64TensorToWrite &tensor : ints) {
    if (checkedNumElements(tensor.shape) != int64_t(tensor.values.size()))
      return makeError("cannot write tensor '" + tensor.name +
                       "': its values do not match its shape");
    sorted.push_back(
        {&tensor.name, &tensor.shape, nullptr, tensor.values.data()});
  }
  llvm::sort(sorted, [](const WriteEntry &a, const WriteEntry &b) {
    return *a.name < *b.name;
  });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const std::string &name = *sorted[i].name;
    if (name.empty())
      return makeError("cannot write a tensor without a name");
    if (name == "__metadata__")
      return makeError("cannot write a tensor named '__metadata__', the name "
                       "the format reserves for metadata");
    if (!json::isUTF8(name))
      return makeError("cannot write tensor '" + name +
                       "': its name is not valid UTF-8");
    if (i > 0 && *sorted[i - 1].name == name)
      return makeError("cannot write tensor '" + name + "' twice");
  }
  for (const auto &[key, value] : metadata)
    if (!json::isUTF8(key) || !json::isUTF8(value))
      return makeError("cannot write metadata '" + key +
                       "': it is not valid UTF-8");

  json::Object header;
  if (!metadata.empty()) {
    json::Object map;
    for (const auto &[key, value] : metadata)
      map[key] = value;
    header["__metadata__"] = std::move(map);
  }
  int64_t offset = 0;
  for (const WriteEntry &tensor : sorted) {
    const int64_t elementSize = tensor.ints ? sizeof(int64_t) : sizeof(float);
    std::optional<int64_t> numElements = checkedNumElements(*tensor.shape);
    std::optional<int64_t> numBytes;
    if (numElements)
      numBytes = checkedMul<int64_t>(*numElements, elementSize);
    std::optional<int64_t> end;
    if (numBytes)
      end = checkedAdd(offset, *numBytes);
    if (!end)
      return makeError("cannot write tensor '" + *tensor.name + "' of shape " +
                       formatShape(*tensor.shape) +
                       ": a dimension is negative or the size overflows");
    if (*numElements > 0 && !tensor.floats && !tensor.ints)
      return makeError("cannot write tensor '" + *tensor.name +
                       "': it has elements but no data");
    json::Array shape;
    for (int64_t d : *tensor.shape)
      shape.push_back(d);
    header[*tensor.name] = json::Object{
        {"dtype", tensor.ints ? "I64" : "F32"},
        {"shape", std::move(shape)},
        {"data_offsets", json::Array{offset, *end}},
    };
    offset = *end;
  }

  // Keys are printed sorted, so the header is deterministic. Spaces pad it so
  // that the data section starts 8-byte aligned.
  layout.header = formatv("{0}", json::Value(std::move(header)));
  layout.header.append(
      alignTo(8 + layout.header.size(), 8) - 8 - layout.header.size(), ' ');
  return layout;
}

/// Writes a laid-out file to \p os, little-endian.
static void write(raw_ostream &os, const SafeTensorsLayout &layout) {
  char length[8];
  support::endian::write64le(length, layout.header.size());
  os.write(length, sizeof(length));
  os << layout.header;
  for (const WriteEntry &tensor : layout.sorted) {
    size_t n = static_cast<size_t>(*checkedNumElements(*tensor.shape));
    if (tensor.ints) {
      for (size_t i = 0; i < n; ++i) {
        char bytes[8];
        support::endian::write64le(bytes, uint64_t(tensor.ints[i]));
        os.write(bytes, sizeof(bytes));
      }
      continue;
    }
    if (!sys::IsBigEndianHost) {
      if (n > 0)
        os.write(reinterpret_cast<const char *>(tensor.floats),
                 n * sizeof(float));
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      uint32_t bits;
      std::memcpy(&bits, &tensor.floats[i], sizeof(float));
      char bytes[4];
      support::endian::write32le(bytes, bits);
      os.write(bytes, sizeof(bytes));
    }
  }
}

Error writeSafeTensors(raw_ostream &os, ArrayRef<TensorView> tensors,
                       const std::map<std::string, std::string> &metadata) {
  Expected<SafeTensorsLayout> layout = layOut(tensors, metadata);
  if (!layout)
    return layout.takeError();
  write(os, *layout);
  return Error::success();
}

Error writeSafeTensorsFile(StringRef path, ArrayRef<TensorView> tensors,
                           const std::map<std::string, std::string> &metadata,
                           ArrayRef<Int64TensorToWrite> ints) {
  // Validate first, so that an invalid request creates no file at all.
  Expected<SafeTensorsLayout> layout = layOut(tensors, metadata, ints);
  if (!layout)
    return createFileError(path, layout.takeError());
  return writeFileAtomically(path, [&](raw_ostream &os) {
    write(os, *layout);
    return Error::success();
  });
}

} // namespace dlm

//===- Bundle.cpp - Reading a compiled bundle -----------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The reader validates a bundle completely before an executor sees it, so
// that a bad offset or a misspelt name is an error naming the file and the
// field, not a crash inside a kernel. The JSON files are checked for nesting
// depth before llvm::json::parse (which recurses once per level) and for
// duplicate keys after it (which it keeps silently, the last one winning).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <optional>

using namespace llvm;

namespace dlm {

StringRef getBufferKindName(BufferKind kind) {
  switch (kind) {
  case BufferKind::Input:
    return "input";
  case BufferKind::Arena:
    return "arena";
  case BufferKind::Param:
    return "param";
  case BufferKind::Derived:
    return "derived";
  }
  llvm_unreachable("unknown buffer kind");
}

const DerivedTensor *Bundle::findDerived(StringRef name) const {
  for (const DerivedTensor &tensor : derived)
    if (tensor.name == name)
      return &tensor;
  return nullptr;
}

const ParamSpec *Bundle::findParam(StringRef name) const {
  for (const ParamSpec &param : params)
    if (param.name == name)
      return &param;
  return nullptr;
}

//===----------------------------------------------------------------------===//
// Kernel definitions in CUDA source
//===----------------------------------------------------------------------===//

/// Replaces comments and string and character literals by spaces (keeping
/// newlines), so that a scan for `__global__` sees code only.
static std::string blankCommentsAndLiterals(StringRef source) {
  std::string text = source.str();
  size_t i = 0, e = text.size();
  auto blank = [&](size_t from, size_t to) {
    for (size_t k = from; k < to && k < e; ++k)
      if (text[k] != '\n')
        text[k] = ' ';
  };
  while (i < e) {
    char c = text[i];
    if (c == '/' && i + 1 < e && text[i + 1] == '/') {
      size_t end = text.find('\n', i);
      end = end == std::string::npos ? e : end;
      blank(i, end);
      i = end;
    } else if (c == '/' && i + 1 < e && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      end = end == std::string::npos ? e : end + 2;
      blank(i, end);
      i = end;
    } else if (c == '"' || c == '\'') {
      size_t j = i + 1;
      while (j < e && text[j] != c && text[j] != '\n')
        j += text[j] == '\\' ? 2 : 1;
      // `extern "C"` keeps its meaning for nobody here: blank it too.
      blank(i, std::min(j + 1, e));
      i = j + 1;
    } else {
      ++i;
    }
  }
  return text;
}

namespace {
/// A token of CUDA source: an identifier or one punctuation character.
struct Token {
  StringRef text;
  bool isIdentifier() const {
    return !text.empty() && (isAlpha(text[0]) || text[0] == '_');
  }
};
} // namespace

static std::vector<Token> tokenize(StringRef text) {
  std::vector<Token> tokens;
  size_t i = 0, e = text.size();
  while (i < e) {
    char c = text[i];
    if (isSpace(c)) {
      ++i;
    } else if (isAlpha(c) || c == '_') {
      size_t j = i;
      while (j < e && (isAlnum(text[j]) || text[j] == '_'))
        ++j;
      tokens.push_back({text.slice(i, j)});
      i = j;
    } else if (isDigit(c)) {
      size_t j = i;
      while (j < e && (isAlnum(text[j]) || text[j] == '.' || text[j] == '_'))
        ++j;
      tokens.push_back({text.slice(i, j)});
      i = j;
    } else {
      tokens.push_back({text.substr(i, 1)});
      ++i;
    }
  }
  return tokens;
}

/// Returns the index after the parenthesis that closes the one at \p open,
/// or \p tokens.size().
static size_t skipParens(ArrayRef<Token> tokens, size_t open) {
  int depth = 0;
  for (size_t i = open; i < tokens.size(); ++i) {
    if (tokens[i].text == "(")
      ++depth;
    else if (tokens[i].text == ")" && --depth == 0)
      return i + 1;
  }
  return tokens.size();
}

std::vector<std::string> findKernelDefinitions(StringRef source) {
  std::string text = blankCommentsAndLiterals(source);
  std::vector<Token> tokens = tokenize(text);
  std::vector<std::string> names;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].text != "__global__")
      continue;
    // The name is the identifier before the first parenthesis that is not
    // __launch_bounds__'s.
    size_t j = i + 1;
    StringRef name;
    while (j < tokens.size() && tokens[j].text != ";" &&
           tokens[j].text != "{") {
      if (tokens[j].text == "__launch_bounds__" && j + 1 < tokens.size() &&
          tokens[j + 1].text == "(") {
        j = skipParens(tokens, j + 1);
        continue;
      }
      if (tokens[j].text == "(") {
        if (tokens[j - 1].isIdentifier())
          name = tokens[j - 1].text;
        break;
      }
      ++j;
    }
    if (name.empty() || j >= tokens.size())
      continue;
    j = skipParens(tokens, j);
    // A definition has a body (possibly after attributes such as
    // `__launch_bounds__` written after the parameters).
    while (j < tokens.size() && tokens[j].text != "{" &&
           tokens[j].text != ";" && tokens[j].text != "__global__")
      ++j;
    if (j < tokens.size() && tokens[j].text == "{")
      names.push_back(name.str());
    i = j - 1;
  }
  return names;
}

//===----------------------------------------------------------------------===//
// JSON files
//===----------------------------------------------------------------------===//

/// How deeply a bundle's JSON may nest (plan.json nests four levels).
static constexpr unsigned kMaxJSONDepth = 32;

/// Makes an error with \p message; callers add the file's name.
static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

/// Scans JSON text for nesting deeper than kMaxJSONDepth and for keys
/// repeated within one object. Returns a message, or an empty string. Only
/// meaningful on valid JSON; never reads outside \p text.
static std::string scanJSON(StringRef text) {
  struct Frame {
    bool isObject;
    StringSet<> keys;
  };
  SmallVector<Frame, 8> stack;
  size_t i = 0, e = text.size();
  while (i < e) {
    char c = text[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < e && text[j] != '"')
        j += text[j] == '\\' ? 2 : 1;
      if (j >= e)
        return "";
      StringRef literal = text.slice(i, j + 1);
      i = j + 1;
      size_t next = text.find_first_not_of(" \t\r\n", i);
      if (next == StringRef::npos || text[next] != ':' || stack.empty() ||
          !stack.back().isObject)
        continue;
      Expected<json::Value> key = json::parse(literal);
      if (!key) {
        consumeError(key.takeError());
        continue;
      }
      if (std::optional<StringRef> name = key->getAsString())
        if (!stack.back().keys.insert(*name).second)
          return ("key '" + *name + "' appears twice in one object").str();
      continue;
    }
    if (c == '{' || c == '[') {
      if (stack.size() >= kMaxJSONDepth)
        return formatv("nests deeper than {0} levels", kMaxJSONDepth).str();
      stack.push_back(Frame{c == '{', {}});
    } else if ((c == '}' || c == ']') && !stack.empty()) {
      stack.pop_back();
    }
    ++i;
  }
  return "";
}

/// Reads the file \p name of the bundle directory \p dir into \p text.
static Error readBundleFile(StringRef dir, StringRef name, std::string &path,
                            std::string &text) {
  SmallString<256> full(dir);
  sys::path::append(full, name);
  path = std::string(full);
  ErrorOr<std::unique_ptr<MemoryBuffer>> buffer =
      MemoryBuffer::getFile(full, /*IsText=*/false,
                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return createFileError(path, errorCodeToError(buffer.getError()));
  text = (*buffer)->getBuffer().str();
  return Error::success();
}

/// Parses \p text as JSON whose top level is an object.
static Expected<json::Value> parseJSONObject(StringRef text) {
  std::string scan = scanJSON(text);
  if (!scan.empty())
    return makeError("JSON " + scan);
  Expected<json::Value> value = json::parse(text);
  if (!value)
    return makeError("invalid JSON: " + toString(value.takeError()));
  if (!value->getAsObject())
    return makeError("the top level is not a JSON object");
  return std::move(*value);
}

/// Formats a JSON value for a message, shortened if long.
static std::string formatJSON(const json::Value &value) {
  std::string text = formatv("{0}", value).str();
  if (text.size() > 40)
    text = text.substr(0, 37) + "...";
  return text;
}

namespace {
/// Typed access to the fields of a JSON object, with errors that say where:
/// `forward[3]: args[1]: 'offset' ...`.
class Fields {
public:
  Fields(const json::Object &object, std::string where)
      : object(object), where(std::move(where)) {}

  const std::string &getWhere() const { return where; }

  /// An error about this object.
  Error error(const Twine &message) const {
    return makeError(where.empty() ? message.str()
                                   : where + ": " + message.str());
  }

  const json::Value *find(StringRef key) const { return object.get(key); }

  Expected<const json::Value *> require(StringRef key) const {
    if (const json::Value *value = object.get(key))
      return value;
    return error("missing '" + key + "'");
  }

  /// A non-negative integer at most \p max.
  Expected<uint64_t> getCount(StringRef key, uint64_t max) const {
    Expected<const json::Value *> value = require(key);
    if (!value)
      return value.takeError();
    return toCount(key, **value, max);
  }

  Expected<uint64_t> toCount(const Twine &what, const json::Value &value,
                             uint64_t max) const {
    std::optional<int64_t> n = value.getAsInteger();
    if (!n || *n < 0 || uint64_t(*n) > max)
      return error(formatv("'{0}' must be an integer from 0 to {1}, not {2}",
                           what.str(), max, formatJSON(value)));
    return uint64_t(*n);
  }

  /// A string (missing: \p fallback if given, else an error).
  Expected<std::string>
  getString(StringRef key,
            std::optional<StringRef> fallback = std::nullopt) const {
    const json::Value *value = object.get(key);
    if (!value) {
      if (fallback)
        return fallback->str();
      return error("missing '" + key + "'");
    }
    std::optional<StringRef> text = value->getAsString();
    if (!text)
      return error("'" + key + "' must be a string, not " + formatJSON(*value));
    return text->str();
  }

  /// A shape: an array of non-negative integers whose product (times 4
  /// bytes) fits in int64_t.
  Expected<std::vector<int64_t>> getShape(StringRef key) const {
    Expected<const json::Value *> value = require(key);
    if (!value)
      return value.takeError();
    const json::Array *array = (*value)->getAsArray();
    if (!array)
      return error("'" + key + "' must be an array of dimensions, not " +
                   formatJSON(**value));
    std::vector<int64_t> shape;
    for (const json::Value &dim : *array) {
      std::optional<int64_t> d = dim.getAsInteger();
      if (!d || *d < 0)
        return error("'" + key +
                     "' has a dimension that is not a "
                     "non-negative integer: " +
                     formatJSON(dim));
      shape.push_back(*d);
    }
    std::optional<int64_t> n = checkedNumElements(shape);
    if (!n || !checkedMul<int64_t>(*n, 4))
      return error("'" + key + "' " + formatShape(shape) +
                   " has too many elements");
    return shape;
  }

  /// An array (missing: empty if \p optional, else an error).
  Expected<const json::Array *> getArray(StringRef key,
                                         bool optional = false) const {
    static const json::Array empty;
    const json::Value *value = object.get(key);
    if (!value) {
      if (optional)
        return &empty;
      return error("missing '" + key + "'");
    }
    const json::Array *array = value->getAsArray();
    if (!array)
      return error("'" + key + "' must be an array, not " + formatJSON(*value));
    return array;
  }

  /// A nested object, with its place appended to the error context.
  Expected<Fields> getObject(StringRef key) const {
    Expected<const json::Value *> value = require(key);
    if (!value)
      return value.takeError();
    return asObject(**value, key);
  }

  Expected<Fields> asObject(const json::Value &value,
                            const Twine &place) const {
    const json::Object *nested = value.getAsObject();
    std::string nestedWhere =
        where.empty() ? place.str() : where + ": " + place.str();
    if (!nested)
      return makeError(nestedWhere + ": must be an object, not " +
                       formatJSON(value));
    return Fields(*nested, nestedWhere);
  }

private:
  const json::Object &object;
  std::string where;
};
} // namespace

/// The number of bytes of a tensor of \p shape (validated by getShape).
static uint64_t getNumBytes(ArrayRef<int64_t> shape) {
  return uint64_t(*checkedNumElements(shape)) * 4;
}

//===----------------------------------------------------------------------===//
// params.json
//===----------------------------------------------------------------------===//

static Error parseParams(StringRef text, Bundle &bundle) {
  Expected<json::Value> root = parseJSONObject(text);
  if (!root)
    return root.takeError();
  Fields top(*root->getAsObject(), "");
  Expected<const json::Array *> params = top.getArray("params");
  if (!params)
    return params.takeError();
  StringSet<> seen;
  for (auto [i, value] : enumerate(**params)) {
    Expected<Fields> param = top.asObject(value, formatv("params[{0}]", i));
    if (!param)
      return param.takeError();
    Expected<std::string> name = param->getString("name");
    if (!name)
      return name.takeError();
    if (name->empty())
      return param->error("'name' is empty");
    if (!seen.insert(*name).second)
      return param->error("parameter '" + *name + "' is listed twice");
    Expected<std::vector<int64_t>> shape = param->getShape("shape");
    if (!shape)
      return shape.takeError();
    bundle.params.push_back(
        ParamSpec{*name, *shape, inferParamRole(*name, *shape)});
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// plan.json
//===----------------------------------------------------------------------===//

/// Reads a buffer reference ({"kind": ..., "offset"/"name": ...}) and checks
/// it against the arena, the params and the derived tensors.
static Expected<BufferRef> parseBufferRef(const Fields &fields,
                                          const Bundle &bundle) {
  Expected<std::string> kind = fields.getString("kind");
  if (!kind)
    return kind.takeError();
  BufferRef ref;
  if (*kind == "input") {
    ref.kind = BufferKind::Input;
  } else if (*kind == "arena") {
    ref.kind = BufferKind::Arena;
    Expected<uint64_t> offset = fields.getCount("offset", INT64_MAX);
    if (!offset)
      return offset.takeError();
    if (*offset >= bundle.arenaBytes)
      return fields.error(formatv("arena offset {0} is outside the arena "
                                  "({1} bytes)",
                                  *offset, bundle.arenaBytes));
    if (*offset % 4 != 0)
      return fields.error(formatv("arena offset {0} is not a multiple of 4 "
                                  "(tensors are f32)",
                                  *offset));
    ref.offset = *offset;
  } else if (*kind == "param" || *kind == "derived") {
    Expected<std::string> name = fields.getString("name");
    if (!name)
      return name.takeError();
    if (*kind == "param") {
      ref.kind = BufferKind::Param;
      if (!bundle.findParam(*name))
        return fields.error("param '" + *name +
                            "' is not listed in params.json");
    } else {
      ref.kind = BufferKind::Derived;
      if (!bundle.findDerived(*name))
        return fields.error("derived tensor '" + *name +
                            "' is not listed in 'derived'");
    }
    ref.name = *name;
  } else {
    return fields.error("unknown argument kind '" + *kind +
                        "' (expected input, arena, param or derived)");
  }
  return ref;
}

/// Reads a [x, y, z] array of positive integers.
static Error parseDims(const Fields &fields, StringRef key,
                       std::array<uint32_t, 3> &dims) {
  Expected<const json::Array *> array = fields.getArray(key);
  if (!array)
    return array.takeError();
  if ((*array)->size() != 3)
    return fields.error("'" + key + "' must be an array [x, y, z], not " +
                        formatJSON(json::Value(json::Array(**array))));
  for (auto [i, value] : enumerate(**array)) {
    Expected<uint64_t> n =
        fields.toCount(formatv("{0}[{1}]", key, i).str(), value, UINT32_MAX);
    if (!n)
      return n.takeError();
    if (*n == 0)
      return fields.error("'" + key + "' has a zero dimension");
    dims[i] = uint32_t(*n);
  }
  return Error::success();
}

static Expected<Launch> parseLaunch(const Fields &fields, const Bundle &bundle,
                                    const StringSet<> &kernels, bool isInit) {
  Launch launch;
  Expected<std::string> kernel = fields.getString("kernel");
  if (!kernel)
    return kernel.takeError();
  if (!kernels.contains(*kernel))
    return fields.error("kernel '" + *kernel +
                        "' is not defined in kernels.cu (no extern \"C\" "
                        "__global__ function of that name)");
  launch.kernel = *kernel;

  if (Error error = parseDims(fields, "grid", launch.grid))
    return std::move(error);
  if (Error error = parseDims(fields, "block", launch.block))
    return std::move(error);
  const auto &grid = launch.grid, &block = launch.block;
  if (grid[0] > kMaxGridDimX || grid[1] > kMaxGridDimYZ ||
      grid[2] > kMaxGridDimYZ)
    return fields.error(formatv("grid [{0}, {1}, {2}] exceeds the limits "
                                "[{3}, {4}, {4}]",
                                grid[0], grid[1], grid[2], kMaxGridDimX,
                                kMaxGridDimYZ));
  if (uint64_t(block[0]) * block[1] * block[2] > kMaxBlockThreads ||
      block[2] > kMaxBlockDimZ)
    return fields.error(formatv("block [{0}, {1}, {2}] exceeds the limits "
                                "({3} threads, z at most {4})",
                                block[0], block[1], block[2], kMaxBlockThreads,
                                kMaxBlockDimZ));

  if (fields.find("shared_bytes")) {
    Expected<uint64_t> shared = fields.getCount("shared_bytes", UINT32_MAX);
    if (!shared)
      return shared.takeError();
    launch.sharedBytes = uint32_t(*shared);
  }

  Expected<const json::Array *> args = fields.getArray("args");
  if (!args)
    return args.takeError();
  for (auto [i, value] : enumerate(**args)) {
    Expected<Fields> arg = fields.asObject(value, formatv("args[{0}]", i));
    if (!arg)
      return arg.takeError();
    Expected<BufferRef> ref = parseBufferRef(*arg, bundle);
    if (!ref)
      return ref.takeError();
    if (isInit && ref->kind == BufferKind::Input)
      return arg->error("an init launch cannot read the input (init runs "
                        "once, before any input)");
    launch.args.push_back(std::move(*ref));
  }

  Expected<std::string> ops = fields.getString("ops", StringRef());
  if (!ops)
    return ops.takeError();
  launch.ops = *ops;
  Expected<std::string> source = fields.getString("source", StringRef());
  if (!source)
    return source.takeError();
  launch.source = *source;
  return launch;
}

static Error parsePlan(StringRef text, Bundle &bundle) {
  Expected<json::Value> root = parseJSONObject(text);
  if (!root)
    return root.takeError();
  Fields top(*root->getAsObject(), "");

  Expected<uint64_t> version = top.getCount("version", INT64_MAX);
  if (!version)
    return version.takeError();
  if (*version != uint64_t(kBundlePlanVersion))
    return top.error(formatv("plan version {0} is not supported (this "
                             "runtime reads version {1})",
                             *version, kBundlePlanVersion));
  Expected<std::string> model = top.getString("model", StringRef());
  if (!model)
    return model.takeError();
  bundle.model = *model;

  Expected<uint64_t> arena = top.getCount("arena_bytes", INT64_MAX);
  if (!arena)
    return arena.takeError();
  bundle.arenaBytes = *arena;

  Expected<Fields> input = top.getObject("input");
  if (!input)
    return input.takeError();
  Expected<std::vector<int64_t>> inputShape = input->getShape("shape");
  if (!inputShape)
    return inputShape.takeError();
  bundle.inputShape = *inputShape;

  // Derived tensors before the output and the launches, which name them.
  Expected<const json::Array *> derived = top.getArray("derived", true);
  if (!derived)
    return derived.takeError();
  for (auto [i, value] : enumerate(**derived)) {
    Expected<Fields> tensor = top.asObject(value, formatv("derived[{0}]", i));
    if (!tensor)
      return tensor.takeError();
    Expected<std::string> name = tensor->getString("name");
    if (!name)
      return name.takeError();
    if (name->empty())
      return tensor->error("'name' is empty");
    if (bundle.findDerived(*name))
      return tensor->error("derived tensor '" + *name + "' is listed twice");
    Expected<std::vector<int64_t>> shape = tensor->getShape("shape");
    if (!shape)
      return shape.takeError();
    bundle.derived.push_back(DerivedTensor{*name, *shape});
  }

  Expected<Fields> output = top.getObject("output");
  if (!output)
    return output.takeError();
  Expected<std::vector<int64_t>> outputShape = output->getShape("shape");
  if (!outputShape)
    return outputShape.takeError();
  bundle.outputShape = *outputShape;
  Expected<Fields> outputBuffer = output->getObject("buffer");
  if (!outputBuffer)
    return outputBuffer.takeError();
  Expected<BufferRef> outputRef = parseBufferRef(*outputBuffer, bundle);
  if (!outputRef)
    return outputRef.takeError();
  uint64_t outputBytes = getNumBytes(bundle.outputShape);
  switch (outputRef->kind) {
  case BufferKind::Arena:
    if (outputBytes > bundle.arenaBytes - outputRef->offset)
      return outputBuffer->error(formatv(
          "the output ({0} bytes at arena offset {1}) runs past the end of "
          "the arena ({2} bytes)",
          outputBytes, outputRef->offset, bundle.arenaBytes));
    break;
  case BufferKind::Input:
    if (outputBytes > getNumBytes(bundle.inputShape))
      return outputBuffer->error(
          "the output " + formatShape(bundle.outputShape) +
          " is larger than the input " + formatShape(bundle.inputShape));
    break;
  default:
    return outputBuffer->error("the output must be read from the arena or "
                               "the input, not a " +
                               getBufferKindName(outputRef->kind));
  }
  bundle.output = *outputRef;

  StringSet<> kernels;
  for (const std::string &name : bundle.kernelNames)
    kernels.insert(name);
  for (bool isInit : {true, false}) {
    StringRef key = isInit ? "init" : "forward";
    Expected<const json::Array *> launches = top.getArray(key, isInit);
    if (!launches)
      return launches.takeError();
    std::vector<Launch> &list = isInit ? bundle.init : bundle.forward;
    for (auto [i, value] : enumerate(**launches)) {
      Expected<Fields> fields =
          top.asObject(value, formatv("{0}[{1}]", key, i));
      if (!fields)
        return fields.takeError();
      Expected<Launch> launch = parseLaunch(*fields, bundle, kernels, isInit);
      if (!launch)
        return launch.takeError();
      list.push_back(std::move(*launch));
    }
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// The bundle
//===----------------------------------------------------------------------===//

Expected<Bundle> readBundle(StringRef dir) {
  sys::fs::file_status status;
  if (std::error_code ec = sys::fs::status(dir, status))
    return createFileError(dir, makeError("cannot open the bundle "
                                          "directory: " +
                                          ec.message()));
  if (!sys::fs::is_directory(status))
    return createFileError(dir, makeError("not a bundle directory (dlmc -o "
                                          "DIR writes one)"));

  Bundle bundle;
  bundle.directory = dir.str();
  std::string path, text;

  if (Error error =
          readBundleFile(dir, "kernels.cu", path, bundle.kernelsSource))
    return std::move(error);
  bundle.kernelNames = findKernelDefinitions(bundle.kernelsSource);
  if (Error error =
          readBundleFile(dir, "dlm_kernels.cuh", path, bundle.libraryHeader))
    return std::move(error);

  if (Error error = readBundleFile(dir, "params.json", path, text))
    return std::move(error);
  if (Error error = parseParams(text, bundle))
    return createFileError(path, std::move(error));

  if (Error error = readBundleFile(dir, "plan.json", path, text))
    return std::move(error);
  if (Error error = parsePlan(text, bundle))
    return createFileError(path, std::move(error));

  // The manifest is informational; when present it must be well-formed.
  SmallString<256> manifestPath(dir);
  sys::path::append(manifestPath, "manifest.json");
  if (sys::fs::exists(manifestPath)) {
    if (Error error = readBundleFile(dir, "manifest.json", path, text))
      return std::move(error);
    Expected<json::Value> manifest = parseJSONObject(text);
    if (!manifest)
      return createFileError(path, manifest.takeError());
    bundle.manifest = text;
  }
  return bundle;
}

} // namespace dlm

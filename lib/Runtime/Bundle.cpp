//===- Bundle.cpp - The bundle's schema, verifier, reader and writer ------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// One schema for the writer and the reader: the toJSON/fromJSON pairs below.
// A bundle is verified completely before an executor sees it, so that a bad
// offset or a misspelt name is an error naming the file and the field, not a
// crash inside a kernel. The JSON files are checked for nesting depth before
// llvm::json::parse (which recurses once per level) and for duplicate keys
// after it (which it keeps silently, the last one winning).
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/AtomicFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/CheckedArithmetic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SHA256.h"

#ifdef __linux__
#include <cstdio>
#include <fcntl.h>
#endif

using namespace llvm;

namespace dlm {

static Error makeError(const Twine &message) {
  return createStringError(inconvertibleErrorCode(), message);
}

//===----------------------------------------------------------------------===//
// Lookups
//===----------------------------------------------------------------------===//

uint64_t TensorSpec::getNumBytes() const {
  return uint64_t(checkedNumElements(shape).value_or(0)) * getDTypeBytes(dtype);
}

/// The names plan.json gives the buffer kinds, in the order of BufferKind.
static constexpr StringLiteral kBufferKindNames[] = {"input", "arena", "param",
                                                     "derived"};

StringRef getBufferKindName(BufferKind kind) {
  return kBufferKindNames[size_t(kind)];
}

template <typename T>
static const T *findNamed(ArrayRef<T> list, StringRef name) {
  for (const T &entry : list)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

const TensorSpec *Bundle::findInput(StringRef name) const {
  return findNamed<TensorSpec>(inputs, name);
}
const OutputSpec *Bundle::findOutput(StringRef name) const {
  for (const OutputSpec &output : outputs)
    if (output.tensor.name == name)
      return &output;
  return nullptr;
}
const TensorSpec *Bundle::findDerived(StringRef name) const {
  return findNamed<TensorSpec>(derived, name);
}
const ParamSpec *Bundle::findParam(StringRef name) const {
  return findNamed<ParamSpec>(params, name);
}
const KernelSpec *Bundle::findKernel(StringRef name) const {
  return findNamed<KernelSpec>(kernels, name);
}
const Phase *Bundle::findPhase(StringRef name) const {
  return findNamed<Phase>(phases, name);
}

uint64_t Bundle::getBufferBytes(const BufferRef &ref) const {
  switch (ref.kind) {
  case BufferKind::Input:
    return findInput(ref.name)->getNumBytes();
  case BufferKind::Arena:
    return arenaBytes - ref.offset;
  case BufferKind::Param: {
    const ParamSpec *param = findParam(ref.name);
    return TensorSpec{param->name, param->shape, param->dtype}.getNumBytes();
  }
  case BufferKind::Derived:
    return findDerived(ref.name)->getNumBytes();
  }
  llvm_unreachable("unknown buffer kind");
}

//===----------------------------------------------------------------------===//
// Phases and their inputs
//===----------------------------------------------------------------------===//

Expected<const Phase *> findRunnablePhase(const Bundle &bundle,
                                          StringRef name) {
  const Phase *phase = bundle.findPhase(name);
  if (phase && name != kInitPhase)
    return phase;
  std::string known;
  for (const Phase &p : bundle.phases)
    if (p.name != kInitPhase)
      known += (known.empty() ? "" : ", ") + p.name;
  if (name == kInitPhase)
    return makeError("phase 'init' runs when the bundle is loaded; it cannot "
                     "be run on inputs (the bundle's phases: " +
                     known + ")");
  return makeError("the bundle has no phase '" + name + "' (it has: " + known +
                   ")");
}

Expected<PhaseInputs> matchPhaseInputs(const Bundle &bundle, StringRef name,
                                       ArrayRef<TensorView> inputs) {
  Expected<const Phase *> found = findRunnablePhase(bundle, name);
  if (!found)
    return found.takeError();
  const Phase &phase = **found;
  std::vector<const TensorView *> matched(phase.inputs.size(), nullptr);
  for (const TensorView &view : inputs) {
    size_t index = phase.inputs.size();
    if (view.name.empty() && inputs.size() == 1 && phase.inputs.size() == 1)
      index = 0;
    else
      index = find(phase.inputs, view.name) - phase.inputs.begin();
    if (index == phase.inputs.size())
      return makeError("phase '" + phase.name + "' has no input '" + view.name +
                       "' (its inputs: " + join(phase.inputs, ", ") + ")");
    if (matched[index])
      return makeError("input '" + phase.inputs[index] + "' of phase '" +
                       phase.name + "' is given twice");
    const TensorSpec *spec = bundle.findInput(phase.inputs[index]);
    if (view.shape != spec->shape) {
      std::string model =
          bundle.model.empty() ? "the bundle" : "model '" + bundle.model + "'";
      return makeError(
          "input '" + spec->name + "' is " + formatTensorType(view.shape) +
          " but " + model + " expects " +
          formatTensorType(spec->shape, getDTypeName(spec->dtype)));
    }
    matched[index] = &view;
  }
  for (auto [i, view] : enumerate(matched))
    if (!view)
      return makeError("phase '" + phase.name + "' needs input '" +
                       phase.inputs[i] + "', which was not given");
  return PhaseInputs{&phase, std::move(matched)};
}

//===----------------------------------------------------------------------===//
// toJSON and fromJSON
//===----------------------------------------------------------------------===//

static json::Array toJSONArray(ArrayRef<int64_t> values) {
  json::Array array;
  for (int64_t v : values)
    array.push_back(v);
  return array;
}

namespace {
// The field types of the schema beyond llvm::json's own, and a mapper over
// all of them. They live together so that one unqualified fromJSON call
// finds every overload.
using llvm::json::fromJSON;

/// A shape: non-negative dimensions whose element count (times 4 bytes)
/// fits in int64_t.
struct Shape {
  std::vector<int64_t> &dims;
};
/// A non-negative integer at most `max`.
template <typename T> struct Count {
  T &value;
  uint64_t max;
};
/// A name that is not empty.
struct Name {
  std::string &text;
};

bool fromJSON(const json::Value &value, Shape shape, json::Path path) {
  const json::Array *array = value.getAsArray();
  if (!array) {
    path.report("expected array");
    return false;
  }
  shape.dims.clear();
  for (auto [i, element] : enumerate(*array)) {
    std::optional<int64_t> d = getJSONInteger(element);
    if (!d || *d < 0) {
      path.index(i).report("a dimension must be a non-negative integer");
      return false;
    }
    shape.dims.push_back(*d);
  }
  std::optional<int64_t> n = checkedNumElements(shape.dims);
  if (!n || !checkedMul<int64_t>(*n, 4)) {
    path.report("the shape has too many elements");
    return false;
  }
  return true;
}

template <typename T>
bool fromJSON(const json::Value &value, Count<T> count, json::Path path) {
  std::optional<int64_t> n = getJSONInteger(value);
  if (!n || *n < 0 || uint64_t(*n) > count.max) {
    if (count.max == UINT32_MAX)
      path.report("expected an integer from 0 to 2^32-1");
    else
      path.report("expected a non-negative integer");
    return false;
  }
  count.value = T(*n);
  return true;
}

bool fromJSON(const json::Value &value, Name name, json::Path path) {
  if (!json::fromJSON(value, name.text, path))
    return false;
  if (name.text.empty()) {
    path.report("a name must not be empty");
    return false;
  }
  return true;
}

/// A [x, y, z] array of positive integers.
bool fromJSON(const json::Value &value, std::array<uint32_t, 3> &dims,
              json::Path path) {
  const json::Array *array = value.getAsArray();
  if (!array || array->size() != 3) {
    path.report("expected an array [x, y, z]");
    return false;
  }
  for (auto [i, element] : enumerate(*array)) {
    if (!fromJSON(element, Count<uint32_t>{dims[i], UINT32_MAX}, path.index(i)))
      return false;
    if (dims[i] == 0) {
      path.index(i).report("a dimension must be positive");
      return false;
    }
  }
  return true;
}

/// llvm::json::ObjectMapper for every field type above.
class Mapper {
public:
  Mapper(const json::Value &value, json::Path path)
      : object(value.getAsObject()), path(path) {
    if (!object)
      path.report("expected an object");
  }
  explicit operator bool() const { return object; }

  /// A required field.
  template <typename T> bool map(StringLiteral key, T &&out) {
    if (const json::Value *value = object->get(key))
      return fromJSON(*value, std::forward<T>(out), path.field(key));
    path.field(key).report("missing value");
    return false;
  }
  /// A field that keeps its default when missing.
  template <typename T> bool mapOptional(StringLiteral key, T &&out) {
    if (!object->get(key))
      return true;
    return map(key, std::forward<T>(out));
  }

private:
  const json::Object *object;
  json::Path path;
};
} // namespace

static bool fromJSON(const json::Value &value, DType &dtype, json::Path path) {
  std::optional<StringRef> name = value.getAsString();
  std::optional<DType> parsed = name ? parseDType(*name) : std::nullopt;
  if (!parsed) {
    path.report("expected a dtype: \"f32\", \"f16\" or \"bf16\"");
    return false;
  }
  dtype = *parsed;
  return true;
}

json::Value toJSON(const TensorSpec &spec) {
  return json::Object{{"name", spec.name},
                      {"shape", toJSONArray(spec.shape)},
                      {"dtype", getDTypeName(spec.dtype)}};
}

bool fromJSON(const json::Value &value, TensorSpec &spec, json::Path path) {
  Mapper m(value, path);
  return m && m.map("name", Name{spec.name}) &&
         m.map("shape", Shape{spec.shape}) &&
         m.mapOptional("dtype", spec.dtype);
}

json::Value toJSON(const BufferRef &ref) {
  json::Object object{{"kind", getBufferKindName(ref.kind)}};
  if (ref.kind == BufferKind::Arena)
    object["offset"] = ref.offset;
  else
    object["name"] = ref.name;
  return object;
}

bool fromJSON(const json::Value &value, BufferRef &ref, json::Path path) {
  Mapper m(value, path);
  std::string kind;
  if (!m || !m.map("kind", kind))
    return false;
  ref = BufferRef();
  const StringLiteral *known = find(kBufferKindNames, kind);
  if (known == std::end(kBufferKindNames)) {
    path.field("kind").report(
        "expected a buffer kind: \"input\", \"arena\", \"param\" or "
        "\"derived\"");
    return false;
  }
  ref.kind = BufferKind(known - std::begin(kBufferKindNames));
  if (ref.kind == BufferKind::Arena)
    return m.map("offset", Count<uint64_t>{ref.offset, INT64_MAX});
  return m.map("name", Name{ref.name});
}

json::Value toJSON(const OutputSpec &output) {
  json::Value value = toJSON(output.tensor);
  value.getAsObject()->try_emplace("buffer", toJSON(output.buffer));
  return value;
}

bool fromJSON(const json::Value &value, OutputSpec &output, json::Path path) {
  Mapper m(value, path);
  return fromJSON(value, output.tensor, path) && m.map("buffer", output.buffer);
}

/// The names of the accesses, in the order of Access.
static constexpr StringLiteral kAccessNames[] = {"read", "write", "readwrite"};

json::Value toJSON(const KernelParam &param) {
  return json::Object{{"name", param.name},
                      {"dtype", getDTypeName(param.dtype)},
                      {"access", kAccessNames[size_t(param.access)]},
                      {"bytes", param.bytes}};
}

bool fromJSON(const json::Value &value, KernelParam &param, json::Path path) {
  Mapper m(value, path);
  std::string access;
  if (!m || !m.map("name", Name{param.name}) ||
      !m.mapOptional("dtype", param.dtype) || !m.map("access", access) ||
      !m.map("bytes", Count<uint64_t>{param.bytes, INT64_MAX}))
    return false;
  const StringLiteral *known = find(kAccessNames, access);
  if (known != std::end(kAccessNames)) {
    param.access = Access(known - std::begin(kAccessNames));
    return true;
  }
  path.field("access").report("expected \"read\", \"write\" or \"readwrite\"");
  return false;
}

json::Value toJSON(const KernelSpec &kernel) {
  json::Array params;
  for (const KernelParam &param : kernel.params)
    params.push_back(toJSON(param));
  return json::Object{{"name", kernel.name}, {"params", std::move(params)}};
}

bool fromJSON(const json::Value &value, KernelSpec &kernel, json::Path path) {
  Mapper m(value, path);
  return m && m.map("name", Name{kernel.name}) &&
         m.map("params", kernel.params);
}

json::Value toJSON(const Launch &launch) {
  json::Array args;
  for (const BufferRef &arg : launch.args)
    args.push_back(toJSON(arg));
  auto dims = [](const std::array<uint32_t, 3> &d) {
    return json::Array{d[0], d[1], d[2]};
  };
  return json::Object{
      {"kernel", launch.kernel},     {"grid", dims(launch.grid)},
      {"block", dims(launch.block)}, {"shared_bytes", launch.sharedBytes},
      {"args", std::move(args)},     {"ops", launch.ops},
      {"source", launch.source}};
}

bool fromJSON(const json::Value &value, Launch &launch, json::Path path) {
  Mapper m(value, path);
  return m && m.map("kernel", Name{launch.kernel}) &&
         m.map("grid", launch.grid) && m.map("block", launch.block) &&
         m.mapOptional("shared_bytes",
                       Count<uint32_t>{launch.sharedBytes, UINT32_MAX}) &&
         m.map("args", launch.args) && m.mapOptional("ops", launch.ops) &&
         m.mapOptional("source", launch.source);
}

json::Value toJSON(const Phase &phase) {
  json::Array inputs, outputs, launches;
  for (const std::string &name : phase.inputs)
    inputs.push_back(name);
  for (const std::string &name : phase.outputs)
    outputs.push_back(name);
  for (const Launch &launch : phase.launches)
    launches.push_back(toJSON(launch));
  return json::Object{{"name", phase.name},
                      {"inputs", std::move(inputs)},
                      {"outputs", std::move(outputs)},
                      {"launches", std::move(launches)}};
}

bool fromJSON(const json::Value &value, Phase &phase, json::Path path) {
  Mapper m(value, path);
  return m && m.map("name", Name{phase.name}) &&
         m.mapOptional("inputs", phase.inputs) &&
         m.mapOptional("outputs", phase.outputs) &&
         m.map("launches", phase.launches);
}

json::Value toJSON(const ParamSpec &param) {
  return json::Object{{"name", param.name},
                      {"shape", toJSONArray(param.shape)},
                      {"dtype", getDTypeName(param.dtype)},
                      {"mutable", param.isMutable}};
}

bool fromJSON(const json::Value &value, ParamSpec &param, json::Path path) {
  Mapper m(value, path);
  if (!m || !m.map("name", Name{param.name}) ||
      !m.map("shape", Shape{param.shape}) ||
      !m.mapOptional("dtype", param.dtype) ||
      !m.mapOptional("mutable", param.isMutable))
    return false;
  param.role = inferParamRole(param.name, param.shape);
  return true;
}

bool isKnownPrecision(StringRef name) {
  return llvm::is_contained(kPrecisions, name);
}

std::string getPrecisionList() {
  std::string list;
  for (size_t i = 0; i < std::size(kPrecisions); ++i)
    list += (i == 0                            ? ""
             : i + 1 == std::size(kPrecisions) ? " or "
                                               : ", ") +
            kPrecisions[i].str();
  return list;
}

json::Value toJSON(const BundleManifest &manifest) {
  json::Value source = nullptr;
  if (!manifest.sourcePath.empty() || !manifest.sourceSha256.empty())
    source = json::Object{{"path", manifest.sourcePath},
                          {"sha256", manifest.sourceSha256}};
  json::Array archs, files;
  for (const std::string &arch : manifest.archs)
    archs.push_back(arch);
  for (const std::string &file : manifest.files)
    files.push_back(file);
  json::Value value = json::Object{
      {"format", manifest.format},          {"version", manifest.version},
      {"dlm_version", manifest.dlmVersion}, {"model", manifest.model},
      {"source", std::move(source)},        {"archs", std::move(archs)},
      {"files", std::move(files)}};
  if (manifest.precision != kFP32Precision)
    (*value.getAsObject())["precision"] = manifest.precision;
  if (!manifest.fileSha256.empty()) {
    json::Object hashes;
    for (const auto &[name, hash] : manifest.fileSha256)
      hashes[name] = hash;
    (*value.getAsObject())["file_sha256"] = std::move(hashes);
  }
  return value;
}

bool fromJSON(const json::Value &value, BundleManifest &manifest,
              json::Path path) {
  Mapper m(value, path);
  if (!m || !m.map("format", manifest.format) ||
      !m.map("version", Count<int64_t>{manifest.version, INT64_MAX}) ||
      !m.mapOptional("dlm_version", manifest.dlmVersion) ||
      !m.mapOptional("model", manifest.model) ||
      !m.mapOptional("archs", manifest.archs) ||
      !m.mapOptional("files", manifest.files) ||
      !m.mapOptional("precision", manifest.precision))
    return false;
  if (!isKnownPrecision(manifest.precision)) {
    // json::Path::report takes a literal: the list of kPrecisions, spelled
    // out (BundleTest checks it against getPrecisionList()).
    path.field("precision")
        .report("unknown precision (expected fp32, tf32, bf16 or fp16)");
    return false;
  }
  manifest.fileSha256.clear();
  if (const json::Value *hashes = value.getAsObject()->get("file_sha256")) {
    json::Path at = path.field("file_sha256");
    const json::Object *object = hashes->getAsObject();
    if (!object) {
      at.report("expected an object of file names and SHA-256s");
      return false;
    }
    // In `files` order, then any others (sorted), so that printing is stable.
    SmallVector<StringRef> names;
    for (const auto &entry : *object)
      names.push_back(entry.first);
    sort(names, [&](StringRef a, StringRef b) {
      auto rank = [&](StringRef name) {
        return size_t(find(manifest.files, name) - manifest.files.begin());
      };
      size_t ra = rank(a), rb = rank(b);
      return ra != rb ? ra < rb : a < b;
    });
    for (StringRef name : names) {
      std::optional<StringRef> hash = object->getString(name);
      if (!hash || hash->size() != 64 ||
          hash->find_first_not_of("0123456789abcdef") != StringRef::npos) {
        at.field(name).report("expected a SHA-256 in lower-case hex");
        return false;
      }
      manifest.fileSha256.push_back({name.str(), hash->str()});
    }
  }
  const json::Object *source = value.getAsObject()->getObject("source");
  if (!source)
    return true;
  Mapper s(*value.getAsObject()->get("source"), path.field("source"));
  return s.mapOptional("path", manifest.sourcePath) &&
         s.mapOptional("sha256", manifest.sourceSha256);
}

template <typename T> static json::Array toJSONList(ArrayRef<T> list) {
  json::Array array;
  for (const T &element : list)
    array.push_back(toJSON(element));
  return array;
}

json::Value getPlanJSON(const Bundle &bundle) {
  return json::Object{
      {"version", kBundleFormatVersion},
      {"model", bundle.model},
      {"arena_bytes", bundle.arenaBytes},
      {"inputs", toJSONList<TensorSpec>(bundle.inputs)},
      {"outputs", toJSONList<OutputSpec>(bundle.outputs)},
      {"derived", toJSONList<TensorSpec>(bundle.derived)},
      {"kernels", toJSONList<KernelSpec>(bundle.kernels)},
      {"phases", toJSONList<Phase>(bundle.phases)},
  };
}

/// Reads plan.json's fields (after its version was checked).
static bool fromJSON(const json::Value &value, Bundle &bundle,
                     json::Path path) {
  Mapper m(value, path);
  return m && m.mapOptional("model", bundle.model) &&
         m.map("arena_bytes", Count<uint64_t>{bundle.arenaBytes, INT64_MAX}) &&
         m.map("inputs", bundle.inputs) && m.map("outputs", bundle.outputs) &&
         m.mapOptional("derived", bundle.derived) &&
         m.map("kernels", bundle.kernels) && m.map("phases", bundle.phases);
}

json::Value getParamsJSON(const Bundle &bundle) {
  return json::Object{{"params", toJSONList<ParamSpec>(bundle.params)}};
}

json::Value getManifestJSON(const Bundle &bundle) {
  json::Value value = toJSON(bundle.manifest);
  // For people: how many kernels and launches the plan has.
  json::Object launches;
  for (const Phase &phase : bundle.phases)
    launches[phase.name] = int64_t(phase.launches.size());
  json::Object &object = *value.getAsObject();
  object["kernels"] = int64_t(bundle.kernels.size());
  object["launches"] = std::move(launches);
  return value;
}

//===----------------------------------------------------------------------===//
// Printing JSON for readers
//===----------------------------------------------------------------------===//

/// Keys in the order docs/bundle.md shows them; others follow, sorted.
static constexpr StringLiteral kKeyOrder[] = {
    "format",  "version", "dlm_version", "model",       "kind",
    "name",    "offset",  "shape",       "dtype",       "access",
    "bytes",   "mutable", "buffer",      "arena_bytes", "inputs",
    "outputs", "derived", "kernels",     "launches",    "phases",
    "params",  "kernel",  "grid",        "block",       "shared_bytes",
    "args",    "ops",     "source",      "path",        "sha256",
    "archs",   "files",   "file_sha256"};

static unsigned keyRank(StringRef key) {
  for (auto [i, known] : enumerate(kKeyOrder))
    if (key == known)
      return i;
  return std::size(kKeyOrder);
}

static SmallVector<StringRef> orderedKeys(const json::Object &object) {
  SmallVector<StringRef> keys;
  for (const auto &entry : object)
    keys.push_back(entry.first);
  sort(keys, [](StringRef a, StringRef b) {
    unsigned ra = keyRank(a), rb = keyRank(b);
    return ra != rb ? ra < rb : a < b;
  });
  return keys;
}

static bool isArrayOfObjects(const json::Value &value) {
  const json::Array *array = value.getAsArray();
  return array && !array->empty() && (*array)[0].getAsObject();
}

/// Whether \p value prints on several lines: an array of objects (an
/// element per line), or an object with an array of such objects in it (a
/// phase and its launches, a key per line).
static bool isMultiLine(const json::Value &value) {
  if (isArrayOfObjects(value))
    return true;
  auto hasArrayOfObjects = [](const json::Object &object) {
    for (const auto &entry : object)
      if (isArrayOfObjects(entry.second))
        return true;
    return false;
  };
  if (const json::Object *object = value.getAsObject())
    for (const auto &entry : *object)
      if (isArrayOfObjects(entry.second))
        for (const json::Value &element : *entry.second.getAsArray())
          if (hasArrayOfObjects(*element.getAsObject()))
            return true;
  return false;
}

/// Prints `value` on one line, object keys in kKeyOrder.
static void printCompact(json::OStream &out, const json::Value &value) {
  if (const json::Object *object = value.getAsObject()) {
    out.object([&] {
      for (StringRef key : orderedKeys(*object)) {
        out.attributeBegin(key);
        printCompact(out, *object->get(key));
        out.attributeEnd();
      }
    });
  } else if (const json::Array *array = value.getAsArray()) {
    out.array([&] {
      for (const json::Value &element : *array)
        printCompact(out, element);
    });
  } else {
    out.value(value);
  }
}

static void print(raw_ostream &os, const json::Value &value, unsigned indent) {
  // The top level has a key per line; below it, only what isMultiLine says.
  bool structured = value.getAsObject() || value.getAsArray();
  if (!structured || (indent && !isMultiLine(value))) {
    json::OStream out(os);
    printCompact(out, value);
    return;
  }
  std::string inner(indent + 2, ' ');
  if (const json::Array *array = value.getAsArray()) {
    os << "[\n";
    for (auto [i, element] : enumerate(*array)) {
      os << (i ? ",\n" : "") << inner;
      print(os, element, indent + 2);
    }
    os << "\n" << std::string(indent, ' ') << "]";
    return;
  }
  const json::Object &object = *value.getAsObject();
  os << "{\n";
  for (auto [i, key] : enumerate(orderedKeys(object))) {
    os << (i ? ",\n" : "") << inner << json::Value(key) << ": ";
    print(os, *object.get(key), indent + 2);
  }
  os << "\n" << std::string(indent, ' ') << "}";
}

void printBundleJSON(const json::Value &value, raw_ostream &os) {
  print(os, value, 0);
  os << "\n";
}

static std::string printForReaders(const json::Value &value) {
  std::string text;
  raw_string_ostream os(text);
  printBundleJSON(value, os);
  return text;
}

//===----------------------------------------------------------------------===//
// Verification
//===----------------------------------------------------------------------===//

/// The path of the file \p name of \p bundle's directory, or \p name alone
/// for a bundle built in memory.
static std::string getBundleFilePath(const Bundle &bundle, StringRef name) {
  if (bundle.directory.empty())
    return name.str();
  SmallString<256> path(bundle.directory);
  sys::path::append(path, name);
  return std::string(path);
}

namespace {
/// Where in plan.json a check is, as `plan.phases[1].launches[3]`.
class Where {
public:
  explicit Where(std::string text) : text(std::move(text)) {}
  Where field(StringRef key) const { return Where(text + "." + key.str()); }
  Where index(size_t i) const {
    return Where(formatv("{0}[{1}]", text, i).str());
  }
  Error error(const Twine &message) const {
    return makeError(message + " at " + text);
  }

private:
  std::string text;
};
} // namespace

namespace {
/// The bundle's names, each looked up in constant time (a bundle of a
/// large model has hundreds of thousands of them).
struct NameIndex {
  StringMap<const TensorSpec *> inputs, derived;
  StringMap<const OutputSpec *> outputs;
  StringMap<const ParamSpec *> params;
  StringMap<const KernelSpec *> kernels;

  template <typename T>
  static const T *lookup(const StringMap<const T *> &map, StringRef name) {
    auto it = map.find(name);
    return it == map.end() ? nullptr : it->second;
  }
  /// The bytes of the named tensor \p ref points to (it must be declared).
  uint64_t getNamedBytes(const BufferRef &ref) const {
    switch (ref.kind) {
    case BufferKind::Input:
      return lookup(inputs, ref.name)->getNumBytes();
    case BufferKind::Param: {
      const ParamSpec *param = lookup(params, ref.name);
      return TensorSpec{param->name, param->shape, param->dtype}.getNumBytes();
    }
    case BufferKind::Derived:
      return lookup(derived, ref.name)->getNumBytes();
    case BufferKind::Arena:
      break;
    }
    llvm_unreachable("not a named buffer");
  }
  /// `f32[4,2,3,3]` of the named tensor \p ref points to.
  std::string getNamedType(const BufferRef &ref) const {
    if (ref.kind == BufferKind::Param)
      return formatTensorType(lookup(params, ref.name)->shape);
    return formatTensorType(ref.kind == BufferKind::Input
                                ? lookup(inputs, ref.name)->shape
                                : lookup(derived, ref.name)->shape);
  }
};
} // namespace

/// Checks that the names of \p list are unique, and indexes them in \p map.
template <typename T, typename U, typename GetName>
static Error checkUnique(ArrayRef<T> list, const Where &where, StringRef what,
                         StringMap<const U *> &map, GetName getName) {
  for (auto [i, element] : enumerate(list))
    if (!map.insert({getName(element), &element}).second)
      return where.index(i).error(what + " '" + getName(element) +
                                  "' is declared twice");
  return Error::success();
}

/// Checks that \p ref names a declared tensor and, for the arena, an aligned
/// offset inside it.
static Error verifyBufferRef(const Bundle &bundle, const NameIndex &index,
                             const BufferRef &ref, const Where &where) {
  switch (ref.kind) {
  case BufferKind::Input:
    if (!index.inputs.count(ref.name))
      return where.error("input '" + ref.name + "' is not listed in 'inputs'");
    return Error::success();
  case BufferKind::Arena:
    if (ref.offset >= bundle.arenaBytes)
      return where.error(formatv("arena offset {0} is outside the arena ({1} "
                                 "bytes)",
                                 ref.offset, bundle.arenaBytes));
    if (ref.offset % 4 != 0)
      return where.error(
          formatv("arena offset {0} is not a multiple of 4", ref.offset));
    return Error::success();
  case BufferKind::Param:
    if (!index.params.count(ref.name))
      return where.error("param '" + ref.name +
                         "' is not listed in params.json");
    return Error::success();
  case BufferKind::Derived:
    if (!index.derived.count(ref.name))
      return where.error("derived tensor '" + ref.name +
                         "' is not listed in 'derived'");
    return Error::success();
  }
  llvm_unreachable("unknown buffer kind");
}

/// "reads", "writes" or "reads and writes".
static StringRef getAccessVerb(Access access) {
  switch (access) {
  case Access::Read:
    return "reads";
  case Access::Write:
    return "writes";
  case Access::ReadWrite:
    return "reads and writes";
  }
  llvm_unreachable("unknown access");
}

/// Checks that the buffer \p arg points to holds the bytes kernel parameter
/// \p param reads or writes: inside the arena from its offset, or exactly
/// the named tensor.
static Error verifyExtent(const Bundle &bundle, const NameIndex &index,
                          const KernelSpec &kernel, const KernelParam &param,
                          const BufferRef &arg, const Where &at) {
  std::string what =
      formatv("kernel '{0}' {1} {2} bytes through parameter "
              "'{3}'",
              kernel.name, getAccessVerb(param.access), param.bytes, param.name)
          .str();
  if (arg.kind == BufferKind::Arena) {
    uint64_t room = bundle.arenaBytes - arg.offset;
    if (param.bytes > room)
      return at.error(formatv("{0} from arena offset {1}, but the arena has "
                              "{2} bytes (only {3} from there)",
                              what, arg.offset, bundle.arenaBytes, room));
    return Error::success();
  }
  uint64_t bytes = index.getNamedBytes(arg);
  if (param.bytes != bytes)
    return at.error(formatv("{0}, but {1} '{2}' is {3} ({4} bytes)", what,
                            arg.kind == BufferKind::Derived
                                ? StringRef("derived tensor")
                                : getBufferKindName(arg.kind),
                            arg.name, index.getNamedType(arg), bytes));
  return Error::success();
}

static Error verifyLaunch(const Bundle &bundle, const NameIndex &index,
                          const Phase &phase, const Launch &launch,
                          const Where &where) {
  const KernelSpec *kernel = NameIndex::lookup(index.kernels, launch.kernel);
  if (!kernel)
    return where.field("kernel").error("kernel '" + launch.kernel +
                                       "' is not listed in 'kernels'");
  const auto &grid = launch.grid, &block = launch.block;
  if (grid[0] > kMaxGridDimX || grid[1] > kMaxGridDimYZ ||
      grid[2] > kMaxGridDimYZ)
    return where.field("grid").error(
        formatv("grid [{0}, {1}, {2}] exceeds the limits [{3}, {4}, {4}]",
                grid[0], grid[1], grid[2], kMaxGridDimX, kMaxGridDimYZ));
  if (uint64_t(block[0]) * block[1] * block[2] > kMaxBlockThreads ||
      block[2] > kMaxBlockDimZ)
    return where.field("block").error(
        formatv("block [{0}, {1}, {2}] exceeds the limits ({3} threads, z at "
                "most {4})",
                block[0], block[1], block[2], kMaxBlockThreads, kMaxBlockDimZ));
  if (launch.args.size() != kernel->params.size())
    return where.field("args").error(
        formatv("{0} arguments for kernel '{1}', which has {2} parameters",
                launch.args.size(), kernel->name, kernel->params.size()));
  bool isInit = phase.name == kInitPhase;
  for (auto [i, arg] : enumerate(launch.args)) {
    Where at = where.field("args").index(i);
    if (Error error = verifyBufferRef(bundle, index, arg, at))
      return error;
    if (arg.kind == BufferKind::Input) {
      if (isInit)
        return at.error("an init launch cannot read an input (init runs "
                        "once, before any input)");
      if (!is_contained(phase.inputs, arg.name))
        return at.error("input '" + arg.name + "' is not an input of phase '" +
                        phase.name + "'");
    }
    const KernelParam &param = kernel->params[i];
    if (Error error = verifyExtent(bundle, index, *kernel, param, arg, at))
      return error;
    if (!param.writes())
      continue;
    StringRef target;
    if (arg.kind == BufferKind::Input)
      target = "an input";
    else if (arg.kind == BufferKind::Param &&
             !NameIndex::lookup(index.params, arg.name)->isMutable)
      target = "a param that is not mutable";
    else if (arg.kind == BufferKind::Derived && !isInit)
      target = "a derived tensor outside init";
    if (!target.empty())
      return at.error("kernel '" + kernel->name + "' writes parameter '" +
                      param.name + "', bound to " + target + " ('" + arg.name +
                      "')");
  }
  return Error::success();
}

Error verifyBundle(const Bundle &bundle) {
  Where plan("plan");
  NameIndex index;
  auto tensorName = [](const TensorSpec &spec) { return spec.name; };
  if (Error error = checkUnique<TensorSpec>(bundle.inputs, plan.field("inputs"),
                                            "input", index.inputs, tensorName))
    return error;
  if (Error error = checkUnique<OutputSpec>(
          bundle.outputs, plan.field("outputs"), "output", index.outputs,
          [](const OutputSpec &output) { return output.tensor.name; }))
    return error;
  if (Error error =
          checkUnique<TensorSpec>(bundle.derived, plan.field("derived"),
                                  "derived tensor", index.derived, tensorName))
    return error;
  if (Error error = checkUnique<KernelSpec>(
          bundle.kernels, plan.field("kernels"), "kernel", index.kernels,
          [](const KernelSpec &kernel) { return kernel.name; }))
    return error;
  StringMap<const Phase *> phases;
  if (Error error = checkUnique<Phase>(
          bundle.phases, plan.field("phases"), "phase", phases,
          [](const Phase &phase) { return phase.name; }))
    return error;
  if (Error error = checkUnique<ParamSpec>(
          bundle.params, Where("params"), "parameter", index.params,
          [](const ParamSpec &param) { return param.name; }))
    return error;
  // Inputs, params and derived tensors are buffers of one namespace.
  for (auto [i, derived] : enumerate(bundle.derived))
    if (index.params.count(derived.name))
      return plan.field("derived").index(i).error(
          "derived tensor '" + derived.name + "' has the name of a param");
  for (auto [i, input] : enumerate(bundle.inputs))
    if (index.params.count(input.name) || index.derived.count(input.name))
      return plan.field("inputs").index(i).error(
          "input '" + input.name +
          "' has the name of a param or derived tensor");

  for (auto [i, output] : enumerate(bundle.outputs)) {
    Where at = plan.field("outputs").index(i).field("buffer");
    if (Error error = verifyBufferRef(bundle, index, output.buffer, at))
      return error;
    uint64_t bytes = output.tensor.getNumBytes();
    uint64_t room = output.buffer.kind == BufferKind::Arena
                        ? bundle.arenaBytes - output.buffer.offset
                        : index.getNamedBytes(output.buffer);
    if (bytes > room)
      return at.error(formatv("output '{0}' ({1} bytes) does not fit its "
                              "buffer ({2} bytes from there)",
                              output.tensor.name, bytes, room));
  }

  for (auto [p, phase] : enumerate(bundle.phases)) {
    Where at = plan.field("phases").index(p);
    if (phase.name == kInitPhase && p != 0)
      return at.error("phase 'init' must come first");
    for (auto [i, name] : enumerate(phase.inputs))
      if (!index.inputs.count(name))
        return at.field("inputs").index(i).error("input '" + name +
                                                 "' is not listed in 'inputs'");
    for (auto [i, name] : enumerate(phase.outputs))
      if (!index.outputs.count(name))
        return at.field("outputs").index(i).error(
            "output '" + name + "' is not listed in 'outputs'");
    if (phase.name == kInitPhase &&
        (!phase.inputs.empty() || !phase.outputs.empty()))
      return at.error("phase 'init' has no inputs or outputs");
    for (auto [i, launch] : enumerate(phase.launches))
      if (Error error = verifyLaunch(bundle, index, phase, launch,
                                     at.field("launches").index(i)))
        return error;
  }
  return Error::success();
}

//===----------------------------------------------------------------------===//
// kernels.cu against the plan
//===----------------------------------------------------------------------===//

/// The prefix of each line of the kernel table in kernels.cu.
static constexpr StringLiteral kKernelTablePrefix = "// dlm-kernel ";

static std::string formatDims(const std::array<uint32_t, 3> &d) {
  return formatv("{0},{1},{2}", d[0], d[1], d[2]).str();
}

std::string formatKernelTable(const Bundle &bundle) {
  std::string text =
      "\n// The launch each kernel was generated for and the bytes it reads "
      "or\n// writes through each pointer parameter: the runtime checks "
      "plan.json\n// against these lines before any kernel runs "
      "(docs/bundle.md).\n";
  StringMap<const Launch *> first;
  for (const Phase &phase : bundle.phases)
    for (const Launch &launch : phase.launches)
      first.insert({launch.kernel, &launch});
  for (const KernelSpec &kernel : bundle.kernels) {
    auto it = first.find(kernel.name);
    if (it == first.end())
      continue;
    text += (kKernelTablePrefix + kernel.name +
             " grid=" + formatDims(it->second->grid) +
             " block=" + formatDims(it->second->block) + " bytes=")
                .str();
    for (auto [i, param] : enumerate(kernel.params))
      text += (i ? "," : "") + std::to_string(param.bytes);
    text += "\n";
  }
  return text;
}

/// Parses "X,Y,Z" into \p dims.
static bool parseDims(StringRef text, std::array<uint32_t, 3> &dims) {
  SmallVector<StringRef, 3> parts;
  text.split(parts, ',');
  if (parts.size() != 3)
    return false;
  for (auto [i, part] : enumerate(parts))
    if (part.getAsInteger(10, dims[i]))
      return false;
  return true;
}

/// Checks every preprocessor directive of \p text (the file \p file) that
/// reads a file: an include must name a relative path with no `..` and no
/// macro, so that nothing outside the bundle and the system headers is
/// read.
static Error checkIncludes(StringRef text, StringRef file) {
  SmallVector<StringRef> lines;
  text.split(lines, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    unsigned lineNumber = i + 1;
    // A logical line: backslash-newline continues it.
    std::string logical = lines[i].rtrim("\r").str();
    while (!logical.empty() && logical.back() == '\\' && i + 1 < lines.size()) {
      logical.pop_back();
      logical += lines[++i].rtrim("\r").str();
    }
    // Drop comments between the `#` and the directive's name.
    StringRef rest = StringRef(logical).ltrim();
    if (rest.consume_front("%:") || rest.consume_front("#")) {
      std::string directive;
      StringRef r = rest;
      while (true) {
        r = r.ltrim();
        if (r.consume_front("/*")) {
          size_t end = r.find("*/");
          r = end == StringRef::npos ? StringRef() : r.drop_front(end + 2);
          continue;
        }
        break;
      }
      size_t nameEnd = r.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
      StringRef name = r.take_front(nameEnd);
      if (name != "include" && name != "include_next" && name != "import")
        continue;
      StringRef operand = r.drop_front(name.size());
      while (true) {
        operand = operand.ltrim();
        if (operand.consume_front("/*")) {
          size_t end = operand.find("*/");
          operand = end == StringRef::npos ? StringRef()
                                           : operand.drop_front(end + 2);
          continue;
        }
        break;
      }
      auto refuse = [&](const Twine &why) {
        return makeError(formatv("{0}:{1}: refusing '#{2}': {3}", file,
                                 lineNumber, name, why.str())
                             .str());
      };
      char open = operand.empty() ? 0 : operand.front();
      char close = open == '"' ? '"' : open == '<' ? '>' : 0;
      size_t end = close ? operand.find(close, 1) : StringRef::npos;
      if (!close || end == StringRef::npos)
        return refuse("only \"file\" and <file> forms are allowed (a bundle's "
                      "includes must be checkable)");
      StringRef path = operand.slice(1, end);
      if (path.empty() || path.front() == '/' || path.front() == '\\' ||
          path.contains(':'))
        return refuse("'" + path +
                      "' is an absolute path; a bundle includes only its "
                      "own files");
      SmallVector<StringRef> components;
      path.split(components, '/');
      for (StringRef component : components)
        if (component == ".." || component.contains('\\'))
          return refuse("'" + path +
                        "' leaves the bundle directory; a bundle includes "
                        "only its own files");
    }
  }
  return Error::success();
}

/// The `__launch_bounds__(N)` of each kernel kernels.cu defines, by name
/// (the smallest where one is given twice).
static StringMap<uint64_t> findLaunchBounds(StringRef source) {
  StringMap<uint64_t> bounds;
  static constexpr StringLiteral kKeyword = "__launch_bounds__";
  for (size_t at = source.find(kKeyword); at != StringRef::npos;
       at = source.find(kKeyword, at + 1)) {
    StringRef rest = source.drop_front(at + kKeyword.size()).ltrim();
    if (!rest.consume_front("("))
      continue;
    rest = rest.ltrim();
    size_t digits = rest.find_first_not_of("0123456789");
    uint64_t bound;
    if (digits == 0 || rest.take_front(digits).getAsInteger(10, bound))
      continue;
    size_t close = rest.find(')');
    if (close == StringRef::npos)
      continue;
    rest = rest.drop_front(close + 1).ltrim();
    size_t nameEnd = rest.find_first_not_of(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
    StringRef name = rest.take_front(nameEnd);
    if (name.empty() || !rest.drop_front(name.size()).ltrim().starts_with("("))
      continue;
    auto [it, inserted] = bounds.insert({name, bound});
    if (!inserted)
      it->second = std::min(it->second, bound);
  }
  return bounds;
}

Expected<StringMap<KernelTableEntry>> parseKernelTable(StringRef source,
                                                       StringRef kernelsPath) {
  StringMap<KernelTableEntry> table;
  // Line numbers counted on from the previous table line: linear in the
  // source however many kernels it has.
  size_t counted = 0;
  unsigned line = 1;
  for (size_t at = source.find(kKernelTablePrefix); at != StringRef::npos;
       at = source.find(kKernelTablePrefix, at + 1)) {
    if (at != 0 && source[at - 1] != '\n')
      continue;
    line += source.slice(counted, at).count('\n');
    counted = at;
    StringRef text = source.drop_front(at + kKernelTablePrefix.size());
    text = text.take_until([](char c) { return c == '\n'; }).rtrim();
    SmallVector<StringRef, 4> fields;
    text.split(fields, ' ', -1, /*KeepEmpty=*/false);
    KernelTableEntry entry;
    entry.line = line;
    bool ok =
        fields.size() == 4 && fields[1].consume_front("grid=") &&
        parseDims(fields[1], entry.grid) && fields[2].consume_front("block=") &&
        parseDims(fields[2], entry.block) && fields[3].consume_front("bytes=");
    if (ok && !fields[3].empty()) {
      SmallVector<StringRef> parts;
      fields[3].split(parts, ',');
      for (StringRef part : parts) {
        uint64_t n;
        if (part.getAsInteger(10, n)) {
          ok = false;
          break;
        }
        entry.bytes.push_back(n);
      }
    }
    if (!ok)
      return makeError(
          formatv("{0}:{1}: a malformed kernel table line (expected "
                  "'// dlm-kernel NAME grid=X,Y,Z block=X,Y,Z "
                  "bytes=B,...')",
                  kernelsPath, line)
              .str());
    if (!table.insert({fields[0], std::move(entry)}).second)
      return makeError(formatv("{0}:{1}: kernel '{2}' is in the kernel table "
                               "twice",
                               kernelsPath, line, fields[0])
                           .str());
  }
  return table;
}

Error verifyKernelSource(const Bundle &bundle) {
  if (bundle.kernelsSource.empty())
    return Error::success();
  std::string kernelsPath = getBundleFilePath(bundle, "kernels.cu");
  if (Error error = checkIncludes(bundle.kernelsSource, kernelsPath))
    return error;
  if (Error error = checkIncludes(bundle.libraryHeader,
                                  getBundleFilePath(bundle, "dlm_kernels.cuh")))
    return error;

  StringRef source = bundle.kernelsSource;
  Expected<StringMap<KernelTableEntry>> parsed =
      parseKernelTable(source, kernelsPath);
  if (!parsed)
    return parsed.takeError();
  const StringMap<KernelTableEntry> &table = *parsed;
  StringMap<uint64_t> bounds = findLaunchBounds(source);

  for (const KernelSpec &kernel : bundle.kernels) {
    auto it = table.find(kernel.name);
    if (it == table.end())
      return makeError(formatv("{0}: kernel '{1}' of plan.json has no line in "
                               "the kernel table of kernels.cu ('// "
                               "dlm-kernel {1} ...', which dlmc writes); the "
                               "bytes it reads cannot be checked",
                               kernelsPath, kernel.name)
                           .str());
    const KernelTableEntry &entry = it->second;
    if (entry.bytes.size() != kernel.params.size())
      return makeError(formatv("{0}:{1}: kernel '{2}' takes {3} pointers in "
                               "kernels.cu but {4} in plan.json",
                               kernelsPath, entry.line, kernel.name,
                               entry.bytes.size(), kernel.params.size())
                           .str());
    for (auto [i, param] : enumerate(kernel.params))
      if (entry.bytes[i] != param.bytes)
        return makeError(
            formatv("{0}:{1}: kernel '{2}' {3} {4} bytes through parameter "
                    "'{5}' (#{6}) in kernels.cu, but plan.json says {7}",
                    kernelsPath, entry.line, kernel.name,
                    getAccessVerb(param.access), entry.bytes[i], param.name, i,
                    param.bytes)
                .str());
  }
  for (const Phase &phase : bundle.phases) {
    for (auto [i, launch] : enumerate(phase.launches)) {
      auto it = table.find(launch.kernel);
      if (it == table.end())
        continue; // verifyBundle: not a kernel of the plan
      const KernelTableEntry &entry = it->second;
      std::string where =
          formatv("{0}[{1}] (kernel '{2}')", phase.name, i, launch.kernel)
              .str();
      if (launch.grid != entry.grid || launch.block != entry.block)
        return makeError(
            formatv("{0}: launch {1} has grid [{2}] and block "
                    "[{3}], but the kernel was generated for grid "
                    "[{4}] and block [{5}] (kernels.cu:{6})",
                    getBundleFilePath(bundle, "plan.json"), where,
                    formatDims(launch.grid), formatDims(launch.block),
                    formatDims(entry.grid), formatDims(entry.block), entry.line)
                .str());
      auto bound = bounds.find(launch.kernel);
      if (bound != bounds.end() && launch.getBlockThreads() > bound->second)
        return makeError(formatv("{0}: launch {1} has {2} threads a block, "
                                 "more than the kernel's "
                                 "__launch_bounds__({3}) in kernels.cu",
                                 getBundleFilePath(bundle, "plan.json"), where,
                                 launch.getBlockThreads(), bound->second)
                             .str());
    }
  }
  return Error::success();
}

Error verifyBundleForLoad(const Bundle &bundle) {
  if (Error error = verifyBundle(bundle))
    return createFileError(getBundleFilePath(bundle, "plan.json"),
                           std::move(error));
  return verifyKernelSource(bundle);
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// How deeply a bundle's JSON may nest (plan.json nests six levels).
static constexpr unsigned kMaxJSONDepth = 32;

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

/// Checks the `version` of plan.json or manifest.json before anything else
/// is read: another format is refused as a whole.
static Error checkVersion(const json::Value &root) {
  const json::Value *version = root.getAsObject()->get("version");
  if (!version)
    return makeError("missing 'version' (this runtime reads bundle format " +
                     Twine(kBundleFormatVersion) + ")");
  std::optional<int64_t> n = getJSONInteger(*version);
  if (n && *n == kBundleFormatVersion)
    return Error::success();
  std::string found = formatv("{0}", *version).str();
  return makeError("bundle format version " + found +
                   " is not supported: this runtime reads version " +
                   Twine(kBundleFormatVersion) +
                   "; recompile the model with this dlm (dlmc MODEL.dlm -o "
                   "DIR)");
}

/// Parses JSON \p text into \p out with fromJSON, the root named \p root.
template <typename T>
static Error parseInto(StringRef text, StringRef root, bool versioned, T &out) {
  Expected<json::Value> value = parseJSONObject(text);
  if (!value)
    return value.takeError();
  if (versioned)
    if (Error error = checkVersion(*value))
      return error;
  json::Path::Root path(root);
  if (!fromJSON(*value, out, path))
    return path.getError();
  return Error::success();
}

namespace {
/// params.json's one field.
struct ParamsFile {
  std::vector<ParamSpec> &params;
};
bool fromJSON(const json::Value &value, ParamsFile file, json::Path path) {
  Mapper m(value, path);
  return m && m.map("params", file.params);
}
} // namespace

/// The path of bundle file \p name in \p dir (just \p name without one).
static std::string getBundlePath(StringRef dir, StringRef name) {
  SmallString<256> path(dir);
  sys::path::append(path, name);
  return std::string(path);
}

Error parseBundleJSON(Bundle &bundle, StringRef manifest, StringRef plan,
                      StringRef params) {
  StringRef dir = bundle.directory;
  // The manifest first: a bundle of another format is refused as a whole.
  std::string path = getBundlePath(dir, "manifest.json");
  if (Error error = parseInto(manifest, "manifest", true, bundle.manifest))
    return createFileError(path, std::move(error));
  if (bundle.manifest.format != kBundleFormatName)
    return createFileError(path, makeError("format '" + bundle.manifest.format +
                                           "' is not a dlm bundle's ('" +
                                           kBundleFormatName + "')"));
  std::string planPath = getBundlePath(dir, "plan.json");
  if (Error error = parseInto(plan, "plan", true, bundle))
    return createFileError(planPath, std::move(error));
  ParamsFile paramsFile{bundle.params};
  if (Error error = parseInto(params, "params", false, paramsFile))
    return createFileError(getBundlePath(dir, "params.json"), std::move(error));
  if (Error error = verifyBundle(bundle))
    return createFileError(planPath, std::move(error));
  return Error::success();
}

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
  std::string path, manifest, plan, params;
  if (Error error = readBundleFile(dir, "manifest.json", path, manifest))
    return std::move(error);
  if (Error error = readBundleFile(dir, "plan.json", path, plan))
    return std::move(error);
  if (Error error = readBundleFile(dir, "params.json", path, params))
    return std::move(error);
  if (Error error =
          readBundleFile(dir, "kernels.cu", path, bundle.kernelsSource))
    return std::move(error);
  if (Error error =
          readBundleFile(dir, "dlm_kernels.cuh", path, bundle.libraryHeader))
    return std::move(error);
  // The files against the manifest's SHA-256s, before any is parsed.
  {
    BundleManifest parsed;
    if (Error error = parseInto(manifest, "manifest", true, parsed))
      return createFileError(getBundlePath(dir, "manifest.json"),
                             std::move(error));
    std::pair<StringRef, StringRef> files[] = {
        {"kernels.cu", bundle.kernelsSource},
        {"dlm_kernels.cuh", bundle.libraryHeader},
        {"plan.json", plan},
        {"params.json", params}};
    if (!parsed.fileSha256.empty()) {
      for (const auto &entry : parsed.fileSha256) {
        StringRef name = entry.first;
        if (none_of(files,
                    [&](const auto &file) { return file.first == name; }))
          return createFileError(
              getBundlePath(dir, "manifest.json"),
              makeError("'file_sha256' lists '" + name +
                        "', which is not a file of a bundle"));
      }
      for (const auto &file : files) {
        StringRef name = file.first, text = file.second;
        auto listed = find_if(parsed.fileSha256, [&](const auto &entry) {
          return entry.first == name;
        });
        if (listed == parsed.fileSha256.end())
          return createFileError(
              getBundlePath(dir, "manifest.json"),
              makeError("'file_sha256' has no SHA-256 for '" + name + "'"));
        std::string actual = toHex(SHA256::hash(arrayRefFromStringRef(text)),
                                   /*LowerCase=*/true);
        if (actual != listed->second)
          return createFileError(
              getBundlePath(dir, name),
              makeError("the file does not match its SHA-256 in "
                        "manifest.json (" +
                        listed->second + "; the file's is " + actual +
                        "): the bundle was changed after dlmc wrote it"));
      }
    }
  }
  if (Error error = parseBundleJSON(bundle, manifest, plan, params))
    return std::move(error);
  if (Error error = verifyKernelSource(bundle))
    return std::move(error);
  return bundle;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

namespace {
struct BundleFile {
  StringRef name;
  std::string contents;
};
} // namespace

/// Writes `files` into the fresh directory `dir`.
static Error writeFiles(StringRef dir, ArrayRef<BundleFile> files) {
  for (const BundleFile &file : files) {
    SmallString<256> path(dir);
    sys::path::append(path, file.name);
    std::error_code error;
    raw_fd_ostream os(path, error, sys::fs::OF_None);
    if (error)
      return makeError("cannot write '" + path + "': " + error.message());
    os << file.contents;
    os.close();
    if (os.has_error())
      return makeError("cannot write '" + path + "': " + os.error().message());
  }
  return Error::success();
}

/// Why the directory \p dir is not one writeBundle may replace, or nothing
/// if it may: an empty directory, or one whose manifest.json is a dlm bundle
/// manifest and which holds nothing but regular files its `files` list
/// names. Symbolic links inside are not followed (and are refused).
static std::optional<std::string> getNotReplaceableReason(StringRef dir) {
  std::vector<std::pair<std::string, bool>> entries; // name, regular file
  std::error_code error;
  for (sys::fs::directory_iterator it(dir, error, /*FollowSymlinks=*/false),
       end;
       it != end && !error; it.increment(error)) {
    ErrorOr<sys::fs::basic_file_status> status = it->status();
    if (!status)
      return "cannot read '" + it->path() + "': " + status.getError().message();
    entries.emplace_back(sys::path::filename(it->path()).str(),
                         status->type() == sys::fs::file_type::regular_file);
  }
  if (error)
    return "cannot list it: " + error.message();
  if (entries.empty())
    return std::nullopt;

  SmallString<256> manifestPath(dir);
  sys::path::append(manifestPath, "manifest.json");
  if (!is_contained(entries,
                    std::make_pair(std::string("manifest.json"), true)))
    return std::string("it holds no manifest.json");
  ErrorOr<std::unique_ptr<MemoryBuffer>> text =
      MemoryBuffer::getFile(manifestPath);
  if (!text)
    return "cannot read its manifest.json: " + text.getError().message();
  Expected<json::Value> value = json::parse((*text)->getBuffer());
  if (!value) {
    consumeError(value.takeError());
    return std::string("its manifest.json is not JSON");
  }
  BundleManifest manifest;
  json::Path::Root root("manifest");
  if (!fromJSON(*value, manifest, root) ||
      manifest.format != kBundleFormatName) {
    consumeError(root.getError());
    return ("its manifest.json does not say \"format\": \"" +
            kBundleFormatName + "\"")
        .str();
  }
  for (const auto &[name, regular] : entries) {
    if (!regular)
      return "it holds '" + name + "', which is not a regular file";
    if (name != "manifest.json" && !is_contained(manifest.files, name))
      return "it holds '" + name + "', which its manifest does not list";
  }
  return std::nullopt;
}

/// Creates a fresh directory named `<dir>.tmp-XXXXXX` beside \p dir (in the
/// same directory, so that renaming it to \p dir stays on one file system).
static std::error_code createStagingDirectory(StringRef dir,
                                              SmallVectorImpl<char> &result) {
  std::error_code error;
  for (int attempt = 0; attempt < 64; ++attempt) {
    sys::fs::createUniquePath(dir + ".tmp-%%%%%%", result,
                              /*MakeAbsolute=*/false);
    error = sys::fs::create_directory(result, /*IgnoreExisting=*/false);
    if (error != std::errc::file_exists)
      return error;
  }
  return error;
}

/// Removes what an interrupted writeBundle of \p dir left beside it: the
/// directories `<dir>.tmp-*` (staging) and `<dir>.old-*` (the bundle moved
/// aside) that are empty or bundles; reports any other through \p warn.
static void removeStaleDirectories(StringRef dir,
                                   function_ref<void(const Twine &)> warn) {
  StringRef parent = sys::path::parent_path(dir);
  std::string base = sys::path::filename(dir).str();
  std::error_code error;
  for (sys::fs::directory_iterator
           it(parent.empty() ? StringRef(".") : parent, error,
              /*FollowSymlinks=*/false),
       end;
       it != end && !error; it.increment(error)) {
    StringRef name = sys::path::filename(it->path());
    if (!name.starts_with(base + ".tmp-") && !name.starts_with(base + ".old-"))
      continue;
    SmallString<256> path(parent);
    sys::path::append(path, name);
    ErrorOr<sys::fs::basic_file_status> status = it->status();
    std::optional<std::string> reason = "it is not a directory";
    if (status && status->type() == sys::fs::file_type::directory_file)
      reason = getNotReplaceableReason(path);
    if (!reason && !sys::fs::remove_directories(path, /*IgnoreErrors=*/false))
      continue;
    if (warn)
      warn("'" + path + "' looks left by an interrupted write of '" + dir +
           "' but is not a dlm bundle (" + reason.value_or("cannot remove it") +
           "); leaving it");
  }
}

/// Swaps the directories \p a and \p b in one step (Linux's renameat2 with
/// RENAME_EXCHANGE); false where the system or file system cannot.
static bool exchangeDirectories(const Twine &a, const Twine &b) {
#if defined(__linux__) && defined(RENAME_EXCHANGE)
  // Testing only: the two-rename fallback, killed between its renames.
  if (sys::Process::GetEnv("DLM_TEST_KILL_AT") == "bundle-swap")
    return false;
  SmallString<256> aPath, bPath;
  return renameat2(AT_FDCWD, a.toNullTerminatedStringRef(aPath).data(),
                   AT_FDCWD, b.toNullTerminatedStringRef(bPath).data(),
                   RENAME_EXCHANGE) == 0;
#else
  return false;
#endif
}

Error writeBundle(const Bundle &bundle, StringRef dirArg,
                  function_ref<void(const Twine &)> warn) {
  // 1. Render every file; nothing touches the disk before all succeed. The
  //    manifest comes first, so that a staging directory of a run killed
  //    while writing is recognised as ours and removed by the next run.
  if (Error error = verifyBundle(bundle))
    return makeError("the bundle is not valid: " + toString(std::move(error)));
  if (Error error = verifyKernelSource(bundle))
    return makeError("the bundle is not valid: " + toString(std::move(error)));
  SmallVector<BundleFile> files = {
      {"manifest.json", ""},
      {"kernels.cu", bundle.kernelsSource},
      {"dlm_kernels.cuh", bundle.libraryHeader},
      {"plan.json", printForReaders(getPlanJSON(bundle))},
      {"params.json", printForReaders(getParamsJSON(bundle))},
  };
  // The manifest lists exactly the files written, whatever the bundle in
  // memory says: that list is what makes the directory replaceable later.
  json::Value manifest = getManifestJSON(bundle);
  json::Array names;
  json::Object hashes;
  for (const BundleFile &file : drop_begin(files)) {
    names.push_back(file.name);
    hashes[file.name] =
        toHex(SHA256::hash(arrayRefFromStringRef(file.contents)),
              /*LowerCase=*/true);
  }
  names.push_back(files.front().name);
  (*manifest.getAsObject())["files"] = std::move(names);
  (*manifest.getAsObject())["file_sha256"] = std::move(hashes);
  files.front().contents = printForReaders(manifest);

  // 2. Check the destination: replace only an empty directory or a bundle,
  //    never through a symbolic link.
  SmallString<256> dir(dirArg);
  while (dir.size() > 1 && sys::path::is_separator(dir.back()))
    dir.pop_back();
  if (dir.empty())
    return makeError("no bundle directory given");
  StringRef base = sys::path::filename(dir);
  if (base == "." || base == ".." || base == "/")
    return makeError("cannot write a bundle to '" + dir +
                     "': name the bundle directory itself");
  sys::fs::file_status status;
  bool exists = !sys::fs::status(dir, status, /*Follow=*/false);
  if (exists) {
    if (sys::fs::is_symlink_file(status))
      return makeError("'" + dir +
                       "' is a symbolic link; not replacing it (give the "
                       "bundle directory itself)");
    if (!sys::fs::is_directory(status))
      return makeError("'" + dir + "' exists and is not a directory");
    if (std::optional<std::string> reason = getNotReplaceableReason(dir))
      return makeError("'" + dir + "' exists and is not a dlm bundle (" +
                       *reason + "); not replacing it");
  }

  // 3. Write a sibling directory, then rename it into place.
  StringRef parent = sys::path::parent_path(dir);
  if (!parent.empty() && !sys::fs::is_directory(parent))
    return makeError("cannot write bundle '" + dir + "': directory '" + parent +
                     "' does not exist");
  removeStaleDirectories(dir, warn);
  SmallString<256> staging;
  if (std::error_code error = createStagingDirectory(dir, staging))
    return makeError("cannot create a directory next to '" + dir +
                     "': " + error.message());
  auto discard = [&](const Twine &message) {
    (void)sys::fs::remove_directories(staging);
    return makeError(message);
  };
  if (Error error = writeFiles(staging, files)) {
    (void)sys::fs::remove_directories(staging);
    return error;
  }
  testKillPoint("bundle-rename");
  if (!exists) {
    if (std::error_code error = sys::fs::rename(staging, dir))
      return discard("cannot rename '" + staging + "' to '" + dir +
                     "': " + error.message());
    return Error::success();
  }
  // Replacing: swap the two directories in one step where the system can,
  // so that `dir` always holds the old or the new bundle; staging then holds
  // the old one.
  if (exchangeDirectories(staging, dir)) {
    (void)sys::fs::remove_directories(staging);
    return Error::success();
  }
  // Else two renames; between them `dir` does not exist and the old bundle
  // is `<dir>.old-XXXXXX`.
  SmallString<256> old;
  sys::fs::createUniquePath(dir + ".old-%%%%%%", old, /*MakeAbsolute=*/false);
  if (std::error_code error = sys::fs::rename(dir, old))
    return discard("cannot move the old '" + dir +
                   "' aside: " + error.message());
  testKillPoint("bundle-swap");
  if (std::error_code error = sys::fs::rename(staging, dir)) {
    (void)sys::fs::rename(old, dir);
    return discard("cannot rename '" + staging + "' to '" + dir +
                   "': " + error.message());
  }
  (void)sys::fs::remove_directories(old);
  return Error::success();
}

} // namespace dlm

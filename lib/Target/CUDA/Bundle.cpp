//===- Bundle.cpp - plan.json, params.json, manifest.json and the bundle --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The JSON files of a bundle (docs/bundle.md), built with llvm::json, and
// the atomic writer of the bundle directory.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "TargetModel.h"

#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;
namespace json = llvm::json;

/// The version of plan.json's format.
static constexpr int64_t kPlanVersion = 1;

static json::Array shapeArray(ArrayRef<int64_t> shape) {
  json::Array array;
  for (int64_t d : shape)
    array.push_back(d);
  return array;
}

static json::Array shapeArray(Value v) {
  return shapeArray(cast<RankedTensorType>(v.getType()).getShape());
}

static json::Object argObject(const ArgRef &ref) {
  switch (ref.kind) {
  case ArgRef::Kind::Input:
    return json::Object{{"kind", "input"}};
  case ArgRef::Kind::Arena:
    return json::Object{{"kind", "arena"}, {"offset", ref.offset}};
  case ArgRef::Kind::Param:
    return json::Object{{"kind", "param"}, {"name", ref.name}};
  case ArgRef::Kind::Derived:
    return json::Object{{"kind", "derived"}, {"name", ref.name}};
  }
  llvm_unreachable("unknown argument kind");
}

//===----------------------------------------------------------------------===//
// plan.json and params.json
//===----------------------------------------------------------------------===//

FailureOr<json::Value> mlir::dlm::buildPlan(ModuleOp module) {
  FailureOr<TargetModel> model = TargetModel::build(module, std::nullopt);
  if (failed(model))
    return failure();
  json::Array init, forward;
  for (Operation *op : model->getKernels()) {
    FailureOr<LaunchAttrs> launch = LaunchAttrs::read(op, true);
    if (failed(launch))
      return failure();
    json::Array args;
    for (Value v : model->getKernelInputs(op))
      args.push_back(argObject(model->getArgRef(v)));
    args.push_back(argObject(model->getArgRef(op->getResult(0))));
    json::Object object{
        {"kernel", launch->name},
        {"grid", shapeArray(launch->grid)},
        {"block", shapeArray(launch->block)},
        {"shared_bytes", 0},
        {"args", std::move(args)},
        {"ops", TargetModel::describe(op)},
        {"source", TargetModel::getSourceLines(op->getLoc())},
    };
    (model->isInit(op) ? init : forward).push_back(std::move(object));
  }
  json::Array derived;
  for (const DerivedTensor &tensor : model->getDerived())
    derived.push_back(json::Object{{"name", tensor.name},
                                   {"shape", shapeArray(tensor.value)}});
  func::FuncOp forwardFunc = model->getForward();
  Value output = forwardFunc.getBody().front().getTerminator()->getOperand(0);
  return json::Value(json::Object{
      {"version", kPlanVersion},
      {"model", module.getSymName().value_or("model")},
      {"arena_bytes", model->getPlan().getPeakBytes()},
      {"input",
       json::Object{{"shape", shapeArray(forwardFunc.getArgument(0))}}},
      {"output", json::Object{{"shape", shapeArray(output)},
                              {"buffer", argObject(model->getArgRef(output))}}},
      {"derived", std::move(derived)},
      {"init", std::move(init)},
      {"forward", std::move(forward)},
  });
}

FailureOr<json::Value> mlir::dlm::buildParams(ModuleOp module,
                                              ArrayRef<std::string> order) {
  FailureOr<TargetModel> model = TargetModel::build(module, std::nullopt);
  if (failed(model))
    return failure();
  ArrayRef<ParamTensor> params = model->getParams();
  SmallVector<const ParamTensor *> ordered;
  if (order.empty()) {
    for (const ParamTensor &param : params)
      ordered.push_back(&param);
  } else {
    llvm::StringMap<const ParamTensor *> byName;
    for (const ParamTensor &param : params)
      byName[param.name] = &param;
    llvm::StringSet<> listed;
    for (const std::string &name : order) {
      auto it = byName.find(name);
      if (it == byName.end())
        return module.emitError("parameter '")
               << name << "' of the model as written is not read by the "
               << "compiled module";
      if (listed.insert(name).second)
        ordered.push_back(it->second);
    }
    for (const ParamTensor &param : params)
      if (!listed.contains(param.name))
        return module.emitError("the compiled module reads parameter '")
               << param.name << "', which the model as written does not have";
  }
  json::Array array;
  for (const ParamTensor *param : ordered)
    array.push_back(json::Object{{"name", param->name},
                                 {"shape", shapeArray(param->shape)}});
  return json::Value(json::Object{{"params", std::move(array)}});
}

//===----------------------------------------------------------------------===//
// Printing JSON for readers
//===----------------------------------------------------------------------===//

/// Keys in the order docs/bundle.md shows them; others follow, sorted.
static constexpr llvm::StringLiteral kKeyOrder[] = {
    "format", "version", "dlm_version", "model",        "arena_bytes",
    "input",  "output",  "derived",     "init",         "forward",
    "kernel", "grid",    "block",       "shared_bytes", "args",
    "ops",    "source",  "path",        "sha256",       "kind",
    "offset", "name",    "shape",       "buffer",       "params"};

static unsigned keyRank(StringRef key) {
  for (auto [i, known] : llvm::enumerate(kKeyOrder))
    if (key == known)
      return i;
  return std::size(kKeyOrder);
}

static SmallVector<StringRef> orderedKeys(const json::Object &object) {
  SmallVector<StringRef> keys;
  for (const auto &entry : object)
    keys.push_back(entry.first);
  llvm::sort(keys, [](StringRef a, StringRef b) {
    unsigned ra = keyRank(a), rb = keyRank(b);
    return ra != rb ? ra < rb : a < b;
  });
  return keys;
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

static void printCompact(llvm::raw_ostream &os, const json::Value &value) {
  json::OStream out(os);
  printCompact(out, value);
}

void mlir::dlm::printBundleJSON(const json::Value &value,
                                llvm::raw_ostream &os) {
  const json::Object *top = value.getAsObject();
  if (!top) {
    printCompact(os, value);
    os << "\n";
    return;
  }
  const json::Object &object = *top;
  os << "{\n";
  bool first = true;
  for (StringRef key : orderedKeys(object)) {
    const json::Value &field = *object.get(key);
    os << (first ? "" : ",\n") << "  " << json::Value(key) << ": ";
    first = false;
    const json::Array *array = field.getAsArray();
    if (array && !array->empty() && (*array)[0].getAsObject()) {
      os << "[\n";
      for (auto [i, element] : llvm::enumerate(*array)) {
        os << (i ? ",\n" : "") << "    ";
        printCompact(os, element);
      }
      os << "\n  ]";
    } else {
      printCompact(os, field);
    }
  }
  os << "\n}\n";
}

static std::string printForReaders(const json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  printBundleJSON(value, os);
  return text;
}

//===----------------------------------------------------------------------===//
// The bundle
//===----------------------------------------------------------------------===//

namespace {
struct BundleFile {
  const char *name;
  std::string contents;
};
} // namespace

static LogicalResult ioError(ModuleOp module, const Twine &message) {
  return mlir::emitError(UnknownLoc::get(module.getContext()), message);
}

/// Writes `files` into the fresh directory `dir`.
static LogicalResult writeFiles(ModuleOp module, StringRef dir,
                                ArrayRef<BundleFile> files) {
  for (const BundleFile &file : files) {
    SmallString<256> path(dir);
    llvm::sys::path::append(path, file.name);
    std::error_code error;
    llvm::raw_fd_ostream os(path, error, llvm::sys::fs::OF_None);
    if (error)
      return ioError(module, "cannot write '" + path + "': " + error.message());
    os << file.contents;
    os.close();
    if (os.has_error())
      return ioError(module,
                     "cannot write '" + path + "': " + os.error().message());
  }
  return success();
}

LogicalResult mlir::dlm::writeBundle(ModuleOp module, StringRef dirArg,
                                     const BundleOptions &options) {
  // 1. Render every file; nothing touches the disk before all succeed.
  std::string kernels;
  llvm::raw_string_ostream kernelsStream(kernels);
  if (failed(emitCUDA(module, kernelsStream)))
    return failure();
  FailureOr<json::Value> plan = buildPlan(module);
  if (failed(plan))
    return failure();
  FailureOr<json::Value> params = buildParams(module, options.paramOrder);
  if (failed(params))
    return failure();
  FailureOr<TargetModel> model = TargetModel::build(module, std::nullopt);
  if (failed(model))
    return failure();

  json::Value source = nullptr;
  if (!options.sourcePath.empty() || !options.sourceText.empty()) {
    std::array<uint8_t, 32> hash =
        llvm::SHA256::hash(llvm::arrayRefFromStringRef(options.sourceText));
    source = json::Object{{"path", options.sourcePath},
                          {"sha256", llvm::toHex(hash, /*LowerCase=*/true)}};
  }
  json::Array archs;
  for (const std::string &arch : options.archs)
    archs.push_back(arch);
  unsigned initLaunches = 0, forwardLaunches = 0;
  llvm::StringSet<> kernelNames;
  for (Operation *op : model->getKernels()) {
    ++(model->isInit(op) ? initLaunches : forwardLaunches);
    kernelNames.insert(op->getAttrOfType<StringAttr>(kKernelAttr).getValue());
  }
  json::Value manifest = json::Object{
      {"format", "dlm-bundle"},
      {"version", kPlanVersion},
      {"dlm_version", DLM_VERSION},
      {"model", module.getSymName().value_or("model")},
      {"source", std::move(source)},
      {"archs", std::move(archs)},
      {"kernels", int64_t(kernelNames.size())},
      {"launches",
       json::Object{{"init", initLaunches}, {"forward", forwardLaunches}}},
      {"files", json::Array{"kernels.cu", "dlm_kernels.cuh", "plan.json",
                            "params.json", "manifest.json"}},
  };
  SmallVector<BundleFile> files = {
      {"kernels.cu", std::move(kernels)},
      {"dlm_kernels.cuh", getDeviceLibrarySource().str()},
      {"plan.json", printForReaders(*plan)},
      {"params.json", printForReaders(*params)},
      {"manifest.json", printForReaders(manifest)},
  };

  // 2. Check the destination: replace only an empty directory or a bundle.
  SmallString<256> dir(dirArg);
  while (dir.size() > 1 && llvm::sys::path::is_separator(dir.back()))
    dir.pop_back();
  if (dir.empty())
    return ioError(module, "no bundle directory given");
  bool exists = llvm::sys::fs::exists(dir);
  if (exists) {
    if (!llvm::sys::fs::is_directory(dir))
      return ioError(module, "'" + dir + "' exists and is not a directory");
    SmallString<256> manifestPath(dir);
    llvm::sys::path::append(manifestPath, "manifest.json");
    std::error_code error;
    bool empty = llvm::sys::fs::directory_iterator(dir, error) ==
                 llvm::sys::fs::directory_iterator();
    if (!empty && !llvm::sys::fs::exists(manifestPath))
      return ioError(module, "'" + dir +
                                 "' exists and is not a dlm bundle; not "
                                 "replacing it");
  }

  // 3. Write a sibling directory, then rename it into place.
  StringRef parent = llvm::sys::path::parent_path(dir);
  if (!parent.empty() && !llvm::sys::fs::is_directory(parent))
    return ioError(module, "cannot write bundle '" + dir + "': directory '" +
                               parent + "' does not exist");
  SmallString<256> staging;
  if (std::error_code error =
          llvm::sys::fs::createUniqueDirectory(dir + ".tmp", staging))
    return ioError(module, "cannot create a directory next to '" + dir +
                               "': " + error.message());
  auto discard = [&](const Twine &message) {
    (void)llvm::sys::fs::remove_directories(staging);
    return ioError(module, message);
  };
  if (failed(writeFiles(module, staging, files))) {
    (void)llvm::sys::fs::remove_directories(staging);
    return failure();
  }
  if (!exists) {
    if (std::error_code error = llvm::sys::fs::rename(staging, dir))
      return discard("cannot rename '" + staging + "' to '" + dir +
                     "': " + error.message());
    return success();
  }
  SmallString<256> old;
  llvm::sys::fs::createUniquePath(dir + ".old-%%%%%%", old,
                                  /*MakeAbsolute=*/false);
  if (std::error_code error = llvm::sys::fs::rename(dir, old))
    return discard("cannot move the old '" + dir +
                   "' aside: " + error.message());
  if (std::error_code error = llvm::sys::fs::rename(staging, dir)) {
    (void)llvm::sys::fs::rename(old, dir);
    return discard("cannot rename '" + staging + "' to '" + dir +
                   "': " + error.message());
  }
  (void)llvm::sys::fs::remove_directories(old);
  return success();
}

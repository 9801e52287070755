//===- Bundle.cpp - plan.json, params.json, manifest.json and the bundle --===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The bundle of a prepared module (docs/bundle.md), built in memory as the
// runtime's schema (dlm/Runtime/Bundle.h): the emitter's kernels.cu, the
// device library, the launch plan of dlm-prepare-for-cuda and the memory
// plan, the checkpoint's params. The runtime writes it to disk and reads it
// back; dlmc --run hands it to an executor directly.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "TargetModel.h"

#include "dlm/Target/CUDA/CUDAEmitter.h"

#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SHA256.h"

#ifndef DLM_VERSION
#define DLM_VERSION "unknown"
#endif

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

/// The bytes a kernel reads or writes through a pointer bound to \p v: the
/// tensor's elements, which for a channel slice of a larger buffer (a
/// concatenation) reach from the buffer's start to the slice's last element
/// of the last image.
static uint64_t getExtentBytes(const TargetModel &model, Value v) {
  if (cast<RankedTensorType>(v.getType()).getNumElements() == 0)
    return 0;
  NCHW d = getNCHW(v);
  Slice slice = model.getSlice(v);
  return uint64_t((d.n - 1) * slice.channels + slice.offset + d.c) *
         uint64_t(d.hw) * 4;
}

static std::vector<int64_t> shapeOf(Value v) {
  ArrayRef<int64_t> shape = cast<RankedTensorType>(v.getType()).getShape();
  return std::vector<int64_t>(shape.begin(), shape.end());
}

/// The checkpoint tensors \p model reads, in \p order when given (the names
/// of the model as written, which must be the same set).
static FailureOr<std::vector<::dlm::ParamSpec>>
collectParams(const TargetModel &model, ArrayRef<std::string> order) {
  ArrayRef<ParamTensor> params = model.getParams();
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
        return model.getModule().emitError("parameter '")
               << name << "' of the model as written is not read by the "
               << "compiled module";
      if (listed.insert(name).second)
        ordered.push_back(it->second);
    }
    for (const ParamTensor &param : params)
      if (!listed.contains(param.name))
        return model.getModule().emitError(
                   "the compiled module reads parameter '")
               << param.name << "', which the model as written does not have";
  }
  std::vector<::dlm::ParamSpec> specs;
  for (const ParamTensor *param : ordered) {
    std::vector<int64_t> shape(param->shape.begin(), param->shape.end());
    specs.push_back(
        {param->name, shape, ::dlm::inferParamRole(param->name, shape)});
  }
  return specs;
}

FailureOr<::dlm::Bundle> mlir::dlm::buildBundle(ModuleOp module,
                                                const BundleOptions &options) {
  FailureOr<TargetModel> model = TargetModel::build(module);
  if (failed(model))
    return failure();
  ::dlm::Bundle bundle;
  llvm::raw_string_ostream kernels(bundle.kernelsSource);
  if (failed(emitCUDA(module, kernels)))
    return failure();
  bundle.libraryHeader = getDeviceLibrarySource().str();
  bundle.model = module.getSymName().value_or("model").str();
  bundle.arenaBytes = model->getPlan().getPeakBytes();

  // The model's input and output.
  func::FuncOp forward = model->getForward();
  bundle.inputs.push_back(
      {kInputName.str(), shapeOf(forward.getArgument(0)), ::dlm::DType::F32});
  Value output = forward.getBody().front().getTerminator()->getOperand(0);
  bundle.outputs.push_back(
      {{kOutputName.str(), shapeOf(output), ::dlm::DType::F32},
       model->getArgRef(output)});
  for (const DerivedTensor &tensor : model->getDerived())
    bundle.derived.push_back(
        {tensor.name, shapeOf(tensor.value), ::dlm::DType::F32});

  // The kernels, each with the parameters of its first launch (inputs,
  // then the output), and the launches of each phase.
  ::dlm::Phase init{::dlm::kInitPhase.str(), {}, {}, {}};
  ::dlm::Phase run{
      ::dlm::kForwardPhase.str(), {kInputName.str()}, {kOutputName.str()}, {}};
  llvm::StringMap<size_t> kernelIndex;
  for (Operation *op : model->getKernels()) {
    FailureOr<LaunchAttrs> attrs = LaunchAttrs::read(op, true);
    if (failed(attrs))
      return failure();
    SmallVector<Value> args = model->getKernelInputs(op);
    args.push_back(op->getResult(0));
    auto [it, inserted] =
        kernelIndex.insert({attrs->name, bundle.kernels.size()});
    if (inserted) {
      ::dlm::KernelSpec kernel{attrs->name.str(), {}};
      for (size_t i = 0; i < args.size(); ++i)
        kernel.params.push_back(
            {"a" + std::to_string(i), ::dlm::DType::F32,
             i + 1 == args.size() ? ::dlm::Access::Write : ::dlm::Access::Read,
             getExtentBytes(*model, args[i])});
      bundle.kernels.push_back(std::move(kernel));
    } else {
      // Launches of one kernel index the same elements (the shapes are the
      // kernel's template arguments); keep the largest should they not.
      ::dlm::KernelSpec &kernel = bundle.kernels[it->second];
      for (size_t i = 0; i < args.size() && i < kernel.params.size(); ++i)
        kernel.params[i].bytes =
            std::max(kernel.params[i].bytes, getExtentBytes(*model, args[i]));
    }
    ::dlm::Launch launch;
    launch.kernel = attrs->name.str();
    for (unsigned i = 0; i < 3; ++i) {
      launch.grid[i] = uint32_t(attrs->grid[i]);
      launch.block[i] = uint32_t(attrs->block[i]);
    }
    // The dynamic shared memory the launch passes (the template's static
    // arrays are the kernel's own).
    launch.sharedBytes = uint32_t(attrs->sharedBytes);
    for (Value v : args)
      launch.args.push_back(model->getArgRef(v));
    launch.ops = TargetModel::describe(op);
    launch.source = TargetModel::getSourceLines(op->getLoc());
    (model->isInit(op) ? init : run).launches.push_back(std::move(launch));
  }
  if (!init.launches.empty())
    bundle.phases.push_back(std::move(init));
  bundle.phases.push_back(std::move(run));

  FailureOr<std::vector<::dlm::ParamSpec>> params =
      collectParams(*model, options.paramOrder);
  if (failed(params))
    return failure();
  bundle.params = std::move(*params);

  ::dlm::BundleManifest &manifest = bundle.manifest;
  manifest.dlmVersion = DLM_VERSION;
  manifest.model = bundle.model;
  if (!options.sourcePath.empty() || !options.sourceText.empty()) {
    std::array<uint8_t, 32> hash =
        llvm::SHA256::hash(llvm::arrayRefFromStringRef(options.sourceText));
    manifest.sourcePath = options.sourcePath;
    manifest.sourceSha256 = llvm::toHex(hash, /*LowerCase=*/true);
  }
  manifest.archs = options.archs;
  if (auto precision = module->getAttrOfType<StringAttr>(kPrecisionAttr))
    manifest.precision = precision.getValue().str();
  manifest.files = {"kernels.cu", "dlm_kernels.cuh", "plan.json", "params.json",
                    "manifest.json"};

  // The kernel table: what the runtime checks plan.json against.
  bundle.kernelsSource += ::dlm::formatKernelTable(bundle);

  // What the emitter made must be what the runtime accepts.
  if (llvm::Error error = ::dlm::verifyBundleForLoad(bundle))
    return module.emitError("the CUDA target made an invalid bundle: ")
           << llvm::toString(std::move(error));
  return bundle;
}

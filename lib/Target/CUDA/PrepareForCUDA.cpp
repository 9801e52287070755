//===- PrepareForCUDA.cpp - Decide what the CUDA emitter prints -----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Records, on the IR, every decision the CUDA emitter's output depends on
// besides the ops themselves and the memory plan (dlm-plan-memory's): for
// each kernel its template, tiles, grid, block, shared memory (dynamic,
// passed at launch, and static, declared by the template) and name. Names are
// given in launch order (@init's kernels first) to distinct specializations:
// two ops whose kernels print the same text share a name, so the emitter
// defines each once and launches it twice.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"
#include "LaunchConfig.h"
#include "TargetModel.h"
#include "TensorCoreConfig.h"

#include "dlm/Dialect/DLM/DLMOps.h"
#include "dlm/Runtime/Bundle.h"
#include "dlm/Target/CUDA/Passes.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/StringMap.h"

namespace mlir {
namespace dlm {
#define GEN_PASS_DEF_PREPAREFORCUDA
#include "dlm/Target/CUDA/Passes.h.inc"
} // namespace dlm
} // namespace mlir

using namespace mlir;
using namespace mlir::dlm;
using namespace mlir::dlm::cuda;

namespace {
struct PrepareForCUDAPass
    : mlir::dlm::impl::PrepareForCUDABase<PrepareForCUDAPass> {
  using PrepareForCUDABase::PrepareForCUDABase;
  void runOnOperation() override;
};
} // namespace

void PrepareForCUDAPass::runOnOperation() {
  ModuleOp module = getOperation();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal()) {
    module.emitError("dlm-prepare-for-cuda needs a func.func @forward");
    return signalPassFailure();
  }
  if (!::dlm::isKnownPrecision(precision)) {
    module.emitError("dlm-prepare-for-cuda: unknown precision '")
        << precision << "' (expected " << ::dlm::getPrecisionList() << ")";
    return signalPassFailure();
  }
  FailureOr<TargetModel> model = TargetModel::build(module);
  if (failed(model))
    return signalPassFailure();

  Builder b(&getContext());

  // Attributes of an earlier run are stale: the memory plan may have
  // changed which ops are kernels.
  module.walk([](Operation *op) {
    for (StringRef name : {kKernelAttr, kVariantAttr, kTileAttr, kGridAttr,
                           kBlockAttr, kSharedBytesAttr, kStaticSharedBytesAttr,
                           kPrecisionAttr, kFallbackAttr})
      op->removeAttr(name);
  });
  bool fp32 = precision == ::dlm::kFP32Precision;
  if (!fp32)
    module->setAttr(kPrecisionAttr, b.getStringAttr(precision));

  for (Operation *op : model->getKernels()) {
    // Tensor cores first (at tf32 / bf16 / fp16, for the convolutions they
    // take), else the SIMT rules.
    FailureOr<LaunchConfig> config = failure();
    if (isa<FusedConv2dOp, Conv2dOp>(op))
      if (std::optional<LaunchConfig> tc = chooseTensorCoreConv(op, precision))
        config = *tc;
    if (failed(config))
      config = chooseLaunchConfig(op, *model);
    if (failed(config))
      return signalPassFailure();
    if (!fp32 && isa<FusedConv2dOp, Conv2dOp>(op)) {
      // What the convolution computes in, and why not on tensor cores.
      const TensorCorePrecision *tc = lookupTensorCorePrecision(config->kind);
      op->setAttr(kPrecisionAttr, b.getStringAttr(tc ? StringRef(tc->name)
                                                     : StringRef("fp32")));
      std::string refusal = getTensorCoreRefusal(op, ConvSpec::get(op));
      if (!refusal.empty())
        op->setAttr(kFallbackAttr, b.getStringAttr(refusal));
    }
    op->setAttr(kVariantAttr,
                b.getStringAttr(DeviceTemplate::get(config->kind).name));
    op->setAttr(kTileAttr, b.getDenseI64ArrayAttr(config->tile));
    op->setAttr(kGridAttr, b.getDenseI64ArrayAttr(config->grid));
    op->setAttr(kBlockAttr, b.getDenseI64ArrayAttr(config->block));
    op->setAttr(kSharedBytesAttr,
                b.getI64IntegerAttr(config->shared.dynamicBytes));
    op->setAttr(kStaticSharedBytesAttr,
                b.getI64IntegerAttr(config->shared.staticBytes));
  }

  // Names: one per distinct specialization, by the text the emitter prints.
  llvm::StringMap<std::string> names;
  for (Operation *op : model->getKernels()) {
    FailureOr<std::string> text = KernelEmitter::getSpecialization(op, *model);
    if (failed(text))
      return signalPassFailure();
    auto [it, inserted] =
        names.try_emplace(*text, "dlm_k" + std::to_string(names.size()));
    op->setAttr(kKernelAttr, b.getStringAttr(it->second));
  }
}

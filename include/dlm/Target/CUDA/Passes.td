//===- Passes.td - Passes of the CUDA target ---------------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TARGET_CUDA_PASSES_TD
#define DLM_TARGET_CUDA_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrepareForCUDA : Pass<"dlm-prepare-for-cuda", "mlir::ModuleOp"> {
  let summary = "Choose each kernel's template, tiles, launch shape and name";
  let description = [{
    The CUDA emitter prints; it never decides and never changes the IR (the
    rule of CIRCT's ExportVerilog, whose PrepareForEmission this pass
    mirrors). Everything the printed kernels depend on besides the ops
    themselves is decided here and recorded as attributes, so that it can
    be read, tested and overridden in the IR:

    - on every op that needs a kernel (every op of `@init` but params, and
      the ops of `@forward` the memory plan does not make free):
      `dlm.variant` (the device template: `conv2dTiled`, `conv2dGemm`,
      `conv2dDirect`, `linear`, `pool2d`, ...), `dlm.tile` (its tile sizes),
      `dlm.grid` and `dlm.block` (the launch shape) and `dlm.kernel`, the
      kernel's name. Ops whose kernels print the same instantiation get
      the same name, so the emitter defines each specialization once.

    Memory is not decided here: where each tensor lives is the plan
    `dlm-plan-memory` recorded, read back with `MemoryPlan::get` (or, where
    that pass did not run, the unfused baseline, in which every concat
    copies).

    With `precision=tf32`, `bf16` or `fp16`, convolutions take the
    tensor-core templates (`conv2dTF32`, `conv2dBF16`, `conv2dFP16`) unless getTensorCoreRefusal keeps
    them on the SIMT path (depthwise, dilated, a pool-after window that does
    not divide the tile); the module records `dlm.precision`, each
    convolution `dlm.precision` and, when it stays fp32, `dlm.fallback`.

    An op with no CUDA kernel is an error at the op. See docs/cuda.md for
    the launch configuration rules.
  }];
  let dependentDialects = ["mlir::dlm::DLMDialect", "mlir::func::FuncDialect"];
  let options = [
    Option<"precision", "precision", "std::string", /*default=*/"\"fp32\"",
           "The convolutions' precision: fp32 (IEEE FP32 on the SIMT units), "
           "tf32, bf16 or fp16 (tensor-core templates, FP32 accumulation; a "
           "convolution they refuse stays fp32). Anything but fp32 is "
           "recorded as the module's dlm.precision and, per convolution, "
           "dlm.precision and dlm.fallback.">
  ];
}

#endif // DLM_TARGET_CUDA_PASSES_TD

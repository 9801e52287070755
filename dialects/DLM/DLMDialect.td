//===- DLMDialect.td - The dlm dialect ---------------------*- tablegen -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_TD
#define DLM_DIALECT_TD

include "mlir/IR/OpBase.td"

def DLM_Dialect : Dialect {
  let name = "dlm";
  let cppNamespace = "::mlir::dlm";
  let summary = "Convolutional networks as tensor ops on named parameters";
  let description = [{
    The `dlm` dialect is what a `.dlm` model becomes after elaboration: a
    `func.func @forward` whose argument is the model input and whose result is
    the model output, built from the layers of the book's modern CNNs
    (convolution, batch normalization, activations, pooling, residual sums,
    channel concatenation, linear layers).

    Weights never appear as values in the IR. `dlm.param "name"` stands for the
    weight tensor that a checkpoint supplies under that name, so one compiled
    model works with every checkpoint of the same architecture.

    Every op works on ranked `f32` tensors in NCHW layout (or `[N, F]` for the
    fully connected part) and follows PyTorch's eval-mode semantics. Result
    types are inferred from the operands and attributes; the verifiers check
    every shape rule and quote the shapes they reject.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class DLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<DLM_Dialect, mnemonic, traits>;

#endif // DLM_DIALECT_TD

//===- KernelEmitter.h - Printing the CUDA kernel of one op -----*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// The emitter object, modelled on MLIR's EmitC C++ emitter
// (mlir/lib/Target/Cpp/TranslateToCpp.cpp): it owns a raw_indented_ostream,
// dispatches with a TypeSwitch to one printOperation() per op, returns
// LogicalResult from every step and reports an op it has no kernel for as
// an error at the op. It reads the IR and the launch attributes that
// dlm-prepare-for-cuda recorded and never changes either.
//
// The pass uses it too: the text of a kernel without its name
// (getSpecialization) is what identical kernels share, so the names the
// pass records and the definitions printed here agree by construction.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_LIB_TARGET_CUDA_KERNELEMITTER_H
#define DLM_LIB_TARGET_CUDA_KERNELEMITTER_H

#include "DeviceTemplates.h"
#include "TargetModel.h"

#include "mlir/Support/IndentedOstream.h"

#include <array>
#include <string>

namespace mlir {
namespace dlm {
namespace cuda {

/// The launch decisions of dlm-prepare-for-cuda for one kernel op.
struct LaunchAttrs {
  llvm::StringRef variant;
  /// The row of `variant` in the table of device templates.
  const DeviceTemplate *tmpl = nullptr;
  llvm::ArrayRef<int64_t> tile;
  std::array<int64_t, 3> grid, block;
  /// Dynamic shared memory the launch passes (dlm.shared_bytes; 0 when
  /// absent): plan.json's `shared_bytes`.
  int64_t sharedBytes = 0;
  /// Static shared memory the template declares (dlm.static_shared_bytes;
  /// 0 when absent), for reports.
  int64_t staticSharedBytes = 0;
  /// Null before the pass has named the kernel.
  llvm::StringRef name;

  /// Reads the attributes of `op`; an error at `op` if any is missing or
  /// malformed (`requireName`: the name too).
  static FailureOr<LaunchAttrs> read(Operation *op, bool requireName);
};

class KernelEmitter {
public:
  KernelEmitter(llvm::raw_ostream &os, const TargetModel &model);

  /// Prints the definition of the kernel of `op` named `name`: an
  /// `extern "C" __global__` function of pointers (inputs, then the
  /// output) whose body instantiates the device template.
  LogicalResult emitKernel(Operation *op, llvm::StringRef name);

  /// Prints the `<name>_emu(void **args)` host entry of the kernel of `op`
  /// (docs/bundle.md), for the CPU emulator.
  void emitEmuEntry(Operation *op, llvm::StringRef name);

  /// The definition of the kernel of `op` without its name: equal strings,
  /// identical kernels.
  static FailureOr<std::string> getSpecialization(Operation *op,
                                                  const TargetModel &model);

  //===--------------------------------------------------------------------===//
  // For the printOperation() functions
  //===--------------------------------------------------------------------===//

  raw_indented_ostream &ostream() { return os; }
  const TargetModel &getModel() const { return model; }
  const LaunchAttrs &getLaunch() const { return launch; }
  /// The parameter `v` is bound to in the kernel being printed, or
  /// "nullptr" for a null value (an absent optional operand). A value bound
  /// to several parameters names them in turn.
  std::string getArgName(Value v);
  /// `dlm::Slice<offset, channels>` of `v`.
  std::string getSliceText(Value v) const;

private:
  /// Prints the body statement(s) of the kernel of `op`.
  LogicalResult emitOperation(Operation &op);
  /// Prints the parameter list and body, everything after the name.
  LogicalResult emitSignatureAndBody(Operation *op);

  raw_indented_ostream os;
  const TargetModel &model;
  LaunchAttrs launch;
  /// The kernel's parameters: its inputs, then its output.
  SmallVector<Value> params;
  /// The parameters getArgName() has named.
  SmallVector<bool> usedParams;
};

} // namespace cuda
} // namespace dlm
} // namespace mlir

#endif // DLM_LIB_TARGET_CUDA_KERNELEMITTER_H

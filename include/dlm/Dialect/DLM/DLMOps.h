//===- DLMOps.h - Operations of the dlm dialect -----------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_DLMOPS_H
#define DLM_DIALECT_DLM_DLMOPS_H

#include "dlm/Dialect/DLM/DLMDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dlm/Dialect/DLM/DLMOps.h.inc"

#endif // DLM_DIALECT_DLM_DLMOPS_H

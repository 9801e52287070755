//===- DLMDialect.h - The dlm dialect ---------------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_DLMDIALECT_H
#define DLM_DIALECT_DLM_DLMDIALECT_H

#include "mlir/IR/Dialect.h"

#include "dlm/Dialect/DLM/DLMDialect.h.inc"

#endif // DLM_DIALECT_DLM_DLMDIALECT_H

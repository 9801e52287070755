//===- DLMAttrs.h - Attributes of the dlm dialect ---------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_DIALECT_DLM_DLMATTRS_H
#define DLM_DIALECT_DLM_DLMATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectImplementation.h"

#include "dlm/Dialect/DLM/DLMEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dlm/Dialect/DLM/DLMAttrs.h.inc"

#endif // DLM_DIALECT_DLM_DLMATTRS_H

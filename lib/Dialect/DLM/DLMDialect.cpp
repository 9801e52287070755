//===- DLMDialect.cpp - The dlm dialect -----------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#include "dlm/Dialect/DLM/DLMDialect.h"
#include "dlm/Dialect/DLM/DLMOps.h"

using namespace mlir;
using namespace mlir::dlm;

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"

#include "llvm/ADT/TypeSwitch.h"

#include "dlm/Dialect/DLM/DLMDialect.cpp.inc"
#include "dlm/Dialect/DLM/DLMEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dlm/Dialect/DLM/DLMAttrs.cpp.inc"

void DLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dlm/Dialect/DLM/DLMOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dlm/Dialect/DLM/DLMAttrs.cpp.inc"
      >();
}

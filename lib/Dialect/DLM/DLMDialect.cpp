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

#include "dlm/Dialect/DLM/DLMDialect.cpp.inc"

void DLMDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dlm/Dialect/DLM/DLMOps.cpp.inc"
      >();
}

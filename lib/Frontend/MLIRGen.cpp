//===- MLIRGen.cpp - Elaborate the .dlm AST into the dlm dialect ----------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// Placeholder: elaboration is written separately.
//
//===----------------------------------------------------------------------===//

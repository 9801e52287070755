//===- TestPasses.h - Passes for tests only ---------------------*- C++ -*-===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//

#ifndef DLM_TEST_LIB_TRANSFORMS_TESTPASSES_H
#define DLM_TEST_LIB_TRANSFORMS_TESTPASSES_H

#include "mlir/Pass/Pass.h"

#include <memory>

namespace mlir {
namespace dlm {
namespace test {

/// dlm-test-miscompile: drops the activation of the first fused kernel.
std::unique_ptr<Pass> createTestMiscompilePass();

/// Registers the test passes (for dlm-opt).
void registerTestPasses();

} // namespace test
} // namespace dlm
} // namespace mlir

#endif // DLM_TEST_LIB_TRANSFORMS_TESTPASSES_H

//===- BundleFuzzer.cpp - libFuzzer target for the bundle's JSON files ----===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-fuzz-bundle: an input is plan.json, optionally followed by a NUL and
// params.json, by another NUL and manifest.json, and by a third NUL and
// kernels.cu; a JSON part left out is that of the hand-written bundle of the
// runtime's tests. Each input goes through parseBundleJSON (schema and
// verifier), and a bundle that passes must be printed and parsed back to the
// same JSON: writer and reader agree on the one schema. With a kernels.cu
// part, verifyKernelSource then checks it against the plan (its #include
// lines, its kernel table, its __launch_bounds__), and the table
// formatKernelTable writes for the bundle must satisfy it. Every failure
// must come with a message.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr const char *kParams =
    R"({"params": [{"name": "scale.weight", "shape": [2]},
            {"name": "scale.bias", "shape": [2]}]})";
constexpr const char *kManifest =
    R"({"format": "dlm-bundle", "version": 3, "model": "tiny"})";

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "dlm-fuzz-bundle: %s\n", message.c_str());
  std::abort();
}

std::string print(const llvm::json::Value &value) {
  std::string text;
  llvm::raw_string_ostream os(text);
  dlm::printBundleJSON(value, os);
  return text;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef input(reinterpret_cast<const char *>(data), size);
  auto [plan, rest] = input.split('\0');
  auto [params, rest2] = rest.split('\0');
  auto [manifest, kernels] = rest2.split('\0');
  size_t parts = input.count('\0');
  bool hasParams = parts >= 1, hasManifest = parts >= 2,
       hasKernels = parts >= 3;

  dlm::Bundle bundle;
  if (llvm::Error error =
          dlm::parseBundleJSON(bundle, hasManifest ? manifest : kManifest, plan,
                               hasParams ? params : kParams)) {
    if (llvm::toString(std::move(error)).empty())
      fail("a bundle was refused without a message");
    return 0;
  }

  // What the reader accepted, the writer prints the same way back.
  std::string planText = print(dlm::getPlanJSON(bundle));
  std::string paramsText = print(dlm::getParamsJSON(bundle));
  std::string manifestText = print(dlm::getManifestJSON(bundle));
  dlm::Bundle again;
  if (llvm::Error error =
          dlm::parseBundleJSON(again, manifestText, planText, paramsText))
    fail("a printed bundle does not read back: " +
         llvm::toString(std::move(error)));
  if (print(dlm::getPlanJSON(again)) != planText ||
      print(dlm::getParamsJSON(again)) != paramsText ||
      print(dlm::getManifestJSON(again)) != manifestText)
    fail("a bundle read back prints differently");

  if (hasKernels) {
    bundle.kernelsSource = kernels.str();
    if (llvm::Error error = dlm::verifyKernelSource(bundle))
      if (llvm::toString(std::move(error)).empty())
        fail("kernels.cu was refused without a message");
  }
  // The table the CUDA target would append agrees with the plan, whatever
  // the source before it (that has no #include and no __launch_bounds__).
  bundle.kernelsSource = "// kernels\n" + dlm::formatKernelTable(bundle);
  bool everyKernelLaunched = true;
  for (const dlm::KernelSpec &kernel : bundle.kernels) {
    bool launched = false;
    for (const dlm::Phase &phase : bundle.phases)
      for (const dlm::Launch &launch : phase.launches)
        launched |= launch.kernel == kernel.name;
    everyKernelLaunched &= launched;
  }
  // A kernel launched with two shapes has one table line: refused, rightly.
  bool oneShapePerKernel = true;
  for (const dlm::Phase &phase : bundle.phases)
    for (const dlm::Launch &launch : phase.launches)
      for (const dlm::Phase &other : bundle.phases)
        for (const dlm::Launch &second : other.launches)
          if (launch.kernel == second.kernel &&
              (launch.grid != second.grid || launch.block != second.block))
            oneShapePerKernel = false;
  if (llvm::Error error = dlm::verifyKernelSource(bundle)) {
    std::string message = llvm::toString(std::move(error));
    if (everyKernelLaunched && oneShapePerKernel)
      fail("the bundle's own kernel table is refused: " + message);
  }
  return 0;
}

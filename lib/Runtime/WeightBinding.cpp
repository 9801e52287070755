//===- WeightBinding.cpp - Binding a model's params to a weights file -----===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// bindWeights() checks the whole file against the whole spec list before it
// returns anything, and reports every problem it finds: a user who exported
// a checkpoint with the wrong naming sees the pattern in one run rather than
// one tensor per run.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Weights.h"

#include "llvm/Support/Format.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

using namespace llvm;

namespace dlm {

/// The most binding problems reported one by one; the rest are counted.
static constexpr unsigned kMaxReportedProblems = 10;
/// With more binding problems than this (missing tensors and tensors of
/// another shape or dtype), the file is probably another model's weights:
/// one summary line comes first and only kSummaryDetails problems follow.
static constexpr unsigned kSummaryAfter = 3;
static constexpr unsigned kSummaryDetails = 3;

ParamRole inferParamRole(StringRef name, ArrayRef<int64_t> shape) {
  if (name.ends_with(".weight"))
    return shape.size() >= 2 ? ParamRole::Weight : ParamRole::Scale;
  if (name.ends_with(".bias"))
    return ParamRole::Bias;
  if (name.ends_with(".running_mean"))
    return ParamRole::Mean;
  if (name.ends_with(".running_var"))
    return ParamRole::Variance;
  return ParamRole::Unknown;
}

std::string formatTensorType(ArrayRef<int64_t> shape, StringRef dtype) {
  std::string result = dtype.lower() + "[";
  raw_string_ostream os(result);
  interleave(shape, os, ",");
  os << "]";
  return result;
}

void printTensorText(const Tensor &tensor, raw_ostream &os) {
  os << formatTensorType(tensor.shape) << "\n";
  int64_t rowLength = tensor.shape.empty() ? 1 : tensor.shape.back();
  int64_t rows = rowLength == 0 ? 0 : tensor.numElements() / rowLength;
  size_t outer = tensor.shape.empty() ? 0 : tensor.shape.size() - 1;
  std::vector<int64_t> index(outer, 0);
  for (int64_t r = 0; r < rows; ++r) {
    os << "[";
    llvm::interleave(index, os, ",");
    os << "]";
    for (int64_t j = 0; j < rowLength; ++j)
      os << " " << llvm::format("%g", double(tensor.data[r * rowLength + j]));
    os << "\n";
    for (size_t d = outer; d-- > 0;) {
      if (++index[d] < tensor.shape[d])
        break;
      index[d] = 0;
    }
  }
}

//===----------------------------------------------------------------------===//
// WeightSet
//===----------------------------------------------------------------------===//

Error WeightSet::add(StringRef name, Tensor tensor) {
  if (index.count(name))
    return createStringError(inconvertibleErrorCode(),
                             "weight '" + name + "' is defined twice");
  owned.push_back(std::move(tensor.data));
  return addView(
      TensorView{name.str(), std::move(tensor.shape), owned.back().data()});
}

Error WeightSet::addView(TensorView view) {
  if (!index.try_emplace(view.name, views.size()).second)
    return createStringError(inconvertibleErrorCode(),
                             "weight '" + view.name + "' is defined twice");
  views.push_back(std::move(view));
  return Error::success();
}

WeightSet WeightSet::borrow() const {
  WeightSet result;
  for (const TensorView &view : views)
    cantFail(result.addView(view));
  return result;
}

const TensorView *WeightSet::lookup(StringRef name) const {
  auto it = index.find(name);
  return it == index.end() ? nullptr : &views[it->second];
}

int64_t WeightSet::getNumBytes() const {
  int64_t bytes = 0;
  for (const TensorView &view : views)
    bytes += view.numElements() * int64_t(sizeof(float));
  return bytes;
}

//===----------------------------------------------------------------------===//
// Binding
//===----------------------------------------------------------------------===//

Expected<WeightSet> bindWeights(ArrayRef<ParamSpec> params,
                                std::unique_ptr<SafeTensorsFile> file,
                                bool strict,
                                function_ref<void(const Twine &)> warn) {
  std::string path = file->getPath().str();
  std::vector<std::string> problems;
  WeightSet weights;

  // Specs by name; a name repeated with the same shape is one tensor.
  StringMap<const ParamSpec *> expected;
  for (const ParamSpec &spec : params) {
    auto [it, inserted] = expected.try_emplace(spec.name, &spec);
    if (inserted || it->second->shape == spec.shape)
      continue;
    problems.push_back("the model uses tensor '" + spec.name + "' both as " +
                       formatTensorType(it->second->shape) + " and as " +
                       formatTensorType(spec.shape));
  }

  StringSet<> bound;
  unsigned numMissing = 0, numMismatched = 0;
  for (const ParamSpec &spec : params) {
    if (!bound.insert(spec.name).second)
      continue;
    std::string want = formatTensorType(spec.shape);
    const SafeTensorsEntry *entry = file->find(spec.name);
    if (!entry) {
      ++numMissing;
      problems.push_back("missing tensor '" + spec.name + "' " + want +
                         " that the model expects");
      continue;
    }
    std::string have =
        formatTensorType(entry->shape, getSafeTensorsDTypeName(entry->dtype));
    if (entry->dtype != SafeTensorsDType::F32) {
      ++numMismatched;
      problems.push_back("tensor '" + spec.name + "' is " + have +
                         " but the model expects " + want +
                         " (only F32 weights are supported)");
      continue;
    }
    if (ArrayRef<int64_t>(entry->shape) != ArrayRef<int64_t>(spec.shape)) {
      ++numMismatched;
      problems.push_back("tensor '" + spec.name + "' is " + have +
                         " but the model expects " + want);
      continue;
    }
    if (problems.empty())
      cantFail(
          weights.addView(TensorView{spec.name, spec.shape, entry->floats}));
  }

  // Tensors the model does not use, in the file's (sorted) order. A
  // BatchNorm's step counter in a PyTorch state_dict is training
  // bookkeeping, never a parameter of an inference model: accepted
  // silently, also with --strict.
  std::vector<const SafeTensorsEntry *> unused;
  for (const SafeTensorsEntry &entry : file->entries())
    if (!expected.count(entry.name) &&
        !StringRef(entry.name).ends_with(".num_batches_tracked") &&
        entry.name != "num_batches_tracked")
      unused.push_back(&entry);
  auto describe = [](const SafeTensorsEntry &entry) {
    return "'" + entry.name + "' " +
           formatTensorType(entry.shape, getSafeTensorsDTypeName(entry.dtype));
  };

  // Many tensors missing or misshapen: most likely another model's
  // weights (or another naming). One line says so, with the counts, then a
  // few details and a sample of the file's names, which usually show the
  // naming pattern; the tensors it does not use are counted, not listed.
  unsigned numBindProblems = numMissing + numMismatched;
  if (numBindProblems > kSummaryAfter) {
    unsigned numExpected = bound.size();
    std::string summary;
    raw_string_ostream os(summary);
    os << (numExpected - numBindProblems) << " of " << numExpected
       << " tensors the model expects match the file by name, shape and "
          "dtype ("
       << numMissing << " missing, " << numMismatched
       << " of another shape or dtype); of the file's "
       << file->entries().size() << " tensors, " << unused.size()
       << " are not parameters of the model. Are these another model's "
          "weights? `dlmc --list-params` lists the names and shapes the "
          "model expects (docs/weights.md renames a state_dict)";
    std::vector<std::string> details;
    details.push_back(summary);
    for (size_t i = 0; i < problems.size() && i < kSummaryDetails; ++i)
      details.push_back(problems[i]);
    if (!unused.empty()) {
      std::string sample = "tensors of the file that the model does not use:";
      for (size_t i = 0; i < unused.size() && i < kSummaryDetails; ++i)
        sample += (i ? ", " : " ") + describe(*unused[i]);
      if (unused.size() > kSummaryDetails)
        sample += ", ...";
      details.push_back(sample);
    }
    size_t rest =
        problems.size() - std::min<size_t>(problems.size(), kSummaryDetails);
    if (strict)
      rest += unused.size();
    if (rest)
      details.push_back(Twine(rest).str() + " more problems with the weights");
    Error result = Error::success();
    for (const std::string &detail : details)
      result = joinErrors(
          std::move(result),
          createFileError(path,
                          createStringError(inconvertibleErrorCode(), detail)));
    return std::move(result);
  }

  unsigned numUnused = 0;
  for (const SafeTensorsEntry *entry : unused) {
    std::string message =
        "tensor " + describe(*entry) + " is not a parameter of the model";
    if (strict)
      problems.push_back(message + " (--strict)");
    else if (numUnused++ < kMaxReportedProblems)
      warn("'" + path + "': " + message + "; ignored");
  }
  if (numUnused > kMaxReportedProblems)
    warn("'" + path + "': " + Twine(numUnused - kMaxReportedProblems) +
         " more tensors are not parameters of the model; ignored");

  if (problems.empty()) {
    weights.file = std::move(file);
    return std::move(weights);
  }

  Error result = Error::success();
  for (auto [i, problem] : enumerate(problems)) {
    if (i == kMaxReportedProblems) {
      result = joinErrors(
          std::move(result),
          createFileError(
              path, createStringError(inconvertibleErrorCode(),
                                      Twine(problems.size() - i) +
                                          " more problems with the weights")));
      break;
    }
    result = joinErrors(
        std::move(result),
        createFileError(path,
                        createStringError(inconvertibleErrorCode(), problem)));
  }
  return std::move(result);
}

Error writeWeights(StringRef path, const WeightSet &weights) {
  return writeSafeTensorsFile(path, weights.tensors());
}

} // namespace dlm

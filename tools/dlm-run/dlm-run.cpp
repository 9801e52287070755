//===- dlm-run.cpp - Running a compiled bundle ----------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// dlm-run BUNDLE --weights W.safetensors --input X.npy --output Y.npy
//         [--device=auto|cuda|emu] [--bench N] [-v] [--arch=sm_XX]
//
// The runtime alone: it reads a bundle written by `dlmc -o DIR`, binds the
// weights by the rules dlmc uses (docs/weights.md), checks the input's shape,
// runs the kernels on a GPU (cuda) or on the CPU emulator (emu) and writes
// the output atomically. Every input is read and checked, and the model run,
// before anything is written; on any error nothing is written, the message
// is `dlm-run: error: ...` and the exit code 1. No MLIR in this binary.
//
// The run happens in a child process (fork) that the parent waits for, at
// most --timeout seconds: a kernel that hangs or crashes, under the
// emulator in this very process, is an error with exit code 1.
//
//===----------------------------------------------------------------------===//

#include "dlm/Runtime/Bundle.h"
#include "dlm/Runtime/Executor.h"
#include "dlm/Runtime/Npy.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Runtime/Weights.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/PrettyStackTrace.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace llvm;

namespace {

cl::OptionCategory runCategory("dlm-run options");

cl::opt<std::string> bundleDir(cl::Positional, cl::Required,
                               cl::desc("<bundle directory>"),
                               cl::cat(runCategory));

cl::opt<std::string> weightsFilename(
    "weights", cl::Required,
    cl::desc("The model's weights: a .safetensors file with one F32 tensor "
             "per entry of the bundle's params.json (docs/weights.md)"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<bool> strictWeights(
    "strict",
    cl::desc("Make a tensor in the --weights file that the model does not "
             "use an error (default: a warning)"),
    cl::init(false), cl::cat(runCategory));

cl::opt<std::string>
    inputNpy("input", cl::Required,
             cl::desc("The input: a .npy file, float32, exactly the "
                      "bundle's input shape"),
             cl::value_desc("file"), cl::cat(runCategory));

cl::opt<std::string> outputNpy(
    "output",
    cl::desc("Write the output to this .npy file (default: print it as "
             "text)"),
    cl::value_desc("file"), cl::cat(runCategory));

cl::opt<std::string> deviceName(
    "device",
    cl::desc("Where to run: cuda (a GPU), emu (the CPU emulator of the same "
             "kernels) or auto (cuda if a driver and a GPU are there, else "
             "emu; the default)"),
    cl::value_desc("auto|cuda|emu"), cl::init("auto"), cl::cat(runCategory));

cl::opt<unsigned> benchRuns(
    "bench",
    cl::desc("Also time the phases: load, compile (cached or not), init, "
             "the first run, and the median of N more runs, in ms"),
    cl::value_desc("N"), cl::init(0), cl::cat(runCategory));

cl::opt<std::string>
    archName("arch",
             cl::desc("The GPU architecture NVRTC compiles for, e.g. sm_90 "
                      "(default: the device's)"),
             cl::value_desc("sm_XX"), cl::cat(runCategory));

cl::opt<std::string>
    cacheDir("cache-dir",
             cl::desc("The compilation cache (default: $DLM_CACHE_DIR, else "
                      "$XDG_CACHE_HOME/dlm, else ~/.cache/dlm)"),
             cl::value_desc("dir"), cl::cat(runCategory));

cl::opt<unsigned> timeoutSeconds(
    "timeout",
    cl::desc("Stop the run after this many seconds of wall-clock time, "
             "reading and compiling included, and fail (0: no limit, the "
             "default). The run always happens in a child process, so a "
             "kernel that hangs or crashes is a reported error"),
    cl::value_desc("seconds"), cl::init(0), cl::cat(runCategory));

cl::opt<bool> verbose("v",
                      cl::desc("Report the device, cache hits and misses "
                               "and phase timings on stderr"),
                      cl::init(false), cl::cat(runCategory));

/// Prints `dlm-run: error: <message>` and returns 1 (the exit code).
int reportError(const Twine &message) {
  errs() << "dlm-run: error: " << message << "\n";
  return 1;
}

/// Prints every error of \p error (one line each) and returns 1.
int reportError(Error error) {
  handleAllErrors(std::move(error), [](const ErrorInfoBase &info) {
    errs() << "dlm-run: error: " << info.message() << "\n";
  });
  return 1;
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

constexpr StringLiteral kDevices[] = {"auto", "cuda", "emu"};

constexpr const char *kOverview =
    "dlm-run: runs a bundle compiled by `dlmc -o DIR` on an input\n"
    "\n"
    "Trust model: a bundle is code. Run only bundles you would run as\n"
    "programs (ones you compiled with dlmc, or from someone you would take\n"
    "an executable from). Under --device=emu, kernels.cu is compiled as host\n"
    "C++ and runs in this program's process with your rights; under cuda it\n"
    "runs on the GPU in this process's CUDA context. Before any kernel is\n"
    "compiled, dlm-run checks the bundle's files against the SHA-256s in\n"
    "manifest.json, every plan.json field, that every argument's byte range\n"
    "lies inside its buffer and that kernels.cu's kernel table agrees with\n"
    "the plan (parameters, bytes, grid, block, __launch_bounds__), and that\n"
    "kernels.cu includes nothing outside the bundle. These checks catch a\n"
    "damaged or edited bundle; they cannot make hostile code safe. The run\n"
    "happens in a child process: a crash or, with --timeout, a hang is an\n"
    "error. See docs/runtime.md, \"Trust model\".\n";

/// The run itself, in the child process: exit code 0 or 1.
int runBundle();

/// Runs runBundle() in a child process and waits for it, at most
/// \p seconds (0: no limit). Returns the exit code for dlm-run.
int superviseRun(unsigned seconds) {
  outs().flush();
  errs().flush();
  pid_t child = fork();
  if (child < 0)
    return reportError(Twine("cannot start the run's child process: ") +
                       std::strerror(errno));
  if (child == 0) {
    int code = runBundle();
    outs().flush();
    errs().flush();
    std::fflush(nullptr);
    _exit(code);
  }
  auto start = std::chrono::steady_clock::now();
  int status = 0;
  auto pause = std::chrono::milliseconds(1);
  while (true) {
    pid_t done = waitpid(child, &status, seconds ? WNOHANG : 0);
    if (done == child)
      break;
    if (done < 0 && errno != EINTR)
      return reportError(Twine("cannot wait for the run's child process: ") +
                         std::strerror(errno));
    if (seconds && std::chrono::steady_clock::now() - start >=
                       std::chrono::seconds(seconds)) {
      kill(child, SIGKILL);
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      return reportError(formatv("the run did not finish within --timeout={0} "
                                 "s and was stopped (a kernel that does not "
                                 "end?); nothing was written",
                                 seconds)
                             .str());
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status) == 0 ? 0 : 1;
  if (WIFSIGNALED(status)) {
    int signal = WTERMSIG(status);
    return reportError(formatv("the run crashed (signal {0}, {1}); under "
                               "--device=emu, the launch that crashed is "
                               "named above; nothing was written",
                               signal, strsignal(signal))
                           .str());
  }
  return reportError("the run's child process ended abnormally");
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM initLLVM(argc, argv);
  setBugReportMsg("dlm-run crashed. Under --device=emu, a crash in a kernel "
                  "is reported with its launch below.\n");
  cl::HideUnrelatedOptions(runCategory);
  cl::ParseCommandLineOptions(argc, argv, kOverview);

  if (!is_contained(kDevices, StringRef(deviceName)))
    return reportError("unknown device '" + deviceName +
                       "' (expected auto, cuda or emu)");
  return superviseRun(timeoutSeconds);
}

namespace {
int runBundle() {
  // Everything the run needs from files, checked before any device work.
  auto loadStart = std::chrono::steady_clock::now();
  Expected<dlm::Bundle> bundle = dlm::readBundle(bundleDir);
  if (!bundle)
    return reportError(bundle.takeError());
  Expected<std::unique_ptr<dlm::SafeTensorsFile>> file =
      dlm::SafeTensorsFile::open(weightsFilename);
  if (!file)
    return reportError(file.takeError());
  Expected<dlm::WeightSet> weights =
      dlm::bindWeights(bundle->params, std::move(*file), strictWeights,
                       [](const Twine &message) {
                         errs() << "dlm-run: warning: " << message << "\n";
                       });
  if (!weights)
    return reportError(weights.takeError());
  Expected<dlm::Tensor> input = dlm::readNpy(inputNpy);
  if (!input)
    return reportError(input.takeError());
  // The forward phase's one input, checked before any device work.
  Expected<const dlm::Phase *> phase =
      dlm::findRunnablePhase(*bundle, dlm::kForwardPhase);
  if (!phase)
    return reportError(phase.takeError());
  if ((*phase)->inputs.size() != 1 || (*phase)->outputs.size() != 1)
    return reportError("the bundle's forward phase has " +
                       Twine((*phase)->inputs.size()) + " inputs and " +
                       Twine((*phase)->outputs.size()) +
                       " outputs; dlm-run runs models of one input and one "
                       "output");
  dlm::TensorView inputView = input->view((*phase)->inputs.front());
  Expected<dlm::PhaseInputs> matched =
      dlm::matchPhaseInputs(*bundle, dlm::kForwardPhase, inputView);
  if (!matched)
    return reportError("'" + inputNpy + "': " + toString(matched.takeError()));
  double loadMs = millisecondsSince(loadStart);

  dlm::ExecutorOptions options;
  options.arch = archName;
  options.cacheDir = cacheDir;
  options.verbose = verbose;
  Expected<std::unique_ptr<dlm::Executor>> executor =
      dlm::createExecutor(deviceName, options);
  if (!executor)
    return reportError(executor.takeError());
  if (verbose)
    errs() << "dlm-run: device " << (*executor)->getName() << ", precision "
           << bundle->manifest.precision << "\n";
  if (Error error = (*executor)->load(*bundle, *weights))
    return reportError(std::move(error));

  auto runStart = std::chrono::steady_clock::now();
  Expected<dlm::Tensor> output = (*executor)->runForward(inputView);
  if (!output)
    return reportError(output.takeError());
  double firstRunMs = millisecondsSince(runStart);

  std::vector<double> times;
  for (unsigned i = 0; i < benchRuns; ++i) {
    Expected<double> ms = (*executor)->timeRun(dlm::kForwardPhase, inputView);
    if (!ms)
      return reportError(ms.takeError());
    times.push_back(*ms);
  }

  // Everything ran; write.
  if (!outputNpy.empty()) {
    if (Error error = dlm::writeNpyFile(outputNpy, *output))
      return reportError(std::move(error));
  } else {
    dlm::printTensorText(*output, outs());
  }

  if (benchRuns) {
    const dlm::ExecutorTimings &timings = (*executor)->getTimings();
    std::sort(times.begin(), times.end());
    size_t n = times.size();
    double median =
        n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    raw_ostream &os = outs();
    os << formatv("device:    {0}\n", (*executor)->getName());
    os << formatv("load:      {0,10:f3} ms (bundle, weights, input)\n", loadMs);
    os << formatv("compile:   {0,10:f3} ms ({1})\n", timings.compileMs,
                  timings.compileCached ? "cached" : "compiled");
    os << formatv("upload:    {0,10:f3} ms\n", timings.loadMs);
    os << formatv("init:      {0,10:f3} ms\n", timings.initMs);
    os << formatv("first run: {0,10:f3} ms\n", firstRunMs);
    os << formatv("median:    {0,10:f3} ms over {1} runs (min {2:f3}, max "
                  "{3:f3})\n",
                  median, n, times.front(), times.back());
  }
  return 0;
}
} // namespace

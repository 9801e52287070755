//===- Train.cpp - dlmc --train -------------------------------------------===//
//
// Part of the dlm project: a compiler from .dlm model descriptions to fused
// GPU kernels.
//
//===----------------------------------------------------------------------===//
//
// `dlmc MODEL.dlm --train ...`: minibatch SGD on a dataset, as the book's
// train_ch6 does, on the reference executor (docs/training.md). The model is
// elaborated at --batch-size, dlm-differentiate builds its training step, and
// each epoch prints one line:
//
//   epoch 3: loss 0.412, train acc 0.853, test acc 0.842, 981.4 examples/sec
//
//===----------------------------------------------------------------------===//

#include "Train.h"

#include "dlm/Driver/Driver.h"
#include "dlm/Driver/Training.h"
#include "dlm/Runtime/Dataset.h"
#include "dlm/Runtime/Init.h"
#include "dlm/Runtime/Metrics.h"
#include "dlm/Runtime/SafeTensors.h"
#include "dlm/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>

using namespace llvm;

namespace {
enum class Schedule { Constant, Step, Cosine };

cl::OptionCategory trainCategory("dlmc options for training (--train)");

cl::opt<bool> trainMode("train",
                        cl::desc("Train the model with minibatch SGD on the "
                                 "reference executor (docs/training.md)"),
                        cl::init(false), cl::cat(trainCategory));
cl::opt<std::string>
    dataOption("data",
               cl::desc("The dataset: fashion-mnist[:DIR] (default DIR: "
                        "/usr/share/datasets/fashion-mnist, Debian's "
                        "dataset-fashion-mnist)"),
               cl::value_desc("fashion-mnist[:DIR]"), cl::cat(trainCategory));
cl::opt<std::string> imagesPath("images",
                                cl::desc("Training examples: a float32 .npy "
                                         "[N, C, H, W] or [N, F]"),
                                cl::value_desc("X.npy"),
                                cl::cat(trainCategory));
cl::opt<std::string> labelsPath("labels",
                                cl::desc("Training labels: an int64 or int32 "
                                         ".npy [N]"),
                                cl::value_desc("Y.npy"),
                                cl::cat(trainCategory));
cl::opt<std::string> testImagesPath("test-images",
                                    cl::desc("Test examples (.npy) for the "
                                             "test accuracy"),
                                    cl::value_desc("X.npy"),
                                    cl::cat(trainCategory));
cl::opt<std::string> testLabelsPath("test-labels",
                                    cl::desc("Test labels (.npy)"),
                                    cl::value_desc("Y.npy"),
                                    cl::cat(trainCategory));
cl::opt<int64_t> limit("limit",
                       cl::desc("Use only the first N training examples (0: "
                                "all)"),
                       cl::init(0), cl::cat(trainCategory));
cl::opt<int64_t> testLimit("test-limit",
                           cl::desc("Use only the first N test examples (0: "
                                    "all)"),
                           cl::init(0), cl::cat(trainCategory));
cl::opt<int64_t> resize("resize",
                        cl::desc("Resize images to HxH, bilinear as "
                                 "torchvision's Resize (the book's 96 and "
                                 "224)"),
                        cl::init(0), cl::cat(trainCategory));
cl::opt<int64_t> epochs("epochs", cl::desc("Passes over the training data"),
                        cl::init(10), cl::cat(trainCategory));
cl::opt<int64_t> batchSize("batch-size",
                           cl::desc("Examples per step (overrides the "
                                    "model's batch dimension; the last "
                                    "partial batch of an epoch is dropped)"),
                           cl::init(256), cl::cat(trainCategory));
cl::opt<int64_t> maxSteps("max-steps",
                          cl::desc("Stop after this many steps in all (0: "
                                   "no limit)"),
                          cl::init(0), cl::cat(trainCategory));
cl::opt<double> learningRate("lr", cl::desc("Learning rate"), cl::init(0.1),
                             cl::cat(trainCategory));
cl::opt<double> momentum("momentum", cl::desc("SGD momentum"), cl::init(0.0),
                         cl::cat(trainCategory));
cl::opt<double> dampening("dampening", cl::desc("SGD dampening"), cl::init(0.0),
                          cl::cat(trainCategory));
cl::opt<double> weightDecay("weight-decay",
                            cl::desc("L2 penalty (torch.optim.SGD's "
                                     "weight_decay)"),
                            cl::init(0.0), cl::cat(trainCategory));
cl::opt<bool> nesterov("nesterov", cl::desc("Nesterov momentum"),
                       cl::init(false), cl::cat(trainCategory));
cl::opt<double> labelSmoothing("label-smoothing",
                               cl::desc("CrossEntropyLoss's label_smoothing"),
                               cl::init(0.0), cl::cat(trainCategory));
cl::opt<Schedule> schedule(
    "lr-schedule", cl::desc("How the learning rate changes per epoch"),
    cl::init(Schedule::Constant),
    cl::values(clEnumValN(Schedule::Constant, "constant", "always --lr"),
               clEnumValN(Schedule::Step, "step",
                          "--lr * --lr-gamma^(epoch / --lr-step) (StepLR)"),
               clEnumValN(Schedule::Cosine, "cosine",
                          "--lr * (1 + cos(pi * epoch / --epochs)) / 2 "
                          "(CosineAnnealingLR, eta_min 0)")),
    cl::cat(trainCategory));
cl::opt<int64_t> lrStep("lr-step",
                        cl::desc("Epochs per step of --lr-schedule=step"),
                        cl::init(30), cl::cat(trainCategory));
cl::opt<double> lrGamma("lr-gamma",
                        cl::desc("Factor per step of --lr-schedule=step"),
                        cl::init(0.1), cl::cat(trainCategory));
cl::opt<uint64_t> seed("seed",
                       cl::desc("Seed of the initialization, the shuffle and "
                                "dropout"),
                       cl::init(0), cl::cat(trainCategory));
cl::opt<bool> noShuffle("no-shuffle",
                        cl::desc("Keep the examples in file order"),
                        cl::init(false), cl::cat(trainCategory));
cl::opt<std::string> initName("init",
                              cl::desc("Initialization without --weights: "
                                       "xavier (the book's) or torch "
                                       "(PyTorch's layer defaults)"),
                              cl::init("xavier"), cl::cat(trainCategory));
cl::opt<std::string> checkpointPath("checkpoint",
                                    cl::desc("Write the trained parameters "
                                             "and running statistics here "
                                             "(safetensors, atomically)"),
                                    cl::value_desc("OUT.safetensors"),
                                    cl::cat(trainCategory));
cl::opt<int64_t> checkpointEvery("checkpoint-every",
                                 cl::desc("Also write --checkpoint every N "
                                          "epochs"),
                                 cl::init(0), cl::cat(trainCategory));
cl::opt<std::string> logPath("log",
                             cl::desc("Write per-epoch metrics as CSV "
                                      "(scripts/plot_training.py draws them)"),
                             cl::value_desc("metrics.csv"),
                             cl::cat(trainCategory));
cl::opt<std::string> gradientsPath(
    "dump-gradients",
    cl::desc("Write the gradient of every parameter at the first step "
             "(safetensors; for gradient checks)"),
    cl::value_desc("GRADS.safetensors"), cl::cat(trainCategory));

int fail(const Twine &message) {
  errs() << "dlmc: error: " << message << "\n";
  return 1;
}

int fail(Error error) {
  handleAllErrors(std::move(error), [](const ErrorInfoBase &info) {
    errs() << "dlmc: error: " << info.message() << "\n";
  });
  return 1;
}

double getLearningRate(int64_t epoch) {
  switch (schedule) {
  case Schedule::Constant:
    return learningRate;
  case Schedule::Step:
    return learningRate *
           std::pow(double(lrGamma),
                    double(epoch / std::max<int64_t>(lrStep, 1)));
  case Schedule::Cosine:
    return learningRate *
           (1.0 + std::cos(M_PI * double(epoch) / double(epochs))) / 2.0;
  }
  return learningRate;
}

/// The first \p n examples of \p data (all if n is 0 or more than there are).
void truncate(dlm::Dataset &data, int64_t n) {
  if (n <= 0 || n >= data.size())
    return;
  int64_t perExample = data.images.numElements() / data.size();
  data.images.shape[0] = n;
  data.images.data.resize(size_t(n * perExample));
  data.labels.resize(size_t(n));
}

int checkOptions() {
  bool npy = imagesPath.getNumOccurrences() || labelsPath.getNumOccurrences();
  bool fashion = dataOption.getNumOccurrences() > 0;
  if (npy == fashion)
    return fail("--train needs its data: --images X.npy --labels Y.npy, or "
                "--data=fashion-mnist[:DIR]");
  if (npy && (imagesPath.empty() || labelsPath.empty()))
    return fail("--images and --labels go together");
  if (testImagesPath.empty() != testLabelsPath.empty())
    return fail("--test-images and --test-labels go together");
  if (dataOption.getNumOccurrences() &&
      !StringRef(dataOption).starts_with("fashion-mnist"))
    return fail("unknown --data '" + dataOption +
                "' (known: fashion-mnist[:DIR])");
  if (batchSize < 1)
    return fail("--batch-size must be positive");
  if (epochs < 1)
    return fail("--epochs must be positive");
  if (!std::isfinite(learningRate) || learningRate < 0)
    return fail("--lr must be a non-negative number");
  if (momentum < 0 || dampening < 0 || weightDecay < 0)
    return fail("--momentum, --dampening and --weight-decay must not be "
                "negative");
  if (nesterov && (momentum == 0 || dampening != 0))
    return fail("--nesterov needs --momentum and zero --dampening (as "
                "torch.optim.SGD)");
  if (labelSmoothing < 0 || labelSmoothing > 1)
    return fail("--label-smoothing must be in [0, 1]");
  if (resize < 0)
    return fail("--resize must be positive");
  if (!dlm::parseInitScheme(initName))
    return fail("unknown --init '" + initName + "' (known: xavier, torch)");
  return 0;
}

/// Loads the training and test sets; \p test is left empty without one.
int loadData(dlm::Dataset &train, std::optional<dlm::Dataset> &test) {
  if (dataOption.getNumOccurrences()) {
    StringRef dir = dlm::kFashionMNISTDir;
    StringRef spec = dataOption;
    if (spec.consume_front("fashion-mnist:"))
      dir = spec;
    else if (spec != "fashion-mnist")
      return fail("unknown --data '" + dataOption +
                  "' (known: fashion-mnist[:DIR])");
    Expected<dlm::Dataset> loaded = dlm::loadFashionMNIST(dir, "train");
    if (!loaded)
      return fail(loaded.takeError());
    train = std::move(*loaded);
    Expected<dlm::Dataset> loadedTest = dlm::loadFashionMNIST(dir, "test");
    if (!loadedTest)
      return fail(loadedTest.takeError());
    test = std::move(*loadedTest);
  } else {
    Expected<dlm::Dataset> loaded = dlm::loadNpyDataset(imagesPath, labelsPath);
    if (!loaded)
      return fail(loaded.takeError());
    train = std::move(*loaded);
    if (!testImagesPath.empty()) {
      Expected<dlm::Dataset> loadedTest =
          dlm::loadNpyDataset(testImagesPath, testLabelsPath);
      if (!loadedTest)
        return fail(loadedTest.takeError());
      test = std::move(*loadedTest);
    }
  }
  truncate(train, limit);
  if (test)
    truncate(*test, testLimit);
  return 0;
}

/// \p images resized to --resize (each batch is resized as it is used: the
/// whole of Fashion-MNIST at 224x224 would be 12 GB), or \p images itself.
Expected<const dlm::Tensor *> resized(const dlm::Tensor &images,
                                      dlm::Tensor &storage) {
  if (resize <= 0)
    return &images;
  Expected<dlm::Tensor> result = dlm::resizeBilinear(images, resize, resize);
  if (!result)
    return result.takeError();
  storage = std::move(*result);
  return &storage;
}

/// Checks that \p data's examples have the model's shape \p example.
int checkShape(const dlm::Dataset &data, ArrayRef<int64_t> example,
               StringRef what) {
  std::vector<int64_t> shape = data.images.shape;
  if (resize > 0 && shape.size() == 4)
    shape[2] = shape[3] = resize;
  if (shape.size() != example.size() + 1 ||
      ArrayRef<int64_t>(shape).drop_front() != example)
    return fail(what + " examples are " +
                dlm::formatTensorType(ArrayRef<int64_t>(shape).drop_front()) +
                " each but the model takes " + dlm::formatTensorType(example) +
                (resize ? "" : " (--resize=H resizes images)"));
  return 0;
}

/// The test accuracy: the whole test set, or with --resize in chunks
/// resized one by one.
Expected<double> evaluate(dlm::Trainer &trainer, const dlm::Dataset &test) {
  if (resize <= 0) {
    Expected<dlm::EvalResult> eval =
        trainer.evaluate(test.images.view("input"), test.labels);
    if (!eval)
      return eval.takeError();
    return eval->accuracy();
  }
  const int64_t chunk = 16 * trainer.getBatchSize();
  const int64_t n = test.size();
  const int64_t perExample = n ? test.images.numElements() / n : 0;
  int64_t correct = 0;
  dlm::Tensor part, scaled;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t size = std::min(chunk, n - begin);
    part.shape = test.images.shape;
    part.shape[0] = size;
    part.data.assign(test.images.data.begin() + begin * perExample,
                     test.images.data.begin() + (begin + size) * perExample);
    Expected<const dlm::Tensor *> images = resized(part, scaled);
    if (!images)
      return images.takeError();
    Expected<dlm::EvalResult> eval = trainer.evaluate(
        (*images)->view("input"),
        ArrayRef<int64_t>(test.labels).slice(size_t(begin), size_t(size)));
    if (!eval)
      return eval.takeError();
    correct += eval->correct;
  }
  return n ? double(correct) / double(n) : 0.0;
}

int writeGradients(const StringMap<dlm::Tensor> &grads,
                   ArrayRef<dlm::ParamSpec> params) {
  std::vector<dlm::TensorView> views;
  for (const dlm::ParamSpec &param : params) {
    auto it = grads.find(param.name);
    if (it != grads.end())
      views.push_back(it->second.view(param.name));
  }
  if (Error error = dlm::writeSafeTensorsFile(gradientsPath, views))
    return fail(std::move(error));
  return 0;
}
} // namespace

bool isTrainRequested() { return trainMode; }

int runTraining(dlm::Compilation &c, StringRef weightsPath, bool strict,
                bool verbose, unsigned maxErrors, StringRef device) {
  if (int status = checkOptions())
    return status;
  if (device != "reference")
    return fail("--train runs on the reference executor (--device=reference) "
                "for now; the training step's kernels for '" +
                device + "' are not built yet");
  dlm::Dataset train;
  std::optional<dlm::Dataset> test;
  if (int status = loadData(train, test))
    return status;

  // --batch-size, else dlmc's --batch, else --batch-size's default.
  const int64_t batch = batchSize.getNumOccurrences() || !c.getBatchOverride()
                            ? int64_t(batchSize)
                            : *c.getBatchOverride();
  c.setBatchOverride(batch);
  if (!c.elaborate(maxErrors))
    return 1;
  std::vector<std::vector<int64_t>> inputs = c.getInputShapes();
  if (inputs.size() != 1)
    return fail("--train trains a model of one input");
  ArrayRef<int64_t> example = ArrayRef<int64_t>(inputs[0]).drop_front();
  if (int status = checkShape(train, example, "the training"))
    return status;
  if (test)
    if (int status = checkShape(*test, example, "the test"))
      return status;

  Expected<dlm::WeightSet> initial =
      weightsPath.empty()
          ? dlm::initWeights(c.getParams(), *dlm::parseInitScheme(initName),
                             seed)
          : dlm::loadWeights(c.getParams(), weightsPath, strict,
                             [](const Twine &message) {
                               errs() << "dlmc: warning: " << message << "\n";
                             });
  if (!initial)
    return fail(initial.takeError());

  dlm::TrainOptions options;
  options.momentum = momentum;
  options.dampening = dampening;
  options.weightDecay = weightDecay;
  options.nesterov = nesterov;
  options.labelSmoothing = labelSmoothing;
  options.seed = seed;
  options.returnGradients = !gradientsPath.empty();
  Expected<std::unique_ptr<dlm::Trainer>> created =
      dlm::Trainer::create(c, options, *initial);
  if (!created)
    return fail(created.takeError());
  dlm::Trainer &trainer = **created;
  // A resumed checkpoint's BatchNorm counters go on counting.
  if (!weightsPath.empty()) {
    Expected<std::unique_ptr<dlm::SafeTensorsFile>> file =
        dlm::SafeTensorsFile::open(weightsPath);
    if (!file)
      return fail(file.takeError());
    for (const std::string &bn : trainer.getBatchNormNames()) {
      const dlm::SafeTensorsEntry *entry =
          (*file)->find(bn + ".num_batches_tracked");
      if (entry && entry->dtype == dlm::SafeTensorsDType::I64 &&
          entry->numElements() == 1)
        trainer.setInitialBatchesTracked(
            bn, int64_t(support::endian::read64le(entry->bytes)));
    }
  }
  if (Error error = dlm::checkLabels(train.labels, trainer.getNumClasses()))
    return fail("--train labels: " + toString(std::move(error)));
  if (test)
    if (Error error = dlm::checkLabels(test->labels, trainer.getNumClasses()))
      return fail("test labels: " + toString(std::move(error)));

  Expected<dlm::BatchSampler> sampler =
      dlm::BatchSampler::create(train.size(), batch, !noShuffle, seed);
  if (!sampler)
    return fail(sampler.takeError());
  std::unique_ptr<dlm::MetricsLog> log;
  if (!logPath.empty()) {
    Expected<std::unique_ptr<dlm::MetricsLog>> created =
        dlm::MetricsLog::create(logPath);
    if (!created)
      return fail(created.takeError());
    log = std::move(*created);
  }
  if (verbose)
    errs() << formatv("dlmc: training on {0} examples ({1} steps of {2} per "
                      "epoch{3}), {4} classes, on the reference executor\n",
                      train.size(), sampler->getNumBatches(), batch,
                      train.size() % batch
                          ? formatv(", {0} dropped", train.size() % batch).str()
                          : std::string(),
                      trainer.getNumClasses());

  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  dlm::Tensor images, scaled;
  std::vector<int64_t> labels;
  bool stop = false;
  for (int64_t epoch = 0; epoch < epochs && !stop; ++epoch) {
    const double lr = getLearningRate(epoch);
    sampler->startEpoch(epoch);
    const Clock::time_point epochStart = Clock::now();
    dlm::ProgressBar bar(formatv("epoch {0}", epoch + 1).str(),
                         sampler->getNumBatches());
    double lossSum = 0.0;
    int64_t correct = 0, seen = 0;
    for (int64_t i = 0; i < sampler->getNumBatches(); ++i) {
      if (maxSteps > 0 && trainer.getStepCount() >= maxSteps) {
        stop = true;
        break;
      }
      if (Error error =
              dlm::gatherBatch(train, sampler->getBatch(i), images, labels))
        return fail(std::move(error));
      Expected<const dlm::Tensor *> batchImages = resized(images, scaled);
      if (!batchImages)
        return fail(batchImages.takeError());
      Expected<dlm::StepResult> result =
          trainer.step((*batchImages)->view("input"), labels, lr);
      if (!result)
        return fail(formatv("epoch {0}, step {1}: {2}", epoch + 1, i + 1,
                            toString(result.takeError())));
      if (!gradientsPath.empty() && trainer.getStepCount() == 1)
        if (int status =
                writeGradients(trainer.getLastGradients(), c.getParams()))
          return status;
      lossSum += result->loss * double(batch);
      correct += result->correct;
      seen += batch;
      bar.update(i + 1, formatv("loss {0:f3}", lossSum / double(seen)).str());
    }
    bar.finish();
    if (seen == 0)
      break;
    const double seconds =
        std::chrono::duration<double>(Clock::now() - epochStart).count();
    dlm::MetricsRow row;
    row.epoch = epoch + 1;
    row.loss = lossSum / double(seen);
    row.trainAcc = double(correct) / double(seen);
    row.lr = lr;
    std::string line = formatv("epoch {0}: loss {1:f3}, train acc {2:f3}",
                               epoch + 1, *row.loss, *row.trainAcc)
                           .str();
    if (test) {
      Expected<double> accuracy = evaluate(trainer, *test);
      if (!accuracy)
        return fail(accuracy.takeError());
      row.testAcc = *accuracy;
      line += formatv(", test acc {0:f3}", *row.testAcc).str();
    }
    line += formatv(", {0:f1} examples/sec", double(seen) / seconds).str();
    outs() << line << "\n";
    outs().flush();
    row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (log) {
      log->addRow(row);
      if (Error error = log->flush())
        return fail(std::move(error));
    }
    if (!checkpointPath.empty() && checkpointEvery > 0 &&
        (epoch + 1) % checkpointEvery == 0)
      if (Error error = trainer.writeCheckpoint(checkpointPath))
        return fail(std::move(error));
  }
  if (!checkpointPath.empty())
    if (Error error = trainer.writeCheckpoint(checkpointPath))
      return fail(std::move(error));
  return 0;
}

int emitTrainingStep(dlm::Compilation &c, raw_ostream &os, unsigned maxErrors) {
  if (batchSize.getNumOccurrences()) {
    if (batchSize < 1)
      return fail("--batch-size must be positive");
    c.setBatchOverride(int64_t(batchSize));
  }
  if (!c.elaborate(maxErrors))
    return 1;
  mlir::PassManager pm(&c.getContext(), mlir::ModuleOp::getOperationName());
  mlir::dlm::DifferentiateOptions options;
  options.momentum = momentum;
  options.dampening = dampening;
  options.weightDecay = weightDecay;
  options.nesterov = nesterov;
  options.labelSmoothing = labelSmoothing;
  options.seed = int64_t(seed);
  pm.addPass(mlir::dlm::createDifferentiate(options));
  if (failed(pm.run(c.getModule())))
    return 1;
  c.getModule()->print(os);
  os << "\n";
  return 0;
}

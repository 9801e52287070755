"""`dlm.train()`: the loop of `dlmc --train` (tools/dlmc/Train.cpp) from
Python: minibatch SGD on a dataset for some epochs, with dlmc's shuffle,
learning-rate schedules, test accuracy, CSV log and checkpoints, on the
reference executor (dlm::Trainer, docs/training.md).

Given the same data, options and seed, it takes the same steps as
`dlmc --train` and logs the same numbers.
"""

import math
import os
import sys
import tempfile
import time

import numpy as np

from . import _dlm
from ._model import Model, _check_lr, _TrainConfig, compile as _compile

__all__ = ["History", "load_fashion_mnist", "train"]

#: `dlmc --lr-schedule`.
SCHEDULES = ("constant", "step", "cosine")
#: The CSV columns of `dlmc --log` (dlm/Runtime/Metrics.h).
_LOG_HEADER = "epoch,step,loss,train_acc,test_acc,lr,seconds"


class History(list):
    """What `dlm.train()` returns: one dict per epoch, `{"epoch", "loss",
    "train_acc", "test_acc", "lr", "seconds", "examples_per_sec"}`
    (`test_acc` None without test data), and `.model`, the trained model."""

    model = None


def _fashion_mnist(spec, split):
    directory = _dlm.fashion_mnist_dir
    if spec.startswith("fashion-mnist:"):
        directory = spec[len("fashion-mnist:"):]
    elif spec != "fashion-mnist":
        raise ValueError(f"data={spec!r}: expected 'fashion-mnist', "
                         "'fashion-mnist:DIR' or (images, labels) arrays")
    images, labels, _ = _dlm.load_fashion_mnist(directory, split)
    return images, labels


def load_fashion_mnist(split="train", directory=None):
    """Fashion-MNIST's "train" or "test" split as dlmc --data=fashion-mnist
    reads it (Debian's dataset-fashion-mnist, or `directory`): float32
    images [N, 1, 28, 28] in [0, 1] (ToTensor's scaling) and int64 labels
    [N]."""
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}: expected 'train' or 'test'")
    return _fashion_mnist("fashion-mnist" + (f":{os.fspath(directory)}"
                                             if directory else ""), split)


def _arrays(data, what):
    """`data`, an (images, labels) pair of numpy arrays or torch tensors,
    as a float32 array [N, ...] and an int64 array [N]."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{what} must be 'fashion-mnist' or an (images, "
                        f"labels) pair, got {type(data).__name__}")
    images, labels = data
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    if hasattr(labels, "detach"):
        labels = labels.detach().cpu().numpy()
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.float32:
        raise TypeError(f"{what}: images have dtype {images.dtype}; expected "
                        "float32")
    if images.ndim not in (2, 4):
        raise ValueError(f"{what}: images are {list(images.shape)}; expected "
                         "[N, C, H, W] or [N, F]")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{what}: labels have dtype {labels.dtype}; expected "
                        "integer class indices (int64 or int32)")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{what}: labels are {list(labels.shape)}; expected "
                         f"one per example, [{images.shape[0]}]")
    return (np.ascontiguousarray(images),
            np.ascontiguousarray(labels, dtype=np.int64))


def _learning_rate(schedule, lr, epoch, epochs, lr_step, lr_gamma):
    """dlmc's getLearningRate for 0-based `epoch`."""
    if schedule == "step":
        return lr * math.pow(lr_gamma, epoch // max(lr_step, 1))
    if schedule == "cosine":
        return lr * (1.0 + math.cos(math.pi * epoch / epochs)) / 2.0
    return lr


def _format(value, spec):
    return "" if value is None else spec % value


class _Log:
    """`dlmc --log`: the header at once (an unwritable path fails before
    training), then the whole file rewritten atomically after each epoch."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.rows = []
        self.flush()

    def add(self, row):
        self.rows.append(
            f"{row['epoch']},,{_format(row['loss'], '%.6g')},"
            f"{_format(row['train_acc'], '%.6g')},"
            f"{_format(row['test_acc'], '%.6g')},{_format(row['lr'], '%.6g')},"
            f"{_format(row['seconds'], '%.3f')}")
        self.flush()

    def flush(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".dlm-log-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write("\n".join([_LOG_HEADER] + self.rows) + "\n")
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        raise ValueError(f"{name}={value!r}: expected an integer >= "
                         f"{minimum}")
    return int(value)


def train(model, data, *, epochs=10, batch_size=None, lr=0.1, momentum=0.0,
          dampening=0.0, weight_decay=0.0, nesterov=False,
          label_smoothing=0.0, bn_momentum=0.1, lr_schedule="constant",
          lr_step=30, lr_gamma=0.1, seed=0, shuffle=True, init="xavier",
          weights=None, test_data=None, limit=0, test_limit=0, resize=0,
          max_steps=0, log=None, checkpoint=None, checkpoint_every=0,
          verbose=True):
    """Trains `model` as `dlmc MODEL --train` does and returns a `History`
    (a list of one dict per epoch; `.model` is the trained model).

    model: a `dlm.Model` (trained in place: its weights, or an `init` of
        them if it has none, are the start, and its `state_dict()` ends as
        the trained weights), or a path or the text of a .dlm model
        (compiled at `batch_size`, initialized by `init` or `weights`).
    data: "fashion-mnist" or "fashion-mnist:DIR" (Debian's
        dataset-fashion-mnist: the training split, with the test split as
        `test_data`), or an (images, labels) pair of arrays or tensors:
        float32 [N, C, H, W] or [N, F], integer labels [N].
    test_data: an (images, labels) pair for the test accuracy after each
        epoch (the model in eval mode); default: none, or Fashion-MNIST's
        test split for data="fashion-mnist".
    epochs, batch_size (default: the model's batch for a Model, else 256;
        an epoch's last partial batch is dropped), lr, momentum, dampening,
        weight_decay, nesterov, label_smoothing, bn_momentum, seed (of the
        initialization, the shuffle and dropout), shuffle, lr_schedule
        ("constant", "step": lr * lr_gamma ** (epoch // lr_step), "cosine"),
        limit, test_limit (use only the first N examples; 0: all), resize
        (bilinear to H x H as torchvision's Resize, batch by batch),
        max_steps (stop after this many steps; 0: no limit), init ("xavier"
        or "torch"), weights (a .safetensors file or a state dict under
        dlm's names to start from): as dlmc's --options of those names.
    log: a CSV path for per-epoch metrics (`dlmc --log`); checkpoint: a
        .safetensors path for the trained weights at the end (and every
        `checkpoint_every` epochs), with `num_batches_tracked`.
    verbose: print dlmc's line per epoch (`epoch 1: loss 0.612, train acc
        0.771, test acc 0.802, 1234.5 examples/sec`).
    """
    epochs = _check_int(epochs, "epochs", 1)
    lr = _check_lr(lr)
    if lr_schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule={lr_schedule!r}: expected one of "
                         f"{', '.join(SCHEDULES)}")
    lr_step = _check_int(lr_step, "lr_step", 1)
    limit = _check_int(limit, "limit", 0)
    test_limit = _check_int(test_limit, "test_limit", 0)
    resize = _check_int(resize, "resize", 0)
    max_steps = _check_int(max_steps, "max_steps", 0)
    checkpoint_every = _check_int(checkpoint_every, "checkpoint_every", 0)
    if init not in ("xavier", "torch"):
        raise ValueError(f"init={init!r}: expected 'xavier' or 'torch'")
    config = _TrainConfig(momentum, dampening, weight_decay, nesterov,
                          label_smoothing, bn_momentum, seed)

    # The data, before anything is compiled.
    if isinstance(data, str):
        images, labels = _fashion_mnist(data, "train")
        if test_data is None:
            test_data = _fashion_mnist(data, "test")
    else:
        images, labels = _arrays(data, "data")
    if isinstance(test_data, str):
        test_data = _fashion_mnist(test_data, "test")
    test = _arrays(test_data, "test_data") if test_data is not None else None
    if limit:
        images, labels = images[:limit], labels[:limit]
    if test is not None and test_limit:
        test = (test[0][:test_limit], test[1][:test_limit])

    # The model, at the batch size of the steps.
    given = model if isinstance(model, Model) else None
    if given is not None:
        batch = given.input_shape[0] if batch_size is None else \
            _check_int(batch_size, "batch_size", 1)
        if batch == given.input_shape[0]:
            trained = given
        else:
            trained = _compile(given.source, batch=batch, device="reference",
                               name=given._program.source_name)
            if given._program.has_weights and weights is None:
                trained._program.set_weights(
                    list(given._program.get_weights()))
    else:
        batch = 256 if batch_size is None else \
            _check_int(batch_size, "batch_size", 1)
        trained = _compile(model, batch=batch, device="reference")
    if weights is not None:
        if isinstance(weights, (str, os.PathLike)):
            trained.load_weights(weights)
        else:
            trained.load_state_dict(weights)
    elif not trained._program.has_weights:
        trained.init_weights(init, seed)

    example = trained.input_shape[1:]

    def check_shape(array, what):
        shape = list(array.shape[1:])
        if resize and len(shape) == 3:
            shape[1] = shape[2] = resize
        if tuple(shape) != tuple(example):
            hint = "" if resize else " (resize=H resizes images)"
            raise ValueError(
                f"the {what} examples are f32[{','.join(map(str, shape))}] "
                f"each but model '{trained.name}' takes "
                f"f32[{','.join(map(str, example))}]{hint}")

    check_shape(images, "training")
    if test is not None:
        check_shape(test[0], "test")
    if len(labels) < batch:
        raise ValueError(f"{len(labels)} training examples are fewer than "
                         f"one batch of {batch}")
    trained.trainer(lr, **config._asdict())
    classes = trained.num_classes
    if isinstance(weights, (str, os.PathLike)):
        # A resumed checkpoint's BatchNorms go on counting their batches.
        trained._program.resume_batches_tracked(os.fspath(weights),
                                                config.native())
    for what, y in (("data", labels), ("test_data", test and test[1])):
        if y is None or not len(y):
            continue
        bad = np.flatnonzero((y < 0) | (y >= classes))
        if bad.size:
            raise ValueError(f"{what}: label {int(y[bad[0]])} of example "
                             f"{int(bad[0])} is outside [0, {classes}) "
                             f"({classes} classes)")

    def resized(x):
        return _dlm.resize_bilinear(x, resize, resize) \
            if resize and x.ndim == 4 else x

    def test_accuracy():
        x, y = test
        if not resize:
            return trained.evaluate(x, y)["accuracy"]
        chunk, correct = 16 * batch, 0
        for begin in range(0, len(y), chunk):
            part = np.ascontiguousarray(x[begin:begin + chunk])
            correct += trained.evaluate(resized(part),
                                        y[begin:begin + chunk])["correct"]
        return correct / len(y) if len(y) else 0.0

    csv = _Log(log) if log is not None else None
    history = History()
    history.model = trained if given is None else given
    steps_per_epoch = len(labels) // batch
    steps, start = 0, time.monotonic()
    try:
        for epoch in range(epochs):
            rate = _learning_rate(lr_schedule, lr, epoch, epochs, lr_step,
                                  lr_gamma)
            order = _dlm.epoch_order(len(labels), batch, bool(shuffle),
                                     config.seed, epoch)
            epoch_start = time.monotonic()
            loss_sum, correct, seen, stop = 0.0, 0, 0, False
            for i in range(steps_per_epoch):
                if max_steps and steps >= max_steps:
                    stop = True
                    break
                index = order[i * batch:(i + 1) * batch]
                x = resized(np.ascontiguousarray(images[index]))
                try:
                    result = trained.train_step(x, labels[index], rate)
                except RuntimeError as error:
                    raise RuntimeError(f"epoch {epoch + 1}, step {i + 1}: "
                                       f"{error}") from None
                steps += 1
                loss_sum += result.loss * batch
                correct += result.correct
                seen += batch
            if seen == 0:
                break
            seconds = time.monotonic() - epoch_start
            row = {"epoch": epoch + 1, "loss": loss_sum / seen,
                   "train_acc": correct / seen, "test_acc": None, "lr": rate}
            line = (f"epoch {epoch + 1}: loss {row['loss']:.3f}, train acc "
                    f"{row['train_acc']:.3f}")
            if test is not None:
                row["test_acc"] = test_accuracy()
                line += f", test acc {row['test_acc']:.3f}"
            row["examples_per_sec"] = seen / seconds if seconds > 0 else \
                float("inf")
            line += f", {row['examples_per_sec']:.1f} examples/sec"
            row["seconds"] = time.monotonic() - start
            history.append(row)
            if verbose:
                print(line, file=sys.stdout, flush=True)
            if csv is not None:
                csv.add(row)
            if checkpoint is not None and checkpoint_every and \
                    (epoch + 1) % checkpoint_every == 0:
                trained.save_checkpoint(checkpoint)
            if stop:
                break
        if checkpoint is not None and steps:
            trained.save_checkpoint(checkpoint)
    finally:
        if given is not None and trained is not given and \
                trained._program.has_weights:
            # The given model ends with the trained weights (its own batch
            # size, so its own compilation).
            given._program.set_weights(list(trained._program.get_weights()))
    return history

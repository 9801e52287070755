"""Compiled models: `dlm.compile()` and `dlm.Model`.

A `Model` is one compiled .dlm program with its weights. The C++ extension
(`_dlm.Program`, python/src/DLMModule.cpp) compiles, binds and runs; this
module checks what Python hands it (names, shapes, dtypes, devices) and
converts torch tensors, so that every error names what was expected.
"""

import os
import warnings

import numpy as np

from . import _dlm

CompileError = _dlm.CompileError

#: What `Model.emit()` prints: the kinds of `dlmc --emit`.
EMIT_KINDS = ("ast", "mlir", "mlir-fused", "plan", "dot", "cuda", "ptx",
              "cubin")
#: Where a model runs: the GPU or else the emulator, the GPU, the CPU
#: emulator of the generated kernels, the reference interpreter.
DEVICES = ("auto", "cuda", "emu", "reference")
FUSIONS = ("all", "none")
PRECISIONS = (None, "fp32", "f32", "tf32", "bf16")


class WeightError(ValueError):
    """Weights that do not fit the model: missing, misshapen or unknown
    tensors (every problem is listed in the message)."""


def format_type(shape, dtype="f32"):
    """A tensor type as `dlmc --list-params` prints it: `f32[1,2,3]`."""
    return f"{dtype}[{','.join(str(int(d)) for d in shape)}]"


def _is_torch_tensor(value):
    module = type(value).__module__ or ""
    return module.split(".")[0] == "torch" and hasattr(value, "detach")


def _weight_array(name, value):
    """`value` (a numpy array, a torch tensor, anything numpy takes) as a
    float32 C-order array."""
    if _is_torch_tensor(value):
        import torch
        value = value.detach().to(device="cpu", dtype=torch.float32)
        return np.ascontiguousarray(value.contiguous().numpy())
    try:
        return np.ascontiguousarray(value, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise TypeError(f"tensor '{name}': expected a numpy array or a torch "
                        f"tensor, got {type(value).__name__} ({error})")


def _is_path(source):
    if isinstance(source, os.PathLike):
        return True
    if "\n" in source or "{" in source:
        return False
    return os.path.isfile(source) or source.endswith(".dlm")


def compile(source, *, batch=None, fusion="all", device="auto",
            precision=None, name=None):
    """Compiles a .dlm model: `source` is a path (a string naming an
    existing file or ending in `.dlm`, or a path-like object) or the text of
    a .dlm file (named `name`, default `<string>`, in diagnostics).

    batch: the batch size of the model's input instead of the one written
    (its first dimension). fusion: "all" (the fusion pipeline, default) or
    "none" (the graph as written), as `dlmc --fusion`. precision: the
    convolutions' arithmetic, as `dlmc --precision`: "fp32" (IEEE FP32, the
    default), "tf32" or "bf16" (tensor-core kernels, FP32 accumulation;
    docs/cuda.md gives their tolerances). device: where `Model(x)` runs: "auto" (the
    GPU if there is one, else the CPU emulator), "cuda", "emu" or
    "reference" (the interpreter, the oracle). A model that does not compile
    raises `dlm.CompileError`, whose message is dlmc's
    `file:line:col: error: ...` with the source line and a caret.
    """
    if batch is not None and (isinstance(batch, bool) or
                              not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch={batch!r}: expected a positive integer")
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision={precision!r}: expected fp32, tf32 or bf16 "
            "(fp16 tensor cores are not built yet)")
    precision = "fp32" if precision in (None, "f32") else precision
    if fusion not in FUSIONS:
        raise ValueError(f"fusion={fusion!r}: expected one of "
                         f"{', '.join(FUSIONS)}")
    if device not in DEVICES:
        raise ValueError(f"device={device!r}: expected one of "
                         f"{', '.join(DEVICES)}")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError("dlm.compile() takes a path or the text of a .dlm "
                        f"file, got {type(source).__name__}")
    if _is_path(source):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"no such .dlm file: '{path}'")
        program = _dlm.Program(path, path, True, fusion, batch or 0,
                               precision)
    else:
        program = _dlm.Program(source, name or "<string>", False, fusion,
                               batch or 0, precision)
    for line in program.diagnostics.splitlines():
        if ": warning: " in line:
            warnings.warn(line, stacklevel=2)
    return Model(program, device=device, fusion=fusion)


class Model:
    """A compiled .dlm model and its weights; made by `dlm.compile()` or
    `dlm.from_torch()`.

    `model(x)` runs it on `x`, a float32 numpy array or torch CPU tensor of
    exactly the model's input shape, and returns the output as the same
    kind. Weights come from `load_state_dict()`, `load_weights()` (a
    .safetensors file) or `random_weights()`.
    """

    def __init__(self, program, *, device="auto", fusion="all"):
        self._program = program
        self.device = device
        self.fusion = fusion
        #: The executor the last run used ("reference", "emu" or "cuda").
        self.last_device = None
        #: For a model made by `from_torch()`: the translation (its
        #: `.mapping` from state_dict keys to parameter names).
        self.translation = None
        shapes = program.input_shapes()
        if len(shapes) != 1:
            raise ValueError(f"model '{program.name}' has {len(shapes)} "
                             "inputs; dlm's Python API runs models with one")
        self._input_shape = tuple(shapes[0])
        self._params = [(name, tuple(shape))
                        for name, shape in program.params()]

    # Description ---------------------------------------------------------

    @property
    def name(self):
        """The model's name (`model NAME(...)` in the source)."""
        return self._program.name

    @property
    def source(self):
        """The .dlm source text."""
        return self._program.source

    @property
    def input_shape(self):
        """The model's input shape, batch size first."""
        return self._input_shape

    def __repr__(self):
        return (f"<dlm.Model '{self.name}' x: {format_type(self.input_shape)}"
                f", {len(self._params)} tensors, device={self.device!r}>")

    def params(self):
        """The tensors the model expects, as `dlmc --list-params`: a list of
        (name, shape) in program order."""
        return list(self._params)

    # Weights -------------------------------------------------------------

    def load_state_dict(self, state_dict, strict=True):
        """Sets the weights from a mapping of dlm parameter names to numpy
        arrays or torch tensors (converted to float32). `num_batches_tracked`
        entries are ignored. A missing tensor or a tensor of the wrong shape
        is an error, and so is an unknown name if `strict`; a `WeightError`
        lists every problem, naming each tensor and both shapes."""
        expected = dict(self._params)
        problems, given = [], {}
        for key, value in state_dict.items():
            if key == "num_batches_tracked" or key.endswith(
                    ".num_batches_tracked"):
                continue
            if key not in expected:
                if strict:
                    shape = getattr(value, "shape", None)
                    what = f" {format_type(shape)}" if shape is not None else ""
                    problems.append(f"tensor '{key}'{what} is not a "
                                    "parameter of the model (strict=True)")
                continue
            array = _weight_array(key, value)
            if array.shape != expected[key]:
                problems.append(f"tensor '{key}' is {format_type(array.shape)}"
                                " but the model expects "
                                f"{format_type(expected[key])}")
            given[key] = array
        for name, shape in self._params:
            if name not in given:
                problems.append(f"missing tensor '{name}' {format_type(shape)}"
                                " that the model expects")
        if problems:
            shown = problems[:10]
            if len(problems) > 10:
                shown.append(f"{len(problems) - 10} more problems with the "
                             "weights")
            raise WeightError(f"model '{self.name}': " + "\n".join(shown))
        seen, tensors = set(), []
        for name, _ in self._params:
            if name not in seen:
                seen.add(name)
                tensors.append((name, given[name]))
        self._program.set_weights(tensors)
        return self

    def load_weights(self, path, strict=False):
        """Sets the weights from a .safetensors file (`dlmc --weights`,
        docs/weights.md); with `strict`, a tensor the model does not use is
        an error, else a warning."""
        try:
            unused = self._program.load_weights(os.fspath(path), strict)
        except RuntimeError as error:
            raise WeightError(str(error)) from None
        for message in unused:
            warnings.warn(message, stacklevel=2)
        return self

    def random_weights(self, seed=0):
        """Deterministic random weights (`dlmc --random-weights=SEED`)."""
        self._program.random_weights(int(seed))
        return self

    def state_dict(self):
        """The weights, as a dict of dlm parameter names to float32 numpy
        arrays (copies)."""
        return dict(self._program.get_weights())

    # Running -------------------------------------------------------------

    def _check_input(self, x):
        if _is_torch_tensor(x):
            import torch
            if x.device.type != "cpu":
                raise ValueError(
                    f"input is on {x.device}; dlm takes CPU tensors for now "
                    "(pass x.cpu())")
            if x.dtype != torch.float32:
                raise TypeError(f"input has dtype {x.dtype} but model "
                                f"'{self.name}' expects torch.float32 "
                                "(use x.float())")
            array, is_torch = x.detach().contiguous().numpy(), True
        elif isinstance(x, np.ndarray):
            if x.dtype != np.float32:
                raise TypeError(f"input has dtype {x.dtype} but model "
                                f"'{self.name}' expects float32 (use "
                                "x.astype(numpy.float32))")
            array, is_torch = x, False
        else:
            raise TypeError("input must be a numpy array or a torch tensor, "
                            f"got {type(x).__name__}")
        if tuple(array.shape) != self._input_shape:
            raise ValueError(f"input is {format_type(array.shape)} but model "
                             f"'{self.name}' expects "
                             f"{format_type(self._input_shape)}")
        return np.ascontiguousarray(array), is_torch

    def run(self, x, *, device=None, arch=None, verbose=False):
        """Runs the model on `x` (see the class) on `device` (default: the
        model's) and returns the output, a numpy array for a numpy input and
        a torch tensor for a torch one. The GIL is released while it runs."""
        device = device or self.device
        if device not in DEVICES:
            raise ValueError(f"device={device!r}: expected one of "
                             f"{', '.join(DEVICES)}")
        array, is_torch = self._check_input(x)
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        output, self.last_device = self._program.run(device, array, arch or "",
                                                     verbose)
        if is_torch:
            import torch
            return torch.from_numpy(output)
        return output

    __call__ = run

    # Training ------------------------------------------------------------

    def _labels(self, labels, count):
        if _is_torch_tensor(labels):
            labels = labels.detach().cpu().numpy()
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels have dtype {labels.dtype}; expected "
                            "integer class indices")
        if labels.shape != (count,):
            raise ValueError(f"labels have shape {list(labels.shape)}; "
                             f"expected one per example, [{count}]")
        return np.ascontiguousarray(labels, dtype=np.int64)

    @staticmethod
    def _train_options(momentum, dampening, weight_decay, nesterov,
                       label_smoothing, bn_momentum, seed):
        options = _dlm.TrainOptions()
        options.momentum = float(momentum)
        options.dampening = float(dampening)
        options.weight_decay = float(weight_decay)
        options.nesterov = bool(nesterov)
        options.label_smoothing = float(label_smoothing)
        options.bn_momentum = float(bn_momentum)
        options.seed = int(seed)
        return options

    def train_step(self, x, labels, lr, *, momentum=0.0, dampening=0.0,
                   weight_decay=0.0, nesterov=False, label_smoothing=0.0,
                   bn_momentum=0.1, seed=0):
        """One step of minibatch SGD with cross-entropy on `x` (the model's
        input shape) and `labels` (one class index per example), as
        `dlmc --train` takes it (docs/training.md): torch.optim.SGD's
        `momentum`, `dampening`, `weight_decay`, `nesterov`, the loss's
        `label_smoothing`, the BatchNorm `bn_momentum` and the dropout
        `seed`. Runs on the reference executor; the weights become the
        step's. Returns {"loss": the batch's mean loss, "correct": the
        examples the logits before the step classify right}. The momentum
        buffers live until the weights are set otherwise or the options
        change."""
        array, _ = self._check_input(x)
        labels = self._labels(labels, array.shape[0])
        options = self._train_options(momentum, dampening, weight_decay,
                                      nesterov, label_smoothing, bn_momentum,
                                      seed)
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        loss, correct = self._program.train_step(array, labels, float(lr),
                                                 options)
        return {"loss": loss, "correct": correct}

    def evaluate(self, x, labels):
        """The model in eval mode on `x` ([M, ...]: any number of examples)
        with `labels`: {"loss", "correct", "count", "accuracy"}."""
        if _is_torch_tensor(x):
            x = x.detach().cpu().numpy()
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise TypeError("evaluate() takes float32 images")
        if tuple(x.shape[1:]) != self._input_shape[1:]:
            raise ValueError(f"images are {format_type(x.shape)}; model "
                             f"'{self.name}' takes "
                             f"f32[M,{','.join(map(str, self._input_shape[1:]))}]")
        labels = self._labels(labels, x.shape[0])
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights")
        loss, correct, count = self._program.evaluate(
            np.ascontiguousarray(x), labels,
            self._train_options(0, 0, 0, False, 0, 0.1, 0))
        return {"loss": loss, "correct": correct, "count": count,
                "accuracy": correct / count if count else 0.0}

    # Inspection ----------------------------------------------------------

    def emit(self, kind, *, arch=None):
        """What `dlmc --emit=KIND` prints: "ast", "mlir", "mlir-fused",
        "plan", "dot", "cuda" (text), or "ptx", "cubin" (bytes, compiled by
        NVRTC for `arch`, default sm_90). "plan" with `arch` adds ptxas's
        registers and shared memory per kernel."""
        if kind not in EMIT_KINDS:
            raise ValueError(f"unknown emit kind {kind!r}: expected one of "
                             f"{', '.join(EMIT_KINDS)}")
        return self._program.emit(kind, arch or "")

    def stats(self):
        """What `dlmc --stats` prints, as a dict: kernels, concat-copies,
        peak-activation-bytes, modeled-dram-bytes, param-bytes."""
        result = {}
        for line in self._program.stats().splitlines():
            key, _, value = line.partition(":")
            value = value.strip()
            result[key.strip()] = int(value) if value.lstrip("-").isdigit() \
                else value
        return result

    def save_bundle(self, path):
        """Writes the model's bundle (kernels.cu, plan.json, ...) to the
        directory `path`, as `dlmc model.dlm -o DIR`: an existing directory
        is replaced only if it is a bundle (docs/bundle.md)."""
        for message in self._program.save_bundle(os.fspath(path)):
            warnings.warn(message, stacklevel=2)

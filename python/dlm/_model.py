"""Compiled models: `dlm.compile()` and `dlm.Model`.

A `Model` is one compiled .dlm program with its weights. The C++ extension
(`_dlm.Program`, python/src/DLMModule.cpp) compiles, binds and runs; this
module checks what Python hands it (names, shapes, dtypes, devices) and
converts torch tensors, so that every error names what was expected.
"""

import collections
import math
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
#: What `dlm.compile(precision=...)` accepts ("f32" is fp32's other name):
#: the convolutions' arithmetic, as `dlmc --precision`.
PRECISIONS = (None, "f32", *_dlm.precisions)
#: What `precision=None` means: dlmc's default (TF32 tensor cores).
DEFAULT_PRECISION = _dlm.default_precision
#: DLPack's device types of CUDA memory (kDLCUDA, kDLCUDAManaged).
_DLPACK_CUDA = (2, 13)


class WeightError(ValueError):
    """Weights that do not fit the model: missing, misshapen or unknown
    tensors (every problem is listed in the message)."""


class CudaArray:
    """A float32 array in device memory that dlm allocated: the output of a
    run on CUDA memory that is neither a torch tensor nor DLPack, given
    without `out=`. It shows itself as CuPy and Numba arrays do, through
    `__cuda_array_interface__` (v3; `cupy.asarray(y)`,
    `numba.cuda.as_cuda_array(y)` and `torch.as_tensor(y, device="cuda")`
    take it without a copy), and `numpy()` copies it to the host. The memory
    is freed when the last reference goes."""

    def __init__(self, allocation, shape, stream):
        self._allocation = allocation
        self.shape = tuple(shape)
        self.dtype = np.dtype(np.float32)
        #: The stream the run that wrote it was enqueued on (None: it was
        #: waited for).
        self.stream = stream

    @property
    def __cuda_array_interface__(self):
        return {"version": 3, "shape": self.shape, "typestr": "<f4",
                "data": (self._allocation.address, False), "strides": None,
                "stream": self.stream}

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    @property
    def nbytes(self):
        return 4 * self.size

    def numpy(self):
        """A host copy, once the run that wrote it is done."""
        host = np.empty(self.shape, dtype=np.float32)
        self._allocation.copy_to_host(host, self.stream or 0)
        return host

    def __repr__(self):
        return (f"<dlm.CudaArray {format_type(self.shape)} at "
                f"{self._allocation.address:#x}>")


class StepResult(collections.namedtuple("StepResult", "loss correct")):
    """What `Model.train_step()` returns: the batch's mean loss and the
    examples classified right, as a tuple `(loss, correct)`; also
    `result.loss` and `result["loss"]`."""

    __slots__ = ()

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return getattr(self, key)
            except AttributeError:
                raise KeyError(key) from None
        return super().__getitem__(key)


_TrainFields = collections.namedtuple(
    "_TrainConfig", "momentum dampening weight_decay nesterov "
    "label_smoothing bn_momentum seed",
    defaults=(0.0, 0.0, 0.0, False, 0.0, 0.1, 0))


class _TrainConfig(_TrainFields):
    """The options compiled into a training step, checked as
    torch.optim.SGD and nn.CrossEntropyLoss check them."""

    __slots__ = ()

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls, *args, **kwargs)
        values = {}
        for key in ("momentum", "dampening", "weight_decay",
                    "label_smoothing", "bn_momentum"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(
                    value, (int, float, np.floating, np.integer)):
                raise TypeError(f"{key}={value!r}: expected a number")
            value = float(value)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{key}={value!r}: expected a non-negative "
                                 "number")
            values[key] = value
        if values["label_smoothing"] > 1:
            raise ValueError(f"label_smoothing={values['label_smoothing']!r}:"
                             " expected a number in [0, 1]")
        if values["bn_momentum"] > 1:
            raise ValueError(f"bn_momentum={values['bn_momentum']!r}: "
                             "expected a number in [0, 1]")
        nesterov = self.nesterov
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov={nesterov!r}: expected a bool")
        if nesterov and (values["momentum"] == 0 or values["dampening"] != 0):
            raise ValueError("nesterov=True needs a momentum and zero "
                             "dampening (as torch.optim.SGD)")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or seed < 0:
            raise ValueError(f"seed={seed!r}: expected a non-negative "
                             "integer")
        return super().__new__(cls, nesterov=bool(nesterov), seed=int(seed),
                               **values)

    def native(self):
        options = _dlm.TrainOptions()
        options.momentum = self.momentum
        options.dampening = self.dampening
        options.weight_decay = self.weight_decay
        options.nesterov = self.nesterov
        options.label_smoothing = self.label_smoothing
        options.bn_momentum = self.bn_momentum
        options.seed = self.seed
        return options


def _check_lr(lr):
    if isinstance(lr, bool) or not isinstance(
            lr, (int, float, np.floating, np.integer)):
        raise TypeError(f"lr={lr!r}: expected a number")
    lr = float(lr)
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr={lr!r}: expected a non-negative number")
    return lr


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


def _cuda_device(x):
    """The CUDA device `x` lives on ("cuda:0"), or None for host memory:
    torch tensors, and anything with `__cuda_array_interface__` or a DLPack
    device."""
    if _is_torch_tensor(x):
        device = getattr(x, "device", None)
        return str(device) if getattr(device, "type", None) == "cuda" \
            else None
    if hasattr(x, "__cuda_array_interface__"):
        return "cuda"
    dlpack_device = getattr(x, "__dlpack_device__", None)
    if callable(dlpack_device):
        try:
            kind, index = dlpack_device()
        except Exception:
            return None
        if int(kind) in _DLPACK_CUDA:
            return f"cuda:{int(index)}"
    return None


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
    convolutions' arithmetic, as `dlmc --precision`: "tf32" (the default,
    as PyTorch's cuDNN convolutions), "bf16" or "fp16" (tensor-core
    kernels, FP32 accumulation; docs/cuda.md gives their tolerances), or
    "fp32" (IEEE FP32). The reference executor computes in FP32 whatever
    the precision. device: where `Model(x)` runs: "auto" (the
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
            f"precision={precision!r}: expected "
            f"{', '.join(_dlm.precisions[:-1])} or {_dlm.precisions[-1]}")
    precision = (DEFAULT_PRECISION if precision is None else
                 "fp32" if precision == "f32" else precision)
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
    kind. On the GPU, `x` may be CUDA memory (a torch tensor, an array with
    `__cuda_array_interface__`, DLPack), run in place (docs/python.md, "GPU
    memory"). Weights come from `load_state_dict()`, `load_weights()` (a
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
        self._train_config = None   # a _TrainConfig once chosen
        self._train_lr = None

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

    def _check_torch_tensor(self, x, role="input", shape=None):
        """A torch tensor's dtype and shape (the input's, or `shape` for
        `role`), as the model expects."""
        import torch
        shape = self._input_shape if shape is None else shape
        if x.dtype != torch.float32:
            raise TypeError(f"{role} has dtype {x.dtype} but model "
                            f"'{self.name}' expects torch.float32 "
                            "(use x.float())")
        if tuple(x.shape) != shape:
            raise ValueError(f"{role} is {format_type(x.shape)} but model "
                             f"'{self.name}' expects {format_type(shape)}")

    def _check_input(self, x, device=None):
        """`x` as a float32 C-order numpy array, and how to give the output
        back (None: numpy; else the torch device to put it on). `device` is
        where the model is about to run."""
        where = _cuda_device(x)
        if where is not None:
            if device not in ("cuda", "auto"):
                raise ValueError(
                    f"input is a CUDA tensor ({where}) but model "
                    f"'{self.name}' runs on {device!r}; pass x.cpu(), or "
                    "compile with device='cuda'")
        if _is_torch_tensor(x):
            if x.device.type not in ("cpu", "cuda"):
                raise ValueError(
                    f"input is on {x.device}; dlm takes CPU tensors, and "
                    "CUDA tensors on a model that runs on the GPU (pass "
                    "x.cpu())")
            self._check_torch_tensor(x)
            # Here (training, evaluation: the reference executor) a CUDA
            # tensor goes through the host, one copy each way; Model(x) on
            # "cuda" or "auto" takes it where it is (_run_on_device).
            array = x.detach().to("cpu").contiguous().numpy()
            return np.ascontiguousarray(array), x.device
        if isinstance(x, np.ndarray):
            if x.dtype != np.float32:
                raise TypeError(f"input has dtype {x.dtype} but model "
                                f"'{self.name}' expects float32 (use "
                                "x.astype(numpy.float32))")
            array = x
        else:
            raise TypeError("input must be a numpy array or a torch tensor, "
                            f"got {type(x).__name__}")
        if tuple(array.shape) != self._input_shape:
            raise ValueError(f"input is {format_type(array.shape)} but model "
                             f"'{self.name}' expects "
                             f"{format_type(self._input_shape)}")
        return np.ascontiguousarray(array), None

    def run(self, x, *, out=None, device=None, arch=None, verbose=False):
        """Runs the model on `x` (see the class) on `device` (default: the
        model's) and returns the output, a numpy array for a numpy input and
        a torch tensor for a torch one (on the input's device: a CUDA tensor
        for a CUDA tensor, which only a model on "cuda" or "auto" takes).
        `out`, of the output's shape and float32, receives the output and is
        returned: an array or tensor in host memory for a host input, CUDA
        memory for CUDA memory (without it, an input in CUDA memory that is
        neither a torch tensor nor DLPack gets a `dlm.CudaArray`:
        docs/python.md, "GPU memory"). The GIL is released while it runs."""
        device = device or self.device
        if device not in DEVICES:
            raise ValueError(f"device={device!r}: expected one of "
                             f"{', '.join(DEVICES)}")
        if device in ("cuda", "auto") and _cuda_device(x) is not None:
            return self._run_on_device(x, out, arch, verbose)
        array, torch_device = self._check_input(x, device)
        if out is not None:
            self._check_host_out(out)
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        output, self.last_device = self._program.run(device, array, arch or "",
                                                     verbose)
        if out is not None:
            if _is_torch_tensor(out):
                import torch
                out.copy_(torch.from_numpy(output))
            else:
                np.copyto(out, output)
            return out
        if torch_device is not None:
            import torch
            output = torch.from_numpy(output)
            return output if torch_device.type == "cpu" else \
                output.to(torch_device)
        return output

    __call__ = run

    @property
    def output_shape(self):
        """The model's output shape, batch size first."""
        return tuple(self._program.output_shape())

    def _check_host_out(self, out):
        """`out` for a host input: a writable float32 numpy array or torch
        CPU tensor of the output's shape."""
        if _cuda_device(out) is not None:
            raise TypeError("out is in CUDA memory but the input is not: "
                            "pass both on the GPU, or both on the host")
        if _is_torch_tensor(out):
            import torch
            dtype, ok = out.dtype, out.dtype == torch.float32
        elif isinstance(out, np.ndarray):
            dtype, ok = out.dtype, out.dtype == np.float32
            if not out.flags.writeable:
                raise ValueError("out is read-only")
        else:
            raise TypeError("out must be a numpy array or a torch tensor, "
                            f"got {type(out).__name__}")
        if not ok:
            raise TypeError(f"out has dtype {dtype}; the output is float32")
        if tuple(out.shape) != self.output_shape:
            raise ValueError(f"out is {format_type(out.shape)} but model "
                             f"'{self.name}' writes "
                             f"{format_type(self.output_shape)}")

    def _device_view(self, value, role, shape):
        """CUDA memory `value` (the input or `out`) as (value, address,
        stream): a torch tensor (whose stream is torch's current one), an
        object with `__cuda_array_interface__` (its own `stream`, else
        None), or DLPack (taken as a torch tensor, without a copy). A
        strided or unaligned torch input is copied on the device first; the
        rest must be float32, C-contiguous, 256-byte aligned and of
        `shape`."""
        if not _is_torch_tensor(value) and \
                not hasattr(value, "__cuda_array_interface__"):
            where = _cuda_device(value)
            if where not in ("cuda", "cuda:0"):
                raise ValueError(f"{role} is on {where}; dlm runs on cuda:0")
            try:
                import torch
            except ImportError:
                raise TypeError(
                    f"{role} is a {type(value).__name__} in CUDA memory "
                    "(DLPack); dlm takes DLPack through torch, which is not "
                    "installed: pass an object with __cuda_array_interface__"
                    ) from None
            value = torch.from_dlpack(value)
        if _is_torch_tensor(value):
            import torch
            self._check_torch_tensor(value, role, shape)
            if value.device.index not in (None, 0):
                raise ValueError(f"{role} is on {value.device}; dlm runs on "
                                 "cuda:0 (use .to('cuda:0'))")
            value = value.detach()
            if not value.is_contiguous() or value.data_ptr() % 256:
                # The kernels read their buffers whole and 256-byte aligned,
                # as torch's allocator gives a tensor of its own.
                if role != "input":
                    raise ValueError(f"{role} must be contiguous and start "
                                     "256-byte aligned (a tensor of its own, "
                                     "as torch.empty gives)")
                value = value.clone(memory_format=torch.contiguous_format)
            stream = torch.cuda.current_stream(value.device).cuda_stream
            return value, value.data_ptr(), stream
        interface = value.__cuda_array_interface__
        typestr = interface.get("typestr")
        if typestr not in ("<f4", "=f4", "|f4"):
            raise TypeError(f"{role} has typestr {typestr!r} "
                            "(__cuda_array_interface__) but model "
                            f"'{self.name}' takes float32 ('<f4')")
        got = tuple(interface.get("shape", ()))
        if got != shape:
            raise ValueError(f"{role} is {format_type(got)} but model "
                             f"'{self.name}' takes {format_type(shape)}")
        if interface.get("mask") is not None:
            raise ValueError(f"{role} is a masked array; dlm takes plain ones")
        strides = interface.get("strides")
        if strides is not None:
            step, dense = 4, []
            for extent in reversed(shape):
                dense.append(step)
                step *= extent
            if any(extent != 1 and stride != want for extent, stride, want
                   in zip(shape, strides, reversed(dense))):
                raise ValueError(f"{role} is not C-contiguous (strides "
                                 f"{tuple(strides)}): dlm reads CUDA arrays "
                                 "whole; make a contiguous copy")
        address, readonly = interface["data"]
        if role != "input" and readonly:
            raise ValueError(f"{role} is read-only")
        if address % 256:
            raise ValueError(f"{role} starts at {address:#x}, not 256-byte "
                             "aligned: dlm reads CUDA arrays as their "
                             "allocator gives them; make a copy")
        stream = interface.get("stream")
        if stream == 0:
            raise ValueError(f"{role} gives stream 0, which "
                             "__cuda_array_interface__ (v3) does not allow: "
                             "1 is the legacy default stream, 2 the "
                             "per-thread one")
        return value, address, stream

    def _run_on_device(self, x, out, arch, verbose):
        """CUDA memory in and out, no host copy: the kernels read `x` where
        it is, on its stream, and the output is copied on the device into
        `out` (without one: a tensor torch allocates for a torch or DLPack
        input, else a CudaArray) (docs/python.md, "GPU memory")."""
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        x, address, stream = self._device_view(x, "input", self._input_shape)
        if out is None and _is_torch_tensor(x):
            import torch
            out = torch.empty(self.output_shape, dtype=torch.float32,
                              device=x.device)
        elif out is None:
            allocation = self._program.allocate_on_device(
                "cuda", 4 * int(np.prod(self.output_shape)), arch or "",
                verbose)
            out = CudaArray(allocation, self.output_shape, stream)
        elif _cuda_device(out) is None:
            raise TypeError("out is in host memory but the input is in CUDA "
                            "memory: pass both on the GPU, or both on the "
                            "host")
        out, out_address, out_stream = self._device_view(
            out, "out", self.output_shape)
        if stream is None:
            stream = out_stream
        elif out_stream not in (None, stream):
            raise ValueError(f"input and out are on different streams "
                             f"({stream:#x}, {out_stream:#x}); dlm runs on one")
        self.last_device = self._program.run_on_device(
            "cuda", address, out_address, stream or 0, arch or "", verbose)
        return out

    # Training ------------------------------------------------------------

    def _labels(self, labels, count):
        if _is_torch_tensor(labels):
            labels = labels.detach().cpu().numpy()
        elif _cuda_device(labels) is not None:
            raise TypeError("labels in CUDA memory: pass a host array or a "
                            "torch tensor")
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels have dtype {labels.dtype}; expected "
                            "integer class indices (int64 or int32)")
        if labels.shape != (count,):
            raise ValueError(f"labels have shape {list(labels.shape)}; "
                             f"expected one per example, [{count}]")
        return np.ascontiguousarray(labels, dtype=np.int64)

    def _images(self, x, what="images"):
        """`x` [M, ...] (any number of examples of the model's input) as a
        float32 C-order numpy array."""
        if _cuda_device(x) is not None:
            if not _is_torch_tensor(x):
                raise TypeError(f"{what} in CUDA memory: pass a host array or "
                                "a torch tensor")
            x = x.detach().to("cpu")
        if _is_torch_tensor(x):
            import torch
            if x.dtype != torch.float32:
                raise TypeError(f"{what} have dtype {x.dtype}; expected "
                                "torch.float32")
            x = x.detach().cpu().contiguous().numpy()
        if not isinstance(x, np.ndarray):
            raise TypeError(f"{what} must be a numpy array or a torch tensor, "
                            f"got {type(x).__name__}")
        if x.dtype != np.float32:
            raise TypeError(f"{what} have dtype {x.dtype}; expected float32")
        example = self._input_shape[1:]
        if x.ndim != len(self._input_shape) or tuple(x.shape[1:]) != example:
            raise ValueError(
                f"{what} are {format_type(x.shape)} but model '{self.name}' "
                f"takes f32[M,{','.join(map(str, example))}] (M examples)")
        return np.ascontiguousarray(x)

    def trainer(self, lr=None, *, momentum=0.0, dampening=0.0,
                weight_decay=0.0, nesterov=False, label_smoothing=0.0,
                bn_momentum=0.1, seed=0):
        """Chooses how `train_step()` trains, as constructing a
        `torch.optim.SGD(params, lr, momentum, dampening, weight_decay,
        nesterov)` with `nn.CrossEntropyLoss(label_smoothing=...)` does:
        `lr` is the default learning rate of each step (a step may pass
        another, for schedules); `bn_momentum` is the BatchNorm momentum
        and `seed` the dropout masks' seed. These are compiled into the
        training step (dlm-differentiate, docs/training.md), so they are
        chosen once: calling `trainer()` again with other options starts
        a new optimizer (momentum buffers back at zero) on the current
        weights. Returns the model."""
        options = _TrainConfig(momentum, dampening, weight_decay, nesterov,
                               label_smoothing, bn_momentum, seed)
        if lr is not None:
            lr = _check_lr(lr)
        if self._program.has_weights and self._program.train_steps:
            # A new optimizer: the trainer is made again on the current
            # weights (momentum buffers at zero, steps counted from 0).
            self._program.set_weights(list(self._program.get_weights()))
        self._train_config = options
        self._train_lr = lr
        return self

    @property
    def train_options(self):
        """The options of the last `trainer()` call (or of the first
        `train_step()`) as a dict with `lr`; None before either."""
        if self._train_config is None:
            return None
        return dict(lr=self._train_lr, **self._train_config._asdict())

    def train_step(self, x, labels, lr=None, **options):
        """One step of minibatch SGD with cross-entropy on `x` (a float32
        numpy array or torch tensor of exactly the model's input shape)
        and `labels` (one integer class index per example, in [0,
        classes)), the step `dlmc --train` takes (docs/training.md), on the
        reference executor. `lr` defaults to `trainer()`'s. The options
        are `trainer()`'s: given here on the first step (with no
        `trainer()` call before) they choose them; given later they must be
        the same. The weights become the step's (`state_dict()` reads
        them, `model(x)` runs them).

        Returns `StepResult(loss, correct)`: the batch's mean loss and how
        many examples the logits before the step classify right (a tuple;
        `result.loss` and `result["loss"]` work too)."""
        config = self._train_config
        if options:
            unknown = sorted(set(options) - set(_TrainConfig._fields))
            if unknown:
                raise TypeError(f"train_step() got unknown options "
                                f"{', '.join(unknown)}; expected some of "
                                f"{', '.join(_TrainConfig._fields)}")
            wanted = _TrainConfig(**{**_TrainConfig()._asdict(), **options})
            if config is None:
                config = wanted
            elif wanted != config:
                changed = ", ".join(
                    f"{k}={getattr(wanted, k)!r} (was {getattr(config, k)!r})"
                    for k in _TrainConfig._fields
                    if getattr(wanted, k) != getattr(config, k))
                raise ValueError(
                    f"train_step(): the training options are chosen once "
                    f"(trainer() or the first step); this step asks for "
                    f"{changed}. Call model.trainer(...) to start a new "
                    "optimizer with them")
        if config is None:
            config = _TrainConfig()
        if lr is None:
            lr = self._train_lr
        if lr is None:
            raise ValueError("train_step() needs a learning rate: "
                             "train_step(x, labels, lr) or "
                             "model.trainer(lr=...)")
        lr = _check_lr(lr)
        array, _ = self._check_input(x, "reference")
        labels = self._labels(labels, array.shape[0])
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        loss, correct = self._program.train_step(array, labels, lr,
                                                 config.native())
        self._train_config = config
        return StepResult(loss, correct)

    @property
    def train_steps(self):
        """The steps taken since the weights or the options were last set."""
        return self._program.train_steps

    @property
    def num_classes(self):
        """The classes of the training loss (the logits' second
        dimension)."""
        config = self._train_config or _TrainConfig()
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights")
        return self._program.num_classes(config.native())

    def evaluate(self, x, labels):
        """The model in eval mode (BatchNorm with its running statistics, no
        dropout) on `x` [M, ...] (any number of examples) with `labels`:
        {"loss": the mean cross-entropy, "correct", "count": M,
        "accuracy"}. Runs on the reference executor, as dlmc --train's
        test accuracy."""
        x = self._images(x)
        labels = self._labels(labels, x.shape[0])
        if not self._program.has_weights:
            raise RuntimeError(f"model '{self.name}' has no weights: call "
                               "load_state_dict(), load_weights() or "
                               "random_weights() first")
        config = self._train_config or _TrainConfig()
        loss, correct, count = self._program.evaluate(x, labels,
                                                      config.native())
        return {"loss": loss, "correct": correct, "count": count,
                "accuracy": correct / count if count else 0.0}

    def save_checkpoint(self, path):
        """Writes the trained parameters and running statistics, with each
        BatchNorm's `num_batches_tracked` (the steps taken), to the
        safetensors file `path`, as `dlmc --train --checkpoint`; needs a
        `train_step()` since the weights were last set."""
        self._program.write_checkpoint(os.fspath(path))

    def init_weights(self, scheme="xavier", seed=0):
        """`dlmc --train --init=SCHEME --seed=SEED` without --weights:
        "xavier" (the book's `xavier_uniform_`, biases 0) or "torch"
        (PyTorch's layer defaults); batch-norm scale 1, shift 0."""
        self._program.init_weights(str(scheme), int(seed))
        return self

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

"""From PyTorch to dlm: `dlm.to_dlm()` and `dlm.from_torch()`.

`to_dlm(module, example_input)` traces the module with torch.fx (every
torch.nn layer a leaf, every other module traced through, each node
recording the module it was called in), runs the trace on the example input
for the shapes, and rebuilds the .dlm program from the graph:

1. Each node becomes a layer (`conv`, `batchnorm`, ...), an identity, an add
   of two tensors or a channel concatenation; anything else raises
   `UnsupportedError` naming it and its place in the module tree.
2. The graph is decomposed from its output: a chain of layers is a
   sequence, an add is a `residual { a } shortcut { b }` over the paths from
   the two operands' nearest common dominator, a `torch.cat` along channels
   is a `dense { f }` when it is `cat(x, f(x))` and a `concat { branch ... }`
   otherwise (after a `torch.cat` of a list that extends an earlier one, as
   torchvision's DenseNet writes it, is rewritten as a cat of the earlier
   result). A graph that is not a nesting of these is an error.
3. Runs of statements that belong to one submodule become a call of a
   block, named after the module's class, with `as <attribute>`; instances
   of a class whose bodies differ only in integers share one block with
   those integers as parameters. Layers with weights get `as <attribute>`.

So the .dlm parameter of a module's `layer1.0.conv1.weight` is
`layer1._0.conv1.weight`: the same path, with a segment that is not a dlm
identifier (a Sequential's index, a keyword) spelled as one (`_0`,
`branch_`). `Translation.mapping` records the renaming.
"""

import operator
import re

import numpy as np

from ._model import compile as _compile

__all__ = ["Translation", "UnsupportedError", "from_torch", "to_dlm"]


class UnsupportedError(NotImplementedError):
    """A module, function or graph shape that dlm cannot express yet."""


class Translation(str):
    """The .dlm source made by `to_dlm()` (a str), with:

    mapping: {state_dict key: dlm parameter name} for every tensor the
        model uses; `num_batches_tracked` and tensors of modules the forward
        pass does not call are left out (`ignored`).
    ignored: the state_dict keys with no dlm counterpart.
    """

    mapping = None
    ignored = None

    def rename(self, state_dict):
        """`state_dict` with dlm's names (ignored keys dropped)."""
        return {self.mapping[key]: value for key, value in state_dict.items()
                if key in self.mapping}


# dlm's keywords and layers: a block may not be named like either, and an
# `as` name may not be a keyword.
_KEYWORDS = {"block", "model", "repeat", "in", "if", "else", "residual",
             "shortcut", "dense", "concat", "branch", "as", "true", "false",
             "and", "or", "not"}
_LAYERS = {"conv", "batchnorm", "relu", "sigmoid", "softmax", "relu6",
           "hardtanh", "tanh", "silu", "hardswish", "hardsigmoid", "gelu",
           "leaky_relu", "maxpool", "avgpool", "adaptive_avgpool",
           "adaptive_maxpool", "global_avgpool", "flatten", "linear",
           "dropout"}


def _segment(name):
    """A module attribute as a dlm identifier: `0` -> `_0`, `branch` ->
    `branch_`, other characters -> `_`."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    if not name or name[0].isdigit():
        name = "_" + name
    if name in _KEYWORDS:
        name += "_"
    return name


def _snake(name):
    name = name.lstrip("_")
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    name = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    name = _segment(name or "module")
    if name.rstrip("_") in _KEYWORDS or name in _LAYERS:
        name = name.rstrip("_") + "_block"
    return name


def _path_text(path):
    return ".".join(path) if path else "(the root module)"


# ---------------------------------------------------------------------------
# Tracing
# ---------------------------------------------------------------------------

def _make_tracer():
    import torch.fx as fx

    class Tracer(fx.Tracer):
        """torch.fx's tracer, recording in each node the qualified name of
        the module whose forward created it (`meta["dlm_path"]`)."""

        def __init__(self):
            super().__init__()
            self.stack = []

        def call_module(self, m, forward, args, kwargs):
            name = self.path_of_module(m)
            self.stack.append(name)
            try:
                return super().call_module(m, forward, args, kwargs)
            except UnsupportedError:
                raise
            except Exception as error:
                raise UnsupportedError(
                    f"cannot trace {type(m).__name__} at '{name}' with "
                    f"torch.fx: {error}") from error
            finally:
                self.stack.pop()

        def create_proxy(self, kind, target, args, kwargs, *rest, **more):
            proxy = super().create_proxy(kind, target, args, kwargs, *rest,
                                         **more)
            proxy.node.meta["dlm_path"] = self.stack[-1] if self.stack else ""
            return proxy

    return Tracer()


# ---------------------------------------------------------------------------
# Ops: what each node of the graph is
# ---------------------------------------------------------------------------

class _Arg:
    """An integer argument of a layer or block call: a literal that may
    become a block parameter (`hint` names it)."""

    def __init__(self, value, hint):
        self.value = value
        self.hint = hint


class _Layer:
    """A dlm layer call: `name(pos, kw=v, ...) as alias`."""

    def __init__(self, node, name, pos=None, kwargs=(), weights=False):
        self.node = node
        self.name = name
        self.pos = pos              # an _Arg, a literal or None
        self.kwargs = list(kwargs)  # (key, _Arg or literal, default)
        self.weights = weights      # whether it has parameters (needs `as`)


class _Op:
    def __init__(self, kind, inputs, layer=None):
        self.kind = kind        # "layer", "alias", "add", "cat"
        self.inputs = inputs    # tensor nodes
        self.layer = layer


def _pair(value, what, where):
    """A square size (`3` or `(3, 3)`) as one int."""
    if isinstance(value, (tuple, list)):
        if len(set(value)) != 1:
            raise UnsupportedError(
                f"{where}: {what}={tuple(value)} is not square; dlm's sizes "
                "are the same for height and width")
        value = value[0]
    return int(value)


def _shape(node):
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None else None


def _is_tensor(node):
    import torch.fx as fx
    return isinstance(node, fx.Node) and hasattr(
        node.meta.get("tensor_meta"), "shape")


def _describe(node, module=None):
    """`nn.Conv2d at 'layer1.0.conv1'`, `torch.cat called in 'layer1.0'
    (BasicBlock)` for messages."""
    if node.op == "call_module":
        return f"nn.{type(module).__name__} at '{node.target}'" \
            if type(module).__module__.startswith("torch.nn") else \
            f"{type(module).__name__} at '{node.target}'"
    target = node.target
    if node.op == "call_method":
        name = f"Tensor.{target}"
    else:
        module_name = getattr(target, "__module__", None) or "torch"
        module_name = {"_operator": "operator",
                       "torch._C._nn": "torch.nn.functional",
                       "torch._C._VariableFunctions": "torch"}.get(
                           module_name, module_name)
        name = f"{module_name}.{getattr(target, '__name__', str(target))}"
    path = node.meta.get("dlm_path", "")
    return f"{name} called in '{path}'" if path else \
        f"{name} called in the root module"


def _conv(node, m, where):
    import torch.nn as nn
    if m.padding_mode != "zeros":
        raise UnsupportedError(f"{where}: padding_mode={m.padding_mode!r} is "
                               "not in the language (zero padding only)")
    if _pair(m.dilation, "dilation", where) != 1:
        raise UnsupportedError(f"{where}: dilation is not in the language")
    kernel = _pair(m.kernel_size, "kernel_size", where)
    stride = _pair(m.stride, "stride", where)
    padding = m.padding
    if padding == "valid":
        padding = 0
    elif padding == "same":
        if stride != 1 or kernel % 2 == 0:
            raise UnsupportedError(f"{where}: padding='same' needs stride 1 "
                                   "and an odd kernel")
        padding = (kernel - 1) // 2
    padding = _pair(padding, "padding", where)
    assert isinstance(m, nn.Conv2d)
    return _Layer(node, "conv", _Arg(m.out_channels, "out"), [
        ("kernel", _Arg(kernel, "kernel"), None),
        ("stride", _Arg(stride, "stride"), 1),
        ("padding", _Arg(padding, "padding"), 0),
        ("groups", _Arg(m.groups, "groups"), 1),
        ("bias", m.bias is not None, True),
    ], weights=True)


def _pool_size(size, kernel, stride, padding, ceil_mode):
    """PyTorch's pooling output size (and the language's, docs/language.md):
    floor or ceil of (H + 2P - K) / S, plus one, less one in ceil mode if
    the last window would start past the input and its left padding."""
    span = size + 2 * padding - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool(node, name, kernel, stride, padding, dilation, ceil_mode, where,
          in_shape, out_shape, count_include_pad=True):
    kernel = _pair(kernel, "kernel_size", where)
    stride = kernel if stride is None or stride == [] or stride == () else \
        _pair(stride, "stride", where)
    padding = _pair(padding, "padding", where)
    if _pair(dilation, "dilation", where) != 1:
        raise UnsupportedError(f"{where}: dilation is not in the language")
    if len(in_shape) != 4:
        raise UnsupportedError(f"{where}: a pool on a rank-{len(in_shape)} "
                               "input (dlm pools [N, C, H, W])")
    ceil_mode = bool(ceil_mode)
    expected = tuple(_pool_size(d, kernel, stride, padding, ceil_mode)
                     for d in in_shape[2:])
    if tuple(out_shape[2:]) != expected:
        raise UnsupportedError(
            f"{where}: PyTorch's output is {out_shape[2]}x{out_shape[3]} on "
            f"{in_shape[2]}x{in_shape[3]} where dlm's rule gives "
            f"{expected[0]}x{expected[1]}")
    kwargs = [("stride", _Arg(stride, "stride"), "pos"),
              ("padding", _Arg(padding, "padding"), 0),
              ("ceil_mode", ceil_mode, False)]
    if name == "avgpool":
        kwargs.append(("count_include_pad", bool(count_include_pad), True))
    return _Layer(node, name, _Arg(kernel, "kernel"), kwargs)


def _adaptive(node, kind, output_size, where, in_shape):
    """nn.AdaptiveAvgPool2d / nn.AdaptiveMaxPool2d: `global_avgpool` to
    1x1 (average), nothing where the output is the input's size, else
    `adaptive_avgpool(size[, width=w])` / `adaptive_maxpool(...)`."""
    if len(in_shape) != 4:
        raise UnsupportedError(f"{where}: an adaptive pool on a rank-"
                               f"{len(in_shape)} input (dlm pools "
                               "[N, C, H, W])")
    if not isinstance(output_size, (tuple, list)):
        output_size = (output_size, output_size)
    out = tuple(d if o is None else int(o)
                for o, d in zip(output_size, in_shape[2:]))
    if kind == "avg" and out == (1, 1):
        return _Layer(node, "global_avgpool")
    if out == tuple(in_shape[2:]):
        return None
    return _Layer(node, f"adaptive_{kind}pool", _Arg(out[0], "size"),
                  [("width", _Arg(out[1], "width"), "pos")])


def _activation(node, name, where, *, low=None, high=None, slope=None,
                approximate=None):
    """An elementwise activation layer; `hardtanh(0, 6)` is `relu6`."""
    if name == "hardtanh":
        low, high = float(low), float(high)
        if not low < high:
            raise UnsupportedError(f"{where}: hardtanh needs min < max")
        if (low, high) == (0.0, 6.0):
            return _Layer(node, "relu6")
        return _Layer(node, "hardtanh", None, [("min", low, -1.0),
                                               ("max", high, 1.0)])
    if name == "leaky_relu":
        slope = float(slope)
        return _Layer(node, "leaky_relu", None if slope == 0.01 else slope)
    if name == "gelu":
        if approximate not in ("none", "tanh"):
            raise UnsupportedError(f"{where}: approximate={approximate!r}")
        return _Layer(node, "gelu", None, [("approximate", approximate,
                                            "none")])
    return _Layer(node, name)


def _softmax(node, dim, where, in_shape):
    rank = len(in_shape)
    if dim is None:  # PyTorch's implicit dim: 1 for a rank-2 input
        dim = 0 if rank in (0, 1, 3) else 1
    if rank != 2 or dim not in (1, -1):
        raise UnsupportedError(f"{where}: softmax over dim={dim} of a rank-"
                               f"{rank} input; dlm's softmax is over the "
                               "features of [N, F], a final layer")
    return _Layer(node, "softmax")


def _flatten_op(node, start, end, where, in_shape):
    rank = len(in_shape)
    if start < 0:
        start += rank
    if end < 0:
        end += rank
    if rank == 2 and start == 1:
        return None
    if start != 1 or end != rank - 1:
        raise UnsupportedError(f"{where}: only a flatten from dimension 1 to "
                               "the last is in the language")
    return _Layer(node, "flatten")


def _get(args, kwargs, index, name, default):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _module_op(node, m):
    import torch.nn as nn
    where = _describe(node, m)
    (x,) = [a for a in node.args if _is_tensor(a)] or [None]
    if x is None or len(node.args) != 1 or node.kwargs:
        raise UnsupportedError(f"{where}: called with other arguments than "
                               "one tensor")
    in_shape, out_shape = _shape(x), _shape(node)

    def layer(value):
        return _Op("alias", [x]) if value is None else \
            _Op("layer", [x], value)

    if isinstance(m, nn.Conv2d):
        return layer(_conv(node, m, where))
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        if not m.affine or not m.track_running_stats:
            raise UnsupportedError(f"{where}: batch norm without affine "
                                   "weights or running statistics is not in "
                                   "the language")
        if len(in_shape) not in (2, 4):
            raise UnsupportedError(f"{where}: batch norm on a rank-"
                                   f"{len(in_shape)} input (dlm's is on "
                                   "[N, C, H, W] or [N, C])")
        eps = float(m.eps)
        kwargs = [] if eps == 1e-5 else [("eps", eps, None)]
        return layer(_Layer(node, "batchnorm", None, kwargs, weights=True))
    if type(m) is nn.ReLU:
        return layer(_Layer(node, "relu"))
    if type(m) is nn.Sigmoid:
        return layer(_Layer(node, "sigmoid"))
    if type(m) is nn.ReLU6:
        return layer(_Layer(node, "relu6"))
    if type(m) is nn.Hardtanh:
        return layer(_activation(node, "hardtanh", where, low=m.min_val,
                                 high=m.max_val))
    simple = {nn.Tanh: "tanh", nn.SiLU: "silu", nn.Hardswish: "hardswish",
              nn.Hardsigmoid: "hardsigmoid"}
    if type(m) in simple:
        return layer(_Layer(node, simple[type(m)]))
    if type(m) is nn.GELU:
        return layer(_activation(node, "gelu", where,
                                 approximate=m.approximate))
    if type(m) is nn.LeakyReLU:
        return layer(_activation(node, "leaky_relu", where,
                                 slope=m.negative_slope))
    if type(m) is nn.Softmax:
        return layer(_softmax(node, m.dim, where, in_shape))
    if type(m) is nn.MaxPool2d:
        if m.return_indices:
            raise UnsupportedError(f"{where}: return_indices=True")
        return layer(_pool(node, "maxpool", m.kernel_size, m.stride,
                           m.padding, m.dilation, m.ceil_mode, where,
                           in_shape, out_shape))
    if type(m) is nn.AvgPool2d:
        if m.divisor_override is not None:
            raise UnsupportedError(f"{where}: divisor_override is not in the "
                                   "language")
        return layer(_pool(node, "avgpool", m.kernel_size, m.stride,
                           m.padding, 1, m.ceil_mode, where, in_shape,
                           out_shape, m.count_include_pad))
    if type(m) is nn.AdaptiveAvgPool2d:
        return layer(_adaptive(node, "avg", m.output_size, where, in_shape))
    if type(m) is nn.AdaptiveMaxPool2d:
        if m.return_indices:
            raise UnsupportedError(f"{where}: return_indices=True")
        return layer(_adaptive(node, "max", m.output_size, where, in_shape))
    if type(m) is nn.Flatten:
        return layer(_flatten_op(node, m.start_dim, m.end_dim, where,
                                 in_shape))
    if isinstance(m, nn.Linear):
        if len(in_shape) != 2:
            raise UnsupportedError(f"{where}: linear on a rank-"
                                   f"{len(in_shape)} input (flatten first)")
        return layer(_Layer(node, "linear", _Arg(m.out_features, "out"),
                            [("bias", m.bias is not None, True)],
                            weights=True))
    if type(m) is nn.Dropout:
        return layer(_Layer(node, "dropout", float(m.p)))
    if type(m) is nn.Identity:
        return _Op("alias", [x])
    hints = {nn.Dropout2d: "dlm's dropout drops elements, not channels",
             nn.LogSoftmax: "dlm has softmax, not log_softmax"}
    hint = next((h for t, h in hints.items() if type(m) is t),
                "it has no dlm counterpart")
    raise UnsupportedError(f"{where} is not supported: {hint}")


def _function_op(node):
    import torch
    import torch.nn.functional as F
    where = _describe(node)
    target, args, kwargs = node.target, node.args, node.kwargs
    tensors = [a for a in args if _is_tensor(a)]
    out_shape = _shape(node)
    name = target if node.op == "call_method" else None

    def unary():
        if len(tensors) != 1 or not _is_tensor(args[0]):
            raise UnsupportedError(f"{where}: expected one tensor argument")
        return args[0], _shape(args[0])

    def layer(value, x):
        return _Op("alias", [x]) if value is None else \
            _Op("layer", [x], value)

    if target in (F.relu, torch.relu, torch.relu_) or name in ("relu",
                                                               "relu_"):
        x, _ = unary()
        return layer(_Layer(node, "relu"), x)
    if target in (torch.sigmoid, F.sigmoid) or name in ("sigmoid",
                                                        "sigmoid_"):
        x, _ = unary()
        return layer(_Layer(node, "sigmoid"), x)
    if target is F.relu6 or name == "relu6":
        x, _ = unary()
        return layer(_Layer(node, "relu6"), x)
    if target in (F.hardtanh, F.hardtanh_):
        x, _ = unary()
        return layer(_activation(node, "hardtanh", where,
                                 low=_get(args, kwargs, 1, "min_val", -1.0),
                                 high=_get(args, kwargs, 2, "max_val", 1.0)),
                     x)
    if target in (torch.clamp, torch.clip) or name in ("clamp", "clip",
                                                       "clamp_", "clip_"):
        x, _ = unary()
        low = _get(args, kwargs, 1, "min", None)
        high = _get(args, kwargs, 2, "max", None)
        if not all(v is None or isinstance(v, (int, float))
                   for v in (low, high)):
            raise UnsupportedError(f"{where}: a clamp to tensor bounds is not "
                                   "in the language")
        if low is not None and float(low) == 0.0 and high is None:
            return layer(_Layer(node, "relu"), x)
        if low is not None and high is not None:
            return layer(_activation(node, "hardtanh", where, low=low,
                                     high=high), x)
        raise UnsupportedError(f"{where}: a clamp with one bound (other than "
                               "min=0, relu) is not in the language")
    simple = {torch.tanh: "tanh", F.tanh: "tanh", F.silu: "silu",
              F.hardswish: "hardswish", F.hardsigmoid: "hardsigmoid"}
    methods = {"tanh": "tanh", "tanh_": "tanh"}
    if target in simple or name in methods:
        x, _ = unary()
        return layer(_Layer(node, simple.get(target) or methods[name]), x)
    if target is F.gelu:
        x, _ = unary()
        return layer(_activation(node, "gelu", where, approximate=_get(
            args, kwargs, 1, "approximate", "none")), x)
    if target in (F.leaky_relu, F.leaky_relu_):
        x, _ = unary()
        return layer(_activation(node, "leaky_relu", where, slope=_get(
            args, kwargs, 1, "negative_slope", 0.01)), x)
    if target in (F.softmax, torch.softmax) or name == "softmax":
        x, in_shape = unary()
        if _get(args, kwargs, 3 if target is F.softmax else 2, "dtype",
                None) is not None:
            raise UnsupportedError(f"{where}: softmax with a dtype")
        return layer(_softmax(node, _get(args, kwargs, 1, "dim", None),
                              where, in_shape), x)
    if target is torch.mean or name == "mean":
        x, in_shape = unary()
        dims = _get(args, kwargs, 1, "dim", None)
        keepdim = _get(args, kwargs, 2, "keepdim", False)
        if isinstance(dims, int):
            dims = (dims,)
        rank = len(in_shape)
        if rank != 4 or dims is None or _get(args, kwargs, 3, "dtype",
                                             None) is not None or \
                sorted(d % rank for d in dims) != [2, 3]:
            raise UnsupportedError(f"{where}: only a mean over the spatial "
                                   "dimensions (2, 3) of [N, C, H, W] is in "
                                   "the language (global_avgpool)")
        pool = _Layer(node, "global_avgpool")
        return _Op("layer", [x], pool if keepdim else
                   [pool, _Layer(node, "flatten")])
    if target is torch.flatten or name == "flatten":
        x, in_shape = unary()
        return layer(_flatten_op(node, _get(args, kwargs, 1, "start_dim", 0),
                                 _get(args, kwargs, 2, "end_dim", -1), where,
                                 in_shape), x)
    if target is torch.reshape or name in ("view", "reshape"):
        x = args[0]
        in_shape = _shape(x)
        if tuple(out_shape) == tuple(in_shape):
            return _Op("alias", [x])
        if len(in_shape) >= 2 and len(out_shape) == 2 and \
                out_shape[0] == in_shape[0]:
            return layer(_Layer(node, "flatten"), x)
        raise UnsupportedError(f"{where}: a reshape from {list(in_shape)} to "
                               f"{list(out_shape)} is not a flatten")
    if name == "contiguous" or (target is F.dropout and not _get(
            args, kwargs, 2, "training", True)):
        x, _ = unary()
        return _Op("alias", [x])
    if target is F.max_pool2d or target is F.avg_pool2d:
        x, in_shape = unary()
        pool = "maxpool" if target is F.max_pool2d else "avgpool"
        if target is F.avg_pool2d and _get(args, kwargs, 6,
                                           "divisor_override",
                                           None) is not None:
            raise UnsupportedError(f"{where}: divisor_override is not in the "
                                   "language")
        if target is F.max_pool2d and _get(args, kwargs, 6, "return_indices",
                                           False):
            raise UnsupportedError(f"{where}: return_indices=True")
        dilation = _get(args, kwargs, 4, "dilation", 1) \
            if target is F.max_pool2d else 1
        ceil = _get(args, kwargs, 5 if target is F.max_pool2d else 4,
                    "ceil_mode", False)
        count_include_pad = True if target is F.max_pool2d else \
            _get(args, kwargs, 5, "count_include_pad", True)
        return layer(_pool(node, pool, _get(args, kwargs, 1, "kernel_size",
                                            None),
                           _get(args, kwargs, 2, "stride", None),
                           _get(args, kwargs, 3, "padding", 0), dilation,
                           ceil, where, in_shape, out_shape,
                           count_include_pad), x)
    if target in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
        x, in_shape = unary()
        if target is F.adaptive_max_pool2d and _get(args, kwargs, 2,
                                                    "return_indices", False):
            raise UnsupportedError(f"{where}: return_indices=True")
        kind = "avg" if target is F.adaptive_avg_pool2d else "max"
        return layer(_adaptive(node, kind, _get(args, kwargs, 1,
                                                "output_size", None),
                               where, in_shape), x)
    if target in (operator.add, operator.iadd, torch.add) or name in (
            "add", "add_"):
        if len(args) != 2 or len(tensors) != 2 or kwargs:
            raise UnsupportedError(f"{where}: only the sum of two tensors is "
                                   "in the language (residual)")
        a, b = args
        if _shape(a) != _shape(b):
            raise UnsupportedError(f"{where}: the sum of {list(_shape(a))} "
                                   f"and {list(_shape(b))} broadcasts; "
                                   "residual adds tensors of one shape")
        return _Op("add", [a, b])
    if target is torch.cat:
        inputs = _get(args, kwargs, 0, "tensors", None)
        dim = _get(args, kwargs, 1, "dim", 0)
        if not isinstance(inputs, (list, tuple)) or not all(
                _is_tensor(t) for t in inputs):
            raise UnsupportedError(f"{where}: expected a list of tensors")
        rank = len(out_shape)
        if rank != 4 or dim not in (1, 1 - rank):
            raise UnsupportedError(f"{where}: only a concatenation of "
                                   "[N, C, H, W] tensors along channels "
                                   "(dim=1) is in the language")
        return _Op("cat", list(inputs))
    hints = {F.log_softmax: "dlm has softmax, not log_softmax",
             F.dropout2d: "dlm's dropout drops elements, not channels"}
    hint = next((h for t, h in hints.items() if target is t),
                "it has no dlm counterpart")
    raise UnsupportedError(f"{where} is not supported: {hint}")


# ---------------------------------------------------------------------------
# Statements: the graph as a nesting of sequences, residuals and concats
# ---------------------------------------------------------------------------

class _Stmt:
    kind = None
    owner = ()


class _LayerStmt(_Stmt):
    kind = "layer"

    def __init__(self, layer):
        self.layer = layer
        node = layer.node
        if node.op == "call_module":
            parts = tuple(node.target.split("."))
            self.owner, self.leaf = parts[:-1], parts[-1]
            self.alias = _segment(self.leaf)
        else:
            path = node.meta.get("dlm_path", "")
            self.owner, self.leaf = tuple(path.split(".")) if path else (), \
                None
            self.alias = None


class _CompoundStmt(_Stmt):
    def __init__(self, kind, bodies, join):
        self.kind = kind      # "residual", "dense", "concat"
        self.bodies = bodies  # residual: [body, shortcut]
        path = join.meta.get("dlm_path", "")
        owners = [tuple(path.split(".")) if path else ()]
        for body in bodies:
            owners.extend(s.owner for s in body)
        common = owners[0]
        for owner in owners[1:]:
            n = 0
            while n < min(len(common), len(owner)) and common[n] == owner[n]:
                n += 1
            common = common[:n]
        self.owner = common


class _BlockStmt(_Stmt):
    kind = "block"

    def __init__(self, path, body, module):
        self.owner = path[:-1]
        self.path = path
        self.body = body
        self.module = module
        self.alias = _segment(path[-1])
        self.block = None     # the _Block it calls
        self.args = []        # _Arg per block parameter


def _decompose(graph, ops, source, output, modules):
    """The statements computing `output` from `source`."""
    idom, depth = {source: None}, {source: 0}

    def lca(a, b):
        while a is not b:
            if depth[a] < depth[b]:
                a, b = b, a
            a = idom[a]
        return a

    for node in graph.nodes:
        op = ops.get(node)
        if op is None:
            continue
        inputs = op.inputs
        dom = inputs[0]
        for other in inputs[1:]:
            dom = lca(dom, other)
        idom[node], depth[node] = dom, depth[dom] + 1

    emitted = set()

    def build(node, src):
        stmts, cur = [], node
        while cur is not src:
            if cur in emitted or cur is source:
                raise UnsupportedError(
                    "the graph is not a nesting of layer sequences, residual "
                    "adds and channel concatenations: the value of "
                    f"{_describe(cur, modules.get(cur.target))} is used by "
                    "two paths that do not meet in one add or torch.cat")
            emitted.add(cur)
            op = ops[cur]
            if op.kind == "layer":
                layers = op.layer if isinstance(op.layer, list) else \
                    [op.layer]
                stmts.extend(_LayerStmt(layer) for layer in reversed(layers))
                cur = op.inputs[0]
                continue
            fork = idom[cur]
            if op.kind == "add":
                body, shortcut = (build(i, fork) for i in op.inputs)
                if not body and shortcut:
                    body, shortcut = shortcut, body
                stmts.append(_CompoundStmt("residual", [body, shortcut], cur))
            elif len(op.inputs) == 2 and op.inputs[0] is fork:
                stmts.append(_CompoundStmt(
                    "dense", [build(op.inputs[1], fork)], cur))
            else:
                stmts.append(_CompoundStmt(
                    "concat", [build(i, fork) for i in op.inputs], cur))
            cur = fork
        stmts.reverse()
        return stmts

    return build(output, source)



def _analyze(gm, modules):
    """The op of every tensor node, with identities resolved and cats of
    extended lists rewritten; returns (ops, source, output)."""
    source = output = None
    ops, alias, cats = {}, {}, {}

    def resolve(node):
        while node in alias:
            node = alias[node]
        return node

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if source is not None:
                raise UnsupportedError("the module takes more than one input; "
                                       "a dlm model has one")
            source = node
            continue
        if node.op == "output":
            result = node.args[0]
            if not _is_tensor(result):
                raise UnsupportedError("the module returns something else "
                                       "than one tensor; a dlm model has one "
                                       "output")
            output = resolve(result)
            continue
        if node.op == "get_attr":
            raise UnsupportedError(f"forward reads the tensor attribute "
                                   f"'{node.target}' (constants are not in "
                                   "the language)")
        if not _is_tensor(node):
            continue  # x.size(0) and the like: only shapes
        if node.op == "call_module":
            op = _module_op(node, modules[node.target])
        else:
            op = _function_op(node)
        op.inputs = [resolve(i) for i in op.inputs]
        if op.kind == "cat":
            key = tuple(op.inputs)
            if key in cats:  # the same list concatenated again
                alias[node] = cats[key]
                continue
            for n in range(len(key) - 1, 1, -1):
                if key[:n] in cats:
                    op.inputs = [cats[key[:n]]] + list(key[n:])
                    break
            if len(op.inputs) == 1:
                op = _Op("alias", op.inputs)
            else:
                cats.setdefault(key, node)
        if op.kind == "alias":
            alias[node] = op.inputs[0]
            continue
        ops[node] = op
    return ops, source, output


# ---------------------------------------------------------------------------
# Blocks: statements grouped by module, bodies shared between instances
# ---------------------------------------------------------------------------

def _group(stmts, scope, root):
    """`stmts` (whose owners extend `scope`) with each run of statements
    owned by one child of `scope` wrapped in a block call."""
    out, i = [], 0
    while i < len(stmts):
        s = stmts[i]
        if s.owner == scope:
            if s.kind not in ("layer", "block"):
                s.bodies = [_group(b, scope, root) for b in s.bodies]
            out.append(s)
            i += 1
            continue
        child = s.owner[len(scope)]
        j = i
        while j < len(stmts) and len(stmts[j].owner) > len(scope) and \
                stmts[j].owner[len(scope)] == child:
            j += 1
        path = scope + (child,)
        module = root.get_submodule(".".join(path))
        out.append(_BlockStmt(path, _group(stmts[i:j], path, root), module))
        i = j
    return out


def _fold(stmts):
    """A module whose statements are split into several runs in one scope
    (the book's DenseBlock calls each child of its self.net between two
    cats) gets no block per run where the run is one call: the call is made
    directly, named `<module>_<child>`."""
    calls = {}

    def collect(body):
        for index, s in enumerate(body):
            if s.kind == "block":
                calls.setdefault(s.path, []).append((body, index))
            elif s.kind != "layer":
                for b in s.bodies:
                    collect(b)

    collect(stmts)
    for path, places in calls.items():
        for body, index in places:
            inner = body[index].body
            if len(places) > 1 and len(inner) == 1 and (
                    inner[0].kind == "block" or (inner[0].kind == "layer" and
                                                 inner[0].layer.weights)):
                inner[0].alias = \
                    f"{_segment(path[-1])}_{inner[0].alias.lstrip('_')}"
                body[index] = inner[0]
            _fold(body[index].body if body[index].kind == "block" else [])
    return stmts


def _fmt(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float):
        return repr(value)
    return str(value)


class _Renderer:
    """Renders statements; integer arguments are holes (`\\0` in the
    shape, their values in `values`) when `holes` is set."""

    def __init__(self, holes):
        self.holes = holes
        self.values = []
        self.hints = []
        self.names = None  # hole index -> parameter name or None (literal)
        self.alias = None  # of the statement being rendered

    def arg(self, value):
        if isinstance(value, _Arg):
            if self.names is not None:
                index = len(self.values)
                self.values.append(value.value)
                name = self.names[index]
                return name if name is not None else str(value.value)
            if self.holes:
                self.values.append(value.value)
                self.hints.append((value.hint, self.alias))
                return "\0"
            return str(value.value)
        return _fmt(value)

    def layer(self, stmt):
        layer = stmt.layer
        self.alias = stmt.alias
        args, pos_literal = [], True
        if layer.pos is not None:
            index = len(self.values)
            args.append(self.arg(layer.pos))
            pos_literal = self.names is None or not isinstance(
                layer.pos, _Arg) or self.names[index] is None
        for key, value, default in layer.kwargs:
            if not isinstance(value, _Arg):
                if default is None or value != default:
                    args.append(f"{key}={_fmt(value)}")
                continue
            index = len(self.values)
            text = self.arg(value)
            if not (self.holes and self.names is None):
                literal = self.names is None or self.names[index] is None
                if default == "pos":  # a pool's stride defaults to its kernel
                    omit = literal and pos_literal and \
                        value.value == layer.pos.value
                else:
                    omit = literal and value.value == default
                if omit:
                    continue
            args.append(f"{key}={text}")
        text = layer.name
        if args:
            text += "(" + ", ".join(args) + ")"
        if layer.weights:
            text += f" as {stmt.alias}"
        return text

    def body(self, stmts, indent):
        lines = []
        pad = "    " * indent
        for s in stmts:
            if s.kind == "layer":
                lines.append(pad + self.layer(s))
            elif s.kind == "block":
                self.alias = s.alias
                args = ", ".join(self.arg(a) for a in s.args)
                lines.append(f"{pad}{s.block.name}({args}) as {s.alias}")
            elif s.kind == "residual":
                body, shortcut = s.bodies
                lines.append(pad + "residual {")
                lines += self.body(body, indent + 1)
                if shortcut:
                    lines.append(pad + "} shortcut {")
                    lines += self.body(shortcut, indent + 1)
                lines.append(pad + "}")
            elif s.kind == "dense":
                lines.append(pad + "dense {")
                lines += self.body(s.bodies[0], indent + 1)
                lines.append(pad + "}")
            else:
                lines.append(pad + "concat {")
                for branch in s.bodies:
                    lines.append(pad + "    branch {")
                    lines += self.body(branch, indent + 2)
                    lines.append(pad + "    }")
                lines.append(pad + "}")
        return lines


class _Block:
    def __init__(self, name, cls, shape, hints):
        self.name = name
        self.cls = cls
        self.shape = shape
        self.hints = hints
        self.instances = []   # (_BlockStmt, values)
        self.names = None     # hole index -> parameter name or None
        self.params = []      # parameter names, in order
        self.columns = []     # hole index of each parameter


def _all_blocks(stmts, found):
    for s in stmts:
        if s.kind == "block":
            found.append(s)
            _all_blocks(s.body, found)
        elif s.kind != "layer":
            for b in s.bodies:
                _all_blocks(b, found)
    return found


def _make_blocks(stmts):
    """Assigns every block call its (shared) block and arguments; returns
    the blocks in order of first use."""
    calls = _all_blocks(stmts, [])
    blocks, taken = [], set()
    # Innermost first: a body's shape depends on the blocks it calls and
    # their arguments.
    for depth in sorted({len(c.path) for c in calls}, reverse=True):
        by_key, level = {}, []
        for call in (c for c in calls if len(c.path) == depth):
            renderer = _Renderer(holes=True)
            shape = "\n".join(renderer.body(call.body, 1))
            cls = _snake(type(call.module).__name__)
            block = by_key.get((cls, shape))
            if block is None:
                name, n = cls, 2
                while name in taken:
                    name, n = f"{cls}_{n}", n + 1
                taken.add(name)
                block = by_key[(cls, shape)] = _Block(name, cls, shape,
                                                      renderer.hints)
                level.append(block)
            block.instances.append((call, renderer.values))
            call.block = block
        for block in level:
            _parametrize(block)
        blocks += level
    # Definitions in order of first use in the program.
    order = {}
    for i, call in enumerate(calls):
        order.setdefault(id(call.block), i)
    blocks.sort(key=lambda b: order[id(b)])
    # The first block of a class in the program gets the plain name.
    counts = {}
    for block in blocks:
        n = counts[block.cls] = counts.get(block.cls, 0) + 1
        block.name = block.cls if n == 1 else f"{block.cls}_{n}"
    return blocks


def _parametrize(block):
    """Makes the integers that differ between the block's instances its
    parameters (one per distinct column of values) and sets each call's
    arguments."""
    columns = list(zip(*[values for _, values in block.instances])) \
        if block.hints else []
    block.names = [None] * len(block.hints)
    seen, chosen = {}, []
    for index, column in enumerate(columns):
        if len(set(column)) == 1:
            continue
        if column in seen:
            block.names[index] = seen[column]
            continue
        seen[column] = index
        chosen.append(index)
    # A parameter is named after its argument (`out`, `stride`), and after
    # the layer too where two would have the same name (`p1_1_out`).
    counts = {}
    for index in chosen:
        counts[block.hints[index][0]] = counts.get(block.hints[index][0], 0) + 1
    for index, column in enumerate(columns):
        if isinstance(block.names[index], int):
            block.names[index] = block.names[block.names[index]]
            continue
        if index not in chosen:
            continue
        hint, alias = block.hints[index]
        if counts[hint] > 1 and alias:
            bare = alias.lstrip("_")
            hint = f"{bare}_{hint}" if bare and not bare[0].isdigit() \
                else f"{hint}_{bare}"
        name, n = hint, 2
        while name in block.params or name in _KEYWORDS or \
                name in ("channels", "height", "width"):
            name, n = f"{hint}{n}", n + 1
        block.names[index] = name
        block.params.append(name)
        block.columns.append(index)
    for call, values in block.instances:
        call.args = [_Arg(values[i], block.params[k])
                     for k, i in enumerate(block.columns)]


def _render_block(block):
    renderer = _Renderer(holes=False)
    renderer.names = block.names
    call = block.instances[0][0]
    # Render the body with the first instance's values, parameters in place.
    lines = renderer.body(call.body, 1)
    params = ", ".join(block.params)
    uses = len(block.instances)
    return (f"# {type(call.module).__name__}: "
            f"{', '.join(_path_text(c.path) for c, _ in block.instances[:4])}"
            f"{', ...' if uses > 4 else ''}\n"
            f"block {block.name}({params}) {{\n" + "\n".join(lines) + "\n}\n")


# ---------------------------------------------------------------------------
# The entry points
# ---------------------------------------------------------------------------

def _example_tensor(example_input):
    import torch
    if isinstance(example_input, np.ndarray):
        example_input = torch.from_numpy(example_input)
    if not isinstance(example_input, torch.Tensor):
        raise TypeError("example_input must be a torch tensor or a numpy "
                        f"array, got {type(example_input).__name__}")
    if example_input.dtype != torch.float32:
        raise TypeError(f"example_input has dtype {example_input.dtype}; dlm "
                        "models take torch.float32")
    if example_input.dim() not in (2, 4):
        raise ValueError("example_input must be [N, C, H, W] or [N, F], got "
                         f"{list(example_input.shape)}")
    return example_input.detach().cpu()


def to_dlm(module, example_input, *, name=None, return_mapping=False):
    """Translates `module` (a torch.nn.Module, evaluated in eval mode) into
    .dlm source for inputs of `example_input`'s shape.

    Returns a `Translation` (a str with `.mapping`, state_dict key -> dlm
    parameter name), or `(source, mapping)` if `return_mapping`. A module,
    function or graph dlm cannot express raises `UnsupportedError` naming it
    and its qualified name in the module tree.
    """
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    x = _example_tensor(example_input)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(x)  # materializes lazy modules (nn.LazyConv2d, ...)
            tracer = _make_tracer()
            try:
                graph = tracer.trace(module)
            except UnsupportedError:
                raise
            except Exception as error:
                raise UnsupportedError(
                    f"cannot trace {type(module).__name__} (the root module) "
                    f"with torch.fx: {error}") from error
            import torch.fx as fx
            gm = fx.GraphModule(module, graph)
            ShapeProp(gm).propagate(x)
        modules = dict(module.named_modules())
        ops, source, output = _analyze(gm, modules)
        stmts = _decompose(gm.graph, ops, source, output, modules)
        stmts = _fold(_group(stmts, (), module))
        blocks = _make_blocks(stmts)
    finally:
        module.train(was_training)

    model_name = _segment(name or type(module).__name__.lower())
    if model_name in _LAYERS or any(b.name == model_name for b in blocks):
        model_name += "_model"
    lines = [f"# {type(module).__name__}, translated by dlm.to_dlm from "
             "PyTorch.", ""]
    for block in blocks:
        lines.append(_render_block(block))
    dims = ", ".join(str(d) for d in x.shape)
    lines.append(f"model {model_name}(x: f32[{dims}]) {{")
    lines += _Renderer(holes=False).body(stmts, 1)
    lines.append("}")
    source_text = Translation("\n".join(lines) + "\n")

    # Each layer with weights: its module's name -> its dlm name.
    names = {}

    def walk(body, prefix):
        for s in body:
            if s.kind == "layer":
                if s.layer.weights:
                    names[s.layer.node.target] = prefix + s.alias
            elif s.kind == "block":
                walk(s.body, prefix + s.alias + ".")
            else:
                for b in s.bodies:
                    walk(b, prefix)

    walk(stmts, "")
    mapping, ignored = {}, []
    for key in module.state_dict():
        prefix, _, suffix = key.rpartition(".")
        if prefix in names and suffix != "num_batches_tracked":
            mapping[key] = f"{names[prefix]}.{suffix}"
        else:
            ignored.append(key)
    source_text.mapping = mapping
    source_text.ignored = ignored
    if return_mapping:
        return str(source_text), mapping
    return source_text


def from_torch(module, example_input, **compile_options):
    """`to_dlm(module, example_input)`, compiled with `compile_options`
    (those of `dlm.compile()`), with the module's weights loaded: the
    result's output matches `module.eval()(x)`. The translation is the
    model's `.translation`."""
    translation = to_dlm(module, example_input)
    model = _compile(str(translation), name=f"<{type(module).__name__}>",
                     **compile_options)
    state = module.state_dict()
    model.load_state_dict(translation.rename(state), strict=True)
    model.translation = translation
    return model

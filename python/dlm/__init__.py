"""dlm from Python: compile .dlm models, load PyTorch weights, run them on
numpy arrays and torch tensors, and translate `torch.nn.Module`s to .dlm.

    import dlm
    model = dlm.compile("examples/lenet.dlm", device="reference")
    model.load_state_dict(weights)          # dlm names -> arrays or tensors
    y = model(x)                            # numpy in, numpy out

    model = dlm.from_torch(net, x)          # translate, compile, load
    source = dlm.to_dlm(net, x)             # the .dlm text (and .mapping)

    model.trainer(lr=0.1, momentum=0.9)     # torch.optim.SGD's options
    loss, correct = model.train_step(x, labels)
    history = dlm.train("examples/lenet.dlm", "fashion-mnist", epochs=2)

See docs/python.md.
"""

from ._dlm import __version__
from ._model import (DEVICES, EMIT_KINDS, PRECISIONS, CompileError,
                     CudaArray, Model, StepResult, WeightError, compile)
from ._torch import Translation, UnsupportedError, from_torch, to_dlm
from ._train import History, load_fashion_mnist, train

__all__ = [
    "CompileError", "CudaArray", "DEVICES", "EMIT_KINDS", "History", "Model",
    "PRECISIONS", "StepResult", "Translation", "UnsupportedError",
    "WeightError", "compile", "from_torch", "load_fashion_mnist", "to_dlm",
    "train",
    "__version__",
]

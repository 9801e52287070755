"""dlm.to_dlm() and dlm.from_torch(): the book's networks as its PyTorch
code writes them and torchvision's models, compared with PyTorch; and the
errors for what the language does not have."""

import re

import pytest
import torch
import torchvision.models as tvm
from torch import nn
from torch.nn import functional as F

import d2l_models as d2l
import dlm
from conftest import assert_close


def compare(net, shape, device="reference", seed=0):
    torch.manual_seed(seed)
    net = net.eval()
    # Batch-norm statistics away from (0, 1), so that a dropped or misnamed
    # batch norm shows.
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(*shape)
    model = dlm.from_torch(net, x, device=device)
    with torch.no_grad():
        expected = net(x)
    y = model(x)
    assert isinstance(y, torch.Tensor)
    assert_close(y.numpy(), expected.numpy())
    return model


BOOK = {
    "lenet": (d2l.lenet, (1, 1, 28, 28)),
    "bn_lenet": (d2l.bn_lenet, (2, 1, 28, 28)),
    "alexnet": (lambda: d2l.alexnet(width=16), (1, 1, 224, 224)),
    "vgg": (lambda: d2l.vgg(((1, 16), (1, 32), (2, 32), (2, 64), (2, 64)),
                            fc=64), (1, 1, 32, 32)),
    "nin": (lambda: d2l.nin(width=8), (1, 1, 96, 96)),
    "googlenet": (d2l.googlenet, (1, 1, 32, 32)),
    "resnet18": (lambda: d2l.resnet18(width=2), (1, 1, 32, 32)),
    "densenet": (lambda: d2l.densenet(num_convs_in_dense_blocks=(2, 2, 2, 2)),
                 (1, 1, 32, 32)),
}


@pytest.mark.parametrize("name", sorted(BOOK))
def test_book_networks(name):
    make, shape = BOOK[name]
    model = compare(make(), shape)
    # The translation compiles as text too, with the same parameters.
    assert dlm.compile(str(model.translation)).params() == model.params()


# torchvision's models (weights=None: random initialization), at small inputs
# that keep the tests fast; each against the module's own forward.
TORCHVISION = {
    "resnet18": (1, 3, 32, 32),
    "resnet34": (1, 3, 32, 32),
    "resnet50": (1, 3, 32, 32),
    "densenet121": (1, 3, 32, 32),
    "vgg11_bn": (1, 3, 32, 32),       # adaptive_avgpool(7) of a 1x1 map
    "alexnet": (1, 3, 63, 63),        # the smallest input its pools take
    "squeezenet1_0": (1, 3, 32, 32),  # ceil_mode pools
    "squeezenet1_1": (1, 3, 32, 32),
    "googlenet": (1, 3, 32, 32),      # ceil_mode pools, Inception concats
    "mobilenet_v2": (1, 3, 32, 32),   # relu6, depthwise convs, adds
    "mnasnet0_5": (1, 3, 32, 32),     # x.mean([2, 3])
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision(name):
    kwargs = {"aux_logits": False, "transform_input": False,
              "init_weights": True} if name == "googlenet" else {}
    model = compare(getattr(tvm, name)(weights=None, num_classes=10,
                                       **kwargs), TORCHVISION[name])
    source = model.translation
    if name == "mobilenet_v2":
        assert "relu6" in source and "residual {" in source
        assert "groups=" in source  # depthwise convolutions
    if name in ("googlenet", "squeezenet1_1"):
        assert "ceil_mode=true" in source
    if name in ("vgg11_bn", "alexnet"):
        assert "adaptive_avgpool(" in source


def test_emu_device():
    compare(d2l.resnet18(width=16), (1, 1, 32, 32), device="emu")


def test_residual_names_follow_the_module_not_its_registration_order():
    # The book's Residual registers conv1, conv2, conv3, bn1, bn2 and runs
    # conv1, bn1, conv2, bn2 (+ conv3): names map by name, not position.
    block = d2l.Residual(3, 6, use_1x1conv=True, strides=2)
    source, mapping = dlm.to_dlm(block, torch.randn(1, 3, 8, 8),
                                 return_mapping=True)
    assert mapping["conv1.weight"] == "conv1.weight"
    assert mapping["bn1.running_var"] == "bn1.running_var"
    assert mapping["conv3.bias"] == "conv3.bias"
    assert "bn1.num_batches_tracked" not in mapping
    assert "residual {" in source and "shortcut {" in source
    model = dlm.compile(source)
    assert sorted(n for n, _ in model.params()) == sorted(mapping.values())


def test_sequential_indices_become_identifiers():
    translation = dlm.to_dlm(d2l.resnet18(width=8), torch.randn(1, 1, 32, 32))
    assert translation.mapping["1.0.conv1.weight"] == "_1._0.conv1.weight"
    assert translation.mapping["0.1.running_mean"] == "_0._1.running_mean"
    # Repeated submodules are one block, their integers its parameters.
    assert len(re.findall(r"^block residual_block", translation, re.M)) == 2
    assert "block residual_block(out)" in translation


def test_inception_is_a_concat_and_dense_block_is_dense():
    inception = dlm.to_dlm(d2l.Inception(8, 4, (4, 8), (2, 4), 4),
                           torch.randn(1, 8, 8, 8))
    assert inception.count("branch {") == 4
    dense = dlm.to_dlm(d2l.DenseBlock(2, 3, 4), torch.randn(1, 3, 8, 8))
    assert dense.count("dense {") == 2
    assert dense.mapping["net.1.2.weight"] == "net_1._2.weight"


def test_lazy_modules():
    net = nn.Sequential(nn.LazyConv2d(4, kernel_size=3), nn.ReLU(),
                        nn.Flatten(), nn.LazyLinear(3))
    compare(net, (1, 2, 6, 6))


class Functional(nn.Module):
    """A residual add, a concat, pools and flatten written as functions."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        y = F.relu(self.a(x)) + self.b(x)
        y = torch.cat([y, torch.sigmoid(y)], dim=1)  # dense
        y = torch.cat((F.relu(y), torch.sigmoid(y)), 1)  # concat
        y = F.max_pool2d(y, 2)
        y = F.avg_pool2d(y, kernel_size=2, stride=2)
        y = F.adaptive_avg_pool2d(y, (2, 2))  # from 4x4: avgpool(2)
        return y.view(y.size(0), -1)


def test_functional_calls():
    model = compare(Functional(), (1, 3, 16, 16))
    assert "residual {" in model.translation
    assert "dense {" in model.translation
    assert "concat {" in model.translation


def test_unsupported_functions():
    class Slice(Functional):
        def forward(self, x):
            return super().forward(x)[:, :4]

    with pytest.raises(dlm.UnsupportedError,
                       match=r"operator.getitem called in the root module"):
        dlm.to_dlm(Slice(), torch.randn(1, 3, 16, 16))

    class Repeat(Functional):
        def forward(self, x):
            return super().forward(x).repeat(1, 2)

    with pytest.raises(dlm.UnsupportedError,
                       match=r"Tensor.repeat called in the root module"):
        dlm.to_dlm(Repeat(), torch.randn(1, 3, 16, 16))


class Then(nn.Module):
    """A 3x3 convolution, then `f` (a function of torch)."""

    def __init__(self, f, channels=2):
        super().__init__()
        self.conv = nn.Conv2d(channels, 3, 3)
        self.f = f

    def forward(self, x):
        return self.f(self.conv(x))


# Each newer layer after a conv, as a module and as a function, with the
# .dlm it must become; at a tolerance (1e-6 of max |y|) that tells
# gelu's two forms and leaky_relu's slopes apart.
NEWER_OPS = {
    "relu6": (nn.ReLU6(), F.relu6, "relu6"),
    "hardtanh": (nn.Hardtanh(-0.5, 2.0),
                 lambda x: F.hardtanh(x, -0.5, 2.0),
                 "hardtanh(min=-0.5, max=2.0)"),
    "clamp": (nn.Hardtanh(-1.5, 1.0), lambda x: x.clamp(-1.5, 1.0),
              "hardtanh(min=-1.5)"),
    "tanh": (nn.Tanh(), torch.tanh, "tanh"),
    "silu": (nn.SiLU(), F.silu, "silu"),
    "hardswish": (nn.Hardswish(), F.hardswish, "hardswish"),
    "hardsigmoid": (nn.Hardsigmoid(), F.hardsigmoid, "hardsigmoid"),
    "gelu": (nn.GELU(), F.gelu, "gelu"),
    "gelu_tanh": (nn.GELU(approximate="tanh"),
                  lambda x: F.gelu(x, approximate="tanh"),
                  'gelu(approximate="tanh")'),
    "leaky_relu": (nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2),
                   "leaky_relu(0.2)"),
    "leaky_relu_default": (nn.LeakyReLU(), F.leaky_relu, "leaky_relu\n"),
    "maxpool_ceil": (nn.MaxPool2d(2, ceil_mode=True),
                     lambda x: F.max_pool2d(x, 2, ceil_mode=True),
                     "maxpool(2, ceil_mode=true)"),
    "avgpool_ceil": (nn.AvgPool2d(2, ceil_mode=True),
                     lambda x: F.avg_pool2d(x, 2, ceil_mode=True),
                     "avgpool(2, ceil_mode=true)"),
    "avgpool_exclude_pad": (
        nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
        "avgpool(3, stride=2, padding=1, ceil_mode=true, "
        "count_include_pad=false)"),
    "adaptive_avgpool": (nn.AdaptiveAvgPool2d((3, 2)),
                         lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
                         "adaptive_avgpool(3, width=2)"),
    "adaptive_avgpool_none": (nn.AdaptiveAvgPool2d((None, 4)),
                              lambda x: F.adaptive_avg_pool2d(x, (None, 4)),
                              "adaptive_avgpool(7, width=4)"),
    "adaptive_maxpool": (nn.AdaptiveMaxPool2d(4),
                         lambda x: F.adaptive_max_pool2d(x, 4),
                         "adaptive_maxpool(4)"),
}


@pytest.mark.parametrize("name", sorted(NEWER_OPS))
@pytest.mark.parametrize("form", ["module", "function"])
def test_newer_ops(name, form):
    module, function, text = NEWER_OPS[name]
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(2, 3, 3), module) if form == "module" \
        else Then(function)
    # Inputs of 9x9 (7x7 after the conv: ceil mode's hanging windows, uneven
    # adaptive windows), scaled so that every activation's bends are hit.
    x = 3 * torch.randn(1, 2, 9, 9)
    model = dlm.from_torch(net, x, device="reference")
    with torch.no_grad():
        expected = net.eval()(x)
    assert_close(model(x).numpy(), expected.numpy(), tolerance=1e-6)
    assert text in model.translation + "\n", model.translation


def test_softmax_and_dropout():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.3), nn.Flatten(),
                        nn.Linear(8, 5), nn.Softmax(dim=1))
    model = compare(net, (2, 1, 4, 4))
    assert "dropout(0.3)" in model.translation
    assert model.translation.rstrip().endswith("softmax\n}")
    assert model(torch.randn(2, 1, 4, 4)).sum(1).sub(1).abs().max() < 1e-6


def test_mean_is_global_avgpool():
    class Head(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3)
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            y = self.conv(x)
            return self.fc(y.mean([2, 3]) + torch.mean(y, dim=(-1, -2),
                                                       keepdim=True)
                           .flatten(1))

    compare(Head(), (2, 2, 7, 7))


def unsupported(net, shape, pattern):
    with pytest.raises(dlm.UnsupportedError, match=pattern):
        dlm.to_dlm(net, torch.randn(*shape))


def test_unsupported_torchvision_models():
    # Squeeze-and-excitation multiplies a tensor by its channel gates.
    unsupported(tvm.mobilenet_v3_small(weights=None, num_classes=10),
                (1, 3, 32, 32),
                r"operator.mul called in 'features.1.block.1' is not "
                r"supported")
    # ShuffleNet's channel shuffle is not traceable by torch.fx.
    unsupported(tvm.shufflenet_v2_x0_5(weights=None, num_classes=10),
                (1, 3, 32, 32),
                r"cannot trace InvertedResidual at 'stage2.0' with torch.fx")


def test_unsupported_names_the_place_in_the_module_tree():
    class Gate(nn.Module):
        def forward(self, x):
            return torch.exp(x)

    net = nn.Sequential(nn.Conv2d(1, 2, 3),
                        nn.Sequential(nn.ReLU(), Gate()))
    unsupported(net, (1, 1, 6, 6),
                r"torch.exp called in '1.1' is not supported")
    unsupported(nn.Sequential(nn.Conv2d(1, 2, 3),
                              nn.Sequential(nn.LogSoftmax(1))),
                (1, 1, 6, 6), r"nn.LogSoftmax at '1.0' is not supported")
    unsupported(nn.Sequential(nn.Conv2d(1, 2, (3, 5))), (1, 1, 8, 8),
                r"nn.Conv2d at '0': kernel_size=\(3, 5\) is not square")
    unsupported(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Softmax(dim=1)),
                (1, 1, 8, 8), r"nn.Softmax at '1': softmax over dim=1 of a "
                r"rank-4 input")
    unsupported(nn.Sequential(nn.MaxPool2d(2, dilation=2)), (1, 1, 8, 8),
                r"nn.MaxPool2d at '0': dilation")


def test_graph_that_is_not_nested():
    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(2, 2, 1)
            self.b = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            a = self.a(x)
            b = self.b(a)
            return (a + b) + (x + a)

    unsupported(Cross(), (1, 2, 4, 4), "is used by two paths")


def test_from_torch_keeps_training_mode():
    net = d2l.lenet().train()
    dlm.from_torch(net, torch.randn(1, 1, 28, 28))
    assert net.training


def test_book_resnet_example():
    # examples/python/book_resnet.py: the worked example of docs/python.md.
    import subprocess
    import sys

    from conftest import ROOT
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "python" / "book_resnet.py")],
        capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "110 tensors" in result.stdout

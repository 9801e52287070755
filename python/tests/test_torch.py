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


TORCHVISION = {
    "resnet18": (1, 3, 32, 32),
    "resnet34": (1, 3, 32, 32),
    "resnet50": (1, 3, 32, 32),
    "densenet121": (1, 3, 32, 32),
    "squeezenet1_0": (1, 3, 35, 35),
    "googlenet": (1, 3, 45, 45),
}


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision(name):
    kwargs = {"init_weights": True} if name == "googlenet" else {}
    compare(getattr(tvm, name)(num_classes=10, **kwargs), TORCHVISION[name])


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


def unsupported(net, shape, pattern):
    with pytest.raises(dlm.UnsupportedError, match=pattern):
        dlm.to_dlm(net, torch.randn(*shape))


def test_unsupported_torchvision_models():
    unsupported(tvm.mobilenet_v2(num_classes=10), (1, 3, 32, 32),
                r"nn.ReLU6 at 'features.0.2' is not supported: relu6")
    unsupported(tvm.squeezenet1_1(num_classes=10), (1, 3, 35, 35),
                r"nn.MaxPool2d at 'features.5': ceil_mode=True")
    unsupported(tvm.alexnet(num_classes=10), (1, 3, 64, 64),
                r"nn.AdaptiveAvgPool2d at 'avgpool': an adaptive average "
                r"pool to 6x6 on a 1x1 input")


def test_unsupported_vgg11_bn():
    # vgg11_bn's classifier is 100M weights; only its features matter here.
    net = tvm.vgg11_bn(num_classes=10)
    unsupported(net, (1, 3, 32, 32), r"nn.AdaptiveAvgPool2d at 'avgpool'")


def test_unsupported_names_the_place_in_the_module_tree():
    class Gate(nn.Module):
        def forward(self, x):
            return torch.tanh(x)

    net = nn.Sequential(nn.Conv2d(1, 2, 3),
                        nn.Sequential(nn.ReLU(), Gate()))
    unsupported(net, (1, 1, 6, 6),
                r"torch.tanh called in '1.1' is not supported")
    unsupported(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.Tanh())),
                (1, 1, 6, 6), r"nn.Tanh at '1.0' is not supported")
    unsupported(nn.Sequential(nn.Conv2d(1, 2, (3, 5))), (1, 1, 8, 8),
                r"nn.Conv2d at '0': kernel_size=\(3, 5\) is not square")


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

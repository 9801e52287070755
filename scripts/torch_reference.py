#!/usr/bin/env python3
"""PyTorch reference weights, inputs and outputs for the models of examples/.

Every model of examples/*.dlm is defined here a second time, independently of
the .dlm file, the way "Dive into Deep Learning" (d2l.ai, PyTorch version)
writes it: nn.Sequential, the Residual and Inception classes, conv_block /
DenseBlock / transition_block, ... Each model has an explicit mapping from its
modules to dlm's hierarchical parameter names (docs/naming.md), listed in dlm's
program order, so that the same weights can be handed to `dlmc` by name.

Run it with Debian's interpreter, which has python3-torch and python3-numpy:

    /usr/bin/python3 scripts/torch_reference.py resnet18 --out /tmp/ref/resnet18
    /usr/bin/python3 scripts/torch_reference.py --list resnet18
    /usr/bin/python3 scripts/torch_reference.py --all --out /tmp/ref

For MODEL --out DIR it writes
    DIR/weights.safetensors  every parameter and running statistic, dlm names, F32
    DIR/input.npy            float32 [B, C, H, W], standard normal
    DIR/output.npy           float32, the model's eval-mode output on input.npy
    DIR/params.txt           `<name> f32[d0,d1,...]` per tensor, in dlm's program
                             order: what `dlmc --list-params` prints for the model

Weights are PyTorch's default initialization under --seed, rescaled and
perturbed so that activations stay O(1) and batch-norm folding errors show (see
`randomize`). --batch B only changes the input and output; the weights depend
on the seed alone. --verify reloads the written weights by dlm name into a
fresh model and checks that output.npy is reproduced bit for bit.

Each run prints, per model, the tensor count, the learnable parameter count,
the running-statistics count, the output's shape and magnitude, and exits 1 if
a count differs from the hand-derived one in MODELS or the output magnitude is
outside [0.1, 100].
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# ---------------------------------------------------------------------------
# The book's models
# ---------------------------------------------------------------------------


def lenet() -> nn.Sequential:
    """Section 7.6: LeNet with sigmoid and average pooling (28x28 input)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


def bn_lenet() -> nn.Sequential:
    """Section 8.5: LeNet with batch normalization (concise version)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def alexnet() -> nn.Sequential:
    """Section 8.1: AlexNet for 1-channel 224x224 input, 10 classes."""
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10))


def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg(conv_arch: Sequence[tuple[int, int]]) -> nn.Sequential:
    """Section 8.2: vgg(conv_arch) at full width, 1 input channel."""
    conv_blks = []
    in_channels = 1
    out_channels = in_channels
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.Linear(out_channels * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 10))


def vgg11() -> nn.Sequential:
    return vgg(VGG11_ARCH)


def nin_block(in_channels: int, out_channels: int, kernel_size: int,
              strides: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding),
        nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin() -> nn.Sequential:
    """Section 8.3: Network in Network."""
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


class Inception(nn.Module):
    """Section 8.4: the four-path Inception block; c2 and c3 are pairs."""

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int],
                 c3: tuple[int, int], c4: int) -> None:
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet() -> nn.Sequential:
    """Section 8.4: GoogLeNet, stages b1 .. b5."""
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1),
                       nn.ReLU(),
                       nn.Conv2d(64, 192, kernel_size=3, padding=1),
                       nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)),
                       nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))


class Residual(nn.Module):
    """Section 8.6: the residual block, optional 1x1 projection (no BN)."""

    def __init__(self, input_channels: int, num_channels: int,
                 use_1x1conv: bool = False, strides: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels,
                               kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels,
                               kernel_size=3, padding=1)
        self.conv3: nn.Conv2d | None
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels,
                                   kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels: int, num_channels: int, num_residuals: int,
                 first_block: bool = False) -> list[nn.Module]:
    blk: list[nn.Module] = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels,
                                use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18() -> nn.Sequential:
    """Section 8.6: ResNet-18."""
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5,
                         nn.AdaptiveAvgPool2d((1, 1)),
                         nn.Flatten(), nn.Linear(512, 10))


def conv_block(input_channels: int, num_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """Section 8.7: conv blocks whose outputs are concatenated to the input."""

    def __init__(self, num_convs: int, input_channels: int, num_channels: int) -> None:
        super().__init__()
        layer = []
        for i in range(num_convs):
            layer.append(conv_block(num_channels * i + input_channels, num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(input_channels: int, num_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet() -> nn.Sequential:
    """Section 8.7: DenseNet, 4 dense blocks of 4 conv blocks, growth 32."""
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks: list[nn.Module] = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    return nn.Sequential(
        b1, *blks,
        nn.BatchNorm2d(num_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(num_channels, 10))


# ---------------------------------------------------------------------------
# Mapping to dlm names (docs/naming.md)
#
# Each function lists the model's layers with parameters as (dlm layer name,
# module), in the order dlm elaborates them. The tensors of a layer follow the
# layer in a fixed order: conv and linear `weight`, `bias`; batchnorm `weight`,
# `bias`, `running_mean`, `running_var`.
# ---------------------------------------------------------------------------

Layers = list[tuple[str, nn.Module]]


def lenet_layers(net: nn.Module) -> Layers:
    return [("conv1", net[0]), ("conv2", net[3]),
            ("linear1", net[7]), ("linear2", net[9]), ("linear3", net[11])]


def bn_lenet_layers(net: nn.Module) -> Layers:
    return [("conv1", net[0]), ("batchnorm1", net[1]),
            ("conv2", net[4]), ("batchnorm2", net[5]),
            ("linear1", net[9]), ("batchnorm3", net[10]),
            ("linear2", net[12]), ("batchnorm4", net[13]),
            ("linear3", net[15])]


def alexnet_layers(net: nn.Module) -> Layers:
    convs = [0, 3, 6, 8, 10]
    linears = [14, 17, 20]
    return ([(f"conv{k + 1}", net[i]) for k, i in enumerate(convs)] +
            [(f"linear{k + 1}", net[i]) for k, i in enumerate(linears)])


def vgg11_layers(net: nn.Module) -> Layers:
    layers: Layers = []
    # net[0..4] are the vgg_blocks: (conv, relu) * num_convs, maxpool.
    for b, (num_convs, _) in enumerate(VGG11_ARCH):
        for j in range(num_convs):
            layers.append((f"vgg_block{b + 1}.conv{j + 1}", net[b][2 * j]))
    # net[5] flatten, then linear, relu, dropout, linear, relu, dropout, linear.
    layers += [("linear1", net[6]), ("linear2", net[9]), ("linear3", net[12])]
    return layers


def nin_layers(net: nn.Module) -> Layers:
    layers: Layers = []
    for k, i in enumerate([0, 2, 4, 7]):  # the nin_blocks among pools/dropout
        for j, c in enumerate([0, 2, 4]):  # conv, relu, conv, relu, conv, relu
            layers.append((f"nin_block{k + 1}.conv{j + 1}", net[i][c]))
    return layers


def googlenet_layers(net: nn.Module) -> Layers:
    b1, b2, b3, b4, b5, fc = net
    layers: Layers = [("conv1", b1[0]), ("conv2", b2[0]), ("conv3", b2[2])]
    inceptions = [b3[0], b3[1], b4[0], b4[1], b4[2], b4[3], b4[4], b5[0], b5[1]]
    for k, inc in enumerate(inceptions):
        p = f"inception{k + 1}"
        # Branch order p1, p2, p3, p4; p4's max pool has no parameters.
        layers += [(f"{p}.conv1", inc.p1_1), (f"{p}.conv2", inc.p2_1),
                   (f"{p}.conv3", inc.p2_2), (f"{p}.conv4", inc.p3_1),
                   (f"{p}.conv5", inc.p3_2), (f"{p}.conv6", inc.p4_2)]
    layers.append(("linear1", fc))
    return layers


def resnet18_layers(net: nn.Module) -> Layers:
    layers: Layers = [("conv1", net[0][0]), ("batchnorm1", net[0][1])]
    for s in range(1, 5):  # b2 .. b5 are resnet_block1 .. resnet_block4
        for j, res in enumerate(net[s]):
            p = f"resnet_block{s}.residual_unit{j + 1}"
            # The residual body (conv1 bn1 conv2 bn2) before the shortcut (conv3).
            layers += [(f"{p}.conv1", res.conv1), (f"{p}.batchnorm1", res.bn1),
                       (f"{p}.conv2", res.conv2), (f"{p}.batchnorm2", res.bn2)]
            if res.conv3 is not None:
                layers.append((f"{p}.conv3", res.conv3))
    layers.append(("linear1", net[7]))
    return layers


def densenet_layers(net: nn.Module) -> Layers:
    layers: Layers = [("conv1", net[0][0]), ("batchnorm1", net[0][1])]
    # net[1..7]: DenseBlock, transition, DenseBlock, transition, DenseBlock,
    # transition, DenseBlock.
    for i in range(4):
        dense = net[1 + 2 * i]
        for j, cb in enumerate(dense.net):  # conv_block: BN, ReLU, conv
            p = f"dense_block{i + 1}.conv_block{j + 1}"
            layers += [(f"{p}.batchnorm1", cb[0]), (f"{p}.conv1", cb[2])]
        if i != 3:
            tb = net[2 + 2 * i]  # transition: BN, ReLU, conv, avgpool
            p = f"transition_block{i + 1}"
            layers += [(f"{p}.batchnorm1", tb[0]), (f"{p}.conv1", tb[2])]
    layers += [("batchnorm2", net[8]), ("linear1", net[12])]
    return layers


@dataclass(frozen=True)
class ModelSpec:
    build: Callable[[], nn.Module]
    layers: Callable[[nn.Module], Layers]
    input_shape: tuple[int, int, int]  # C, H, W
    # Hand-derived learnable parameter count and tensor count (None: unknown).
    expected_params: int | None = None
    expected_tensors: int | None = None


MODELS: dict[str, ModelSpec] = {
    # Learnable parameters (weights and biases, BN weight and bias; not running
    # statistics), derived by hand from the book's layer sizes, and the number
    # of tensors dlm expects (running statistics included).
    # 156 + 2,416 + 48,120 + 10,164 + 850 (the book's LeNet on 28x28).
    "lenet": ModelSpec(lenet, lenet_layers, (1, 28, 28), 61_706, 10),
    # LeNet without conv1's padding (256-feature linear1) + 2*(6+16+120+84) BN.
    "bn_lenet": ModelSpec(bn_lenet, bn_lenet_layers, (1, 28, 28), 44_878, 26),
    # 11,712 + 614,656 + 885,120 + 1,327,488 + 884,992 + 26,218,496
    # + 16,781,312 + 40,970.
    "alexnet": ModelSpec(alexnet, alexnet_layers, (1, 224, 224), 46_764_746, 16),
    # torchvision's vgg11 (132,863,336) less 2*64*9 for 1 input channel, less
    # 4,097,000 - 40,970 for 10 classes.
    "vgg11": ModelSpec(vgg11, vgg11_layers, (1, 224, 224), 128_806_154, 22),
    # Sum over the four blocks of k*k*c_in*c + c + 2 * (c*c + c).
    "nin": ModelSpec(nin, nin_layers, (1, 224, 224), 1_992_166, 24),
    # b1/b2 convs 3,200 + 4,160 + 110,784, nine Inceptions (six convs each,
    # counted from the book's channel table), linear 10,250.
    "googlenet": ModelSpec(googlenet, googlenet_layers, (1, 96, 96), 5_977_530, 116),
    # torchvision's resnet18 (11,689,512) - 6,272 (1 input channel) + 4,800
    # (conv biases) - 1,792 (no BN in the projections) - 507,870 (10 classes);
    # 6 (b1) + 8 * 12 (units) + 3 * 2 (projections) + 2 (linear) tensors.
    "resnet18": ModelSpec(resnet18, resnet18_layers, (1, 96, 96), 11_178_378, 110),
    # b1 3,200 + 128; a conv block on c channels 2c + 9*32*c + 32; a transition
    # on c channels 2c + c*(c/2) + c/2; final BN 2*248; linear 2,490.
    # 6 (b1) + 16 * 6 + 3 * 6 + 4 + 2 tensors.
    "densenet": ModelSpec(densenet, densenet_layers, (1, 96, 96), 758_226, 126),
}

# ---------------------------------------------------------------------------
# Named tensors
# ---------------------------------------------------------------------------


def layer_suffixes(module: nn.Module) -> list[str]:
    """The tensor suffixes of a layer, in dlm's order."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return ["weight"] + (["bias"] if module.bias is not None else [])
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return ["weight", "bias", "running_mean", "running_var"]
    raise TypeError(f"no dlm layer for {type(module).__name__}")


def named_tensors(name: str, net: nn.Module) -> list[tuple[str, str]]:
    """(dlm name, state_dict key) for every tensor of the model, in dlm order.

    Checks that the mapping covers the state_dict exactly once (ignoring
    `num_batches_tracked`, which dlm has no use for) and that dlm names are
    unique.
    """
    qualname = {id(m): q for q, m in net.named_modules()}
    pairs: list[tuple[str, str]] = []
    for layer, module in MODELS[name].layers(net):
        for suffix in layer_suffixes(module):
            pairs.append((f"{layer}.{suffix}", f"{qualname[id(module)]}.{suffix}"))

    dlm_names = [d for d, _ in pairs]
    torch_keys = [t for _, t in pairs]
    expected = [k for k in net.state_dict() if not k.endswith("num_batches_tracked")]
    problems = []
    if len(set(dlm_names)) != len(dlm_names):
        problems.append("duplicate dlm names")
    if len(set(torch_keys)) != len(torch_keys):
        problems.append("a state_dict entry is mapped twice")
    if missing := sorted(set(expected) - set(torch_keys)):
        problems.append(f"unmapped state_dict entries {missing}")
    if extra := sorted(set(torch_keys) - set(expected)):
        problems.append(f"mapped entries not in the state_dict {extra}")
    if problems:
        raise AssertionError(f"{name}: bad dlm mapping: " + "; ".join(problems))
    return pairs


@contextlib.contextmanager
def no_init() -> Iterator[None]:
    """Skips parameter initialization while building a model (for --list)."""
    classes = [nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d]
    saved = [c.reset_parameters for c in classes]
    try:
        for c in classes:
            c.reset_parameters = lambda self: None  # type: ignore[method-assign]
        yield
    finally:
        for c, f in zip(classes, saved):
            c.reset_parameters = f  # type: ignore[method-assign]


def params_txt(name: str, net: nn.Module) -> str:
    state = net.state_dict()
    lines = []
    for dlm_name, key in named_tensors(name, net):
        shape = ",".join(str(d) for d in state[key].shape)
        lines.append(f"{dlm_name} f32[{shape}]\n")
    return "".join(lines)


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


@torch.no_grad()
def randomize(net: nn.Module, spec: ModelSpec, gen: torch.Generator) -> None:
    """Makes PyTorch's default initialization (already done, seeded) fit for
    checking a compiler.

    - Conv and linear weights are scaled from the default U(+-1/sqrt(fan_in))
      (variance 1/(3 fan_in)) up to He's variance 2/fan_in, so that the
      activations of the deep ReLU networks without batch normalization
      neither vanish nor explode.
    - Biases and the batch-norm affine parameters get values far from the
      identity, so that a dropped bias or a wrong BN fold shows in the output:
      bias ~ N(0, 0.1^2), BN weight ~ U(0.5, 1.5), BN bias ~ N(0, 0.1^2).
    - BatchNorm1d running statistics: running_mean ~ N(0, 0.1^2),
      running_var ~ U(0.5, 1.5).
    - BatchNorm2d running statistics are calibrated on a batch-1 input of
      their own (drawn before, and independent of, the reference input) and
      then perturbed: running_mean = mean + 0.1 * std * N(0, 1),
      running_var = var * U(0.5, 1.5), per channel. With statistics that do
      not match the activations, ResNet's residual sums grow to outputs in the
      hundreds; calibrated ones keep every model's output at O(1..10), as a
      trained network's would be, while still differing from the identity.
    """
    def normal(shape: torch.Size, std: float) -> torch.Tensor:
        return torch.randn(shape, generator=gen) * std

    def uniform(shape: torch.Size, lo: float, hi: float) -> torch.Tensor:
        return torch.rand(shape, generator=gen) * (hi - lo) + lo

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.mul_(math.sqrt(6.0))
            if m.bias is not None:
                m.bias.copy_(normal(m.bias.shape, 0.1))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.copy_(uniform(m.weight.shape, 0.5, 1.5))
            m.bias.copy_(normal(m.bias.shape, 0.1))
            m.running_mean.copy_(normal(m.running_mean.shape, 0.1))
            m.running_var.copy_(uniform(m.running_var.shape, 0.5, 1.5))

    def calibrate(m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False).clamp_min(1e-2)
        m.running_mean.copy_(mean + var.sqrt() * normal(mean.shape, 0.1))
        m.running_var.copy_(var * uniform(var.shape, 0.5, 1.5))

    hooks = [m.register_forward_pre_hook(calibrate)
             for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    if hooks:
        net.eval()
        net(torch.randn((1, *spec.input_shape), generator=gen))
        for h in hooks:
            h.remove()


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    """Writes the safetensors format by hand: an 8-byte little-endian header
    length, a JSON header sorted by name and padded with spaces to a multiple
    of 8 bytes, then the raw little-endian float32 data in the same order."""
    arrays = {n: np.ascontiguousarray(tensors[n], dtype="<f4") for n in sorted(tensors)}
    header: dict[str, dict[str, object]] = {}
    offset = 0
    for n, a in arrays.items():
        header[n] = {"dtype": "F32", "shape": list(a.shape),
                     "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode("utf-8")
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for a in arrays.values():
            f.write(a.tobytes())


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Reads back what write_safetensors writes (F32 only; I64
    num_batches_tracked counters are skipped)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    if n % 8:
        raise ValueError(f"{path}: header length {n} is not a multiple of 8")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or (name.endswith(".num_batches_tracked")
                                      and info["dtype"] == "I64"):
            continue  # metadata and PyTorch's BN counters (dlm checkpoints)
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name}: dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4,
                                  offset=8 + n + begin).reshape(info["shape"])
    return out


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    tensors: int
    params: int   # learnable: weights and biases
    buffers: int  # BN running statistics
    out_shape: tuple[int, ...]
    out_absmax: float
    out_std: float
    seconds: float


def count_check(name: str, tensors: int, params: int) -> list[str]:
    spec = MODELS[name]
    errors = []
    if spec.expected_tensors is not None and tensors != spec.expected_tensors:
        errors.append(f"{name}: {tensors} tensors, expected {spec.expected_tensors}")
    if spec.expected_params is not None and params != spec.expected_params:
        errors.append(f"{name}: {params:,} parameters, expected {spec.expected_params:,}")
    return errors


def generate(name: str, out: Path, seed: int, batch: int, verify: bool) -> Result:
    start = time.perf_counter()
    spec = MODELS[name]
    torch.manual_seed(seed)
    net = spec.build()
    gen = torch.Generator().manual_seed(seed)
    randomize(net, spec, gen)
    net.eval()

    x = torch.randn((batch, *spec.input_shape), generator=gen)
    with torch.no_grad():
        y = net(x)

    pairs = named_tensors(name, net)
    state = net.state_dict()
    tensors = {d: state[k].numpy() for d, k in pairs}

    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "weights.safetensors", tensors)
    np.save(out / "input.npy", x.numpy().astype(np.float32))
    np.save(out / "output.npy", y.numpy().astype(np.float32))
    (out / "params.txt").write_text(params_txt(name, net))

    if verify:
        verify_round_trip(name, out, seed)

    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for n, b in net.named_buffers()
                  if not n.endswith("num_batches_tracked"))
    return Result(name, len(pairs), params, buffers, tuple(y.shape),
                  float(y.abs().max()), float(y.std()) if y.numel() > 1 else 0.0,
                  time.perf_counter() - start)


@torch.no_grad()
def verify_round_trip(name: str, out: Path, seed: int) -> None:
    """Loads weights.safetensors by dlm name into a freshly (differently)
    initialized model and checks that it reproduces output.npy bit for bit:
    proves the file format and that the mapping is a bijection."""
    torch.manual_seed(seed + 12345)
    net = MODELS[name].build().eval()
    weights = read_safetensors(out / "weights.safetensors")
    pairs = named_tensors(name, net)
    if sorted(weights) != sorted(d for d, _ in pairs):
        raise AssertionError(f"{name}: safetensors names differ from the mapping")
    state = net.state_dict()
    for d, k in pairs:
        state[k].copy_(torch.from_numpy(weights[d].copy()))
    x = torch.from_numpy(np.load(out / "input.npy"))
    y = net(x).numpy()
    expected = np.load(out / "output.npy")
    if not np.array_equal(y, expected):
        raise AssertionError(f"{name}: round trip through safetensors changed the "
                             f"output by {np.abs(y - expected).max():.3e}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="PyTorch reference weights/inputs/outputs for examples/*.dlm, "
                    "with dlm parameter names.")
    parser.add_argument("model", nargs="?", choices=sorted(MODELS),
                        help="model name (an examples/*.dlm file without .dlm)")
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument("--all", action="store_true",
                        help="every model, into OUT/<model>/")
    parser.add_argument("--list", action="store_true",
                        help="print MODEL's params.txt to stdout and exit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--verify", action="store_true",
                        help="reload the written weights into a fresh model by dlm "
                             "name and check the output is reproduced exactly")
    args = parser.parse_args(argv)

    if args.list:
        if args.model is None or args.all:
            parser.error("--list takes exactly one MODEL")
        with no_init():
            net = MODELS[args.model].build()
        sys.stdout.write(params_txt(args.model, net))
        return 0
    if args.all == (args.model is not None):
        parser.error("give either MODEL or --all")
    if args.out is None:
        parser.error("--out DIR is required")
    if args.batch < 1:
        parser.error("--batch must be positive")

    torch.set_grad_enabled(False)
    names = list(MODELS) if args.all else [args.model]
    total = time.perf_counter()
    errors: list[str] = []
    print(f"{'model':<10} {'tensors':>7} {'params':>13} {'BN stats':>9} "
          f"{'output':>10} {'max|y|':>8} {'std(y)':>8} {'time':>7}")
    for name in names:
        out = args.out / name if args.all else args.out
        r = generate(name, out, args.seed, args.batch, args.verify)
        shape = "x".join(str(d) for d in r.out_shape)
        print(f"{r.name:<10} {r.tensors:>7} {r.params:>13,} {r.buffers:>9,} "
              f"{shape:>10} {r.out_absmax:>8.3f} {r.out_std:>8.3f} {r.seconds:>6.2f}s",
              flush=True)
        errors += count_check(name, r.tensors, r.params)
        if not 0.1 <= r.out_absmax <= 100.0:
            errors.append(f"{name}: output magnitude {r.out_absmax:.3g} is outside "
                          "[0.1, 100]; the reference would hide errors")
    print(f"total {time.perf_counter() - total:.2f}s")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

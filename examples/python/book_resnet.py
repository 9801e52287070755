"""The book's ResNet-18 (Dive into Deep Learning, section 8.6), defined in
PyTorch as the book writes it, translated to .dlm, compiled, run and
compared with PyTorch.

    scripts/build.sh
    PYTHONPATH=build/python /usr/bin/python3 examples/python/book_resnet.py

Options: --device reference|emu|cuda|auto (default reference), --show (print
the .dlm program and the state_dict -> dlm name mapping).
"""

import argparse

import torch
from torch import nn
from torch.nn import functional as F

import dlm


class Residual(nn.Module):
    """The book's Residual block: conv1, conv2, conv3 are registered before
    bn1, bn2, and forward runs them in another order."""

    def __init__(self, input_channels, num_channels, use_1x1conv=False,
                 strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3,
                               padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3,
                               padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels,
                                   kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals,
                 first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels,
                                use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)),
                         nn.Flatten(), nn.Linear(512, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="reference",
                        choices=dlm.DEVICES)
    parser.add_argument("--show", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    net = resnet18().eval()
    x = torch.randn(1, 1, 96, 96)  # Fashion-MNIST resized, as in the book

    model = dlm.from_torch(net, x, device=args.device)
    if args.show:
        print(model.translation)
        for key, name in model.translation.mapping.items():
            print(f"{key:40} -> {name}")
    y = model(x)
    with torch.no_grad():
        expected = net(x)
    error = (y - expected).abs().max().item()
    scale = expected.abs().max().item()
    print(f"{model.name} on {model.last_device}: {len(model.params())} "
          f"tensors, max |y - torch| = {error:.3g} (max |y| {scale:.3g})")
    if error > 1e-4 * scale:
        raise SystemExit("the output differs from PyTorch's")


if __name__ == "__main__":
    main()

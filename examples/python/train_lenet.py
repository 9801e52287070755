"""Training the book's LeNet with batch normalization (Dive into Deep
Learning, section 8.5) on a few hundred Fashion-MNIST examples from Python,
two ways:

1. `dlm.train()` on examples/bn_lenet.dlm, as `dlmc --train` would (the
   book's Xavier initialization, lr 1.0, per-epoch loss and accuracies);
2. the book's PyTorch BN-LeNet translated by `dlm.from_torch()`, trained
   step by step with `Model.train_step()` (torch.optim.SGD's options chosen
   once by `Model.trainer()`), and its trained weights loaded back into the
   PyTorch module, which then computes what the dlm model computes.

    scripts/build.sh
    PYTHONPATH=build/python /usr/bin/python3 examples/python/train_lenet.py

Options: --limit N (training examples, default 512), --epochs N (default 2),
--data DIR (Fashion-MNIST, default Debian's dataset-fashion-mnist).
"""

import argparse
import pathlib

import numpy as np
import torch
from torch import nn

import dlm

ROOT = pathlib.Path(__file__).resolve().parents[2]


def book_bn_lenet():
    """The book's BN-LeNet, as its PyTorch code writes it."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    data = "fashion-mnist" + (f":{args.data}" if args.data else "")
    images, labels = dlm.load_fashion_mnist("train", args.data)
    images, labels = images[:args.limit], labels[:args.limit]

    # 1. dlm.train: the dlmc --train loop.
    print(f"dlm.train(examples/bn_lenet.dlm) on {args.limit} examples:")
    history = dlm.train(ROOT / "examples" / "bn_lenet.dlm", data,
                        epochs=args.epochs, batch_size=32, lr=1.0,
                        limit=args.limit, test_limit=256)
    print(f"  final test accuracy {history[-1]['test_acc']:.3f}")

    # 2. A PyTorch module, trained by dlm step by step.
    torch.manual_seed(0)
    net = book_bn_lenet()
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
    batch = 32
    model = dlm.from_torch(net, torch.zeros(batch, 1, 28, 28),
                           device="reference")
    model.trainer(lr=1.0)  # torch.optim.SGD(net.parameters(), lr=1.0)
    rng = np.random.default_rng(0)
    print("Model.train_step() on the book's PyTorch BN-LeNet:")
    for epoch in range(args.epochs):
        order = rng.permutation(len(labels))
        total, correct, seen = 0.0, 0, 0
        for i in range(0, len(order) - batch + 1, batch):
            index = order[i:i + batch]
            loss, right = model.train_step(images[index], labels[index])
            total, correct, seen = total + loss * batch, correct + right, \
                seen + batch
        print(f"  epoch {epoch + 1}: loss {total / seen:.3f}, train acc "
              f"{correct / seen:.3f}")

    # The trained weights back in PyTorch, under the module's own names.
    trained = model.state_dict()
    net.load_state_dict({key: torch.from_numpy(trained[name])
                         for key, name in model.translation.mapping.items()})
    x = torch.from_numpy(images[:batch])
    with torch.no_grad():
        expected = net.eval()(x)
    error = (model(x) - expected).abs().max().item()
    print(f"  PyTorch with the trained weights: max |y - dlm| = {error:.3g}")
    if error > 1e-4 * expected.abs().max().item():
        raise SystemExit("the trained weights do not compute the same in "
                         "PyTorch")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The book's training run in PyTorch, for bench/train.sh to print beside
dlmc --train: a model of scripts/torch_reference.py (d2l's PyTorch code) on
Fashion-MNIST read from Debian's IDX files, d2l's xavier_uniform_ init,
torch.optim.SGD, nn.CrossEntropyLoss, shuffled batches with the last partial
one dropped (as dlmc does). One line per epoch, in dlmc's format, then the
peak resident memory.

    /usr/bin/python3 bench/torch_train.py bn_lenet --epochs 1 --batch-size 256 --lr 1.0
"""

from __future__ import annotations

import argparse
import gzip
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import torch_reference as ref  # noqa: E402

DATA = Path("/usr/share/datasets/fashion-mnist")


def idx(path: Path) -> np.ndarray:
    data = gzip.decompress(path.read_bytes())
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(split: str, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    x = idx(DATA / f"{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = idx(DATA / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
    if limit:
        x, y = x[:limit], y[:limit]
    return torch.from_numpy(x[:, None]), torch.from_numpy(y)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("model", choices=sorted(ref.MODELS))
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    net = ref.MODELS[args.model].build()
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    x, y = load("train", args.limit)
    tx, ty = load("test", 0)
    opt = torch.optim.SGD(net.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    b = args.batch_size
    for epoch in range(args.epochs):
        net.train()
        order = torch.randperm(len(y), generator=gen)
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(len(y) // b):
            idx_ = order[i * b:(i + 1) * b]
            opt.zero_grad()
            out = net(x[idx_])
            loss = loss_fn(out, y[idx_])
            loss.backward()
            opt.step()
            loss_sum += float(loss) * b
            correct += int((out.argmax(1) == y[idx_]).sum())
            seen += b
        seconds = time.perf_counter() - start
        net.eval()
        with torch.no_grad():
            test_correct = sum(int((net(tx[i:i + b]).argmax(1) == ty[i:i + b]).sum())
                               for i in range(0, len(ty), b))
        print(f"epoch {epoch + 1}: loss {loss_sum / seen:.3f}, train acc "
              f"{correct / seen:.3f}, test acc {test_correct / len(ty):.3f}, "
              f"{seen / seconds:.1f} examples/sec", flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak resident memory: {rss / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Draws the book's training curves from a `dlmc --train --log` metrics file.

    /usr/bin/python3 scripts/plot_training.py metrics.csv -o curve.png

The CSV has the columns epoch,step,loss,train_acc,test_acc,lr,seconds
(docs/training.md, "Metrics"). Rows with an empty `step` are per-epoch rows;
as d2l's Animator, the figure shows the training loss, the training accuracy
and the test accuracy against the epoch on one set of axes. Per-step rows,
when present, add the loss between epochs (at epoch - 1 + step / steps).
Needs matplotlib (Debian: python3-matplotlib); draws without a display.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

COLUMNS = ["epoch", "step", "loss", "train_acc", "test_acc", "lr", "seconds"]


def number(text: str) -> float | None:
    return float(text) if text.strip() else None


def read(path: Path):
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            raise ValueError(f"{path}: expected the columns {','.join(COLUMNS)}, "
                             f"found {','.join(reader.fieldnames or [])}")
        epochs, steps = [], []
        for line, row in enumerate(reader, start=2):
            try:
                values = {k: number(row[k]) for k in COLUMNS}
            except (TypeError, ValueError) as e:
                raise ValueError(f"{path}:{line}: {e}") from None
            (epochs if values["step"] is None else steps).append(values)
    return epochs, steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="the metrics file")
    parser.add_argument("-o", "--output", type=Path, default=Path("curve.png"),
                        help="the image to write (default: curve.png)")
    parser.add_argument("--title", default=None, help="a title for the figure")
    args = parser.parse_args()

    try:
        epochs, steps = read(args.csv)
    except (OSError, ValueError) as e:
        print(f"plot_training.py: error: {e}", file=sys.stderr)
        return 1
    if not epochs and not steps:
        print(f"plot_training.py: error: {args.csv} has no rows", file=sys.stderr)
        return 1

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.5), dpi=150)
    if steps:
        per_epoch = {}
        for s in steps:
            per_epoch[s["epoch"]] = max(per_epoch.get(s["epoch"], 0), s["step"])
        xs = [s["epoch"] - 1 + s["step"] / per_epoch[s["epoch"]]
              for s in steps if s["loss"] is not None]
        ys = [s["loss"] for s in steps if s["loss"] is not None]
        ax.plot(xs, ys, color="C0", alpha=0.3, linewidth=0.8)
    for key, label, style in (("loss", "train loss", "C0-"),
                              ("train_acc", "train acc", "C1--"),
                              ("test_acc", "test acc", "C2-.")):
        points = [(e["epoch"], e[key]) for e in epochs if e[key] is not None]
        if points:
            ax.plot(*zip(*points), style, label=label)
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    if epochs:
        # From 0 when the per-step loss starts inside the first epoch.
        ax.set_xlim(0 if steps else min(e["epoch"] for e in epochs),
                    max(e["epoch"] for e in epochs))
    ax.legend()
    if args.title:
        ax.set_title(args.title)
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

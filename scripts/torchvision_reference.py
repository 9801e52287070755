#!/usr/bin/env python3
"""PyTorch references for torchvision's own models, written in .dlm.

examples/torchvision/MODEL.dlm writes each model exactly as torchvision
defines it; this script builds the same model from torchvision.models
(weights=None: nothing is downloaded), draws realistic random weights,
renames its state_dict onto dlm's parameter names and writes

    DIR/weights.safetensors  every parameter and running statistic, dlm names, F32
    DIR/input.npy            float32 [B, 3, H, W], standard normal
    DIR/output.npy           float32, torchvision's eval-mode output on input.npy
    DIR/params.txt           `<name> f32[d0,d1,...]` per tensor, in torchvision's
                             state_dict order: what `dlmc --list-params` prints
                             for the .dlm file when the mapping and the
                             program order are right

Run it with Debian's interpreter (python3-torch, python3-torchvision):

    /usr/bin/python3 scripts/torchvision_reference.py googlenet --out /tmp/ref/googlenet
    /usr/bin/python3 scripts/torchvision_reference.py --list mobilenet_v2

The weights are PyTorch's default initialization under --seed made fit for
checking a compiler exactly as scripts/torch_reference.py does (`randomize`:
He-scaled conv and linear weights, biases and batch-norm parameters away from
the identity, batch-norm statistics calibrated on an input of their own).
torchvision's own initializations (trunc_normal(0.01), kaiming fan_out, ...)
are replaced by PyTorch's default first, which `randomize` expects.

--size S changes the input's height and width (the .dlm file must then be
compiled for the same size); --batch B the batch. --num-batches-tracked also
writes each BatchNorm's I64 `num_batches_tracked` counter, as a real
torchvision state_dict has it (dlmc accepts and ignores them, with --strict
too).

The mapping from torchvision's state_dict keys to dlm names is one function
per model (MODELS); it must cover the state_dict (less num_batches_tracked)
exactly, with distinct names. The run prints the tensor and parameter counts,
the output's shape and magnitude, and exits 1 if the magnitude is outside
[0.1, 100] (the reference would hide errors).
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_reference import randomize, write_safetensors  # noqa: E402


# ---------------------------------------------------------------------------
# The models and their dlm names (examples/torchvision/*.dlm, docs/naming.md)
# ---------------------------------------------------------------------------


def build_googlenet() -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.googlenet(weights=None, aux_logits=False,
                                            transform_input=False,
                                            init_weights=False)


def googlenet_name(key: str) -> str:
    # The .dlm aliases every BasicConv2d with torchvision's attribute name;
    # nn.Sequential indices inside a branch become `_`: branch2.0 -> branch2_0.
    return re.sub(r"\.branch(\d)\.(\d)\.", r".branch\1_\2.", key)


def build_squeezenet1_0() -> nn.Module:
    return torchvision.models.squeezenet1_0(weights=None)


# features.<n> of SqueezeNet 1.0 that hold parameters: the stem conv, then
# the eight Fire modules between the pools.
SQUEEZENET_FEATURES = {0: "conv1", 3: "fire1", 4: "fire2", 5: "fire3",
                       7: "fire4", 8: "fire5", 9: "fire6", 10: "fire7",
                       12: "fire8"}


def squeezenet1_0_name(key: str) -> str:
    m = re.fullmatch(r"features\.(\d+)\.(.+)", key)
    if m:
        return f"{SQUEEZENET_FEATURES[int(m[1])]}.{m[2]}"
    m = re.fullmatch(r"classifier\.1\.(weight|bias)", key)
    if m:
        return f"conv2.{m[1]}"
    raise KeyError(key)


def build_mobilenet_v2() -> nn.Module:
    return torchvision.models.mobilenet_v2(weights=None)


# torchvision's inverted_residual_setting: (t, c, n, s) per stage.
MOBILENET_V2_SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2),
                        (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                        (6, 320, 1, 1)]


def mobilenet_v2_name(key: str) -> str:
    cna = {"0": "conv1", "1": "batchnorm1"}  # inside a Conv2dNormActivation
    blocks = [(s + 1, i + 1, t)
              for s, (t, _, n, _) in enumerate(MOBILENET_V2_SETTING)
              for i in range(n)]
    last = len(blocks) + 1  # features.18: the 1x1 to 1280 channels
    m = re.fullmatch(r"features\.(\d+)\.(\d)\.(.+)", key)
    if m and int(m[1]) in (0, last):
        return f"conv_norm_act{1 if m[1] == '0' else 2}.{cna[m[2]]}.{m[3]}"
    m = re.fullmatch(r"features\.(\d+)\.conv\.(\d)\.(.+)", key)
    if m:
        stage, index, t = blocks[int(m[1]) - 1]
        prefix = f"stage{stage}.inverted_residual{index}.bottleneck1"
        # InvertedResidual.conv: [expand (t != 1)], depthwise, conv, bn.
        layers = ((["conv_norm_act1"] if t != 1 else []) +
                  [f"conv_norm_act{2 if t != 1 else 1}", "conv1", "batchnorm1"])
        layer = layers[int(m[2])]
        rest = m[3]
        if layer.startswith("conv_norm_act"):
            sub, rest = rest.split(".", 1)
            layer = f"{layer}.{cna[sub]}"
        return f"{prefix}.{layer}.{rest}"
    m = re.fullmatch(r"classifier\.1\.(weight|bias)", key)
    if m:
        return f"linear1.{m[1]}"
    raise KeyError(key)


def build_vgg11_bn() -> nn.Module:
    return torchvision.models.vgg11_bn(weights=None)


VGG11_CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


def vgg11_bn_name(key: str) -> str:
    # features.<n> index -> (stage, conv within the stage, layer).
    index: dict[int, str] = {}
    n, stage, conv = 0, 1, 1
    for v in VGG11_CFG:
        if v == "M":
            n, stage, conv = n + 1, stage + 1, 1
            continue
        prefix = f"vgg_stage{stage}.conv_bn_relu{conv}"
        index[n], index[n + 1] = f"{prefix}.conv1", f"{prefix}.batchnorm1"
        n, conv = n + 3, conv + 1  # conv, bn, relu
    m = re.fullmatch(r"features\.(\d+)\.(.+)", key)
    if m:
        return f"{index[int(m[1])]}.{m[2]}"
    m = re.fullmatch(r"classifier\.(\d)\.(weight|bias)", key)
    if m:
        return f"linear{ {'0': 1, '3': 2, '6': 3}[m[1]] }.{m[2]}"
    raise KeyError(key)


def build_inception_v3() -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.inception_v3(weights=None, aux_logits=False,
                                               transform_input=False,
                                               init_weights=False)


def inception_v3_name(key: str) -> str:
    # The .dlm file aliases every layer with torchvision's attribute name:
    # dlm's names are torchvision's keys.
    return key


def block_layer_names(block: nn.Module, se: str) -> dict[str, str]:
    """dlm's layer names for the children of an inverted residual's
    `block` Sequential (torchvision's MBConv and MobileNetV3's
    InvertedResidual): its Conv2dNormActivations are expand (when there are
    three), depthwise and project; its SqueezeExcitation is `se`."""
    convs = [i for i, m in block.named_children()
             if isinstance(m, torchvision.ops.Conv2dNormActivation)]
    roles = (["expand"] if len(convs) == 3 else []) + ["depthwise", "project"]
    names = dict(zip(convs, roles))
    for i, m in block.named_children():
        if isinstance(m, torchvision.ops.SqueezeExcitation):
            names[i] = se
    return names


def cna_tensor(rest: str) -> str:
    """A Conv2dNormActivation's tensor: 0.weight is its conv1.weight,
    1.<suffix> its batchnorm1.<suffix>."""
    index, suffix = rest.split(".", 1)
    return f"{ {'0': 'conv1', '1': 'batchnorm1'}[index] }.{suffix}"


def build_efficientnet_b0() -> nn.Module:
    return torchvision.models.efficientnet_b0(weights=None)


def efficientnet_b0_name(key: str, net: nn.Module) -> str:
    last = len(net.features) - 1  # features.8: the 1x1 to 1280 channels
    m = re.fullmatch(r"features\.(\d+)\.(\d\..+)", key)
    if m and int(m[1]) in (0, last):
        return f"{'stem' if m[1] == '0' else 'last'}.{cna_tensor(m[2])}"
    m = re.fullmatch(r"features\.(\d+)\.(\d+)\.block\.(\d+)\.(.+)", key)
    if m:
        stage, index, child, rest = int(m[1]), int(m[2]), m[3], m[4]
        block = net.features[stage][index].block
        layer = block_layer_names(block, "se")[child]
        tensor = rest if layer == "se" else cna_tensor(rest)
        return f"stage{stage}.mbconv{index + 1}.layers1.{layer}.{tensor}"
    m = re.fullmatch(r"classifier\.1\.(weight|bias)", key)
    if m:
        return f"linear1.{m[1]}"
    raise KeyError(key)


def build_mobilenet_v3_small() -> nn.Module:
    return torchvision.models.mobilenet_v3_small(weights=None)


def mobilenet_v3_small_name(key: str, net: nn.Module) -> str:
    last = len(net.features) - 1  # features.12: the 1x1 to 576 channels
    m = re.fullmatch(r"features\.(\d+)\.(\d\..+)", key)
    if m and int(m[1]) in (0, last):
        return f"{'stem' if m[1] == '0' else 'last'}.{cna_tensor(m[2])}"
    m = re.fullmatch(r"features\.(\d+)\.block\.(\d+)\.(.+)", key)
    if m:
        index, child, rest = int(m[1]), m[2], m[3]
        block = net.features[index].block
        layer = block_layer_names(block, "squeeze.se")[child]
        tensor = rest if layer == "squeeze.se" else cna_tensor(rest)
        return f"bneck{index}.layers1.{layer}.{tensor}"
    m = re.fullmatch(r"classifier\.(\d)\.(weight|bias)", key)
    if m:
        return f"linear{ {'0': 1, '3': 2}[m[1]] }.{m[2]}"
    raise KeyError(key)


def build_resnet50() -> nn.Module:
    return torchvision.models.resnet50(weights=None)


def resnet50_name(key: str) -> str:
    # layer<k>.<i> is the i-th call of the block `bottleneck` in the k-th
    # call of `layer` (bottleneck<i + 1>); downsample.0 / .1 become `_`.
    m = re.fullmatch(r"(layer\d)\.(\d+)\.(.+)", key)
    if m:
        rest = re.sub(r"^downsample\.(\d)\.", r"downsample_\1.", m[3])
        return f"{m[1]}.bottleneck{int(m[2]) + 1}.{rest}"
    return key


def build_densenet121() -> nn.Module:
    return torchvision.models.densenet121(weights=None)


def densenet121_name(key: str) -> str:
    # The .dlm file names its blocks and aliases its layers so that dlm's
    # names are torchvision's keys (features.denseblock1.denselayer1.norm1).
    return key


@dataclass
class Model:
    build: Callable[[], nn.Module]
    # torchvision state_dict key (and the model, for the names that depend
    # on its structure) -> dlm name
    name: Callable[..., str]
    size: int                    # the .dlm file's input height and width
    structural: bool = False     # whether `name` takes the model too

    def dlm_name(self, key: str, net: nn.Module) -> str:
        return self.name(key, net) if self.structural else self.name(key)


MODELS: dict[str, Model] = {
    "googlenet": Model(build_googlenet, googlenet_name, 224),
    "squeezenet1_0": Model(build_squeezenet1_0, squeezenet1_0_name, 224),
    "mobilenet_v2": Model(build_mobilenet_v2, mobilenet_v2_name, 224),
    # At 64 x 64 the five pools leave 2 x 2, which AdaptiveAvgPool2d((7, 7))
    # replicates to 7 x 7 (at 224 it would be the identity).
    "vgg11_bn": Model(build_vgg11_bn, vgg11_bn_name, 64),
    "inception_v3": Model(build_inception_v3, inception_v3_name, 299),
    "efficientnet_b0": Model(build_efficientnet_b0, efficientnet_b0_name, 224,
                             structural=True),
    "mobilenet_v3_small": Model(build_mobilenet_v3_small,
                                mobilenet_v3_small_name, 224, structural=True),
    "resnet50": Model(build_resnet50, resnet50_name, 224),
    "densenet121": Model(build_densenet121, densenet121_name, 224),
}


def named_tensors(model: str, net: nn.Module) -> list[tuple[str, str]]:
    """(dlm name, state_dict key) for every tensor but num_batches_tracked,
    in the state_dict's order; checks that the dlm names are distinct."""
    pairs = [(MODELS[model].dlm_name(k, net), k) for k in net.state_dict()
             if not k.endswith("num_batches_tracked")]
    names = [d for d, _ in pairs]
    if len(set(names)) != len(names):
        dups = sorted({d for d in names if names.count(d) > 1})
        raise AssertionError(f"{model}: duplicate dlm names {dups}")
    return pairs


def params_txt(model: str, net: nn.Module) -> str:
    state = net.state_dict()
    return "".join(f"{d} f32[{','.join(str(s) for s in state[k].shape)}]\n"
                   for d, k in named_tensors(model, net))


def add_i64_counters(path: Path, counters: dict[str, int]) -> None:
    """Rewrites a safetensors file written by write_safetensors with I64
    scalars appended (BatchNorm's num_batches_tracked, as torch saves it)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    blob = bytearray(data[8 + n:])
    for name, value in sorted(counters.items()):
        header[name] = {"dtype": "I64", "shape": [],
                        "data_offsets": [len(blob), len(blob) + 8]}
        blob += struct.pack("<q", value)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + bytes(blob))


@dataclass
class Spec:
    """What torch_reference.randomize reads: the calibration input's shape."""
    input_shape: tuple[int, ...]


def make(model: str, seed: int, batch: int,
         size: int) -> tuple[nn.Module, torch.Tensor]:
    """The model in eval mode with the deterministic weights of --seed, and
    the input [batch, 3, size, size]: what this script writes, and what
    scripts/gpu_check.py builds on the GPU machine. The weights depend on the
    seed and the size (the batch-norm calibration input), not on the batch."""
    torch.manual_seed(seed)
    net = MODELS[model].build()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                m.reset_parameters()  # PyTorch's default, which randomize expects
    gen = torch.Generator().manual_seed(seed)
    randomize(net, Spec((3, size, size)), gen)  # type: ignore[arg-type]
    net.eval()
    x = torch.randn((batch, 3, size, size), generator=gen)
    return net, x


def generate(model: str, out: Path, seed: int, batch: int, size: int,
             counters: bool) -> int:
    start = time.perf_counter()
    net, x = make(model, seed, batch, size)
    with torch.no_grad():
        y = net(x)

    pairs = named_tensors(model, net)
    state = net.state_dict()
    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "weights.safetensors",
                      {d: state[k].numpy() for d, k in pairs})
    if counters:
        add_i64_counters(out / "weights.safetensors",
                         {MODELS[model].dlm_name(k, net): int(v)
                          for k, v in state.items()
                          if k.endswith("num_batches_tracked")})
    np.save(out / "input.npy", x.numpy().astype(np.float32))
    np.save(out / "output.npy", y.numpy().astype(np.float32))
    (out / "params.txt").write_text(params_txt(model, net))

    params = sum(p.numel() for p in net.parameters())
    absmax = float(y.abs().max())
    shape = "x".join(str(d) for d in y.shape)
    print(f"{model}: {len(pairs)} tensors, {params:,} parameters, input "
          f"{batch}x3x{size}x{size}, output {shape}, max|y| {absmax:.3f}, "
          f"{time.perf_counter() - start:.1f}s")
    if not 0.1 <= absmax <= 100.0:
        print(f"error: {model}: output magnitude {absmax:.3g} is outside "
              "[0.1, 100]; the reference would hide errors", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(MODELS))
    parser.add_argument("--out", type=Path, help="output directory")
    parser.add_argument("--list", action="store_true",
                        help="print the model's params.txt to stdout and exit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--size", type=int,
                        help="input height and width (default: the .dlm file's)")
    parser.add_argument("--num-batches-tracked", action="store_true",
                        help="also write BatchNorm's I64 num_batches_tracked")
    args = parser.parse_args(argv)

    torch.set_grad_enabled(False)
    if args.list:
        sys.stdout.write(params_txt(args.model, MODELS[args.model].build()))
        return 0
    if args.out is None:
        parser.error("--out DIR is required")
    if args.batch < 1:
        parser.error("--batch must be positive")
    size = args.size or MODELS[args.model].size
    return generate(args.model, args.out, args.seed, args.batch, size,
                    args.num_batches_tracked)


if __name__ == "__main__":
    sys.exit(main())

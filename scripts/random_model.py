#!/usr/bin/env python3
"""Prints a random but valid .dlm model for a seed: convolutions (any kernel,
padding, stride, with or without bias), BatchNorm, ReLU/sigmoid, DenseNet
layers, residual units, transitions, max pools, Inception-like concats and a
linear head, on batch 1 or 2 and odd or even sizes.

    scripts/random_model.py SEED > model.dlm

The differential test test/Target/CUDA/random-models.test compiles such
models with every pass checked by the reference executor (--check-passes)
and runs the generated kernels on the emulator, fused and unfused, against
the reference.
"""
import random, sys
def gen(seed):
    r = random.Random(seed)
    C = r.choice([1, 3, 4]); H = r.choice([8, 9, 12, 16])
    lines = [f"model m{seed}(x: f32[{r.choice([1,2])}, {C}, {H}, {H}]) {{"]
    h = H
    def conv_line():
        k = r.choice([1, 3, 3, 5]); p = r.choice([0, k//2]); s = r.choice([1, 1, 2])
        return k, p, s
    for _ in range(r.randint(2, 7)):
        choice = r.random()
        if choice < 0.3:
            k, p, s = conv_line()
            if h + 2*p < k: continue
            lines.append(f"    conv({r.choice([2,4,8])}, kernel={k}, padding={p}, stride={s}, bias={'true' if r.random()<0.7 else 'false'})")
            h = (h + 2*p - k)//s + 1
            if r.random() < 0.6: lines.append("    batchnorm")
            if r.random() < 0.6: lines.append(r.choice(["    relu", "    sigmoid"]))
        elif choice < 0.45:
            lines.append("    batchnorm\n    relu")
            k, p, s = conv_line()
            if h + 2*p < k: continue
            lines.append(f"    conv({r.choice([2,4,6])}, kernel={k}, padding={p}, stride={s})")
            h = (h + 2*p - k)//s + 1
        elif choice < 0.6:
            lines.append(f"    repeat {r.randint(1,3)} {{ dense {{ batchnorm relu conv({r.choice([2,3])}, kernel=3, padding=1) }} }}")
        elif choice < 0.72:
            lines.append(f"    residual {{ conv(channels, kernel=3, padding=1) batchnorm relu conv(channels, kernel=3, padding=1) batchnorm }}\n    relu")
        elif choice < 0.8 and h >= 2:
            lines.append("    batchnorm relu conv(channels, kernel=1) avgpool(kernel=2)")
            h = h // 2
        elif choice < 0.88 and h >= 3:
            lines.append("    maxpool(kernel=3, stride=2, padding=1)")
            h = (h + 2 - 3)//2 + 1
        elif h >= 2:
            lines.append(f"    concat {{ branch {{ conv(2, kernel=1) relu }} branch {{ conv(3, kernel=3, padding=1) }} branch {{ maxpool(kernel=3, stride=1, padding=1) conv(2, kernel=1) }} }}")
    if r.random() < 0.5:
        lines.append("    batchnorm relu global_avgpool flatten linear(5)")
    else:
        lines.append(f"    flatten linear({r.choice([3,7])}) batchnorm sigmoid linear(4)")
    lines.append("}")
    return "\n".join(lines) + "\n"
if __name__ == "__main__":
    sys.stdout.write(gen(int(sys.argv[1])))

#!/usr/bin/env python3
"""Runs dlm's compiled bundles on a GPU and checks them against PyTorch.

Run it through scripts/gpu-check.sh, which picks a Python with torch. It needs
no build: the folder that scripts/gpu-prepare.sh made (default
build/gpu-bundles) holds dlm-run and one bundle per model, batch size and
precision:

    DIR/bin/dlm-run
    DIR/cases.txt                      one "<model> <batch> [<precision>]" per
                                       line (fp32 when absent)
    DIR/<model>/b<batch>/bundle/       dlmc's output (docs/bundle.md), fp32
    DIR/<model>/b<batch>/bundle-<p>/   the same at --precision=<p> (tf32, bf16,
                                       fp16)
    DIR/<model>/weights.safetensors    (optional; or in b<batch>/)
    DIR/<model>/b<batch>/input.npy     (optional)

and nothing is written there: weights, inputs and outputs it makes go to
--work (default: a temporary directory). A model is one of the book's
(`resnet18`: scripts/torch_reference.py's definition) or one of torchvision's
(`torchvision/resnet50`: torchvision.models' own, through
scripts/torchvision_reference.py; it needs torchvision). The input's shape is
the bundle's (plan.json), so torchvision models compiled for another size
(gpu-prepare.sh --torchvision-size) are checked at that size.

For every model and batch size it

  1. builds the PyTorch model with the deterministic weights of --seed (as
     torch_reference.py and torchvision_reference.py make them), and writes
     the weights and input by dlm name unless the folder has them (then it
     loads them into the PyTorch model instead);
  2. runs the model on the device in IEEE FP32 (TF32 off): the reference;
  3. for every precision, runs `dlm-run --device=cuda --bench=N` on the
     bundle: the output, and the median GPU time of N forward passes (CUDA
     Graph replays, CUDA events), and compares: max|dlm - torch| <= rtol *
     max|torch| + atol, where rtol is --rtol at fp32 and the tensor-core
     tolerance of docs/cuda.md otherwise (8 units of roundoff: 8 * 2^-11 at
     tf32 and fp16, 8 * 2^-8 at bf16), or twice PyTorch's own error at that
     precision (TF32 on; autocast to bf16 / fp16) where that is larger;
  4. times PyTorch eager with TF32 off and on, and torch.compile in each of
     --compile-modes (default: `default` and `max-autotune`; TF32 as --tf32
     says), the same way (median of --runs after --warmup, CUDA events).
     Each torch.compile runs in a process of its own, within
     --compile-timeout: a compile that fails, crashes or times out is a note
     in the table, not the end of the check;

then prints one table (one row per model, batch and precision; PyTorch's
times, which do not depend on dlm's precision, are repeated on every row of a
model and batch) and exits 1 if any case failed.

--dry-run checks the script itself on a machine without a GPU: dlm-run
--device=emu, PyTorch on the CPU, small models, few runs. With --fake-cuda
LIB, dlm-run runs --device=cuda instead, on LIB, the fake CUDA driver of the
unit tests (build/unittests/Runtime/libdlm_fake_cuda.so), which runs each
bundle's kernels in the emulator: the cuda executor's path, as on the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: The relative tolerance of each tensor-core precision (docs/cuda.md,
#: "Tolerances"): 8 units of roundoff of max |y|. TF32 and FP16 keep 11
#: significant bits (u = 2^-11), BF16 8 (u = 2^-8). The precisions this
#: script accepts are fp32 and these; gpu-prepare.sh compiles those that dlmc
#: accepts.
TENSOR_CORE_RTOL = {"tf32": 8 * 2.0 ** -11, "bf16": 8 * 2.0 ** -8,
                    "fp16": 8 * 2.0 ** -11}
PRECISIONS = ["fp32", *TENSOR_CORE_RTOL]
#: The unit roundoff of each tensor-core precision's operands; the table
#: gives a case's error in these units of max |y| (err/u).
UNIT_ROUNDOFF = {p: rtol / 8 for p, rtol in TENSOR_CORE_RTOL.items()}

#: The prefix of torchvision's models in case names (examples/torchvision/).
TORCHVISION = "torchvision/"

#: The torch.compile modes timed by default.
COMPILE_MODES = ["default", "max-autotune"]


@dataclass
class Case:
    model: str
    batch: int
    precision: str
    dir: Path
    # Where the files this script makes go (outside the carried folder).
    work: Path
    # Results; None when not measured.
    error: str | None = None
    max_err: float | None = None
    max_ref: float | None = None
    ok: bool = False
    dlm_ms: float | None = None
    compile_info: str = ""

    @property
    def bundle(self) -> Path:
        return self.dir / ("bundle" if self.precision == "fp32" else
                           f"bundle-{self.precision}")


@dataclass
class TorchTimes:
    """PyTorch's times for one model and batch size (shared by the cases of
    every precision)."""
    eager_ms: float | None = None
    eager_tf32_ms: float | None = None
    compiled_ms: dict[str, float | None] = field(default_factory=dict)
    # Why a mode has no time: "failed", "timeout" or "skipped", and the
    # reason for the notes.
    compiled_status: dict[str, str] = field(default_factory=dict)
    compiled_errors: dict[str, str] = field(default_factory=dict)
    compile_s: dict[str, float] = field(default_factory=dict)
    # max|PyTorch eager at a precision - PyTorch in FP32|, by precision:
    # the error PyTorch's own convolutions make there (tf32: TF32 on; bf16,
    # fp16: torch.autocast), which widens that precision's tolerance.
    torch_err: dict[str, float] = field(default_factory=dict)


class Interrupted(BaseException):
    """A SIGTERM arrived: stop and print what was measured (a
    BaseException, so that the per-model `except Exception` lets it by)."""


def log(message: str) -> None:
    print(f"gpu-check: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The PyTorch side of a model: the book's (torch_reference.py) or
# torchvision's (torchvision_reference.py)
# ---------------------------------------------------------------------------


def torchvision_reference():  # type: ignore[no-untyped-def]
    """scripts/torchvision_reference.py, imported when a case needs it (it
    needs torchvision, which the book's models do not)."""
    import torchvision_reference as tv  # noqa: E402
    return tv


def known_model(model: str) -> bool:
    if model.startswith(TORCHVISION):
        try:
            return model[len(TORCHVISION):] in torchvision_reference().MODELS
        except ImportError:
            return True  # reported when the case runs
    return model in ref.MODELS


def resolve_model(name: str) -> str:
    """A --models entry as a case name: the book's model of that name if
    there is one, else torchvision's (as gpu-prepare.sh resolves it)."""
    if name.startswith(TORCHVISION) or name in ref.MODELS:
        return name
    return TORCHVISION + name


def build_net(model: str) -> torch.nn.Module:
    """The model with PyTorch's default initialization (its weights are
    then loaded or randomized)."""
    if model.startswith(TORCHVISION):
        return torchvision_reference().MODELS[model[len(TORCHVISION):]].build()
    return ref.MODELS[model].build()


def named_tensors(model: str, net: torch.nn.Module) -> list[tuple[str, str]]:
    """(dlm name, state_dict key) for every tensor of the model."""
    if model.startswith(TORCHVISION):
        return torchvision_reference().named_tensors(model[len(TORCHVISION):],
                                                     net)
    return ref.named_tensors(model, net)


def make_model(model: str, seed: int,
               shape: tuple[int, ...]) -> tuple[torch.nn.Module, torch.Tensor]:
    """The model in eval mode with the deterministic weights of seed and the
    input of that shape, as the reference scripts make them (the weights do
    not depend on the batch)."""
    batch, chw = shape[0], tuple(shape[1:])
    if model.startswith(TORCHVISION):
        if len(chw) != 3 or chw[0] != 3 or chw[1] != chw[2]:
            raise ValueError(f"{model}: the bundle's input is {list(shape)}; "
                             f"torchvision_reference.py makes [N, 3, S, S]")
        return torchvision_reference().make(model[len(TORCHVISION):], seed,
                                            batch, chw[1])
    spec = ref.MODELS[model]
    if chw != tuple(spec.input_shape):
        raise ValueError(f"{model}: the bundle's input is {list(shape)}; "
                         f"torch_reference.py's is [N, "
                         f"{', '.join(map(str, spec.input_shape))}]")
    torch.manual_seed(seed)
    net = spec.build()
    gen = torch.Generator().manual_seed(seed)
    ref.randomize(net, spec, gen)  # the weights depend on the seed only
    x = torch.randn((batch, *spec.input_shape), generator=gen)
    net.eval()
    return net, x


def load_weights(net: torch.nn.Module, model: str, path: Path) -> None:
    """Copies the tensors of a dlm-named safetensors file into net."""
    weights = ref.read_safetensors(path)
    state = net.state_dict()
    with torch.no_grad():
        for dlm_name, key in named_tensors(model, net):
            if dlm_name not in weights:
                raise ValueError(f"{path}: no tensor '{dlm_name}'")
            state[key].copy_(torch.from_numpy(weights[dlm_name].copy()))


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


def read_cases(bundles: Path, work: Path, models: list[str] | None,
               batches: list[int] | None,
               precisions: list[str] | None) -> list[Case]:
    listing = bundles / "cases.txt"
    if not listing.exists():
        raise SystemExit(f"gpu-check: error: {listing} is missing; run "
                         f"scripts/gpu-prepare.sh first")
    wanted = [resolve_model(m) for m in models] if models else None
    cases = []
    for line in listing.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) not in (2, 3):
            raise SystemExit(f"gpu-check: error: {listing}: expected "
                             f"'<model> <batch> [<precision>]', got '{line}'")
        model, batch = fields[:2]
        precision = fields[2] if len(fields) == 3 else "fp32"
        if precision not in PRECISIONS:
            raise SystemExit(f"gpu-check: error: {listing}: precision "
                             f"'{precision}' has no tolerance here (this "
                             f"script knows {', '.join(PRECISIONS)}; add it "
                             f"to TENSOR_CORE_RTOL, as docs/cuda.md gives it)")
        if wanted and model not in wanted:
            continue
        if batches and int(batch) not in batches:
            continue
        if precisions and precision not in precisions:
            continue
        if not known_model(model):
            raise SystemExit(f"gpu-check: error: {listing}: unknown model "
                             f"'{model}' (scripts/torch_reference.py has "
                             f"{', '.join(sorted(ref.MODELS))}; "
                             f"{TORCHVISION}<name> is "
                             f"scripts/torchvision_reference.py's)")
        cases.append(Case(model, int(batch), precision,
                          bundles / model / f"b{batch}",
                          work / model / f"b{batch}"))
    if not cases:
        raise SystemExit("gpu-check: error: no case selected")
    return cases


def bundle_input_shape(bundle: Path) -> tuple[int, ...]:
    """The shape of the bundle's one input (plan.json)."""
    plan = json.loads((bundle / "plan.json").read_text())
    inputs = plan.get("inputs", [])
    if len(inputs) != 1:
        raise ValueError(f"{bundle}/plan.json: {len(inputs)} inputs, "
                         f"expected 1")
    return tuple(int(d) for d in inputs[0]["shape"])


def prepare(case: Case, seed: int) -> tuple[torch.nn.Module, torch.Tensor,
                                            Path, Path]:
    """The PyTorch model and input of a model and batch, and the weights and
    input files for dlm-run. Files the folder has are used (the weights from
    the case's directory or its model's, shared by the batch sizes); missing
    ones are made as the reference scripts make them and written to the work
    directory."""
    shape = bundle_input_shape(case.bundle)
    if shape[0] != case.batch:
        raise ValueError(f"{case.bundle}: input {list(shape)} is not of "
                         f"batch {case.batch}")
    net, x = make_model(case.model, seed, shape)

    case.work.mkdir(parents=True, exist_ok=True)
    candidates = [case.dir / "weights.safetensors",
                  case.dir.parent / "weights.safetensors",
                  case.work.parent / "weights.safetensors"]
    weights = next((w for w in candidates if w.exists()), candidates[-1])
    if weights.exists():
        load_weights(net, case.model, weights)
    else:
        ref.write_safetensors(weights, {
            d: net.state_dict()[k].numpy()
            for d, k in named_tensors(case.model, net)})
    inputs = case.dir / "input.npy"
    if inputs.exists():
        x = torch.from_numpy(np.load(inputs))
    else:
        inputs = case.work / "input.npy"
        np.save(inputs, x.numpy().astype(np.float32))
    net.eval()
    if tuple(x.shape) != shape:
        raise ValueError(f"{inputs}: shape {tuple(x.shape)}, expected "
                         f"{shape} (the bundle's)")
    return net, x, weights, inputs


def run_dlm(case: Case, dlm_run: Path, device: str, weights: Path,
            inputs: Path, runs: int, timeout: float,
            fake_cuda: Path | None = None) -> np.ndarray | None:
    """Runs the bundle; fills case.dlm_ms and returns the output. With
    `fake_cuda`, the cuda executor runs on that fake driver, which emulates
    the bundle's kernels."""
    output = case.work / f"output-{device}-{case.precision}.npy"
    output.unlink(missing_ok=True)
    cmd = [str(dlm_run), str(case.bundle), f"--weights={weights}",
           f"--input={inputs}", f"--output={output}", f"--device={device}",
           f"--bench={runs}", "-v"]
    env = None
    if fake_cuda is not None:
        env = dict(os.environ, DLM_CUDA_DRIVER=str(fake_cuda),
                   DLM_FAKE_CUDA_EMULATE=str(case.bundle))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        case.error = f"dlm-run timed out after {timeout:.0f} s"
        return None
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if "error" in l]
        case.error = (lines or proc.stderr.splitlines() or
                      [f"exit code {proc.returncode}"])[-1]
        log(f"{case.model} b{case.batch}: {' '.join(cmd)}\n{proc.stderr}")
        return None
    median = re.search(r"^median:\s+([0-9.]+) ms", proc.stdout, re.M)
    if median:
        case.dlm_ms = float(median.group(1))
    compiled = re.search(r"^compile:\s+([0-9.]+) ms \((\w+)\)", proc.stdout,
                         re.M)
    if compiled:
        case.compile_info = ("cached" if compiled.group(2) == "cached" else
                             f"{float(compiled.group(1)) / 1e3:.1f}s")
    return np.load(output)


def time_fn(fn: Callable[[], object], runs: int, warmup: int,
            cuda: bool) -> float:
    """The median milliseconds of fn() over runs calls, after warmup calls."""
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        if cuda:
            torch.cuda.synchronize()
        times = []
        for _ in range(runs):
            if cuda:
                start = torch.cuda.Event(enable_timing=True)
                stop = torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop))
            else:
                t = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


class tf32_allowed:
    """PyTorch's TF32 switches (cuDNN convolutions, cuBLAS matmuls) set for
    a `with` block, restored after it."""

    def __init__(self, allowed: bool) -> None:
        self.allowed = allowed

    def __enter__(self) -> None:
        self.saved = (torch.backends.cudnn.allow_tf32,
                      torch.backends.cuda.matmul.allow_tf32)
        torch.backends.cudnn.allow_tf32 = self.allowed
        torch.backends.cuda.matmul.allow_tf32 = self.allowed

    def __exit__(self, *exc: object) -> None:
        (torch.backends.cudnn.allow_tf32,
         torch.backends.cuda.matmul.allow_tf32) = self.saved


# ---------------------------------------------------------------------------
# torch.compile, in a process of its own
# ---------------------------------------------------------------------------


def compile_worker(args: argparse.Namespace) -> int:
    """`gpu_check.py --compile-worker`: loads the model's weights and input
    from the files the parent wrote, compiles the model with torch.compile
    (mode args.mode; `off`: the module as it is, which checks this worker
    without a torch.compile) and prints one line `RESULT {json}` with the
    first call's seconds (the compile) and the median ms."""
    torch.set_grad_enabled(False)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    device = torch.device(args.worker_device)
    net = build_net(args.model)
    load_weights(net, args.model, args.weights)
    net = net.eval().to(device)
    x = torch.from_numpy(np.load(args.input)).to(device)
    cuda = device.type == "cuda"
    if args.mode == "off":
        fn = net
    else:
        if not hasattr(torch, "compile"):
            raise SystemExit(f"PyTorch {torch.__version__} has no "
                             f"torch.compile")
        fn = torch.compile(net, mode=None if args.mode == "default"
                           else args.mode)
    start = time.perf_counter()
    with torch.no_grad():
        fn(x)
    if cuda:
        torch.cuda.synchronize()
    compile_s = time.perf_counter() - start
    ms = time_fn(lambda: fn(x), args.runs, max(args.warmup, 3), cuda)
    print("RESULT " + json.dumps({"ms": ms, "compile_s": compile_s}),
          flush=True)
    return 0


def run_session(cmd: list[str],
                timeout: float) -> subprocess.CompletedProcess[str]:
    """subprocess.run in a session of its own: on a timeout or an interrupt
    the whole process group is killed (Inductor's max-autotune benchmarks in
    child processes of its own, which would outlive the worker)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def time_compiled(model: str, mode: str, weights: Path, inputs: Path,
                  args: argparse.Namespace, device: torch.device,
                  timeout: float) -> tuple[str, float | None, float | None,
                                           str]:
    """Runs a compile worker: (status, ms, compile seconds, error), status
    "ok", "failed" or "timeout"."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--compile-worker",
           "--model", model, "--mode", mode, "--weights", str(weights),
           "--input", str(inputs), "--worker-device", device.type,
           "--runs", str(args.runs), "--warmup", str(args.warmup)]
    if args.tf32:
        cmd.append("--tf32")
    try:
        proc = run_session(cmd, timeout)
    except subprocess.TimeoutExpired:
        return "timeout", None, None, f"timed out after {timeout:.0f} s"
    result = re.search(r"^RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode == 0 and result:
        r = json.loads(result.group(1))
        return "ok", float(r["ms"]), float(r["compile_s"]), ""
    lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
    errors = [l for l in lines if re.search(r"Error|error|has no", l)]
    reason = (errors or lines or [f"exit code {proc.returncode}"])[-1]
    if proc.returncode < 0:
        reason = f"killed by signal {-proc.returncode}: {reason}"
    return "failed", None, None, reason[:300]


# ---------------------------------------------------------------------------
# One model and batch size: every precision's case
# ---------------------------------------------------------------------------


def check_group(cases: list[Case], times: TorchTimes,
                args: argparse.Namespace, dlm_run: Path,
                device: torch.device, deadline: float) -> None:
    first = cases[0]
    net, x, weights, inputs = prepare(first, args.seed)

    cuda = device.type == "cuda"
    net = net.to(device)
    xd = x.to(device)
    # The reference is IEEE FP32: TF32 off whatever --tf32 says.
    with torch.no_grad(), tf32_allowed(False):
        y_ref = net(xd).float().cpu().numpy()
    for precision in {c.precision for c in cases} & set(TENSOR_CORE_RTOL):
        if not cuda:
            break
        with torch.no_grad(), tf32_allowed(precision == "tf32"):
            if precision == "tf32":
                y_p = net(xd)
            else:
                dtype = torch.bfloat16 if precision == "bf16" else torch.half
                with torch.autocast("cuda", dtype=dtype):
                    y_p = net(xd)
        times.torch_err[precision] = float(
            np.max(np.abs(y_p.float().cpu().numpy() - y_ref)))

    for case in cases:
        t = time.monotonic()
        case.work = first.work
        y_dlm = run_dlm(case, dlm_run, args.dlm_device, weights, inputs,
                        args.runs, args.timeout, args.fake_cuda)
        rtol = TENSOR_CORE_RTOL.get(case.precision, args.rtol)
        if y_dlm is not None:
            if y_dlm.shape != y_ref.shape:
                case.error = (f"output shape {y_dlm.shape}, PyTorch "
                              f"{y_ref.shape}")
            else:
                case.max_err = float(np.max(np.abs(y_dlm - y_ref)))
                case.max_ref = float(np.max(np.abs(y_ref)))
                finite = bool(np.all(np.isfinite(y_dlm)))
                # 8u of max|y|, or twice PyTorch's own error at the same
                # precision where that is larger (a deep network amplifies
                # the operands' rounding: ResNet-50 reaches ~30u, cuDNN's
                # TF32 as much as dlm's).
                bound = max(rtol * case.max_ref,
                            2 * times.torch_err.get(case.precision, 0.0))
                case.ok = finite and case.max_err <= bound + args.atol
                if not finite:
                    case.error = "non-finite output"
        log(f"{case.model} b{case.batch} {case.precision}: "
            f"{'ok' if case.ok else case.error or 'mismatch'} "
            f"({time.monotonic() - t:.1f} s)")

    with tf32_allowed(False):
        times.eager_ms = time_fn(lambda: net(xd), args.runs, args.warmup,
                                 cuda)
    with tf32_allowed(True):
        times.eager_tf32_ms = time_fn(lambda: net(xd), args.runs,
                                      args.warmup, cuda)
    del net, xd
    if cuda:
        torch.cuda.empty_cache()  # the workers need the memory

    for mode in args.compile_modes:
        left = deadline - time.monotonic()
        times.compiled_ms[mode] = None
        if left <= 0:
            times.compiled_status[mode] = "skipped"
            times.compiled_errors[mode] = "skipped (--deadline)"
            continue
        t = time.monotonic()
        status, ms, compile_s, error = time_compiled(
            first.model, mode, weights, inputs, args, device,
            max(10.0, min(args.compile_timeout, left)))
        times.compiled_ms[mode] = ms
        if compile_s is not None:
            times.compile_s[mode] = compile_s
        if status != "ok":
            times.compiled_status[mode] = status
            times.compiled_errors[mode] = error
        log(f"{first.model} b{first.batch}: torch.compile({mode}): "
            f"{status if status != 'ok' else f'{ms:.3f} ms'}"
            f"{': ' + error if error else ''} ({time.monotonic() - t:.1f} s)")


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.3f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or a <= 0 else f"{b / a:.2f}x"


def err_units(case: Case) -> str:
    """A tensor-core case's error in units of roundoff of max |y| (the
    tolerance is 8)."""
    u = UNIT_ROUNDOFF.get(case.precision)
    if u is None or case.max_err is None or not case.max_ref:
        return "-"
    return f"{case.max_err / (u * case.max_ref):.1f}u"


def print_table(cases: list[Case], times: dict[tuple[str, int], TorchTimes],
                args: argparse.Namespace, device_name: str) -> None:
    modes = args.compile_modes
    width = max([len("model")] + [len(c.model) for c in cases])
    print()
    print(f"dlm ({args.dlm_device}) vs PyTorch {torch.__version__} on "
          f"{device_name}; median ms of {args.runs} runs after "
          f"{args.warmup} warm-up; build = dlm-run's kernel compile "
          f"(NVRTC on cuda) or cached; speedup = PyTorch ms / dlm ms; eager "
          f"with TF32 off and on, torch.compile with TF32 "
          f"{'on' if args.tf32 else 'off'}")
    head = (f"{'model':<{width}} {'batch':>5} {'prec':<5} {'check':<6} "
            f"{'max|err|':>9} {'max|y|':>8} {'err/u':>6} {'build':>7}  "
            f"{'dlm':>9} "
            f"{'eager':>9} {'eager:tf32':>10}")
    for mode in modes:
        head += f" {'compile:' + mode[:7]:>16}"
    head += f"  {'vs eager':>8} {'vs tf32':>8}"
    for mode in modes:
        head += f" {'vs ' + mode[:7]:>10}"
    print(head)
    print("-" * len(head))
    for c in cases:
        t = times.get((c.model, c.batch), TorchTimes())
        check = "ok" if c.ok else ("ERROR" if c.error else "FAIL")
        row = (f"{c.model:<{width}} {c.batch:>5} {c.precision:<5} "
               f"{check:<6} "
               f"{'-' if c.max_err is None else f'{c.max_err:.2e}':>9} "
               f"{'-' if c.max_ref is None else f'{c.max_ref:.3f}':>8} "
               f"{err_units(c):>6} "
               f"{c.compile_info or '-':>7}  "
               f"{fmt(c.dlm_ms):>9} {fmt(t.eager_ms):>9} "
               f"{fmt(t.eager_tf32_ms):>10}")
        for mode in modes:
            cell = t.compiled_status.get(mode) or fmt(t.compiled_ms.get(mode))
            row += f" {cell:>16}"
        row += (f"  {ratio(c.dlm_ms, t.eager_ms):>8} "
                f"{ratio(c.dlm_ms, t.eager_tf32_ms):>8}")
        for mode in modes:
            row += f" {ratio(c.dlm_ms, t.compiled_ms.get(mode)):>10}"
        print(row)
    notes = [f"{c.model} b{c.batch} {c.precision}: {c.error}"
             for c in cases if c.error]
    # As the reference scripts refuse them: outputs so small or so large
    # that an error would hide in them.
    notes += [f"{c.model} b{c.batch}: warning: max|y| {c.max_ref:.3g} is "
              f"outside [0.1, 100]; the weights may hide errors"
              for c in cases if c.precision == "fp32" and c.max_ref is not None
              and not 0.1 <= c.max_ref <= 100.0]
    for (model, batch), t in times.items():
        notes += [f"{model} b{batch}: torch.compile({m}): {e}"
                  for m, e in t.compiled_errors.items()]
        for precision, err in sorted(t.torch_err.items()):
            mx = next((c.max_ref for c in cases if (c.model, c.batch) ==
                       (model, batch) and c.max_ref), None)
            u = UNIT_ROUNDOFF[precision]
            units = (f" ({err / (u * mx):.1f}u)" if mx else "")
            how = "TF32 on" if precision == "tf32" else "autocast"
            notes.append(f"{model} b{batch}: PyTorch's own {precision} error "
                         f"({how}) max|eager:{precision} - eager| = "
                         f"{err:.2e}{units}; the tolerance is the larger "
                         f"of 8u and twice this")
        if t.compile_s:
            notes.append(f"{model} b{batch}: torch.compile's first call " +
                         ", ".join(f"{m} {s:.1f} s"
                                   for m, s in t.compile_s.items()))
    if notes:
        print()
        for note in notes:
            print(f"  {note}")
    print(flush=True)


# ---------------------------------------------------------------------------
# dlm-run
# ---------------------------------------------------------------------------


def nvrtc_dirs() -> list[str]:
    """Directories that may hold libnvrtc.so.13: the toolkit's and those of
    the pip package nvidia-cuda-nvrtc that PyTorch brings."""
    dirs = ["/usr/local/cuda/lib64", "/usr/local/cuda/lib",
            "/usr/local/cuda/targets/x86_64-linux/lib"]
    try:
        import nvidia  # type: ignore[import-not-found]
        for base in nvidia.__path__:
            dirs += sorted(str(p.parent) for p in Path(base).glob("**/libnvrtc.so*"))
    except ImportError:
        pass
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


def missing_libraries(dlm_run: Path) -> list[str]:
    try:
        ldd = subprocess.run(["ldd", str(dlm_run)], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return re.findall(r"^\s*(\S+) => not found", ldd, re.M)


def check_dlm_run(dlm_run: Path) -> None:
    """Fails clearly if dlm-run is missing or cannot start here; points
    LD_LIBRARY_PATH at an NVRTC if the one it was linked with is not here."""
    if not os.access(dlm_run, os.X_OK):
        raise SystemExit(f"gpu-check: error: no executable {dlm_run}; run "
                         f"scripts/gpu-prepare.sh first")
    missing = missing_libraries(dlm_run)
    if any(m.startswith("libnvrtc") for m in missing):
        for d in nvrtc_dirs():
            if list(Path(d).glob("libnvrtc.so.*")):
                os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(
                    filter(None, [d, os.environ.get("LD_LIBRARY_PATH")]))
                log(f"libnvrtc from {d}")
                break
        missing = missing_libraries(dlm_run)
    if missing:
        raise SystemExit(f"gpu-check: error: {dlm_run} cannot start on this "
                         f"machine: it needs {', '.join(missing)}")
    proc = subprocess.run([str(dlm_run), "--help"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"gpu-check: error: {dlm_run} --help failed:\n"
                         f"{proc.stderr}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run dlm bundles on the GPU, compare with PyTorch and "
                    "time both.")
    parser.add_argument("--bundles", type=Path,
                        default=ROOT / "build" / "gpu-bundles",
                        help="the folder gpu-prepare.sh made")
    parser.add_argument("--work", type=Path,
                        help="where to write weights, inputs and outputs "
                             "(default: a temporary directory, removed at "
                             "the end)")
    parser.add_argument("--dlm-run", type=Path,
                        help="dlm-run (default: BUNDLES/bin/dlm-run)")
    parser.add_argument("--models", nargs="*",
                        help="only these models: the book's (resnet18) or "
                             "torchvision's (torchvision/resnet50; a bare "
                             "name that is not the book's is torchvision's)")
    parser.add_argument("--batches", nargs="*", type=int,
                        help="only these batch sizes")
    parser.add_argument("--precisions", nargs="*", choices=PRECISIONS,
                        help="only these precisions")
    parser.add_argument("--runs", type=int,
                        help="timed runs per measurement (default 20, at "
                             "least 20 unless --dry-run, which makes it 3)")
    parser.add_argument("--warmup", type=int,
                        help="untimed runs first (default 5; 1 with "
                             "--dry-run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-4)
    parser.add_argument("--compile-modes", nargs="*", default=COMPILE_MODES,
                        help="torch.compile modes to time (default: default "
                             "max-autotune; none: no torch.compile; off: the "
                             "uncompiled module in a worker, which checks "
                             "the worker)")
    parser.add_argument("--compile-timeout", type=float, default=300,
                        help="seconds one torch.compile and its timing may "
                             "take (a process of its own, killed then)")
    parser.add_argument("--deadline", type=float, default=480,
                        help="seconds after which torch.compile is skipped, "
                             "so that the table is printed in time")
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds one dlm-run may take")
    parser.add_argument("--tf32", action="store_true",
                        help="let torch.compile use TF32 (eager is timed "
                             "both ways; the reference is always FP32)")
    parser.add_argument("--dry-run", action="store_true",
                        help="no GPU: dlm-run --device=emu, PyTorch on the "
                             "CPU, lenet and bn_lenet at batch 1, 3 runs")
    parser.add_argument("--fake-cuda", type=Path, metavar="LIB",
                        help="with --dry-run: dlm-run --device=cuda on LIB, "
                             "the fake CUDA driver that emulates the "
                             "kernels (build/unittests/Runtime/"
                             "libdlm_fake_cuda.so)")
    # The torch.compile worker (time_compiled runs it).
    parser.add_argument("--compile-worker", action="store_true",
                        help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--weights", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-device", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.compile_worker:
        return compile_worker(args)

    start = time.monotonic()
    args.compile_modes = [m for m in args.compile_modes if m != "none"]
    if args.fake_cuda and not args.dry_run:
        raise SystemExit("gpu-check: error: --fake-cuda goes with --dry-run")
    if args.fake_cuda and not args.fake_cuda.is_file():
        raise SystemExit(f"gpu-check: error: --fake-cuda {args.fake_cuda}: "
                         "no such file (ninja -C build dlm_fake_cuda)")
    if args.dry_run:
        args.dlm_device = "cuda" if args.fake_cuda else "emu"
        device = torch.device("cpu")
        args.models = args.models or ["lenet", "bn_lenet"]
        args.batches = args.batches or [1]
        args.runs = args.runs or 3
        args.warmup = 1 if args.warmup is None else args.warmup
        device_name = ("CPU (dry run, the fake CUDA driver)" if args.fake_cuda
                       else "CPU (dry run)")
    else:
        if not torch.cuda.is_available():
            raise SystemExit("gpu-check: error: PyTorch sees no GPU; use "
                             "--dry-run on a machine without one")
        args.runs = args.runs or 20
        args.warmup = 5 if args.warmup is None else args.warmup
        if args.runs < 20:
            raise SystemExit("gpu-check: error: --runs must be at least 20")
        args.dlm_device = "cuda"
        device = torch.device("cuda")
        device_name = torch.cuda.get_device_name(0)
    torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.set_grad_enabled(False)

    dlm_run = args.dlm_run or args.bundles / "bin" / "dlm-run"
    check_dlm_run(dlm_run)
    work = args.work or Path(tempfile.mkdtemp(prefix="dlm-gpu-check-"))
    cases = read_cases(args.bundles, work, args.models, args.batches,
                       args.precisions)
    os.environ.setdefault("DLM_CACHE_DIR", str(work / "cache"))
    log(f"{len(cases)} case(s) on {device_name}, dlm-run {dlm_run}")

    deadline = start + args.deadline
    groups: dict[tuple[str, int], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.model, case.batch), []).append(case)
    times: dict[tuple[str, int], TorchTimes] = {}

    # A SIGTERM (timeout(1), a device call's limit) or ^C still prints the
    # table of what was measured; the cases not run say so.
    def interrupted(signum: int, frame: object) -> None:
        raise Interrupted(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    try:
        for key, group in groups.items():
            times[key] = TorchTimes()
            try:
                check_group(group, times[key], args, dlm_run, device,
                            deadline)
            except Exception as e:  # noqa: BLE001 - one model must not stop all
                for case in group:
                    case.error = case.error or f"{type(e).__name__}: {e}"
                log(f"{key[0]} b{key[1]}: {type(e).__name__}: {e}")
    except (Interrupted, KeyboardInterrupt) as e:
        why = (f"interrupted ({e or 'SIGINT'}) after "
               f"{time.monotonic() - start:.0f} s")
        log(why)
        for case in cases:
            if not case.ok and not case.error and case.max_err is None:
                case.error = f"not run: {why}"

    print_table(cases, times, args, device_name)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    failed = [c for c in cases if not c.ok]
    log(f"{len(cases) - len(failed)}/{len(cases)} agree with PyTorch; "
        f"{time.monotonic() - start:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
    DIR/<model>/b<batch>/bundle-<p>/   the same at --precision=<p> (tf32, bf16)
    DIR/<model>/weights.safetensors    (optional; or in b<batch>/)
    DIR/<model>/b<batch>/input.npy     (optional)

and nothing is written there: weights, inputs and outputs it makes go to
--work (default: a temporary directory).

For every case it

  1. builds the model with scripts/torch_reference.py (the same definitions
     and deterministic weights as the PyTorch agreement tests), and writes the
     weights and input by dlm name unless the folder has them (then it loads
     them into the PyTorch model instead);
  2. runs `dlm-run --device=cuda --bench=N` on the bundle: the output, and the
     median GPU time of N forward passes (CUDA Graph replays, CUDA events);
  3. runs the PyTorch model on the same device in IEEE FP32 (TF32 off) and
     compares: max|dlm - torch| <= rtol * max|torch| + atol, where rtol is
     --rtol at fp32 and the tensor-core tolerance of docs/cuda.md at tf32
     and bf16 (8 units of roundoff: 8 * 2^-11, 8 * 2^-8);
  4. times PyTorch eager with TF32 off and on, and torch.compile (TF32 as
     --tf32 says), the same way (median of --runs after --warmup, CUDA
     events);

then prints one table and exits 1 if any case failed.

--dry-run checks the script itself on a machine without a GPU: dlm-run
--device=emu, PyTorch on the CPU, small models, few runs, no torch.compile.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
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
    eager_ms: float | None = None
    eager_tf32_ms: float | None = None
    compiled_ms: dict[str, float | None] = field(default_factory=dict)
    compiled_errors: dict[str, str] = field(default_factory=dict)


#: The relative tolerance of each tensor-core precision (docs/cuda.md,
#: "Tensor-core convolutions"): 8 units of roundoff of max |y|.
TENSOR_CORE_RTOL = {"tf32": 8 * 2.0 ** -11, "bf16": 8 * 2.0 ** -8}


def log(message: str) -> None:
    print(f"gpu-check: {message}", file=sys.stderr, flush=True)


def read_cases(bundles: Path, work: Path, models: list[str] | None,
               batches: list[int] | None,
               precisions: list[str] | None) -> list[Case]:
    listing = bundles / "cases.txt"
    if not listing.exists():
        raise SystemExit(f"gpu-check: error: {listing} is missing; run "
                         f"scripts/gpu-prepare.sh first")
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
        if precision not in ("fp32", *TENSOR_CORE_RTOL):
            raise SystemExit(f"gpu-check: error: {listing}: unknown "
                             f"precision '{precision}'")
        if models and model not in models:
            continue
        if batches and int(batch) not in batches:
            continue
        if precisions and precision not in precisions:
            continue
        if model not in ref.MODELS:
            raise SystemExit(f"gpu-check: error: {listing}: unknown model "
                             f"'{model}' (scripts/torch_reference.py has "
                             f"{', '.join(sorted(ref.MODELS))})")
        cases.append(Case(model, int(batch), precision,
                          bundles / model / f"b{batch}",
                          work / model / f"b{batch}"))
    if not cases:
        raise SystemExit("gpu-check: error: no case selected")
    return cases


def load_weights(net: torch.nn.Module, model: str, path: Path) -> None:
    """Copies the tensors of a dlm-named safetensors file into net."""
    weights = ref.read_safetensors(path)
    state = net.state_dict()
    with torch.no_grad():
        for dlm_name, key in ref.named_tensors(model, net):
            if dlm_name not in weights:
                raise ValueError(f"{path}: no tensor '{dlm_name}'")
            state[key].copy_(torch.from_numpy(weights[dlm_name].copy()))


def prepare(case: Case, seed: int) -> tuple[torch.nn.Module, torch.Tensor,
                                            Path, Path]:
    """The PyTorch model and input of a case, and the weights and input files
    for dlm-run. Files the folder has are used (the weights from the case's
    directory or its model's, shared by the batch sizes); missing ones are
    made as torch_reference.generate makes them and written to the work
    directory."""
    spec = ref.MODELS[case.model]
    torch.manual_seed(seed)
    net = spec.build()
    gen = torch.Generator().manual_seed(seed)
    ref.randomize(net, spec, gen)  # the weights depend on the seed only
    x = torch.randn((case.batch, *spec.input_shape), generator=gen)

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
            for d, k in ref.named_tensors(case.model, net)})
    inputs = case.dir / "input.npy"
    if inputs.exists():
        x = torch.from_numpy(np.load(inputs))
    else:
        inputs = case.work / "input.npy"
        np.save(inputs, x.numpy().astype(np.float32))
    net.eval()
    if tuple(x.shape) != (case.batch, *spec.input_shape):
        raise ValueError(f"{inputs}: shape {tuple(x.shape)}, expected "
                         f"{(case.batch, *spec.input_shape)}")
    return net, x, weights, inputs


def run_dlm(case: Case, dlm_run: Path, device: str, weights: Path,
            inputs: Path, runs: int, timeout: float) -> np.ndarray | None:
    """Runs the bundle; fills case.dlm_ms and returns the output."""
    output = case.work / f"output-{device}-{case.precision}.npy"
    output.unlink(missing_ok=True)
    bundle = case.dir / ("bundle" if case.precision == "fp32" else
                         f"bundle-{case.precision}")
    cmd = [str(dlm_run), str(bundle), f"--weights={weights}",
           f"--input={inputs}", f"--output={output}", f"--device={device}",
           f"--bench={runs}", "-v"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout)
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


def check_case(case: Case, args: argparse.Namespace, dlm_run: Path,
               device: torch.device, deadline: float) -> None:
    net, x, weights, inputs = prepare(case, args.seed)
    y_dlm = run_dlm(case, dlm_run, args.dlm_device, weights, inputs,
                    args.runs, args.timeout)

    cuda = device.type == "cuda"
    net = net.to(device)
    xd = x.to(device)
    # The reference is IEEE FP32: TF32 off whatever --tf32 says.
    with torch.no_grad(), tf32_allowed(False):
        y_ref = net(xd).float().cpu().numpy()
    rtol = TENSOR_CORE_RTOL.get(case.precision, args.rtol)
    if y_dlm is not None:
        if y_dlm.shape != y_ref.shape:
            case.error = f"output shape {y_dlm.shape}, PyTorch {y_ref.shape}"
        else:
            case.max_err = float(np.max(np.abs(y_dlm - y_ref)))
            case.max_ref = float(np.max(np.abs(y_ref)))
            finite = bool(np.all(np.isfinite(y_dlm)))
            case.ok = finite and case.max_err <= (rtol * case.max_ref +
                                                  args.atol)
            if not finite:
                case.error = "non-finite output"

    with tf32_allowed(False):
        case.eager_ms = time_fn(lambda: net(xd), args.runs, args.warmup, cuda)
    with tf32_allowed(True):
        case.eager_tf32_ms = time_fn(lambda: net(xd), args.runs, args.warmup,
                                     cuda)
    for mode in args.compile_modes:
        if time.monotonic() > deadline:
            case.compiled_errors[mode] = "skipped (--deadline)"
            case.compiled_ms[mode] = None
            continue
        try:
            torch._dynamo.reset()
            compiled = torch.compile(net, mode=mode)
            case.compiled_ms[mode] = time_fn(lambda: compiled(xd), args.runs,
                                             max(args.warmup, 3), cuda)
        except Exception as e:  # noqa: BLE001 - report and go on
            case.compiled_ms[mode] = None
            case.compiled_errors[mode] = f"{type(e).__name__}: {e}".splitlines()[0]
            log(f"{case.model} b{case.batch}: torch.compile({mode}) failed: "
                f"{case.compiled_errors[mode]}")


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


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.3f}"


def ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or a <= 0 else f"{b / a:.2f}x"


def print_table(cases: list[Case], args: argparse.Namespace,
                device_name: str) -> None:
    modes = args.compile_modes
    print()
    print(f"dlm ({args.dlm_device}) vs PyTorch {torch.__version__} on "
          f"{device_name}; median ms of {args.runs} runs after "
          f"{args.warmup} warm-up; build = dlm-run's kernel compile "
          f"(NVRTC on cuda) or cached; speedup = PyTorch ms / dlm ms; eager "
          f"with TF32 off and on, torch.compile with TF32 "
          f"{'on' if args.tf32 else 'off'}")
    head = (f"{'model':<10} {'batch':>5} {'prec':<5} {'check':<6} "
            f"{'max|err|':>9} {'max|y|':>8} {'build':>7}  {'dlm':>9} "
            f"{'eager':>9} {'eager:tf32':>10}")
    for mode in modes:
        head += f" {'compile:' + mode[:7]:>16}"
    head += f"  {'vs eager':>8} {'vs tf32':>8}"
    for mode in modes:
        head += f" {'vs ' + mode[:7]:>10}"
    print(head)
    print("-" * len(head))
    for c in cases:
        check = "ok" if c.ok else ("ERROR" if c.error else "FAIL")
        row = (f"{c.model:<10} {c.batch:>5} {c.precision:<5} {check:<6} "
               f"{'-' if c.max_err is None else f'{c.max_err:.2e}':>9} "
               f"{'-' if c.max_ref is None else f'{c.max_ref:.3f}':>8} "
               f"{c.compile_info or '-':>7}  "
               f"{fmt(c.dlm_ms):>9} {fmt(c.eager_ms):>9} "
               f"{fmt(c.eager_tf32_ms):>10}")
        for mode in modes:
            row += f" {fmt(c.compiled_ms.get(mode)):>16}"
        row += (f"  {ratio(c.dlm_ms, c.eager_ms):>8} "
                f"{ratio(c.dlm_ms, c.eager_tf32_ms):>8}")
        for mode in modes:
            row += f" {ratio(c.dlm_ms, c.compiled_ms.get(mode)):>10}"
        print(row)
    notes = [f"{c.model} b{c.batch} {c.precision}: {c.error}"
             for c in cases if c.error]
    notes += [f"{c.model} b{c.batch} {c.precision}: torch.compile({m}): {e}"
              for c in cases for m, e in c.compiled_errors.items()]
    if notes:
        print()
        for note in notes:
            print(f"  {note}")
    print(flush=True)


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
    parser.add_argument("--models", nargs="*", help="only these models")
    parser.add_argument("--batches", nargs="*", type=int,
                        help="only these batch sizes")
    parser.add_argument("--precisions", nargs="*",
                        choices=["fp32", *TENSOR_CORE_RTOL],
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
    parser.add_argument("--compile-modes", nargs="*", default=["default"],
                        help="torch.compile modes to time (none: skip), e.g. "
                             "default reduce-overhead")
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
    args = parser.parse_args(argv)

    start = time.monotonic()
    args.compile_modes = [m for m in args.compile_modes if m != "none"]
    if args.dry_run:
        args.dlm_device = "emu"
        device = torch.device("cpu")
        args.models = args.models or ["lenet", "bn_lenet"]
        args.batches = args.batches or [1]
        args.runs = args.runs or 3
        args.warmup = 1 if args.warmup is None else args.warmup
        if not hasattr(torch, "compile"):
            args.compile_modes = []
        device_name = "CPU (dry run)"
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
    for case in cases:
        t = time.monotonic()
        try:
            check_case(case, args, dlm_run, device, deadline)
        except Exception as e:  # noqa: BLE001 - one case must not stop all
            case.error = case.error or f"{type(e).__name__}: {e}"
        log(f"{case.model} b{case.batch} {case.precision}: "
            f"{'ok' if case.ok else case.error or 'mismatch'} "
            f"({time.monotonic() - t:.1f} s)")

    print_table(cases, args, device_name)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    failed = [c for c in cases if not c.ok]
    log(f"{len(cases) - len(failed)}/{len(cases)} agree with PyTorch; "
        f"{time.monotonic() - start:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
